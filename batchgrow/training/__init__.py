"""Training: the data, the networks, the optimizer, the worker processes and the run files (imports TensorFlow)."""

"""The study's code. Here, the vocabulary that training/ and reporting/ share (settings, optimizers,
schedules, the noise-scale estimator, provenance, the safe unpickler); none of it imports TensorFlow."""

"""Reporting: the results read, the statistics, the tables and the figures (never imports TensorFlow)."""

"""Jet data, quantization-aware autoencoder training and anomaly evaluation."""

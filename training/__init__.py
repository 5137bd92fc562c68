"""Jet data, quantization-aware autoencoder training and anomaly evaluation."""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter is not for users

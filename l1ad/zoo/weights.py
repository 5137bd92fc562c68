"""Seeded weights for models that are built, not trained (Keras' initializers are not seeded)."""

from __future__ import annotations

import numpy as np


def randomize(model, seed, scale: float = 0.5, trainable_only: bool = False, batchnorm: bool = True):
    """Normal weights of standard deviation ``scale`` for every layer with weights (or only trainable ones), drawn
    layer by layer from ``seed`` (an int or a sequence); BatchNormalization layers (``batchnorm``) get plausible
    statistics instead: gamma in [0.5, 1.5], beta and mean normal, a variance in [0.5, 2]. Returns the model."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights or (trainable_only and not layer.trainable):
            continue
        if batchnorm and "BatchNormalization" in type(layer).__name__:
            n = weights[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.3, n), rng.normal(0, 0.5, n),
                               rng.uniform(0.5, 2.0, n)][:len(weights)])
        else:
            layer.set_weights([rng.normal(0, scale, w.shape) for w in weights])
    return model

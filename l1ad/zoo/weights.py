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
            layer.set_weights([_draw(rng, v.name, w, scale) for v, w in zip(layer.weights, weights)])
    return model


def _draw(rng, name: str, w: np.ndarray, scale: float) -> np.ndarray:
    """A weight's random values; a batch normalization inside another layer (QConv2DBatchnorm) gets a positive
    variance, its counter of training steps stays."""
    if "iteration" in name:
        return w
    if "moving_variance" in name:
        return rng.uniform(0.5, 2.0, w.shape)
    return rng.normal(0, scale, w.shape)

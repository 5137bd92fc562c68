"""BatchNormalization and QBatchNormalization, folded to x * scale + bias per channel (the last axis), as hls4ml
folds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..fixed import Bounds, constant_type, frac_bits
from .base import Node, refuse
from .dense import affine


def batchnorm_parameters(layer) -> dict[str, np.ndarray]:
    """gamma, beta, moving mean and variance of a (Q)BatchNormalization as it computes with them at inference: a
    QBatchNormalization's after its quantizers (QKeras' own, float32); gamma 1 and beta 0 where the layer has none."""
    config = layer.get_config()
    values = dict(zip([w.name.split("/")[-1].split(":")[0] for w in layer.weights], layer.get_weights()))
    ones = np.ones_like(values["moving_mean"])
    out = {"gamma": values.get("gamma", ones) if config.get("scale", True) else ones,
           "beta": values.get("beta", 0 * ones) if config.get("center", True) else 0 * ones,
           "moving_mean": values["moving_mean"], "moving_variance": values["moving_variance"]}
    if type(layer).__name__ == "QBatchNormalization":
        import tensorflow as tf

        for name, key in (("gamma", "gamma"), ("beta", "beta"), ("mean", "moving_mean"),
                          ("variance", "moving_variance")):
            quantizer = getattr(layer, f"{name}_quantizer_internal", None)
            if quantizer is not None and key in values:
                out[key] = np.asarray(quantizer(tf.constant(values[key])), dtype=np.float32)
    return out


def batchnorm_constants(layer) -> tuple[np.ndarray, np.ndarray]:
    """The folded scale and bias hls4ml computes for a BatchNormalization layer (the same numpy float32 arithmetic;
    a QBatchNormalization's from its quantized parameters, which hls4ml records but would not apply)."""
    p, epsilon = batchnorm_parameters(layer), layer.get_config()["epsilon"]
    scale = p["gamma"] / np.sqrt(p["moving_variance"] + epsilon)
    bias = p["beta"] - scale * p["moving_mean"]
    return np.asarray(scale, dtype=np.float64), np.asarray(bias, dtype=np.float64)


@dataclass
class BatchNorm(Node):
    scale: np.ndarray = None  # per channel (the last axis)
    bias: np.ndarray = None

    kind: ClassVar[str] = "batchnorm"
    keras: ClassVar[tuple[str, ...]] = ("BatchNormalization", "QBatchNormalization")
    summary: ClassVar[str] = ("BatchNormalization and QBatchNormalization (folded to x * scale + bias as hls4ml folds "
                              "it; QBatchNormalization with its parameters as QKeras quantizes them)")
    family: ClassVar[str] = "batchnorm"

    @classmethod
    def read(cls, layer, **common) -> "BatchNorm":
        axis = layer.get_config()["axis"]
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        if axis not in (-1, len(layer.input_shape) - 1):
            raise refuse(layer.name, f"BatchNormalization over axis {axis}: channels last (axis=-1) only")
        scale, bias = batchnorm_constants(layer)
        channels = common["shape"][-1]
        return cls(**common, scale=np.broadcast_to(scale, (channels,)).copy(),
                   bias=np.broadcast_to(bias, (channels,)).copy())

    def bounds(self, x: list[Bounds]) -> Bounds:
        f = max(x[0].f + frac_bits(self.scale, self.name), frac_bits(self.bias, self.name))
        low, high = x[0].lo * self.scale, x[0].hi * self.scale
        return Bounds(np.minimum(low, high) + self.bias, np.maximum(low, high) + self.bias, f)

    def exact(self, x):
        return affine(self, x[0], self.scale, self.bias, matrix=False)

    def trace(self, x, dsp):
        from da4ml.trace import FixedVariableArray

        from ..da4ml_ops import affine_da4ml

        if len(self.shape) == 1:  # per value: a diagonal matrix, whose constants da4ml's matrix product holds exactly
            return affine_da4ml(x[0], np.diag(self.scale), self.bias)
        flat = FixedVariableArray(x[0]._vars.reshape(-1, self.shape[-1]), x[0].solver_options)
        rows = [affine_da4ml(FixedVariableArray(row, flat.solver_options), np.diag(self.scale), self.bias)._vars
                for row in flat._vars]
        return FixedVariableArray(np.array(rows).reshape(self.shape), x[0].solver_options)

    def hls(self, graph):
        """hls4ml's BatchNormalization folds gamma / sqrt(variance + epsilon) and beta - scale * mean in float64:
        with gamma and beta the folded constants, mean 0, variance 1 and epsilon 0 it holds them exactly."""
        return ({"class_name": "BatchNormalization", "n_in": self.width,
                 "n_filt": self.shape[-1] if len(self.shape) > 1 else -1, "gamma_data": self.scale,
                 "beta_data": self.bias, "mean_data": np.zeros_like(self.scale),
                 "variance_data": np.ones_like(self.scale), "epsilon": 0.0, "use_gamma": True, "use_beta": True},
                {"scale": constant_type(self.scale, self.name), "bias": constant_type(self.bias, self.name)})

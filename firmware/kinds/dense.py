"""Dense layers: QDense and Dense, their weights through any deterministic QKeras quantizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .. import tables
from ..fixed import (PLAIN_OPTIONS, Bounds, Fixed, UnsupportedModel, Value, constant_integers, constant_type,
                     frac_bits, quantizer_type, storage)
from .base import Node, refuse


def weight_values(quantizer, w: np.ndarray, where: str) -> tuple[np.ndarray, Fixed]:
    """A weight tensor after its quantizer, and the type that holds it.

    A plain quantized_bits (alpha 1) rounds in numpy, exactly, to its own type. Any other deterministic quantizer
    (quantized_bits with a scale, ``alpha='auto_po2'`` being what QDense makes of QKeras 0.9's default alpha=None as
    AXOL1TL writes it; quantized_po2, binary, ternary, ...) gives constants at inference: the values are QKeras' own,
    computed by its quantizer in float32 as its predict computes them, and the type is the narrowest that holds
    them. Stochastic rounding is refused (random at every call)."""
    config = quantizer.get_config() if hasattr(quantizer, "get_config") else {}
    name = type(quantizer).__name__
    if config.get("use_stochastic_rounding"):
        raise UnsupportedModel(f"{where}: {name} {tables.STOCHASTIC}")
    if name == "quantized_bits" and config.get("alpha") in PLAIN_OPTIONS[name]["alpha"]:
        fixed = quantizer_type(quantizer, where)[0]
        return fixed.quantize(w), fixed
    import tensorflow as tf

    values = np.asarray(quantizer(tf.constant(w, dtype=tf.float32)), dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise UnsupportedModel(f"{where}: {name} gives weights that are not finite numbers")
    return values, constant_type(values, where)


def dense_weights(layer) -> tuple[np.ndarray, np.ndarray, dict[str, Fixed]]:
    """A (Q)Dense layer's kernel and bias after its quantizers, as float64 (bias zeros without one), and the types of
    the quantized ones."""
    weights = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
    quantizers = getattr(layer, "quantizers", None) or [None] * len(weights)
    types = {}
    for index, (name, q) in enumerate(zip(("kernel", "bias"), quantizers)):
        if q is not None and index < len(weights):
            weights[index], types[name] = weight_values(q, weights[index], layer.name)
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else np.zeros(kernel.shape[1])
    return kernel, bias, types


def affine(node: Node, x: Value, scale: np.ndarray, bias: np.ndarray, matrix: bool) -> Value:
    """x @ scale + bias (``matrix``) or x * scale + bias (per channel, the last axis), exactly, at the node's
    fractional bits."""
    wide, f = node.wide, node.result.f
    fs, fb = frac_bits(scale, node.name), frac_bits(bias, node.name)
    x_num, s_num = storage(x.num, wide), constant_integers(scale, fs, wide)
    product = x_num @ s_num if matrix else x_num * s_num
    return Value(product * (1 << (f - x.frac - fs)) + constant_integers(bias, fb, wide) * (1 << (f - fb)), f)


def linear_bounds(x: Bounds, matrix: np.ndarray, bias: np.ndarray, f: int) -> Bounds:
    """Bounds of x @ matrix + bias: each product at the end of x's range that makes it smallest / largest."""
    low, high = x.lo[:, None] * matrix, x.hi[:, None] * matrix
    return Bounds(np.minimum(low, high).sum(axis=0) + bias, np.maximum(low, high).sum(axis=0) + bias, f)


@dataclass
class Dense(Node):
    kernel: np.ndarray = None
    bias: np.ndarray = None
    quantized: dict = field(default_factory=dict)  # the quantizers' types of the kernel and bias, for the report

    kind: ClassVar[str] = "dense"
    keras: ClassVar[tuple[str, ...]] = ("QDense", "Dense")
    summary: ClassVar[str] = ("QDense and Dense (an activation inside one, relu or a QKeras quantizer, becomes a node "
                              "of its own; weights through any deterministic QKeras quantizer)")
    accumulates: ClassVar[bool] = True
    activation_inside: ClassVar[bool] = True
    family: ClassVar[str] = "dense"

    @classmethod
    def read(cls, layer, **common) -> "Dense":
        if len(layer.input_shape) != 2:
            raise refuse(layer.name, f"a Dense layer on a tensor of shape {layer.input_shape[1:]}: only flat "
                                     "(batch, features) inputs are supported; Flatten first")
        kernel, bias, types = dense_weights(layer)
        return cls(**common, kernel=kernel, bias=bias, quantized=types)

    def constant_types(self) -> dict[str, Fixed]:
        return self.quantized

    def bounds(self, x: list[Bounds]) -> Bounds:
        f = max(x[0].f + frac_bits(self.kernel, self.name), frac_bits(self.bias, self.name))
        return linear_bounds(x[0], self.kernel, self.bias, f)

    def exact(self, x: list[Value]) -> Value:
        return affine(self, x[0], self.kernel, self.bias, matrix=True)

    def trace(self, x, dsp):
        from ..da4ml_ops import affine_da4ml

        return affine_da4ml(x[0], self.kernel, self.bias)

    def hls(self, graph):
        return ({"class_name": "Dense", "n_in": self.kernel.shape[0], "n_out": self.kernel.shape[1],
                 "weight_data": self.kernel, "bias_data": self.bias},
                {"weight": constant_type(self.kernel, self.name), "bias": constant_type(self.bias, self.name)})

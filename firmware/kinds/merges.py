"""Merges of two tensors: Add, Subtract, Average, Maximum, Minimum, Multiply (a square when both are one), Dot and
Concatenate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..fixed import Bounds, Value, scaled, storage
from .base import Node, refuse


def _two_of_one_shape(layer) -> None:
    shapes = layer.input_shape if isinstance(layer.input_shape, list) else [layer.input_shape]
    if len(shapes) != 2:
        raise refuse(layer.name, f"{type(layer).__name__} of {len(shapes)} tensors; hls4ml 1.3 merges two at a time: "
                                 "chain two-input layers")
    if len({tuple(s) for s in shapes}) != 1:
        raise refuse(layer.name, f"inputs must be of equal shape (got {shapes}); broadcasting is not supported")


def _product_bounds(a: Bounds, b: Bounds, square: bool) -> Bounds:
    if square:  # x * x is never negative
        low = np.where((a.lo <= 0) & (a.hi >= 0), 0.0, np.minimum(a.lo**2, a.hi**2))
        return Bounds(low, np.maximum(a.lo**2, a.hi**2), 2 * a.f)
    ends = np.stack([a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi])
    return Bounds(ends.min(axis=0), ends.max(axis=0), a.f + b.f)


@dataclass
class Merge(Node):
    """Two tensors of one shape, value by value; hls4ml's Merge layer of the same operation."""

    family: ClassVar[str] = "merge"

    @classmethod
    def read(cls, layer, **common) -> "Merge":
        _two_of_one_shape(layer)
        return cls(**common)

    @property
    def square(self) -> bool:
        return self.inputs[0] == self.inputs[1]

    def hls(self, graph):
        return {"class_name": "Merge", "op": self.kind}, {}


@dataclass
class Add(Merge):
    kind: ClassVar[str] = "add"
    keras: ClassVar[tuple[str, ...]] = ("Add",)
    summary: ClassVar[str] = "Add (two tensors)"

    def bounds(self, x):
        return Bounds(x[0].lo + x[1].lo, x[0].hi + x[1].hi, max(b.f for b in x))

    def exact(self, x):
        wide, f = self.wide, self.result.f
        return Value(scaled(x[0], f, wide) + scaled(x[1], f, wide), f)

    def trace(self, x, dsp):
        return x[0] + x[1]


@dataclass
class Subtract(Merge):
    kind: ClassVar[str] = "subtract"
    keras: ClassVar[tuple[str, ...]] = ("Subtract",)
    summary: ClassVar[str] = "Subtract"

    def bounds(self, x):
        return Bounds(x[0].lo - x[1].hi, x[0].hi - x[1].lo, max(b.f for b in x))

    def exact(self, x):
        wide, f = self.wide, self.result.f
        return Value(scaled(x[0], f, wide) - scaled(x[1], f, wide), f)

    def trace(self, x, dsp):
        return x[0] - x[1]


@dataclass
class Average(Merge):
    kind: ClassVar[str] = "average"
    keras: ClassVar[tuple[str, ...]] = ("Average",)
    summary: ClassVar[str] = "Average (two tensors)"

    def bounds(self, x):
        return Bounds((x[0].lo + x[1].lo) / 2, (x[0].hi + x[1].hi) / 2, max(b.f for b in x) + 1)

    def exact(self, x):
        """(a + b) / 2: the sum's integers at one fractional bit more."""
        wide, f = self.wide, self.result.f
        return Value(scaled(x[0], f - 1, wide) + scaled(x[1], f - 1, wide), f)

    def trace(self, x, dsp):
        return (x[0] + x[1]) * 0.5


@dataclass
class Maximum(Merge):
    kind: ClassVar[str] = "maximum"
    keras: ClassVar[tuple[str, ...]] = ("Maximum",)
    summary: ClassVar[str] = "Maximum (two tensors)"
    pick: ClassVar = staticmethod(np.maximum)

    def bounds(self, x):
        return Bounds(self.pick(x[0].lo, x[1].lo), self.pick(x[0].hi, x[1].hi), max(b.f for b in x))

    def exact(self, x):
        wide, f = self.wide, self.result.f
        return Value(self.pick(scaled(x[0], f, wide), scaled(x[1], f, wide)), f)

    def trace(self, x, dsp):
        return x[1] + (x[0] - x[1]).relu()  # max(a, b) = b + relu(a - b)


@dataclass
class Minimum(Maximum):
    kind: ClassVar[str] = "minimum"
    keras: ClassVar[tuple[str, ...]] = ("Minimum",)
    summary: ClassVar[str] = "Minimum (two tensors)"
    pick: ClassVar = staticmethod(np.minimum)

    def trace(self, x, dsp):
        return x[0] - (x[0] - x[1]).relu()  # min(a, b) = a - relu(a - b)


@dataclass
class Multiply(Merge):
    kind: ClassVar[str] = "multiply"
    keras: ClassVar[tuple[str, ...]] = ("Multiply",)
    summary: ClassVar[str] = "Multiply of two tensors (a layer multiplied with itself is a square)"

    def bounds(self, x):
        return _product_bounds(x[0], x[1], square=self.square)

    def exact(self, x):
        return Value(storage(x[0].num, self.wide) * storage(x[1].num, self.wide), x[0].frac + x[1].frac)

    def trace(self, x, dsp):
        from ..da4ml_ops import square_da4ml

        return square_da4ml(x[0], dsp) if self.square else x[0] * x[1]


@dataclass
class Dot(Merge):
    kind: ClassVar[str] = "dot"
    keras: ClassVar[tuple[str, ...]] = ("Dot",)
    summary: ClassVar[str] = "Dot(axes=1) of two flat tensors (e.g. a squared distance)"
    accumulates: ClassVar[bool] = True

    @classmethod
    def read(cls, layer, **common) -> "Dot":
        config = layer.get_config()
        axes = config["axes"]
        axes = axes if isinstance(axes, (list, tuple)) else [axes, axes]
        if any(a not in (1, -1) for a in axes) or config.get("normalize"):
            raise refuse(layer.name, "Dot over the feature axis (axes=1, normalize=False) only")
        _two_of_one_shape(layer)
        if len(layer.input_shape[0]) != 2:
            raise refuse(layer.name, "Dot of flat (batch, features) tensors only")
        return cls(**common)

    def bounds(self, x):
        products = _product_bounds(x[0], x[1], square=self.square)
        return Bounds(products.lo.sum(keepdims=True), products.hi.sum(keepdims=True), products.f)

    def exact(self, x):
        wide = self.wide
        return Value(np.sum(storage(x[0].num, wide) * storage(x[1].num, wide), axis=1, keepdims=True),
                     x[0].frac + x[1].frac)

    def trace(self, x, dsp):
        from ..da4ml_ops import square_da4ml

        products = square_da4ml(x[0], dsp) if self.square else x[0] * x[1]
        return products @ np.ones((products.shape[-1], 1))  # an adder tree, built by da4ml

    def hls(self, graph):
        return {"class_name": "Dot", "op": "dot1d"}, {}


@dataclass
class Concatenate(Node):
    kind: ClassVar[str] = "concatenate"
    keras: ClassVar[tuple[str, ...]] = ("Concatenate",)
    summary: ClassVar[str] = "Concatenate along the feature axis"
    family: ClassVar[str] = "merge"

    @classmethod
    def read(cls, layer, **common) -> "Concatenate":
        if layer.get_config()["axis"] not in (1, -1) or len(layer.output_shape) != 2:
            raise refuse(layer.name, "Concatenate of flat tensors along the feature axis only")
        return cls(**common)

    def bounds(self, x):
        return Bounds(np.concatenate([b.lo for b in x]), np.concatenate([b.hi for b in x]), max(b.f for b in x))

    def exact(self, x):
        wide, f = self.wide, self.result.f
        return Value(np.concatenate([scaled(v, f, wide) for v in x], axis=1), f)

    def trace(self, x, dsp):
        from da4ml.trace import FixedVariableArray

        return FixedVariableArray(np.concatenate([v._vars for v in x], axis=-1), x[0].solver_options)

    def hls(self, graph):
        return {"class_name": "Concatenate", "op": "concatenate1d", "axis": -1}, {}

"""Shape changes: Flatten and Reshape, in row-major order as Keras orders them and hls4ml stores every tensor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..fixed import Bounds, Value
from .base import Node


@dataclass
class Reshape(Node):
    kind: ClassVar[str] = "reshape"
    keras: ClassVar[tuple[str, ...]] = ("Flatten", "Reshape")
    summary: ClassVar[str] = "Flatten and Reshape (row-major, as hls4ml holds every tensor)"
    family: ClassVar[str] = "shape"

    def bounds(self, x: list[Bounds | None]) -> Bounds | None:
        return None if x[0] is None else x[0].reshape(self.shape)  # None: a raw input, before its quantizer

    def exact(self, x: list[Value]) -> Value:
        return Value(np.reshape(x[0].num, (len(x[0].num), *self.shape)), x[0].frac,
                     None if x[0].pre_num is None else np.reshape(x[0].pre_num, (len(x[0].num), *self.shape)),
                     x[0].pre_frac)

    def trace(self, x, dsp):
        from da4ml.trace import FixedVariableArray

        return FixedVariableArray(x[0]._vars.reshape(self.shape), x[0].solver_options)

    def hls(self, graph):
        return None  # io_parallel arrays are flat: the layer of its input holds its values

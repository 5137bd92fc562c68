"""Shape changes: Flatten and Reshape (row-major, as Keras orders values and hls4ml stores every tensor); padding,
cropping and nearest up-sampling (each output value one input value, or zero)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..fixed import Bounds, Value
from .base import Node, refuse


@dataclass
class Reshape(Node):
    kind: ClassVar[str] = "reshape"
    keras: ClassVar[tuple[str, ...]] = ("Flatten", "Reshape")
    summary: ClassVar[str] = "Flatten and Reshape (row-major, as hls4ml holds every tensor)"
    family: ClassVar[str] = "shape"
    moves: ClassVar[bool] = True

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
        """hls4ml's Reshape, which io_parallel makes a view of its input (no code), so that the layers after it see
        the tensor's shape (a convolution's window reads it); an output is held by its input's layer instead (hls4ml
        removes a final Reshape)."""
        if self.name in graph.outputs:
            return None
        return {"class_name": "Reshape", "target_shape": list(self.shape)}, {}


@dataclass
class Rearrange(Node):
    """A node whose every value is one value of its input, or zero: padding, cropping and nearest up-sampling, each
    defined by :meth:`origins` (for every output value, the flat index of the input value it copies, -1 for a zero)."""

    in_shape: tuple[int, ...] = ()  # the input's (spatial..., channels)
    before: tuple[int, ...] = ()  # per spatial axis: zeros added (padding), values dropped (cropping), or the factor
    after: tuple[int, ...] = ()

    family: ClassVar[str] = "shape"
    moves: ClassVar[bool] = True  # hls4ml gives these layers their input's type

    @classmethod
    def read(cls, layer, **common) -> "Rearrange":
        config = layer.get_config()
        if config.get("data_format", "channels_last") != "channels_last":
            raise refuse(common["name"], "channels_first: l1ad (like hls4ml's io_parallel) takes channels last")
        in_shape = tuple(int(d) for d in layer.input_shape[1:])
        if len(in_shape) not in (2, 3):
            raise refuse(common["name"], f"input of shape {in_shape}: 1-D (length, channels) or 2-D (height, width, "
                                         "channels) inputs only")
        before, after = cls.amounts(config, len(in_shape) - 1, common["name"])
        return cls(**common, in_shape=in_shape, before=before, after=after)

    @staticmethod
    def amounts(config: dict, axes: int, where: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        raise NotImplementedError

    def origins(self) -> np.ndarray:
        """Each output position's input position per spatial axis (-1: none), combined into flat indices."""
        per_axis = [self.axis_source(a) for a in range(len(self.in_shape) - 1)]
        grids = np.meshgrid(*per_axis, indexing="ij")
        inside = np.all([g >= 0 for g in grids], axis=0)
        spatial = np.ravel_multi_index(tuple(np.maximum(g, 0) for g in grids), self.in_shape[:-1])
        channels = self.in_shape[-1]
        flat = spatial[..., None] * channels + np.arange(channels)
        return np.where(inside[..., None], flat, -1).ravel()

    def axis_source(self, axis: int) -> np.ndarray:
        raise NotImplementedError

    def _take(self, values: np.ndarray, fill) -> np.ndarray:
        lead = values.shape[:values.ndim - len(self.in_shape)]
        flat = values.reshape(*lead, -1)
        padded = np.concatenate([flat, np.full((*lead, 1), fill, dtype=flat.dtype)], axis=-1)
        index = self.origins()
        return padded[..., np.where(index < 0, flat.shape[-1], index)].reshape(*lead, *self.shape)

    def bounds(self, x: list[Bounds]) -> Bounds:
        return Bounds(self._take(np.asarray(x[0].lo, dtype=np.float64), 0.0),
                      self._take(np.asarray(x[0].hi, dtype=np.float64), 0.0), x[0].f)

    def exact(self, x: list[Value]) -> Value:
        num = np.asarray(x[0].num)
        return Value(self._take(num, 0 if num.dtype == object else np.int64(0)), x[0].frac)

    def trace(self, x, dsp):
        from da4ml.trace import FixedVariableArray
        from da4ml.trace.fixed_variable import FixedVariable

        flat = x[0]._vars.ravel()
        zero = FixedVariable.from_const(0, hwconf=flat[0].hwconf)
        out = [flat[i] if i >= 0 else zero for i in self.origins()]
        return FixedVariableArray(np.array(out).reshape(self.shape), x[0].solver_options)

    def geometry(self) -> dict:
        """Input and output sizes as hls4ml's layers name them (a 1-D tensor is one row)."""
        if len(self.in_shape) == 2:
            return {"in_width": self.in_shape[0], "out_width": self.shape[0], "n_chan": self.in_shape[-1]}
        return {"in_height": self.in_shape[0], "in_width": self.in_shape[1], "out_height": self.shape[0],
                "out_width": self.shape[1], "n_chan": self.in_shape[-1]}

    def sides(self, prefix: str) -> dict:
        if len(self.in_shape) == 2:
            return {f"{prefix}_left": self.before[0], f"{prefix}_right": self.after[0]}
        return {f"{prefix}_top": self.before[0], f"{prefix}_bottom": self.after[0], f"{prefix}_left": self.before[1],
                f"{prefix}_right": self.after[1]}

    def edges_layer(self, stem: str, prefix: str) -> tuple[dict, dict]:
        """hls4ml's ZeroPadding or Cropping layer for this tensor's rank: sizes and the amount at each edge."""
        d = len(self.in_shape) - 1
        return {"class_name": f"{stem}{d}D", "data_format": "channels_last", **self.geometry(),
                **self.sides(prefix)}, {}


def _pairs(value, axes: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Keras' padding/cropping argument (an int, one pair, or a pair per axis) as (before, after) per axis."""
    if isinstance(value, int):
        per_axis = [(value, value)] * axes
    elif axes == 1:
        per_axis = [tuple(value)]
    else:
        per_axis = [(v, v) if isinstance(v, int) else tuple(v) for v in value]
    return tuple(int(p[0]) for p in per_axis), tuple(int(p[1]) for p in per_axis)


@dataclass
class ZeroPadding(Rearrange):
    kind: ClassVar[str] = "zero_padding"
    keras: ClassVar[tuple[str, ...]] = ("ZeroPadding1D", "ZeroPadding2D")
    summary: ClassVar[str] = "ZeroPadding1D and ZeroPadding2D"

    @staticmethod
    def amounts(config, axes, where):
        return _pairs(config["padding"], axes)

    def axis_source(self, axis):
        n, before, after = self.in_shape[axis], self.before[axis], self.after[axis]
        return np.concatenate([np.full(before, -1), np.arange(n), np.full(after, -1)])

    def hls(self, graph):
        return self.edges_layer("ZeroPadding", "pad")


@dataclass
class Cropping(Rearrange):
    kind: ClassVar[str] = "cropping"
    keras: ClassVar[tuple[str, ...]] = ("Cropping1D", "Cropping2D")
    summary: ClassVar[str] = "Cropping1D and Cropping2D"

    @staticmethod
    def amounts(config, axes, where):
        return _pairs(config["cropping"], axes)

    def axis_source(self, axis):
        return np.arange(self.before[axis], self.in_shape[axis] - self.after[axis])

    def hls(self, graph):
        return self.edges_layer("Cropping", "crop")


@dataclass
class UpSampling(Rearrange):
    """UpSampling1D/2D with nearest interpolation: each value repeated ``before[axis]`` times along each axis."""

    kind: ClassVar[str] = "upsampling"
    keras: ClassVar[tuple[str, ...]] = ("UpSampling1D", "UpSampling2D")
    summary: ClassVar[str] = "UpSampling1D and UpSampling2D (nearest)"

    @staticmethod
    def amounts(config, axes, where):
        if config.get("interpolation", "nearest") != "nearest":
            raise refuse(where, f"interpolation={config['interpolation']!r}: nearest only (bilinear is not a "
                                "fixed-point operation hls4ml computes exactly)")
        size = config["size"]
        factors = (int(size),) if axes == 1 and not isinstance(size, (list, tuple)) else tuple(int(s) for s in size)
        return factors, (0,) * axes

    def axis_source(self, axis):
        return np.repeat(np.arange(self.in_shape[axis]), self.before[axis])

    def hls(self, graph):
        geometry = self.geometry()
        if len(self.in_shape) == 2:  # hls4ml's Resize holds a 1-D tensor as one row
            geometry = {"in_height": 1, "out_height": 1, **geometry}
        return {"class_name": "Resize", "data_format": "channels_last", "algorithm": "nearest",
                "align_corners": False, **geometry}, {}

"""Convolutions and pooling over 1-D and 2-D inputs, channels last: each output position is a dense layer (or a
maximum) of the window of input values it sees.

One helper, :func:`windows`, says which input value every tap of every window reads (or none: padding), with the
padding Keras and hls4ml both compute (hls4ml's ``compute_padding_1d/2d``); the exact reference, the bounds and the
da4ml trace all read the same windows. A depthwise convolution and an average pool are convolutions whose kernels are
zero off the diagonal of the channels: hls4ml gets them as its plain Conv1D/Conv2D (exact with l1ad's types), not as
its DepthwiseConv2D (hls4ml issues #1471/#1472: alternating channels zeroed in 1.3.0) or AveragePooling (#995).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..fixed import Bounds, Fixed, Value, constant_type, frac_bits
from .base import Node, refuse
from .dense import affine, weight_values


# --- windows ----------------------------------------------------------------------------------------------------

def padding(layer, window: tuple[int, ...], strides: tuple[int, ...], mode: str) -> tuple[tuple[int, ...], tuple]:
    """(output size per spatial axis, (pad before, pad after) per axis) as Keras and hls4ml compute them."""
    from hls4ml.converters.utils import compute_padding_1d, compute_padding_2d

    spatial = tuple(int(d) for d in layer.input_shape[1:-1])
    if len(spatial) == 1:
        out, left, right = compute_padding_1d(mode, spatial[0], strides[0], window[0])
        return (out,), ((left, right),)
    oh, ow, top, bottom, left, right = compute_padding_2d(mode, *spatial, *strides, *window)
    return (oh, ow), ((top, bottom), (left, right))


def windows(in_spatial: tuple[int, ...], window: tuple[int, ...], strides: tuple[int, ...],
            pads: tuple[tuple[int, int], ...], out_spatial: tuple[int, ...]) -> np.ndarray:
    """For each output position (row-major) and each tap of its window (row-major), the flat index of the input
    position it reads, or -1 where the window lies on the padding: shape (positions, taps)."""
    outs = np.stack(np.meshgrid(*[np.arange(n) for n in out_spatial], indexing="ij"), -1).reshape(-1, len(window))
    taps = np.stack(np.meshgrid(*[np.arange(n) for n in window], indexing="ij"), -1).reshape(-1, len(window))
    before = np.array([p[0] for p in pads])
    coords = outs[:, None, :] * np.array(strides) - before + taps[None, :, :]
    inside = np.all((coords >= 0) & (coords < np.array(in_spatial)), axis=-1)
    flat = np.ravel_multi_index(tuple(np.clip(coords, 0, np.array(in_spatial) - 1).transpose(2, 0, 1)), in_spatial)
    return np.where(inside, flat, -1)


@dataclass
class Windowed(Node):
    """A node computed window by window over its input (channels last)."""

    in_shape: tuple[int, ...] = ()  # the input's (spatial..., channels)
    out_spatial: tuple[int, ...] = ()  # the output positions per spatial axis (a global pool's output is flat)
    window: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    pads: tuple = ()  # (before, after) per spatial axis

    @property
    def index(self) -> np.ndarray:
        return windows(self.in_shape[:-1], self.window, self.strides, self.pads, self.out_spatial)

    def taps(self, values: np.ndarray, fill) -> np.ndarray:
        """values of shape (leading axes, *in_shape) at the windows: (leading axes, positions, taps, channels)."""
        lead = values.shape[:values.ndim - len(self.in_shape)]
        flat = values.reshape(*lead, -1, self.in_shape[-1])
        padded = np.concatenate([flat, np.full((*lead, 1, self.in_shape[-1]), fill, dtype=flat.dtype)], axis=-2)
        index = self.index
        return padded[..., np.where(index < 0, flat.shape[-2], index), :]

    def hls_geometry(self, prefix: str = "filt") -> dict:
        """The window's sizes, strides and padding as hls4ml's convolution and pooling layers name them."""
        if len(self.window) == 1:
            (left, right), = self.pads
            return {"in_width": self.in_shape[0], "out_width": self.out_spatial[0], f"{prefix}_width": self.window[0],
                    "stride_width": self.strides[0], "pad_left": left, "pad_right": right}
        (top, bottom), (left, right) = self.pads
        return {"in_height": self.in_shape[0], "in_width": self.in_shape[1], "out_height": self.out_spatial[0],
                "out_width": self.out_spatial[1], f"{prefix}_height": self.window[0], f"{prefix}_width": self.window[1],
                "stride_height": self.strides[0], "stride_width": self.strides[1], "pad_top": top,
                "pad_bottom": bottom, "pad_left": left, "pad_right": right}


# --- convolutions -----------------------------------------------------------------------------------------------

def _geometry(layer, window, strides, mode: str, where: str) -> dict:
    config = layer.get_config()
    if config.get("data_format", "channels_last") != "channels_last":
        raise refuse(where, "channels_first: l1ad (like hls4ml's io_parallel) takes channels last; permute upstream")
    if any(d != 1 for d in np.ravel(config.get("dilation_rate", 1))):
        raise refuse(where, f"dilation_rate {config['dilation_rate']}: hls4ml 1.3 has no dilated convolution; use "
                            "dilation 1")
    if len(layer.input_shape) not in (3, 4):
        raise refuse(where, f"input of shape {layer.input_shape[1:]}: convolutions and pools over 1-D (length, "
                            "channels) or 2-D (height, width, channels) inputs only")
    if mode not in ("valid", "same"):
        raise refuse(where, f"padding={mode!r}: 'valid' or 'same' only")
    out, pads = padding(layer, window, strides, mode)
    return {"in_shape": tuple(int(d) for d in layer.input_shape[1:]), "out_spatial": tuple(out),
            "window": tuple(window), "strides": tuple(strides), "pads": pads}


@dataclass
class Conv(Windowed):
    """Conv1D/Conv2D and their QKeras forms: at each output position, the window's values (taps x channels) times the
    kernel, plus the bias."""

    kernel: np.ndarray = None  # (*window, channels in, channels out)
    bias: np.ndarray = None
    quantized: dict = field(default_factory=dict)

    kind: ClassVar[str] = "conv"
    keras: ClassVar[tuple[str, ...]] = ("Conv1D", "Conv2D", "QConv1D", "QConv2D", "QConv2DBatchnorm")
    summary: ClassVar[str] = ("Conv1D, Conv2D, QConv1D, QConv2D and QConv2DBatchnorm (any kernel size and strides, "
                              "padding valid or same, channels last, with or without bias; an activation inside "
                              "becomes a node of its own; weights through any deterministic QKeras quantizer)")
    accumulates: ClassVar[bool] = True
    activation_inside: ClassVar[bool] = True
    family: ClassVar[str] = "conv"

    @classmethod
    def read(cls, layer, **common) -> "Conv":
        config = layer.get_config()
        geometry = _geometry(layer, config["kernel_size"], config["strides"], config["padding"], common["name"])
        kernel, bias, types = conv_weights(layer)
        return cls._made(common, geometry, kernel=kernel, bias=bias, quantized=types)

    @classmethod
    def _made(cls, common: dict, geometry: dict, **constants):
        out = (*geometry["out_spatial"], constants["kernel"].shape[-1])
        if int(np.prod(out)) != int(np.prod(common["shape"])):
            raise refuse(common["name"], f"output of shape {common['shape']}, the windows give {out}")
        return cls(**common, **geometry, **constants)

    @property
    def matrix(self) -> np.ndarray:
        """The kernel as the matrix of one position's dense layer: (taps x channels in, channels out)."""
        return self.kernel.reshape(-1, self.kernel.shape[-1])

    def constant_types(self) -> dict[str, Fixed]:
        return self.quantized

    def bounds(self, x: list[Bounds]) -> Bounds:
        f = max(x[0].f + frac_bits(self.kernel, self.name), frac_bits(self.bias, self.name))
        lo = self.taps(x[0].lo, 0.0).reshape(len(self.index), -1)  # padding reads 0
        hi = self.taps(x[0].hi, 0.0).reshape(len(self.index), -1)
        m = self.matrix
        low, high = lo[:, :, None] * m, hi[:, :, None] * m
        lower = np.minimum(low, high).sum(axis=1) + self.bias
        upper = np.maximum(low, high).sum(axis=1) + self.bias
        return Bounds(lower.reshape(self.shape), upper.reshape(self.shape), f)

    def exact(self, x: list[Value]) -> Value:
        n = len(x[0].num)
        zero = 0 if x[0].num.dtype == object else np.int64(0)
        patches = self.taps(np.asarray(x[0].num), zero).reshape(n, len(self.index), -1)
        out = affine(self, Value(patches, x[0].frac), self.matrix, self.bias, matrix=True)
        return Value(out.num.reshape(n, *self.shape), out.frac)

    def trace(self, x, dsp):
        from da4ml.trace import FixedVariableArray

        from ..da4ml_ops import affine_da4ml

        flat = x[0]._vars.reshape(-1, self.in_shape[-1])
        channels, m = self.in_shape[-1], self.matrix
        positions = []
        for taps in self.index:
            read = taps >= 0  # padding contributes nothing: only the taps on the input are summed
            rows = (np.flatnonzero(read)[:, None] * channels + np.arange(channels)).ravel()
            values = FixedVariableArray(flat[taps[read]].ravel(), x[0].solver_options)
            positions.append(affine_da4ml(values, m[rows], self.bias)._vars)
        return FixedVariableArray(np.array(positions).reshape(self.shape), x[0].solver_options)

    def hls(self, graph):
        d = len(self.window)
        attributes = {"class_name": f"Conv{d}D", "data_format": "channels_last", "n_chan": self.in_shape[-1],
                      "n_filt": self.kernel.shape[-1], **self.hls_geometry(), "weight_data": self.kernel,
                      "bias_data": self.bias}
        return attributes, {"weight": constant_type(self.kernel, self.name),
                            "bias": constant_type(self.bias, self.name)}


def conv_weights(layer) -> tuple[np.ndarray, np.ndarray, dict[str, Fixed]]:
    """A convolution's kernel and bias after its quantizers, as float64 (bias zeros without one), and the quantized
    ones' types; QConv2DBatchnorm's folded as QKeras folds them at inference (``get_folded_weights``, then its
    quantizers)."""
    quantizers = {"kernel": getattr(layer, "kernel_quantizer_internal", None),
                  "bias": getattr(layer, "bias_quantizer_internal", None)}
    if type(layer).__name__ == "QConv2DBatchnorm":
        kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_folded_weights())
    else:
        kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
        bias = np.asarray(layer.bias.numpy(), dtype=np.float64) if getattr(layer, "use_bias", False) else None
    if not (np.all(np.isfinite(kernel)) and (bias is None or np.all(np.isfinite(bias)))):
        raise refuse(layer.name, "its (folded) weights are not finite numbers (a negative moving variance?)")
    types = {}
    if quantizers["kernel"] is not None:
        kernel, types["kernel"] = weight_values(quantizers["kernel"], kernel, layer.name)
    if bias is not None and quantizers["bias"] is not None:
        bias, types["bias"] = weight_values(quantizers["bias"], bias, layer.name)
    return kernel, np.zeros(kernel.shape[-1]) if bias is None else np.broadcast_to(bias, kernel.shape[-1:]).copy(), types


@dataclass
class DepthwiseConv(Conv):
    """DepthwiseConv1D/2D and QDepthwiseConv2D: each channel convolved with its own kernels (depth_multiplier of
    them), held as a convolution whose kernel is zero between different channels."""

    kind: ClassVar[str] = "depthwise_conv"
    keras: ClassVar[tuple[str, ...]] = ("DepthwiseConv1D", "DepthwiseConv2D", "QDepthwiseConv2D")
    summary: ClassVar[str] = ("DepthwiseConv1D, DepthwiseConv2D and QDepthwiseConv2D (as a convolution with a "
                              "block-diagonal kernel: hls4ml 1.3's depthwise layer zeroes channels, issue #1471)")

    @classmethod
    def read(cls, layer, **common) -> "DepthwiseConv":
        config = layer.get_config()
        geometry = _geometry(layer, config["kernel_size"], config["strides"], config["padding"], common["name"])
        depthwise = np.asarray(layer.depthwise_kernel.numpy(), dtype=np.float64)  # (*window, channels, multiplier)
        types = {}
        quantizer = getattr(layer, "depthwise_quantizer_internal", None)
        if quantizer is not None:
            depthwise, types["kernel"] = weight_values(quantizer, depthwise, layer.name)
        bias = np.asarray(layer.bias.numpy(), dtype=np.float64) if config.get("use_bias") else None
        bq = getattr(layer, "bias_quantizer_internal", None)
        if bias is not None and bq is not None:
            bias, types["bias"] = weight_values(bq, bias, layer.name)
        *window, channels, multiplier = depthwise.shape
        kernel = np.zeros((*window, channels, channels * multiplier))
        for c in range(channels):  # output channel c * multiplier + j reads input channel c (Keras' order)
            kernel[..., c, c * multiplier:(c + 1) * multiplier] = depthwise[..., c, :]
        bias = np.zeros(channels * multiplier) if bias is None else bias
        return cls._made(common, geometry, kernel=kernel, bias=bias, quantized=types)


# --- pooling ----------------------------------------------------------------------------------------------------

def _pool_geometry(layer, where: str) -> dict:
    config = layer.get_config()
    if type(layer).__name__.startswith(("Global", "QGlobal")):
        if config.get("keepdims"):
            raise refuse(where, "keepdims=True: a global pool gives a flat (batch, channels) tensor in l1ad")
        spatial = tuple(int(d) for d in layer.input_shape[1:-1])
        return _geometry(layer, spatial, spatial, "valid", where)
    size, strides = config["pool_size"], config["strides"] or config["pool_size"]
    return _geometry(layer, tuple(int(v) for v in np.ravel(size)), tuple(int(v) for v in np.ravel(strides)),
                     config["padding"], where)


@dataclass
class AveragePool(Conv):
    """AveragePooling1D/2D, their Global forms and QKeras' QAveragePooling2D/QGlobalAveragePooling2D: the sum of a
    window times 1/size, exact when the size is a power of two; held as a convolution whose kernel is 1/size on the
    diagonal of the channels (hls4ml's own average pooling mismatches, issue #995)."""

    kind: ClassVar[str] = "average_pool"
    keras: ClassVar[tuple[str, ...]] = ("AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
                                        "GlobalAveragePooling2D", "QAveragePooling2D", "QGlobalAveragePooling2D")
    summary: ClassVar[str] = ("AveragePooling1D/2D, GlobalAveragePooling1D/2D, QAveragePooling2D and "
                              "QGlobalAveragePooling2D over a power-of-two number of values, windows inside the "
                              "input; over another number of values, l1ad import rounds 1/N of a Keras pool to a "
                              "stated type (--average-type, default ap_fixed<16,6>) and holds it as a depthwise "
                              "convolution")
    family: ClassVar[str] = "pool"

    @classmethod
    def read(cls, layer, **common) -> "AveragePool":
        geometry = _pool_geometry(layer, common["name"])
        size = int(np.prod(geometry["window"]))
        if size & (size - 1):
            raise refuse(common["name"], f"an average over {size} values: 1/{size} is not a binary fraction, so no "
                                         "fixed-point firmware reproduces Keras' float mean bit for bit. l1ad import "
                                         "rounds 1/N of a Keras average pool to --average-type (a constant Keras and "
                                         "the firmware then share); QAveragePooling2D multiplies QKeras' float mean "
                                         "back by N first. Pool over 2, 4, 8, ... values, or write the mean as a "
                                         "QDepthwiseConv2D with quantized weights")
        if any(before or after for before, after in geometry["pads"]):
            raise refuse(common["name"], "an average pool with padding='same' that pads: Keras divides the edge "
                                         "windows by the values inside them (not a power of two); use padding="
                                         "'valid' or an input the pool divides")
        weight, types = 1.0 / size, {}
        quantizer = getattr(layer, "average_quantizer_internal", None)
        if quantizer is not None:  # QKeras multiplies the window's sum by its quantizer's 1/size (exact: a power of 2)
            values, fixed = weight_values(quantizer, np.array([weight]), common["name"])
            weight, types["kernel"] = float(values[0]), fixed
        channels = geometry["in_shape"][-1]
        kernel = np.zeros((*geometry["window"], channels, channels))
        kernel[..., np.arange(channels), np.arange(channels)] = weight
        return cls._made(common, geometry, kernel=kernel, bias=np.zeros(channels), quantized=types)


@dataclass
class MaxPool(Windowed):
    """MaxPooling1D/2D and GlobalMaxPooling1D/2D: the largest value of each window (padding never wins, as in
    Keras)."""

    kind: ClassVar[str] = "max_pool"
    keras: ClassVar[tuple[str, ...]] = ("MaxPooling1D", "MaxPooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D")
    summary: ClassVar[str] = "MaxPooling1D/2D and GlobalMaxPooling1D/2D (padding valid or same)"
    accumulates: ClassVar[bool] = True  # hls4ml's pooling holds the window in its accumulator type
    family: ClassVar[str] = "pool"

    @classmethod
    def read(cls, layer, **common) -> "MaxPool":
        return cls(**common, **_pool_geometry(layer, common["name"]))

    def input_copy(self, graph) -> tuple[str, Fixed] | None:
        """hls4ml 1.3 pads a max pool's windows with the value whose top bit alone is set (pad_val in
        nnet_pooling.h): the most negative value of a signed type, but the largest of an unsigned one, which then
        wins every padded window (found by the differential benchmark). An unsigned input of a pool that pads is read
        through a signed copy, one bit wider."""
        source = graph[self.inputs[0]].result
        if source.k or not any(before or after for before, after in self.pads):
            return None
        return "signed", Fixed(1, source.i, source.f)

    def _reduce(self, values: np.ndarray, fill, pick) -> np.ndarray:
        taps = self.taps(values, fill)  # (lead, positions, taps, channels)
        return pick(taps, axis=-2)

    def bounds(self, x: list[Bounds]) -> Bounds:
        lo = self._reduce(x[0].lo, -np.inf, np.max).reshape(self.shape)
        hi = self._reduce(x[0].hi, -np.inf, np.max).reshape(self.shape)
        return Bounds(lo, hi, x[0].f)

    def exact(self, x: list[Value]) -> Value:
        num = np.asarray(x[0].num)
        n = len(num)
        lowest = (int(np.min(num)) - 1) if num.size else 0  # below every value: padding never wins
        taps = self.taps(num, lowest if num.dtype == object else np.int64(lowest))
        return Value(taps.max(axis=-2).reshape(n, *self.shape), x[0].frac)

    def trace(self, x, dsp):
        from da4ml.trace import FixedVariableArray

        flat = x[0]._vars.reshape(-1, self.in_shape[-1])
        out = []
        for taps in self.index:
            values = [FixedVariableArray(flat[t], x[0].solver_options) for t in taps if t >= 0]
            while len(values) > 1:  # a tree of max(a, b) = b + relu(a - b)
                pairs = [b + (a - b).relu() for a, b in zip(values[::2], values[1::2])]
                values = pairs + ([values[-1]] if len(values) % 2 else [])
            out.append(values[0]._vars)
        return FixedVariableArray(np.array(out).reshape(self.shape), x[0].solver_options)

    def hls(self, graph):
        d = len(self.window)
        flat_out = len(self.shape) == 1
        if flat_out:  # a global pool
            return ({"class_name": f"GlobalMaxPooling{d}D", "data_format": "channels_last", "keepdims": False,
                     "n_filt": self.in_shape[-1], **({"n_in": self.in_shape[0]} if d == 1 else
                                                     {"in_height": self.in_shape[0], "in_width": self.in_shape[1]})},
                    {})
        geometry = self.hls_geometry("pool")
        if d == 1:
            geometry = {"n_in": geometry.pop("in_width"), "n_out": geometry.pop("out_width"), **geometry}
        return {"class_name": f"MaxPooling{d}D", "data_format": "channels_last", "n_filt": self.in_shape[-1],
                **geometry}, {}

"""Activations: QKeras quantizers (a cast, or an exact function of each value as a table), ReLU and LeakyReLU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import tables
from ..fixed import (BEFORE, INT64_BITS, Bounds, Fixed, UnsupportedModel, Value, before_integers, constant_integers,
                     constant_type, frac_bits, quantizer_type, rounding_reach, storage, type_bounds)
from .base import Node, refuse


def activation_of(quantizer, where: str) -> tuple[str, Fixed | dict, str | None]:
    """How a QKeras activation quantizer is computed: ("quantizer", its type, what it applies before rounding) for a
    plain one, ("table", its spec, None) for an exact function of its input (:mod:`..tables`)."""
    try:
        spec = tables.spec_of(quantizer)
    except ValueError as err:
        raise UnsupportedModel(f"{where}: {err}") from err
    if spec is not None:
        return "table", spec, None
    fixed, before = quantizer_type(quantizer, where)
    return "quantizer", fixed, before.__name__


@dataclass
class Quantizer(Node):
    """A plain QKeras quantizer: one cast to its type, rounding half to even and saturating."""

    fixed: Fixed = None
    before: str = "identity"  # what QKeras applies before rounding (relu, hard_tanh)

    kind: ClassVar[str] = "quantizer"
    keras: ClassVar[tuple[str, ...]] = ("QActivation",)
    summary: ClassVar[str] = ("QActivation with quantized_bits, quantized_relu or quantized_tanh (hard tanh, symmetric "
                              "or not): one cast that rounds half to even and saturates")
    quantizes: ClassVar[bool] = True
    family: ClassVar[str] = "activation"

    @classmethod
    def accepts(cls, layer) -> bool:
        return activation_of(layer.quantizer, layer.name)[0] == "quantizer"

    @classmethod
    def read(cls, layer, **common) -> "Quantizer":
        return cls.of(layer.quantizer, layer.name, **common)

    @classmethod
    def of(cls, quantizer, where: str, **common) -> "Quantizer":
        _, fixed, before = activation_of(quantizer, where)
        return cls(**common, fixed=fixed, before=before)

    def input_copy(self, graph) -> tuple[str, Fixed] | None:
        """A wider copy of the input when its type lacks the bit ap_fixed reads to round to this quantizer's LSB
        (:func:`..fixed.rounding_reach`; an exact type is widened in the graph instead, an input's quantizer has no
        layer)."""
        source = graph[self.inputs[0]].result
        short = rounding_reach(source, self.result)
        return ("reach", Fixed(source.k, source.i + short, source.f)) if short else None

    def bounds(self, x: list[Bounds | None]) -> Bounds:
        """The quantizer's range, narrowed to where the (monotonic) rounding maps the input's range when known."""
        if x[0] is None:  # right after a model input: any float
            return type_bounds(self.fixed, self.shape)
        before = BEFORE[self.before]
        return Bounds(self.fixed.quantize(before(x[0].lo)), self.fixed.quantize(before(x[0].hi)), self.fixed.f)

    def exact(self, x: list[Value]) -> Value:
        fixed, v = self.fixed, x[0]
        if v.frac is None:  # a model input: floats, rounded as QKeras rounds them (exact in float64, then integers)
            pre = BEFORE[self.before](np.asarray(v.num, dtype=np.float64))
            num = np.round(fixed.quantize(pre) * 2.0**fixed.f).astype(np.int64)
            return Value(num, fixed.f, pre, None)
        pre, frac = before_integers(self.before, v.num, v.frac)
        return Value(storage(fixed.round(pre, frac), fixed.width > INT64_BITS), fixed.f, pre, frac)

    def trace(self, x, dsp):
        from ..da4ml_ops import quantize_da4ml

        return quantize_da4ml(x[0], self.fixed)

    def hls(self, graph):
        return {"class_name": "Activation", "activation": "linear"}, {}  # the cast to the quantizer's type rounds


@dataclass
class Table(Node):
    """A QKeras quantizer that is an exact function of each value (:mod:`..tables`), as a table of every value its
    input can take."""

    spec: dict = None

    kind: ClassVar[str] = "table"
    keras: ClassVar[tuple[str, ...]] = ("QActivation",)
    summary: ClassVar[str] = f"QActivation (or activation= inside a QDense) with {tables.SUMMARY}"
    family: ClassVar[str] = "activation"

    @classmethod
    def accepts(cls, layer) -> bool:
        return activation_of(layer.quantizer, layer.name)[0] == "table"

    @classmethod
    def read(cls, layer, **common) -> "Table":
        return cls.of(layer.quantizer, layer.name, **common)

    @classmethod
    def of(cls, quantizer, where: str, **common) -> "Table":
        return cls(**common, spec=activation_of(quantizer, where)[1])

    def too_wide(self, source: Fixed) -> UnsupportedModel:
        return refuse(self, f"{self.spec['name']} is built as a table of every value of its input, whose type "
                            f"{source.short()} has {source.width} bits, more than the {tables.TABLE_MAX_BITS} l1ad "
                            f"allows (a table of 2^{source.width} entries); put a QActivation(quantized_bits(<= "
                            f"{tables.TABLE_MAX_BITS}, ...)) before it")

    def bounds(self, x: list[Bounds]) -> Bounds:
        """The function's values over every value in the input's range (the table's index type is checked once the
        graph's types are final, :func:`..passes.check_tables`)."""
        step = 2.0 ** -x[0].f
        low, high = round(float(np.min(x[0].lo)) / step), round(float(np.max(x[0].hi)) / step)
        if high - low + 1 > 2**tables.TABLE_MAX_BITS:
            raise self.too_wide(x[0].fixed())
        values, frac = tables.evaluate(self.spec, np.arange(low, high + 1, dtype=np.int64), x[0].f)
        scaled = values.astype(np.float64) * 2.0**-frac
        return Bounds(np.full(self.shape, scaled.min()), np.full(self.shape, scaled.max()), frac)

    def exact(self, x: list[Value]) -> Value:
        num, frac = tables.evaluate(self.spec, x[0].num, x[0].frac)
        return Value(num, frac)  # every entry fits the table's type: nothing for the audit to round or saturate

    def trace(self, x, dsp):
        from da4ml.trace import FixedVariableArray
        from da4ml.trace.fixed_variable import FixedVariable

        def lookup(v):
            if v.low == v.high:
                values, frac = tables.evaluate(self.spec, np.array([int(v.low / v.step)]), round(-np.log2(float(v.step))))
                return FixedVariable.from_const(float(values[0]) * 2.0**-frac, hwconf=v.hwconf, _factor=1)
            frac = round(-np.log2(float(v.step)))
            grid = np.arange(round(float(v.low / v.step)), round(float(v.high / v.step)) + 1)
            values, out_frac = tables.evaluate(self.spec, grid, frac)
            return v.lookup(values.astype(np.float64) * 2.0**-out_frac)

        out = np.array([lookup(v) for v in x[0]._vars.ravel()]).reshape(x[0].shape)
        return FixedVariableArray(out, x[0].solver_options)

    def hls_table(self, source: Fixed) -> np.ndarray:
        """hls4ml's UnaryLUT table for an input of type ``source``: the function at every input value, in the order
        of the input's bits read as an unsigned index (0, lsb, ..., max, then, signed, min, ..., -lsb)."""
        index = np.arange(2**source.width, dtype=np.int64)
        if source.k:
            index = np.where(index >= 2 ** (source.width - 1), index - 2**source.width, index)
        values, frac = tables.evaluate(self.spec, index, source.f)
        return values.astype(np.float64) * 2.0**-frac

    def hls(self, graph):
        source = graph[self.inputs[0]].result
        return ({"class_name": "UnaryLUT", "activation": "unary_lut", "n_in": self.width,
                 "table_data": self.hls_table(source)}, {"table": self.result})


@dataclass
class Relu(Node):
    kind: ClassVar[str] = "relu"
    keras: ClassVar[tuple[str, ...]] = ("ReLU", "Activation")
    summary: ClassVar[str] = "ReLU(), Activation('relu') and activation='relu' inside a (Q)Dense (exact: no rounding)"
    family: ClassVar[str] = "activation"

    @classmethod
    def accepts(cls, layer) -> bool:
        return type(layer).__name__ == "ReLU" or layer.get_config()["activation"] == "relu"

    @classmethod
    def read(cls, layer, **common) -> "Relu":
        config = layer.get_config()
        if type(layer).__name__ == "ReLU" and (config.get("max_value") is not None or config.get("negative_slope")
                                               or config.get("threshold")):
            raise refuse(layer.name, "ReLU with max_value, negative_slope or threshold is not supported; use ReLU() "
                                     "or a QActivation(quantized_relu(bits, integer))")
        return cls(**common)

    def bounds(self, x: list[Bounds]) -> Bounds:
        return Bounds(np.maximum(x[0].lo, 0.0), np.maximum(x[0].hi, 0.0), x[0].f)

    def exact(self, x: list[Value]) -> Value:
        return Value(np.maximum(x[0].num, 0), x[0].frac)  # exact: no rounding, the type loses its sign only

    def trace(self, x, dsp):
        return x[0].relu()

    def hls(self, graph):
        return {"class_name": "Activation", "activation": "relu"}, {}


@dataclass
class LeakyRelu(Node):
    slope: float = 0.0

    kind: ClassVar[str] = "leaky_relu"
    keras: ClassVar[tuple[str, ...]] = ("LeakyReLU",)
    summary: ClassVar[str] = ("LeakyReLU with any positive slope, held at its float32 value (exact; a power of two "
                              "is a shift); l1ad import rounds a slope that is not a power of two to a stated type "
                              "(--leaky-slope-type, default ap_fixed<16,6> as hls4ml types it)")
    family: ClassVar[str] = "activation"

    @classmethod
    def read(cls, layer, **common) -> "LeakyRelu":
        config = layer.get_config()
        alpha = float(config.get("negative_slope", config.get("alpha", 0.3)))
        slope = float(np.float32(alpha))  # Keras computes x * alpha with alpha as float32: this value, exactly
        if not np.isfinite(slope) or slope <= 0:
            raise refuse(layer.name, f"LeakyReLU(alpha={alpha:g}) is not supported: l1ad takes a positive slope "
                                     "(alpha = 0 is ReLU)")
        return cls(**common, slope=slope)

    def bounds(self, x: list[Bounds]) -> Bounds:
        s = self.slope
        return Bounds(np.where(x[0].lo > 0, x[0].lo, x[0].lo * s), np.where(x[0].hi > 0, x[0].hi, x[0].hi * s),
                      x[0].f + frac_bits(np.array([s]), self.name))

    def exact(self, x: list[Value]) -> Value:
        """max(x, 0) + min(x, 0) * slope, exact at the slope's fractional bits more."""
        slope = np.array([self.slope])
        shift = frac_bits(slope, self.name)  # -k for a slope below one, else 0
        num = storage(x[0].num, self.wide)
        negative = num * constant_integers(slope, shift, self.wide)[0]
        return Value(np.where(num > 0, num * (1 << shift), negative), x[0].frac + shift)

    def trace(self, x, dsp):
        from ..da4ml_ops import scale_da4ml

        positive = x[0].relu()
        return positive + scale_da4ml(x[0] - positive, self.slope)

    def hls(self, graph):
        return ({"class_name": "LeakyReLU", "activation": "leaky_relu", "activ_param": self.slope},
                {"param": constant_type(np.array([self.slope]), self.name)})


def split_activation(layer, dense: Node) -> Node | None:
    """A (Q)Dense or convolution layer's own activation as a node of its own, named as hls4ml names it
    (keras_v2_to_hls.py: the layer's name, '_', the quantizer's class or the activation's name); None for a linear
    layer."""
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", type(activation).__name__)
    if activation is None or name == "linear":
        return None
    common = dict(inputs=(dense.name,), shape=dense.shape, source=f"{dense.source} activation",
                  trainable=dense.trainable)
    if name == "relu":
        return Relu(name=f"{layer.name}_relu", **common)
    if type(activation).__module__.startswith("qkeras"):  # activation_of refuses what cannot be exact
        kind = activation_of(activation, layer.name)[0]
        cls = Quantizer if kind == "quantizer" else Table
        return cls.of(activation, layer.name, name=f"{layer.name}_{type(activation).__name__}", **common)
    raise refuse(layer.name, f"activation={name} is not bit-exact; use 'relu', a QKeras quantizer or a QActivation "
                             "after it")

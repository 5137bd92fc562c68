"""The kinds of operation l1ad's firmware chain supports, each described once.

A kind says which Keras layers it comes from, how to read such a layer into a graph node (its constants through
the layer's quantizers, refusing settings that cannot be made exact), its range and exact result type (interval
arithmetic from the quantizers' types), how to evaluate the node exactly (integer arithmetic, :mod:`.reference`) and how to trace it into da4ml's fixed-point graph (open RTL flow,
:mod:`.rtl`). :mod:`.graph` builds the nodes; a layer that no kind accepts is refused there, before any file is
written, naming the layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from l1ad.common.errors import L1adError

from . import tables

MAX_WIDTH = 1024  # ap_fixed's widest type (AP_INT_MAX_W's default)


class UnsupportedModel(L1adError):
    """A model l1ad cannot turn into bit-exact firmware; the message names the layer."""


# --- fixed-point types and QKeras quantizers ---------------------------------------------------------

@dataclass(frozen=True)
class FixedType:
    """k sign bit (0/1), i integer bits (sign excluded), f fractional bits; QKeras rounding and clipping. ``sym``:
    a signed type that saturates symmetrically, to -max (QKeras' quantized_bits(symmetric=1), ap_fixed's
    AP_SAT_SYM)."""

    k: int
    i: int
    f: int
    sym: bool = False

    @property
    def lsb(self) -> float:
        return 2.0**-self.f

    @property
    def max(self) -> float:
        return 2.0**self.i - self.lsb

    @property
    def min(self) -> float:
        return (-(2.0**self.i) + (self.lsb if self.sym else 0.0)) if self.k else 0.0

    @property
    def saturation(self) -> str:
        return "SAT_SYM" if self.sym and self.k else "SAT"

    @property
    def width(self) -> int:
        return self.k + self.i + self.f

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Round half to even (QKeras' tf.round, hls4ml's RND_CONV), then saturate."""
        from quantizers import get_fixed_quantizer_np

        return get_fixed_quantizer_np("RND_CONV", self.saturation)(np.asarray(x, dtype=np.float64), self.k, self.i,
                                                                    self.f)

    @classmethod
    def parse(cls, text: str) -> "FixedType":
        """``ap_fixed<W,I>`` or ``ap_ufixed<W,I>`` (also without ``ap_``, and with the modes QKeras' quantized_bits
        applies, RND_CONV and SAT); other modes are refused."""
        import re

        match = re.fullmatch(r"(?:ap_)?(u?)fixed<(\d+),(-?\d+)((?:,[A-Z_]+)*)>", text.replace(" ", ""))
        modes = [m.removeprefix("AP_") for m in match.group(4).split(",")[1:]] if match else []
        if match is None or int(match.group(2)) < 1 or modes not in ([], ["RND_CONV"], ["RND_CONV", "SAT"]):
            raise UnsupportedModel(f"{text!r}: give an input type as ap_fixed<W,I> or ap_ufixed<W,I> (W >= 1); it "
                                   "rounds half to even and saturates, as QKeras' quantized_bits")
        k, width, integer = int(not match.group(1)), int(match.group(2)), int(match.group(3))
        if width - k < 0 or (k and width < 2):
            raise UnsupportedModel(f"{text!r}: a signed type needs at least 2 bits")
        return cls(k, integer - k, width - integer)

    def hls(self, modes: str = "") -> str:
        """hls4ml's type string, e.g. ``fixed<9,7>``, or with modes ``fixed<9,7,RND_CONV,SAT>``."""
        return f"{'' if self.k else 'u'}fixed<{self.width},{self.i + self.k}{',' + modes if modes else ''}>"


def identity(x):
    return x


def relu(x):
    return np.maximum(x, 0.0)


def hard_tanh(x):
    return np.clip(x, -1.0, 1.0)


BEFORE = {f.__name__: f for f in (identity, relu, hard_tanh)}  # what a quantizer applies before rounding


# The options of each plain quantizer, allow-listed: the values under which it is one fixed-point cast (round half to
# even, saturate). An option not listed here (a future QKeras option, or one l1ad does not model) is refused, never
# ignored. Other quantizers and settings are exact functions of their input (:mod:`.tables`).
PLAIN_OPTIONS = {
    "quantized_bits": {"alpha": (1, 1.0, None), "symmetric": (0, False, 1, True), "use_stochastic_rounding": (False, 0),
                       "qnoise_factor": (1, 1.0)},
    # relu_upper_bound changes nothing unless is_quantized_clip=False, which QKeras does not save (tables.spec_of)
    "quantized_relu": {"use_sigmoid": (0, False), "negative_slope": (0, 0.0), "use_stochastic_rounding": (False, 0),
                       "relu_upper_bound": None, "qnoise_factor": (1, 1.0)},
    "quantized_tanh": {"symmetric": (False, 0, True, 1), "use_stochastic_rounding": (False, 0),
                       "use_real_tanh": (False, 0)},
}
FREE_OPTIONS = {"bits", "integer", "keep_negative"}
PLAIN_HINT = {
    "quantized_bits": "is not plain fixed point: use alpha=1 (or None), no stochastic rounding, qnoise_factor=1",
    "quantized_relu": "is not supported: use no stochastic rounding and qnoise_factor=1",
    "quantized_tanh": "is not supported: only the hard tanh (use_real_tanh=False, no stochastic rounding) is "
                      "supported",
}


def _check_options(name: str, config: dict, where: str) -> None:
    allowed = PLAIN_OPTIONS[name]
    bad = {k: v for k, v in config.items()
           if k not in FREE_OPTIONS and (k not in allowed or (allowed[k] is not None and v not in allowed[k]))}
    if bad:
        raise UnsupportedModel(f"{where}{name}({config}) {PLAIN_HINT[name]} (options: {bad})")


def quantizer_type(quantizer, where: str = "") -> tuple[FixedType, Callable]:
    """The fixed-point type of a plain QKeras quantizer (one cast) and the exact function QKeras applies before
    rounding. Only settings whose arithmetic is plain fixed point are accepted (:data:`PLAIN_OPTIONS`); others raise
    UnsupportedModel (:func:`activation_of` takes the quantizers that are exact functions)."""
    name = type(quantizer).__name__
    where = f"{where}: " if where else ""
    if name not in PLAIN_OPTIONS:
        raise UnsupportedModel(f"{where}quantizer {name} is not plain fixed point; plain: quantized_bits, "
                               f"quantized_relu, quantized_tanh; as exact tables: {tables.SUMMARY}")
    config = quantizer.get_config()
    _check_options(name, config, where)
    bits, integer = int(config.get("bits", 0)), int(config.get("integer", 0))
    if name == "quantized_bits":
        k = int(bool(config["keep_negative"]))
        if bits - k < 1:
            raise UnsupportedModel(f"{where}quantized_bits(bits={bits}, keep_negative=True) is QKeras' binary "
                                   "quantizer (+-1), not fixed point: signed quantizers need bits >= 2 (or use "
                                   "binary())")
        return FixedType(k, integer, bits - integer - k, bool(config.get("symmetric")) and k == 1), identity
    if name == "quantized_relu":  # clipping at zero is the activation itself, not a saturation of the type
        return FixedType(0, integer, bits - integer), relu
    # quantized_tanh, QKeras: 2 * hard_sigmoid(x) - 1 = clip(x, -1, 1), then bits - 1 fractional bits, down to
    # -1 + lsb when symmetric
    return FixedType(1, 0, bits - 1, bool(config.get("symmetric"))), hard_tanh


def activation_of(quantizer, where: str) -> tuple[str, FixedType | dict, str | None]:
    """How a QKeras activation quantizer is computed: ("quantizer", its type, what it applies before rounding) for a
    plain one, ("table", its spec, None) for an exact function of its input (:mod:`.tables`)."""
    try:
        spec = tables.spec_of(quantizer)
    except ValueError as err:
        raise UnsupportedModel(f"{where}: {err}") from err
    if spec is not None:
        return "table", spec, None
    fixed, before = quantizer_type(quantizer, where)
    return "quantizer", fixed, before.__name__


def frac_bits(values: np.ndarray, where: str = "") -> int:
    """Fractional bits needed to hold every value exactly (fixed-point weights, or any float32)."""
    values = np.asarray(values, dtype=np.float64)
    for f in range(0, 160):
        if np.all(values * 2.0**f == np.round(values * 2.0**f)):
            return f
    raise UnsupportedModel(f"{where}: weights are not finite binary fractions")


# --- ranges and exact result types -------------------------------------------------------------------

@dataclass(frozen=True)
class Bounds:
    """The values a node can take: per value, ``lo`` to ``hi``, every one a multiple of 2^-f."""

    lo: np.ndarray
    hi: np.ndarray
    f: int

    def fixed(self) -> FixedType:
        """The narrowest type that holds every value exactly (so it never needs rounding or saturation)."""
        lo, hi = float(np.min(self.lo, initial=0.0)), float(np.max(self.hi, initial=0.0))
        k = int(lo < 0)
        top = max(-lo, hi + 2.0**-self.f)
        i = int(np.ceil(np.log2(top))) if top > 0 else 1 - self.f - k
        if top * (1 + 1e-12) > 2.0**i:  # float64 bounds of wide sums: one bit more when within rounding of 2^i
            i += 1
        return FixedType(k, max(i, 1 - self.f - k), self.f)  # at least one bit wide


def type_bounds(fixed: FixedType, width: int) -> Bounds:
    return Bounds(np.full(width, fixed.min), np.full(width, fixed.max), fixed.f)


def constant_bounds(values: np.ndarray, where: str) -> Bounds:
    values = np.asarray(values, dtype=np.float64)
    return Bounds(values, values, frac_bits(values, where))


def _linear_bounds(x: Bounds, matrix: np.ndarray, bias: np.ndarray, f: int) -> Bounds:
    """Bounds of x @ matrix + bias: each product at the end of x's range that makes it smallest / largest."""
    low, high = x.lo[:, None] * matrix, x.hi[:, None] * matrix
    return Bounds(np.minimum(low, high).sum(axis=0) + bias, np.maximum(low, high).sum(axis=0) + bias, f)


def _product_bounds(a: Bounds, b: Bounds, square: bool) -> Bounds:
    if square:  # x * x is never negative
        low = np.where((a.lo <= 0) & (a.hi >= 0), 0.0, np.minimum(a.lo**2, a.hi**2))
        return Bounds(low, np.maximum(a.lo**2, a.hi**2), 2 * a.f)
    ends = np.stack([a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi])
    return Bounds(ends.min(axis=0), ends.max(axis=0), a.f + b.f)


def result_type(node, bounds: Bounds) -> FixedType:
    """The exact result type of a node's arithmetic, refused when no fixed-point type of the firmware can hold it."""
    fixed = bounds.fixed()
    if fixed.width > MAX_WIDTH:
        raise UnsupportedModel(f"layer {node.name}: exact results need {fixed.width} bits ({fixed.hls()}), more "
                               f"than the {MAX_WIDTH} an ap_fixed holds; quantize its inputs or weights")
    return fixed


# --- exact values ------------------------------------------------------------------------------------

INT64_BITS = 62  # a node whose type is at most this wide is computed in int64; wider ones in Python integers


@dataclass
class Value:
    """A tensor's exact values as integers: ``num`` at scale 2^-``frac`` (int64, or Python integers in an object
    array when wider than :data:`INT64_BITS`); ``pre_num`` the values before the layer's own rounding (a quantizer's
    input, at ``pre_frac``). A model input is a float array with ``frac`` None."""

    num: np.ndarray
    frac: int | None
    pre_num: np.ndarray | None = None
    pre_frac: int | None = None

    @property
    def out(self) -> np.ndarray:
        """The values as float64 (exact up to 53 significant bits; the audit and the comparisons read them)."""
        return _to_float(self.num, self.frac)

    @property
    def pre(self) -> np.ndarray:
        return self.out if self.pre_num is None else _to_float(self.pre_num, self.pre_frac)


    def scaled(self, frac: int) -> np.ndarray:
        """The integers at scale 2^-``frac`` (``frac`` >= the value's own: exact), as Python integers when they need
        more than 62 bits."""
        num = np.asarray(self.num)
        shift = frac - self.frac
        if num.dtype != object and _bits(num) + shift <= INT64_BITS:
            return num.astype(np.int64) << shift
        return _storage(num, True) * (1 << shift)

    def identical(self, other: "Value") -> np.ndarray:
        """Per event (first axis): every value equal to ``other``'s, compared as exact integers at a common scale."""
        frac = max(self.frac, other.frac)
        a, b = self.scaled(frac), other.scaled(frac)
        return np.all((a == b).reshape(len(a), -1), axis=1).astype(bool)

    def widest_bits(self) -> int:
        """Bits of the widest value in two's complement (sign included when a value is negative), at the value's
        scale: the width an exact comparison had to hold."""
        num = np.asarray(self.num).ravel()
        if num.size == 0:
            return 0
        high, low = int(num.max()), int(num.min())
        if low >= 0:
            return high.bit_length()
        return max(high.bit_length(), (-low - 1).bit_length()) + 1  # two's complement


def _bits(num: np.ndarray) -> int:
    """Bits of the largest magnitude in an int64 array."""
    if num.size == 0:
        return 0
    return max(abs(int(num.max())).bit_length(), abs(int(num.min())).bit_length())


def concatenate(values: list[Value]) -> Value:
    """Values of successive chunks of events as one (at the finest scale among them)."""
    frac = max(v.frac for v in values)
    return Value(np.concatenate([v.scaled(frac) for v in values]), frac)


def _to_float(num: np.ndarray, frac: int | None) -> np.ndarray:
    num = np.asarray(num)
    if num.dtype == object:  # Python integers: exact rounding to float64, whatever their size
        from fractions import Fraction

        frac = frac or 0
        exact = (Fraction(int(n), 1 << frac) if frac >= 0 else Fraction(int(n) << -frac) for n in num.ravel())
        return np.array([float(v) for v in exact], dtype=np.float64).reshape(num.shape)
    values = num.astype(np.float64)
    return values if frac is None else values * 2.0**-frac


def _storage(num: np.ndarray, wide: bool) -> np.ndarray:
    if wide:
        return num if num.dtype == object else num.astype(object)
    return num.astype(np.int64) if num.dtype == object else num


def _scaled(v: Value, frac: int, wide: bool) -> np.ndarray:
    """v's integers at scale 2^-frac (frac >= v.frac: exact)."""
    return _storage(v.num, wide) * (1 << (frac - v.frac))


def _constant(values: np.ndarray, frac: int, wide: bool) -> np.ndarray:
    """Constants (binary fractions of at most ``frac`` fractional bits) as exact integers at scale 2^-frac."""
    scaled = np.asarray(values, dtype=np.float64) * 2.0**frac  # a power-of-two scale: exact
    if not wide:
        return scaled.astype(np.int64)
    return np.array([int(v) for v in scaled.ravel()], dtype=object).reshape(scaled.shape)


def _wide(node) -> bool:
    return node.result.width > INT64_BITS


def round_integers(num: np.ndarray, frac: int, fixed: FixedType) -> np.ndarray:
    """Integers at scale 2^-frac rounded half to even to ``fixed``'s LSB, then saturated: QKeras' quantizer
    (and hls4ml's RND_CONV, SAT) in integer arithmetic."""
    shift = frac - fixed.f
    if shift > 0:
        step = 1 << shift
        low = num // step  # floor
        rest = num - low * step
        half = step // 2
        num = low + ((rest > half) | ((rest == half) & (low % 2 == 1)))
    else:
        num = num * (1 << -shift)
    top = 1 << (fixed.i + fixed.f)  # i + f >= 0: a type is at least one bit wide
    return np.minimum(np.maximum(num, (-top + fixed.sym) if fixed.k else 0), top - 1)


# --- the kinds ---------------------------------------------------------------------------------------------
# Each kind: build(layer, node) reads a Keras layer into the node (raising UnsupportedModel for what cannot be
# exact), exact(node, inputs) evaluates it on Values, trace(node, inputs, dsp) on da4ml arrays.

def weight_values(quantizer, w: np.ndarray, where: str) -> tuple[np.ndarray, FixedType]:
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
    return values, constant_bounds(values, where).fixed()


def dense_weights(layer) -> tuple[np.ndarray, np.ndarray]:
    """A (Q)Dense layer's kernel and bias after its quantizers, as float64 (bias zeros without one)."""
    return _dense_constants(layer)[:2]


def _dense_constants(layer) -> tuple[np.ndarray, np.ndarray, dict[str, FixedType]]:
    weights = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
    quantizers = getattr(layer, "quantizers", None) or [None] * len(weights)
    types = {}
    for index, (name, q) in enumerate(zip(("kernel", "bias"), quantizers)):
        if q is not None and index < len(weights):
            weights[index], types[name] = weight_values(q, weights[index], layer.name)
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else np.zeros(kernel.shape[1])
    return kernel, bias, types


def _build_dense(layer, node):
    if len(layer.input_shape) != 2:
        raise UnsupportedModel(f"layer {layer.name}: only flat (batch, features) inputs are supported")
    kernel, bias, types = _dense_constants(layer)
    node.constants = {"kernel": kernel, "bias": bias}
    node.constant_types = types


def _exact_dense(node, x: list[Value]) -> Value:
    return _affine(node, x[0], node.constants["kernel"], node.constants["bias"], matrix=True)


def _affine(node, x: Value, scale: np.ndarray, bias: np.ndarray, matrix: bool) -> Value:
    """x @ scale + bias (``matrix``) or x * scale + bias, exactly, at the node's fractional bits."""
    wide, f = _wide(node), node.result.f
    fs, fb = frac_bits(scale, node.name), frac_bits(bias, node.name)
    x_num, s_num = _storage(x.num, wide), _constant(scale, fs, wide)
    product = x_num @ s_num if matrix else x_num * s_num
    return Value(product * (1 << (f - x.frac - fs)) + _constant(bias, fb, wide) * (1 << (f - fb)), f)


def _bounds_dense(node, x: list[Bounds]) -> Bounds:
    kernel, bias = node.constants["kernel"], node.constants["bias"]
    f = max(x[0].f + frac_bits(kernel, node.name), frac_bits(bias, node.name))
    return _linear_bounds(x[0], kernel, bias, f)


def _trace_dense(node, x, dsp):
    return x[0] @ node.constants["kernel"] + node.constants["bias"]


def _build_quantizer(layer, node):
    _, node.quantizer, node.before = activation_of(layer.quantizer, layer.name)


def _exact_quantizer(node, x: list[Value]) -> Value:
    fixed, v = node.quantizer, x[0]
    if v.frac is None:  # a model input: floats, rounded as QKeras rounds them (exact in float64, then integers)
        pre = BEFORE[node.before](np.asarray(v.num, dtype=np.float64))
        num = np.round(fixed.quantize(pre) * 2.0**fixed.f).astype(np.int64)
        return Value(num, fixed.f, pre, None)
    pre, frac = _before_integers(node.before, v.num, v.frac)
    return Value(_storage(round_integers(pre, frac, fixed), fixed.width > INT64_BITS), fixed.f, pre, frac)


def _before_integers(before: str, num: np.ndarray, frac: int) -> tuple[np.ndarray, int]:
    """What a quantizer applies before rounding, on integers at scale 2^-frac: (integers, their scale)."""
    if before == "relu":
        return np.maximum(num, 0), frac
    if before == "hard_tanh":  # clip(x, -1, 1): 1 needs a scale of at least 2^0 (found by the differential benchmark)
        if frac < 0:
            num, frac = num * (1 << -frac), 0
        one = 1 << frac
        return np.minimum(np.maximum(num, -one), one), frac
    return num, frac


def _bounds_quantizer(node, x: list[Bounds | None]) -> Bounds:
    """The quantizer's range, narrowed to where the (monotonic) rounding maps the input's range when it is known."""
    fixed = node.quantizer
    if x[0] is None:  # right after a model input: any float
        return type_bounds(fixed, node.width)
    before = BEFORE[node.before]
    return Bounds(fixed.quantize(before(x[0].lo)), fixed.quantize(before(x[0].hi)), fixed.f)


def _trace_quantizer(node, x, dsp):
    return quantize_da4ml(x[0], node.quantizer)


def _hls_quantizer(node, graph):
    return {"class_name": "Activation", "activation": "linear"}, {}  # the cast to the quantizer's type rounds


# --- exact functions of one value, as tables (:mod:`.tables`) --------------------------------------------------

def _build_table(layer, node):
    _, node.table, _ = activation_of(layer.quantizer, layer.name)


def _exact_table(node, x: list[Value]) -> Value:
    num, frac = tables.evaluate(node.table, x[0].num, x[0].frac)
    return Value(num, frac)  # every entry fits the table's type: nothing for the audit to round or saturate


def table_inputs(fixed: FixedType) -> np.ndarray:
    """Every value of a type, in the order of its bits read as an unsigned index (hls4ml's UnaryLUT): 0, lsb, ...,
    max, then (signed) min, ..., -lsb."""
    index = np.arange(2**fixed.width, dtype=np.int64)
    if fixed.k:
        index = np.where(index >= 2 ** (fixed.width - 1), index - 2**fixed.width, index)
    return index


def _bounds_table(node, x: list[Bounds]) -> Bounds:
    """The function's values over every value in the input's range (the table's index type is checked once the
    graph's types are final, :func:`.graph.check_tables`)."""
    step = 2.0 ** -x[0].f
    low, high = round(float(np.min(x[0].lo)) / step), round(float(np.max(x[0].hi)) / step)
    if high - low + 1 > 2**tables.TABLE_MAX_BITS:
        raise table_too_wide(node, x[0].fixed())
    values, frac = tables.evaluate(node.table, np.arange(low, high + 1, dtype=np.int64), x[0].f)
    scaled = values.astype(np.float64) * 2.0**-frac
    return Bounds(np.full(node.width, scaled.min()), np.full(node.width, scaled.max()), frac)


def table_too_wide(node, source: FixedType) -> UnsupportedModel:
    return UnsupportedModel(f"layer {node.name}: {node.table['name']} is built as a table of every value of its "
                            f"input, whose type {source.hls()} has {source.width} bits, more than the "
                            f"{tables.TABLE_MAX_BITS} l1ad allows (a table of 2^{source.width} entries); put a "
                            f"QActivation(quantized_bits(<= {tables.TABLE_MAX_BITS}, ...)) before it")


def _trace_table(node, x, dsp):
    from da4ml.trace import FixedVariableArray
    from da4ml.trace.fixed_variable import FixedVariable

    def lookup(v):
        grid = np.arange(round(float(v.low / v.step)), round(float(v.high / v.step)) + 1) if v.step else \
            np.array([0])
        frac = -int(np.log2(float(v.step))) if v.step else 0
        values, out_frac = tables.evaluate(node.table, grid if v.step else np.array([round(float(v.low))]), frac)
        floats = values.astype(np.float64) * 2.0**-out_frac
        if v.low == v.high:
            return FixedVariable.from_const(float(floats[0]), hwconf=v.hwconf, _factor=1)
        return v.lookup(floats)

    out = np.array([lookup(v) for v in x[0]._vars.ravel()]).reshape(x[0].shape)
    return FixedVariableArray(out, x[0].solver_options)


def hls_table(node, source: FixedType) -> np.ndarray:
    """hls4ml's UnaryLUT table of a node whose input has type ``source``: the function at every input value, in the
    order of the input's bits; values outside the input's range (never read) repeat the nearest end's."""
    grid = table_inputs(source)
    values, frac = tables.evaluate(node.table, grid, source.f)
    return values.astype(np.float64) * 2.0**-frac


def _hls_table(node, graph):
    source = graph[node.inputs[0]]
    return ({"class_name": "UnaryLUT", "activation": "unary_lut", "n_in": node.width,
             "table_data": hls_table(node, source.result)},
            {"table": node.result})


# --- relu and leaky relu --------------------------------------------------------------------------------------

def _build_relu(layer, node):
    config = layer.get_config()
    if type(layer).__name__ == "ReLU" and (config.get("max_value") is not None or config.get("negative_slope")
                                           or config.get("threshold")):
        raise UnsupportedModel(f"layer {layer.name}: ReLU with max_value, negative_slope or threshold is not "
                               "supported; use ReLU() or a QActivation(quantized_relu(bits, integer))")


def _exact_relu(node, x: list[Value]) -> Value:
    return Value(np.maximum(x[0].num, 0), x[0].frac)  # exact: no rounding, the type loses its sign only


def _bounds_relu(node, x: list[Bounds]) -> Bounds:
    return Bounds(np.maximum(x[0].lo, 0.0), np.maximum(x[0].hi, 0.0), x[0].f)


def _build_leaky_relu(layer, node):
    config = layer.get_config()
    slope = float(config.get("negative_slope", config.get("alpha", 0.3)))
    if slope <= 0 or not float(np.log2(slope)).is_integer():
        raise UnsupportedModel(f"layer {layer.name}: LeakyReLU(alpha={slope:g}) is not bit-exact: its slope is not a "
                               "power of two, so x * alpha rounds (in float32 in Keras, to hls4ml's parameter type "
                               "in the firmware); use alpha = 2^k (..., 0.25, 0.5, 1, 2, ...), where x * alpha is a "
                               "shift, or ReLU")
    node.constants = {"slope": np.array([slope])}


def _exact_leaky_relu(node, x: list[Value]) -> Value:
    """max(x, 0) + min(x, 0) * 2^k, exact at max(0, -k) more fractional bits."""
    slope = node.constants["slope"]
    shift = frac_bits(slope, node.name)  # -k for a slope below one, else 0
    wide = _wide(node)
    num = _storage(x[0].num, wide)
    negative = num * _constant(slope, shift, wide)[0]
    return Value(np.where(num > 0, num * (1 << shift), negative), x[0].frac + shift)


def _bounds_leaky_relu(node, x: list[Bounds]) -> Bounds:
    slope = float(node.constants["slope"][0])
    return Bounds(np.where(x[0].lo > 0, x[0].lo, x[0].lo * slope), np.where(x[0].hi > 0, x[0].hi, x[0].hi * slope),
                  x[0].f + frac_bits(node.constants["slope"], node.name))


def _trace_leaky_relu(node, x, dsp):
    positive = x[0].relu()
    return positive + (x[0] - positive) * float(node.constants["slope"][0])


def _hls_leaky_relu(node, graph):
    slope = node.constants["slope"]
    return ({"class_name": "LeakyReLU", "activation": "leaky_relu", "activ_param": float(slope[0])},
            {"param": constant_bounds(slope, node.name).fixed()})


def split_activation(layer) -> tuple[str, str, object] | None:
    """A (Q)Dense layer's own activation as a node of its own: (name, kind, the QKeras quantizer or None), named as
    hls4ml names it (keras_v2_to_hls.py: the layer's name, '_', the quantizer's class or the activation's name);
    None for a linear layer."""
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", type(activation).__name__)
    if activation is None or name == "linear":
        return None
    if name == "relu":
        return f"{layer.name}_relu", "relu", None
    if type(activation).__module__.startswith("qkeras"):  # activation_of refuses what cannot be exact
        kind = activation_of(activation, layer.name)[0]
        return f"{layer.name}_{type(activation).__name__}", kind, activation
    raise UnsupportedModel(f"layer {layer.name}: activation={name} is not bit-exact; use 'relu', a QKeras "
                           "quantizer or a QActivation after it")


def kind_of(layer) -> str | None:
    """The kind a Keras layer is built as (an Activation by its function, a QActivation by its quantizer), or None if
    unsupported."""
    name = type(layer).__name__
    if name == "Activation":
        return "relu" if layer.get_config()["activation"] == "relu" else None
    if name == "QActivation":
        return activation_of(layer.quantizer, layer.name)[0]
    return KERAS_KINDS.get(name)


def _build_same_shapes(layer, node):
    shapes = layer.input_shape if isinstance(layer.input_shape, list) else [layer.input_shape]
    if len(shapes) != 2:
        raise UnsupportedModel(f"layer {layer.name}: {type(layer).__name__} of {len(shapes)} tensors; hls4ml 1.3 "
                               "merges two at a time: chain two-input layers")
    if len({tuple(s) for s in shapes}) != 1 or len(shapes[0]) != 2:
        raise UnsupportedModel(f"layer {layer.name}: inputs must be flat and of equal shape (got {shapes}); "
                               "broadcasting is not supported")


def _exact_add(node, x):
    wide, f = _wide(node), node.result.f
    return Value(sum(_scaled(v, f, wide) for v in x), f)


def _exact_subtract(node, x):
    wide, f = _wide(node), node.result.f
    return Value(_scaled(x[0], f, wide) - _scaled(x[1], f, wide), f)


def _exact_average(node, x):
    """(a + b) / 2: the sum's integers at one fractional bit more."""
    wide, f = _wide(node), node.result.f
    return Value(_scaled(x[0], f - 1, wide) + _scaled(x[1], f - 1, wide), f)


def _exact_extremum(node, x):
    wide, f = _wide(node), node.result.f
    pick = np.maximum if node.kind == "maximum" else np.minimum
    return Value(pick(_scaled(x[0], f, wide), _scaled(x[1], f, wide)), f)


def _exact_multiply(node, x):
    wide = _wide(node)
    out = _storage(x[0].num, wide)
    for v in x[1:]:
        out = out * _storage(v.num, wide)
    return Value(out, sum(v.frac for v in x))


def _bounds_add(node, x: list[Bounds]) -> Bounds:
    return Bounds(sum(b.lo for b in x), sum(b.hi for b in x), max(b.f for b in x))


def _bounds_subtract(node, x: list[Bounds]) -> Bounds:
    return Bounds(x[0].lo - x[1].hi, x[0].hi - x[1].lo, max(b.f for b in x))


def _bounds_average(node, x: list[Bounds]) -> Bounds:
    return Bounds((x[0].lo + x[1].lo) / 2, (x[0].hi + x[1].hi) / 2, max(b.f for b in x) + 1)


def _bounds_extremum(node, x: list[Bounds]) -> Bounds:
    pick = np.maximum if node.kind == "maximum" else np.minimum
    return Bounds(pick(x[0].lo, x[1].lo), pick(x[0].hi, x[1].hi), max(b.f for b in x))


def _trace_extremum(node, x, dsp):
    larger = x[1] + (x[0] - x[1]).relu()  # max(a, b) = b + relu(a - b), min(a, b) = a + b - max(a, b)
    return larger if node.kind == "maximum" else x[0] + x[1] - larger


def _bounds_multiply(node, x: list[Bounds]) -> Bounds:
    if len(x) == 2 and node.inputs[0] == node.inputs[1]:
        return _product_bounds(x[0], x[0], square=True)
    out = x[0]
    for b in x[1:]:
        out = _product_bounds(out, b, square=False)
    return out


def _trace_multiply(node, x, dsp):
    if len(x) == 2 and node.inputs[0] == node.inputs[1]:
        return square_da4ml(x[0], dsp)
    out = x[0]
    for v in x[1:]:
        out = out * v
    return out


def _hls_merge(node, graph):
    return {"class_name": "Merge", "op": node.kind}, {}


def _build_dot(layer, node):
    config = layer.get_config()
    axes = config["axes"]
    axes = axes if isinstance(axes, (list, tuple)) else [axes, axes]
    if any(a not in (1, -1) for a in axes) or config.get("normalize"):
        raise UnsupportedModel(f"layer {layer.name}: Dot over the feature axis (axes=1, normalize=False) only")
    _build_same_shapes(layer, node)


def _exact_dot(node, x):
    wide = _wide(node)
    return Value(np.sum(_storage(x[0].num, wide) * _storage(x[1].num, wide), axis=1, keepdims=True),
                 x[0].frac + x[1].frac)


def _bounds_dot(node, x: list[Bounds]) -> Bounds:
    products = _product_bounds(x[0], x[1], square=node.inputs[0] == node.inputs[1])
    return Bounds(products.lo.sum(keepdims=True), products.hi.sum(keepdims=True), products.f)


def _trace_dot(node, x, dsp):
    products = square_da4ml(x[0], dsp) if node.inputs[0] == node.inputs[1] else x[0] * x[1]
    return products @ np.ones((products.shape[-1], 1))  # an adder tree, built by da4ml


def _build_concatenate(layer, node):
    if layer.get_config()["axis"] not in (1, -1):
        raise UnsupportedModel(f"layer {layer.name}: Concatenate along the feature axis only")


def _exact_concatenate(node, x):
    wide, f = _wide(node), node.result.f
    return Value(np.concatenate([_scaled(v, f, wide) for v in x], axis=1), f)


def _bounds_concatenate(node, x: list[Bounds]) -> Bounds:
    return Bounds(np.concatenate([b.lo for b in x]), np.concatenate([b.hi for b in x]), max(b.f for b in x))


def _trace_concatenate(node, x, dsp):
    from da4ml.trace import FixedVariableArray

    return FixedVariableArray(np.concatenate([v._vars for v in x], axis=-1), x[0].solver_options)


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
    """The folded scale and bias hls4ml computes for a BatchNormalization layer (same numpy float32 arithmetic; a
    QBatchNormalization reaches hls4ml as a BatchNormalization of its quantized parameters, see
    :func:`.convert._as_hls4ml_reads`)."""
    p, epsilon = batchnorm_parameters(layer), layer.get_config()["epsilon"]
    scale = p["gamma"] / np.sqrt(p["moving_variance"] + epsilon)
    bias = p["beta"] - scale * p["moving_mean"]
    return np.asarray(scale, dtype=np.float64), np.asarray(bias, dtype=np.float64)


def _build_batchnorm(layer, node):
    if len(layer.input_shape) != 2:
        raise UnsupportedModel(f"layer {layer.name}: only flat (batch, features) inputs are supported")
    scale, bias = batchnorm_constants(layer)
    node.constants = {"scale": np.broadcast_to(scale, (node.width,)).copy(),
                      "bias": np.broadcast_to(bias, (node.width,)).copy()}


def _exact_batchnorm(node, x):
    return _affine(node, x[0], node.constants["scale"], node.constants["bias"], matrix=False)


def _bounds_batchnorm(node, x: list[Bounds]) -> Bounds:
    scale, bias = node.constants["scale"], node.constants["bias"]
    f = max(x[0].f + frac_bits(scale, node.name), frac_bits(bias, node.name))
    return _linear_bounds(x[0], np.diag(scale), bias, f)


def _trace_batchnorm(node, x, dsp):
    return x[0] * node.constants["scale"] + node.constants["bias"]


def _hls_dense(node, graph):
    kernel, bias = node.constants["kernel"], node.constants["bias"]
    return ({"class_name": "Dense", "n_in": kernel.shape[0], "n_out": kernel.shape[1], "weight_data": kernel,
             "bias_data": bias}, {"weight": constant_bounds(kernel, node.name).fixed(),
                                  "bias": constant_bounds(bias, node.name).fixed()})


def _hls_batchnorm(node, graph):
    """hls4ml's BatchNormalization folds gamma / sqrt(variance + epsilon) and beta - scale * mean in float64: with
    gamma and beta the folded constants, mean 0, variance 1 and epsilon 0 it holds them exactly."""
    scale, bias = node.constants["scale"], node.constants["bias"]
    return ({"class_name": "BatchNormalization", "n_in": node.width, "n_filt": -1, "gamma_data": scale,
             "beta_data": bias, "mean_data": np.zeros_like(scale), "variance_data": np.ones_like(scale),
             "epsilon": 0.0, "use_gamma": True, "use_beta": True},
            {"scale": constant_bounds(scale, node.name).fixed(), "bias": constant_bounds(bias, node.name).fixed()})


@dataclass(frozen=True)
class Kind:
    summary: str  # what is supported, as the refusal of an unsupported layer lists it
    keras: tuple[str, ...]  # the Keras classes this kind is built from
    build: Callable
    exact: Callable
    bounds: Callable  # bounds(node, inputs' Bounds) -> the node's Bounds, from which its exact result type follows
    trace: Callable
    # hls(node, graph) -> (hls4ml layer attributes, types of its constants): the layer hls4ml builds for the node
    hls: Callable
    accumulates: bool = False  # its hls4ml layer has an accumulator (typed as the node's exact result)


KINDS: dict[str, Kind] = {
    "dense": Kind("QDense and Dense (an activation inside one, relu or a QKeras quantizer, becomes a node of its own; "
                  "weights through any deterministic QKeras quantizer)", ("QDense", "Dense"), _build_dense,
                  _exact_dense, _bounds_dense, _trace_dense, _hls_dense, accumulates=True),
    "quantizer": Kind("QActivation with quantized_bits, quantized_relu or quantized_tanh (hard tanh, symmetric or "
                      "not): one cast that rounds half to even and saturates", ("QActivation",), _build_quantizer,
                      _exact_quantizer, _bounds_quantizer, _trace_quantizer, _hls_quantizer),
    "table": Kind(f"QActivation (or activation= inside a QDense) with {tables.SUMMARY}", ("QActivation",),
                  _build_table, _exact_table, _bounds_table, _trace_table, _hls_table),
    "relu": Kind("ReLU(), Activation('relu') and activation='relu' inside a (Q)Dense (exact: no rounding)",
                 ("ReLU",), _build_relu, _exact_relu, _bounds_relu, lambda node, x, dsp: x[0].relu(),
                 lambda node, graph: ({"class_name": "Activation", "activation": "relu"}, {})),
    "leaky_relu": Kind("LeakyReLU with a power-of-two slope (alpha = 2^k, e.g. 0.25, 0.5, 1: exact, x * alpha is a "
                       "shift)", ("LeakyReLU",), _build_leaky_relu, _exact_leaky_relu, _bounds_leaky_relu,
                       _trace_leaky_relu, _hls_leaky_relu),
    "subtract": Kind("Subtract", ("Subtract",), _build_same_shapes, _exact_subtract, _bounds_subtract,
                     lambda node, x, dsp: x[0] - x[1], _hls_merge),
    "add": Kind("Add (two tensors)", ("Add",), _build_same_shapes, _exact_add, _bounds_add,
                lambda node, x, dsp: x[0] + x[1], _hls_merge),
    "average": Kind("Average (two tensors)", ("Average",), _build_same_shapes, _exact_average, _bounds_average,
                    lambda node, x, dsp: (x[0] + x[1]) * 0.5, _hls_merge),
    "maximum": Kind("Maximum (two tensors)", ("Maximum",), _build_same_shapes, _exact_extremum, _bounds_extremum,
                    _trace_extremum, _hls_merge),
    "minimum": Kind("Minimum (two tensors)", ("Minimum",), _build_same_shapes, _exact_extremum, _bounds_extremum,
                    _trace_extremum, _hls_merge),
    "multiply": Kind("Multiply of two tensors (a layer multiplied with itself is a square)", ("Multiply",),
                     _build_same_shapes, _exact_multiply, _bounds_multiply, _trace_multiply, _hls_merge),
    "dot": Kind("Dot(axes=1) of two flat tensors (e.g. a squared distance)", ("Dot",), _build_dot, _exact_dot,
                _bounds_dot, _trace_dot, lambda node, graph: ({"class_name": "Dot", "op": "dot1d"}, {}),
                accumulates=True),
    "concatenate": Kind("Concatenate along the feature axis", ("Concatenate",), _build_concatenate,
                        _exact_concatenate, _bounds_concatenate, _trace_concatenate,
                        lambda node, graph: ({"class_name": "Concatenate", "op": "concatenate1d", "axis": -1}, {})),
    "batchnorm": Kind("BatchNormalization and QBatchNormalization (folded to x * scale + bias as hls4ml folds it; "
                      "QBatchNormalization with its parameters as QKeras quantizes them)",
                      ("BatchNormalization", "QBatchNormalization"), _build_batchnorm, _exact_batchnorm,
                      _bounds_batchnorm, _trace_batchnorm, _hls_batchnorm),
}
KERAS_KINDS = {cls: kind for kind, rule in KINDS.items() for cls in rule.keras if kind != "table"}


# layers that pass their input on unchanged at inference: no node, skipped as hls4ml skips them (keras_v2_to_hls.py)
SKIPPED = {"Dropout": "Dropout (a no-op at inference: skipped)",
           "Activation": "Activation('linear') (the identity: skipped)"}


def passes_through(layer) -> bool:
    """A layer that changes no value at inference: Dropout, Activation('linear'), Flatten, a Reshape to one axis
    (every tensor is held flat, row-major, as hls4ml holds it and as Flatten orders it)."""
    name = type(layer).__name__
    if name == "Activation":
        return layer.get_config()["activation"] == "linear"
    return name in ("Dropout", "Flatten") or (name == "Reshape" and len(layer.output_shape) == 2)


def supported_layers() -> list[str]:
    return [rule.summary for rule in KINDS.values()] + list(SKIPPED.values()) + [
        "Flatten, and Reshape to one axis (every tensor is held flat, row-major)"]


# --- da4ml arithmetic ----------------------------------------------------------------------------------

def round_half_even(v, k: int, i: int, f: int, sym: bool = False):
    """Quantize a da4ml FixedVariable to (k, i, f), rounding half to even, then saturating.

    Rounding: add 2^-(f+1) - 2^-f_in, plus 2^-f_in when the kept LSB (weight 2^-f) is 1, then truncate:
    ties go up exactly when that makes the result even; other values cannot cross a 2^-f boundary.
    Saturation: low + relu(x - low) - relu(x - high). da4ml's own SAT (a comparison against a
    constant) gave wrong values in 0.5.2 once its optimizer had scaled a variable by a tiny power of
    two, as happens after several layers; the relu form is exact there too.
    A constant (e.g. a neuron whose inputs are all pruned away) is rounded here, in numpy: da4ml 0.5.2's bit
    slices of a negative constant are wrong (-0.6875 to 2 fractional bits gave -1.0, not -0.75).
    """
    if v.low == v.high:
        from da4ml.trace.fixed_variable import FixedVariable

        value = float(FixedType(k, i, f, sym).quantize(np.array([float(v.low)]))[0])
        return FixedVariable.from_const(value, hwconf=v.hwconf, _factor=1)
    _, _, f_in = v.kif
    if f < f_in:
        kept_lsb = v.quantize(0, 1 - f, f)  # one-bit slice, value 0 or 2^-f
        v = v + (kept_lsb >> (f_in - f)) + (2.0 ** (-f - 1) - 2.0**-f_in)
    _k, _i, _ = v.kif
    v = v.quantize(_k, _i, f, "WRAP", "TRN")  # truncate, keeping the whole integer range
    low, high = FixedType(k, i, f, sym).min, 2.0**i - 2.0**-f
    if v.low < low or v.high > high:
        v = (v - low).relu() - (v - high).relu() + low
    return v.quantize(k, i, f, "WRAP", "TRN")  # in range now: only narrows the word


def quantize_da4ml(x, fixed: FixedType):
    from da4ml.trace import FixedVariableArray

    out = np.array([round_half_even(v, fixed.k, fixed.i, fixed.f, fixed.sym) for v in x._vars.ravel()])
    out = out.reshape(x.shape)
    return FixedVariableArray(out, x.solver_options)


def _square_shift_add(x):
    """x^2 of one da4ml variable from adders only, no multiplier (no DSP, short carry chains).

    With a = |x| = sum_j a_j 2^j: a^2 = sum_j a_j p_j, p_j = 2^(2j) + 2^(j+1) (a mod 2^j) < 2^(2j+2), a triangle
    of partial products summed by a balanced adder tree. Each a_j p_j is relu(p_j + a_j 2^(2j+2) - 2^(2j+2)):
    p_j when the bit is set, else a negative number clipped to 0; one adder and da4ml's relu, which (unlike its
    msb_mux in 0.5.2) stays exact whatever internal scale da4ml gave the variable. A multiplier ``x * x``
    instead maps to one DSP per square in yosys, or to about three times the LUTs without DSPs.
    """
    from da4ml.trace.fixed_variable import FixedVariable

    a = abs(x)
    _, i, f = a.kif
    terms = []
    for j in range(-f, i):
        bit = a.quantize(0, j + 1, -j)  # a_j 2^j
        top = 2.0 ** (2 * j + 2)
        if j > -f:
            pp = a.quantize(0, j, f) * 2.0 ** (j + 1) + 2.0 ** (2 * j)
            terms.append((pp + bit * 2.0 ** (j + 2) - top).relu())
        else:
            terms.append(bit * 2.0**j)  # a_j 2^(2j), j the lowest bit
    if not terms:
        return FixedVariable.from_const(0.0, hwconf=a.hwconf, _factor=1)
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k] for k in range(0, len(terms), 2)]
    return terms[0]


# Squares of values with at most this many bits come from a table (da4ml's lookup, a ROM that yosys maps to LUTs):
# measured with yosys for xcup, 9 LUT vs 19 LUT + 8 CARRY4 from adders at 6 bits, 21 LUT vs 28 LUT + 10 CARRY4 at 7;
# at 8 bits the table is larger (41 LUT vs 36 LUT + 13 CARRY4).
TABLE_SQUARE_BITS = 7


def _square_table(x):
    """x^2 of one da4ml variable read from a table of every value x can take (exact: the squares are constants)."""
    n = round(float((x.high - x.low) / x.step)) + 1
    return x.lookup(np.linspace(float(x.low), float(x.high), n) ** 2)


def _square(x):
    if x.low == x.high:  # a constant, squared in numbers: da4ml 0.5.2's bit slices of a negative constant are wrong
        from da4ml.trace.fixed_variable import FixedVariable

        return FixedVariable.from_const(float(x.low * x.low), hwconf=x.hwconf, _factor=1)
    n = round(float((x.high - x.low) / x.step)) + 1 if x.step else 1
    return _square_table(x) if 1 < n <= 2**TABLE_SQUARE_BITS else _square_shift_add(x)


def square_da4ml(x, dsp: bool = False):
    """Squares of an array: tables for narrow values, shift-and-add logic otherwise, or (``dsp``) multipliers that
    yosys maps to DSPs."""
    from da4ml.trace import FixedVariableArray

    if dsp:
        return x**2
    out = np.array([_square(v) for v in x._vars.ravel()]).reshape(x.shape)
    return FixedVariableArray(out, x.solver_options)

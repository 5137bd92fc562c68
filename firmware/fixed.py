"""The fixed-point core: one type, one convention, exact values in integers.

:class:`Fixed` is every fixed-point type l1ad handles: ``k`` sign bit (0/1), ``i`` integer bits with the sign
excluded, ``f`` fractional bits (QKeras' and da4ml's convention; ap_fixed's W = k + i + f and I = k + i), and its
rounding and overflow modes as ap_fixed spells them. A quantizer's type rounds half to even and saturates
(``RND_CONV``, ``SAT`` or ``SAT_SYM``), as QKeras does; the exact type of a node's arithmetic never rounds or
wraps (``TRN``, ``WRAP``). :meth:`Fixed.parse` reads an ap_fixed or hls4ml type string with hls4ml's own parser;
:meth:`Fixed.hls` writes one. :func:`quantizer_type` is the type of a plain QKeras quantizer; :meth:`Bounds.fixed`
the narrowest exact type of a range; :class:`Value` a tensor's exact values, as integers at a power-of-two scale,
and :meth:`Fixed.round` QKeras' rounding and saturation on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from l1ad.common.errors import L1adError

MAX_WIDTH = 1024  # ap_fixed's widest type (AP_INT_MAX_W's default)
INT64_BITS = 62  # values of at most this many bits are held in int64; wider ones in Python integers


class UnsupportedModel(L1adError):
    """A model l1ad cannot turn into bit-exact firmware; the message names the layer."""


@dataclass(frozen=True)
class Fixed:
    """A fixed-point type: ``k`` sign bit, ``i`` integer bits (sign excluded), ``f`` fractional bits, ap_fixed's
    rounding (``RND_CONV`` half to even, ``TRN``) and overflow (``SAT``, ``SAT_SYM`` to -max, ``WRAP``)."""

    k: int
    i: int
    f: int
    rounding: str = "TRN"
    overflow: str = "WRAP"

    @classmethod
    def quantizer(cls, k: int, i: int, f: int, symmetric: bool = False) -> "Fixed":
        """A quantizer's type: QKeras rounds half to even and saturates (to -max when symmetric)."""
        return cls(k, i, f, "RND_CONV", "SAT_SYM" if symmetric and k else "SAT")

    @property
    def exact(self) -> "Fixed":
        """The same bits as an exact type (no rounding, no saturation)."""
        return Fixed(self.k, self.i, self.f)

    @property
    def width(self) -> int:
        return self.k + self.i + self.f

    @property
    def sym(self) -> bool:
        return self.overflow == "SAT_SYM"

    @property
    def lsb(self) -> float:
        return 2.0**-self.f

    @property
    def max(self) -> float:
        return 2.0**self.i - self.lsb

    @property
    def min(self) -> float:
        return (-(2.0**self.i) + (self.lsb if self.sym else 0.0)) if self.k else 0.0

    def hls(self) -> str:
        """ap_fixed's parameters as hls4ml writes a precision, e.g. ``fixed<9,7,RND_CONV,SAT>``."""
        return f"{'' if self.k else 'u'}fixed<{self.width},{self.i + self.k},{self.rounding},{self.overflow}>"

    def short(self) -> str:
        """The bits only, e.g. ``fixed<9,7>``, for messages."""
        return f"{'' if self.k else 'u'}fixed<{self.width},{self.i + self.k}>"

    @classmethod
    def parse(cls, text: str) -> "Fixed":
        """An ap_fixed or hls4ml type string (``ap_fixed<W,I[,Q,O]>``, ``ufixed<...>``, ``(u)int<W>``), read by
        hls4ml's own parser."""
        from hls4ml.backends.fpga.fpga_backend import FPGABackend

        try:
            parsed = FPGABackend.convert_precision_string(text.replace(" ", ""))
            width, integer, signed = int(parsed.width), int(parsed.integer), bool(parsed.signed)
        except Exception as err:  # noqa: BLE001 - hls4ml raises several kinds for a string it cannot read
            raise ValueError(f"cannot read fixed-point type {text!r}") from err
        rounding = str(getattr(parsed, "rounding_mode", None) or "TRN").removeprefix("AP_")
        overflow = str(getattr(parsed, "saturation_mode", None) or "WRAP").removeprefix("AP_")
        return cls(int(signed), integer - int(signed), width - integer, rounding, overflow)

    @classmethod
    def input_type(cls, text: str) -> "Fixed":
        """A type the user states for an input (``ap_fixed<W,I>``): it rounds half to even and saturates, as QKeras'
        quantized_bits; other modes are refused."""
        inner = text.replace(" ", "")
        modes = [m.removeprefix("AP_") for m in inner[inner.find("<") + 1:inner.rfind(">")].split(",")[2:]]
        try:
            fixed = cls.parse(text)
        except ValueError:
            fixed = None
        if fixed is None or fixed.width < 1 or modes not in ([], ["RND_CONV"], ["RND_CONV", "SAT"]):
            raise UnsupportedModel(f"{text!r}: give an input type as ap_fixed<W,I> or ap_ufixed<W,I> (W >= 1); it "
                                   "rounds half to even and saturates, as QKeras' quantized_bits")
        if fixed.k and fixed.width < 2:
            raise UnsupportedModel(f"{text!r}: a signed type needs at least 2 bits")
        return cls.quantizer(fixed.k, fixed.i, fixed.f)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Floats rounded half to even (QKeras' tf.round, ap_fixed's RND_CONV) to the type's LSB, then saturated;
        float64, exact for values of up to 53 significant bits."""
        from quantizers import get_fixed_quantizer_np

        overflow = "SAT_SYM" if self.sym else "SAT"
        return get_fixed_quantizer_np("RND_CONV", overflow)(np.asarray(x, dtype=np.float64), self.k, self.i, self.f)

    def round(self, num: np.ndarray, frac: int) -> np.ndarray:
        """Integers at scale 2^-frac rounded half to even to the type's LSB, then saturated: QKeras' quantizer
        (ap_fixed's RND_CONV with SAT or SAT_SYM) in integer arithmetic."""
        shift = frac - self.f
        if shift > 0:
            step = 1 << shift
            low = num // step  # floor
            rest = num - low * step
            half = step // 2
            num = low + ((rest > half) | ((rest == half) & (low % 2 == 1)))
        else:
            num = num * (1 << -shift)
        top = 1 << (self.i + self.f)  # i + f >= 0: a type is at least one bit wide
        return np.minimum(np.maximum(num, (-top + self.sym) if self.k else 0), top - 1)


# --- plain QKeras quantizers ---------------------------------------------------------------------------------

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


def quantizer_type(quantizer, where: str = "") -> tuple[Fixed, Callable]:
    """The type of a plain QKeras quantizer (one cast) and the exact function QKeras applies before rounding.
    Only settings whose arithmetic is plain fixed point are accepted (:data:`PLAIN_OPTIONS`); others raise
    UnsupportedModel (the kinds take the quantizers that are exact functions, :mod:`.tables`)."""
    from . import tables

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
        return Fixed.quantizer(k, integer, bits - integer - k, bool(config.get("symmetric"))), identity
    if name == "quantized_relu":  # clipping at zero is the activation itself, not a saturation of the type
        return Fixed.quantizer(0, integer, bits - integer), relu
    # quantized_tanh, QKeras: 2 * hard_sigmoid(x) - 1 = clip(x, -1, 1), then bits - 1 fractional bits, down to
    # -1 + lsb when symmetric
    return Fixed.quantizer(1, 0, bits - 1, bool(config.get("symmetric"))), hard_tanh


def before_integers(before: str, num: np.ndarray, frac: int) -> tuple[np.ndarray, int]:
    """What a quantizer applies before rounding, on integers at scale 2^-frac: (integers, their scale)."""
    if before == "relu":
        return np.maximum(num, 0), frac
    if before == "hard_tanh":  # clip(x, -1, 1): 1 needs a scale of at least 2^0 (found by the differential benchmark)
        if frac < 0:
            num, frac = num * (1 << -frac), 0
        one = 1 << frac
        return np.minimum(np.maximum(num, -one), one), frac
    return num, frac


# --- ranges and exact types ----------------------------------------------------------------------------------

def frac_bits(values: np.ndarray, where: str = "") -> int:
    """Fractional bits needed to hold every value exactly (fixed-point weights, or any float32)."""
    values = np.asarray(values, dtype=np.float64)
    for f in range(0, 160):
        if np.all(values * 2.0**f == np.round(values * 2.0**f)):
            return f
    raise UnsupportedModel(f"{where}: weights are not finite binary fractions")


@dataclass(frozen=True)
class Bounds:
    """The values a tensor can take: per value, ``lo`` to ``hi`` (arrays of the tensor's shape), every one a
    multiple of 2^-f."""

    lo: np.ndarray
    hi: np.ndarray
    f: int

    def fixed(self) -> Fixed:
        """The narrowest type that holds every value exactly (so it never needs rounding or saturation)."""
        lo, hi = float(np.min(self.lo, initial=0.0)), float(np.max(self.hi, initial=0.0))
        k = int(lo < 0)
        top = max(-lo, hi + 2.0**-self.f)
        i = int(np.ceil(np.log2(top))) if top > 0 else 1 - self.f - k
        if top * (1 + 1e-12) > 2.0**i:  # float64 bounds of wide sums: one bit more when within rounding of 2^i
            i += 1
        return Fixed(k, max(i, 1 - self.f - k), self.f)  # at least one bit wide

    def reshape(self, shape: tuple[int, ...]) -> "Bounds":
        return Bounds(np.reshape(self.lo, shape), np.reshape(self.hi, shape), self.f)


def type_bounds(fixed: Fixed, shape: tuple[int, ...]) -> Bounds:
    return Bounds(np.full(shape, fixed.min), np.full(shape, fixed.max), fixed.f)


def constant_bounds(values: np.ndarray, where: str) -> Bounds:
    values = np.asarray(values, dtype=np.float64)
    return Bounds(values, values, frac_bits(values, where))


def constant_type(values: np.ndarray, where: str) -> Fixed:
    """The narrowest type that holds constants exactly."""
    return constant_bounds(values, where).fixed()


def rounding_reach(source: Fixed, target: Fixed) -> int:
    """Integer bits ``source`` lacks for ap_fixed to round it to ``target``'s LSB (0 when it has them): ap_fixed reads
    the bit below the new LSB, and aborts when the source type has no such bit."""
    return max(0, 1 - target.f - (source.k + source.i))


def exact_type(name: str, bounds: Bounds) -> Fixed:
    """The exact result type of a node's arithmetic, refused when no fixed-point type of the firmware can hold it."""
    fixed = bounds.fixed()
    if fixed.width > MAX_WIDTH:
        raise UnsupportedModel(f"layer {name}: exact results need {fixed.width} bits ({fixed.short()}), more "
                               f"than the {MAX_WIDTH} an ap_fixed holds; quantize its inputs or weights")
    return fixed


# --- exact values --------------------------------------------------------------------------------------------

@dataclass
class Value:
    """A tensor's exact values as integers: ``num`` (events first, then the tensor's shape) at scale 2^-``frac``
    (int64, or Python integers in an object array when wider than :data:`INT64_BITS`); ``pre_num`` the values
    before the layer's own rounding (a quantizer's input, at ``pre_frac``). A model input is a float array with
    ``frac`` None."""

    num: np.ndarray
    frac: int | None
    pre_num: np.ndarray | None = None
    pre_frac: int | None = None

    @property
    def out(self) -> np.ndarray:
        """The values as float64 (exact up to 53 significant bits; the audit and the physics read them)."""
        return to_float(self.num, self.frac)

    @property
    def pre(self) -> np.ndarray:
        return self.out if self.pre_num is None else to_float(self.pre_num, self.pre_frac)

    def scaled(self, frac: int) -> np.ndarray:
        """The integers at scale 2^-``frac`` (``frac`` >= the value's own: exact), as Python integers when they need
        more than 62 bits."""
        num = np.asarray(self.num)
        shift = frac - self.frac
        if num.dtype != object and _bits(num) + shift <= INT64_BITS:
            return num.astype(np.int64) << shift
        return storage(num, True) * (1 << shift)

    def identical(self, other: "Value") -> np.ndarray:
        """Per event (first axis): every value equal to ``other``'s, compared as exact integers at a common scale
        (tensors in row-major order: a flat array of the firmware against the model's shaped tensor)."""
        frac = max(self.frac, other.frac)
        a, b = self.scaled(frac), other.scaled(frac)
        return np.all(a.reshape(len(a), -1) == b.reshape(len(b), -1), axis=1).astype(bool)

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


def to_float(num: np.ndarray, frac: int | None) -> np.ndarray:
    num = np.asarray(num)
    if num.dtype == object:  # Python integers: exact rounding to float64, whatever their size
        from fractions import Fraction

        frac = frac or 0
        exact = (Fraction(int(n), 1 << frac) if frac >= 0 else Fraction(int(n) << -frac) for n in num.ravel())
        return np.array([float(v) for v in exact], dtype=np.float64).reshape(num.shape)
    values = num.astype(np.float64)
    return values if frac is None else values * 2.0**-frac


def storage(num: np.ndarray, wide: bool) -> np.ndarray:
    """Integers as int64, or as Python integers (``wide``) where a result may need more than 62 bits."""
    if wide:
        return num if num.dtype == object else num.astype(object)
    return num.astype(np.int64) if num.dtype == object else num


def scaled(v: Value, frac: int, wide: bool) -> np.ndarray:
    """v's integers at scale 2^-frac (frac >= v.frac: exact)."""
    return storage(v.num, wide) * (1 << (frac - v.frac))


def constant_integers(values: np.ndarray, frac: int, wide: bool) -> np.ndarray:
    """Constants (binary fractions of at most ``frac`` fractional bits) as exact integers at scale 2^-frac."""
    scaled_values = np.asarray(values, dtype=np.float64) * 2.0**frac  # a power-of-two scale: exact
    if not wide:
        return scaled_values.astype(np.int64)
    return np.array([int(v) for v in scaled_values.ravel()], dtype=object).reshape(scaled_values.shape)

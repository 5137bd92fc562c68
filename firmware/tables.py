"""QKeras activation quantizers that are not plain fixed point, each as an exact function of a fixed-point value.

A plain quantizer (quantized_bits, quantized_relu, quantized_tanh) rounds half to even and saturates: one ap_fixed
cast. The others (quantized_po2 and quantized_relu_po2, binary, ternary, quantized_relu with a negative slope or an
upper bound that it applies, quantized_sigmoid, hard_sigmoid) are functions of each value alone. l1ad evaluates each
one exactly, in rational arithmetic, as QKeras defines it (its formula without the float32 rounding of its
arithmetic), on every value its input can take: the reference reads the table, the firmware holds it (hls4ml's
UnaryLUT, indexed by the input's bits) and the RTL trace looks it up (da4ml's lookup). An input wider than
:data:`TABLE_MAX_BITS` would make a table too large for a trigger and is refused, naming the layer.

A spec is a small JSON-able dict (the quantizer's name and numbers), saved in the model graph, so that the stages
after conversion need neither TensorFlow nor QKeras.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import numpy as np

TABLE_MAX_BITS = 12  # 4,096 entries: a ROM of a few LUTs per output bit and value on the FPGA
STOCHASTIC = "uses stochastic rounding, which draws random numbers: it is not reproducible on chip"


def _f32(value) -> Fraction:
    """A Python float as QKeras' float32 tensors hold it (a constant compared with or multiplied by a float32)."""
    return Fraction(float(np.float32(value)))


EPSILON = _f32(1e-7)  # Keras' epsilon: QKeras' po2 quantizers send |x| below it to the smallest exponent


def spec_of(quantizer) -> dict | None:
    """The exact function of a QKeras activation quantizer, or None for a plain fixed-point one; raises ValueError
    (with the reason) for a setting that cannot be exact on chip."""
    name = type(quantizer).__name__ if not callable(quantizer) or hasattr(quantizer, "get_config") \
        else getattr(quantizer, "__name__", "")
    config = quantizer.get_config() if hasattr(quantizer, "get_config") else {}
    if config.get("use_stochastic_rounding"):
        raise ValueError(f"{name} {STOCHASTIC}")
    if float(config.get("qnoise_factor", 1.0)) != 1.0:
        raise ValueError(f"{name}(qnoise_factor={config['qnoise_factor']}) mixes the unquantized value into its "
                         "output: use qnoise_factor=1")
    make = _SPECS.get(name)
    if make is None:
        return None
    return make(quantizer, config)


def _relu_spec(quantizer, config) -> dict | None:
    slope = float(config.get("negative_slope") or 0.0)
    upper = config.get("relu_upper_bound")
    applies_upper = upper is not None and not getattr(quantizer, "is_quantized_clip", True)
    if config.get("use_sigmoid"):
        raise ValueError("quantized_relu(use_sigmoid=1) is not supported: use the plain quantized_relu")
    if slope == 0.0 and not applies_upper:
        return None  # plain: QKeras ignores relu_upper_bound unless is_quantized_clip=False
    return {"name": "quantized_relu", "bits": int(config["bits"]), "integer": int(config["integer"]),
            "slope": slope, "upper": float(upper) if applies_upper else None}


def _sigmoid_spec(quantizer, config) -> dict:
    from qkeras import quantizers

    if config.get("use_real_sigmoid") or quantizers._sigmoid is not quantizers.hard_sigmoid:
        raise ValueError("quantized_sigmoid with a real or smooth sigmoid is not exact in fixed point: use the hard "
                         "sigmoid (use_real_sigmoid=False, QKeras' default internal sigmoid)")
    return {"name": "quantized_sigmoid", "bits": int(config["bits"]), "symmetric": bool(config.get("symmetric"))}


def _po2_spec(quantizer, config) -> dict:
    name = type(quantizer).__name__
    if config.get("quadratic_approximation") or config.get("log2_rounding", "rnd") != "rnd":
        raise ValueError(f"{name} with quadratic_approximation or log2_rounding='floor' rounds at exact powers of "
                         "two through float32 logarithms, which is not reproducible: use the default rounding")
    max_value = config.get("max_value")
    return {"name": name, "min_exp": int(quantizer._min_exp), "max_exp": int(quantizer._max_exp),
            "max_value": None if max_value is None else float(max_value),
            "slope": float(config.get("negative_slope") or 0.0)}


def _scale(name: str, alpha) -> float:
    if isinstance(alpha, str):
        raise ValueError(f"{name}(alpha={alpha!r}) scales by statistics of each batch of activations, which the "
                         "firmware cannot know: use alpha=None or a number")
    return 1.0 if alpha is None else float(alpha)


def _binary_spec(quantizer, config) -> dict:
    return {"name": "binary", "scale": _scale("binary", config.get("alpha")), "use_01": bool(config.get("use_01"))}


def _ternary_spec(quantizer, config) -> dict:
    threshold = config.get("threshold")
    if isinstance(threshold, str):
        raise ValueError("ternary(threshold='auto') depends on each batch: give a number")
    return {"name": "ternary", "scale": _scale("ternary", config.get("alpha")),
            "threshold": 0.33 if threshold is None else float(threshold)}


_SPECS: dict[str, Callable] = {
    "quantized_relu": _relu_spec, "quantized_sigmoid": _sigmoid_spec, "quantized_po2": _po2_spec,
    "quantized_relu_po2": _po2_spec, "binary": _binary_spec, "ternary": _ternary_spec,
    "hard_sigmoid": lambda quantizer, config: {"name": "hard_sigmoid"},
}
# what the refusal of an unsupported activation lists
SUMMARY = ("quantized_po2, quantized_relu_po2, binary, ternary, quantized_sigmoid and hard_sigmoid (hard), "
           "quantized_relu with a power-of-two negative_slope or an applied relu_upper_bound: exact tables of every "
           f"input value (input at most {TABLE_MAX_BITS} bits wide)")


# --- the functions, in exact rational arithmetic -----------------------------------------------------------

def _round(x: Fraction) -> int:
    return round(x)  # Python rounds a Fraction half to even, as tf.round does


def _clip(x, low, high):
    return min(max(x, low), high)


def _relu(spec: dict, x: Fraction) -> Fraction:
    """QKeras quantized_relu: round(x / lsb) * lsb in [0, 2^integer - lsb], plus for x < 0 with a negative slope s
    round(s x / lsb) * lsb in [-s 2^integer, 0]; then the upper bound, where QKeras applies it."""
    slope = Fraction(spec["slope"])
    magnitude = Fraction(2) ** spec["integer"]
    lsb = magnitude / 2 ** (spec["bits"] - (slope != 0))
    out = _clip(_round(x / lsb) * lsb, 0, magnitude - lsb)
    if slope:
        out += _clip(_round(slope * x / lsb) * lsb, -slope * magnitude, 0)
    if spec["upper"] is not None:
        out = min(out, _f32(spec["upper"]))
    return out


def _sigmoid(spec: dict, x: Fraction) -> Fraction:
    """quantized_sigmoid: the hard sigmoid clip(x / 2 + 1 / 2, 0, 1) rounded to bits fractional bits, in
    [symmetric * lsb, 1 - lsb]."""
    m = 2 ** spec["bits"]
    p = _clip(x / 2 + Fraction(1, 2), 0, 1)
    return _clip(Fraction(_round(p * m), m), Fraction(int(spec["symmetric"]), m), 1 - Fraction(1, m))


def _exponent(spec: dict, a: Fraction) -> int:
    """The power of two QKeras' po2 quantizers give |x| = a: round(log2 a) (never a tie: the boundaries 2^(k+1/2) are
    irrational), clipped to the exponent range; a below Keras' epsilon takes the smallest exponent."""
    if a < EPSILON:
        return spec["min_exp"]
    if spec["max_value"] is not None:
        a = min(a, _f32(spec["max_value"]))
    k = a.numerator.bit_length() - a.denominator.bit_length()  # 2^(k-1) < a < 2^(k+1)
    if a < Fraction(2) ** k:
        k -= 1  # now 2^k <= a < 2^(k+1)
    if a * a >= Fraction(2) ** (2 * k + 1):  # a >= 2^k sqrt(2)
        k += 1
    return _clip(k, spec["min_exp"], spec["max_exp"])


def _po2(spec: dict, x: Fraction) -> Fraction:
    return (1 if x >= 0 else -1) * Fraction(2) ** _exponent(spec, abs(x))


def _relu_po2(spec: dict, x: Fraction) -> Fraction:
    if x >= 0 or spec["slope"] == 0:
        return Fraction(2) ** _exponent(spec, max(x, Fraction(0)))
    return -(Fraction(2) ** _exponent(spec, -x * _f32(spec["slope"])))


def _binary(spec: dict, x: Fraction) -> Fraction:
    sign = 1 if x >= 0 else -1  # QKeras maps sign(0) = 0 to +1
    return _f32(spec["scale"]) * (Fraction(sign + 1, 2) if spec["use_01"] else sign)


def _ternary(spec: dict, x: Fraction) -> Fraction:
    q = (abs(x) >= _f32(spec["threshold"])) * (1 if x > 0 else -1 if x < 0 else 0)
    return _f32(spec["scale"]) * q


_FUNCTIONS: dict[str, Callable] = {
    "quantized_relu": _relu, "quantized_sigmoid": _sigmoid, "quantized_po2": _po2, "quantized_relu_po2": _relu_po2,
    "binary": _binary, "ternary": _ternary, "hard_sigmoid": lambda spec, x: _clip(x / 2 + Fraction(1, 2), 0, 1),
}


def function(spec: dict) -> Callable[[Fraction], Fraction]:
    """The exact function of a spec: one value (a Fraction) to one value."""
    return lambda x: _FUNCTIONS[spec["name"]](spec, x)


def frac_of(values) -> int:
    """Fractional bits that hold every value (Fractions with power-of-two denominators) exactly."""
    return max((v.denominator.bit_length() - 1 for v in values), default=0)


def evaluate(spec: dict, num: np.ndarray, frac: int) -> tuple[np.ndarray, int]:
    """The function on integers ``num`` at scale 2^-``frac``: (integers, their fractional bits), each distinct input
    value computed once."""
    flat = np.asarray(num).ravel()
    values, index = np.unique(flat, return_inverse=True)
    f = function(spec)
    outputs = [f(Fraction(int(v), 2**frac) if frac >= 0 else Fraction(int(v) * 2**-frac)) for v in values]
    out_frac = frac_of(outputs)
    scaled = [int(v * 2**out_frac) for v in outputs]
    wide = any(abs(v) >= 2**62 for v in scaled)
    table = np.array(scaled, dtype=object if wide else np.int64)
    return table[index].reshape(np.shape(num)), out_frac

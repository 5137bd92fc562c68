"""Exact evaluation of a QKeras model: the reference the firmware must match bit for bit.

Keras evaluates in float32, which rounds wide accumulators (a 16-term sum of 14-fractional-bit
squares needs more than float32's 24-bit mantissa), so Keras' own output is not a valid reference.
Here every layer is evaluated in float64, where all values of these fixed-point networks are exact
(each stays far below 53 significant bits; :func:`evaluate` checks it), and every quantizer is
applied with the numpy fixed-point quantizer of the ``quantizers`` package (round half to even,
saturate), which is QKeras' arithmetic without its float32 rounding.

For each Keras layer the result holds ``pre`` (the exact value before the layer's own rounding)
and ``out`` (the value the layer passes on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from quantizers import get_fixed_quantizer_np

_ROUND_SAT = get_fixed_quantizer_np("RND_CONV", "SAT")
MANTISSA_BITS = 53


@dataclass(frozen=True)
class FixedType:
    """k sign bit (0/1), i integer bits (sign excluded), f fractional bits; QKeras rounding and clipping."""

    k: int
    i: int
    f: int

    @property
    def lsb(self) -> float:
        return 2.0**-self.f

    @property
    def max(self) -> float:
        return 2.0**self.i - self.lsb

    @property
    def min(self) -> float:
        return -(2.0**self.i) if self.k else 0.0

    def quantize(self, x: np.ndarray) -> np.ndarray:
        return _ROUND_SAT(np.asarray(x, dtype=np.float64), self.k, self.i, self.f)


def quantizer_type(quantizer) -> tuple[FixedType, callable]:
    """The fixed-point type of a QKeras quantizer and the exact function applied before rounding."""
    name = type(quantizer).__name__
    config = quantizer.get_config()
    if name == "quantized_bits":
        if config.get("alpha") not in (1, 1.0) or config.get("symmetric"):
            raise ValueError(f"unsupported quantized_bits settings {config}: use alpha=1, symmetric=False")
        k = int(bool(config["keep_negative"]))
        return FixedType(k, int(config["integer"]), int(config["bits"]) - int(config["integer"]) - k), lambda x: x
    if name == "quantized_relu":
        if config.get("negative_slope") or config.get("use_sigmoid") or config.get("relu_upper_bound"):
            raise ValueError(f"unsupported quantized_relu settings {config}")
        # relu first: clipping at zero is the activation, not a saturation of the type
        return FixedType(0, int(config["integer"]), int(config["bits"]) - int(config["integer"])), _relu
    if name == "quantized_tanh":
        if config.get("use_real_tanh") or config.get("symmetric"):
            raise ValueError(f"unsupported quantized_tanh settings {config}: use the hard tanh")
        # QKeras: 2 * hard_sigmoid(x) - 1 = clip(x, -1, 1), then bits-1 fractional bits
        return FixedType(1, 0, int(config["bits"]) - 1), lambda x: np.clip(x, -1.0, 1.0)
    raise ValueError(f"quantizer {name} is not supported by the exact reference")


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _weights(layer) -> list[np.ndarray]:
    """A dense layer's kernel and bias after its quantizers, as float64."""
    weights = layer.get_weights()
    quantizers = getattr(layer, "quantizers", None)
    if not quantizers:
        return [np.asarray(w, dtype=np.float64) for w in weights]
    out = []
    for w, q in zip(weights, quantizers):
        out.append(np.asarray(w, dtype=np.float64) if q is None else quantizer_type(q)[0].quantize(w))
    return out


def _inbound(layer) -> list[str]:
    node = layer._inbound_nodes[0]
    inbound = node.inbound_layers
    return [l.name for l in (inbound if isinstance(inbound, list) else [inbound])]


def _check_exact(layer: str, bound: np.ndarray, frac: int) -> None:
    """Every partial result below ``bound`` with ``frac`` fractional bits is exact in float64."""
    top = float(np.max(bound, initial=0.0)) * 2.0**frac
    if top >= 2.0**MANTISSA_BITS:
        raise ValueError(f"layer {layer}: values need more than float64's {MANTISSA_BITS} bits; "
                         "the exact reference cannot represent them")


def _frac_bits(w: np.ndarray) -> int:
    """Fractional bits needed to represent every value of ``w`` exactly (w is fixed-point)."""
    w = np.asarray(w, dtype=np.float64)
    for f in range(0, 40):
        if np.all(w * 2.0**f == np.round(w * 2.0**f)):
            return f
    raise ValueError("weights are not fixed-point values")


def evaluate(model, x: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Exact per-layer values of a QKeras functional model for inputs ``x``."""
    values: dict[str, dict[str, np.ndarray]] = {}
    fracs: dict[str, int | None] = {}  # fractional bits of each layer's output; None for raw floats
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            values[layer.name] = {"pre": x.astype(np.float64), "out": x.astype(np.float64)}
            fracs[layer.name] = None
            continue
        names = _inbound(layer)
        inputs = [values[n]["out"] for n in names]
        if kind != "QActivation" and any(fracs[n] is None for n in names):
            raise ValueError(f"layer {layer.name} reads raw float inputs; bit-exact firmware needs a quantizer "
                             "right after the input")
        if kind in ("QDense", "Dense"):
            if getattr(layer, "activation", None) is not None and layer.activation.__name__ != "linear":
                raise ValueError(f"layer {layer.name}: give activations their own (Q)Activation layer")
            kernel, *bias = _weights(layer)
            bias = bias[0] if bias else np.zeros(kernel.shape[1])
            frac = fracs[names[0]] + max(_frac_bits(kernel), _frac_bits(bias))
            _check_exact(layer.name, np.abs(inputs[0]) @ np.abs(kernel) + np.abs(bias), frac)
            pre = out = inputs[0] @ kernel + bias
        elif kind == "QActivation":
            fixed, before = quantizer_type(layer.quantizer)
            pre = before(inputs[0])
            out, frac = fixed.quantize(pre), fixed.f
        elif kind == "Activation" and layer.get_config()["activation"] == "linear":
            pre = out = inputs[0]
            frac = fracs[names[0]]
        elif kind in ("Subtract", "Multiply"):
            pre = out = inputs[0] - inputs[1] if kind == "Subtract" else inputs[0] * inputs[1]
            frac = max(fracs[n] for n in names) if kind == "Subtract" else sum(fracs[n] for n in names)
            _check_exact(layer.name, np.abs(out), frac)
        else:
            raise ValueError(f"layer {layer.name} ({kind}) is not supported by the exact reference")
        values[layer.name] = {"pre": pre, "out": out}
        fracs[layer.name] = frac
    return values


def outputs(model, x: np.ndarray) -> list[np.ndarray]:
    """The model's outputs, exactly, in the model's output order."""
    values = evaluate(model, x)
    return [values[name]["out"] for name in model.output_names]

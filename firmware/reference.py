"""Exact evaluation of a QKeras model: the reference the firmware must match bit for bit.

Keras evaluates in float32, which rounds wide accumulators (a 16-term sum of 14-fractional-bit
squares needs more than float32's 24-bit mantissa), so Keras' own output is not a valid reference.
Here every layer is evaluated in float64, where all values of these fixed-point networks are exact
(each stays below 2^53 LSBs; the layer rules check it), and every quantizer is applied with the numpy
fixed-point quantizer of the ``quantizers`` package (round half to even, saturate), which is QKeras'
arithmetic without its float32 rounding. The layer rules live in :mod:`.layers`.
"""

from __future__ import annotations

import numpy as np

from .layers import Value, check_model, input_names, output_names, walk

CHUNK = 200_000  # events per evaluation step: bounds memory on millions of events


def _as_inputs(model, x) -> list[np.ndarray]:
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    names = input_names(model)
    if len(xs) != len(names):
        raise ValueError(f"the model has {len(names)} inputs ({names}), got {len(xs)} arrays")
    out = []
    for name, tensor, array in zip(names, model.inputs, xs):
        array = np.asarray(array, dtype=np.float64)
        width = tensor.shape[-1]
        if array.ndim != 2 or array.shape[1] != width:
            raise ValueError(f"input {name}: expected shape (n, {width}), got {array.shape}")
        out.append(array)
    return out


def evaluate(model, x) -> dict[str, Value]:
    """Exact values of every layer for inputs ``x`` (an array, or a list for several inputs)."""
    check_model(model)
    feed = {name: Value(a, a, None) for name, a in zip(input_names(model), _as_inputs(model, x))}
    return walk(model, feed, lambda rule, layer, values, names: rule.exact(layer, values))


def chunks(model, x, size: int = CHUNK):
    """(start, values) of successive slices of the events: the exact evaluation of millions of jets."""
    xs = _as_inputs(model, x)
    n = len(xs[0])
    for start in range(0, max(n, 1), size):
        yield start, evaluate(model, [a[start:start + size] for a in xs])


def outputs(model, x) -> list[np.ndarray]:
    """The model's outputs, exactly, in the model's output order."""
    names = output_names(model)
    parts = [[values[name].out for name in names] for _, values in chunks(model, x)]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(names))]

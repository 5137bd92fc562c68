"""Exact evaluation of a QKeras model: the reference the firmware must match bit for bit.

Keras evaluates in float32, which rounds wide accumulators (a 16-term sum of 14-fractional-bit
squares needs more than float32's 24-bit mantissa), so Keras' own output is not a valid reference.
Here every node of the model's graph (:mod:`.graph`) is evaluated in integers: each value is an integer times
2^-f, f the node's fractional bits, in numpy int64 where the node's type fits and in Python integers beyond, so
no width is too wide. Every quantizer rounds half to even and saturates, in integers, as QKeras does without its
float32 rounding. Each kind computes itself (:mod:`.kinds`).
"""

from __future__ import annotations

import numpy as np

from .graph import Graph
from .reader import as_graph
from .fixed import Value, concatenate

CHUNK = 200_000  # events per evaluation step: bounds memory on millions of events


def _as_inputs(graph: Graph, x) -> list[np.ndarray]:
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(xs) != len(graph.inputs):
        raise ValueError(f"the model has {len(graph.inputs)} inputs ({graph.inputs}), got {len(xs)} arrays")
    out = []
    for name, array in zip(graph.inputs, xs):  # (n, *shape), or flat (n, width) as the firmware takes them
        array = np.asarray(array, dtype=np.float64)
        shape = graph[name].shape
        if array.shape[1:] != shape and (array.ndim != 2 or array.shape[1] != graph[name].width):
            raise ValueError(f"input {name}: expected shape (n, {', '.join(map(str, shape))}) or (n, "
                             f"{graph[name].width}), got {array.shape}")
        out.append(array.reshape(len(array), *shape))
    return out


def evaluate(model, x, only: set[str] | None = None) -> dict[str, Value]:
    """Exact values of every node (or of the nodes ``only``, fed by the inputs) for inputs ``x`` (an array, or a
    list for several inputs); ``model`` is a :class:`.graph.Graph` or a Keras model."""
    graph = as_graph(model)
    feed = {name: Value(a, None) for name, a in zip(graph.inputs, _as_inputs(graph, x))}
    return graph.walk(feed, lambda node, values: node.exact(values), only=only)


def chunks(model, x, size: int = CHUNK):
    """(start, values) of successive slices of the events: the exact evaluation of millions of jets."""
    graph = as_graph(model)
    xs = _as_inputs(graph, x)
    n = len(xs[0])
    for start in range(0, max(n, 1), size):
        yield start, evaluate(graph, [a[start:start + size] for a in xs])


def exact_outputs(model, x) -> list[Value]:
    """The model's outputs as exact integers (:class:`.layers.Value`), in the model's output order."""
    graph = as_graph(model)
    parts = [[values[name] for name in graph.outputs] for _, values in chunks(graph, x)]
    return [concatenate([p[i] for p in parts]) for i in range(len(graph.outputs))]


def outputs(model, x) -> list[np.ndarray]:
    """The model's outputs as float64 (exact up to 53 significant bits), in the model's output order."""
    return [value.out for value in exact_outputs(model, x)]

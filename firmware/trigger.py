"""The trigger head: ``trigger = quantized_relu(1, 1)(relu(c) - relu(c - 1))`` with ``c = 2^F (score - threshold)``,
F the score's fractional bits, appended to a model's graph.

c is an integer, so the head gives exactly 1 when score > threshold and 0 otherwise, in the reference and in the
firmware alike, from standard layers only (two Dense layers and two quantizers, as QKeras would compute them). The
threshold is a constant of the firmware (rounded down onto the score's grid, so the decision is unchanged), or a
second input of the top function of the score's type (``threshold="input"``), so a trigger menu can change it
without new firmware.
"""

from __future__ import annotations

import copy

import numpy as np

from .fixed import Fixed, UnsupportedModel
from .graph import Graph
from .kinds import KINDS
from .passes import prepare
from .reader import as_graph

TRIGGER = "trigger"


def score_type(graph: Graph, score: str) -> Fixed:
    """The score's fixed-point type: the quantizer of the QActivation that produces it."""
    node = graph[score]
    if node.kind != "quantizer":
        raise UnsupportedModel(f"score output {score!r} is a {node.source}: end the score in a QActivation (e.g. "
                               "quantized_relu(16, 8)); its quantizer is the score's type")
    return node.fixed


def with_trigger(model, score: str, threshold: float | str | None) -> Graph:
    """The graph of ``model`` (a Keras model or a graph, left unchanged) with a trigger bit as last output:
    score > threshold. ``threshold``: a number, "input" (a second input named ``threshold``, of the score's type),
    or None (no trigger: the graph as it is)."""
    graph = copy.deepcopy(as_graph(model))
    if threshold is None:
        return graph
    fixed = score_type(graph, score)
    frac, bits = fixed.f, fixed.width
    if frac < 0:
        raise UnsupportedModel(f"score {score!r} has no fractional bits ({fixed.short()}); the trigger head needs f >= 0")
    node = lambda kind, name, inputs, shape, **more: KINDS[kind](  # noqa: E731
        name=name, inputs=inputs, shape=shape, source="trigger head", trainable=False, **more)
    nodes = list(graph)
    if threshold == "input":
        nodes += [node("input", "threshold", (), (1,)),
                  node("quantizer", "threshold_q", ("threshold",), (1,), fixed=Fixed.quantizer(fixed.k, fixed.i, frac)),
                  node("subtract", "trigger_diff", (score, "threshold_q"), (1,))]
        diff, offset = "trigger_diff", 0.0
    else:  # s > t  <=>  2^F s > floor(2^F t) for scores s on the 2^-F grid; t clipped to the score's range
        t = min(max(float(threshold), fixed.min - fixed.lsb), fixed.max)
        diff, offset = score, -np.floor(t * 2.0**frac)
    scale = 2.0**frac
    # c = 2^F (score - threshold) is an integer with |c| < 2^(bits + 1); one fractional bit of the ramp keeps the
    # trigger's type saturating (as the QKeras head had it)
    nodes += [node("dense", "trigger_cut", (diff,), (2,), kernel=np.array([[scale, scale]]),
                   bias=np.array([offset, offset - 1])),
              node("quantizer", "trigger_ramp", ("trigger_cut",), (2,), fixed=Fixed.quantizer(0, bits + 2, 1),
                   before="relu"),
              node("dense", "trigger_step", ("trigger_ramp",), (1,), kernel=np.array([[1.0], [-1.0]]),
                   bias=np.zeros(1)),
              node("quantizer", TRIGGER, ("trigger_step",), (1,), fixed=Fixed.quantizer(0, 1, 0), before="relu")]
    inputs = graph.inputs + (["threshold"] if threshold == "input" else [])
    return prepare(Graph(f"{graph.name}_trigger", nodes, inputs, graph.outputs + [TRIGGER]))

"""Named passes over a model graph, called in order by :func:`prepare` once the graph is read from Keras.

1. :func:`find_input_quantizers`: the quantizer right after each input, whose type the FPGA receives;
2. :func:`check_input_width`: the inputs fit the open RTL flow's simulator;
3. :func:`infer_types`: every node's value bounds and type (a quantizer's, or the exact type of its arithmetic);
4. :func:`widen_for_rounding`: exact types widened where ap_fixed must read a rounding bit above them;
5. :func:`check_tables`: tables indexed by at most :data:`.tables.TABLE_MAX_BITS` bits, of entries da4ml holds;
6. :func:`check_constants`: constant values da4ml can hold exactly.

Each pass changes the graph in place or refuses it (UnsupportedModel, naming the layer); :func:`assign_parts` is
called by the RTL breakdown, not by :func:`prepare`.
"""

from __future__ import annotations

import numpy as np

from .fixed import Bounds, Fixed, UnsupportedModel, Value, exact_type, rounding_reach
from .graph import Graph
from .tables import TABLE_MAX_BITS

SIMULATED_INPUT_BITS = 32  # da4ml's Verilator harness: every input value, padded to the largest k, i and f, in 32 bits
CONSTANT_FRAC_BITS, CONSTANT_SIGNIFICANT_BITS = 32, 53  # what da4ml 0.5.2 holds of a constant (its float, 2^-32)


def prepare(graph: Graph) -> Graph:
    """The passes, in order: the graph typed and checked."""
    for step in (find_input_quantizers, check_input_width, infer_types, widen_for_rounding, check_tables,
                 check_constants):
        step(graph)
    return graph


def find_input_quantizers(graph: Graph) -> None:
    """For each model input, the plain quantizer right after it (through reshapes): the type the FPGA receives."""
    for name in graph.inputs:
        consumers = graph.consumers(name)
        while len(consumers) == 1 and consumers[0].kind == "reshape":
            consumers = graph.consumers(consumers[0].name)
        if len(consumers) != 1 or consumers[0].kind != "quantizer":
            raise UnsupportedModel(f"input {name}: bit-exact firmware needs exactly one QActivation with a plain "
                                   "fixed-point quantizer (e.g. quantized_bits) right after each input; it sets the "
                                   "type the FPGA receives (l1ad import states one for you: --input-type)")
        graph.input_quantizers[name] = consumers[0].name


def check_input_width(graph: Graph) -> None:
    """The open RTL flow simulates the inputs side by side in 32-bit words (outputs of any width are read in pieces,
    :func:`.rtl._readable`; inputs cannot be): wider input types are refused before anything is written."""
    types = {name: graph[name].fixed for name in graph.input_quantizers.values()}
    bits = sum(max(getattr(t, field) for t in types.values()) for field in ("k", "i", "f"))
    if bits > SIMULATED_INPUT_BITS:
        named = ", ".join(f"{name} ({t.short()})" for name, t in types.items())
        raise UnsupportedModel(f"input quantizer{'s' if len(types) > 1 else ''} {named}: the open RTL flow simulates "
                               f"the inputs padded to their largest sign, integer and fractional bits, {bits} bits "
                               f"here, at most {SIMULATED_INPUT_BITS} (da4ml's Verilator harness): narrow the input "
                               "type")


def infer_types(graph: Graph) -> None:
    """Each node's bounds (interval arithmetic from the input quantizers' types forward) and type: a quantizer's
    own, or the exact type of its arithmetic; an input has its quantizer's type (the input conversion rounds)."""
    bounds: dict[str, Bounds | None] = {}
    for node in graph.operations():
        bounds[node.name] = node.bounds([bounds.get(name) for name in node.inputs])
        if node.quantizes:
            node.result = node.fixed
        elif node.moves and graph[node.inputs[0]].result is not None:
            node.result = graph[node.inputs[0]].result
        elif bounds[node.name] is not None:  # None: a reshape of a raw input, before its quantizer
            node.result = exact_type(node.name, bounds[node.name])
    for name, quantizer in graph.input_quantizers.items():
        graph[name].result = graph[quantizer].result
    graph.bounds = bounds


def widen_for_rounding(graph: Graph) -> None:
    """ap_fixed rounds a value to a coarser type by reading the bit below the new LSB; when the value's type has no
    such bit (its integer bits, sign included, fewer than minus the new type's fractional bits) ap_types fails an
    assertion ("Attempting to read bit beyond MSB") and the C simulation aborts. An exact result type is widened to
    reach it (its values are unchanged); a quantizer's or an input's own type cannot be: the converter puts a wider
    copy before the rounding."""
    for node in graph.operations():
        if node.kind != "quantizer" or node.name in graph.input_quantizers.values():
            continue
        source = graph[node.inputs[0]]
        short = rounding_reach(source.result, node.result)
        if short and not source.quantizes and source.kind != "input":
            source.result = Fixed(source.result.k, source.result.i + short, source.result.f)


TABLE_ENTRY_BITS = 32  # da4ml 0.5.2 holds a lookup table's entries as int32 (trace.fixed_variable.to_spec)


def check_tables(graph: Graph) -> None:
    """A table is indexed by every bit of its input's type (hls4ml's UnaryLUT): at most TABLE_MAX_BITS of them; its
    entries, in the open RTL flow, are da4ml's 32-bit integers: a table whose values need more is refused (found by
    the differential benchmark: quantized_relu_po2 with 6 bits spans 2^-32 to 2^31)."""
    for node in graph.operations():
        if node.kind != "table":
            continue
        source, out = graph[node.inputs[0]].result, node.result
        if source.width > TABLE_MAX_BITS:
            raise node.too_wide(source)
        if out.width > TABLE_ENTRY_BITS - (not out.k):
            raise UnsupportedModel(f"layer {node.name}: {node.spec['name']}'s values need {out.width} bits "
                                   f"({out.short()}); the open RTL flow (da4ml 0.5.2) holds a table's entries in "
                                   f"{TABLE_ENTRY_BITS}-bit integers: give it fewer bits (or a smaller max_value)")


def check_constants(graph: Graph) -> None:
    """A layer whose values are constants (every input of the input types gives the same value: a quantizer that
    rounds everything to one value, weights quantized to zero) is held by da4ml, in the open RTL flow, as a constant
    sized from its float value to at most 32 fractional bits: a constant that needs more, or more than 53
    significant bits, would come out of the RTL rounded. Such a layer is refused, naming it (found by the
    differential benchmark: float Dense layers on a constant layer)."""
    constant = {name: b.lo == b.hi for name, b in graph.bounds.items() if b is not None and np.any(b.lo == b.hi)}
    if not constant:
        return
    feed = {name: Value(np.zeros((1, *graph[name].shape)), None) for name in graph.inputs}
    values = graph.walk(feed, lambda node, x: node.exact(x))
    for name, mask in constant.items():
        value = values[name]
        for n in (int(n) for n in np.asarray(value.num)[0][mask].ravel() if n != 0):
            zeros = (n & -n).bit_length() - 1
            frac, significant = value.frac - zeros, abs(n).bit_length() - zeros
            if frac > CONSTANT_FRAC_BITS or significant > CONSTANT_SIGNIFICANT_BITS:
                raise UnsupportedModel(
                    f"layer {name}: its values are constants (every input gives the same value), one of which needs "
                    f"{frac} fractional and {significant} significant bits; the open RTL flow (da4ml 0.5.2) holds a "
                    f"constant to {CONSTANT_FRAC_BITS} fractional and {CONSTANT_SIGNIFICANT_BITS} significant bits. "
                    "The layer computes nothing: look at the layers before it (weights quantized to zero, a quantizer "
                    "that rounds every value to one)")


# --- parts, for the per-part breakdown -----------------------------------------------------------------------------

def assign_parts(graph: Graph, labels: list[str]) -> dict[str, list[str]]:
    """The graph's nodes by part, from its structure and what its outputs are (``labels``: "score",
    "reconstruction", "trigger", or other names), not from layer names:

    * trigger: what only the trigger output needs;
    * score: from the first merge (a subtraction, a product, a dot product) that only the score needs, to the score
      (the score's own arithmetic; the score's quantizer alone when it has none);
    * encoder and decoder: the rest, split after the narrowest layer every path to the model's other outputs and to
      the score's arithmetic goes through (the bottleneck); "model" when no such layer splits it.
    Input quantizers (the input types) have no logic and no part."""
    by_label = dict(zip(labels, graph.outputs))
    needed = {name: _ancestors(graph, name) | {name} for name in graph.outputs}
    quantizers = set(graph.input_quantizers.values())
    parts: dict[str, set[str]] = {}
    others = set().union(*(needed[n] for label, n in by_label.items() if label not in ("trigger", "score")))
    if "trigger" in by_label:
        rest = set().union(*(needed[n] for label, n in by_label.items() if label != "trigger"))
        parts["trigger"] = needed[by_label["trigger"]] - rest
    if "score" in by_label:
        score = by_label["score"]
        own = needed[score] - others
        starts = [n.name for n in graph.operations() if n.name in own and n.kind in ("subtract", "multiply", "dot")]
        head = {score} if not starts else set().union(*(({s} | _descendants(graph, s)) & needed[score]
                                                        for s in starts))
        parts["score"] = head
    done = set().union(*parts.values()) if parts else set()
    model = {n.name for n in graph.operations() if n.name not in done and n.name not in quantizers}
    bottleneck = _bottleneck(graph, model)
    if bottleneck is None:
        parts["model"] = model
    else:
        parts["encoder"] = (_ancestors(graph, bottleneck) | {bottleneck}) & model
        parts["decoder"] = model - parts["encoder"]
    order = ["encoder", "decoder", "score", "model", "trigger"]
    names = [n.name for n in graph.operations()]
    return {p: [n for n in names if n in parts[p]] for p in order if parts.get(p)}


def _ancestors(graph: Graph, name: str) -> set[str]:
    seen, todo = set(), list(graph[name].inputs)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += list(graph[n].inputs)
    return seen


def _descendants(graph: Graph, name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        n = todo.pop()
        for consumer in graph.consumers(n):
            if consumer.name not in seen:
                seen.add(consumer.name)
                todo.append(consumer.name)
    return seen


def _bottleneck(graph: Graph, model: set[str]) -> str | None:
    """The last of the narrowest nodes of ``model`` that every path from the inputs to the part's ends goes through;
    None when the narrowest is an end itself (nothing after it: one part)."""
    ends = [n for n in model if not any(c.name in model for c in graph.consumers(n))]
    if not ends:
        return None
    through = set.intersection(*(_ancestors(graph, e) | {e} for e in ends)) & model
    if not through:
        return None
    order = [n.name for n in graph.operations() if n.name in through]
    narrowest = min(graph[n].width for n in order)
    last = [n for n in order if graph[n].width == narrowest][-1]
    return None if last in ends else last

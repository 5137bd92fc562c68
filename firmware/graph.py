"""A model as one graph: built and checked once from a Keras/QKeras model, read by every consumer.

:meth:`Graph.from_keras` is the only place that walks a Keras model (and its private graph attributes): each
layer becomes a :class:`Node` of a kind of :mod:`.layers`, which reads its constants through the layer's
quantizers and refuses what cannot be made exact, naming the layer. The exact reference (:mod:`.reference`),
the da4ml trace and the per-part breakdown (:mod:`.rtl`), the fixed-point audit and the layer trace
(:mod:`.validate`), the converter (:mod:`.convert`, which records each node's hls4ml counterpart while hls4ml
builds its model) and the report read this graph. It is saved as JSON in the HLS project, so the stages after
conversion need neither TensorFlow nor the model file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .layers import (KINDS, Bounds, FixedType, UnsupportedModel, activation_of, kind_of, passes_through, result_type,
                     split_activation, supported_layers)

GRAPH_JSON = "l1ad_graph.json"


@dataclass
class Node:
    """One operation: ``kind`` (a key of :data:`.layers.KINDS`) on the values of ``inputs``."""

    name: str  # the Keras layer's name, which hls4ml keeps
    kind: str
    inputs: tuple[str, ...]
    width: int  # values per event (flat tensors)
    source: str  # the Keras class it was built from, for messages
    constants: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. kernel, bias: exact fixed-point values
    constant_types: dict[str, FixedType] = field(default_factory=dict)  # the quantizers' types of the constants
    quantizer: FixedType | None = None  # quantizer nodes: the type QKeras rounds (half to even) and saturates to
    before: str | None = None  # quantizer nodes: what QKeras applies before rounding (relu, hard_tanh)
    trainable: bool = True  # False for frozen constants (a score's mean, the trigger head)
    table: dict | None = None  # table nodes: the exact function of each value (:mod:`.tables`)
    # the type of the node's values, set by the graph: a quantizer's type (rounding half to even, saturating), or the
    # exact type of the node's arithmetic (wide enough that it never rounds or wraps); the converter writes it into
    # the firmware, and the reference computes these values
    result: FixedType | None = None

    @property
    def modes(self) -> str:
        """The ap_fixed rounding and overflow modes of the node's type."""
        return f"RND_CONV,{self.result.saturation}" if self.kind in ("quantizer", "input") else "TRN,WRAP"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "inputs": list(self.inputs), "width": self.width,
                "source": self.source, "constants": {k: v.tolist() for k, v in self.constants.items()},
                "constant_types": {k: _type_list(t) for k, t in self.constant_types.items()},
                "quantizer": _type_list(self.quantizer), "before": self.before, "trainable": self.trainable,
                "table": self.table}

    @classmethod
    def from_dict(cls, doc: dict) -> "Node":
        return cls(doc["name"], doc["kind"], tuple(doc["inputs"]), doc["width"], doc["source"],
                   {k: np.asarray(v, dtype=np.float64) for k, v in doc["constants"].items()},
                   {k: FixedType(*t) for k, t in doc["constant_types"].items()},
                   None if doc["quantizer"] is None else FixedType(*doc["quantizer"]), doc["before"],
                   doc["trainable"], doc.get("table"))


def _type_list(fixed: FixedType | None) -> list[int] | None:
    return None if fixed is None else [fixed.k, fixed.i, fixed.f] + ([True] if fixed.sym else [])


class Graph:
    """Nodes in an order where each follows its inputs; the model's inputs are nodes of kind ``input``."""

    def __init__(self, name: str, nodes: list[Node], inputs: list[str], outputs: list[str]):
        self.name, self.inputs, self.outputs = name, list(inputs), list(outputs)
        self.nodes = {node.name: node for node in nodes}
        self.input_quantizers = _input_quantizers(self)
        _check_input_width(self)
        self.bounds = _infer_types(self)
        _check_constants(self)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def __iter__(self):
        return iter(self.nodes.values())

    def operations(self) -> list[Node]:
        """Every node but the model's inputs, in order."""
        return [node for node in self if node.kind != "input"]

    def consumers(self, name: str) -> list[Node]:
        return [node for node in self if name in node.inputs]

    def walk(self, feed: dict[str, object], step: Callable, only: set[str] | None = None) -> dict[str, object]:
        """Values of every node (or of ``only``, fed at their boundary): ``feed`` maps names to values,
        ``step(node, inputs)`` computes a node from its inputs' values."""
        values = dict(feed)
        for node in self.operations():
            if only is None or node.name in only:
                values[node.name] = step(node, [values[n] for n in node.inputs])
        return values

    # --- files ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, "inputs": self.inputs, "outputs": self.outputs,
                "nodes": [node.to_dict() for node in self]}

    def save(self, path: str | Path) -> Path:
        from l1ad.common.files import write_json

        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Graph":
        doc = json.loads(Path(path).read_text())
        return cls(doc["name"], [Node.from_dict(n) for n in doc["nodes"]], doc["inputs"], doc["outputs"])

    # --- from Keras ----------------------------------------------------------------------------------------
    @classmethod
    def from_keras(cls, model) -> "Graph":
        """The graph of a Keras functional or Sequential model; UnsupportedModel names the first layer that no
        kind of :mod:`.layers` accepts."""
        if type(model).__name__ not in ("Functional", "Model", "Sequential"):
            raise UnsupportedModel(f"{type(model).__name__}: give a Keras functional or Sequential model")
        inputs = [t._keras_history.layer.name for t in model.inputs]
        nodes = [Node(name, "input", (), int(np.prod(t.shape[1:])), "InputLayer") for name, t in zip(inputs, model.inputs)]
        aliases: dict[str, str] = {}  # a skipped layer's name -> the node whose values it passes on
        for layer in _ordered_layers(model, inputs):
            if passes_through(layer):
                source = _inbound(layer)[0]
                aliases[layer.name] = aliases.get(source, source)
                continue
            node = _node(layer, model)
            node.inputs = tuple(aliases.get(name, name) for name in node.inputs)
            nodes.append(node)
            activation = _activation_node(layer, node)
            if activation is not None:  # its consumers read the activation's values
                nodes.append(activation)
                aliases[layer.name] = activation.name
        outputs = [aliases.get(t._keras_history.layer.name, t._keras_history.layer.name) for t in model.outputs]
        return cls(model.name, nodes, inputs, outputs)


DEFAULT_INPUT_TYPE = "ap_fixed<16,6>"  # for a model without input quantizer: hls4ml's default precision


def inputs_without_quantizer(model) -> list[str]:
    """The model's inputs that are not followed by exactly one QActivation (the type the FPGA receives)."""
    inputs = [t._keras_history.layer.name for t in model.inputs]
    consumers = {name: [layer for layer in model.layers if type(layer).__name__ != "InputLayer"
                        and name in _inbound(layer)] for name in inputs}
    return [name for name in inputs if len(consumers[name]) != 1 or not _plain_quantizer(consumers[name][0])]


def _plain_quantizer(layer) -> bool:
    """A QActivation whose quantizer is one fixed-point cast (a type the FPGA can receive), not a table."""
    if type(layer).__name__ != "QActivation":
        return False
    try:
        return activation_of(layer.quantizer, layer.name)[0] == "quantizer"
    except UnsupportedModel:
        return True  # refused with its reason when the graph is built


def with_input_type(model, fixed: FixedType):
    """A copy of ``model`` with a QActivation(quantized_bits of ``fixed``), named INPUT_type, right after each input
    that has no quantizer: the type the FPGA receives, stated as hls4ml lets a user state it, and the rounding (half
    to even) and saturation QKeras then applies to the inputs. The other layers are rebuilt from their configs with
    the model's weights; the model itself is unchanged."""
    from qkeras import QActivation, quantized_bits
    from tensorflow import keras

    bare = set(inputs_without_quantizer(model))
    tensors, new_inputs = {}, []
    for t in model.inputs:
        name = t._keras_history.layer.name
        new_inputs.append(keras.Input(t.shape[1:], name=name, dtype=t.dtype))
        tensors[name] = new_inputs[-1]
        if name in bare:
            quantizer = quantized_bits(fixed.width, fixed.i, keep_negative=bool(fixed.k), alpha=1)
            tensors[name] = QActivation(quantizer, name=f"{name}_type")(new_inputs[-1])
    for layer in _ordered_layers(model, list(tensors)):
        copy = type(layer).from_config(layer.get_config())
        sources = [tensors[name] for name in _inbound(layer)]
        tensors[layer.name] = copy(sources if len(sources) > 1 else sources[0])
        copy.set_weights(layer.get_weights())
    return keras.Model(new_inputs, [tensors[t._keras_history.layer.name] for t in model.outputs], name=model.name)


def float_batchnorms(model) -> list[str]:
    """The model's Keras BatchNormalization layers (float parameters; QBatchNormalization has its quantizers)."""
    return [layer.name for layer in model.layers if type(layer).__name__ == "BatchNormalization"]


def with_batchnorm_type(model, fixed: FixedType):
    """A copy of ``model`` whose float BatchNormalization layers compute x * scale + bias with the folded scale and
    bias rounded (half to even, saturating) to ``fixed``, as hls4ml gives BN's scale and bias a fixed-point type
    (its default ap_fixed<16,6>) instead of Keras' float32 values, whose exact products make wide datapaths. Each
    stays a BatchNormalization: gamma = the rounded scale, beta = the rounded bias, mean 0, variance 1, epsilon 0,
    so Keras, hls4ml and the exact reference all compute x * scale + bias with the same constants."""
    from tensorflow import keras

    from .layers import batchnorm_constants

    names = set(float_batchnorms(model))

    def clone(layer):
        config = layer.get_config()
        if layer.name in names:
            config.update(epsilon=0.0, center=True, scale=True)
        return type(layer).from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.name in names:
            scale, bias = batchnorm_constants(layer)
            n = scale.shape
            copy.get_layer(layer.name).set_weights([fixed.quantize(scale), fixed.quantize(bias), np.zeros(n),
                                                    np.ones(n)])
        elif layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy


def check_model(model) -> Graph:
    """The model's graph; UnsupportedModel (naming the layer and listing what is supported) if it has none."""
    return Graph.from_keras(model)


def as_graph(model) -> Graph:
    """``model`` if it is a graph already, else the graph of a Keras model."""
    return model if isinstance(model, Graph) else Graph.from_keras(model)


def _inbound(layer) -> list[str]:
    if len(layer._inbound_nodes) != 1:
        raise UnsupportedModel(f"layer {layer.name} is called more than once; shared layers are not supported")
    layers = layer._inbound_nodes[0].inbound_layers
    return [item.name for item in (layers if isinstance(layers, (list, tuple)) else [layers])]


def _ordered_layers(model, inputs: list[str]) -> list:
    done, order = set(inputs), []
    pending = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    while pending:
        ready = [layer for layer in pending if all(n in done for n in _inbound(layer))]
        if not ready:
            raise UnsupportedModel(f"layers {[l.name for l in pending]} are not connected to the model's inputs")
        order += ready
        done.update(layer.name for layer in ready)
        pending = [layer for layer in pending if layer.name not in done]
    return order


# kinds that act on each value alone: any tensor shape is the same as its row-major flattening, which the firmware holds
ELEMENTWISE = ("quantizer", "table", "relu", "leaky_relu")


def _activation_node(layer, node: Node) -> Node | None:
    """A (Q)Dense layer's own activation, split off as hls4ml splits it (see :func:`.layers.split_activation`)."""
    split = split_activation(layer) if node.kind == "dense" else None
    if split is None:
        return None
    name, kind, quantizer = split
    activation = Node(name, kind, (node.name,), node.width, f"{node.source} activation",
                      trainable=node.trainable)
    if kind == "quantizer":
        _, activation.quantizer, activation.before = activation_of(quantizer, layer.name)
    elif kind == "table":
        _, activation.table, _ = activation_of(quantizer, layer.name)
    return activation


def _node(layer, model) -> Node:
    source = type(layer).__name__
    kind = kind_of(layer)
    if kind is None and source == "Reshape":  # name what it feeds: the layer that needs the shape (a convolution)
        feeds = [f"{other.name} ({type(other).__name__})" for other in model.layers
                 if type(other).__name__ != "InputLayer" and layer.name in _inbound(other)]
        source = f"Reshape to {layer.output_shape[1:]}, feeding {', '.join(feeds) or 'nothing'}"
    if kind is None and source == "Activation":
        raise UnsupportedModel(f"layer {layer.name}: Activation({layer.get_config()['activation']!r}) is not "
                               "bit-exact; use a QActivation with a QKeras quantizer (quantized_relu, quantized_bits, "
                               "quantized_tanh, quantized_sigmoid, ...), ReLU or Activation('relu')")
    if kind is None:
        hint = (" l1ad's bit-exact chain takes flat tensors only (Flatten, a Reshape to one axis and elementwise "
                "quantizers before them are fine; convolution, pooling and other reshapes are not supported yet): "
                "flatten the input upstream and use QDense layers." if any(w in source for w in ("Conv", "Pool", "Reshape")) else "")
        raise UnsupportedModel(f"layer {layer.name} ({source}) is not supported.{hint} Supported layers:\n  - "
                               + "\n  - ".join(supported_layers()))
    shape = layer.output_shape
    if not isinstance(shape, tuple) or (len(shape) != 2 and kind not in ELEMENTWISE):
        raise UnsupportedModel(f"layer {layer.name}: only flat (batch, features) tensors are supported (output "
                               f"shape {shape}); convolutions are not supported yet: Flatten the input first (an "
                               "elementwise quantizer or relu before the Flatten is fine) and use QDense layers")
    node = Node(layer.name, kind, tuple(_inbound(layer)), int(np.prod(shape[1:])), source,
                trainable=bool(layer.trainable))
    KINDS[kind].build(layer, node)
    return node


def _input_quantizers(graph: Graph) -> dict[str, str]:
    """For each model input, the quantizer node right after it (the type the FPGA receives)."""
    out = {}
    for name in graph.inputs:
        consumers = graph.consumers(name)
        if len(consumers) != 1 or consumers[0].kind != "quantizer":
            raise UnsupportedModel(f"input {name}: bit-exact firmware needs exactly one QActivation with a plain "
                                   "fixed-point quantizer (e.g. quantized_bits) right after each input; it sets the "
                                   "type the FPGA receives (l1ad import states one for you: --input-type)")
        out[name] = consumers[0].name
    return out


SIMULATED_INPUT_BITS = 32  # da4ml's Verilator harness: every input value, padded to the largest k, i and f, in 32 bits


def _check_input_width(graph: Graph) -> None:
    """The open RTL flow simulates the inputs side by side in 32-bit words (outputs of any width are read in pieces,
    :func:`.rtl._readable`; inputs cannot be): wider input types are refused here, before anything is written."""
    types = {name: graph[name].quantizer for name in graph.input_quantizers.values()}
    bits = sum(max(getattr(t, field) for t in types.values()) for field in ("k", "i", "f"))
    if bits > SIMULATED_INPUT_BITS:
        named = ", ".join(f"{name} ({t.hls()})" for name, t in types.items())
        raise UnsupportedModel(f"input quantizer{'s' if len(types) > 1 else ''} {named}: the open RTL flow simulates "
                               f"the inputs padded to their largest sign, integer and fractional bits, {bits} bits "
                               f"here, at most {SIMULATED_INPUT_BITS} (da4ml's Verilator harness): narrow the input "
                               "type")


CONSTANT_FRAC_BITS, CONSTANT_SIGNIFICANT_BITS = 32, 53  # what da4ml 0.5.2 holds of a constant (its float, 2^-32)


def _check_constants(graph: Graph) -> None:
    """A layer whose values are constants (every input of the input types gives the same value: a quantizer that
    rounds everything to one value, weights quantized to zero) is held by da4ml, in the open RTL flow, as a constant
    sized from its float value to at most 32 fractional bits: a constant that needs more, or more than 53
    significant bits, would come out of the RTL rounded. Such a layer is refused here, naming it (found by the
    differential benchmark: float Dense layers on a constant layer)."""
    from .layers import Value

    constant = {name: b.lo == b.hi for name, b in graph.bounds.items() if np.any(b.lo == b.hi)}
    if not constant:
        return
    feed = {name: Value(np.zeros((1, graph[name].width)), None) for name in graph.inputs}
    values = graph.walk(feed, lambda node, x: KINDS[node.kind].exact(node, x))
    for name, mask in constant.items():
        value = values[name]
        for n in (int(n) for n in np.asarray(value.num).ravel()[mask] if n != 0):
            zeros = (n & -n).bit_length() - 1
            frac, significant = value.frac - zeros, abs(n).bit_length() - zeros
            if frac > CONSTANT_FRAC_BITS or significant > CONSTANT_SIGNIFICANT_BITS:
                raise UnsupportedModel(
                    f"layer {name}: its values are constants (every input gives the same value), one of which needs "
                    f"{frac} fractional and {significant} significant bits; the open RTL flow (da4ml 0.5.2) holds a "
                    f"constant to {CONSTANT_FRAC_BITS} fractional and {CONSTANT_SIGNIFICANT_BITS} significant bits. "
                    "The layer computes nothing: look at the layers before it (weights quantized to zero, a quantizer "
                    "that rounds every value to one)")


def _infer_types(graph: Graph) -> dict[str, Bounds]:
    """Each node's range and type, from the input quantizers' types forward (see :attr:`Node.result`)."""
    bounds: dict[str, Bounds] = {}
    for node in graph.operations():
        bounds[node.name] = KINDS[node.kind].bounds(node, [bounds.get(name) for name in node.inputs])
        node.result = node.quantizer if node.kind == "quantizer" else result_type(node, bounds[node.name])
    for name, quantizer in graph.input_quantizers.items():  # the firmware's input has the quantizer's type
        graph[name].result = graph[quantizer].result
    for node in graph.operations():
        if node.kind == "quantizer" and node.name not in graph.input_quantizers.values():
            _reach_rounding_bit(graph[node.inputs[0]], node)
    check_tables(graph)
    return bounds


def check_tables(graph: Graph) -> None:
    """A table is indexed by every bit of its input's type (hls4ml's UnaryLUT): at most
    :data:`.tables.TABLE_MAX_BITS` of them."""
    from .layers import table_too_wide
    from .tables import TABLE_MAX_BITS

    for node in graph.operations():
        source = graph[node.inputs[0]].result if node.kind == "table" else None
        if source is not None and source.width > TABLE_MAX_BITS:
            raise table_too_wide(node, source)


def _reach_rounding_bit(source: Node, quantizer: Node) -> None:
    """ap_fixed rounds a value to a coarser type by reading the bit below the new LSB; when the value's type has no
    such bit (its integer bits, sign included, fewer than minus the new type's fractional bits) ap_types fails an
    assertion ("Attempting to read bit beyond MSB") and the C simulation aborts. An exact result type is widened to
    reach it (its values are unchanged); a quantizer's or an input's own type cannot be: the converter puts a wider
    copy before the rounding (:func:`rounding_reach`)."""
    short = rounding_reach(source.result, quantizer.result)
    if short > 0 and source.kind not in ("quantizer", "input"):
        fixed = source.result
        source.result = FixedType(fixed.k, fixed.i + short, fixed.f)


def rounding_reach(source: FixedType, target: FixedType) -> int:
    """Integer bits ``source`` lacks for ap_fixed to round it to ``target``'s LSB (0 when it has them)."""
    return max(0, 1 - target.f - (source.k + source.i))

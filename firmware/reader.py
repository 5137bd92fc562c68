"""Reading a Keras/QKeras model into the graph: the only module that walks a Keras model (and its private graph
attributes).

:func:`read_model` reads each layer into a node of a kind of :mod:`.kinds` (which reads its constants through the
layer's quantizers and refuses what cannot be made exact, naming the layer) and runs the named passes of
:mod:`.passes`; any other front end (another Keras, another quantization library) would be one more reader. The
rewrites ``l1ad import`` makes to a model before it is read (a stated input type, BatchNormalization's constants
rounded) are here too.
"""

from __future__ import annotations

import numpy as np

from .fixed import Fixed, UnsupportedModel
from .graph import Graph
from .kinds import KINDS, REFUSED, Node, kind_for, split_activation, supported_layers
from .kinds.base import Input
from .passes import prepare


def read_model(model) -> Graph:
    """The typed graph of a Keras functional or Sequential model; UnsupportedModel names the first layer that
    cannot be made exact."""
    return prepare(read_keras(model))


check_model = read_model  # the library's name: the model's graph, or a refusal naming the layer


def as_graph(model) -> Graph:
    """``model`` if it is a graph already, else the graph of a Keras model."""
    return model if isinstance(model, Graph) else read_model(model)


def read_keras(model) -> Graph:
    """The graph of a Keras model as it reads: one node per layer (a Dense layer's activation split off as hls4ml
    splits it), layers that change no value at inference skipped; no types yet."""
    if type(model).__name__ not in ("Functional", "Model", "Sequential"):
        raise UnsupportedModel(f"{type(model).__name__}: give a Keras functional or Sequential model")
    inputs = [t._keras_history.layer.name for t in model.inputs]
    nodes: list[Node] = [Input(name, (), tuple(int(d) for d in t.shape[1:]), "InputLayer")
                         for name, t in zip(inputs, model.inputs)]
    aliases: dict[str, str] = {}  # a skipped layer's name -> the node whose values it passes on
    for layer in _ordered_layers(model, inputs):
        if passes_through(layer):
            source = _inbound(layer)[0]
            aliases[layer.name] = aliases.get(source, source)
            continue
        node = _node(layer, model)
        node.inputs = tuple(aliases.get(name, name) for name in node.inputs)
        nodes.append(node)
        activation = split_activation(layer, node) if node.activation_inside else None
        if activation is not None:  # its consumers read the activation's values
            nodes.append(activation)
            aliases[layer.name] = activation.name
    outputs = [aliases.get(t._keras_history.layer.name, t._keras_history.layer.name) for t in model.outputs]
    return Graph(model.name, nodes, inputs, outputs)


def passes_through(layer) -> bool:
    """A layer that changes no value at inference: Dropout, Activation('linear')."""
    name = type(layer).__name__
    if name == "Activation":
        return layer.get_config()["activation"] == "linear"
    return name == "Dropout"


def _node(layer, model) -> Node:
    source = type(layer).__name__
    cls = kind_for(layer)
    if cls is None and source == "Activation":
        raise UnsupportedModel(f"layer {layer.name}: Activation({layer.get_config()['activation']!r}) is not "
                               "bit-exact; use a QActivation with a QKeras quantizer (quantized_relu, quantized_bits, "
                               "quantized_tanh, quantized_sigmoid, ...), ReLU or Activation('relu')")
    if cls is None:
        reason = f" ({REFUSED[source]})" if source in REFUSED else ""
        raise UnsupportedModel(f"layer {layer.name} ({source}) is not supported{reason}. Supported layers:\n  - "
                               + "\n  - ".join(supported_layers()))
    shape = layer.output_shape
    if not isinstance(shape, tuple):
        raise UnsupportedModel(f"layer {layer.name}: a layer with several outputs is not supported")
    return cls.read(layer, name=layer.name, inputs=tuple(_inbound(layer)), shape=tuple(int(d) for d in shape[1:]),
                    source=source, trainable=bool(layer.trainable))


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


# --- rewriting a Keras model before it is read (l1ad import) ------------------------------------------------------

DEFAULT_INPUT_TYPE = "ap_fixed<16,6>"  # for a model without input quantizer: hls4ml's default precision


def inputs_without_quantizer(model) -> list[str]:
    """The model's inputs that are not followed by exactly one QActivation with a plain quantizer (the type the
    FPGA receives)."""
    inputs = [t._keras_history.layer.name for t in model.inputs]
    consumers = {name: [layer for layer in model.layers if type(layer).__name__ != "InputLayer"
                        and name in _inbound(layer)] for name in inputs}
    return [name for name in inputs if len(consumers[name]) != 1 or not _plain_quantizer(consumers[name][0])]


def _plain_quantizer(layer) -> bool:
    """A QActivation whose quantizer is one fixed-point cast (a type the FPGA can receive), not a table."""
    if type(layer).__name__ != "QActivation":
        return False
    try:
        return kind_for(layer) is KINDS["quantizer"]
    except UnsupportedModel:
        return True  # refused with its reason when the graph is read


def with_input_type(model, fixed: Fixed):
    """A copy of ``model`` with a QActivation(quantized_bits of ``fixed``), named INPUT_type, right after each input
    that has no quantizer: the type the FPGA receives, stated as hls4ml lets a user state it, and the rounding (half
    to even) and saturation QKeras then applies to the inputs. The other layers are rebuilt from their configs with
    the model's weights; the model itself is unchanged."""
    from qkeras import QActivation, quantized_bits

    quantizer = quantized_bits(fixed.width, fixed.i, keep_negative=bool(fixed.k), alpha=1)
    return _rebuilt(model, after_inputs={name: lambda t, name=name: QActivation(quantizer, name=f"{name}_type")(t)
                                         for name in inputs_without_quantizer(model)})


def _rebuilt(model, after_inputs: dict | None = None, replace: dict | None = None):
    """A copy of ``model`` rebuilt layer by layer from the layers' configs and weights, with ``after_inputs[name]``
    (a function of a tensor) applied right after that input and ``replace[name]`` (a function of the layer's input
    tensor) building that layer's output instead; the model itself is unchanged."""
    from tensorflow import keras

    after_inputs, replace = after_inputs or {}, replace or {}
    tensors, new_inputs = {}, []
    for t in model.inputs:
        name = t._keras_history.layer.name
        new_inputs.append(keras.Input(t.shape[1:], name=name, dtype=t.dtype))
        tensors[name] = after_inputs[name](new_inputs[-1]) if name in after_inputs else new_inputs[-1]
    for layer in _ordered_layers(model, list(tensors)):
        sources = [tensors[name] for name in _inbound(layer)]
        source = sources if len(sources) > 1 else sources[0]
        if layer.name in replace:
            tensors[layer.name] = replace[layer.name](source)
            continue
        copy = type(layer).from_config(layer.get_config())
        tensors[layer.name] = copy(source)
        copy.set_weights(layer.get_weights())
    return keras.Model(new_inputs, [tensors[t._keras_history.layer.name] for t in model.outputs], name=model.name)


AVERAGES = ("AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D")


def _average_window(layer) -> tuple[int, ...]:
    """The window of a Keras average pool (a global one: its whole input)."""
    config = layer.get_config()
    if type(layer).__name__.startswith("Global"):
        return tuple(int(n) for n in layer.input_shape[1:-1])
    pool = config["pool_size"]
    return tuple(pool) if isinstance(pool, (tuple, list)) else (int(pool),)


def averages_to_round(model) -> list[str]:
    """Keras average pools (channels last, padding valid) over a number of values that is not a power of two: 1/N
    has no fixed-point value, so l1ad import rounds it (QAveragePooling2D has its own quantizer; padding='same'
    divides edge windows by what they hold and stays refused)."""
    names = []
    for layer in model.layers:
        config = layer.get_config()
        if (type(layer).__name__ in AVERAGES and config.get("data_format", "channels_last") == "channels_last"
                and config.get("padding", "valid") == "valid"):
            size = int(np.prod(_average_window(layer)))
            if size & (size - 1):
                names.append(layer.name)
    return names


def with_average_type(model, fixed: Fixed):
    """A copy of ``model`` whose average pools over N values, N not a power of two, are depthwise convolutions of
    the pool's window and strides, each weight 1/N rounded (half to even) to ``fixed``, no bias, under the pool's
    name (a global pool's output flattened back to its channels): the sum of a window times a constant that Keras,
    hls4ml and the exact reference share."""
    from tensorflow import keras

    def depthwise(layer):
        window = _average_window(layer)
        config, glob = layer.get_config(), type(layer).__name__.startswith("Global")
        strides = window if glob else config.get("strides") or window
        weight = float(fixed.quantize(np.array([1.0 / np.prod(window)]))[0])
        conv = (keras.layers.DepthwiseConv1D if len(window) == 1 else keras.layers.DepthwiseConv2D)(
            window, strides=strides, padding="valid", use_bias=False, name=layer.name)

        def build(t):
            out = conv(t)
            conv.set_weights([np.full(conv.get_weights()[0].shape, weight)])
            if glob and not config.get("keepdims", False):
                out = keras.layers.Reshape((int(t.shape[-1]),), name=f"{layer.name}_flat")(out)
            return out
        return build

    names = set(averages_to_round(model))
    return _rebuilt(model, replace={layer.name: depthwise(layer) for layer in model.layers if layer.name in names})


def float_batchnorms(model) -> list[str]:
    """The model's Keras BatchNormalization layers (float parameters; QBatchNormalization has its quantizers)."""
    return [layer.name for layer in model.layers if type(layer).__name__ == "BatchNormalization"]


def leaky_slopes_to_round(model) -> list[str]:
    """The model's LeakyReLU layers whose slope is not a power of two (x * alpha is then a product, not a shift)."""
    def slope(layer) -> float:
        config = layer.get_config()
        return float(config.get("negative_slope", config.get("alpha", 0.3)))

    return [layer.name for layer in model.layers if type(layer).__name__ == "LeakyReLU"
            and slope(layer) > 0 and not float(np.log2(slope(layer))).is_integer()]


def with_leaky_slope_type(model, fixed: Fixed):
    """A copy of ``model`` whose LeakyReLU slopes that are not powers of two are rounded (half to even, saturating)
    to ``fixed``, as hls4ml gives the slope a fixed-point type (its default precision, ap_fixed<16,6>): 0.3 becomes
    307/1024. Keras, hls4ml and the exact reference then share one slope."""
    from tensorflow import keras

    names = set(leaky_slopes_to_round(model))

    def clone(layer):
        config = layer.get_config()
        if layer.name in names:
            key = "negative_slope" if "negative_slope" in config else "alpha"
            config[key] = float(fixed.quantize(np.array([config.get(key, 0.3)]))[0])
        return type(layer).from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy


def with_batchnorm_type(model, fixed: Fixed):
    """A copy of ``model`` whose float BatchNormalization layers compute x * scale + bias with the folded scale and
    bias rounded (half to even, saturating) to ``fixed``, as hls4ml gives BN's scale and bias a fixed-point type
    (its default ap_fixed<16,6>) instead of Keras' float32 values, whose exact products make wide datapaths. Each
    stays a BatchNormalization: gamma = the rounded scale, beta = the rounded bias, mean 0, variance 1, epsilon 0,
    so Keras, hls4ml and the exact reference all compute x * scale + bias with the same constants."""
    from tensorflow import keras

    from .kinds import batchnorm_constants

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

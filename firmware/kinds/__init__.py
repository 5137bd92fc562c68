"""The registry of layer kinds: the one list of what l1ad's firmware chain reads, and of what it refuses.

:data:`KINDS` maps each kind's name to its class (:mod:`.base`); :func:`kind_for` picks the class that reads a Keras
layer; :data:`PASS_THROUGH` are the layers that change no value at inference (no node); :data:`REFUSED` names every
other Keras and QKeras class that hls4ml 1.3 would convert, with the reason l1ad refuses it. The refusal message,
the README's list and the random-model generator read this module.
"""

from __future__ import annotations

from .activations import LeakyRelu, Quantizer, Relu, Table, activation_of, split_activation
from .base import Input, Node
from .batchnorm import BatchNorm, batchnorm_constants, batchnorm_parameters
from .dense import Dense, dense_weights
from .merges import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .shapes import Reshape

KINDS: dict[str, type[Node]] = {cls.kind: cls for cls in (
    Input, Dense, Quantizer, Table, Relu, LeakyRelu, Add, Subtract, Average, Maximum, Minimum, Multiply, Dot,
    Concatenate, BatchNorm, Reshape)}

PASS_THROUGH = {"Dropout": "Dropout (a no-op at inference: skipped)",
                "Activation": "Activation('linear') (the identity: skipped)"}

_CONVOLUTION = "a convolution: l1ad's bit-exact chain takes dense layers for now; flatten the input upstream and use QDense"
# every other layer hls4ml 1.3's Keras reader takes, and why l1ad does not (yet)
REFUSED = {
    **dict.fromkeys(("Conv1D", "Conv2D", "QConv1D", "QConv2D", "QConv2DBatchnorm", "DepthwiseConv1D",
                     "DepthwiseConv2D", "QDepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
                     "QSeparableConv1D", "QSeparableConv2D", "Conv1DTranspose", "Conv2DTranspose"), _CONVOLUTION),
    **dict.fromkeys(("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D",
                     "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "QAveragePooling2D",
                     "QGlobalAveragePooling2D"), "pooling comes with the convolutions"),
    **dict.fromkeys(("UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D",
                     "Permute"), "resampling, padding and permutation come with the convolutions"),
    **dict.fromkeys(("SimpleRNN", "LSTM", "GRU", "QSimpleRNN", "QLSTM", "QGRU", "Bidirectional", "TimeDistributed"),
                    "a recurrent layer: no bit-exact form in l1ad"),
    **dict.fromkeys(("Softmax", "ELU", "PReLU", "ThresholdedReLU", "HGQ>UnaryLUT"),
                    "a floating-point activation: hls4ml computes it with lookup tables of its own, not bit-exact "
                    "against Keras; use a QActivation with a QKeras quantizer"),
    **dict.fromkeys(("Embedding", "MultiHeadAttention", "EinsumDense", "Einsum", "LayerNormalization",
                     "QDenseBatchnorm", "QConv1DBatchnorm", "QMultiHeadAttention"),
                    "no bit-exact form in l1ad"),
}


def kind_for(layer) -> type[Node] | None:
    """The kind that reads a Keras layer (an Activation by its function, a QActivation by its quantizer), or None
    if none does."""
    name = type(layer).__name__
    for cls in KINDS.values():
        if name in cls.keras and cls.accepts(layer):
            return cls
    return None


def family(name: str) -> list[type[Node]]:
    """The kinds of one family (e.g. "merge"), as the random-model generator draws them."""
    return [cls for cls in KINDS.values() if cls.family == name]


def supported_layers() -> list[str]:
    return [cls.summary for cls in KINDS.values() if cls is not Input] + list(PASS_THROUGH.values())


__all__ = ["KINDS", "PASS_THROUGH", "REFUSED", "Node", "kind_for", "family", "supported_layers", "activation_of",
           "split_activation", "batchnorm_constants", "batchnorm_parameters", "dense_weights"]

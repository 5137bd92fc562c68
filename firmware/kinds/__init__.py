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
from .conv import AveragePool, Conv, DepthwiseConv, MaxPool
from .shapes import Cropping, Reshape, UpSampling, ZeroPadding

KINDS: dict[str, type[Node]] = {cls.kind: cls for cls in (
    Input, Dense, Conv, DepthwiseConv, AveragePool, MaxPool, Quantizer, Table, Relu, LeakyRelu, Add, Subtract,
    Average, Maximum, Minimum, Multiply, Dot, Concatenate, BatchNorm, Reshape, ZeroPadding, Cropping, UpSampling)}

PASS_THROUGH = {"Dropout": "Dropout (a no-op at inference: skipped)",
                "Activation": "Activation('linear') (the identity: skipped)"}

# every other layer hls4ml 1.3's Keras reader takes, and why l1ad does not (yet)
REFUSED = {
    **dict.fromkeys(("SeparableConv1D", "SeparableConv2D", "QSeparableConv1D", "QSeparableConv2D"),
                    "a separable convolution: write it as a DepthwiseConv2D (or QDepthwiseConv2D) followed by a 1x1 "
                    "Conv2D, each exact"),
    **dict.fromkeys(("Conv1DTranspose", "Conv2DTranspose"),
                    "a transposed convolution: hls4ml 1.3's Keras reader has none; use UpSampling then Conv"),
    "Permute": "a permutation: l1ad takes channels-last tensors as Keras lays them out; permute upstream",
    **dict.fromkeys(("SimpleRNN", "LSTM", "GRU", "QSimpleRNN", "QLSTM", "QGRU", "Bidirectional", "TimeDistributed"),
                    "a recurrent layer: no bit-exact form in l1ad"),
    **dict.fromkeys(("Softmax", "ELU", "PReLU", "ThresholdedReLU", "HGQ>UnaryLUT"),
                    "a floating-point activation: hls4ml computes it with lookup tables of its own, not bit-exact "
                    "against Keras; use a QActivation with a QKeras quantizer"),
    **dict.fromkeys(("Embedding", "MultiHeadAttention", "EinsumDense", "Einsum", "LayerNormalization",
                     "QDenseBatchnorm", "QConv1DBatchnorm", "QMultiHeadAttention", "GarNet", "GarNetStack"),
                    "no bit-exact form in l1ad"),
    **dict.fromkeys(("FixedPointQuantizer", "HGQ>FixedPointQuantizer", "UnaryLUT"),
                    "an HGQ layer: l1ad reads QKeras models (Keras 2); give the quantizer as a QActivation"),
    **dict.fromkeys(("BinaryDense", "TernaryDense"),
                    "hls4ml's own binary layer: give a QDense with a binary or ternary kernel_quantizer"),
    **dict.fromkeys(("Functional", "Sequential"),
                    "a model used as a layer: build one flat model of its layers"),
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

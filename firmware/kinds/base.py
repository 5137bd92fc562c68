"""A node of the model graph, and what every kind of node says about itself.

Each kind of layer is one subclass of :class:`Node` (a module per family: :mod:`.dense`, :mod:`.activations`,
:mod:`.merges`, :mod:`.batchnorm`, :mod:`.shapes`): the Keras classes it is read from, how it is read (its constants
through the layer's quantizers; refusals naming the layer), its values' bounds (from which its exact result type
follows), its exact evaluation in integers, its da4ml trace, and the hls4ml layer that computes it. The registry
(:mod:`l1ad.firmware.kinds`) is the one list of them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..fixed import Bounds, Fixed, UnsupportedModel, Value


@dataclass
class Node:
    """One operation on the values of ``inputs``, giving a tensor of ``shape`` per event (channels last)."""

    name: str  # the Keras layer's name
    inputs: tuple[str, ...]
    shape: tuple[int, ...]
    source: str  # the Keras class it was read from, for messages
    trainable: bool = True  # False for frozen constants (a score's mean, the trigger head)
    # the type of its values, set by :func:`..passes.infer_types`: a quantizer's type, or the exact type of its
    # arithmetic (wide enough that it never rounds or wraps); the converter writes it into the firmware
    result: Fixed | None = None

    kind: ClassVar[str] = ""  # the registry's name of the kind
    keras: ClassVar[tuple[str, ...]] = ()  # the Keras classes it is read from
    summary: ClassVar[str] = ""  # what is supported, as the README and a refusal list it
    accumulates: ClassVar[bool] = False  # its hls4ml layer has an accumulator (typed as the exact result)
    quantizes: ClassVar[bool] = False  # its type is a quantizer's (rounds half to even and saturates)
    activation_inside: ClassVar[bool] = False  # its Keras layer may carry an activation (a node of its own)
    moves: ClassVar[bool] = False  # its values are its input's, moved (or zeros): its type is its input's
    # the family the random-model generator draws it from (merges, activations, ...)
    family: ClassVar[str] = ""

    @property
    def width(self) -> int:
        """Values per event."""
        return int(np.prod(self.shape))

    # --- reading a Keras layer ----------------------------------------------------------------------------------
    @classmethod
    def accepts(cls, layer) -> bool:
        """Whether this kind reads ``layer`` (one Keras class may be read as several kinds, e.g. QActivation)."""
        return True

    @classmethod
    def read(cls, layer, **common) -> "Node":
        """The node of a Keras layer; ``common``: name, inputs, shape, source, trainable."""
        return cls(**common)

    # --- what the node computes ---------------------------------------------------------------------------------
    def bounds(self, x: list[Bounds]) -> Bounds:
        raise NotImplementedError

    def exact(self, x: list[Value]) -> Value:
        raise NotImplementedError

    def trace(self, x: list, dsp: bool):
        raise NotImplementedError

    def hls(self, graph) -> tuple[dict, dict[str, Fixed]] | None:
        """The hls4ml layer that computes the node (its class and attributes) and the types of its constants; None
        for a node no layer computes (a reshape of a flat array, held by the layer of its input)."""
        raise NotImplementedError

    def constant_types(self) -> dict[str, Fixed]:
        """The types of the node's constants, for the report (kernel, bias, ...)."""
        return {}

    def input_copy(self, graph) -> tuple[str, Fixed] | None:
        """(a name suffix, a type) when hls4ml's layer must read its (first) input through a copy of that type first,
        a layer of its own (a cast that changes no value); None when it reads the input as it is."""
        return None

    @property
    def wide(self) -> bool:
        """Its values need Python integers (more than 62 bits)."""
        from ..fixed import INT64_BITS

        return self.result.width > INT64_BITS

    # --- files ---------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        doc = {"kind": self.kind}
        for item in dataclasses.fields(self):
            doc[item.name] = _encode(getattr(self, item.name))
        return doc

    @staticmethod
    def from_dict(doc: dict, kinds: dict[str, type["Node"]]) -> "Node":
        cls = kinds[doc["kind"]]
        return cls(**{item.name: _decode(doc[item.name]) for item in dataclasses.fields(cls) if item.name in doc})


def _encode(value):
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, Fixed):
        return {"fixed": dataclasses.astuple(value)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    return value


def _decode(value):
    if isinstance(value, dict) and len(value) <= 2 and ("array" in value or "fixed" in value or "tuple" in value
                                                        or "dict" in value):
        if "array" in value:
            return np.asarray(value["array"], dtype=value["dtype"])
        if "fixed" in value:
            return Fixed(*value["fixed"])
        if "tuple" in value:
            return tuple(_decode(v) for v in value["tuple"])
        return {k: _decode(v) for k, v in value["dict"].items()}
    return value


def refuse(node_or_name, message: str) -> UnsupportedModel:
    """A refusal naming the layer."""
    name = getattr(node_or_name, "name", node_or_name)
    return UnsupportedModel(f"layer {name}: {message}")


@dataclass
class Input(Node):
    """A model input: raw floats, which the input's quantizer rounds (its type is the type the FPGA receives)."""

    kind: ClassVar[str] = "input"
    keras: ClassVar[tuple[str, ...]] = ("InputLayer",)
    summary: ClassVar[str] = "Input"

"""A model as one graph: plain data with a walk, read by every consumer.

:mod:`.reader` builds it from a Keras/QKeras model and :mod:`.passes` types it; the exact reference
(:mod:`.reference`), the da4ml trace and the per-part breakdown (:mod:`.rtl`), the fixed-point audit and the layer
trace (:mod:`.validate`), the converter (:mod:`.convert`) and the report read it. It is saved as JSON, types
included, in the HLS project, so the stages after conversion need neither TensorFlow nor the model file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from .kinds import KINDS, Node

GRAPH_JSON = "l1ad_graph.json"


class Graph:
    """Nodes in an order where each follows its inputs; the model's inputs are nodes of kind ``input``;
    ``input_quantizers`` maps each input to the quantizer right after it (the type the FPGA receives)."""

    def __init__(self, name: str, nodes: list[Node], inputs: list[str], outputs: list[str],
                 input_quantizers: dict[str, str] | None = None):
        self.name, self.inputs, self.outputs = name, list(inputs), list(outputs)
        self.nodes = {node.name: node for node in nodes}
        self.input_quantizers = dict(input_quantizers or {})
        self.bounds: dict = {}  # each node's value bounds, set by passes.infer_types (not saved)

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

    def select(self, outputs: list[str]) -> "Graph":
        """A copy with only ``outputs`` (some of the graph's) and the nodes they need."""
        import copy

        needed, todo = set(), list(outputs)
        while todo:
            name = todo.pop()
            if name not in needed:
                needed.add(name)
                todo += list(self[name].inputs)
        nodes = [copy.deepcopy(node) for node in self if node.name in needed]
        graph = Graph(self.name, nodes, [n for n in self.inputs if n in needed], list(outputs), self.input_quantizers)
        graph.bounds = {name: b for name, b in self.bounds.items() if name in needed}
        return graph

    # --- files ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, "inputs": self.inputs, "outputs": self.outputs,
                "input_quantizers": self.input_quantizers, "nodes": [node.to_dict() for node in self]}

    def save(self, path: str | Path) -> Path:
        from l1ad.common.files import write_json

        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Graph":
        """A graph saved with its types (no pass runs again)."""
        doc = json.loads(Path(path).read_text())
        return cls(doc["name"], [Node.from_dict(n, KINDS) for n in doc["nodes"]], doc["inputs"], doc["outputs"],
                   doc["input_quantizers"])

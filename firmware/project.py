"""The files of an hls4ml project that l1ad wrote: its record (``l1ad.json``) and its model graph, read by every
stage after conversion (no TensorFlow needed)."""

from __future__ import annotations

import json
from pathlib import Path

from l1ad.common.errors import L1adError

from .graph import GRAPH_JSON, Graph

PROJECT_INFO = "l1ad.json"


def project_info(project_dir: str | Path) -> dict:
    path = Path(project_dir) / PROJECT_INFO
    if not path.exists():
        raise L1adError(f"{project_dir}: not a project written by l1ad (no {PROJECT_INFO})")
    return json.loads(path.read_text())


def project_graph(project_dir: str | Path) -> Graph:
    """The graph of the model a project was converted from."""
    path = Path(project_dir) / GRAPH_JSON
    if not path.exists():
        raise L1adError(f"{project_dir}: no {GRAPH_JSON}; the project was written by an older l1ad, convert again")
    return Graph.load(path)


def holders(project_dir: str | Path) -> dict[str, str]:
    """For each hls4ml layer of a project, the graph node whose values it holds (recorded at conversion)."""
    return layer_holders(project_info(project_dir))


def layer_holders(info: dict) -> dict[str, str]:
    """For each hls4ml layer of a project's record, the graph node whose values it holds."""
    layers = info["layers"]
    if any("node" not in layer for layer in layers):
        raise L1adError(f"{info.get('project_dir', 'the project')}: written by an older l1ad (its layers name no "
                        "graph node); convert again")
    return {layer["name"]: layer["node"] for layer in layers}

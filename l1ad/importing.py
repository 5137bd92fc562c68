"""``l1ad import``: a user's own QKeras model and inputs as a run folder, for every firmware stage.

The run folder holds the model as the firmware will compute it (``qkeras_model.h5``; with ``--add-score``
l1ad's on-chip MSE head appended), ``import.json`` (the model, input, label and scaler files with their
sha256, the background classes, the score output) and ``status.json``. Nothing is written unless the
model is supported and the inputs fit it.

Events: without labels every input row is a test event and the trigger threshold is set on all of them
(the rate on the user's inputs). With labels, the background rows are split in two halves by a fixed
seed: one sets the threshold, the other (with every non-background row) is the test set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError
from l1ad.runs import IMPORT_JSON, read_inputs, read_table
from l1ad.common.files import sha256, staging_dir, write_json

def _load_model(path: Path):
    from l1ad.training.models import load

    if not Path(path).exists():
        raise L1adError(f"{path}: no such model file")
    try:
        return load(path)
    except Exception as err:
        if "QDenseBatchnorm" in str(err):  # CICADA v1's and MLPerf Tiny ad08's training layer
            raise L1adError(f"{path}: QDenseBatchnorm is not in QKeras 0.9.0 (the release that runs with hls4ml 1.3 "
                            "and TensorFlow 2.14), so the file cannot be loaded; save the model with its QDense and "
                            "BatchNormalization (or QBatchNormalization) as separate layers, as CICADA v1 is "
                            "deployed: l1ad takes those exactly") from err
        raise L1adError(f"{path}: cannot load as a QKeras (Keras 2) model ({type(err).__name__}: {err})") from err


def _score_output(graph, score: str | None) -> str | None:
    from l1ad.firmware.trigger import score_type

    names = graph.outputs
    if score is None:
        scalar = [n for n in names if graph[n].width == 1]
        if len(scalar) != 1:
            return None
        score = scalar[0]
    if score not in names:
        raise L1adError(f"--score {score!r} is not an output of the model; outputs: {names}")
    score_type(graph, score)  # the score must end in a QActivation: its type is the score's type
    return score


def _with_input_type(model, input_type: str | None):
    """``model``, or a copy with the stated input type where it has no input quantizer; the type string used."""
    from l1ad.firmware.reader import DEFAULT_INPUT_TYPE, inputs_without_quantizer, with_input_type
    from l1ad.firmware.fixed import Fixed

    bare = inputs_without_quantizer(model)
    if not bare:
        if input_type is not None:
            raise L1adError(f"--input-type {input_type}: the model has its own quantizer after every input; it sets "
                            "the type the FPGA receives")
        return model, None
    stated = input_type or DEFAULT_INPUT_TYPE
    return with_input_type(model, Fixed.input_type(stated)), stated


DEFAULT_CONSTANT_TYPE = "ap_fixed<16,6>"  # the type hls4ml gives BN's scale and bias and a LeakyReLU's slope


def _rounded_constants(model, what: str, stated: str | None):
    """``model`` with the float constants of ``what`` ("batchnorm": BatchNormalization's folded scale and bias;
    "leaky_relu": LeakyReLU slopes that are not powers of two; "average_pool": 1/N of Keras average pools over N
    values, N not a power of two) rounded to ``stated`` (default
    :data:`DEFAULT_CONSTANT_TYPE`; "exact" keeps Keras' float32 values), the type string used and the layers (None
    and [] when the model has none)."""
    from l1ad.firmware import reader
    from l1ad.firmware.fixed import Fixed

    layers, rewrite = {"batchnorm": (reader.float_batchnorms, reader.with_batchnorm_type),
                       "leaky_relu": (reader.leaky_slopes_to_round, reader.with_leaky_slope_type),
                       "average_pool": (reader.averages_to_round, reader.with_average_type)}[what]
    names = layers(model)
    if not names:
        return model, None, []
    stated = stated or DEFAULT_CONSTANT_TYPE
    return (model if stated == "exact" else rewrite(model, Fixed.input_type(stated))), stated, names


def rounding_summary(original, model, x: np.ndarray, stated: str, layers: list[str]) -> dict:
    """What rounding a layer kind's constants does, checked against Keras' own layers with float32 constants on
    float inputs: per output of the model, the events whose float32 Keras output is identical, and the largest
    difference."""
    from l1ad.training.models import as_input

    doc = {"type": stated, "layers": layers, "rounding": "half to even (RND_CONV), "
           "saturating" if stated != "exact" else "none: Keras' float32 constants, held exactly"}
    if stated == "exact":
        return doc
    before = original.predict(as_input(original, x.astype(np.float32)), verbose=0, batch_size=4096)
    after = model.predict(as_input(model, x.astype(np.float32)), verbose=0, batch_size=4096)
    before, after = (v if isinstance(v, list) else [v] for v in (before, after))
    doc["vs_keras"] = {
        name: {"events_identical": float(np.mean(np.all(a.reshape(len(a), -1) == b.reshape(len(b), -1), axis=1))),
               "values_identical": float(np.mean(a == b)),
               "max_abs_difference": float(np.max(np.abs(a - b))) if len(a) else 0.0}
        for name, a, b in zip(original.output_names, after, before)}
    return doc


def input_summary(graph, x: np.ndarray, stated: str) -> dict:
    """The stated input type and what it does to the given inputs: values changed by rounding, and saturated."""
    from l1ad.firmware import reference

    quantizer = next(iter(graph.input_quantizers.values()))
    fixed = graph[quantizer].fixed
    out = reference.evaluate(graph, x, only={quantizer})[quantizer].out.reshape(x.shape)
    saturated = int(np.sum((x > fixed.max) | (x < fixed.min)))
    return {"type": stated, "layer": quantizer, "rounding": "half to even (RND_CONV)", "overflow": "saturate (SAT)",
            "values": int(x.size), "changed": int(np.sum(out != x)), "saturated": saturated}


ROUNDED = ("batchnorm", "leaky_relu", "average_pool")  # the float constants import rounds, in this order


def _with_rounded_constants(model, types: dict[str, str | None]):
    """``model`` with each kind of :data:`ROUNDED` rounded to ``types[kind]`` (None: the default), and the steps
    taken: (kind, model before, model after, type used, layers) for each kind the model has."""
    steps = []
    for what in ROUNDED:
        after, stated, layers = _rounded_constants(model, what, types.get(what))
        if stated:
            steps.append((what, model, after, stated, layers))
        model = after
    return model, steps


def _checked_graph(model, stated: str | None):
    """The model's graph, or its refusal before anything is written; a refusal of the input type l1ad added names
    the user's --input-type (or its default)."""
    from l1ad.firmware.fixed import UnsupportedModel
    from l1ad.firmware.reader import check_model

    try:
        return check_model(model)
    except UnsupportedModel as err:
        if stated and any(f"{t._keras_history.layer.name}_type" in str(err) for t in model.inputs):
            raise UnsupportedModel(f"--input-type {stated} (the type the model's input receives; it has no "
                                   f"quantizer of its own): {err}") from err
        raise


def _read_labels(labels: str | Path | None, events: int, background: tuple[str, ...]) -> np.ndarray | None:
    if labels is None:
        return None
    y = read_table(Path(labels), "labels").astype(str)
    if y.shape != (events,):
        raise L1adError(f"{labels}: {len(y)} labels for {events} input rows")
    if not np.isin(y, background).any():
        raise L1adError(f"{labels}: no row carries a background label ({', '.join(background)}); "
                        "pass --background with the labels of your background")
    return y


def _file(path) -> dict | None:
    return {"path": str(Path(path).resolve()), "sha256": sha256(path)} if path else None


def import_model(model_path: str | Path, inputs: str | Path, run: str | Path, labels: str | Path | None = None,
                 background: tuple[str, ...] = ("g", "q"), scaler: str | Path | None = None, score: str | None = None,
                 add_score: tuple[int, int] | None = None, input_type: str | None = None,
                 constant_types: dict[str, str] | None = None, input_shape: tuple[int, ...] | None = None) -> Path:
    """Make run folder ``run`` from a model file and its inputs; return the folder. A model without a quantizer
    after its input gets one of ``input_type`` (default ap_fixed<16,6>, hls4ml's default precision), as hls4ml lets
    a user state the input type; the float constants of :data:`ROUNDED` (BatchNormalization's scale and bias,
    LeakyReLU slopes and 1/N of average pools that are not powers of two) are rounded to ``constant_types[kind]``
    (default ap_fixed<16,6>, the type hls4ml gives them; "exact": Keras' float32 values). ``input_shape``: the
    layout of a table's flat rows for a model whose input has a shape (see :func:`l1ad.runs.read_inputs`)."""
    from l1ad.firmware.fixed import Fixed

    model_path, inputs, run = Path(model_path), Path(inputs), Path(run)
    if run.exists():
        raise L1adError(f"{run} exists; choose another --name (l1ad never replaces a folder it may not own)")
    typed, stated = _with_input_type(_load_model(model_path), input_type)
    model, steps = _with_rounded_constants(typed, constant_types or {})
    graph = _checked_graph(model, stated)  # an unsupported layer fails here, before anything is written
    if len(graph.inputs) != 1:
        raise L1adError(f"{model_path}: the model has {len(graph.inputs)} inputs; l1ad import takes one input array")
    shape, width = graph[graph.inputs[0]].shape, graph[graph.inputs[0]].width
    x = read_inputs(inputs, scaler, shape, input_shape)
    _read_labels(labels, len(x), background)
    rounded = {what: rounding_summary(before, after, x, used, layers) for what, before, after, used, layers in steps}
    if add_score is not None:
        from l1ad.firmware.convert import with_mse_score

        model = with_mse_score(model, *add_score)
        graph, score = _checked_graph(model, stated), "score"
    doc = {"model": _file(model_path),
           "inputs": {**_file(inputs), "events": int(len(x)), "width": width, "shape": list(shape),
                      "stated_shape": list(input_shape) if input_shape else None},
           "labels": _file(labels), "scaler": _file(scaler), "background": list(background),
           "score_output": _score_output(graph, score),
           "input_type": input_summary(graph, x, stated) if stated else None,
           **{what: rounded.get(what) for what in ROUNDED},
           "added_score": {"type": Fixed(0, add_score[1], add_score[0] - add_score[1]).short(),
                           "definition": "mean over the inputs of (quantized input - reconstruction)^2"}
           if add_score else None}
    staging = staging_dir(run)
    try:
        model.save(str(staging / "qkeras_model.h5"), include_optimizer=False)
        write_json(staging / IMPORT_JSON, doc)
        write_json(staging / "status.json", {"state": "complete", "kind": "imported"})
        run.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(run)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run

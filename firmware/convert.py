"""A QKeras model, score included, as an hls4ml project: the library under ``l1ad convert``.

The model is read once into its graph (:mod:`.graph`); hls4ml's model is built from the graph through hls4ml's own
entry, ``ModelGraph.from_layer_list`` (:func:`hls_plan`, :func:`hls_model`), one layer per node with the graph's
types, so that no hls4ml pass derives a type or merges a layer behind l1ad's back; what hls4ml built is checked
against the plan, and the types the written ``defines.h`` declares against what l1ad set. Before it reports success,
:func:`convert_model` compiles the firmware it wrote (a failure is l1ad's bug, :class:`.csim.FirmwareBug`).

The trigger head is added to the graph by :mod:`.trigger`; the on-chip MSE score of a user's autoencoder by
:func:`with_mse_score`.
"""

from __future__ import annotations

import contextlib
import io
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError
from l1ad.common.device import DEFAULT_CLOCK_MHZ, DEFAULT_PART, period_ns
from l1ad.common.files import commit_dir, staging_dir
from l1ad.common.records import Firmware

from . import reference
from .graph import GRAPH_JSON, Graph
from .reader import as_graph, read_model
from .fixed import Fixed, UnsupportedModel
from .project import PROJECT_INFO, holders, project_graph, project_info  # noqa: F401 - the project's files

STRATEGIES = ("Latency", "Resource", "distributed_arithmetic")


@dataclass
class FirmwareOptions:
    """hls4ml settings; every field is recorded in the project's l1ad.json."""

    backend: str = "Vitis"
    part: str = DEFAULT_PART
    clock_period_ns: float = period_ns(DEFAULT_CLOCK_MHZ)
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    project_name: str = "myproject"
    precision_overrides: dict[str, str] = field(default_factory=dict)  # layer -> result type, for experiments

    def __post_init__(self):
        if self.backend not in ("Vitis", "Vivado"):
            raise L1adError(f"backend {self.backend!r}: l1ad supports Vitis and Vivado")
        if self.io_type == "io_stream":  # refused before anything is written
            raise L1adError("io_type io_stream: l1ad proves io_parallel projects exact (its C simulation and test "
                            "bench call the top function with arrays; a streamed project's interfaces are not read "
                            "back yet); use --io-type io_parallel")
        if self.io_type != "io_parallel":
            raise L1adError(f"io_type {self.io_type!r}: choose io_parallel (io_stream is not supported yet)")
        if self.strategy not in STRATEGIES:
            raise L1adError(f"strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if self.strategy == "distributed_arithmetic" and (self.io_type != "io_parallel" or self.backend != "Vitis"):
            raise L1adError("strategy distributed_arithmetic needs the Vitis backend and io_parallel (hls4ml 1.3)")
        if self.reuse_factor < 1 or self.clock_period_ns <= 0:
            raise L1adError("reuse_factor must be >= 1 and clock_period_ns > 0")


def with_mse_score(model, bits: int, integer: int):
    """A user's QKeras autoencoder (input -> reconstruction as first output) with l1ad's on-chip MSE score.

    The score is the mean of (quantized input - reconstruction)^2 with an unsigned score type <bits, integer>.
    The mean's weight is 1/N; for N not a power of two it is 1/N rounded to 15 fractional bits (a relative
    error below 2^-15 N), a constant that QKeras and the firmware share, so the score is exact either way.
    """
    from tensorflow import keras

    from l1ad.training.config import QuantizerBits
    from l1ad.training.models import squared_error_head

    shape = tuple(model.inputs[0].shape[1:])
    n = int(np.prod(shape))
    reconstruction = model.outputs[0]
    if tuple(reconstruction.shape[1:]) != shape:
        raise L1adError(f"--add-score needs a first output that reconstructs the input: the model's first output "
                        f"has shape {tuple(reconstruction.shape[1:])}, its input {shape}")
    graph = read_model(model)
    quantizer = next(iter(graph.input_quantizers.values()))
    x = model.get_layer(quantizer).output
    if len(shape) > 1:  # an image or a sequence: the score is the mean over every value, row-major
        x = keras.layers.Flatten(name="score_input_flat")(x)
        reconstruction = keras.layers.Flatten(name="score_reconstruction_flat")(reconstruction)
    fmt, weights_fmt = QuantizerBits(bits=bits, integer=integer), QuantizerBits(bits=16, integer=0)
    score = squared_error_head(x, reconstruction, np.full(n, 1.0 / n), True, fmt, weights_fmt)
    scored = keras.Model(model.inputs, [score, *model.outputs], name=model.name + "_with_score")
    try:
        read_model(scored)
    except UnsupportedModel as err:  # a layer of the head l1ad added: name the user's layers it is built on
        rec = graph.outputs[0]
        raise UnsupportedModel(f"layer {rec}: the score l1ad adds on it (--add-score: the mean of (input quantizer "
                               f"{quantizer}, {graph[quantizer].result.short()} - reconstruction {rec}, "
                               f"{graph[rec].result.short()})^2) cannot be built: {err}. Quantize {rec} with a "
                               "QActivation(quantized_bits(...))") from err
    return scored


@dataclass
class HlsPlan:
    """The hls4ml model l1ad builds from a graph: hls4ml's layer list, each layer's types (hls4ml precision strings),
    the layers that are the model's outputs, and for each layer the graph node whose values it holds."""

    layers: list[dict]
    precision: dict[str, dict[str, str]]
    outputs: list[str]
    holds: dict[str, str]


def hls_plan(graph: Graph, overrides: dict[str, str] | None = None) -> HlsPlan:
    """One hls4ml layer per node of the graph, typed by the graph: each layer's output the node's type (a quantizer's,
    rounding half to even and saturating as QKeras does, or the exact type of the node's arithmetic, which never
    rounds or wraps), accumulators the exact type, constants types that hold them exactly. A model input's layer has
    its quantizer's type (the input conversion rounds and saturates), so the quantizer needs no layer. An output whose
    values an input, an earlier output or another layer also reads gets a copy layer of its own (a top function
    must not name one array twice, and an output port is written, not read). ``overrides``: layer -> output type,
    for experiments that break exactness on purpose."""
    layers, precision, holds, held_by = [], {}, {}, {}
    for name in graph.inputs:
        node = graph[name]
        layers.append({"name": name, "class_name": "InputLayer", "input_shape": list(node.shape)})
        precision[name] = {"result": node.result.hls()}
        holds[name], held_by[name] = graph.input_quantizers[name], name
    quantizers = set(graph.input_quantizers.values())
    for node in graph.operations():
        made = None if node.name in quantizers else node.hls(graph)
        if made is None:  # held by the layer of its input: an input's quantizer, a reshape of a flat array
            held_by[node.name] = held_by[node.inputs[0]]
            continue
        attributes, constants = made
        inputs = [held_by[n] for n in node.inputs]
        copy = node.input_copy(graph)
        if copy is not None:
            inputs = [_copy_before(graph, node, inputs[0], *copy, layers, precision, holds), *inputs[1:]]
        layers.append({"name": node.name, "inputs": inputs, **attributes})
        types = {"result": node.result.hls()}
        if node.accumulates:
            types["accum"] = node.result.exact.hls()
        types.update({var: fixed.exact.hls() for var, fixed in constants.items()})
        precision[node.name] = types
        holds[node.name] = held_by[node.name] = node.name
    outputs = []
    for name in graph.outputs:
        outputs.append(_output_layer(graph, name, held_by, outputs, layers, precision, holds))
    for name, fixed in (overrides or {}).items():
        if name not in precision:
            raise L1adError(f"precision override for unknown layer {name!r}; layers: {sorted(precision)}")
        precision[name]["result"] = fixed
    return HlsPlan(layers, precision, outputs, holds)


def _copy_before(graph: Graph, node, layer: str, suffix: str, fixed: Fixed, layers: list, precision: dict,
                 holds: dict) -> str:
    """A copy of ``layer`` typed ``fixed``, named ``{node}_{suffix}``, for ``node``'s layer to read instead (see
    :meth:`.kinds.base.Node.input_copy`: e.g. the integer bits ap_fixed needs to read a rounding bit)."""
    name = f"{node.name}_{suffix}"
    while name in graph.nodes or name in precision:
        name += "_"
    layers.append({"name": name, "inputs": [layer], "class_name": "Activation", "activation": "linear"})
    precision[name] = {"result": fixed.hls()}
    holds[name] = node.inputs[0]
    return name


def _output_layer(graph: Graph, name: str, held_by: dict, earlier: list[str], layers: list, precision: dict,
                  holds: dict) -> str:
    """The hls4ml layer that is output ``name``: the layer holding its values, or a copy of it when that layer is an
    input, an earlier output or read by another layer. The copy's type has the same bits and other overflow modes, so
    that hls4ml does not remove it as a cast to the same type."""
    layer = held_by[name]
    read = any(held_by[n] == layer for node in graph.operations() if node.name in holds for n in node.inputs)
    if layer not in graph.inputs and layer not in earlier and not read:
        return layer
    copy = f"{name}_out"
    while copy in graph.nodes or copy in precision:
        copy += "_"
    node = graph[name]
    layers.append({"name": copy, "inputs": [layer], "class_name": "Activation", "activation": "linear"})
    exact = node.result.exact
    precision[copy] = {"result": (Fixed(exact.k, exact.i, exact.f, "TRN", "SAT") if node.result == exact else exact).hls()}
    holds[copy] = node.name
    return copy


def hls_model(graph: Graph, options: FirmwareOptions, output_dir: Path, tb_input: Path | None = None,
              tb_output: Path | None = None):
    """hls4ml's ModelGraph of ``graph``, built through hls4ml's own entry (``ModelGraph.from_layer_list``, which every
    hls4ml front end uses) from :func:`hls_plan`, and checked: every layer of the plan, typed as planned. Returns
    (hls4ml model, the plan)."""
    from hls4ml.converters import create_config
    from hls4ml.model.graph import ModelGraph

    plan = hls_plan(graph, options.precision_overrides)
    config = create_config(output_dir=str(output_dir), project_name=options.project_name, backend=options.backend,
                           part=options.part, clock_period=options.clock_period_ns, io_type=options.io_type)
    config.update(InputData=str(tb_input) if tb_input else None, OutputPredictions=str(tb_output) if tb_output else None)
    # "distributed_arithmetic" (da4ml's kernels) is spelled out: hls4ml snake-cases "DA" into "d_a" and silently falls
    # back to Latency; the model-level value applies to every Dense layer (vivado_backend.py)
    reuse = {layer["name"]: _reuse_factor(layer, options) for layer in plan.layers}
    layer_config = {name: {"Precision": types, "ReuseFactor": reuse[name], "Trace": True}
                    for name, types in plan.precision.items()}  # trace code is compiled only outside synthesis
    config["HLSConfig"] = {"Model": {"Precision": "fixed<16,6>", "ReuseFactor": options.reuse_factor,
                                     "Strategy": options.strategy, "BitExact": False}, "LayerName": layer_config}
    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml narrates every layer on stdout
        hls = ModelGraph.from_layer_list(config, plan.layers, inputs=graph.inputs, outputs=plan.outputs)
    _check_built(hls, plan)
    return hls, plan


def _reuse_factor(layer: dict, options: FirmwareOptions) -> int:
    """The reuse factor of one hls4ml layer: with the Resource strategy, the closest to the one asked that hls4ml's
    own rule allows for the layer's multiplication (``layer_table`` records it). hls4ml makes this move when it
    initialises a layer, but the PointwiseConv2D its optimizer then makes of a 1x1 convolution
    (vivado:optimize_pointwise_conv) takes the configured factor again, and the C simulation aborted on hls4ml's own
    assertion, "The current Reuse Factor is not allowed" (found with reuse factor 2 on a pool of 1x1 windows, which
    l1ad writes as a convolution)."""
    if options.strategy != "Resource" or options.reuse_factor == 1:
        return options.reuse_factor
    if layer["class_name"] == "Dense":
        n_in, n_out = layer["n_in"], layer["n_out"]
    elif layer["class_name"] in ("Conv1D", "Conv2D"):
        n_in, n_out = layer["filt_width"] * layer.get("filt_height", 1) * layer["n_chan"], layer["n_filt"]
    else:
        return options.reuse_factor
    from hls4ml.backends import get_backend

    backend = get_backend(options.backend)
    return int(backend.get_closest_reuse_factor(backend.get_valid_reuse_factors(n_in, n_out), options.reuse_factor))


def _check_built(hls, plan: HlsPlan) -> None:
    """hls4ml's optimizers may remove, merge or retype layers; every planned layer must be there with its types."""
    built = {layer.name: layer for layer in hls.get_layers()}
    if list(built) != [layer["name"] for layer in plan.layers]:
        raise RuntimeError(f"hls4ml changed l1ad's layers: planned {[l['name'] for l in plan.layers]}, built "
                           f"{list(built)}")
    for name, types in plan.precision.items():
        for var, wanted in types.items():
            got = _layer_type(built[name], var)
            if got is None and var in ("weight", "bias") and _distributed(built[name]):
                continue  # da4ml's kernels write the constants into the code: no variable, no type (csim proves it)
            if got is None or Fixed.parse(str(got)) != Fixed.parse(wanted):
                raise RuntimeError(f"hls4ml typed {var} of layer {name} as {got}, l1ad asked for {wanted}")


def _distributed(layer) -> bool:
    return str(layer.get_attr("strategy", "")).lower() == "distributed_arithmetic"


def _layer_type(layer, var: str):
    if var == "result":
        return layer.get_output_variable().type.precision
    weight = {"weight": "weight", "bias": "bias", "scale": "scale", "table": "table"}.get(var)
    if weight in layer.weights:
        return layer.weights[weight].type.precision
    attribute = layer.get_attr(f"{var}_t")
    return None if attribute is None else attribute.precision


def told_types(hls) -> dict[str, Fixed]:
    """Every type l1ad gave hls4ml (layer outputs, accumulators, constants), by its C++ name."""
    told = {}
    for layer in hls.get_layers():
        types = [layer.get_output_variable().type, *(v.type for v in layer.weights.values())]
        accum = layer.get_attr("accum_t")
        for t in types + ([accum] if accum is not None else []):
            told[t.name] = Fixed.parse(str(t.precision))
    return told


def check_written_types(project: Path, told: dict[str, Fixed]) -> None:
    """Every type l1ad set, as the written firmware declares it (firmware/defines.h), before anything compiles:
    hls4ml 1.3 once wrote a type without fractional bits as ap_int, without its rounding and saturation."""
    written = {name: Fixed.parse(text) for text, name in
               re.findall(r"typedef\s+(ap_u?(?:fixed|int)<[^>]*>)\s+(\w+);", (project / "firmware" / "defines.h").read_text())}
    differ = [f"{name}: {written[name].hls() if name in written else 'not declared'} (l1ad set {want.hls()})"
              for name, want in told.items() if written.get(name) != want]
    if differ:
        raise RuntimeError("firmware/defines.h does not declare the types l1ad set: " + "; ".join(differ))


def layer_table(hls, holds: dict[str, str]) -> list[dict]:
    """Every hls4ml layer with its output type (and accumulator type) and the graph node whose values it holds, for
    audits, traces and reports."""
    rows = []
    for layer in hls.get_layers():
        var = layer.get_output_variable()
        accum = layer.get_attr("accum_t")
        rows.append({"name": layer.name, "class": layer.class_name, "size": int(np.prod(var.shape)),
                     "inputs": list(layer.inputs), "type": str(var.type.precision),
                     "accum_type": str(accum.precision) if accum is not None else None, "node": holds[layer.name],
                     "reuse_factor": layer.get_attr("reuse_factor")})
    return rows


def _write_dat(path: Path, arrays: list[np.ndarray], fmt: str) -> None:
    np.savetxt(path, np.column_stack([a.reshape(len(a), -1) for a in arrays]), fmt=fmt, delimiter=" ")


def _write_exact(path: Path, values: list) -> None:
    """Exact values (:class:`.layers.Value`), one event per line, every value written in full decimal digits."""
    columns = [np.asarray(v.num).reshape(len(v.num), -1) for v in values]
    fracs = [v.frac for v in values]
    with open(path, "w") as out:
        for row in zip(*columns):
            out.write(" ".join(decimal(int(n), f) for part, f in zip(row, fracs) for n in part) + "\n")


def decimal(num: int, frac: int) -> str:
    """num * 2^-frac in exact decimal digits (2^-frac = 5^frac / 10^frac)."""
    if frac <= 0:
        return str(num << -frac)
    digits = str(abs(num) * 5**frac).rjust(frac + 1, "0")
    whole, fraction = digits[:-frac], digits[-frac:].rstrip("0")
    return ("-" if num < 0 else "") + whole + ("." + fraction if fraction else "")


def convert_model(model, out: str | Path, options: FirmwareOptions | None = None, tb_inputs=None,
                  output_labels: list[str] | None = None, info: dict | None = None) -> Path:
    """Write the hls4ml project of ``model`` (a Keras model or its graph) to ``out``; compile it; return the folder
    (:func:`write_project`, which returns the project's record)."""
    write_project(model, out, options, tb_inputs, output_labels, info)
    return Path(out)


def write_project(model, out: str | Path, options: FirmwareOptions | None = None, tb_inputs=None,
                  output_labels: list[str] | None = None, info: dict | None = None) -> dict:
    """Write the hls4ml project of ``model`` (a Keras model or its graph) to ``out``; compile it; return the project's
    record (its ``l1ad.json``).

    ``tb_inputs`` (an array, or a list for several inputs) go to ``tb_data/`` with their exact expected
    outputs, for the project's own test bench and a vendor C simulation. The project is built beside
    ``out`` and swapped in only when complete; ``out`` is replaced only if l1ad made it. A project whose firmware
    does not compile is kept in ``out`` for a bug report and :class:`.csim.FirmwareBug` is raised.
    """
    from .csim import compile_firmware

    options = options or FirmwareOptions()
    graph = as_graph(model)
    out = Path(out)
    staging = staging_dir(out)
    try:
        tb_in, tb_out, events = _write_tb_data(graph, tb_inputs, staging)
        hls, plan = hls_model(graph, options, staging / "project", tb_in, tb_out)
        told = told_types(hls)
        with contextlib.redirect_stdout(io.StringIO()):
            hls.write()
        check_written_types(staging / "project", told)
        _print_every_digit(staging / "project", options.project_name)
        for path in (tb_in, tb_out):
            if path is not None:
                path.unlink()
        _point_config_at(staging / "project", out, {tb_in: "tb_input_features.dat", tb_out: "tb_output_predictions.dat"})
        if options.backend == "Vitis":  # `vitis_hls -f build_prj.tcl` as it is: csim and C synthesis, no cosim
            from .vendor import write_build_options

            write_build_options(staging / "project", reset=True, csim=tb_inputs is not None, synth=True)
        graph.save(staging / "project" / GRAPH_JSON)
        doc = _project_record(hls, graph, plan, options, output_labels, events, info)
        Firmware.model_validate(doc).save(staging / "project" / PROJECT_INFO)
        failure = compile_firmware(staging / "project")
        commit_dir(staging / "project", out, "hls4ml project", {"project_id": doc["project_id"]})
        if failure is not None:
            raise failure.kept_in(out, staging / "project")
    finally:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return doc


def _write_tb_data(graph: Graph, tb_inputs, staging: Path):
    """The test bench's inputs and their exact expected outputs in ``staging`` (the test bench reads float32: the
    expected outputs are those of the float32 values it reads); (inputs file, outputs file, events), Nones and 0
    without ``tb_inputs``."""
    if tb_inputs is None:
        return None, None, 0
    xs = [np.asarray(a, dtype=np.float32) for a in (tb_inputs if isinstance(tb_inputs, (list, tuple)) else [tb_inputs])]
    tb_in, tb_out = staging / "tb_input.dat", staging / "tb_output.dat"
    _write_dat(tb_in, list(xs), "%.9g")  # 9 digits round-trip float32 exactly
    _write_exact(tb_out, reference.exact_outputs(graph, list(xs)))
    return tb_in, tb_out, int(len(xs[0]))


def _project_record(hls, graph: Graph, plan: HlsPlan, options: FirmwareOptions, output_labels, events: int,
                    info: dict | None) -> dict:
    """The project's ``l1ad.json``: options, inputs and outputs with their types and sizes, the layer table."""
    inputs, outputs = hls.get_input_variables(), hls.get_output_variables()
    return {
        "project_id": uuid.uuid4().hex,
        "options": asdict(options),
        "inputs": graph.inputs,
        "input_sizes": [int(v.size()) for v in inputs],
        "input_types": [str(v.type.precision) for v in inputs],
        "output_names": graph.outputs,
        "outputs": output_labels or graph.outputs,
        "output_types": [str(v.type.precision) for v in outputs],
        "output_sizes": [int(v.size()) for v in outputs],
        "output_variables": [v.name for v in outputs],
        "layers": layer_table(hls, plan.holds),
        "tb_events": events,
        "hls4ml_version": _version("hls4ml"),
        **(info or {}),
    }


DIGITS = 1100  # a value of W <= 1,024 bits has at most W significant decimal digits


def _print_every_digit(project: Path, name: str) -> None:
    """hls4ml's test bench prints its results with the stream's default 6 significant digits, too few for e.g. a
    ufixed<18,14> score above 1,000 (AXOL1TL's); ap_fixed prints as many decimal digits as the stream's precision
    asks (its exact decimal expansion, cut to that many significant digits), so the results log asks for
    :data:`DIGITS`, more than any type of up to 1,024 bits has."""
    bench = project / f"{name}_test.cpp"
    text = bench.read_text()
    opened = "std::ofstream fout(RESULTS_LOG);"
    if opened not in text:
        raise RuntimeError(f"{bench}: hls4ml's test bench no longer opens {opened!r}; l1ad cannot set its precision")
    bench.write_text(text.replace(opened, f"{opened}\n    fout.precision({DIGITS});  // l1ad: every digit", 1))


def _point_config_at(written: Path, final: Path, test_bench: dict) -> None:
    """hls4ml records the folder it wrote to in hls4ml_config.yml; the project is moved, so name where it lands."""
    path = written / "hls4ml_config.yml"
    text = path.read_text()
    for old, name in test_bench.items():  # the staged inputs are deleted; hls4ml copied them into tb_data/
        if old is not None:
            text = text.replace(str(old), str(final.resolve() / "tb_data" / name))
    path.write_text(text.replace(str(written), str(final.resolve())))


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)

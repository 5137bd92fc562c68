"""A QKeras model, score included, as an hls4ml project: the library under ``l1ad convert``.

hls4ml derives every fixed-point type from the quantizers (``bit_exact=True``) and gets a per-layer
config (``granularity='name'``); without it the input and score quantizers are ignored.

The trigger head: ``trigger = quantized_relu(1, 1)(relu(c) - relu(c - 1))`` with
``c = 2^F (score - threshold)``, F the score's fractional bits. c is an integer, so the head outputs
exactly 1 when score > threshold and 0 otherwise, in QKeras and in the firmware alike, from standard
layers only. The threshold is a constant in the weights, or (``threshold="input"``) a second input of
the top function with the score's type, so a trigger menu can change it without new firmware.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError
from l1ad.common.files import commit_dir, staging_dir
from l1ad.common.records import Firmware

from . import reference
from .graph import GRAPH_JSON, Graph
from .layers import FixedType, UnsupportedModel, batchnorm_parameters, constant_bounds

STRATEGIES = ("Latency", "Resource", "distributed_arithmetic")
PROJECT_INFO = "l1ad.json"


@dataclass
class FirmwareOptions:
    """hls4ml settings; every field is recorded in the project's l1ad.json."""

    backend: str = "Vitis"
    part: str = "xcvu9p-flga2104-2L-e"  # Virtex UltraScale+ VU9P, the device of Govorkova et al.
    clock_period_ns: float = 5.0
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    project_name: str = "myproject"
    precision_overrides: dict[str, str] = field(default_factory=dict)  # layer -> result type, for experiments

    def __post_init__(self):
        if self.backend not in ("Vitis", "Vivado"):
            raise L1adError(f"backend {self.backend!r}: l1ad supports Vitis and Vivado")
        if self.io_type not in ("io_parallel", "io_stream"):
            raise L1adError(f"io_type {self.io_type!r}: choose io_parallel or io_stream")
        if self.strategy not in STRATEGIES:
            raise L1adError(f"strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if self.strategy == "distributed_arithmetic" and (self.io_type != "io_parallel" or self.backend != "Vitis"):
            raise L1adError("strategy distributed_arithmetic needs the Vitis backend and io_parallel (hls4ml 1.3)")
        if self.reuse_factor < 1 or self.clock_period_ns <= 0:
            raise L1adError("reuse_factor must be >= 1 and clock_period_ns > 0")


def score_type(graph: Graph, score: str) -> FixedType:
    """The score's fixed-point type: the quantizer of the QActivation that produces it."""
    node = graph[score]
    if node.kind != "quantizer":
        raise UnsupportedModel(f"score output {score!r} is a {node.source}: end the score in a QActivation (e.g. "
                               "quantized_relu(16, 8)); its quantizer is the score's type")
    return node.quantizer


def with_trigger(model, score: str, threshold: float | str | None):
    """``model`` with a trigger bit appended as last output: score > threshold.

    ``threshold`` is a number (a constant of the firmware, rounded down onto the score's grid so the
    decision is unchanged), "input" (a second input named ``threshold``, of the score's type) or None
    (no trigger).
    """
    if threshold is None:
        return model
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    fixed = score_type(Graph.from_keras(model), score)
    frac, bits = fixed.f, fixed.width
    if frac < 0:
        raise UnsupportedModel(f"score {score!r} has no fractional bits ({fixed.hls()}); the trigger head needs f >= 0")
    score_tensor = model.get_layer(score).output
    inputs = list(model.inputs)
    if threshold == "input":
        cut_input = keras.Input((1,), name="threshold")
        inputs.append(cut_input)
        # a plain (linear) quantizer right after the input: hls4ml's bit-exact pass wants no relu there
        thr = QActivation(quantized_bits(bits, fixed.i, keep_negative=bool(fixed.k), alpha=1),
                          name="threshold_q")(cut_input)
        diff = keras.layers.Subtract(name="trigger_diff")([score_tensor, thr])
        offset = 0.0
    else:  # s > t  <=>  2^F s > floor(2^F t) for scores s on the 2^-F grid; t clipped to the score's range
        t = min(max(float(threshold), fixed.min - fixed.lsb), fixed.max)
        diff, offset = score_tensor, -np.floor(t * 2.0**frac)
    scale = 2.0**frac
    # c = 2^F (score - threshold) is an integer with |c| < 2^(bits + 1)
    cut = QDense(2, name="trigger_cut", kernel_quantizer=quantized_bits(max(frac, 0) + 2, max(frac, 0) + 1, alpha=1),
                 bias_quantizer=quantized_bits(bits + 4, bits + 3, alpha=1))
    # one fractional bit keeps hls4ml on a saturating fixed-point type
    ramp = QActivation(quantized_relu(bits + 3, bits + 2), name="trigger_ramp")
    step = QDense(1, name="trigger_step", use_bias=False, kernel_quantizer=quantized_bits(2, 1, alpha=1))
    bit = QActivation(quantized_relu(1, 1), name="trigger")
    out = bit(step(ramp(cut(diff))))
    cut.set_weights([np.array([[scale, scale]], dtype=np.float32), np.array([offset, offset - 1], dtype=np.float32)])
    step.set_weights([np.array([[1.0], [-1.0]], dtype=np.float32)])
    return keras.Model(inputs, list(model.outputs) + [out], name=f"{model.name}_trigger")


def with_mse_score(model, bits: int, integer: int):
    """A user's QKeras autoencoder (input -> reconstruction as first output) with l1ad's on-chip MSE score.

    The score is the mean of (quantized input - reconstruction)^2 with an unsigned score type <bits, integer>.
    The mean's weight is 1/N; for N not a power of two it is 1/N rounded to 15 fractional bits (a relative
    error below 2^-15 N), a constant that QKeras and the firmware share, so the score is exact either way.
    """
    from tensorflow import keras

    from l1ad.training.config import Fixed
    from l1ad.training.models import squared_error_head

    n = int(model.inputs[0].shape[-1])
    reconstruction = model.outputs[0]
    if int(reconstruction.shape[-1]) != n:
        raise L1adError(f"--add-score needs a first output that reconstructs the input: the model's first output "
                        f"has {reconstruction.shape[-1]} values, its input {n}")
    x = model.get_layer(next(iter(Graph.from_keras(model).input_quantizers.values()))).output
    fmt, weights_fmt = Fixed(bits=bits, integer=integer), Fixed(bits=16, integer=0)
    score = squared_error_head(x, reconstruction, np.full(n, 1.0 / n), True, fmt, weights_fmt)
    return keras.Model(model.inputs, [score, *model.outputs], name=model.name + "_with_score")


def hls_config(model, options: FirmwareOptions) -> dict:
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=options.backend)
    config["Model"]["Strategy"] = options.strategy
    config["Model"]["ReuseFactor"] = options.reuse_factor
    for layer in config["LayerName"].values():
        layer["ReuseFactor"] = options.reuse_factor
        layer["Trace"] = True  # trace code is compiled only outside synthesis (#ifndef __SYNTHESIS__)
    # "distributed_arithmetic" (da4ml's kernels) is spelled out: hls4ml snake-cases "DA" into "d_a" and silently
    # falls back to Latency; the model-level value applies to every Dense layer (vivado_backend.py)
    return config


def hls_model(model, options: FirmwareOptions, output_dir: Path, tb_input: Path | None, tb_output: Path | None,
              graph: Graph):
    """hls4ml's ModelGraph of ``model``, typed by ``graph`` (the model's graph, which learns each node's hls4ml
    counterpart from how hls4ml built its layers), with any precision overrides applied."""
    import hls4ml

    readable = _as_hls4ml_reads(model, graph)
    with contextlib.redirect_stdout(io.StringIO()), _hls_edits() as edits:  # hls4ml narrates every layer on stdout
        hls = hls4ml.converters.convert_from_keras_model(
            readable, hls_config=hls_config(readable, options), output_dir=str(output_dir),
            project_name=options.project_name, backend=options.backend, part=options.part,
            clock_period=options.clock_period_ns, io_type=options.io_type, bit_exact=True,
            input_data_tb=str(tb_input) if tb_input else None, output_data_tb=str(tb_output) if tb_output else None)
    _record_counterparts(graph, edits, [layer.name for layer in hls.get_layers()])
    _own_types(hls, graph)
    _apply_overrides(hls, options.precision_overrides)
    return hls


def _as_hls4ml_reads(model, graph: Graph):
    """The model hls4ml converts: ``model``, or a copy (same layer names and weights) with two kinds of quantizer
    restated as a plain quantized_bits that gives the same values:

    * an input quantizer that applies a relu or a hard tanh (hls4ml 1.3's bit-exact pass raises "unexpected input
      layer chain" there): unsigned for quantized_relu (saturating at 0 is the relu), signed without integer bits
      for quantized_tanh (saturating to [-1, 1 - LSB] is the hard tanh and its saturation);
    * a weight quantizer with a power-of-two scale per output (``alpha='auto_po2'``, what QDense makes of
      alpha=None), which hls4ml would factor into an extra ApplyAlpha layer: the copy holds QKeras' quantized
      weights under a quantized_bits of the graph's constant type, on which it is the identity;
    * a QBatchNormalization, whose quantizers hls4ml records but does not apply to the parameters it folds: the
      copy is a BatchNormalization of the parameters as QKeras quantizes them."""
    inputs = {name: graph[name].result for name in graph.input_quantizers.values() if graph[name].before != "identity"}
    scaled = {node.name: node for node in graph if node.kind == "dense" and _has_po2_scale(model.get_layer(node.name))}
    qbn = {node.name for node in graph if node.source == "QBatchNormalization"}
    if not inputs and not scaled and not qbn:
        return model
    from qkeras import QActivation, quantized_bits
    from tensorflow import keras

    def plain(fixed: FixedType):  # integer bits >= 0: QKeras computes 2**integer with integers
        return quantized_bits(fixed.k + max(fixed.i, 0) + fixed.f, max(fixed.i, 0), alpha=1,
                              keep_negative=bool(fixed.k))

    def clone(layer):
        if layer.name in inputs:
            return QActivation(plain(inputs[layer.name]), name=layer.name)
        config = layer.get_config()
        if layer.name in qbn:
            keep = ("name", "axis", "momentum", "epsilon", "center", "scale")
            return keras.layers.BatchNormalization(**{k: v for k, v in config.items() if k in keep})
        if layer.name in scaled:
            types = scaled[layer.name].constant_types
            config.update({f"{name}_quantizer": plain(fixed) for name, fixed in types.items()})
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.name in qbn:  # its parameters as QKeras computes with them, in BatchNormalization's order
            p = batchnorm_parameters(layer)
            config = layer.get_config()
            copy.get_layer(layer.name).set_weights(
                [p["gamma"]] * bool(config.get("scale", True)) + [p["beta"]] * bool(config.get("center", True))
                + [p["moving_mean"], p["moving_variance"]])
        elif layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    for name, node in scaled.items():
        weights = copy.get_layer(name).get_weights()
        weights[0] = node.constants["kernel"]
        if len(weights) > 1:
            weights[1] = node.constants["bias"]
        copy.get_layer(name).set_weights(weights)
    return copy


def _has_po2_scale(layer) -> bool:
    return any(getattr(q, "alpha", None) == "auto_po2" for q in getattr(layer, "quantizers", None) or [] if q)


def _own_types(hls, graph: Graph) -> None:
    """Every type of the firmware set from the graph, not from hls4ml's derivation: each layer's output is the type
    of the node it holds (a quantizer's, rounding half to even and saturating as QKeras does, or an exact result
    type that never rounds or wraps), accumulators the exact type of the layer's arithmetic, constants types that
    hold their values exactly. hls4ml 1.3 derives several of them otherwise: an unsigned quantized_bits as signed
    (its QKeras parser ignores keep_negative), a type without fractional bits as a truncating, wrapping int<W>
    (with fewer than zero, the LSB wrong too), a Dense result cut to the bits a later quantizer keeps (truncated
    before it rounds). Runs after hls4ml's own passes, which would otherwise derive them again."""
    held = holders(graph)
    for layer in hls.get_layers():
        node = graph[held[layer.name]] if layer.name in held else None
        if node is None:
            raise UnsupportedModel(f"hls4ml layer {layer.name} ({layer.class_name}) holds no layer of the model; "
                                   "l1ad cannot type it")
        layer.get_output_variable().type.precision = _precision(hls, node.result, node.modes)
        own = graph.nodes.get(layer.name)  # the layer's own arithmetic, when a quantizer was merged into it
        accum = layer.get_attr("accum_t")
        if accum is not None and own is not None:
            accum.precision = _precision(hls, own.result, "TRN,WRAP")
        for name, variable in layer.weights.items():
            _own_constant_type(hls, layer, own, name, variable)
        param = layer.get_attr("param_t")  # a LeakyReLU's slope: a power of two, held exactly
        if param is not None and own is not None and "slope" in own.constants:
            param.precision = _precision(hls, constant_bounds(own.constants["slope"], layer.name).fixed(), "TRN,WRAP")


def holders(graph: Graph) -> dict[str, str]:
    """For each hls4ml layer of a converted graph, the node whose values it holds."""
    out = {}
    for node in graph:  # in graph order: a merged quantizer (its values held by the layer before) last
        out.update({layer: node.name for layer in ((node.hls,) if node.hls else ()) + node.hls_copies})
    return out


def _own_constant_type(hls, layer, node, name: str, variable) -> None:
    """A constant's type: the narrowest that holds hls4ml's values exactly, after checking they are the graph's."""
    values = np.asarray(variable.data, dtype=np.float64)
    expected = None if node is None else node.constants.get({"weight": "kernel"}.get(name, name))
    if expected is not None and (expected.shape != values.shape or not np.array_equal(expected, values)):
        raise RuntimeError(f"hls4ml's {name} of layer {layer.name} differs from the model's")
    variable.update_precision(_precision(hls, constant_bounds(values, layer.name).fixed(), "TRN,WRAP"))


def _precision(hls, fixed: FixedType, modes: str):
    from hls4ml.backends.fpga.fpga_types import APTypeConverter

    return APTypeConverter().convert(hls.config.backend.convert_precision_string(fixed.hls(modes)))


def _apply_overrides(hls, overrides: dict[str, str]) -> None:
    from hls4ml.backends.fpga.fpga_types import APTypeConverter

    layers = {layer.name: layer for layer in hls.get_layers()}
    for name, precision in overrides.items():
        if name not in layers:
            raise L1adError(f"precision override for unknown layer {name!r}; layers: {sorted(layers)}")
        parsed = hls.config.backend.convert_precision_string(precision)
        layers[name].get_output_variable().type.precision = APTypeConverter().convert(parsed)


def told_types(hls) -> dict[str, tuple]:
    """Every type l1ad gave hls4ml (layer outputs, accumulators, constants), by its C++ name, as (signed, width,
    integer bits, rounding, saturation)."""
    told = {}
    for layer in hls.get_layers():
        types = [layer.get_output_variable().type, *(v.type for v in layer.weights.values())]
        accum = layer.get_attr("accum_t")
        for t in types + ([accum] if accum is not None else []):
            told[t.name] = _canonical(str(t.precision))
    return told


def check_written_types(project: Path, told: dict[str, tuple]) -> None:
    """Every type l1ad set, as the written firmware declares it (firmware/defines.h), before anything compiles:
    hls4ml 1.3 once wrote a type without fractional bits as ap_int, without its rounding and saturation."""
    written = {name: _canonical(text) for text, name in
               re.findall(r"typedef\s+(ap_u?(?:fixed|int)<[^>]*>)\s+(\w+);", (project / "firmware" / "defines.h").read_text())}
    differ = [f"{name}: {written.get(name, 'not declared')} (l1ad set {want})" for name, want in told.items()
              if written.get(name) != want]
    if differ:
        raise RuntimeError("firmware/defines.h does not declare the types l1ad set: " + "; ".join(differ))


def _canonical(text: str) -> tuple:
    """(signed, width, integer bits, rounding, saturation) of an hls4ml or ap_types type string."""
    match = re.fullmatch(r"(?:ap_)?(u?)(fixed|int)<([^>]*)>", text.replace(" ", ""))
    if match is None:
        raise RuntimeError(f"unexpected type {text!r}")
    unsigned, kind, args = match.groups()
    args = args.split(",")
    width = int(args[0])
    integer = width if kind == "int" else int(args[1])
    modes = [m.removeprefix("AP_") for m in args[2:4]] if kind == "fixed" else []
    return (not unsigned, width, integer, *(modes + ["TRN", "WRAP"][len(modes):]))


@contextlib.contextmanager
def _hls_edits():
    """Record how hls4ml builds its layers while it converts: the layers its parser makes (named after a Keras layer,
    or split off one, e.g. a Dense layer's activation), and every layer it later removes (a quantizer merged into the
    layer before it, which then holds the quantized values) or inserts. Each entry: (what, layer, the layer that
    feeds it). hls4ml's ModelGraph is patched for the duration of the conversion only."""
    from hls4ml.model.graph import ModelGraph

    edits = []
    make, remove, insert = ModelGraph._make_graph, ModelGraph.remove_node, ModelGraph.insert_node

    def producer(hls, tensor):
        return next((layer.name for layer in hls.graph.values() if tensor in layer.outputs), None)

    def made(self, layer_list):
        make(self, layer_list)
        edits.extend(("made", layer.name, producer(self, layer.inputs[0]) if layer.inputs else None)
                     for layer in self.graph.values())

    def removed(self, node):
        feeder = producer(self, node.inputs[0]) if node.inputs else None
        remove(self, node)
        edits.append(("merged", node.name, feeder))

    def inserted(self, node, *args, **kwargs):
        feeder = producer(self, node.inputs[0]) if node.inputs else None
        insert(self, node, *args, **kwargs)
        edits.append(("inserted", node.name, feeder))

    ModelGraph._make_graph, ModelGraph.remove_node, ModelGraph.insert_node = made, removed, inserted
    try:
        yield edits
    finally:
        ModelGraph._make_graph, ModelGraph.remove_node, ModelGraph.insert_node = make, remove, insert


def _record_counterparts(graph: Graph, edits: list[tuple], final: list[str]) -> None:
    """Set each node's ``hls``, the hls4ml layer that ends up holding its values, and ``hls_copies``, later layers
    that hold the same values (a Flatten's Reshape)."""
    holds: dict[str, str | None] = {}  # hls4ml layer -> the node whose values it holds
    for what, layer, feeder in edits:
        if what == "made":  # a Keras layer's own, or split off the layer feeding it (its linear activation)
            holds[layer] = layer if layer in graph.nodes else holds.get(feeder)
        elif what == "inserted":  # an identity after its feeder
            holds[layer] = holds.get(feeder)
        elif feeder is not None:  # merged: the feeder now holds the removed layer's values
            holds[feeder] = holds.pop(layer, None)
        else:
            holds.pop(layer, None)
    for node in graph:
        node.hls, node.hls_copies = None, ()
    for layer in final:
        node = holds.get(layer)
        if node is not None and graph[node].hls is None:
            graph[node].hls = layer
        elif node is not None:
            graph[node].hls_copies += (layer,)


def layer_table(hls) -> list[dict]:
    """Every hls4ml layer with its output type (and accumulator type), for audits and reports."""
    rows = []
    for layer in hls.get_layers():
        var = layer.get_output_variable()
        accum = layer.get_attr("accum_t")
        rows.append({"name": layer.name, "class": layer.class_name, "size": int(np.prod(var.shape)),
                     "inputs": list(layer.inputs), "type": str(var.type.precision),
                     "accum_type": str(accum.precision) if accum is not None else None})
    return rows


def _write_dat(path: Path, arrays: list[np.ndarray], fmt: str) -> None:
    np.savetxt(path, np.column_stack([a.reshape(len(a), -1) for a in arrays]), fmt=fmt, delimiter=" ")


def convert_model(model, out: str | Path, options: FirmwareOptions | None = None, tb_inputs=None,
                  output_labels: list[str] | None = None, info: dict | None = None) -> Path:
    """Write the hls4ml project of ``model`` to ``out``; return the folder.

    ``tb_inputs`` (an array, or a list for several inputs) go to ``tb_data/`` with their exact expected
    outputs, for the project's own test bench and a vendor C simulation. The project is built beside
    ``out`` and swapped in only when complete; ``out`` is replaced only if l1ad made it.
    """
    options = options or FirmwareOptions()
    graph = Graph.from_keras(model)
    out = Path(out)
    staging = staging_dir(out)
    try:
        tb_in = tb_out = None
        if tb_inputs is not None:
            # the test bench reads float32: the expected outputs are those of the float32 values it reads
            xs = [np.asarray(a, dtype=np.float32) for a in (tb_inputs if isinstance(tb_inputs, (list, tuple))
                                                             else [tb_inputs])]
            tb_in, tb_out = staging / "tb_input.dat", staging / "tb_output.dat"
            _write_dat(tb_in, list(xs), "%.9g")  # 9 digits round-trip float32 exactly
            _write_dat(tb_out, reference.outputs(graph, list(xs)), "%.17g")
        hls = hls_model(model, options, staging / "project", tb_in, tb_out, graph=graph)
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
        model.save(str(staging / "project" / "l1ad_firmware_model.h5"), include_optimizer=False)  # for layer traces
        graph.save(staging / "project" / GRAPH_JSON)
        outputs = hls.get_output_variables()
        doc = {
            "project_id": uuid.uuid4().hex,
            "options": asdict(options),
            "inputs": graph.inputs,
            "input_sizes": [int(v.size()) for v in hls.get_input_variables()],
            "input_types": [str(v.type.precision) for v in hls.get_input_variables()],
            "output_names": graph.outputs,
            "outputs": output_labels or graph.outputs,
            "output_types": [str(v.type.precision) for v in outputs],
            "output_sizes": [int(v.size()) for v in outputs],
            "output_variables": [v.name for v in outputs],
            "layers": layer_table(hls),
            "tb_events": int(len(xs[0])) if tb_inputs is not None else 0,
            "hls4ml_version": _version("hls4ml"),
            **(info or {}),
        }
        Firmware.model_validate(doc).save(staging / "project" / PROJECT_INFO)
        commit_dir(staging / "project", out, "hls4ml project", {"project_id": doc["project_id"]})
    finally:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return out


def project_info(project_dir: str | Path) -> dict:
    path = Path(project_dir) / PROJECT_INFO
    if not path.exists():
        raise L1adError(f"{project_dir}: not a project written by l1ad (no {PROJECT_INFO})")
    return json.loads(path.read_text())


def project_model(project_dir: str | Path):
    """The Keras model a project was converted from (saved inside it; hls4ml's layer trace converts it again)."""
    from l1ad.training.models import load

    return load(Path(project_dir) / "l1ad_firmware_model.h5")


def project_graph(project_dir: str | Path) -> Graph:
    """The graph of the model a project was converted from, with each node's hls4ml counterpart (no TensorFlow)."""
    path = Path(project_dir) / GRAPH_JSON
    if not path.exists():
        raise L1adError(f"{project_dir}: no {GRAPH_JSON}; the project was written by an older l1ad, convert again")
    return Graph.load(path)


def _print_every_digit(project: Path, name: str) -> None:
    """hls4ml's test bench prints its results with the stream's default 6 significant digits, too few for e.g. a
    ufixed<18,14> score above 1,000 (AXOL1TL's); ap_fixed prints as many decimal digits as the stream's precision
    asks, so the results log asks for 40 (every value up to 2^53 and its fractional bits, exactly)."""
    bench = project / f"{name}_test.cpp"
    text = bench.read_text()
    opened = "std::ofstream fout(RESULTS_LOG);"
    if opened not in text:
        raise RuntimeError(f"{bench}: hls4ml's test bench no longer opens {opened!r}; l1ad cannot set its precision")
    bench.write_text(text.replace(opened, f"{opened}\n    fout.precision(40);  // l1ad: every digit", 1))


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

"""``l1ad convert``: the QKeras scoring model, score included, as an hls4ml project.

The firmware model is the trained QKeras model with its outputs chosen (score, reconstruction) and,
optionally, a trigger head: ``trigger = quantized_relu(1, 1)(2^F (score - threshold))``, where F is
the score's fractional bits. The argument is an integer, so the head outputs exactly 1 when
score > threshold and 0 otherwise, in QKeras and in the firmware alike, from standard layers only.

hls4ml derives every fixed-point type from the quantizers (``bit_exact=True``) and gets a per-layer
config (``granularity='name'``); without it the input and score quantizers are ignored.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from l1ad.training.config import load_config
from l1ad.training.datasets import Scaler, split
from l1ad.training.evaluate import threshold_at
from l1ad.training.features import BACKGROUND, LABEL
from l1ad.training.files import read_json, write_json
from l1ad.training.train import load_data, require_complete

from . import reference
from .vendor import write_build_options

OUTPUTS = ("score", "reconstruction", "trigger")
FIRMWARE_MODEL = "firmware_model.h5"
FIRMWARE_JSON = "firmware.json"


@dataclass
class FirmwareOptions:
    """hls4ml settings; every field is recorded in runs/NAME/firmware.json."""

    backend: str = "Vitis"
    part: str = "xcvu9p-flga2104-2L-e"  # Virtex UltraScale+ VU9P, the device of Govorkova et al.
    clock_period_ns: float = 5.0
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    outputs: tuple[str, ...] = OUTPUTS
    trigger_background_efficiency: float = 1e-3
    project_name: str = "myproject"
    precision_overrides: dict[str, str] = field(default_factory=dict)  # layer -> result type, for experiments

    def __post_init__(self):
        self.outputs = tuple(self.outputs)
        unknown = [o for o in self.outputs if o not in OUTPUTS]
        if unknown or "score" not in self.outputs:
            raise ValueError(f"outputs {list(self.outputs)}: choose from {list(OUTPUTS)}, 'score' included")
        if self.backend not in ("Vitis", "Vivado"):
            raise ValueError(f"backend {self.backend!r}: l1ad supports Vitis and Vivado")
        if self.io_type not in ("io_parallel", "io_stream"):
            raise ValueError(f"io_type {self.io_type!r}: choose io_parallel or io_stream")
        if self.strategy not in ("Latency", "Resource"):
            raise ValueError(f"strategy {self.strategy!r}: choose Latency or Resource")
        if self.reuse_factor < 1 or self.clock_period_ns <= 0:
            raise ValueError("reuse_factor must be >= 1 and clock_period_ns > 0")


def default_project_dir(run: Path) -> Path:
    return Path("hls_projects") / Path(run).resolve().name


def trigger_head(score, score_bits: int, score_integer: int, threshold: float):
    """Layers computing the trigger bit (score > threshold) from the score tensor.

    With c = 2^F (score - threshold), an integer (F: the score's fractional bits), the bit is
    relu(c) - relu(c - 1): 0 for c <= 0, 1 for c >= 1. Every step is exact integer arithmetic. (A
    single clip to [0, 1] would need ufixed<1,1>, which hls4ml 1.3 turns into a wrapping ap_uint<1>.)
    """
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    frac = score_bits - score_integer
    scale, offset = 2.0**frac, -threshold * 2.0**frac  # both integers
    cut = QDense(2, name="trigger_cut", kernel_quantizer=quantized_bits(frac + 2, frac + 1, alpha=1),
                 bias_quantizer=quantized_bits(score_bits + 3, score_bits + 2, alpha=1))
    # |c| < 2^score_bits; one fractional bit keeps hls4ml on a saturating fixed-point type
    ramp = QActivation(quantized_relu(score_bits + 2, score_bits + 1), name="trigger_ramp")
    step = QDense(1, name="trigger_step", use_bias=False, kernel_quantizer=quantized_bits(2, 1, alpha=1))
    bit = QActivation(quantized_relu(1, 1), name="trigger")
    out = bit(step(ramp(cut(score))))
    cut.set_weights([np.array([[scale, scale]], dtype=np.float32), np.array([offset, offset - 1], dtype=np.float32)])
    step.set_weights([np.array([[1.0], [-1.0]], dtype=np.float32)])
    return out


def firmware_model(qmodel, outputs: tuple[str, ...], score_bits: int, score_integer: int,
                   threshold: float | None):
    """The model hls4ml converts: chosen outputs of the QKeras scoring model, plus the trigger head."""
    from tensorflow import keras

    score, reconstruction = qmodel.outputs
    chosen = [score] + ([reconstruction] if "reconstruction" in outputs else [])
    if "trigger" in outputs:
        chosen.append(trigger_head(score, score_bits, score_integer, threshold))
    return keras.Model(qmodel.input, chosen, name="l1ad_firmware")


def hls_config(model, options: FirmwareOptions) -> dict:
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=options.backend)
    config["Model"]["Strategy"] = options.strategy
    config["Model"]["ReuseFactor"] = options.reuse_factor
    for name, layer in config["LayerName"].items():
        layer["ReuseFactor"] = options.reuse_factor
        layer["Trace"] = True  # trace code is compiled only outside synthesis (#ifndef __SYNTHESIS__)
    return config


def build_hls_model(model, options: FirmwareOptions, output_dir: Path, tb_input: Path | None = None,
                    tb_output: Path | None = None):
    import hls4ml

    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml narrates every layer on stdout
        hls_model = hls4ml.converters.convert_from_keras_model(
            model, hls_config=hls_config(model, options), output_dir=str(output_dir),
            project_name=options.project_name, backend=options.backend, part=options.part,
            clock_period=options.clock_period_ns, io_type=options.io_type, bit_exact=True,
            input_data_tb=str(tb_input) if tb_input else None, output_data_tb=str(tb_output) if tb_output else None)
    # overrides go in after the bit-exact pass, which would otherwise re-derive them
    from hls4ml.backends.fpga.fpga_types import APTypeConverter

    layers = {layer.name: layer for layer in hls_model.get_layers()}
    for name, precision in options.precision_overrides.items():
        if name not in layers:
            raise ValueError(f"precision override for unknown layer {name!r}; layers: {sorted(layers)}")
        parsed = hls_model.config.backend.convert_precision_string(precision)
        layers[name].get_output_variable().type.precision = APTypeConverter().convert(parsed)
    return hls_model


def layer_table(hls_model) -> list[dict]:
    """Every hls4ml layer with its output type (and accumulator type), for audits and reports."""
    rows = []
    for layer in hls_model.get_layers():
        var = layer.get_output_variable()
        accum = layer.get_attr("accum_t")
        rows.append({"name": layer.name, "class": layer.class_name, "size": int(np.prod(var.shape)),
                     "inputs": list(layer.inputs), "type": str(var.type.precision),
                     "accum_type": str(accum.precision) if accum is not None else None})
    return rows


def test_inputs(run: Path, data: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scaled test features, labels, scaled background validation features) of a run."""
    config = load_config(run / "config.yaml")
    table = load_data(data if data is not None else read_json(run / "data.json")["path"])[0]
    parts = split(table, config.seed, config.data.val_fraction, config.data.test_fraction)
    scaler = Scaler.load(run / "scaler.json")
    val_bg = parts.val[parts.val[LABEL].isin(BACKGROUND)]
    return scaler.transform(parts.test), parts.test[LABEL].to_numpy(), scaler.transform(val_bg)


def _write_dat(path: Path, arrays: list[np.ndarray], fmt: str) -> None:
    np.savetxt(path, np.column_stack([a.reshape(len(a), -1) for a in arrays]), fmt=fmt, delimiter=" ")


def convert(run: str | Path, project_dir: str | Path | None = None, options: FirmwareOptions | None = None) -> Path:
    """Write the hls4ml project of a finished run; return the project folder."""
    from l1ad.training import models

    run = Path(run)
    require_complete(run)
    options = options or FirmwareOptions()
    project_dir = Path(project_dir) if project_dir else default_project_dir(run)
    config = load_config(run / "config.yaml")
    qmodel = models.load(run / "qkeras_model.h5")
    x_test, _, x_val_bg = test_inputs(run)

    threshold = None
    if "trigger" in options.outputs:
        # chosen on validation background, never on the test jets the trigger is judged on
        val_scores = reference.outputs(qmodel, x_val_bg)[0][:, 0]
        threshold = threshold_at(val_scores, options.trigger_background_efficiency)
    fmodel = firmware_model(qmodel, options.outputs, config.quantization.score.bits,
                            config.quantization.score.integer, threshold)
    expected = reference.outputs(fmodel, x_test)

    # build in a temporary folder beside the target, then swap it in: no half-written project
    project_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{project_dir.name}.part-", dir=project_dir.parent))
    try:
        tb_in, tb_out = staging / "tb_input.dat", staging / "tb_output.dat"
        _write_dat(tb_in, [x_test], "%.9g")  # 9 digits round-trip float32 exactly
        _write_dat(tb_out, expected, "%.17g")
        hls_model = build_hls_model(fmodel, options, staging / "project", tb_in, tb_out)
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model.write()
        _point_config_at(staging / "project", project_dir, {tb_in: "tb_input_features.dat",
                                                            tb_out: "tb_output_predictions.dat"})
        if options.backend == "Vitis":  # `vitis_hls -f build_prj.tcl` as it is: csim and C synthesis, no cosim
            write_build_options(staging / "project", reset=True, csim=True, synth=True)
        fmodel.save(str(staging / "project" / "l1ad_firmware_model.h5"), include_optimizer=False)
        info = {
            "run": str(run.resolve()),
            "options": asdict(options),
            "threshold": threshold,
            "threshold_source": (f"exact QKeras scores of {len(x_val_bg)} validation background jets at background "
                                 f"efficiency {options.trigger_background_efficiency}") if threshold is not None else None,
            "outputs": list(options.outputs),
            "output_names": list(fmodel.output_names),
            "output_types": [str(v.type.precision) for v in hls_model.get_output_variables()],
            "output_sizes": [int(v.size()) for v in hls_model.get_output_variables()],
            "output_variables": [v.name for v in hls_model.get_output_variables()],
            "layers": layer_table(hls_model),
            "n_test_jets": int(len(x_test)),
            "hls4ml_version": _version("hls4ml"),
        }
        write_json(staging / "project" / "l1ad.json", info)
        if project_dir.exists():
            shutil.rmtree(project_dir)
        os.replace(staging / "project", project_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fmodel.save(str(run / FIRMWARE_MODEL), include_optimizer=False)
    write_json(run / FIRMWARE_JSON, {**info, "project_dir": str(project_dir.resolve())})
    return project_dir


def _point_config_at(written: Path, final: Path, test_bench: dict[Path, str]) -> None:
    """hls4ml records the folder it wrote to in hls4ml_config.yml; the project is moved, so name where it lands."""
    path = written / "hls4ml_config.yml"
    text = path.read_text()
    for old, name in test_bench.items():  # the staged inputs are deleted; hls4ml copied them into tb_data/
        text = text.replace(str(old), str(final.resolve() / "tb_data" / name))
    path.write_text(text.replace(str(written), str(final.resolve())))


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def load_firmware(run: str | Path) -> dict:
    run = Path(run)
    path = run / FIRMWARE_JSON
    if not path.exists():
        raise FileNotFoundError(f"{run} has no firmware yet; run: l1ad convert {run}")
    info = read_json(path)
    if not Path(info["project_dir"]).exists():
        raise FileNotFoundError(f"the HLS project {info['project_dir']} of {run} is gone; run: l1ad convert {run}")
    return info

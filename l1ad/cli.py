"""The ``l1ad`` command: one entry point for data, training, firmware and reports.

Exit codes: 0 success; 1 a problem with the user's input or environment (one line saying which file or
field and what to do) or a check that failed; 2 a usage error (bad option). Anything else is a bug and
prints its traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Optional

import typer

from l1ad.common.errors import L1adError
from l1ad.common.device import DEFAULT_CLOCK_MHZ, DEFAULT_PART, period_ns
from l1ad.common.processes import quiet_libraries

app = typer.Typer(help="Build FPGA anomaly-detection triggers from quantized jet autoencoders.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Fetch, inspect and convert jet datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DataOption = typer.Option(None, "--data", help="Jet file or directory (default: the embedded sample).")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"l1ad {version('l1ad')} (hls4ml {version('hls4ml')}, QKeras {version('qkeras')}, "
                   f"da4ml {version('da4ml')}, TensorFlow {version('tensorflow')})")
        raise typer.Exit()


@app.callback()
def _options(show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                               help="Print l1ad's version and its toolchain's, and exit.")) -> None:
    """Build FPGA anomaly-detection triggers from quantized jet autoencoders."""


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)


def _run(step):
    """Run a step; a problem with the user's input or environment becomes one line and exit code 1."""
    try:
        return step()
    except L1adError as err:
        _fail(str(err))


def _parse_counts(text: str) -> dict[str, int]:
    from l1ad.training.features import CLASSES

    try:
        if "=" not in text:
            return dict.fromkeys(CLASSES, int(text))
        counts = {}
        for item in text.split(","):
            name, _, number = item.partition("=")
            counts[name.strip()] = int(number)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: give an integer or 'class=count,...'", param_hint="--jets-per-class")
    if any(n < 0 for n in counts.values()):
        raise typer.BadParameter("counts must not be negative", param_hint="--jets-per-class")
    return counts


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Output parquet file."),
    jets_per_class: str = typer.Option(..., "--jets-per-class",
                                       help="N for every class, or per class: 'g=500,q=500,t=100,w=100,z=100'."),
    seed: int = typer.Option(..., "--seed", help="Seed: same seed and counts give an identical file."),
    preset: str = typer.Option("official", "--preset", help="Generator preset: official (R = 0.4 with the official "
                               "production's detector response) or particle08 (particle level, R = 0.8)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (default: all cores)."),
    address: Optional[str] = typer.Option(None, "--address", help="Run the chunks as Ray tasks: 'local' (Ray on this "
                                           "machine) or a cluster address such as ray://HOST:10001."),
):
    """Simulate jets with Pythia 8 + FastJet (+ detector response) and write the 16 hls4ml features.

    Finished chunks are kept in OUT.chunks/ while it runs: the same command, rerun after an interruption,
    resumes from them and gives the same file; the folder is removed once the file is written."""
    from l1ad.training.io import write_jets
    from l1ad.training.jetgen import ChunkCache, generate as run_generation

    counts = _parse_counts(jets_per_class)
    chunk_dir = out.with_name(out.name + ".chunks")
    table, provenance = _run(lambda: run_generation(counts, seed=seed, workers=workers, preset=preset,
                                                    address=address, chunk_dir=chunk_dir))
    _run(lambda: write_jets(table, out, provenance))
    _run(lambda: ChunkCache.remove(chunk_dir))
    typer.echo(f"wrote {len(table)} jets to {out}: " + ", ".join(f"{c} {n}" for c, n in
                                                              table["jet_type"].value_counts(sort=False).items()))
    typer.echo(f"next: l1ad train --data {out} --out runs/NAME (or, background only: l1ad rates runs/NAME "
               f"--background {out})")


@data_app.command("fetch")
def data_fetch():
    """Download the official dataset (OpenML 42468) into the local cache."""
    from l1ad.training.fetch import fetch_openml_jets

    path = _run(fetch_openml_jets)
    typer.echo(f"cached at {path}; use it with --data {path}")


@data_app.command("info")
def data_info(path: Optional[Path] = typer.Argument(None, help="Jet file or directory (default: embedded sample).")):
    """Validate a jet file; print class counts, per-class medians beside the official data's, provenance."""
    from l1ad.training.datasets import DEFAULT_SAMPLE
    from l1ad.training.io import load_jets, read_provenance
    from l1ad.training.official import comparison_lines

    path = path or DEFAULT_SAMPLE
    table = _run(lambda: load_jets(path, require=()))
    typer.echo(f"{path}: {len(table)} jets")
    for label, n in table["jet_type"].value_counts().sort_index().items():
        typer.echo(f"  {label}: {n}")
    for line in comparison_lines(table):
        typer.echo(line)
    provenance = read_provenance(path) if path.is_file() else {}
    if provenance:
        typer.echo("provenance: " + json.dumps(provenance, indent=1, sort_keys=True))


@data_app.command("convert")
def data_convert(source: Path = typer.Argument(..., help="Jet file or directory in any supported format."),
                 out: Path = typer.Argument(..., help="l1ad parquet file to write.")):
    """Validate jets in any supported format and write them as an l1ad parquet file."""
    from l1ad.training.io import load_jets, write_jets

    table = _run(lambda: load_jets(source, require=()))
    _run(lambda: write_jets(table, out, {"source": str(source.resolve()), "converted_by": "l1ad data convert"}))
    typer.echo(f"wrote {len(table)} jets to {out}; next: l1ad train --data {out} --out runs/NAME")


@data_app.command("bootstrap")
def data_bootstrap(out: Path = typer.Argument(..., help="l1ad parquet file to write."),
                   jets: int = typer.Option(1_000_000, "--jets", help="Number of jets to draw."),
                   seed: int = typer.Option(0, "--seed", help="Seed of the draw."),
                   data: Optional[Path] = DataOption):
    """Draw jets with replacement from a sample (default: embedded) into a large file, e.g. for benchmarks."""
    from l1ad.training.datasets import bootstrap

    table = _run(lambda: bootstrap(data, jets, seed, out))
    typer.echo(f"wrote {len(table):,} jets to {out}; next: l1ad validate runs/NAME --data {out} --all-jets")


@app.command()
def train(
    out: Path = typer.Option(..., "--out", help="Run folder to create, e.g. runs/baseline."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config (fields not given keep defaults)."),
    data: Optional[Path] = DataOption,
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    restart: bool = typer.Option(False, "--restart", help="Delete the run folder's contents and start over."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw plots/ (a few seconds per run)."),
):
    """Train the float and the QKeras autoencoder on background jets, then evaluate both."""
    from l1ad.pipeline import training_workers
    from l1ad.training.config import load_config
    from l1ad.training.train import train as run_training

    cfg = _run(lambda: load_config(config))
    run = _run(lambda: run_training(cfg, data, out, resume=resume, restart=restart, figures=figures,
                                    workers=training_workers()))
    _print_metrics(run / "metrics.json")
    typer.echo(f"next: l1ad convert {run}")


ROUNDED = {"batchnorm": ("BatchNormalization", "scale and bias", "--batchnorm-type"),
           "leaky_relu": ("LeakyReLU", "slope", "--leaky-slope-type"),
           "average_pool": ("average pool", "1/N", "--average-type")}


def rounding_line(key: str, doc: dict, chosen: bool) -> str:
    """What import did to a layer kind's float constants (import.json's ``batchnorm`` or ``leaky_relu``)."""
    kind, what, option = ROUNDED[key]
    layers = ", ".join(doc["layers"])
    if doc["type"] == "exact":
        return f"{kind} {layers}: Keras' float32 {what}, held exactly (wide datapaths)"
    agree = "; ".join(f"{name}: {100 * v['values_identical']:.2f}% of values identical "
                      f"({100 * v['events_identical']:.2f}% of events in every value), max |difference| "
                      f"{v['max_abs_difference']:.3g}" for name, v in doc["vs_keras"].items())
    default = "" if chosen else f" (the default, as hls4ml types it; {option} to choose, exact to keep float32)"
    return f"{kind} {layers}: {what} rounded to {doc['type']}{default}; against Keras' own {kind} on these inputs: {agree}"


@app.command("import")
def import_model(
    model: Path = typer.Argument(..., help="QKeras (Keras 2) model file (.h5)."),
    inputs: Path = typer.Option(..., "--inputs", help="Inputs as the FPGA receives them (.npy, .parquet or .csv), "
                                "or raw values with --scaler."),
    name: Optional[str] = typer.Option(None, "--name", help="Run name: runs/NAME (default: the model file's name)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="One label per input row (.npy, .csv or .parquet)."),
    background: str = typer.Option("g,q", "--background", help="Labels that count as background, comma separated."),
    scaler: Optional[Path] = typer.Option(None, "--scaler", help="An l1ad scaler.json (its whole transform: log, "
                                          "power, core whitening), or any JSON with 'mean' and 'scale' lists: "
                                          "(x - mean) / scale."),
    score: Optional[str] = typer.Option(None, "--score", help="Name of the score output (default: the only output "
                                        "of width 1)."),
    add_score: Optional[str] = typer.Option(None, "--add-score", help="Append l1ad's on-chip MSE score head with this "
                                            "unsigned score type BITS,INTEGER (e.g. 16,8) to a model that outputs a "
                                            "reconstruction of its input."),
    input_type: Optional[str] = typer.Option(None, "--input-type", help="The type the FPGA receives, for a model "
                                             "without a QActivation after its input, e.g. 'ap_fixed<16,6>' (the "
                                             "default); inputs are rounded half to even and saturated to it."),
    batchnorm_type: Optional[str] = typer.Option(None, "--batchnorm-type", help="The type of the folded scale and "
                                                 "bias of float BatchNormalization layers, e.g. 'ap_fixed<16,6>' (the "
                                                 "default, as hls4ml types them), rounded half to even; 'exact' keeps "
                                                 "Keras' float32 values (wide datapaths)."),
    leaky_slope_type: Optional[str] = typer.Option(None, "--leaky-slope-type", help="The type a LeakyReLU slope "
                                                   "that is not a power of two is rounded to (half to even), e.g. "
                                                   "'ap_fixed<16,6>' (the default, as hls4ml types it: 0.3 becomes "
                                                   "307/1024); 'exact' keeps Keras' float32 value (24 fractional bits for 0.3)."),
    average_type: Optional[str] = typer.Option(None, "--average-type", help="The type 1/N of a Keras average pool "
                                               "over N values, N not a power of two, is rounded to (half to even; "
                                               "the pool becomes a depthwise convolution with that weight), e.g. "
                                               "'ap_fixed<16,6>' (the default)."),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="The shape of one event, e.g. 18,14,1, for a "
                                              "model whose input has one (an image, a sequence) and a table of "
                                              "flat rows (row-major, channels last); a .npy may hold the shape "
                                              "itself."),
    out_root: Path = typer.Option(Path("runs"), "--runs", help="Folder of run folders."),
):
    """Turn your own QKeras model and inputs into a run folder; then convert, validate, rtl and report work on it."""
    from l1ad.importing import import_model as run_import

    shape = None
    if input_shape:
        try:
            shape = tuple(int(v) for v in input_shape.split(","))
            assert all(v > 0 for v in shape)
        except (ValueError, AssertionError):
            raise typer.BadParameter(f"{input_shape!r}: give positive sizes, e.g. 18,14,1", param_hint="--input-shape")
    score_bits = None
    if add_score:
        try:
            score_bits = tuple(int(v) for v in add_score.split(","))
            assert len(score_bits) == 2
        except (ValueError, AssertionError):
            raise typer.BadParameter(f"{add_score!r}: give BITS,INTEGER, e.g. 16,8", param_hint="--add-score")
    run = _run(lambda: run_import(model, inputs, out_root / (name or model.stem), labels=labels,
                                  background=tuple(b.strip() for b in background.split(",")), scaler=scaler,
                                  score=score, add_score=score_bits, input_type=input_type,
                                  constant_types={"batchnorm": batchnorm_type, "leaky_relu": leaky_slope_type,
                                                  "average_pool": average_type},
                                  input_shape=shape))
    doc = json.loads((run / "import.json").read_text())
    stated = doc["input_type"]
    if stated:
        typer.echo(f"no quantizer after the model's input: the FPGA receives {stated['type']} ({stated['layer']}, "
                   f"rounding half to even, saturating{'; the default: --input-type to choose' if not input_type else ''}"
                   f"): {stated['changed']:,} of {stated['values']:,} input values changed by it, "
                   f"{stated['saturated']:,} saturated")
    for key, chosen in (("batchnorm", batchnorm_type), ("leaky_relu", leaky_slope_type),
                        ("average_pool", average_type)):
        if doc.get(key):
            typer.echo(rounding_line(key, doc[key], chosen=chosen is not None))
    typer.echo(f"run folder {run}; next: l1ad convert {run} && l1ad validate {run} && l1ad rtl {run}")


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="A finished run folder."),
    data: Optional[Path] = DataOption,
    all_jets: bool = typer.Option(False, "--all-jets", help="Score every jet of --data, not only its test split."),
):
    """Re-score an existing run on its own or other data (metrics and plots under runs/NAME/evaluations/)."""
    from l1ad.runs import Run
    from l1ad.training.train import evaluate as run_evaluation

    jets = _run(lambda: Run(run).test_jets(data, all_jets))
    name = (data.stem if data else "own") + ("-all" if all_jets else "-test")
    out_dir = run / "evaluations" / name
    _run(lambda: run_evaluation(run, jets, out_dir=out_dir,
                                source=f"Keras float32 predict on {'all' if all_jets else 'the test split of'} "
                                       f"{data or 'the training data'}"))
    _print_metrics(out_dir / "metrics.json")


@app.command()
def convert(
    run: Path = typer.Argument(..., help="A finished run folder."),
    out: Optional[Path] = typer.Option(None, "--out", help="Project folder (default: hls_projects/NAME-<hash>)."),
    backend: str = typer.Option("Vitis", help="hls4ml backend: Vitis or Vivado."),
    part: str = typer.Option(DEFAULT_PART, help="FPGA part."),
    clock_period: float = typer.Option(period_ns(DEFAULT_CLOCK_MHZ), "--clock-period", help="Clock period in ns."),
    io_type: str = typer.Option("io_parallel", "--io-type", help="io_parallel or io_stream."),
    strategy: str = typer.Option("Latency", help="Latency, Resource or distributed_arithmetic (da4ml kernels)."),
    reuse_factor: int = typer.Option(1, "--reuse-factor", help="hls4ml reuse factor (1: fully parallel)."),
    outputs: Optional[str] = typer.Option(None, help="Top-function outputs, comma separated (default: all model "
                                          "outputs and the trigger)."),
    trigger_eff: float = typer.Option(1e-3, "--trigger-background-efficiency",
                                      help="Background efficiency that sets the trigger threshold."),
    threshold: str = typer.Option("constant", "--threshold", help="constant (in the firmware) or input (a second "
                                  "input of the top function, changeable without new firmware)."),
    tb_events: int = typer.Option(2000, "--tb-events", help="Test events written to tb_data/ for test benches."),
    precision: list[str] = typer.Option([], "--precision", help="Override a layer's result type, LAYER=TYPE "
                                        "(experiments only: breaks bit-exactness on purpose)."),
):
    """Write the hls4ml project of a run (score computed on chip, trigger bit)."""
    from l1ad.firmware.convert import FirmwareOptions
    from l1ad.stages import convert_run

    overrides = dict(item.split("=", 1) for item in precision if "=" in item)
    if len(overrides) != len(precision):
        raise typer.BadParameter("give LAYER=TYPE, e.g. --precision mean=fixed<20,8>", param_hint="--precision")
    options = _run(lambda: FirmwareOptions(backend=backend, part=part, clock_period_ns=clock_period, io_type=io_type,
                                           strategy=strategy, reuse_factor=reuse_factor, precision_overrides=overrides))
    chosen = tuple(o.strip() for o in outputs.split(",")) if outputs else None
    project = _run(lambda: convert_run(run, out, options, outputs=chosen, trigger_efficiency=trigger_eff,
                                       threshold_mode=threshold, tb_events=tb_events))
    typer.echo(f"hls4ml project written to {project} (build with: cd {project} && vitis_hls -f build_prj.tcl)")
    typer.echo(f"next: l1ad validate {run}")


@app.command()
def csim(run: Path = typer.Argument(..., help="A converted run folder.")):
    """The test bench events through both C simulations (in process and the project's test bench)."""
    from l1ad.firmware.csim import Csim, run_testbench, testbench_inputs
    from l1ad.runs import Run
    from l1ad.stages import firmware_record

    info = _run(lambda: firmware_record(Run(run)))
    project = info.project_dir
    x = testbench_inputs(project)
    inproc, bench = _run(lambda: Csim(project).predict_exact(x)), _run(lambda: run_testbench(project))
    agree = True
    for name, a, b in zip(info.outputs, inproc, bench):
        same = int(a.identical(b).sum()) if len(a.num) == len(b.num) else 0
        agree &= same == len(a.num)
        typer.echo(f"{name:15} in-process vs test bench: {same}/{len(a.num)} events identical (compared as exact "
                   f"integers, widest value {max(a.widest_bits(), b.widest_bits())} bits)")
    if not agree:
        _fail("the two C simulations disagree")


@app.command()
def validate(run: Path = typer.Argument(..., help="A converted run folder."),
             data: Optional[Path] = typer.Option(None, "--data", help="Validate on the test split (or, with "
                                                 "--all-jets, every jet) of another jet file."),
             all_jets: bool = typer.Option(False, "--all-jets", help="With --data: every jet of the file."),
             testbench: bool = typer.Option(True, "--testbench/--no-testbench", help="Also run the project's own "
                                            "test bench on its tb_data events."),
             trace: str = typer.Option("auto", "--trace", help="Layer trace: auto (only when an output differs), "
                                       "always, or never."),
             trace_events: int = typer.Option(500, "--trace-events", help="Events traced layer by layer.")):
    """Check bit-exactness on every event, audit fixed-point types, compare physics; write validation.json."""
    from l1ad.render import validation_lines
    from l1ad.stages import validate_run, validation_folder

    if trace not in ("auto", "always", "never"):
        raise typer.BadParameter(f"{trace!r}: choose auto, always or never", param_hint="--trace")
    doc = _run(lambda: validate_run(run, data=data, all_events=all_jets, testbench=testbench, trace=trace,
                                    trace_events=trace_events))
    _echo(validation_lines(doc))
    if not doc.passed:
        _fail("validation failed: " + ", ".join(k for k, ok in doc.checks.items() if not ok))
    typer.echo(f"written: {validation_folder(run, data, all_jets) / 'validation.json'}; next: l1ad rtl {run}")


@app.command()
def rtl(
    run: Path = typer.Argument(..., help="A converted run folder."),
    out: Optional[Path] = typer.Option(None, "--out", help="Build folder (default: rtl_builds/NAME-<hash>)."),
    clock_mhz: float = typer.Option(DEFAULT_CLOCK_MHZ, "--clock-mhz", help="Target clock; sets the pipeline depth."),
    adder_levels_per_ns: float = typer.Option(1.0, "--adder-levels-per-ns",
                                              help="da4ml delay heuristic: adder levels per ns of clock period."),
    synthesize: bool = typer.Option(True, "--synth/--no-synth", help="Map the Verilog with yosys."),
    dsp: bool = typer.Option(False, "--dsp/--no-dsp", help="Let squares use multipliers and yosys map them to DSPs "
                             "(default: adder-based squares, synth_xilinx -nodsp, 0 DSP)."),
    breakdown: bool = typer.Option(True, "--breakdown/--no-breakdown", help="Resources of each part of the model "
                                   "(encoder, decoder, score, trigger), each synthesized on its own."),
):
    """Verilog of the quantized model (da4ml), simulated with Verilator against csim, mapped by yosys."""
    from l1ad.render import rtl_lines
    from l1ad.stages import rtl_run

    doc = _run(lambda: rtl_run(run, out, clock_mhz=clock_mhz, adder_levels_per_ns=adder_levels_per_ns,
                               synthesize=synthesize, dsp=dsp, breakdown=breakdown))
    _echo(rtl_lines(doc))
    typer.echo(f"written: {run / 'rtl.json'}; next: l1ad report {run}")
    if not doc.bit_exact:
        _fail("the RTL does not reproduce the C simulation bit for bit")


@app.command()
def baseline(run: Path = typer.Argument(..., help="A trained run with a network (its distance_model.h5)."),
             clock_mhz: float = typer.Option(DEFAULT_CLOCK_MHZ, "--clock-mhz", help="Target clock of the RTL pipeline."),
             synthesize: bool = typer.Option(True, "--synth/--no-synth", help="Map the Verilog with yosys.")):
    """The on-chip baseline "distance, no network" through the default's chain: hls4ml, csim, RTL, yosys."""
    from l1ad.render import distance_lines
    from l1ad.stages import distance_run

    doc = _run(lambda: distance_run(run, clock_mhz=clock_mhz, synthesize=synthesize))
    _echo(distance_lines(doc))
    typer.echo(f"written: {run / 'distance.json'}; next: l1ad report {run}")
    if not doc.passed:
        _fail("the distance baseline is not bit-exact: " + ", ".join(k for k, ok in doc.checks.items() if not ok))


@app.command()
def rates(run: Path = typer.Argument(..., help="A converted, trained run."),
          background: Path = typer.Option(..., "--background", help="A large background-only jet file, e.g. a "
                                          "million jets from: l1ad generate --jets-per-class g=500000,q=500000 ...")):
    """Thresholds down to background efficiency 1e-5 from a large background sample, and the signal efficiencies
    they give on the run's test signal jets (firmware checked on every background jet)."""
    from l1ad.render import rates_lines
    from l1ad.stages import rates_run

    doc = _run(lambda: rates_run(run, background))
    _echo(rates_lines(doc))
    typer.echo(f"written: {run / 'rates.json'}; next: l1ad report {run}")
    if not doc.passed:
        _fail("the firmware is not bit-exact on the background file: " +
              ", ".join(k for k, ok in doc.checks.items() if not ok))


@app.command()
def synth(run: Path = typer.Argument(..., help="A converted run folder."),
          vsynth: bool = typer.Option(False, "--vsynth", help="Also run Vivado logic synthesis."),
          cosim: bool = typer.Option(False, "--cosim", help="Also run C/RTL co-simulation.")):
    """Run Vitis HLS (or Vivado HLS) on the run's hls4ml project, where the tool is installed."""
    from l1ad.firmware.vendor import synth as run_synth
    from l1ad.runs import Run
    from l1ad.stages import firmware_record

    project = _run(lambda: firmware_record(Run(run))).project_dir
    _run(lambda: run_synth(project, vsynth=vsynth, cosim=cosim))
    typer.echo(f"synthesis finished in {project}; read it with: l1ad report {run}")


@app.command()
def report(run: Path = typer.Argument(..., help="A run folder (converted and validated for more).")):
    """Gather model, physics, bit-exactness, latency and resources into runs/NAME/report.md and report.json."""
    from l1ad.common.records import Report
    from l1ad.render import hardware_line
    from l1ad.report import write_report
    from l1ad.runs import require_complete

    _run(lambda: require_complete(run))
    path = _run(lambda: write_report(run))
    doc = Report.load(run / "report.json")
    _echo([hardware_line(row) for row in doc.hardware] + [f"not available: {item}" for item in doc.hardware_missing])
    typer.echo(f"written: {path}")


@app.command("run")
def run_all(
    config: Optional[Path] = typer.Option(None, "--config", help="YAML training config."),
    data: Optional[Path] = DataOption,
    name: str = typer.Option("default", "--name", help="Run name: runs/NAME."),
    restart: bool = typer.Option(False, "--restart", help="Retrain even if runs/NAME is finished."),
    clock_mhz: float = typer.Option(DEFAULT_CLOCK_MHZ, "--clock-mhz", help="Target clock of the RTL pipeline."),
    breakdown: bool = typer.Option(False, "--breakdown/--no-breakdown", help="Also the resources of each part of the "
                                   "model, each synthesized on its own (about half a minute more; `l1ad rtl` does it by "
                                   "default)."),
    synthesize: bool = typer.Option(True, "--synth/--no-synth", help="Map the Verilog with yosys (resources and the "
                                    "timing estimate); without it the RTL stage gives latency and bit-exactness."),
):
    """The main job: train, convert, validate, build and simulate RTL, synthesize, report."""
    from l1ad.common.records import Report
    from l1ad.pipeline import Pipeline
    from l1ad.render import summary_lines

    run = Path("runs") / name
    pipeline = Pipeline(run=run, config=config, data=data, restart=restart, clock_mhz=clock_mhz, breakdown=breakdown,
                        synthesize=synthesize, echo=typer.echo)
    try:
        summary = pipeline.execute()
    except L1adError as err:
        _fail(f"stage '{pipeline.stages[-1].name}' failed: {err}")
    _echo(summary_lines(summary, Report.load(run / "report.json"), run / "report.md"))
    if not summary.passed:
        _fail("a check failed: " + "; ".join(summary.failures))


@app.command()
def scan(
    grid: Path = typer.Option(..., "--grid", help="YAML grid over config fields (see l1ad/grids/cost.yaml)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Scan folder (default: scans/NAME from the grid)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start Ray here)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Local Ray CPUs (default: all cores)."),
):
    """Design-space scan on Ray: train, convert, validate and build RTL for every grid point."""
    import pandas as pd

    from l1ad.scan import run_scan

    folder = _run(lambda: run_scan(grid, out, address=address, workers=workers))
    table = pd.read_parquet(folder / "results.parquet")
    failed = table[table["status"] != "ok"]
    typer.echo(f"{len(table) - len(failed)}/{len(table)} points finished and bit-exact; table: {folder / 'results.csv'}")
    typer.echo(f"next: l1ad gallery runs/default --scan {folder} (the README's Pareto plot and docs/results.md)")
    for _, row in failed.iterrows():
        typer.echo(f"failed {row['point']}: {row['error']}")
    if len(failed):
        _fail(f"{len(failed)} of {len(table)} scan points failed (see above and each point's error.txt)")


@app.command()
def gallery(run: Path = typer.Argument(..., help="A run with report.json (after l1ad run)."),
            scans: list[Path] = typer.Option([], "--scan", help="Finished scan folders to include (repeatable).")):
    """Refresh the README's summary table, docs/results.md, the figures (docs/gallery/) and the data card's
    comparison table."""
    from l1ad.gallery import update

    _run(lambda: update(run, Path("README.md"), Path("docs/results.md"), Path("docs/gallery"), scans))
    typer.echo("updated README.md, docs/results.md and docs/gallery/; next: make docs")


def _print_metrics(path: Path) -> None:
    from l1ad.common.records import Metrics
    from l1ad.render import figures_lines

    metrics = Metrics.load(path)
    _echo(figures_lines({"float": metrics.float_, "qkeras": metrics.qkeras}))
    typer.echo(f"written: {path}")


def _echo(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


CRASH = 70  # EX_SOFTWARE: a bug in l1ad or a library, never a refusal (1) or a usage error (2)


def main() -> int:
    quiet_libraries()
    try:
        app(prog_name="l1ad")  # exits itself (0, 1 on a refusal, 2 on a usage error)
    except Exception:  # noqa: BLE001 - anything else is a bug: its traceback, and a code scripts can tell apart
        traceback.print_exc()
        typer.secho(f"internal error (exit code {CRASH}): a bug in l1ad or a library it uses, not a problem with "
                    "your input; please report it with the traceback above", fg="red", err=True)
        return CRASH
    return 0


if __name__ == "__main__":
    sys.exit(main())

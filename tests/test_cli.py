"""The command line: help, the embedded sample against the official data, and `l1ad run` end to end."""

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import NARROW, make_jets
from l1ad.cli import app
from l1ad.training.io import write_jets

COMMANDS = ["generate", "data", "train", "import", "evaluate", "convert", "csim", "validate", "rtl", "baseline", "rates", "synth",
            "report", "run", "scan", "gallery"]


def test_help_lists_every_subcommand():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_version_names_l1ad_and_its_toolchain():
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith(f"l1ad {version('l1ad')} (hls4ml {version('hls4ml')}")


def test_data_info_compares_with_the_official_data():
    result = CliRunner().invoke(app, ["data", "info"])
    assert result.exit_code == 0, result.output
    assert "q: " in result.output and '"seed": 2026' in result.output
    assert "medians, this sample / official" in result.output and "multiplicity" in result.output
    assert "gluon jets with groomed mass > 250 GeV" in result.output


def _count_reads_and_work(calls, monkeypatch) -> dict:
    """Count, by pipeline stage, the data file's hashes and parses, model loads, exact evaluations and C simulations."""
    from l1ad.common import files
    from l1ad.firmware import reader, reference
    from l1ad.firmware.csim import Csim
    from l1ad.pipeline import Pipeline
    from l1ad.training import io, models

    stage = {"now": None}
    original = Pipeline._stage

    def staged(self, name, action):
        stage["now"] = name.split()[0]
        return original(self, name, action)

    monkeypatch.setattr(Pipeline, "_stage", staged)
    rows = lambda x: len(x[0]) if isinstance(x, (list, tuple)) else len(x)  # noqa: E731
    calls.watch(files, "sha256", lambda path: Path(path).resolve())
    calls.watch(io, "load_jets", lambda path, *a, **k: Path(path).resolve())
    calls.watch(models, "load", lambda path: Path(path).resolve())
    calls.watch(reference, "evaluate", lambda model, x, only=None: (stage["now"], rows(x), only is None))
    calls.watch(Csim, "predict_exact", lambda self, x, *a, **k: (stage["now"], rows(x)))
    calls.watch(reader, "read_model", lambda model: model.name)
    calls.watch(files, "read_json", lambda path: Path(path).resolve())
    return stage


def test_a_crash_exits_with_its_own_code_a_refusal_with_1(tmp_path, monkeypatch, capsys):
    """Scripts tell a bug (70, with its traceback) from a refusal of the user's input (1, one line)."""
    import l1ad.training.io
    from l1ad.cli import CRASH, main

    monkeypatch.setattr("sys.argv", ["l1ad", "data", "info", str(tmp_path / "missing.parquet")])
    with pytest.raises(SystemExit) as refused:
        main()
    assert refused.value.code == 1 and "Traceback" not in capsys.readouterr().err

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(l1ad.training.io, "load_jets", broken)
    assert main() == CRASH
    err = capsys.readouterr().err
    assert "ZeroDivisionError: a bug" in err and "internal error (exit code 70)" in err


@pytest.mark.slow
@pytest.mark.da4ml
def test_run_end_to_end_reports_every_stage(tmp_path, monkeypatch, calls):
    _count_reads_and_work(calls, monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no vendor tools, whatever the machine has
    data = write_jets(make_jets(150, seed=3), tmp_path / "jets.parquet", {})
    tiny = {**NARROW, "model": {"encoder": [6], "latent": 2, "decoder": [6]},
            "baselines": {"enabled": True, "gmm_components": 2}, "training": {"epochs": 2, "batch_size": 64, "seeds": 2},
            "pruning": {"enabled": False}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    # yosys and the per-part breakdown are tested on the shared run (test_rtl); here the stages and their order
    result = CliRunner().invoke(app, ["run", "--config", "tiny.yaml", "--data", str(data), "--name", "tiny",
                                      "--no-breakdown", "--no-synth"])
    assert result.exit_code == 0, result.output
    assert "yosys skipped (--no-synth)" in result.output
    for stage in ("train", "convert", "validate", "rtl", "report"):
        assert f"{stage}" in result.output
    assert re.search(r"vendor synthesis +skipped", result.output)
    assert "none of vitis-run, vitis_hls on PATH" in result.output
    assert "csim vs exact QKeras" in result.output and "RTL vs csim" in result.output
    assert "AUC [95% CL]" in result.output
    summary = json.loads((tmp_path / "runs" / "tiny" / "run_summary.json").read_text())
    assert summary["passed"] and [s["status"] for s in summary["stages"]] == ["done"] * 5 + ["skipped", "done"]
    # the distance baseline went through the same chain: bit-exact in csim and RTL, in the report beside the others
    distance = json.loads((tmp_path / "runs" / "tiny" / "distance.json").read_text())
    assert distance["passed"] and distance["csim_vs_exact_qkeras"]["score"]["bit_identical"] == distance["events"]
    assert distance["rtl_vs_csim"]["trigger"]["bit_identical"] == distance["events"] and distance["latency"]["cycles"]
    assert "distance, no network" in result.output and "spread over seeds" in result.output
    project = json.loads((tmp_path / "runs" / "tiny" / "firmware.json").read_text())["project_dir"]
    rtl = json.loads((tmp_path / "runs" / "tiny" / "rtl.json").read_text())["build_dir"]
    for path in ("runs/tiny/report.md", project + "/project.tcl", rtl + "/metadata.json",
                 project + "/.l1ad-output", rtl + "/.l1ad-output"):
        assert (tmp_path / path).exists(), path
    report = (tmp_path / "runs" / "tiny" / "report.md").read_text()
    assert "### Baselines" in report and "supervised" in report and "density" in report
    assert "| distance, no network |" in report and "### Spread over training seeds" in report
    # one command: the data file hashed and parsed once, each model file loaded once, the test events evaluated
    # exactly and simulated once (by validate; rtl reuses them); the distance baseline's process is not counted here
    assert calls["sha256"][data.resolve()] == 1 and calls["load_jets"][data.resolve()] == 1
    assert calls["load"] and max(calls["load"].values()) == 1
    n = json.loads((tmp_path / "runs" / "tiny" / "validation.json").read_text())["events"]
    assert calls["evaluate"][("validate", n, True)] == 1  # rtl evaluates the input quantizers only (k[2] False)
    assert not [k for k in calls["evaluate"] if k[0] == "rtl" and k[2]]
    assert calls["predict_exact"][("validate", n)] == 1 and not [k for k in calls["predict_exact"] if k[0] == "rtl"]
    # one graph read from Keras per model, each JSON file read once (what a stage wrote, the next one holds)
    assert calls["read_model"] and max(calls["read_model"].values()) == 1, calls["read_model"]
    assert max(calls["read_json"].values()) == 1, {k.name: v for k, v in calls["read_json"].items() if v > 1}
    # the finished run is reused by the same command, never by another config: that is refused, the fields named
    report_time = (tmp_path / "runs" / "tiny" / "report.md").stat().st_mtime_ns
    tiny["training"]["epochs"] = 3
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    again = CliRunner().invoke(app, ["run", "--config", "tiny.yaml", "--data", str(data), "--name", "tiny",
                                     "--no-breakdown", "--no-synth"])
    assert again.exit_code != 0 and "training.epochs: 2 in the run, 3 now" in again.output
    assert "--restart" in again.output and "Traceback" not in again.output
    assert (tmp_path / "runs" / "tiny" / "report.md").stat().st_mtime_ns == report_time
    # every figure above was saved in strict mode (tests/conftest.py): none has a panel without data; the gallery
    # takes them, the README's summary table and the results page from the run, and says what it wrote
    _gallery_refreshes_its_pages_from(tmp_path / "runs" / "tiny", data, tmp_path)


def _gallery_refreshes_its_pages_from(run: Path, data: Path, root: Path) -> None:
    from l1ad.gallery import BEGIN, END, FIGURES, SUMMARY_BEGIN, SUMMARY_END, update

    (root / "README.md").write_text(f"# mine\n{SUMMARY_BEGIN}\nold\n{SUMMARY_END}\nkept\n")
    (root / "results.md").write_text(f"{BEGIN}\nold\n{END}\n")
    update(run, root / "README.md", root / "results.md", root / "gallery", sample=data)
    readme = (root / "README.md").read_text()
    assert "old" not in readme and readme.endswith("kept\n") and "| default (csim) |" in readme
    assert "| distance, no network |" in readme and "training seeds" in readme
    assert "| check | result |" in (root / "results.md").read_text()
    figures = {p.name for p in (root / "gallery").iterdir()}
    assert {"roc.png", "scores.png", "latent.png", "residuals.png", "loss.png", "features_vs_official.png"} <= figures
    assert figures <= set(FIGURES) | {"features_vs_official.png"}


def test_validate_again_needs_no_tensorflow(shared_run, tmp_path):
    """A second validation reads the graph from the project and the float scores training saved: no Keras model is
    loaded, and its float figures are training's own."""
    import subprocess
    import sys

    from conftest import copy_run

    run = copy_run(shared_run, tmp_path / "run", firmware=True)
    script = ("import sys; from l1ad.stages import validate_run; doc = validate_run(sys.argv[1]); "
              "print(doc.passed, 'tensorflow' in sys.modules, doc.physics.float_.signals['t'].auc)")
    out = subprocess.run([sys.executable, "-c", script, str(run)], capture_output=True, text=True, check=True)
    passed, tensorflow, auc = out.stdout.split()
    metrics = json.loads((run / "metrics.json").read_text())
    assert passed == "True" and tensorflow == "False"
    assert float(auc) == metrics["float"]["signals"]["t"]["auc"]


def test_firmware_that_does_not_compile_exits_70_and_keeps_the_project(shared_run, tmp_path, monkeypatch, capsys):
    """`l1ad convert` compiles what it wrote before it says it succeeded; a failure is l1ad's bug (70, traceback),
    not the user's (1), and the project is kept for the bug report."""
    from conftest import copy_run
    from l1ad.cli import CRASH, main
    from l1ad.firmware import csim

    run = copy_run(shared_run, tmp_path / "run")
    monkeypatch.setattr(csim, "BASE_FLAGS", [*csim.BASE_FLAGS, "-include", "no_such_header.h"])
    monkeypatch.setattr("sys.argv", ["l1ad", "convert", str(run), "--out", str(tmp_path / "project")])
    assert main() == CRASH
    err = capsys.readouterr().err
    assert "FirmwareBug: compilation failed" in err and "internal error (exit code 70)" in err
    assert (tmp_path / "project" / "firmware").is_dir() and not (run / "firmware.json").exists()


def _bad_invocations(tmp: Path) -> list[tuple[list[str], str]]:
    """(arguments, what the message must name): a wrong argument for every command."""
    (tmp / "bad.yaml").write_text("model: {latent: -1}\n")
    (tmp / "not_a_run").mkdir()
    (tmp / "x.npy").write_bytes(b"not numpy")
    missing, not_run = str(tmp / "missing"), str(tmp / "not_a_run")
    return [
        (["data", "info", missing + ".parquet"], "missing.parquet"),
        (["train", "--out", str(tmp / "r"), "--config", missing + ".yaml"], "missing.yaml"),
        (["train", "--out", str(tmp / "r"), "--config", str(tmp / "bad.yaml")], "model.latent"),
        (["train", "--out", str(tmp / "r"), "--data", missing + ".parquet"], "missing.parquet"),
        (["run", "--config", missing + ".yaml", "--name", "never"], "missing.yaml"),
        (["evaluate", missing], "missing"),
        (["convert", not_run], "not_a_run"),
        (["convert", missing, "--precision", "nonsense"], "--precision"),
        (["csim", not_run], "not_a_run"),
        (["validate", missing], "missing"),
        (["validate", not_run, "--trace", "sometimes"], "--trace"),
        (["rtl", not_run], "not_a_run"),
        (["baseline", not_run], "not_a_run"),
        (["rates", not_run, "--background", missing + ".parquet"], "not_a_run"),
        (["synth", missing], "missing"),
        (["report", not_run], "not_a_run"),
        (["import", missing + ".h5", "--inputs", str(tmp / "x.npy")], "missing.h5"),
        (["scan", "--grid", missing + ".yaml"], "missing.yaml"),
        (["gallery", not_run], "not_a_run"),
        (["generate", "--out", str(tmp / "j.parquet"), "--seed", "1", "--jets-per-class", "many"], "many"),
    ]


def test_every_command_refuses_a_wrong_argument_in_its_own_words(tmp_path, monkeypatch, capsys):
    """A user's mistake ends with exit code 1 (input) or 2 (usage) and a message naming what is wrong, never with
    a traceback; nothing is written."""
    from l1ad.cli import main

    monkeypatch.chdir(tmp_path)
    for args, named in _bad_invocations(tmp_path):
        monkeypatch.setattr("sys.argv", ["l1ad", *args])
        try:
            code = main()
        except SystemExit as exit_:
            code = exit_.code
        out, err = capsys.readouterr()
        assert code in (1, 2), (args, code, err[-2000:])
        assert "Traceback" not in out + err, (args, err[-2000:])
        assert named in out + err, (args, out, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "not_a_run", "x.npy"]

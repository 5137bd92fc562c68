"""The command line: help, the embedded sample, and `l1ad run` end to end on a tiny model."""

import yaml
from typer.testing import CliRunner

from conftest import make_jets
from l1ad.cli import app
from l1ad.training.io import write_jets

COMMANDS = ["generate", "data", "train", "evaluate", "convert", "csim", "validate", "rtl", "synth", "report", "run",
            "scan", "gallery"]


def test_help_lists_every_subcommand():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_embedded_sample_loads():
    result = CliRunner().invoke(app, ["data", "info"])
    assert result.exit_code == 0, result.output
    assert "250000 jets" in result.output and "q: 50000" in result.output and '"seed": 2026' in result.output


def test_run_end_to_end_reports_every_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no vendor tools, whatever the machine has
    data = write_jets(make_jets(150, seed=3), tmp_path / "jets.parquet", {})
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump({"model": {"encoder": [6], "latent": 2, "decoder": [6]},
                                                        "training": {"epochs": 2, "batch_size": 64}}))
    result = CliRunner().invoke(app, ["run", "--config", "tiny.yaml", "--data", str(data), "--name", "tiny"])
    assert result.exit_code == 0, result.output
    for stage in ("train", "convert", "validate", "rtl", "report"):
        assert f"{stage}" in result.output
    assert "vendor synthesis                  skipped" in result.output
    assert "none of vitis-run, vitis_hls on PATH" in result.output
    assert "csim vs exact QKeras" in result.output and "RTL vs csim" in result.output
    for path in ("runs/tiny/report.md", "runs/tiny/run_summary.json", "hls_projects/tiny/project.tcl",
                 "rtl_builds/tiny/metadata.json"):
        assert (tmp_path / path).exists(), path
    again = CliRunner().invoke(app, ["run", "--config", "tiny.yaml", "--data", str(data), "--name", "tiny"])
    assert again.exit_code == 0 and "reused" in again.output  # a finished run is not silently retrained

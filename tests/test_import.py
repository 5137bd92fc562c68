"""Bring your own model: foreign QKeras models through `l1ad import` -> convert -> validate -> rtl, bit-exact."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from l1ad.cli import app
from l1ad.examples import _q, axol1tl_like, encoder_only, reconstruction_only

pytestmark = [pytest.mark.slow, pytest.mark.da4ml]  # three models through the whole chain, Verilator included


def _chain(tmp_path, monkeypatch, model, inputs, extra, testbench=False):
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"{model.name}.h5"
    model.save(path)
    result = runner.invoke(app, ["import", str(path), "--inputs", str(inputs), "--name", model.name, *extra])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / model.name
    for command in (["convert", str(run)], ["validate", str(run)] + ([] if testbench else ["--no-testbench"]),
                    ["rtl", str(run), "--no-synth"], ["report", str(run)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
    validation = json.loads((run / "validation.json").read_text())
    rtl = json.loads((run / "rtl.json").read_text())
    n = validation["events"]
    assert all(a["bit_identical"] == n for a in validation["csim_vs_exact_qkeras"].values())
    assert all(a["bit_identical"] == n for a in rtl["rtl_vs_csim"].values()) and rtl["bit_exact"]
    assert validation["passed"] and validation["trigger_bit"]["matches_score_above_threshold"]
    return run, validation, rtl


def test_axol1tl_like_57_inputs_subtract_dot_score(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (4000, 57))
    np.save(tmp_path / "objects.npy", x)
    labels = np.where(rng.random(4000) < 0.8, "zerobias", "signal")
    pd.DataFrame({"label": labels}).to_csv(tmp_path / "labels.csv", index=False)
    run, validation, _ = _chain(tmp_path, monkeypatch, axol1tl_like(), tmp_path / "objects.npy",
                                ["--labels", str(tmp_path / "labels.csv"), "--background", "zerobias"])
    assert validation["physics"]["qkeras"]["signals"]["signal"]["n"] == int(np.sum(labels == "signal"))
    assert "distance" in {r["layer"] for r in validation["audit"]["layers"]}


def test_reconstruction_only_model_gets_the_score_added(tmp_path, monkeypatch):
    x = np.random.default_rng(1).normal(0, 2, (3000, 16))
    pd.DataFrame(x, columns=[f"f{i}" for i in range(16)]).to_parquet(tmp_path / "features.parquet")
    run, validation, rtl = _chain(tmp_path, monkeypatch, reconstruction_only(), tmp_path / "features.parquet",
                                  ["--add-score", "16,8"], testbench=True)
    assert validation["physics"] is None and "no labels" in validation["physics_skipped"]
    assert validation["testbench"]["score"]["bit_identical"] == validation["testbench"]["score"]["compared"] > 0
    doc = json.loads((run / "import.json").read_text())
    assert doc["added_score"]["type"] == "ufixed<16,8>" and len(doc["model"]["sha256"]) == 64


def test_encoder_only_model_with_sum_of_squares_score(tmp_path, monkeypatch):
    x = np.random.default_rng(2).normal(0, 2, (3000, 20))
    pd.DataFrame(x, columns=[f"x{i}" for i in range(20)]).to_csv(tmp_path / "inputs.csv", index=False)
    _chain(tmp_path, monkeypatch, encoder_only(), tmp_path / "inputs.csv", [])  # yosys: test_rtl


def test_unsupported_layer_is_refused_and_nothing_written(tmp_path, monkeypatch):
    from qkeras import QActivation
    from tensorflow import keras

    monkeypatch.chdir(tmp_path)
    x = keras.Input((8,))
    h = QActivation(_q(8, 3))(x)
    out = keras.layers.Conv1D(2, 3, name="conv")(keras.layers.Reshape((8, 1))(h))
    keras.Model(x, out).save(tmp_path / "conv.h5")
    np.save(tmp_path / "x.npy", np.zeros((10, 8)))
    result = CliRunner().invoke(app, ["import", str(tmp_path / "conv.h5"), "--inputs", str(tmp_path / "x.npy")])
    assert result.exit_code == 1
    assert "is not supported" in result.output and "QDense" in result.output
    assert not (tmp_path / "runs").exists()

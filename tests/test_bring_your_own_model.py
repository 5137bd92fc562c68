"""Bring your own model: foreign QKeras models through `l1ad import` -> convert -> validate -> rtl, bit-exact."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from l1ad.cli import app
from l1ad.zoo.examples import _q, axol1tl_like, encoder_only, reconstruction_only

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
                    ["rtl", str(run), "--no-synth", "--no-breakdown"], ["report", str(run)]):
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
    bn = doc["batchnorm"]  # BN's constants rounded to the default type, compared with Keras' own BN, reported
    assert bn["type"] == "ap_fixed<16,6>" and bn["layers"] == ["bn"]
    assert 0 < bn["vs_keras"]["reconstruction"]["values_identical"] <= 1
    leaky = doc["leaky_relu"]  # LeakyReLU(0.3)'s slope rounded to the default type (307/1024), compared, reported
    assert leaky["type"] == "ap_fixed<16,6>" and leaky["layers"] == ["leaky"]
    assert 0 < leaky["vs_keras"]["reconstruction"]["values_identical"] < 1
    report = (run / "report.md").read_text()
    assert "scale and bias rounded to ap_fixed<16,6> at import" in report
    assert "LeakyReLU leaky: slope rounded to ap_fixed<16,6> at import" in report


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
    out = keras.layers.SeparableConv1D(2, 3, name="conv")(keras.layers.Reshape((8, 1))(h))
    keras.Model(x, out).save(tmp_path / "conv.h5")
    np.save(tmp_path / "x.npy", np.zeros((10, 8)))
    result = CliRunner().invoke(app, ["import", str(tmp_path / "conv.h5"), "--inputs", str(tmp_path / "x.npy")])
    assert result.exit_code == 1
    assert "layer conv (SeparableConv1D) is not supported" in result.output and "1x1 Conv2D" in result.output
    assert not (tmp_path / "runs").exists()


def _tutorial_like():
    """As the hls4ml tutorial (part 4) writes a model: Sequential, no input quantizer, activations inside QDense."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    bits = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
    model = keras.Sequential([QDense(12, input_shape=(16,), activation=quantized_relu(6), name="fc1", **bits),
                              QDense(4, activation="relu", name="fc2", **bits),
                              QDense(1, name="fc3", **bits), QActivation(quantized_bits(12, 6, alpha=1), name="score")],
                             name="tutorial")
    model.set_weights([np.random.default_rng(2).uniform(-1, 1, w.shape) for w in model.get_weights()])
    return model


def test_model_without_input_quantizer_gets_the_stated_input_type(tmp_path, monkeypatch):
    """No QActivation after the input: l1ad states the type the FPGA receives (default ap_fixed<16,6>, said in the
    output), rounds and saturates the inputs to it as QKeras' quantized_bits does, and counts what that changed."""
    x = np.random.default_rng(3).normal(0, 8, (3000, 16))
    x[:10] = 100.0  # beyond ap_fixed<16,6>: saturated
    np.save(tmp_path / "x.npy", x)
    run, validation, _ = _chain(tmp_path, monkeypatch, _tutorial_like(), tmp_path / "x.npy", [])
    stated = json.loads((run / "import.json").read_text())["input_type"]
    assert stated["type"] == "ap_fixed<16,6>" and stated["layer"] == "fc1_input_type"
    x32 = x.astype(np.float32).astype(np.float64)  # what the FPGA is handed
    expected = np.clip(np.round(x32 * 1024) / 1024, -32, 32 - 2**-10)  # ap_fixed<16,6>: RND_CONV, SAT
    assert stated["saturated"] == np.sum(np.abs(x32) > 32) >= 160 and stated["values"] == 48000
    assert stated["changed"] == np.sum(expected != x32) > 40000
    assert validation["events"] > 0
    result = CliRunner().invoke(app, ["import", str(tmp_path / "tutorial.h5"), "--inputs", str(tmp_path / "x.npy"),
                                      "--name", "again", "--input-type", "ap_fixed<8,3,AP_TRN>"])
    assert result.exit_code == 1 and "rounds half to even and saturates" in result.output


def test_qdensebatchnorm_file_is_refused_with_what_to_do(tmp_path, monkeypatch):
    """CICADA v1 and MLPerf Tiny ad08 train with QDenseBatchnorm, which QKeras 0.9.0 does not have: the file does not
    load ("Unknown layer"); l1ad says why and what to save instead, and writes nothing."""
    import h5py
    from qkeras import QActivation, QDense
    from tensorflow import keras

    monkeypatch.chdir(tmp_path)
    x = keras.Input((8,))
    keras.Model(x, QDense(2, kernel_quantizer=_q(6, 1), name="dbn")(QActivation(_q(8, 3))(x))).save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:  # as the training code saves it: the layer's class QDenseBatchnorm
        config = f.attrs["model_config"]
        config = config.decode() if isinstance(config, bytes) else config
        f.attrs["model_config"] = config.replace('"class_name": "QDense"', '"class_name": "QDenseBatchnorm"')
    np.save(tmp_path / "x.npy", np.zeros((10, 8)))
    result = CliRunner().invoke(app, ["import", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy")])
    assert result.exit_code == 1, result.output
    assert "QDenseBatchnorm is not in QKeras 0.9.0" in result.output and "separate layers" in result.output
    assert not (tmp_path / "runs").exists()


def test_refusals_name_the_users_layer_not_one_l1ad_added(tmp_path, monkeypatch):
    """A refusal inside the score head l1ad adds (--add-score) names the user's reconstruction it is built on; one
    of the input type l1ad states names --input-type, not the quantizer layer l1ad made for it."""
    from qkeras import QActivation
    from tensorflow import keras

    monkeypatch.chdir(tmp_path)
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(2, name="enc")(QActivation(_q(8, 3), name="x_q")(x))
    for i in range(4):  # exact float products: a reconstruction of about 600 bits, whose square needs more than 1024
        h = keras.layers.Multiply(name=f"sq{i}")([h, h])
    model = keras.Model(x, keras.layers.Dense(4, name="rec")(h))
    model.set_weights([np.random.default_rng(0).normal(0, 1, w.shape) for w in model.get_weights()])
    model.save(tmp_path / "wide.h5")
    np.save(tmp_path / "x.npy", np.zeros((10, 4)))
    result = CliRunner().invoke(app, ["import", str(tmp_path / "wide.h5"), "--inputs", str(tmp_path / "x.npy"),
                                      "--add-score", "16,8"])
    assert result.exit_code == 1 and "error: layer rec: the score l1ad adds on it" in result.output
    result = CliRunner().invoke(app, ["import", str(tmp_path / "wide.h5"), "--inputs", str(tmp_path / "x.npy")])
    assert result.exit_code == 0, result.output  # the model itself is exact: 597 bits
    tutorial = _tutorial_like()
    tutorial.save(tmp_path / "tutorial.h5")
    np.save(tmp_path / "t.npy", np.zeros((10, 16)))
    result = CliRunner().invoke(app, ["import", str(tmp_path / "tutorial.h5"), "--inputs", str(tmp_path / "t.npy"),
                                      "--name", "t", "--input-type", "ap_fixed<40,10>"])
    assert result.exit_code == 1 and "error: --input-type ap_fixed<40,10>" in result.output
    assert "at most 32" in result.output and not (tmp_path / "runs" / "t").exists()

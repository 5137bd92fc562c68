"""Firmware: several small models convert to bit-exact C simulations; a broken type is caught and named."""

import numpy as np
import pytest
import yaml

from conftest import make_jets
from l1ad.firmware import reference
from l1ad.firmware.convert import FirmwareOptions, convert
from l1ad.firmware.csim import compare_csim_ways
from l1ad.firmware.types import parse_type
from l1ad.firmware.validate import validate
from l1ad.training import models
from l1ad.training.config import load_config
from l1ad.training.io import write_jets
from l1ad.training.train import train


def _bits(bits, integer):
    return {"bits": bits, "integer": integer}


# (name, model overrides, quantization overrides): widths 4 to 12 bits, depths 1 to 3, relu and tanh
MODELS = [
    ("b4_relu_d1", {"encoder": [6], "latent": 2, "decoder": [6], "activation": "relu"},
     {"input": _bits(6, 2), "weights": _bits(4, 1), "biases": _bits(4, 1), "activations": _bits(4, 2),
      "latent": _bits(4, 2), "output": _bits(6, 2), "score": _bits(10, 6)}),
    ("b6_tanh_d2", {"encoder": [10, 6], "latent": 3, "decoder": [6, 10], "activation": "tanh"},
     {"input": _bits(8, 3), "weights": _bits(6, 1), "biases": _bits(6, 1), "activations": _bits(6, 0),
      "latent": _bits(6, 2), "output": _bits(8, 3), "score": _bits(12, 6)}),
    ("b8_relu_d3", {"encoder": [12, 8, 4], "latent": 2, "decoder": [4, 8, 12], "activation": "relu"}, {}),
    ("b12_tanh_d2", {"encoder": [12, 8], "latent": 4, "decoder": [8, 12], "activation": "tanh"},
     {"input": _bits(16, 5), "weights": _bits(12, 2), "biases": _bits(12, 2), "activations": _bits(12, 0),
      "latent": _bits(12, 4), "output": _bits(16, 5), "score": _bits(20, 9),
      "layers": {"enc_1": {"weights": _bits(10, 1)}}}),
]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return write_jets(make_jets(250, seed=4), tmp_path_factory.mktemp("fwdata") / "jets.parquet", {})


def _train(name, model, quantization, data_file, root):
    config = load_config(overrides={"model": model, "quantization": quantization,
                                    "training": {"epochs": 2, "batch_size": 64}})
    return train(config, data_file, root / name, progress=False)


@pytest.mark.parametrize("name, model, quantization", MODELS, ids=[m[0] for m in MODELS])
def test_converted_models_are_bit_exact(name, model, quantization, data_file, tmp_path):
    run = _train(name, model, quantization, data_file, tmp_path)
    convert(run, tmp_path / "hls" / name)
    doc = validate(run, trace_events=100)
    n = doc["n_test_jets"]
    assert n == 250 * 3 + round(500 * 0.2)  # every signal jet and the background test split
    for output in ("score", "reconstruction", "trigger"):
        assert doc["csim_vs_exact_qkeras"][output]["bit_identical"] == n, output
        assert doc["testbench_vs_in_process"][output]["bit_identical"] == n, output
    assert doc["fixed_point_audit"]["total_wrapped"] == 0
    assert doc["layer_trace"]["first_divergent_layer"] is None
    assert doc["layer_trace"]["project_sources_identical"]
    assert doc["trigger_bit"]["matches_score_above_threshold"]
    assert doc["passed"]
    score_type = parse_type(_output_type(run, 0))
    fmt = load_config(run / "config.yaml").quantization.score
    assert (score_type["width"], score_type["integer"], score_type["signed"]) == (fmt.bits, fmt.integer, False)


def _output_type(run, index):
    return yaml.safe_load((run / "firmware.json").read_text())["output_types"][index]


def test_deliberately_narrow_type_is_caught_and_named(data_file, tmp_path):
    name, model, quantization = MODELS[2]
    run = _train(name, model, quantization, data_file, tmp_path)
    options = FirmwareOptions(precision_overrides={"residual_sq": "fixed<10,5,TRN,WRAP>"})
    convert(run, tmp_path / "hls" / "broken", options)
    doc = validate(run, trace_events=100)
    assert not doc["passed"]
    assert doc["csim_vs_exact_qkeras"]["score"]["bit_identical"] < doc["n_test_jets"]
    assert doc["layer_trace"]["first_divergent_layer"] == "residual_sq"
    assert any(r["layer"] == "residual_sq" and r["wrapped"] > 0 for r in doc["fixed_point_audit"]["layers"])
    assert doc["worst_events"] and doc["worst_events"][0]["difference_lsb"] >= 1
    # both C simulations still agree with each other: the error is in the design, not the simulator
    assert compare_csim_ways(run)["agree"]


def test_reference_matches_qkeras_where_float32_is_exact():
    """The exact evaluator is QKeras' arithmetic: on a narrow model Keras' float32 is exact too."""
    config = load_config(overrides={"model": {"activation": "tanh"}})
    models.set_seed(5)
    _, scoring = models.build(config, quantized=True)
    x = np.random.default_rng(1).normal(0, 3, (4000, 16)).astype(np.float32)
    exact = reference.evaluate(scoring, x)
    import keras

    for name in ("input_q", "enc_1", "enc_1_act", "latent_q", "output_q", "residual"):
        keras_values = keras.Model(scoring.input, scoring.get_layer(name).output).predict(x, verbose=0)
        np.testing.assert_array_equal(keras_values, exact[name]["out"], err_msg=name)


def test_reference_refuses_models_without_input_quantizer():
    from tensorflow import keras

    inputs = keras.Input((16,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="quantizer right after the input"):
        reference.evaluate(model, np.zeros((2, 16), np.float32))

"""The firmware library on models and arrays: many model shapes convert to bit-exact C simulations; a broken
type is caught and named; unsupported layers fail before anything is written; the csim cache works."""

import re

import numpy as np
import pytest

from conftest import AE
from l1ad.firmware import check, check_model, convert_model, evaluate_exactly, with_trigger
from l1ad.firmware.convert import FirmwareOptions, holders, project_graph
from l1ad.firmware import csim
from l1ad.firmware.csim import Csim
from l1ad.firmware.fixed import Fixed, UnsupportedModel
from l1ad.training import models
from l1ad.training.config import load_config


def _bits(bits, integer):
    return {"bits": bits, "integer": integer}


# widths 4 to 12 bits, depths 1 to 3, relu and tanh, AE and VAE encoder, per-feature weights, residual type
MODELS = [
    ("b4_relu_d1", {"model": {"encoder": [6], "latent": 2, "decoder": [6], "activation": "relu"},
                    "quantization": {"input": _bits(6, 2), "weights": _bits(4, 1), "biases": _bits(4, 1),
                                     "activations": _bits(4, 2), "latent": _bits(4, 2), "output": _bits(6, 2),
                                     "score": _bits(10, 6)}}),
    ("b6_tanh_d2_residual", {"model": {"encoder": [10, 6], "latent": 3, "decoder": [6, 10], "activation": "tanh"},
                             "quantization": {"input": _bits(8, 3), "weights": _bits(6, 1), "biases": _bits(6, 1),
                                              "activations": _bits(6, 0), "latent": _bits(6, 2),
                                              "output": _bits(8, 3), "score": _bits(12, 6)},
                             "score": {"residual": _bits(7, 3)}}),
    ("b8_relu_d3", AE),
    # an input type without fractional bits: hls4ml 1.3 makes it a truncating, wrapping ap_int unless l1ad restates it
    ("latent0_integer_input", {"model": {"encoder": [], "latent": 0, "decoder": []},
                               "quantization": {"input": _bits(7, 6), "score": _bits(14, 10)}, "score": {"residual": None}}),
    # a residual type coarser than integers (steps of 2): hls4ml would fuse its quantizer into the Subtract as a
    # truncating integer type; the mean absolute residual (|r| = max(r, -r), both differences rounded to that type)
    ("b8_coarse_residual_mae", {**AE, "score": {"residual": _bits(6, 6), "kind": "mae"}}),
    ("b12_tanh_d2", {"model": {"encoder": [12, 8], "latent": 4, "decoder": [8, 12], "activation": "tanh"},
                     "quantization": {"input": _bits(16, 5), "weights": _bits(12, 2), "biases": _bits(12, 2),
                                      "activations": _bits(12, 0), "latent": _bits(12, 4), "output": _bits(16, 5),
                                      "score": _bits(20, 9), "layers": {"enc_1": {"weights": _bits(10, 1)}}}}),
    ("vae_mu2", {"model": {"kind": "vae", "encoder": [10, 6], "latent": 3, "decoder": [6, 10]},
                 "score": {"kind": "mu2"}}),
    # a distilled student: a signed score (a log-score), so thresholds below zero
    ("student_signed_score", {"model": {"kind": "student", "student": [6]}, "score": {"kind": "student"},
                              "quantization": {"score": _bits(10, 4)}}),
]


def random_model(overrides: dict, seed: int, weights=None):
    """The QKeras scoring model of a config, with random weights large enough to saturate every layer."""
    config = load_config(overrides=overrides)
    models.set_seed(seed)
    _, scoring = models.build(config, quantized=True)
    rng = np.random.default_rng(seed)
    for layer in scoring.layers:
        if layer.name not in ("mean", "mu_sum") and layer.get_weights():
            layer.set_weights([rng.normal(0, 0.6, w.shape) for w in layer.get_weights()])
    if weights is not None:
        models.set_score_weights(scoring, weights)
    return scoring


@pytest.mark.parametrize("name, overrides", MODELS, ids=[m[0] for m in MODELS])
def test_models_are_bit_exact_on_every_event(name, overrides, tmp_path):
    weights = np.random.default_rng(1).uniform(0.01, 0.2, 16) if name == "b8_relu_d3" else None
    scoring = random_model(overrides, seed=3, weights=weights)
    x = np.random.default_rng(0).normal(0, 2.5, (3000, 16)).astype(np.float32)
    threshold = float(np.median(evaluate_exactly(scoring, x)[0]))
    model = with_trigger(scoring, score="score", threshold=threshold)
    project = convert_model(model, tmp_path / name, tb_inputs=x[:300])
    # every value type rounds and saturates as its quantizer does (hls4ml's `*_index` types index lookup tables)
    lines = (project / "firmware" / "defines.h").read_text().splitlines()
    assert not [t for t in lines if ("ap_int<" in t or "ap_uint<" in t) and not t.endswith("_index;")]
    bench = name == "b12_tanh_d2"  # the vendor-style test bench once (each build costs a full compile)
    result = check(model, project, x, testbench=bench)
    for output, agreement in result["outputs"].items():
        assert agreement["bit_identical"] == 3000, output
    if bench:
        assert result["testbench"]["trigger"]["bit_identical"] == 300
    assert result["audit"]["total_wrapped"] == 0 and not result["audit"]["layers_without_counterpart"]
    assert result["trace"]["run"] is False and result["passed"]
    if name == "b6_tanh_d2_residual":  # one hls4ml layer per node, as l1ad built them
        held = holders(project)
        assert held["features"] == "input_q"  # the input's conversion rounds as its quantizer: no layer of its own
        assert held["residual_q"] == "residual_q" and held["residual"] == "residual" and held["enc_1"] == "enc_1"
        assert set(held.values()) == {n.name for n in project_graph(project).operations()}  # every node, once
    score = result["exact"][0][:, 0]
    np.testing.assert_array_equal(result["csim"][-1][:, 0], (score > threshold).astype(float))  # the trigger bit
    assert 0.3 < np.mean(score > threshold) < 0.7


def test_deliberately_narrow_type_is_caught_and_named(tmp_path):
    model = with_trigger(random_model(AE, seed=4), score="score", threshold=1.0)
    x = np.random.default_rng(2).normal(0, 2, (2000, 16)).astype(np.float32)
    options = FirmwareOptions(precision_overrides={"residual_sq": "fixed<10,5,TRN,WRAP>"})
    project = convert_model(model, tmp_path / "broken", options, tb_inputs=x[:100])
    result = check(model, project, x, testbench=False, trace_events=200)
    assert not result["passed"] and not result["checks"]["all_outputs_bit_identical"]
    assert result["outputs"]["score"]["bit_identical"] < 2000
    assert result["trace"]["first_divergent_layer"] == "residual_sq"
    assert result["trace"]["first_divergent_node"] == "residual_sq"
    assert result["trace"]["complete"]  # every layer of the project was compared, not just some
    assert any(r["layer"] == "residual_sq" and r["wrapped"] > 0 for r in result["audit"]["layers"])


def test_runtime_threshold_is_an_input_and_bit_exact(tmp_path):
    model = with_trigger(random_model(AE, seed=5), score="score", threshold="input")
    x = np.random.default_rng(3).normal(0, 2, (2000, 16)).astype(np.float32)
    thresholds = np.random.default_rng(4).choice([0.5, 1.0, 2.5, 7.75], (2000, 1))
    project = convert_model(model, tmp_path / "runtime", tb_inputs=[x[:200], thresholds[:200]])
    result = check(model, project, [x, thresholds], testbench=False)
    assert result["passed"], result["checks"]
    score, bit = result["exact"][0][:, 0], result["csim"][-1][:, 0]
    np.testing.assert_array_equal(bit, (score > thresholds[:, 0]).astype(float))


def test_csim_is_compiled_once_and_shared_by_copies_of_a_project(tmp_path, monkeypatch):
    """convert compiles the simulation; later calls reuse it; with L1AD_BUILD_CACHE, a copy of the project elsewhere
    reuses it too (nothing of the project's path is compiled in: the weights are read from the copy's folder)."""
    import shutil
    from pathlib import Path

    monkeypatch.delenv("L1AD_BUILD_CACHE", raising=False)
    model = random_model(MODELS[0][1], seed=6)
    project = convert_model(model, tmp_path / "p", tb_inputs=np.zeros((2, 16), np.float32))
    libraries = sorted((project / ".l1ad").glob("csim-*.so"))
    assert len(libraries) == 1  # compiled by convert
    first = Csim(project)
    assert not first.built and first.library == libraries[0]
    binary, built = csim.testbench(project)
    assert built and binary.exists() and csim.testbench(project) == (binary, False)

    x = np.random.default_rng(0).normal(0, 2, (300, 16))
    expected = [v.num.tolist() for v in first.predict_exact(x)]
    monkeypatch.setenv("L1AD_BUILD_CACHE", str(tmp_path / "builds"))
    shared = Csim(project)
    assert shared.built and shared.library.parent == tmp_path / "builds"
    copy = Path(shutil.copytree(project, tmp_path / "copy", ignore=shutil.ignore_patterns(".l1ad")))
    shutil.rmtree(project / "firmware" / "weights")  # the copy reads its own weights
    again = Csim(copy)
    assert not again.built and again.library == shared.library
    assert [v.num.tolist() for v in again.predict_exact(x)] == expected
    source = copy / "firmware" / "parameters.h"
    source.write_text(source.read_text() + "\n// edited\n")
    assert Csim(copy).built  # an edited source gets a new library


def test_unsupported_layer_fails_before_anything_is_written(tmp_path):
    from qkeras import QActivation, QDense, quantized_bits
    from tensorflow import keras

    inputs = keras.Input((8,))
    h = QActivation(quantized_bits(8, 3, alpha=1))(inputs)
    h = QDense(4, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 1, alpha=1))(h)
    h = keras.layers.ELU(name="elu")(h)
    model = keras.Model(inputs, h)
    with pytest.raises(UnsupportedModel) as err:
        convert_model(model, tmp_path / "never")
    assert "elu (ELU) is not supported" in str(err.value) and "Dot(axes=1)" in str(err.value)
    assert not (tmp_path / "never").exists() and list(tmp_path.iterdir()) == []


def test_model_without_input_quantizer_is_refused():
    from tensorflow import keras

    inputs = keras.Input((16,))
    with pytest.raises(UnsupportedModel, match="QActivation .* right after each input"):
        check_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)))


def _coarse_model(sources_quantized: bool):
    """Two Dense branches (|values| < 9) added and rounded to multiples of 128 (quantized_bits(4, 10): -7 fractional
    bits), so always to 0: a sum, or a quantizer's type, with no bit where ap_fixed rounds."""
    from qkeras import QActivation, QDense, quantized_bits
    from tensorflow import keras

    inputs = keras.Input((8,), name="x")
    h = QActivation(quantized_bits(4, 0, alpha=1), name="x_q")(inputs)
    branches = []
    for name in ("a", "b"):
        b = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1),
                   name=name)(h)
        branches.append(QActivation(quantized_bits(4, 1, alpha=1), name=f"{name}_q")(b) if sources_quantized else b)
    total = keras.layers.Add(name="sum")(branches)
    out = QActivation(quantized_bits(4, 10, alpha=1), name="sum_q")(total)
    coarse = QActivation(quantized_bits(4, 10, alpha=1), name="a_coarse")(branches[0])  # a quantizer's own type
    model = keras.Model(inputs, [out, coarse])
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-1, 1, w.shape) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("sources_quantized", [False, True])
def test_rounding_above_the_lsb_is_exact(sources_quantized, tmp_path):
    """A quantizer with negative fractional bits: ap_fixed cannot round a type that has no bit where it rounds (it
    used to abort the C simulation with ap_types' "Attempting to read bit beyond MSB", and quantizers after
    quantizers were refused, found by benchmarks/bench_differential.py, seed 16). An exact sum is widened in the
    graph; a quantizer's own type gets a wider copy before the rounding (a layer `*_reach`)."""
    model = _coarse_model(sources_quantized)
    x = np.random.default_rng(1).uniform(-1, 1, (2000, 8)).astype(np.float32)
    project = convert_model(model, tmp_path / "coarse")
    result = check(model, project, x, testbench=False)
    assert result["passed"] and result["outputs"]["sum_q"]["bit_identical"] == 2000
    assert result["outputs"]["a_coarse"]["bit_identical"] == 2000
    assert ("a_coarse_reach" in holders(project)) == sources_quantized


@pytest.mark.parametrize("name", ["quantized_relu", "quantized_tanh"])
def test_an_input_quantizer_with_an_activation_is_exact(name, tmp_path):
    """hls4ml 1.3 crashes on it ("unexpected input layer chain"); l1ad converts it as the quantized_bits of the same
    type, which a float cast to rounds and saturates into the same values (inputs with rounding ties, negative and
    beyond the range)."""
    import qkeras
    from tensorflow import keras

    x = keras.Input((6,), name="x")
    quantizer = qkeras.quantized_relu(6, 2) if name == "quantized_relu" else qkeras.quantized_tanh(6)
    h = qkeras.QActivation(quantizer, name="x_q")(x)
    h = qkeras.QDense(3, kernel_quantizer=qkeras.quantized_bits(6, 1, alpha=1),
                      bias_quantizer=qkeras.quantized_bits(6, 1, alpha=1), name="d")(h)
    model = keras.Model(x, qkeras.QActivation(qkeras.quantized_bits(10, 4, alpha=1), name="y")(h))
    model.set_weights([np.random.default_rng(0).uniform(-2, 2, w.shape) for w in model.get_weights()])
    xs = np.random.default_rng(1).uniform(-6, 6, (2000, 6))
    xs[:500] = np.round(xs[:500] * 32) / 32  # ties at 1/16 (relu) and 1/32 (tanh) steps
    result = check(model, convert_model(model, tmp_path / "p"), xs.astype(np.float32), testbench=False)
    assert result["passed"] and result["outputs"]["y"]["bit_identical"] == 2000
    assert len(np.unique(result["csim"][0])) > 100


def test_written_types_are_checked_against_what_l1ad_set(tmp_path):
    """hls4ml 1.3 once wrote a type without fractional bits as ap_int<7>, without rounding and saturation; the
    written firmware is read back before anything compiles."""
    from l1ad.firmware.convert import check_written_types

    (tmp_path / "firmware").mkdir()
    told = {"x_t": Fixed.parse("fixed<7,7,RND_CONV,SAT>"), "d_accum_t": Fixed.parse("ufixed<13,5>")}
    defines = tmp_path / "firmware" / "defines.h"
    defines.write_text("typedef ap_fixed<7,7,AP_RND_CONV,AP_SAT,0> x_t;\ntypedef ap_ufixed<13,5> d_accum_t;\n")
    check_written_types(tmp_path, told)
    defines.write_text("typedef ap_int<7> x_t;\ntypedef ap_ufixed<13,5> d_accum_t;\n")
    with pytest.raises(RuntimeError, match=r"x_t: fixed<7,7,TRN,WRAP> \(l1ad set fixed<7,7,RND_CONV,SAT>"):
        check_written_types(tmp_path, told)


def test_testbench_expects_what_it_reads_from_float64_inputs(tmp_path):
    """Inputs just above a rounding tie in float64 are the tie itself in float32, which the test bench reads: its
    expected outputs are computed from those float32 values (they were computed from the float64 ones)."""
    from qkeras import QActivation, QDense, quantized_bits
    from tensorflow import keras

    inputs = keras.Input((4,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="x_q")(inputs)  # LSB 1/16: ties at odd multiples of 1/32
    h = QDense(1, kernel_quantizer=quantized_bits(6, 1, alpha=1), name="d")(h)
    model = keras.Model(inputs, QActivation(quantized_bits(12, 5, alpha=1), name="y")(h))
    model.set_weights([np.array([[1.0], [0.5], [-0.5], [0.25]]), np.zeros(1)])
    x = (np.random.default_rng(0).integers(-40, 40, (200, 4)) + 0.5) / 16 + 1e-12  # float64: above the tie
    project = convert_model(model, tmp_path / "p", tb_inputs=x)
    result = check(model, project, x.astype(np.float32), testbench=True)
    assert result["checks"]["testbench_equals_exact_reference"] and result["passed"]


def test_dropout_is_skipped_as_at_inference(tmp_path):
    """Dropout (CICADA v1 writes one) is a no-op at inference: no node, its consumers read its input, as hls4ml
    skips it; the model converts and is bit-exact, also when Dropout follows Dropout."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    inputs = keras.Input((6,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="x_q")(inputs)
    h = keras.layers.Dropout(0.2, name="drop_in")(h)
    h = QDense(4, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 1, alpha=1),
               name="d")(h)
    h = keras.layers.Dropout(0.5, name="drop_1")(keras.layers.Dropout(0.5, name="drop_0")(h))
    model = keras.Model(inputs, QActivation(quantized_relu(8, 3), name="y")(h))
    graph = check_model(model)
    assert [n.name for n in graph] == ["x", "x_q", "d", "y"] and graph["y"].inputs == ("d",)
    x = np.random.default_rng(0).normal(0, 3, (1000, 6)).astype(np.float32)
    result = check(model, convert_model(model, tmp_path / "p"), x, testbench=False)
    assert result["passed"] and result["outputs"]["y"]["bit_identical"] == 1000
    np.testing.assert_array_equal(model.predict(x, verbose=0), result["csim"][0])  # Keras: Dropout inactive


def test_activations_inside_dense_and_relu_layers_are_exact(tmp_path):
    """As the hls4ml tutorial and AXOL1TL write them: QDense(..., activation=quantized_relu(6, 2)), activation='relu'
    in a QDense and in a float Dense, a ReLU layer and Activation('relu'). Each activation becomes a node of its own,
    named as hls4ml names the layer it splits off (it used to fail with "'quantized_relu' object has no attribute
    '__name__'"); relu is exact (no rounding)."""
    from keras_models import activations_inside

    model = activations_inside()
    graph = check_model(model)
    assert [(n.name, n.kind) for n in graph][2:7] == [("d", "dense"), ("d_quantized_relu", "quantizer"),
                                                     ("e", "dense"), ("e_relu", "relu"), ("g", "dense")]
    assert graph["e"].inputs == ("d_quantized_relu",) and graph["f_relu"].kind == "relu"
    xs = np.random.default_rng(0).normal(0, 4, (2000, 6)).astype(np.float32)
    result = check(model, convert_model(model, tmp_path / "p"), xs, testbench=False)
    assert result["passed"] and result["outputs"]["y"]["bit_identical"] == 2000
    assert result["audit"]["total_wrapped"] == 0 and not result["audit"]["layers_without_counterpart"]
    np.testing.assert_array_equal(model.predict(xs, verbose=0), result["csim"][0])
    assert np.mean(result["csim"][0] != 0) > 0.2


def test_symmetric_quantizers_are_exact(tmp_path):
    """quantized_bits(symmetric=1) saturates at -max: written as AP_SAT_SYM, which ap_fixed applies the same way
    (it was refused as "not plain fixed point")."""
    from keras_models import symmetric

    model = symmetric()
    x = np.random.default_rng(5).normal(0, 6, (2000, 8)).astype(np.float32)
    project = convert_model(model, tmp_path / "p")
    assert "AP_SAT_SYM" in (project / "firmware" / "defines.h").read_text()
    result = check(model, project, x, testbench=False)
    assert result["passed"] and result["outputs"]["y"]["bit_identical"] == 2000
    from l1ad.firmware import reference

    values = reference.evaluate(check_model(model), x)
    assert values["x_q"].out.min() == -3.875 and values["h_q"].out.min() == -1.875  # -max, reached, not -2^i
    np.testing.assert_array_equal(model.predict(x, verbose=0), result["csim"][0])


def test_public_model_forms_are_exact(tmp_path):
    """The forms public models are written in (ADC2021, AXOL1TL v4, CICADA v1, the knowledge-distillation student):
    a 2-D input flattened, no input quantizer (the stated default type), BatchNormalization on the raw input with
    its scale and bias rounded to ap_fixed<16,6> (l1ad import's default, as hls4ml types them), alpha=None kernels
    (power-of-two scale per output), QBatchNormalization, LeakyReLU(0.25), Dropout, a quantizer inside QDense,
    symmetric quantizers. Each was refused or crashed before; csim equals the exact reference on every event, and so
    does Keras' own float32 predict (the rounded BN is a BatchNormalization of mean 0, variance 1, epsilon 0)."""
    from keras_models import public_forms
    from l1ad.firmware.reader import DEFAULT_INPUT_TYPE, float_batchnorms, with_batchnorm_type, with_input_type

    exact = with_input_type(public_forms(), Fixed.input_type(DEFAULT_INPUT_TYPE))
    model = with_batchnorm_type(exact, Fixed.input_type("ap_fixed<16,6>"))
    graph, before = check_model(model), check_model(exact)
    kinds = {n.name: n.kind for n in graph}
    assert kinds["bn_in"] == "batchnorm" and kinds["qbn"] == "batchnorm" and kinds["leaky"] == "leaky_relu"
    assert kinds["flat"] == "reshape" and "drop" not in kinds and graph["bn_in"].inputs == ("flat",)
    assert graph[graph.inputs[0]].width == 12 and graph["flat"].shape == (12,)
    scale = np.max(np.abs(graph["d"].kernel), axis=0)
    assert len(set(np.round(np.log2(scale)))) > 1  # per-output power-of-two scales, QKeras' own values
    assert float_batchnorms(model) == ["bn_in"]  # the QBatchNormalization keeps QKeras' own quantizers
    for name in ("scale", "bias"):
        values = getattr(graph["bn_in"], name)
        assert np.array_equal(values, np.round(values * 1024) / 1024)
        assert np.max(np.abs(values - getattr(before["bn_in"], name))) <= 2**-11
    assert graph["qbn"].scale.tolist() == before["qbn"].scale.tolist()
    assert graph["bn_in"].result.width < before["bn_in"].result.width - 10  # the point: narrower datapaths
    x = np.random.default_rng(3).normal(0, 3, (3000, 12)).astype(np.float32)
    result = check(model, convert_model(model, tmp_path / "p"), x, testbench=False)
    assert result["passed"] and result["outputs"]["y"]["bit_identical"] == 3000
    assert not result["audit"]["layers_without_counterpart"]
    np.testing.assert_array_equal(model.predict(models.as_input(model, x), verbose=0), result["csim"][0])
    assert np.mean(result["csim"][0] != 0) > 0.3


def test_leaky_relu_of_any_slope_is_exact_at_its_float32_value():
    """LeakyReLU(alpha=0.3), as the ADC2021 DNN autoencoder writes it (refused before): the slope Keras multiplies by
    is float32(0.3) = 5033165 / 2^24, held exactly; a slope of zero or below is refused naming the layer."""
    import qkeras
    from tensorflow import keras

    from l1ad.firmware.fixed import to_float
    from l1ad.firmware.reference import evaluate

    x = keras.Input((4,), name="x")
    h = qkeras.QActivation(qkeras.quantized_bits(8, 3, alpha=1), name="x_q")(x)
    graph = check_model(keras.Model(x, keras.layers.LeakyReLU(alpha=0.3, name="lr")(h)))
    assert graph["lr"].slope == float(np.float32(0.3)) and graph["lr"].result.f == 4 + 24
    inputs = np.random.default_rng(0).normal(0, 4, (500, 4))
    values = evaluate(graph, inputs)
    q, out = (to_float(values[n].num, values[n].frac) for n in ("x_q", "lr"))  # 8 + 24 bits: float64 holds them
    np.testing.assert_array_equal(out, np.where(q > 0, q, q * float(np.float32(0.3))))
    with pytest.raises(UnsupportedModel, match="layer lr: LeakyReLU\\(alpha=-0.1\\) is not supported"):
        check_model(keras.Model(x, keras.layers.LeakyReLU(alpha=-0.1, name="lr")(h)))


def _aliased_outputs_model():
    """Outputs as hls4ml's own tests and users write them: the input's quantizer alone (hls4ml's quantizer tests),
    the same quantizer once more beside a QDense output, a QDense output that a quantizer also reads, and a
    LeakyReLU of slope 1 (2^0, refused before as "not a power of two")."""
    from qkeras import QActivation, QDense, quantized_bits
    from tensorflow import keras

    x = keras.Input((3,), name="x")
    q = QActivation(quantized_bits(4, 2, alpha=1), name="q")(x)
    d = QDense(2, kernel_quantizer=quantized_bits(4, 1, alpha=1), bias_quantizer=quantized_bits(4, 1, alpha=1),
               name="d")(q)
    a = QActivation(quantized_bits(6, 2, alpha=1), name="a")(d)
    leaky = keras.layers.LeakyReLU(alpha=1.0, name="leaky")(a)
    model = keras.Model(x, [q, a, q, d, leaky])
    model.set_weights([np.random.default_rng(0).uniform(-2, 2, w.shape) for w in model.get_weights()])
    return model


def test_outputs_that_share_values_compile_and_are_exact(tmp_path):
    """An output that is the input's quantizer, an output twice, an output another layer reads: hls4ml 1.3 declared
    one argument twice (`myproject(x_t x[3], x_t x[3], ...)`) or asserted "already is" an output, after import
    and convert had succeeded. Each gets a copy layer of its own; convert compiled it before reporting success."""
    model = _aliased_outputs_model()
    x = np.random.default_rng(1).normal(0, 3, (1000, 3)).astype(np.float32)
    project = convert_model(model, tmp_path / "p", tb_inputs=x[:100])
    assert not Csim(project).built  # compiled by convert
    result = check(model, project, x, testbench=True)
    assert result["passed"], result["checks"]
    assert all(a["bit_identical"] == 1000 for a in result["outputs"].values())
    assert all(a["bit_identical"] == 100 for a in result["testbench"].values())
    header = (project / "firmware" / "myproject.h").read_text()
    arguments = re.findall(r"\w+_t (\w+)\[", header)
    assert len(arguments) == len(set(arguments)) == 6  # one input, five outputs, each named once
    np.testing.assert_array_equal(result["csim"][0], result["csim"][2])


def test_code_l1ad_wrote_that_does_not_compile_is_a_bug_kept_for_its_report(tmp_path, monkeypatch, capsys):
    """A compile failure of the firmware l1ad wrote is l1ad's bug: convert fails (it compiles before it reports
    success), `l1ad convert` exits 70 with the traceback (never 1, a user error), and the project stays."""
    from l1ad.common.errors import L1adError
    from l1ad.firmware import csim

    model = _aliased_outputs_model()
    monkeypatch.setattr(csim, "BASE_FLAGS", [*csim.BASE_FLAGS, "-include", "no_such_header.h"])
    with pytest.raises(csim.FirmwareBug, match=r"(?s)compilation failed in .*/p:.*kept for a bug report") as bug:
        convert_model(model, tmp_path / "p")
    assert not isinstance(bug.value, L1adError)
    assert (tmp_path / "p" / "l1ad.json").exists() and (tmp_path / "p" / "firmware" / "myproject.cpp").exists()

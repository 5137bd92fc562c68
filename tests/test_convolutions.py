"""Convolutional models: each kind (convolutions, pools, up-sampling, padding, cropping) exact against QKeras' own
predict in l1ad's reference; a model of every kind bit-exact in csim and in the RTL; the forms that cannot be exact
refused naming the layer; inputs with a shape through `l1ad import`."""

import numpy as np
import pytest
from typer.testing import CliRunner

from l1ad.cli import app
from l1ad.firmware import reference
from l1ad.firmware.fixed import UnsupportedModel
from l1ad.firmware.reader import check_model
from l1ad.zoo.random import random_inputs
from l1ad.zoo.weights import randomize


def _q(bits, integer, signed=True):
    from qkeras import quantized_bits

    return quantized_bits(bits, integer, int(signed), alpha=1)


def _model(shape, *layers, quantizer=None):
    from qkeras import QActivation
    from tensorflow import keras

    x = keras.Input(shape, name="x")
    h = QActivation(quantizer or _q(8, 3), name="x_q")(x)
    for layer in layers:
        h = layer(h)
    model = keras.Model(x, h)
    randomize(model, 3, 0.5)
    return model


def _coarse(model):
    model.set_weights([np.round(w * 16) / 16 for w in model.get_weights()])
    return model


def _kinds():
    """One small model per kind of layer, named for what it holds."""
    import qkeras
    from qkeras import QActivation, quantized_relu
    from tensorflow import keras

    L = keras.layers
    w = dict(kernel_quantizer=_q(6, 1), bias_quantizer=_q(6, 1))
    return {
        "conv2d valid, bias, activation inside": lambda: _model(
            (6, 5, 2), qkeras.QConv2D(3, (3, 2), activation=quantized_relu(8, 4), name="conv", **w)),
        "conv2d same, strides 2x3, no bias": lambda: _model(
            (7, 8, 1), qkeras.QConv2D(4, (3, 3), strides=(2, 3), padding="same", use_bias=False, name="conv",
                                      kernel_quantizer=_q(5, 1)), QActivation(_q(9, 4), name="conv_q")),
        "conv1d same, strides 2, then BatchNormalization": lambda: _model(
            (10, 2), qkeras.QConv1D(3, 3, strides=2, padding="same", name="conv", **w),
            L.BatchNormalization(name="bn"), QActivation(_q(10, 4), name="bn_q")),
        "float Conv2D (weights of few bits: float32 computes them exactly)": lambda: _coarse(
            _model((5, 4, 1), L.Conv2D(2, (2, 2), name="conv"))),
        "QConv2DBatchnorm": lambda: _model(
            (6, 6, 1), qkeras.QConv2DBatchnorm(2, (3, 3), name="convbn", **w), QActivation(_q(10, 4), name="q")),
        "QDepthwiseConv2D, depth multiplier 2": lambda: _model(
            (6, 6, 2), qkeras.QDepthwiseConv2D((3, 3), depth_multiplier=2, padding="same", name="dw",
                                               depthwise_quantizer=_q(5, 1), bias_quantizer=_q(5, 1))),
        "MaxPooling2D same, strides 3x2": lambda: _model((8, 4, 3), L.MaxPooling2D((2, 2), strides=(3, 2),
                                                                                     padding="same", name="pool")),
        "AveragePooling2D 2x2": lambda: _model((8, 4, 3), L.AveragePooling2D((2, 2), name="pool")),
        "AveragePooling1D 4": lambda: _model((8, 2), L.AveragePooling1D(4, name="pool")),
        "GlobalAveragePooling2D": lambda: _model((4, 4, 3), L.GlobalAveragePooling2D(name="pool")),
        "GlobalMaxPooling1D": lambda: _model((7, 3), L.GlobalMaxPooling1D(name="pool")),
        "QAveragePooling2D with its average quantizer": lambda: _model(
            (4, 4, 2), qkeras.QAveragePooling2D((2, 2), average_quantizer=_q(8, 0), name="pool")),
        "UpSampling2D, ZeroPadding2D, Cropping2D": lambda: _model(
            (4, 3, 2), L.UpSampling2D((2, 1), name="up"), L.ZeroPadding2D(((1, 0), (0, 2)), name="pad"),
            L.Cropping2D(((1, 2), (0, 1)), name="crop")),
        "UpSampling1D, ZeroPadding1D, Cropping1D, MaxPooling1D, Flatten, QDense": lambda: _model(
            (6, 2), L.UpSampling1D(3, name="up"), L.ZeroPadding1D((1, 2), name="pad"), L.Cropping1D((2, 0), name="crop"),
            L.MaxPooling1D(2, name="pool"), L.Flatten(name="flat"), qkeras.QDense(3, name="dense", **w)),
    }


@pytest.mark.parametrize("name", list(_kinds()))
def test_each_kind_equals_qkeras_predict_in_every_bit(name):
    """l1ad's exact evaluation of each kind against QKeras' own predict, on inputs that hit the input type's
    rounding ties and saturation (every value here has far fewer than 24 significant bits: float32 is exact)."""
    from l1ad.training.models import as_input

    model = _kinds()[name]()
    graph = check_model(model)
    x = random_inputs(model, 300, 5)
    x_q = reference.evaluate(graph, x, only={"x_q"})["x_q"].out
    predicted = np.asarray(model.predict(as_input(model, x_q.astype(np.float32)), verbose=0), dtype=np.float64)
    exact = reference.outputs(graph, x)[0]
    np.testing.assert_array_equal(exact.reshape(predicted.shape), predicted)


@pytest.mark.slow
@pytest.mark.da4ml
def test_a_model_of_every_kind_is_bit_exact_in_csim_and_rtl(tmp_path):
    """2-D and 1-D branches of every kind, merged: hls4ml's C simulation equals the exact reference on every event,
    and the RTL (da4ml, Verilator) equals the C simulation."""
    import qkeras
    from qkeras import QActivation
    from tensorflow import keras

    from l1ad.firmware import build_rtl, check, convert_model

    L = keras.layers
    w = dict(kernel_quantizer=_q(6, 1), bias_quantizer=_q(6, 1))
    x = keras.Input((6, 6, 2), name="x")
    h = QActivation(_q(8, 3), name="x_q")(x)
    a = qkeras.QConv2D(3, (3, 3), strides=(2, 1), padding="same", name="conv", **w)(h)
    a = QActivation(qkeras.quantized_relu(9, 4), name="conv_q")(L.BatchNormalization(name="bn")(a))
    a = L.MaxPooling2D((2, 2), padding="same", name="max")(a)  # unsigned, padded: hls4ml 1.3 pads with its largest
    a = L.UpSampling2D((2, 1), name="up")(a)
    a = L.Flatten(name="flat_a")(L.ZeroPadding2D(((0, 1), (1, 0)), name="pad")(a))
    b = qkeras.QDepthwiseConv2D((2, 2), name="dw", depthwise_quantizer=_q(5, 1), bias_quantizer=_q(5, 1))(h)
    b = L.AveragePooling2D((1, 2), name="avg")(QActivation(_q(8, 3), name="dw_q")(b))
    b = L.Flatten(name="flat_b")(L.Cropping2D(((1, 1), (0, 1)), name="crop")(b))
    joined = L.Concatenate(name="join")([a, b])
    out = QActivation(_q(12, 6), name="out")(qkeras.QDense(4, name="dense", **w)(joined))
    model = keras.Model(x, out)
    randomize(model, 4, 0.5)
    inputs = random_inputs(model, 500, 4)
    result = check(model, convert_model(model, tmp_path / "hls"), inputs, testbench=False, threads=1)
    assert result["passed"] and result["outputs"]["out"]["bit_identical"] == 500, result["checks"]
    rtl = build_rtl(check_model(model), tmp_path / "rtl", inputs, expected=result["csim_values"], synthesize=False,
                    breakdown=False, progress=False)
    assert rtl["bit_exact"] and rtl["rtl_vs_reference"]["out"]["bit_identical"] == 500


def _refused():
    import qkeras
    from tensorflow import keras

    L = keras.layers
    return {
        "dilation_rate": (lambda: _model((8, 8, 1), L.Conv2D(2, 3, dilation_rate=2, name="dilated")),
                          "layer dilated: dilation_rate"),
        "an average over 3 values": (lambda: _model((6, 3, 1), L.AveragePooling2D((3, 1), name="avg3")),
                                     "layer avg3: an average over 3 values: 1/3 is not a binary fraction"),
        "an average pool padding its edges": (
            lambda: _model((5, 5, 1), L.AveragePooling2D((2, 2), padding="same", name="avg_same")),
            "layer avg_same: an average pool with padding='same' that pads"),
        "a separable convolution": (lambda: _model((6, 6, 2), qkeras.QSeparableConv2D(2, 3, name="sep")),
                                    "layer sep \\(QSeparableConv2D\\) is not supported .*DepthwiseConv2D"),
        "bilinear up-sampling": (lambda: _model((4, 4, 1), L.UpSampling2D(2, interpolation="bilinear", name="bil")),
                                 "layer bil: interpolation='bilinear'"),
    }


@pytest.mark.parametrize("name", list(_refused()))
def test_forms_that_cannot_be_exact_are_refused_naming_the_layer(name):
    build, message = _refused()[name]
    with pytest.raises(UnsupportedModel, match=message):
        check_model(build())


def test_import_takes_events_with_a_shape_and_names_a_wrong_one(tmp_path, monkeypatch):
    """A .npy of (events, H, W, C) or of flat rows; a CSV of flat rows with --input-shape; a wrong shape names the
    expected and the found one, and nothing is written."""
    import pandas as pd
    import qkeras
    from tensorflow import keras

    monkeypatch.chdir(tmp_path)
    model = _model((4, 3, 1), qkeras.QConv2D(2, (2, 2), name="conv", kernel_quantizer=_q(5, 1),
                                             bias_quantizer=_q(5, 1)),
                   keras.layers.Flatten(name="flat"), qkeras.QDense(1, name="dense", kernel_quantizer=_q(5, 1),
                                                                    bias_quantizer=_q(5, 1)),
                   qkeras.QActivation(qkeras.quantized_relu(12, 6), name="score"))
    model.save(tmp_path / "cnn.h5")
    x = np.random.default_rng(0).normal(0, 2, (50, 4, 3, 1)).astype(np.float32)
    np.save(tmp_path / "images.npy", x)
    np.save(tmp_path / "wrong.npy", x[:, :3])
    pd.DataFrame(x.reshape(50, -1), columns=[f"v{i}" for i in range(12)]).to_csv(tmp_path / "rows.csv", index=False)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, ["import", str(tmp_path / "cnn.h5"), *args])

    wrong = run("--inputs", "wrong.npy", "--name", "wrong")
    assert wrong.exit_code == 1 and "events of shape (4, 3, 1)" in wrong.output and "(3, 3, 1)" in wrong.output
    unstated = run("--inputs", "rows.csv", "--name", "rows")
    assert unstated.exit_code == 1 and "--input-shape 4,3,1" in unstated.output
    assert not (tmp_path / "runs").exists()
    assert run("--inputs", "images.npy", "--name", "images").exit_code == 0
    stated = run("--inputs", "rows.csv", "--name", "rows", "--input-shape", "4,3,1")
    assert stated.exit_code == 0, stated.output
    from l1ad.runs import Run

    np.testing.assert_array_equal(Run(tmp_path / "runs" / "images").test_events().x,
                                  Run(tmp_path / "runs" / "rows").test_events().x)


@pytest.mark.slow
def test_forms_hls4ml_computes_wrongly_are_exact_with_the_resource_strategy(tmp_path):
    """The conv bugs open in hls4ml 1.3, each in one model, converted with the Resource strategy and reuse factor 2:
    #1471 (QDepthwiseConv2D zeroes alternating channels: l1ad writes it as a convolution with a block-diagonal
    kernel), #995 (AveragePooling2D with pool 1 and strides 2: l1ad writes pools as convolutions), and the one found
    here (a max pool that pads unsigned values pads with the type's largest value: l1ad pools a signed copy).
    hls4ml's C simulation equals the exact reference on every event."""
    import qkeras
    from qkeras import QActivation
    from tensorflow import keras

    from l1ad.firmware import check, convert_model
    from l1ad.firmware.convert import FirmwareOptions

    L = keras.layers
    x = keras.Input((6, 6, 3), name="x")
    h = QActivation(_q(8, 3), name="x_q")(x)
    h = qkeras.QDepthwiseConv2D((3, 3), padding="same", name="dw_1471", depthwise_quantizer=_q(5, 1),
                                bias_quantizer=_q(5, 1))(h)
    h = QActivation(qkeras.quantized_relu(8, 3), name="dw_q")(h)  # unsigned
    h = L.AveragePooling2D((1, 1), strides=2, name="avg_995")(h)
    h = L.MaxPooling2D((2, 2), padding="same", name="max_unsigned_padded")(h)
    out = QActivation(_q(12, 6), name="out")(qkeras.QDense(3, name="dense", kernel_quantizer=_q(6, 1),
                                                            bias_quantizer=_q(6, 1))(L.Flatten(name="flat")(h)))
    model = keras.Model(x, out)
    randomize(model, 6, 0.5)
    inputs = random_inputs(model, 500, 6)
    project = convert_model(model, tmp_path / "hls", FirmwareOptions(strategy="Resource", reuse_factor=2))
    result = check(model, project, inputs, testbench=False, threads=1)
    assert result["passed"] and result["outputs"]["out"]["bit_identical"] == 500, result["checks"]
    assert np.mean(result["csim"][0] != 0) > 0.3  # the events carry values, not zeros


def test_io_stream_is_refused_before_anything_is_written(tmp_path):
    from l1ad.common.errors import L1adError
    from l1ad.firmware.convert import FirmwareOptions

    with pytest.raises(L1adError, match="io_stream: l1ad proves io_parallel projects exact"):
        FirmwareOptions(io_type="io_stream")


@pytest.mark.slow
def test_average_over_a_number_that_is_not_a_power_of_two_is_rounded_at_import_and_exact(tmp_path):
    """AveragePooling2D((3, 1)) and a GlobalAveragePooling2D over 6 values, as Keras writes them: l1ad import rounds
    1/3 and 1/6 to the default type (a depthwise convolution under the pool's name, a constant Keras and the
    firmware share), says how far that moves Keras' float outputs, and the imported model is bit-exact in csim."""
    from tensorflow import keras

    from l1ad.firmware import check, convert_model
    from l1ad.importing import import_model
    from l1ad.runs import Run

    L = keras.layers
    model = _model((6, 4, 2), L.AveragePooling2D((3, 1), name="avg3"), L.Cropping2D(((0, 0), (0, 1)), name="crop"),
                   L.GlobalAveragePooling2D(name="gavg6"))
    model.save(tmp_path / "avg.h5")
    x = np.random.default_rng(2).normal(0, 3, (400, 6, 4, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(UnsupportedModel, match="layer avg3: an average over 3 values"):
        check_model(model)  # as written, outside import
    run = import_model(tmp_path / "avg.h5", tmp_path / "x.npy", tmp_path / "runs" / "avg")
    doc = __import__("json").loads((run / "import.json").read_text())["average_pool"]
    assert doc["type"] == "ap_fixed<16,6>" and doc["layers"] == ["avg3", "gavg6"]
    assert doc["vs_keras"]["gavg6"]["values_identical"] < 1 and 0 < doc["vs_keras"]["gavg6"]["max_abs_difference"] < 0.01
    imported = Run(run).model
    graph = check_model(imported)
    assert graph["avg3"].kind == graph["gavg6"].kind == "depthwise_conv"
    result = check(imported, convert_model(imported, tmp_path / "hls"), x.reshape(400, -1), testbench=False, threads=1)
    assert result["passed"] and result["outputs"]["gavg6_flat"]["bit_identical"] == 400, result["checks"]

"""A fixed subset of the differential benchmark (benchmarks/bench_differential.py): seeded random models of the
supported class, each accepted and bit-exact in csim on inputs with rounding ties and saturation, or refused at
import with the layer and the reason. Generation 1 (the models drawn before issue 33) covers input quantizers with
relu / tanh / unsigned bits, float Dense + BN, QBatchNormalization, alpha=None kernels, quantizers inside QDense,
Dropout, symmetric quantizers, a flattened 2-D input, every merge, every score form, models without input quantizer
(given the default input type, as `l1ad import` gives it); generation 2 adds the forms of issue 33: quantizers that
are tables (po2, ternary, binary, sigmoid, relu with a slope), LeakyReLU of slope 2^k, the Average, Maximum and
Minimum merges, outputs beside the score (the input's quantizer, a layer read inside, the score twice, a value of
more than 53 bits). Each of these failed before issue 33 (refused, or a firmware that did not compile). Convolutional
models (l1ad.zoo.random_conv) were all refused before issue 35."""

import pytest

from l1ad.firmware import check, check_model, convert_model
from l1ad.firmware.fixed import UnsupportedModel
from l1ad.zoo.random import as_imported, build, describe, random_inputs
from l1ad.zoo.random_conv import build_conv, describe_conv

EXACT = {
    (1, 0): "input tanh, concatenate, float BN, add, a quantizer inside a QDense, symmetric weights, distance score",
    (1, 2): "alpha=None kernel (power-of-two scales), float Dense + BN, Dropout, subtract, MSE score",
    (1, 13): "input relu, unsigned quantizers, subtract, MSE score",
    (1, 14): "linear activation, subtract and add, sum-of-squares score",
    (1, 44): "QBatchNormalization + squares, symmetric quantizers, distance score",
    (1, 18): "no input quantizer: the default input type stated, as l1ad import does",
    (1, 17): "a 2-D input flattened after its quantizer, QBatchNormalization, subtract, distance score",
    (1, 65): "no input quantizer, QBatchNormalization, a quantizer inside a QDense, squares, distance score",
    (1, 16): "a quantizer rounding above the highest bit of the quantizer before it (refused before: now a wider copy)",
    (2, 7): "ternary and sigmoid tables, LeakyReLU(2), a hidden layer as an output (also read inside)",
    (2, 14): "quantized_relu with a slope of 0.25 (a table), Average, Minimum",
    (2, 19): "an output of 98 bits (the square of two float Dense layers), compared in every bit",
    (2, 25): "po2 and ternary tables, Average, the input's quantizer as an output",
    (2, 49): "a hard tanh of values with fewer than zero fractional bits (the reference clipped them to 0), as an output",
    (2, 53): "a layer read inside as an output, and the score twice",
}
REFUSED = {
    (1, 32): "input x: bit-exact firmware needs exactly one QActivation",  # the library refuses a model without one
    (2, 2): "layer h1_q_b: quantized_po2 is built as a table of every value of its input, whose type fixed<38,3>",
    (2, 35): "layer wide_dense_b: its values are constants .* 51 fractional",
}


CONV = {
    2: "a 2-D conv with a relu_po2 table and LeakyReLU(0.75), up-sampling, a strided conv inside, sum-of-squares score",
    9: "no input quantizer, a float Conv1D, up-sampling by 3, an average pool",
    12: "two depthwise convolutions (depth multiplier 2), BatchNormalization, a global max pool",
}


@pytest.mark.parametrize("generation, seed", list(EXACT) + [("conv", s) for s in CONV],
                         ids=[f"g{g}-seed{s}" for g, s in EXACT] + [f"conv-seed{s}" for s in CONV])
def test_random_model_is_bit_exact_in_csim(generation, seed, tmp_path):
    model = as_imported(build_conv(describe_conv(seed)) if generation == "conv" else build(describe(seed, generation)))
    check_model(model)
    x = random_inputs(model, 400, seed)
    result = check(model, convert_model(model, tmp_path / "p"), x, testbench=False, threads=1)
    assert result["passed"], (CONV[seed] if generation == "conv" else EXACT[generation, seed], result["checks"])
    assert all(o["bit_identical"] == 400 for o in result["outputs"].values())
    assert result["audit"]["total_wrapped"] == 0


@pytest.mark.parametrize("generation, seed", list(REFUSED), ids=[f"g{g}-seed{s}" for g, s in REFUSED])
def test_random_model_that_cannot_be_exact_is_refused_naming_the_layer(generation, seed):
    with pytest.raises(UnsupportedModel, match=REFUSED[generation, seed]):
        check_model(build(describe(seed, generation)))

"""A fixed subset of the differential benchmark (benchmarks/bench_differential.py): seeded random models of the
supported class, each accepted and bit-exact in csim on inputs with rounding ties and saturation, or refused at
import with the layer and the reason. The seeds cover input quantizers with relu / tanh / unsigned bits, float
Dense + BN, QBatchNormalization, alpha=None kernels, quantizers inside QDense, Dropout, symmetric quantizers, a
flattened 2-D input, every merge, every score form, models without input quantizer (given the default input type,
as `l1ad import` gives it), and the refusal the benchmark meets."""

import pytest

from l1ad.firmware import check, check_model, convert_model
from l1ad.firmware.layers import UnsupportedModel
from l1ad.random_models import as_imported, build, describe, random_inputs

EXACT = {
    0: "input tanh, concatenate, float BN, add, a quantizer inside a QDense, symmetric weights, distance score",
    2: "alpha=None kernel (power-of-two scales), float Dense + BN, Dropout, subtract, MSE score",
    13: "input relu, unsigned quantizers, subtract, MSE score",
    14: "linear activation, subtract and add, sum-of-squares score",
    44: "QBatchNormalization + squares, symmetric quantizers, distance score",
    18: "no input quantizer: the default input type stated, as l1ad import does",
    17: "a 2-D input flattened after its quantizer, QBatchNormalization, subtract, distance score",
    65: "no input quantizer, QBatchNormalization, a quantizer inside a QDense, squares, distance score",
    16: "a quantizer rounding above the highest bit of the quantizer before it (refused before: now a wider copy)",
}
REFUSED = {
    32: "input x: bit-exact firmware needs exactly one QActivation",  # the library refuses a model without one
}


@pytest.mark.parametrize("seed", list(EXACT), ids=[f"seed{s}" for s in EXACT])
def test_random_model_is_bit_exact_in_csim(seed, tmp_path):
    model = as_imported(build(describe(seed)))
    check_model(model)
    x = random_inputs(model, 400, seed)
    result = check(model, convert_model(model, tmp_path / "p"), x, testbench=False, threads=1)
    assert result["passed"], (EXACT[seed], result["checks"])
    assert all(o["bit_identical"] == 400 for o in result["outputs"].values())
    assert result["audit"]["total_wrapped"] == 0


@pytest.mark.parametrize("seed", list(REFUSED), ids=[f"seed{s}" for s in REFUSED])
def test_random_model_that_cannot_be_exact_is_refused_naming_the_layer(seed):
    with pytest.raises(UnsupportedModel, match=REFUSED[seed]):
        check_model(build(describe(seed)))

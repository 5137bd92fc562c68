"""The exact reference against QKeras itself, quantizer by quantizer, on values where float32 is exact.

Inputs are multiples of 2^-(f+2) (exact in float32) spanning far beyond each type's range, so every
rounding tie (half to even) and both saturations are exercised.
"""

import numpy as np
import pytest

from l1ad.firmware import tables
from l1ad.firmware.fixed import UnsupportedModel, Value, quantizer_type
from l1ad.firmware.kinds import activation_of


def _grid(fixed, span=2.5):
    step = 2.0 ** -(fixed.f + 2)
    top = span * 2.0 ** (fixed.i + 1)
    return np.arange(-top, top + step, step)


def _qkeras(quantizer, x):
    return np.asarray(quantizer(x.astype(np.float32)), dtype=np.float64)


CASES = [
    ("quantized_bits", dict(bits=8, integer=3, keep_negative=True, alpha=1)),
    ("quantized_bits", dict(bits=6, integer=0, keep_negative=True, alpha=1)),
    ("quantized_bits", dict(bits=5, integer=5, keep_negative=False, alpha=1)),
    ("quantized_bits", dict(bits=2, integer=1, keep_negative=True, alpha=1)),
    ("quantized_bits", dict(bits=1, integer=0, keep_negative=False, alpha=1)),
    ("quantized_bits", dict(bits=8, integer=3, keep_negative=True, alpha=None)),  # QKeras 0.9's default: scale 1
    ("quantized_bits", dict(bits=6, integer=2, keep_negative=False, alpha=None)),
    ("quantized_bits", dict(bits=6, integer=2, keep_negative=True, alpha=1, symmetric=1)),  # CICADA: -max..max
    ("quantized_bits", dict(bits=4, integer=0, keep_negative=True, alpha=None, symmetric=True)),
    ("quantized_relu", dict(bits=10, integer=4)),
    ("quantized_relu", dict(bits=6, integer=0)),
    ("quantized_relu", dict(bits=1, integer=1)),  # the trigger bit
    ("quantized_relu", dict(bits=1, integer=0)),
    ("quantized_relu", dict(bits=16, integer=8)),  # the default score
    ("quantized_tanh", dict(bits=6)),
    ("quantized_tanh", dict(bits=3)),
]


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}({','.join(map(str, k.values()))})" for n, k in CASES])
def test_reference_equals_qkeras(name, kwargs):
    import qkeras

    quantizer = getattr(qkeras, name)(**kwargs)
    fixed, before = quantizer_type(quantizer)
    x = _grid(fixed)
    got = fixed.quantize(before(x))
    np.testing.assert_array_equal(got, _qkeras(quantizer, x))
    ties = np.sum((np.abs(before(x)) * 2.0**fixed.f) % 1 == 0.5)
    assert ties > 4  # rounding ties were really exercised
    assert np.any(before(x) > fixed.max) and got.max() == fixed.max  # and saturation at the top
    assert got.min() == fixed.min  # and at the bottom (-max for a symmetric quantizer)


# quantizers that are exact functions of their input, evaluated as tables (firmware/tables.py)
TABLE_CASES = [
    ("quantized_po2", dict(bits=4)),
    ("quantized_po2", dict(bits=5, max_value=2.0)),
    ("quantized_po2", dict(bits=3, max_value=0.5)),
    ("quantized_relu_po2", dict(bits=4)),
    ("quantized_relu_po2", dict(bits=4, negative_slope=0.25)),
    ("quantized_relu_po2", dict(bits=5, max_value=4)),
    ("binary", dict()),
    ("binary", dict(use_01=True)),
    ("binary", dict(alpha=0.5)),
    ("ternary", dict()),
    ("ternary", dict(threshold=0.5, alpha=2.0)),
    ("quantized_relu", dict(bits=6, integer=2, negative_slope=0.25)),
    ("quantized_relu", dict(bits=4, integer=0, negative_slope=1.0)),  # a slope of 2^0
    ("quantized_sigmoid", dict(bits=6)),
    ("quantized_sigmoid", dict(bits=4, symmetric=True)),
    ("hard_sigmoid", None),
    ("quantized_relu", dict(bits=6, integer=2, relu_upper_bound=1.5)),  # applied: is_quantized_clip=False
]


@pytest.mark.parametrize("name, kwargs", TABLE_CASES, ids=[f"{n}{i}" for i, (n, _) in enumerate(TABLE_CASES)])
def test_table_quantizers_equal_qkeras(name, kwargs):
    """Every value of a grid far beyond each quantizer's range (multiples of 2^-8: exact in float32, so QKeras'
    float32 arithmetic is exact too): the exact function equals QKeras, tie for tie."""
    import qkeras

    quantizer = getattr(qkeras, name)(**kwargs) if kwargs is not None else getattr(qkeras.quantizers, name)
    if name == "quantized_relu":
        quantizer.is_quantized_clip = "relu_upper_bound" not in kwargs  # QKeras applies the bound only then
    kind, spec, _ = activation_of(quantizer, "q")
    assert kind == "table"
    x = np.arange(-12, 12, 2.0**-8)
    num, frac = tables.evaluate(spec, np.round(x * 2**8).astype(np.int64), 8)
    got = np.asarray(num, dtype=np.float64) * 2.0**-frac
    np.testing.assert_array_equal(got, _qkeras(quantizer, x))
    assert len(np.unique(got)) >= 2


def test_relu_upper_bound_changes_nothing_where_qkeras_ignores_it():
    import qkeras

    assert activation_of(qkeras.quantized_relu(6, 2, relu_upper_bound=1.5), "q")[0] == "quantizer"


@pytest.mark.parametrize("make, message", [
    (lambda q: q.quantized_bits(1, 0, keep_negative=True, alpha=1), "binary quantizer"),
    (lambda q: q.quantized_bits(8, 2, alpha="auto_po2"), "alpha=1"),
    (lambda q: q.quantized_tanh(8, use_real_tanh=True), "hard tanh"),
    (lambda q: q.quantized_bits(8, 2, alpha=1, qnoise_factor=0.5), "qnoise_factor"),  # QKeras applies it: was ignored
    (lambda q: q.quantized_relu(8, 2, qnoise_factor=0.5), "qnoise_factor"),
    (lambda q: q.quantized_relu(8, 2, use_stochastic_rounding=True), "not reproducible on chip"),
    (lambda q: q.binary(use_stochastic_rounding=True), "not reproducible on chip"),
    (lambda q: q.binary(alpha="auto"), "statistics of each batch"),
    (lambda q: q.ternary(alpha="auto_po2"), "statistics of each batch"),
    (lambda q: q.quantized_po2(4, quadratic_approximation=True), "exact powers of two"),
    (lambda q: q.quantized_sigmoid(6, use_real_sigmoid=True), "hard sigmoid"),
    (lambda q: q.quantized_relu(6, 2, use_sigmoid=1), "use_sigmoid"),
    (lambda q: q.quantized_ulaw(8), "not plain fixed point"),
])
def test_unsupported_quantizer_settings_fail_clearly(make, message):
    import qkeras

    with pytest.raises(UnsupportedModel, match=message) as refused:
        activation_of(make(qkeras), "layer q")
    assert str(refused.value).startswith("layer q: ")


def test_config_refuses_one_bit_signed_types():
    from l1ad.training.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="signed formats need bits >= 2"):
        load_config(overrides={"quantization": {"weights": {"bits": 1, "integer": 0}}})


def test_nothing_compared_is_never_exact(tmp_path):
    """Zero events, or outputs of different lengths (a test bench that wrote fewer lines), fail; they used to count
    as "100% identical"."""
    from l1ad.common.errors import L1adError
    from l1ad.firmware.validate import _agreement, check

    with pytest.raises(L1adError, match="no events given"):
        check(None, tmp_path, np.zeros((0, 16), dtype=np.float32))
    def values(n):
        return Value(np.ones((n, 1), dtype=np.int64), 0)

    assert _agreement(values(0), values(0))["fraction"] == 0.0
    assert _agreement(values(3), values(5))["fraction"] == 0.0
    assert _agreement(values(4), values(4))["fraction"] == 1.0


def test_wide_values_are_compared_in_every_bit():
    """Values of 200 bits that float64 cannot tell apart are told apart; one scale against another is aligned."""
    from l1ad.firmware.validate import _agreement

    big = 2**199 + 1
    a = Value(np.array([[big], [3]], dtype=object), 10)
    b = Value(np.array([[big - 1], [6]], dtype=object), 11)  # 3 * 2^-10 == 6 * 2^-11
    assert float(big) == float(big - 1)
    doc = _agreement(a, b)
    assert doc["bit_identical"] == 1 and doc["widest_bits"] == 200


def test_every_layer_hls4ml_reads_is_a_kind_pass_through_or_refused_with_a_reason():
    """The registry is the one list: a layer class hls4ml 1.3's Keras reader converts and l1ad neither reads nor
    names would be refused without a reason (or, worse, read by nobody)."""
    from hls4ml.converters.keras_v2_to_hls import get_supported_keras_layers

    from l1ad.firmware.kinds import KINDS, PASS_THROUGH, REFUSED

    read = {name for cls in KINDS.values() for name in cls.keras}
    assert not read & set(REFUSED), "a class both read and refused"
    missing = set(get_supported_keras_layers()) - read - set(PASS_THROUGH) - set(REFUSED)
    assert not missing, f"hls4ml reads these, the registry does not say what l1ad does with them: {sorted(missing)}"
    assert all(len(reason) > 20 for reason in REFUSED.values())

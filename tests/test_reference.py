"""The exact reference against QKeras itself, quantizer by quantizer, on values where float32 is exact.

Inputs are multiples of 2^-(f+2) (exact in float32) spanning far beyond each type's range, so every
rounding tie (half to even) and both saturations are exercised.
"""

import numpy as np
import pytest

from l1ad.firmware.layers import UnsupportedModel, quantizer_type


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


@pytest.mark.parametrize("make, message", [
    (lambda q: q.quantized_bits(1, 0, keep_negative=True, alpha=1), "binary quantizer"),
    (lambda q: q.quantized_bits(8, 2, alpha="auto_po2"), "alpha=1"),
    (lambda q: q.quantized_relu(8, 2, negative_slope=0.25), "plain relu"),
    (lambda q: q.quantized_tanh(8, use_real_tanh=True), "hard tanh"),
    (lambda q: q.binary(), "not supported"),
    (lambda q: q.quantized_bits(8, 2, alpha=1, qnoise_factor=0.5), "qnoise_factor"),  # QKeras applies it: was ignored
    (lambda q: q.quantized_relu(8, 2, qnoise_factor=0.5), "qnoise_factor"),
])
def test_unsupported_quantizer_settings_fail_clearly(make, message):
    import qkeras

    with pytest.raises(UnsupportedModel, match=message):
        quantizer_type(make(qkeras))


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
    assert _agreement(np.zeros((0, 1)), np.zeros((0, 1)))["fraction"] == 0.0
    assert _agreement(np.zeros((3, 1)), np.zeros((5, 1)))["fraction"] == 0.0
    assert _agreement(np.ones((4, 1)), np.ones((4, 1)))["fraction"] == 1.0

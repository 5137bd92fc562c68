"""The 16 features against brute-force definitions from the papers, and mMDT on known jets."""

import awkward as ak
import numpy as np
import pytest
from ecf_reference import reference_features

from l1ad.training.features import FEATURES
from l1ad.training.substructure import correlators, groom_mmdt, jet_features


def _jet(pt, eta, phi, m=0.0):
    pt, eta, phi = map(np.asarray, (pt, eta, phi))
    mt = np.sqrt(pt**2 + m**2)
    return {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": mt * np.sinh(eta), "E": mt * np.cosh(eta)}


def _awkward(jets):
    return ak.Array([[dict(zip(j, v)) for v in zip(*j.values())] for j in jets])


def test_correlators_match_brute_force():
    rng = np.random.default_rng(3)
    jets = [_jet(rng.uniform(5, 400, n), rng.normal(0.3, 0.25, n), rng.normal(-1.0, 0.25, n), m=0.14)
            for n in (3, 4, 6, 9, 12)]
    got = correlators(_awkward(jets))
    for i, jet in enumerate(jets):
        for name, value in reference_features(jet).items():
            assert got[name][i] == pytest.approx(value, rel=1e-9), name


def test_mmdt_drops_soft_wide_angle_radiation():
    # two hard prongs (z = 0.4 / 0.6) and one soft particle far away (z ~ 0.01): mMDT removes the soft one
    hard = _jet([400, 600], [0.0, 0.1], [0.0, 0.12])
    soft = _jet([10], [0.5], [-0.5])
    jet = {k: np.concatenate([hard[k], soft[k]]) for k in hard}
    groomed, mass = groom_mmdt(_awkward([jet]), jet_radius=0.8)
    assert ak.num(groomed, axis=1).tolist() == [2]
    e, px, py, pz = (hard[k].sum() for k in ("E", "px", "py", "pz"))
    assert mass[0] == pytest.approx(np.sqrt(e**2 - px**2 - py**2 - pz**2), rel=1e-9)


def test_mmdt_keeps_symmetric_two_prong_jet():
    jet = _jet([500, 450, 30], [0.0, 0.1, 0.05], [0.0, 0.1, 0.05])
    groomed, _ = groom_mmdt(_awkward([jet]), jet_radius=0.8)
    assert ak.num(groomed, axis=1).tolist() == [3]


def test_zlogz_and_multiplicity():
    jet = _jet([100, 200, 300, 50], [0.0, 0.1, -0.1, 0.2], [0.0, 0.05, 0.1, -0.1], m=0.14)
    features = jet_features(_awkward([jet]), jet_radius=0.8)
    z = jet["E"] / jet["E"].sum()
    assert list(features) == FEATURES
    assert features["zlogz"][0] == pytest.approx(np.sum(z * np.log(z)), rel=1e-12)
    assert features["multiplicity"][0] == 4

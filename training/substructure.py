"""The 16 high-level jet features, computed with FastJet and fjcontrib (scikit-hep `fastjet`).

The definitions follow the code that produced the hls4ml LHC jet dataset (Coleman et al., JINST 13
T01003 (2018); Duarte et al., JINST 13 P07027 (2018)):

* ``zlogz``: sum over the constituents of the ungroomed jet of z ln z, with z = E_i / E_jet.
* ``multiplicity``: number of constituents of the ungroomed jet.
* Grooming: modified mass-drop tagger (mMDT) = soft drop with beta = 0, z_cut = 0.1
  (Dasgupta, Fregoso, Marzani, Salam, JHEP 09 (2013) 029; Larkoski, Marzani, Soyez, Thaler,
  JHEP 05 (2014) 146), fjcontrib ``SoftDrop`` with C/A reclustering. ``mass_mmdt`` is the groomed mass.
* Energy-correlation functions on the groomed jet, fjcontrib ``EnergyCorrelator`` with the pt_R measure
  (pT_i and R_ij in rapidity-azimuth):
  - C_N^(beta) = ECF(N+1) ECF(N-1) / ECF(N)^2 (``EnergyCorrelatorDoubleRatio``; Larkoski, Salam,
    Thaler, JHEP 06 (2013) 108, arXiv:1305.0007): c1_b0, c1_b1, c1_b2, c2_b1, c2_b2;
  - D2^(beta) = ECF(3) ECF(1)^3 / ECF(2)^3 (Larkoski, Moult, Neill, JHEP 12 (2014) 009,
    arXiv:1409.6298): d2_b1, d2_b2;
  - D2^(alpha=1, beta) = e3^(1) / (e2^(beta))^(3/beta) (``EnergyCorrelatorGeneralizedD2``): d2_a1_b1, d2_a1_b2;
  - M2^(beta) = 1e3 / 1e2 and N2^(beta) = 2e3 / (1e2)^2 from generalized correlators
    (Moult, Necib, Thaler, JHEP 12 (2016) 153, arXiv:1609.07483): m2_b*, n2_b*.

All heavy lifting runs in FastJet's C++ through the awkward-array interface; this module only wires it.
"""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import vector

from .features import FEATURES

vector.register_awkward()

MMDT_ZCUT = 0.1
MMDT_BETA = 0.0

# feature name -> fastjet EnergyCorrelator arguments (func names of scikit-hep fastjet)
ECF_FEATURES = {
    "c1_b0_mmdt": dict(func="cseries", npoint=1, beta=0),
    "c1_b1_mmdt": dict(func="cseries", npoint=1, beta=1),
    "c1_b2_mmdt": dict(func="cseries", npoint=1, beta=2),
    "c2_b1_mmdt": dict(func="cseries", npoint=2, beta=1),
    "c2_b2_mmdt": dict(func="cseries", npoint=2, beta=2),
    "d2_b1_mmdt": dict(func="generalizedd2", alpha=1, beta=1),  # D2^(b) = D2^(alpha=b, b)
    "d2_b2_mmdt": dict(func="generalizedd2", alpha=2, beta=2),
    "d2_a1_b1_mmdt": dict(func="generalizedd2", alpha=1, beta=1),
    "d2_a1_b2_mmdt": dict(func="generalizedd2", alpha=1, beta=2),
    "m2_b1_mmdt": dict(func="mseries", npoint=2, beta=1),
    "m2_b2_mmdt": dict(func="mseries", npoint=2, beta=2),
    "n2_b1_mmdt": dict(func="nseries", npoint=2, beta=1),
    "n2_b2_mmdt": dict(func="nseries", npoint=2, beta=2),
}


def _four_vectors(p: ak.Array) -> ak.Array:
    return ak.zip({"px": p.px, "py": p.py, "pz": p.pz, "E": p.E}, with_name="Momentum4D")


def _one_jet_each(constituents: ak.Array) -> fastjet.ClusterSequence:
    """Treat each jet's constituents as one 'event' and merge them into exactly one C/A jet.

    Exclusive clustering to one jet keeps every constituent, so the result is the original jet
    with a C/A history, which is what soft drop declusters.
    """
    return fastjet.ClusterSequence(_four_vectors(constituents), fastjet.JetDefinition(fastjet.cambridge_algorithm, 1.0))


def groom_mmdt(constituents: ak.Array, jet_radius: float) -> tuple[ak.Array, np.ndarray]:
    """mMDT-groomed constituents and groomed mass of each jet."""
    groomed = _one_jet_each(constituents).exclusive_jets_softdrop_grooming(
        njets=1, beta=MMDT_BETA, symmetry_cut=MMDT_ZCUT, R0=jet_radius
    )
    return groomed.constituents, ak.to_numpy(groomed.msoftdrop).astype(np.float64)


def correlators(constituents: ak.Array) -> dict[str, np.ndarray]:
    """The 13 energy-correlation features of each jet (call it on groomed constituents)."""
    jets = _one_jet_each(constituents)
    return {name: ak.to_numpy(jets.exclusive_jets_energy_correlator(njets=1, **args)).astype(np.float64)
            for name, args in ECF_FEATURES.items()}


def jet_features(constituents: ak.Array, jet_radius: float, groomed_count: bool = False) -> dict[str, np.ndarray]:
    """All 16 features for a list of jets given as ``jets * var * {px, py, pz, E}``.

    With ``groomed_count``, also ``groomed_constituents``: how many constituents survive the grooming.
    """
    z = constituents.E / ak.sum(constituents.E, axis=1)
    groomed, mass = groom_mmdt(constituents, jet_radius)
    out = {
        "zlogz": ak.to_numpy(ak.sum(z * np.log(z), axis=1)),
        "multiplicity": ak.to_numpy(ak.num(constituents, axis=1)).astype(np.float64),
        "mass_mmdt": mass,
        **correlators(groomed),
    }
    if groomed_count:
        out["groomed_constituents"] = ak.to_numpy(ak.num(groomed, axis=1))
        return {name: out[name] for name in [*FEATURES, "groomed_constituents"]}
    return {name: out[name] for name in FEATURES}

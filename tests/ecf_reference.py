"""Brute-force energy-correlation functions, written from the papers, to check FastJet's wiring.

pt_R measure: weights pT_i, angles R_ij in rapidity-azimuth.
ECF(N, b) = sum over N-subsets of prod pT * prod of all pairwise R^b (arXiv:1305.0007).
Generalized e_N^(v)(b) = sum over N-subsets of prod z * product of the v smallest pairwise R^b
(arXiv:1609.07483), with z = pT / sum pT.
"""

from itertools import combinations

import numpy as np


def _pt_y_phi(p):
    px, py, pz, e = (np.asarray(p[k], dtype=float) for k in ("px", "py", "pz", "E"))
    pt = np.hypot(px, py)
    y = 0.5 * np.log((e + pz) / (e - pz))
    return pt, y, np.arctan2(py, px)


def _angles(y, phi, i, j):
    dphi = np.mod(phi[i] - phi[j] + np.pi, 2 * np.pi) - np.pi
    return np.hypot(y[i] - y[j], dphi)


def ecf(p, n, beta):
    pt, y, phi = _pt_y_phi(p)
    if n == 0:
        return 1.0
    total = 0.0
    for idx in combinations(range(len(pt)), n):
        w = np.prod(pt[list(idx)])
        for i, j in combinations(idx, 2):
            w *= _angles(y, phi, i, j) ** beta
        total += w
    return total


def generalized(p, v, n, beta):
    pt, y, phi = _pt_y_phi(p)
    z = pt / pt.sum()
    total = 0.0
    for idx in combinations(range(len(pt)), n):
        angles = sorted(_angles(y, phi, i, j) ** beta for i, j in combinations(idx, 2))
        total += np.prod(z[list(idx)]) * np.prod(angles[:v])
    return total


def reference_features(p):
    """The 13 ECF-based features of one (groomed) jet, by brute force."""
    out = {}
    for b in (0, 1, 2):
        out[f"c1_b{b}_mmdt"] = ecf(p, 2, b) * ecf(p, 0, b) / ecf(p, 1, b) ** 2
    for b in (1, 2):
        e1, e2, e3 = ecf(p, 1, b), ecf(p, 2, b), ecf(p, 3, b)
        out[f"c2_b{b}_mmdt"] = e3 * e1 / e2**2
        out[f"d2_b{b}_mmdt"] = e3 * e1**3 / e2**3
        n2 = ecf(p, 2, b) / ecf(p, 1, b) ** 2
        out[f"d2_a1_b{b}_mmdt"] = (ecf(p, 3, 1) / ecf(p, 1, 1) ** 3) / n2 ** (3.0 / b)
        out[f"m2_b{b}_mmdt"] = generalized(p, 1, 3, b) / generalized(p, 1, 2, b)
        out[f"n2_b{b}_mmdt"] = generalized(p, 2, 3, b) / generalized(p, 1, 2, b) ** 2
    return out

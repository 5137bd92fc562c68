"""What is known of the official hls4ml jet dataset's feature distributions, per class, and how far a sample is.

No per-class statistics of the official data are published; these numbers were read off published
histograms of the official features by digitizing them (l1ad's own reading, done once; the method and the
per-number reliability are in training/data/DATACARD.md):

* source U: ``pierinim/tutorials``, ``UZH/2024/tutorials/ExamExercise.ipynb``, cell 11 (10,000 official
  jets, about 2,000 per class, density histograms of the jet features);
* source S: ``pierinim/tutorials``, ``SMARTHEP/HandsOn1_DNN.ipynb``, cell 12 (33,500 official jets, the 16
  OpenML features). S agrees with U to a few percent where both read cleanly.

Values are (5% quantile, median, 95% quantile) from U; ``True`` as a fourth entry marks a reading that is
unreliable (a spike at zero hidden behind other curves), where only the shape should be trusted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .features import CLASSES, FEATURES, LABEL

SOURCE = ("digitized histograms of official jets: pierinim/tutorials UZH/2024/tutorials/ExamExercise.ipynb (10k jets) "
          "and SMARTHEP/HandsOn1_DNN.ipynb (33.5k jets)")

QUANTILES = {
    "zlogz": {"g": (-3.95, -3.24, -2.3), "q": (-3.39, -2.41, -1.45), "w": (-3.4, -2.75, -1.87), "z": (-3.44, -2.75, -1.89), "t": (-3.84, -3.26, -2.48)},
    "c1_b0_mmdt": {"g": (0.37, 0.461, 0.484), "q": (0.241, 0.405, 0.47), "w": (0.32, 0.446, 0.474), "z": (0.333, 0.446, 0.475), "t": (0.413, 0.467, 0.483)},
    "c1_b1_mmdt": {"g": (0.00236, 0.0206, 0.0888), "q": (0.000665, 0.00502, 0.0643), "w": (0.00217, 0.0371, 0.044), "z": (0.00223, 0.0421, 0.0497), "t": (0.0307, 0.08, 0.105)},
    "c1_b2_mmdt": {"g": (0.000351, 0.00357, 0.0295, True), "q": (5.55e-05, 0.000555, 0.017, True), "w": (0.000183, 0.00558, 0.00655), "z": (0.0002, 0.00724, 0.00833), "t": (0.0042, 0.0228, 0.0331)},
    "c2_b1_mmdt": {"g": (0.0036, 0.0302, 0.117), "q": (0.00055, 0.00761, 0.0831), "w": (0.00238, 0.0323, 0.0625), "z": (0.00286, 0.0372, 0.0696), "t": (0.0276, 0.0966, 0.148)},
    "c2_b2_mmdt": {"g": (0.00205, 0.00882, 0.0372, True), "q": (6.91e-05, 0.000691, 0.0143, True), "w": (0.000172, 0.00181, 0.00769), "z": (0.000218, 0.00243, 0.00983), "t": (0.0013, 0.02, 0.0514)},
    "d2_b1_mmdt": {"g": (0.897, 1.45, 2.2), "q": (0.801, 1.39, 2.28), "w": (0.549, 1.08, 1.98), "z": (0.501, 1.04, 1.99), "t": (0.627, 1.19, 1.83)},
    "d2_b2_mmdt": {"g": (0.468, 1.44, 2.81), "q": (0.391, 1.28, 2.67), "w": (0.168, 0.601, 2.0), "z": (0.116, 0.492, 1.93), "t": (0.218, 0.951, 2.05)},
    "d2_a1_b1_mmdt": {"g": (0.897, 1.45, 2.2), "q": (0.801, 1.39, 2.28), "w": (0.549, 1.08, 1.98), "z": (0.501, 1.04, 1.99), "t": (0.627, 1.19, 1.83)},
    "d2_a1_b2_mmdt": {"g": (0.118, 0.254, 0.33), "q": (0.0911, 0.222, 0.31), "w": (0.0687, 0.138, 0.282), "z": (0.0645, 0.128, 0.28), "t": (0.0838, 0.202, 0.278)},
    "m2_b1_mmdt": {"g": (0.0535, 0.118, 0.163), "q": (0.0379, 0.1, 0.152), "w": (0.0325, 0.0661, 0.137), "z": (0.0305, 0.0631, 0.134), "t": (0.0398, 0.0921, 0.135)},
    "m2_b2_mmdt": {"g": (0.0158, 0.0563, 0.0968), "q": (0.0126, 0.0506, 0.0927), "w": (0.00638, 0.0218, 0.0795), "z": (0.00597, 0.0202, 0.0761), "t": (0.0094, 0.0437, 0.0825)},
    "n2_b1_mmdt": {"g": (0.207, 0.356, 0.419), "q": (0.159, 0.323, 0.401), "w": (0.13, 0.231, 0.378), "z": (0.121, 0.219, 0.38), "t": (0.146, 0.292, 0.373)},
    "n2_b2_mmdt": {"g": (0.0693, 0.196, 0.292), "q": (0.0566, 0.18, 0.283), "w": (0.026, 0.0786, 0.247), "z": (0.0222, 0.0719, 0.244), "t": (0.0354, 0.147, 0.265)},
    "mass_mmdt": {"g": (4.41, 42.1, 192.0), "q": (1.37, 9.19, 126.0), "w": (4.1, 77.4, 83.8), "z": (4.11, 88.9, 95.2), "t": (64.8, 154.0, 183.0)},
    "multiplicity": {"g": (37.4, 67.1, 110.0), "q": (18.5, 35.0, 70.6), "w": (22.9, 38.5, 61.1), "z": (22.6, 39.4, 65.0), "t": (37.5, 63.9, 97.3)},
}
# share of gluon jets with a groomed mass above 250 GeV (U / S): 0.6% / 0.9%
GLUON_MASS_ABOVE_250 = (0.006, 0.009)
SUMMARY_FEATURES = ("multiplicity", "mass_mmdt", "zlogz", "c1_b1_mmdt", "c2_b1_mmdt", "d2_b1_mmdt", "n2_b1_mmdt")


def comparison(table: pd.DataFrame, features=FEATURES) -> pd.DataFrame:
    """Per feature and class: the sample's 5/50/95% quantiles beside the official ones, and median ratios."""
    rows = []
    for feature in features:
        for label in CLASSES:
            values = table.loc[table[LABEL] == label, feature].to_numpy(dtype=np.float64)
            if not len(values):
                continue
            q05, med, q95 = np.quantile(values, [0.05, 0.5, 0.95])
            o05, omed, o95, *flag = QUANTILES[feature][label]
            rows.append({"feature": feature, "class": label, "jets": len(values), "q05": q05, "median": med,
                         "q95": q95, "official_q05": o05, "official_median": omed, "official_q95": o95,
                         "median_ratio": med / omed if omed else np.nan, "official_reliable": not flag})
    return pd.DataFrame(rows)


def comparison_figure(table: pd.DataFrame, path, title: str = "this sample") -> None:
    """16 panels: each class's distribution of a feature (lines) and the official 5/50/95% quantiles (markers)."""
    from l1ad.common.style import COLORS, figure, save, styled

    @styled
    def draw():
        fig, axes = figure(4, 4, figsize=(17, 14))
        for ax, feature in zip(axes.ravel(), FEATURES):
            values = table[feature].to_numpy(dtype=np.float64)
            lo, hi = np.quantile(values, [0.002, 0.998])
            present = [c for c in CLASSES if (table[LABEL] == c).any()]
            for label in present:
                ax.hist(table.loc[table[LABEL] == label, feature], bins=50, range=(lo, hi), histtype="step",
                        density=True, color=COLORS[label], lw=1.5, label=f"{label} ({title})")
            top = ax.get_ylim()[1]
            for k, label in enumerate(present):
                q05, med, q95, *flag = QUANTILES[feature][label]
                ax.errorbar([med], [top * (0.95 - 0.07 * k)], xerr=[[med - q05], [q95 - med]],
                            fmt="x" if flag else "v", color=COLORS[label], ms=7, capsize=3, lw=1.2)
            ax.set_xlabel(feature, fontsize="small")
            ax.tick_params(labelsize="x-small")
        axes[0, 0].legend(fontsize="xx-small")
        fig.suptitle(f"{title} (lines) vs official data: median (marker) and 5-95% range (bar), per class; "
                     "x: unreliable official reading", fontsize="small")
        fig.tight_layout()
        save(fig, path)

    draw()


def comparison_lines(table: pd.DataFrame) -> list[str]:
    """Terminal lines for ``l1ad data info``: per-class medians of the key features beside the official ones."""
    cmp = comparison(table, SUMMARY_FEATURES)
    if cmp.empty:
        return []
    classes = [c for c in CLASSES if c in set(cmp["class"])]
    lines = ["", "medians, this sample / official (ratio); official from " + SOURCE + ":",
             f"{'feature':14}" + "".join(f"{c:>26}" for c in classes)]
    for feature in SUMMARY_FEATURES:
        part = cmp[cmp["feature"] == feature].set_index("class")
        cells = []
        for c in classes:
            r = part.loc[c]
            cells.append(f"{r['median']:.3g} / {r['official_median']:.3g} ({r['median_ratio']:.2f})".rjust(26))
        lines.append(f"{feature:14}" + "".join(cells))
    gluons = table.loc[table[LABEL] == "g", "mass_mmdt"]
    if len(gluons):
        lines.append(f"gluon jets with groomed mass > 250 GeV: {np.mean(gluons > 250):.2%} here, "
                     f"{GLUON_MASS_ABOVE_250[0]:.1%}-{GLUON_MASS_ABOVE_250[1]:.1%} official")
    return lines

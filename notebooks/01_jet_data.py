# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · The jet data
#
# l1ad learns what ordinary QCD jets look like and flags everything else. This notebook looks at the
# data it learns from: the 16 high-level features of the hls4ml LHC jet dataset, computed here on jets
# simulated with Pythia 8 and FastJet (the embedded default sample, see `training/data/DATACARD.md`).
#
# Classes: `g` (gluon) and `q` (light quark) jets are the background; `t`, `w`, `z` jets from boosted top
# quarks and W/Z bosons are the signals the trigger should catch.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np

from l1ad.training.datasets import DEFAULT_SAMPLE
from l1ad.training.features import CLASSES, FEATURES, LABEL
from l1ad.training.io import load_jets, read_provenance

FAST = os.environ.get("L1AD_NOTEBOOK_FAST") == "1"  # the test suite runs notebooks on a small slice
workdir = Path(os.environ.get("L1AD_NOTEBOOK_DIR", tempfile.mkdtemp(prefix="l1ad-nb01-")))
plt.style.use(hep.style.ROOT)

jets = load_jets(DEFAULT_SAMPLE)
if FAST:
    jets = jets.groupby(LABEL).head(2000)
jets[LABEL].value_counts().sort_index()

# %% [markdown]
# The file carries its own provenance: generator preset and settings, versions and the seed that reproduce it.

# %%
provenance = read_provenance(DEFAULT_SAMPLE)
{k: provenance[k] for k in ("generator", "preset", "seed", "versions", "level")}

# %% [markdown]
# ## How close to the official data?
# The embedded sample is made like the official hls4ml jet dataset (detector response, R = 0.4, leading jet).
# Per class, its distributions (lines) against the official 5%, 50% and 95% quantiles (markers with bars), read
# off published histograms of official jets (`training/official.py` names the sources):

# %%
from IPython.display import Image, display

from l1ad.training.official import comparison, comparison_figure

comparison_figure(jets, workdir / "vs_official.png", "embedded sample")
display(Image(filename=str(workdir / "vs_official.png")))
cmp = comparison(jets, ["multiplicity", "mass_mmdt", "zlogz", "n2_b1_mmdt"])
cmp.pivot(index="feature", columns="class", values="median_ratio").round(2)

# %% [markdown]
# ## Feature distributions per class
# Each panel is normalised per class. Note the groomed mass (`mass_mmdt`): QCD jets sit at low mass,
# W and Z jets peak near 80 and 91 GeV, top jets near 155 GeV (R = 0.4 misses part of the top decay). The energy-correlation ratios (C2, D2, N2)
# are small for two-prong jets (W, Z) and larger for one-prong QCD jets.

# %%
colors = {"g": "tab:blue", "q": "tab:cyan", "t": "tab:red", "w": "tab:green", "z": "tab:orange"}
fig, axes = plt.subplots(4, 4, figsize=(16, 13))
for ax, feature in zip(axes.ravel(), FEATURES):
    lo, hi = np.percentile(jets[feature], [0.5, 99.5])
    for label in CLASSES:
        ax.hist(jets.loc[jets[LABEL] == label, feature], bins=50, range=(lo, hi), histtype="step",
                density=True, color=colors[label], label=label)
    ax.set_xlabel(feature, fontsize="small")
    ax.tick_params(labelsize="x-small")
axes[0, 0].legend(fontsize="x-small")
fig.tight_layout()

# %% [markdown]
# ## What the groomed mass shows
# Soft-drop grooming (mMDT: beta = 0, z_cut = 0.1) removes soft, wide-angle radiation, so the groomed
# mass of a boosted boson or top jet sits at the particle's mass, while QCD jets are pushed to low mass.

# %%
fig, ax = plt.subplots(figsize=(8, 5))
for label in CLASSES:
    ax.hist(jets.loc[jets[LABEL] == label, "mass_mmdt"], bins=np.linspace(0, 250, 101), histtype="step",
            density=True, lw=2, color=colors[label], label=label)
for mass, name in ((80.4, "W"), (91.2, "Z"), (172.5, "t")):
    ax.axvline(mass, color="grey", ls=":")
    ax.text(mass, ax.get_ylim()[1] * 0.9, f" {name}", color="grey")
ax.set(xlabel="groomed jet mass (mMDT) [GeV]", ylabel="density")
ax.legend()
jets.groupby(LABEL)["mass_mmdt"].median().round(1)

# %% [markdown]
# ## Correlations
# Many features are strongly correlated (several are the same correlator at different angular exponents;
# `d2_b1_mmdt` and `d2_a1_b1_mmdt` coincide by definition). An autoencoder exploits exactly this redundancy:
# it squeezes the 16 numbers through a 2-number bottleneck.

# %%
corr = jets.loc[jets[LABEL].isin(["q", "g"]), FEATURES].corr()
fig, ax = plt.subplots(figsize=(9, 8))
image = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(range(len(FEATURES)), FEATURES, rotation=90, fontsize="x-small")
ax.set_yticks(range(len(FEATURES)), FEATURES, fontsize="x-small")
fig.colorbar(image, ax=ax, label="correlation (background jets)")

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
# # 02 · Training the default autoencoder, its baseline and its latent space
#
# One config makes two models the same way: the float model (the physics reference) and the QKeras
# quantization-aware one (what goes on the chip). Both learn background jets only (q + g); the anomaly score
# is a mean squared error, computed inside the network so that the firmware computes it too.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mplhep as hep
import pandas as pd
from IPython.display import Image, display

from l1ad.training import models
from l1ad.training.config import load_config
from l1ad.training.datasets import DEFAULT_SAMPLE, Scaler, split
from l1ad.training.features import LABEL, SIGNALS
from l1ad.common.files import read_json
from l1ad.training.io import load_jets, write_jets
from l1ad.training.train import train

FAST = os.environ.get("L1AD_NOTEBOOK_FAST") == "1"
plt.style.use(hep.style.ROOT)
workdir = Path(os.environ.get("L1AD_NOTEBOOK_DIR", tempfile.mkdtemp(prefix="l1ad-nb02-")))

data = DEFAULT_SAMPLE
if FAST:  # a small slice and few epochs, so the test suite can run this notebook
    data = write_jets(load_jets(DEFAULT_SAMPLE).groupby(LABEL).head(1000), workdir / "slice.parquet", {})
epochs = 3 if FAST else 40
fast = {"baselines": {"enabled": False, "gmm_components": 1}} if FAST else {}  # baselines: see the README

# %% [markdown]
# ## The inputs: logs, whitened around the QCD core
# The input transform (`data.transform: log_core`) takes logs of the heavy-tailed features and whitens them
# around the *core* of the background: the robust (Minimum Covariance Determinant) centre and covariance of
# the 40% most typical QCD jets. The simplest score in these coordinates is the mean square of the 16 inputs,
# an autoencoder with latent size 0 whose reconstruction is the core: the baseline "distance, no network".
# Nothing is trained.

# %%
distance = {"model": {"encoder": [], "latent": 0, "decoder": []}, "score": {"residual": None}, **fast}
core = train(load_config(overrides=distance), data, workdir / "core", restart=True, progress=False)
metrics = read_json(core / "metrics.json")
pd.DataFrame([{"model": m, "signal": s, "AUC": metrics[m]["signals"][s]["auc"],
               "eff @ bkg 1e-2": metrics[m]["signals"][s]["at_background_efficiency"]["1e-02"]["signal_efficiency"]}
              for m in ("float", "qkeras") for s in SIGNALS]).round(3)

# %%
display(Image(filename=str(core / "plots" / "scores_qkeras.png")))

# %% [markdown]
# ## The default: an autoencoder on the same inputs
# The default autoencoder (16-8-1-4-16: one hidden encoder layer of 8, a bottleneck of one, a decoder hidden layer
# of 4, 35% of the weights pruned to zero) learns the background in the same core coordinates; its score is the
# mean squared reconstruction error of the input as the chip receives it. Three seeds are trained and the one
# with the lowest background validation loss is kept.
# Every field of `training/configs/default.yaml` is documented there.

# %%
ae = {"training": {"epochs": epochs, "seeds": 1 if FAST else 3}, **fast,
      **({"pruning": {"begin_epoch": 0, "end_epoch": epochs}} if FAST else {})}
config = load_config(overrides=ae)
print("layers:", config.model.layer_names())
pd.DataFrame({kind: {name: f"<{config.bits(name, kind).bits},{config.bits(name, kind).integer}>"
                     for name in config.model.layer_names()} for kind in ("weights", "biases", "activation")})

# %%
run = train(config, data, workdir / "run", restart=True)
metrics = read_json(run / "metrics.json")
pd.DataFrame([{"model": m, "signal": s, "AUC": metrics[m]["signals"][s]["auc"],
               "eff @ bkg 1e-2": metrics[m]["signals"][s]["at_background_efficiency"]["1e-02"]["signal_efficiency"]}
              for m in ("float", "qkeras") for s in SIGNALS]).round(3)

# %% [markdown]
# The run folder holds everything: config, scaler, both models, history, metrics and plots.

# %%
sorted(p.name for p in run.iterdir()), sorted(p.name for p in (run / "plots").iterdir())

# %%
display(Image(filename=str(run / "plots" / "loss.png")))
display(Image(filename=str(run / "plots" / "roc.png")))

# %% [markdown]
# ## The latent space per jet class
# The encoder squeezes 16 numbers into one. Background jets fill the values the decoder can reconstruct;
# jets elsewhere are reconstructed badly, which is what the score measures.

# %%
parts = split(load_jets(data), config.seed, config.data.val_fraction, config.data.test_fraction)
x_test = Scaler.load(run / "scaler.json").transform(parts.test)
labels = parts.test[LABEL].to_numpy()
latent = models.latent(models.load(run / "qkeras_model.h5"), x_test)[:, 0]
fig, ax = plt.subplots(figsize=(7, 5))
for label, color in (("q", "tab:cyan"), ("g", "tab:blue"), ("t", "tab:red"), ("w", "tab:green"), ("z", "tab:orange")):
    ax.hist(latent[labels == label], bins=60, histtype="step", density=True, color=color, label=label)
ax.set(xlabel="latent coordinate (QKeras)", ylabel="density", title="quantized model latent space")
ax.legend()

# %%
display(Image(filename=str(run / "plots" / "residuals_qkeras.png")))

# %% [markdown]
# ## Regularized variants
# The same config trains a denoising autoencoder (Gaussian noise on the inputs during training) or a sparse
# one (an L1 penalty on the latent activity). Here they are side by side with the plain one.

# %%
rows = []
for variant in ("plain", "denoising", "sparse"):
    cfg = load_config(overrides={**ae, "training": {"epochs": 1 if FAST else epochs, "seeds": 1, "variant": variant},
                                 **({"pruning": {"enabled": False}} if FAST else {})})
    variant_run = run if variant == "plain" else train(cfg, data, workdir / variant, restart=True, progress=False,
                                                        figures=False)  # only their metrics are shown
    m = read_json(variant_run / "metrics.json")["qkeras"]["signals"]
    rows.append({"variant": variant, **{f"AUC {s}": m[s]["auc"] for s in SIGNALS}})
pd.DataFrame(rows).round(3)

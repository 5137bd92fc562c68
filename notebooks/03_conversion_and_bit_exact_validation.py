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
# # 03 · From QKeras to HLS C++, and proving the firmware is bit-exact
#
# hls4ml turns the quantized model, anomaly score included, into HLS C++. l1ad then runs every event
# through the C simulation and compares each output with the QKeras model evaluated *exactly* (float64 with
# the same fixed-point quantizers; Keras' own float32 arithmetic rounds wide sums and is not a reference).
#
# This notebook uses the library API, which works on a Keras model and numpy arrays: the same calls work on
# a model l1ad did not train (see the README, "Bring your own model").

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from l1ad.firmware import check, convert_model, evaluate_exactly, with_trigger
from l1ad.firmware.convert import FirmwareOptions
from l1ad.runs import Run
from l1ad.training.config import load_config
from l1ad.training.datasets import DEFAULT_SAMPLE
from l1ad.training.features import LABEL
from l1ad.training.io import load_jets, write_jets
from l1ad.training.train import train

FAST = os.environ.get("L1AD_NOTEBOOK_FAST") == "1"
workdir = Path(os.environ.get("L1AD_NOTEBOOK_DIR", tempfile.mkdtemp(prefix="l1ad-nb03-")))

# a trained run: pass one with L1AD_RUN=runs/NAME, or train a quick one here
run = Path(os.environ["L1AD_RUN"]) if "L1AD_RUN" in os.environ else None
if run is None:
    data = write_jets(load_jets(DEFAULT_SAMPLE).groupby(LABEL).head(20000), workdir / "slice.parquet", {})
    run = train(load_config(overrides={"training": {"epochs": 30}}), data, workdir / "run", restart=True)

# %% [markdown]
# ## A model and its inputs
# From the run folder we take only the QKeras scoring model and the test jets, scaled as the FPGA
# receives them. Everything below works on these two objects alone.

# %%
model = Run(run).model
events = Run(run).test_events()
x, labels = events.x[0], events.labels
print(model.name, "outputs:", model.output_names, "| test jets:", len(x))

# %% [markdown]
# ## Conversion, with a trigger bit
# `with_trigger` appends `score > threshold` to the model's outputs (here the threshold that keeps 0.1% of
# the background test jets; `l1ad convert` sets it on validation jets instead). Every fixed-point type comes
# from the QKeras quantizers (`bit_exact=True`).

# %%
score = evaluate_exactly(model, x)[0][:, 0]
threshold = float(np.quantile(score[np.isin(labels, ["q", "g"])], 0.999))
firmware = with_trigger(model, score="score", threshold=threshold)
project = convert_model(firmware, workdir / "hls" / "demo", tb_inputs=x[:500])
sorted(p.name for p in project.iterdir())

# %%
print((project / "firmware" / "defines.h").read_text()[:1200])

# %% [markdown]
# ## Every event, bit for bit

# %%
result = check(firmware, project, x)
pd.DataFrame(result["outputs"]).T

# %%
audit = pd.DataFrame(result["audit"]["layers"])
audit[["layer", "what", "type", "observed_min", "observed_max", "type_min", "type_max", "saturated", "wrapped"]]

# %% [markdown]
# The audit as a picture: each layer's type range (grey) and the range its exact values used on these jets
# (blue). A value outside its type would saturate (or, for a wrapping type, wrap).

# %%
rows = audit[audit["what"] == "output"]
fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.5))
y = np.arange(len(rows))
ax.barh(y, rows["type_max"] - rows["type_min"], left=rows["type_min"], color="lightgrey", label="type range")
ax.hlines(y, rows["observed_min"], rows["observed_max"], color="tab:blue", lw=3, label="exact values")
ax.set_yticks(y, rows["layer"] + "  " + rows["type"], fontsize="x-small")
ax.set_xscale("symlog", linthresh=1)
ax.invert_yaxis()
ax.legend(fontsize="x-small")

# %% [markdown]
# ## Reading a trace when something diverges
# To see what a mismatch looks like, break one type on purpose: squeeze the squared residuals into
# `fixed<10,5>` (wrapping). The check then fails; the layer trace (hls4ml's `trace`, compared layer by layer
# with the exact reference) names the first layer whose values differ, and the audit shows the wraps.

# %%
broken = convert_model(firmware, workdir / "hls" / "broken",
                       FirmwareOptions(precision_overrides={"residual_sq": "fixed<10,5,TRN,WRAP>"}))
bad = check(firmware, broken, x, testbench=False, trace_events=200)
print("passed:", bad["passed"], "| first divergent layer:", bad["trace"]["first_divergent_layer"])
pd.DataFrame(bad["trace"]["layers"]).set_index("layer").T

# %% [markdown]
# Read the table left to right in data-flow order: every layer up to `residual` agrees on all traced
# events; `residual_sq` is the first that does not, so the fault is that layer's type, not anything
# upstream. How far off are the scores?

# %%
wrong = np.flatnonzero(bad["csim"][0][:, 0] != bad["exact"][0][:, 0])
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(bad["exact"][0][wrong, 0], bad["csim"][0][wrong, 0], s=4)
ax.set(xlabel="exact score", ylabel="firmware score (broken type)", title=f"{len(wrong):,} of {len(x):,} jets differ")

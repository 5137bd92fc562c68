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
# hls4ml turns the quantized model, anomaly score included, into HLS C++. l1ad then runs every test jet
# through the C simulation and compares each output with the QKeras model evaluated *exactly* (float64 with
# the same fixed-point quantizers; Keras' own float32 arithmetic rounds wide sums and is not a reference).

# %%
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, display

from l1ad.firmware.convert import FirmwareOptions, convert
from l1ad.firmware.validate import validate
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
    data = write_jets(load_jets(DEFAULT_SAMPLE).groupby(LABEL).head(1500 if FAST else 20000),
                      workdir / "slice.parquet", {})
    run = train(load_config(overrides={"training": {"epochs": 3 if FAST else 30}}), data, workdir / "run",
                restart=True)
run

# %% [markdown]
# ## Conversion
# The firmware's top function returns the score, the reconstruction and a trigger bit (score above a
# threshold chosen on validation background at efficiency 1e-3). Every fixed-point type comes from the
# QKeras quantizers (`bit_exact=True`).

# %%
project = convert(run, workdir / "hls" / "demo")
sorted(p.name for p in project.iterdir())

# %%
print((project / "firmware" / "defines.h").read_text()[:1500])

# %% [markdown]
# ## Validation on every test jet

# %%
doc = validate(run, trace_events=200)
pd.DataFrame(doc["csim_vs_exact_qkeras"]).T

# %%
pd.DataFrame(doc["fixed_point_audit"]["layers"])[["layer", "what", "type", "observed_min", "observed_max",
                                                   "type_min", "type_max", "saturated", "wrapped"]]

# %%
display(Image(filename=str(run / "plots" / "roc_float_qkeras_csim.png")))
display(Image(filename=str(run / "plots" / "fixed_point_audit.png")))

# %% [markdown]
# ## Reading a trace when something diverges
# To see what a mismatch looks like, break one type on purpose: squeeze the squared residuals into
# `fixed<10,5>` (wrapping). Validation then fails; the layer trace (hls4ml's `trace`, compared layer by
# layer with the exact reference) names the first layer whose values differ, and the audit shows the wraps.

# %%
broken = convert(run, workdir / "hls" / "broken", FirmwareOptions(precision_overrides={"residual_sq": "fixed<10,5,TRN,WRAP>"}))
bad = validate(run, trace_events=200)
print("passed:", bad["passed"], "| first divergent layer:", bad["layer_trace"]["first_divergent_layer"])
pd.DataFrame(bad["layer_trace"]["layers"]).set_index("layer").T

# %% [markdown]
# Read the table left to right in data-flow order: every layer up to `residual` agrees on all traced
# events; `residual_sq` is the first that does not, so the fault is that layer's type, not anything
# upstream. The worst events show by how many score LSBs the firmware is off:

# %%
pd.DataFrame(bad.get("worst_events", [])).head()

# %%
# restore the correct firmware for the run
convert(run, workdir / "hls" / "demo")
print("passed again:", validate(run, trace_events=100)["passed"])

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
# # 04 · Latency and resources
#
# A trigger design is accepted on its latency (clock cycles at the target clock, a new event every clock)
# and its share of the FPGA. l1ad gets these numbers from two places:
#
# * **the open RTL flow, run here**: da4ml writes pipelined Verilog of the same quantized model, Verilator
#   simulates it on every test jet (bit-exact against the C simulation, one jet per clock), yosys maps it to
#   UltraScale+ cells. Cycles are measured; nanoseconds are cycles times the period and are *not*
#   timing-closed.
# * **vendor tools, where a user has them**: Vitis HLS / Vivado reports, read with hls4ml's own parser.

# %%
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from l1ad.firmware.anchors import ANCHORS
from l1ad.firmware.convert import convert
from l1ad.firmware.report import write_report
from l1ad.firmware.rtl import build
from l1ad.firmware.vendor import read_vendor_reports
from l1ad.training.config import load_config
from l1ad.training.datasets import DEFAULT_SAMPLE
from l1ad.training.features import LABEL
from l1ad.training.io import load_jets, write_jets
from l1ad.training.train import train

FAST = os.environ.get("L1AD_NOTEBOOK_FAST") == "1"
workdir = Path(os.environ.get("L1AD_NOTEBOOK_DIR", tempfile.mkdtemp(prefix="l1ad-nb04-")))

run = Path(os.environ["L1AD_RUN"]) if "L1AD_RUN" in os.environ else None
if run is None:  # a quick run; the small model keeps yosys fast
    data = write_jets(load_jets(DEFAULT_SAMPLE).groupby(LABEL).head(1000 if FAST else 20000), workdir / "slice.parquet", {})
    model = {"encoder": [8], "latent": 2, "decoder": [8]} if FAST else {}
    run = train(load_config(overrides={"model": model, "training": {"epochs": 2 if FAST else 30}}), data,
                workdir / "run", restart=True)
    convert(run, workdir / "hls" / "run")

# %% [markdown]
# ## The open RTL flow

# %%
rtl = build(run, workdir / "rtl", clock_mhz=200)
print(json.dumps({k: rtl[k] for k in ("rtl_vs_csim", "latency")}, indent=1))

# %%
pd.DataFrame([{"source": rtl["yosys"]["source"], **{k: rtl["yosys"][k] for k in ("LUT", "FF", "CARRY", "DSP", "BRAM", "SRL")}},
              {"source": rtl["da4ml_estimate"]["source"], "LUT": rtl["da4ml_estimate"]["lut_equivalent_cost"],
               "FF": rtl["da4ml_estimate"]["register_bits"]}])

# %% [markdown]
# The pipeline depth follows the clock: da4ml cuts the adder graph into stages of a given number of adder
# levels (a delay heuristic, about one level per ns). A faster target clock gives more, shorter stages:

# %%
faster = build(run, workdir / "rtl_400", clock_mhz=400, synthesize=False, progress=False)
print("200 MHz:", rtl["latency"]["cycles"], "cycles;", "400 MHz:", faster["latency"]["cycles"], "cycles;",
      "both bit-exact:", rtl["bit_exact"] and faster["bit_exact"])
rtl = build(run, workdir / "rtl", clock_mhz=200, progress=False)  # keep the 200 MHz build for the report

# %% [markdown]
# ## Vendor reports
# Without Vitis here, the reader is shown on l1ad's test fixture (a report in the Vitis HLS format; its numbers
# are invented for the test). With a real synthesized project, `l1ad report runs/NAME` does the same.

# %%
fixture = Path("../tests/fixtures/vendor_vu9p") if Path("../tests/fixtures/vendor_vu9p").exists() else Path("tests/fixtures/vendor_vu9p")
vendor = read_vendor_reports(fixture)
pd.DataFrame({name: {**r["used"], **{f"{k} %": v for k, v in r["percent"].items()}} for name, r in vendor.items()}).T

# %% [markdown]
# ## The report
# `write_report` gathers everything with its source; vendor rows appear once vendor reports exist in the project.

# %%
report = write_report(run)
display(Markdown(report.read_text().split("## Published")[0]))
display(Image(filename=str(run / "report.png")))

# %% [markdown]
# ## For context: published systems (not our measurements)

# %%
pd.DataFrame(ANCHORS)[["system", "latency", "resources", "citation", "verified"]]

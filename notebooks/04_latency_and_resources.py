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
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, Markdown, display

from l1ad.anchors import ANCHORS
from da4ml.trace import comb_trace, to_pipeline

from l1ad.firmware.convert import project_graph
from l1ad.firmware.rtl import trace
from l1ad.firmware.vendor import read_vendor_reports
from l1ad.report import write_report
from l1ad.runs import Run
from l1ad.stages import convert_run, firmware_record, rtl_run
from l1ad.training.config import load_config
from l1ad.training.datasets import DEFAULT_SAMPLE
from l1ad.training.features import LABEL
from l1ad.training.io import load_jets, write_jets
from l1ad.training.train import train

FAST = os.environ.get("L1AD_NOTEBOOK_FAST") == "1"  # the test suite: no yosys (tested on its own there)
workdir = Path(os.environ.get("L1AD_NOTEBOOK_DIR", tempfile.mkdtemp(prefix="l1ad-nb04-")))

run = None
if "L1AD_RUN" in os.environ:  # a copy of it: this notebook writes its own RTL record and report into the run folder
    run = Path(shutil.copytree(os.environ["L1AD_RUN"], workdir / "run", dirs_exist_ok=True,
                               ignore=shutil.ignore_patterns("rtl.json", "report.*", "evaluations")))
if run is None:  # a quick run
    data = write_jets(load_jets(DEFAULT_SAMPLE).groupby(LABEL).head(20000), workdir / "slice.parquet", {})
    run = train(load_config(overrides={"training": {"epochs": 30}}), data, workdir / "run", restart=True)
    convert_run(run)

# %% [markdown]
# ## The open RTL flow on a run
# `rtl_run` (the library side of `l1ad rtl`) takes the run's firmware model (the hls4ml project's model, trigger
# head included), checks the Verilator simulation against the C simulation on every test jet, maps the design
# with yosys (no DSPs: the squares are built from adders), breaks the resources down by part and estimates each
# stage's delay. On any Keras model and inputs, `build_rtl(model, out, x)` from `l1ad.firmware` does the same,
# checked against the exact reference instead.

# %%
rtl = rtl_run(run, workdir / "rtl", clock_mhz=200, progress=False, synthesize=not FAST, breakdown=not FAST).to_dict()
pd.DataFrame(rtl["rtl_vs_csim"]).T.assign(latency_cycles=rtl["latency"]["cycles"])

# %%
# each part traced, pipelined and synthesized on its own
pd.DataFrame(rtl["breakdown"]["parts"]).T.drop(columns="layers") if "breakdown" in rtl else "breakdown skipped (FAST)"

# %%
estimate = {"source": rtl["da4ml_estimate"]["source"], "LUT": rtl["da4ml_estimate"]["lut_equivalent_cost"],
            "FF": rtl["da4ml_estimate"]["register_bits"]}
y = rtl.get("yosys", {"source": "yosys skipped (FAST)"})
pd.DataFrame([{k: y.get(k) for k in ("source", "LUT", "FF", "CARRY", "DSP", "BRAM", "SRL")}, estimate])

# %% [markdown]
# How fast each stage is: the timing ESTIMATE of every pipeline stage (longest path through the mapped cells,
# priced with UltraScale+ -2 element delays; not timing closure) beside da4ml's own delay model.

# %%
pd.DataFrame(rtl["timing_estimate"]["stages"]).set_index("stage") if "timing_estimate" in rtl else "needs yosys (FAST)"

# %% [markdown]
# The pipeline depth follows the clock: da4ml cuts the adder graph into stages of a given number of adder
# levels (its latency cutoff; the flow starts near one level per ns and lowers it until the estimate meets the
# clock). A faster clock gives more, shorter stages. The stage count for each cutoff, from da4ml's pipelining:

# %%
inputs, outputs = trace(project_graph(Path(firmware_record(Run(run)).project_dir)))
comb = comb_trace(inputs[0], outputs)
cutoffs = range(1, 11)
stages = [len(to_pipeline(comb, c, verbose=False).solutions) for c in cutoffs]
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(list(cutoffs), stages, "o-")
ax.axvline(rtl["latency"]["latency_cutoff_adder_levels"], color="grey", ls=":", label="chosen at 200 MHz")
ax.set(xlabel="latency cutoff [adder levels per stage]", ylabel="pipeline stages = latency [cycles]")
ax.legend()

# %% [markdown]
# ## Vendor reports
# Without Vitis here, the reader is shown on l1ad's test fixture (a report in the Vitis HLS format; its numbers
# are invented for the test). With a real synthesized project, `l1ad report runs/NAME` does the same.

# %%
fixture = Path("../tests/fixtures/vendor_vu9p") if Path("../tests/fixtures/vendor_vu9p").exists() else Path("tests/fixtures/vendor_vu9p")
vendor = read_vendor_reports(fixture)
pd.DataFrame({name: {**r["used"], **{f"{k} %": v for k, v in r["percent"].items()}} for name, r in vendor.items()}).T

# %% [markdown]
# ## The report of a run
# `l1ad report` (here `write_report`) gathers the run's figures, the RTL flow's above included, each with its
# source; vendor rows appear once vendor reports exist in the project.

# %%
report = write_report(run)
text = report.read_text().split("## Published")[0]
display(Markdown("\n".join(line for line in text.splitlines() if not line.startswith("!["))))  # its figure: below
display(Image(filename=str(run / "report.png")))

# %% [markdown]
# ## For context: published systems (not our measurements)

# %%
pd.DataFrame(ANCHORS)[["system", "latency", "resources", "citation", "verified"]]

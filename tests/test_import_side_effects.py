"""Importing l1ad changes no global state: matplotlib's backend and style, logging, warning filters, environment."""

import json
import subprocess
import sys

PROBE = """
import json, logging, os, warnings
import matplotlib
before = {"backend": matplotlib.rcParamsDefault["backend"], "rc": dict(matplotlib.rcParams),
          "filters": len(warnings.filters), "env": dict(os.environ)}
import tensorflow as tf, qkeras, hls4ml, mplhep, da4ml, sklearn, scipy  # their own import effects, not l1ad's
tf_level = logging.getLogger("tensorflow").level
before.update(filters=len(warnings.filters), env=dict(os.environ))
import l1ad.training.plots, l1ad.training.models, l1ad.firmware.plots, l1ad.firmware.rtl, l1ad.report, l1ad.cli
after = {"rc_same": dict(matplotlib.rcParams) == before["rc"], "backend_unset": "backend" not in matplotlib.rcParams
         or matplotlib.rcParams["backend"] == before["rc"]["backend"], "filters": len(warnings.filters) - before["filters"],
         "tf_level_same": logging.getLogger("tensorflow").level == tf_level,
         "env_added": sorted(set(os.environ) - set(before["env"]))}
print(json.dumps(after))
"""


def test_importing_l1ad_changes_no_global_state():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    state = json.loads(out.strip().splitlines()[-1])
    assert state == {"rc_same": True, "backend_unset": True, "filters": 0, "tf_level_same": True, "env_added": []}


def test_plotting_leaves_the_callers_style_alone(tmp_path):
    import matplotlib
    import numpy as np

    from l1ad.training.plots import roc_curves

    rc = dict(matplotlib.rcParams)
    labels = np.array(["q"] * 50 + ["t"] * 50)
    roc_curves({"m": np.random.default_rng(0).random(100)}, labels, tmp_path / "roc.png", "test")
    assert (tmp_path / "roc.png").exists() and dict(matplotlib.rcParams) == rc

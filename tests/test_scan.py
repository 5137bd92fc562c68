"""A tiny design-space scan on local Ray: per-point isolation, a point that fails on purpose, resume."""

import pandas as pd
import pytest
import yaml

from typer.testing import CliRunner

from conftest import make_jets
from l1ad.cli import app
from l1ad.scan import GridError, load_grid, points
from l1ad.scan_plots import pareto_front
from l1ad.training.io import write_jets


def test_grid_expansion_and_tied_keys(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"grid": {"quantization.weights.bits,quantization.biases.bits": [4, 6],
                                             "model.latent": [2, 3]}, "base": {"training": {"epochs": 2}, "pruning": {"enabled": False}}}))
    grid = load_grid(path)
    expanded = points(grid)
    assert len(expanded) == 4 and len({p["id"] for p in expanded}) == 4
    first = expanded[0]["overrides"]
    assert first["quantization"]["weights"]["bits"] == first["quantization"]["biases"]["bits"] == 4
    assert first["training"]["epochs"] == 2 and first["model"]["latent"] == 2


def test_bad_grid_files(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("grid: {model.latent: 3}\n")
    with pytest.raises(GridError, match="bad.yaml: grid.model.latent must be a non-empty list"):
        load_grid(path)
    path.write_text("grid: {model.latent: [2]}\nepochs: 3\n")
    with pytest.raises(GridError, match="unknown keys"):
        load_grid(path)


def test_pareto_front():
    assert pareto_front([1, 2, 3, 4], [0.1, 0.3, 0.2, 0.5]) == [0, 1, 3]


@pytest.mark.slow
@pytest.mark.da4ml
def test_scan_marks_points_that_are_not_bit_exact_as_failed_and_resumes(tmp_path):
    data = write_jets(make_jets(120, seed=8), tmp_path / "jets.parquet", {})
    grid = tmp_path / "tiny.yaml"
    grid.write_text(yaml.safe_dump({
        "name": "tiny", "data": str(data),
        "base": {"model": {"encoder": [4], "latent": 2, "decoder": [4]}, "training": {"epochs": 1, "batch_size": 64, "seeds": 1},
                 "pruning": {"enabled": False},
                 "quantization": {"input": {"bits": 6, "integer": 3}, "activations": {"bits": 4, "integer": 2},
                                  "latent": {"bits": 4, "integer": 2}, "output": {"bits": 6, "integer": 3},
                                  "score": {"bits": 10, "integer": 6}},
                 "baselines": {"enabled": False, "gmm_components": 1}},
        "rtl": {"breakdown": False, "synthesize": False},  # yosys is tested in test_rtl
        # a squared residual squeezed into a wrapping 10-bit type: the firmware is no longer exact
        "grid": {"firmware.precision_overrides": [{}, {"residual_sq": "fixed<10,5,TRN,WRAP>"}],
                 "quantization.weights.bits": [4]},
    }))
    # one Ray worker: the training and both points run one after the other in it (one TensorFlow start-up; what one
    # point leaves in the worker must not change the next)
    result = CliRunner().invoke(app, ["scan", "--grid", str(grid), "--out", str(tmp_path / "scan"), "--workers", "1"])
    assert result.exit_code == 1 and "1 of 2 scan points failed" in result.output
    table = pd.read_parquet(tmp_path / "scan" / "results.parquet")
    ok, failed = table[table.status == "ok"], table[table.status == "failed"]
    assert len(ok) == 1 and len(failed) == 1
    assert "not bit-exact" in failed.iloc[0]["error"] and "all_outputs_bit_identical" in failed.iloc[0]["error"]
    assert not failed.iloc[0]["csim_bit_exact"] and ok.iloc[0]["csim_bit_exact"] and ok.iloc[0]["rtl_bit_exact"]
    assert ok.iloc[0]["latency_cycles"] > 0
    for column in ("auc_t_qkeras", "auc_t_qkeras_low", "eff1e-3_w_float", "sel_eff1e-3_w_qkeras", "sel_auc_z_qkeras_high",
                   "LUT", "DSP", "train_s", "total_s"):
        assert column in table
    point = ok.iloc[0]["point"]
    for sub in ("run/status.json", "hls/project.tcl", "rtl/metadata.json"):  # each point has its own folders
        assert (tmp_path / "scan" / "points" / point / sub).exists()
    # the points differ only in a firmware option: one training, copied into both; no RTL for inexact firmware
    assert table["training"].nunique() == 1 and len(list((tmp_path / "scan" / "trained").iterdir())) == 1
    assert not (tmp_path / "scan" / "points" / failed.iloc[0]["point"] / "rtl").exists()

    rows = {p: (tmp_path / "scan" / "points" / p / "row.json").stat().st_mtime_ns for p in table["point"]}
    again = CliRunner().invoke(app, ["scan", "--grid", str(grid), "--out", str(tmp_path / "scan"), "--workers", "2"])
    assert again.exit_code == 1  # still failing, still said
    assert {p: (tmp_path / "scan" / "points" / p / "row.json").stat().st_mtime_ns for p in table["point"]} == rows
    assert (pd.read_parquet(tmp_path / "scan" / "results.parquet").status == "failed").sum() == 1


def test_a_failed_training_fails_each_point_that_needs_it_with_its_reason(tmp_path):
    from l1ad.scan import run_point

    point = {"id": "p000-abc", "setting": {"model.latent": 2}, "training": "t-123", "overrides": {}, "firmware": {}}
    trained = {"error": "training: RunError: jets.parquet: no such file", "traceback": "Traceback: the training's"}
    row = run_point(point, str(tmp_path), trained, {})
    assert row["status"] == "failed" and row["error"] == trained["error"] and row["training"] == "t-123"
    assert (tmp_path / "points" / "p000-abc" / "error.txt").read_text() == "Traceback: the training's"
    assert (tmp_path / "points" / "p000-abc" / "row.json").exists()  # a re-run retries it: not a "not bit-exact" row


def test_scan_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"grid": {"model.latent": [2]}}))
    result = CliRunner().invoke(app, ["scan", "--grid", str(grid), "--out", str(tmp_path / "mine")])
    assert result.exit_code == 1 and "not made by l1ad" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_scan_plots_mark_the_pareto_front_of_ok_points(tmp_path):
    from l1ad.scan_plots import plot_scan

    rows = []
    for i, (lut, eff, status) in enumerate([(1000, 0.004, "ok"), (3000, 0.006, "ok"), (2000, 0.003, "ok"),
                                            (500, 0.02, "failed")]):
        row = {"point": f"p{i}", "cfg:point": f"point {i}", "status": status, "LUT": lut, "latency_cycles": 3 + i}
        for s in ("t", "w", "z"):
            row.update({f"eff1e-3_{s}_qkeras": eff, f"eff1e-3_{s}_qkeras_low": eff / 2, f"eff1e-3_{s}_qkeras_high": eff * 2,
                        f"auc_{s}_qkeras": 0.8, f"auc_{s}_qkeras_low": 0.79, f"auc_{s}_qkeras_high": 0.81})
        rows.append(row)
    paths = plot_scan(pd.DataFrame(rows), {"points": []}, tmp_path)
    assert {p.name for p in paths} == {"efficiency_vs_luts.png", "efficiency_vs_latency.png", "auc_by_point.png"}
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert pareto_front([1000, 3000, 2000], [0.004, 0.006, 0.003]) == [0, 1]  # the failed point is not offered


def test_readme_scan_table_marks_the_front_and_keeps_failed_points(tmp_path):
    from l1ad.render import scan_table

    rows = []
    for i, (lut, eff, status) in enumerate([(1000, 0.004, "ok"), (900, 0.005, "ok"), (2000, 0.003, "ok"),
                                            (500, 0.02, "failed")]):
        row = {"point": f"p{i}", "cfg:point": f"point {i}", "status": status, "error": "not bit-exact" * (status != "ok"),
               "LUT": lut, "FF": 10, "latency_cycles": 3}
        for s in "twz":
            for key, value in ((f"eff1e-3_{s}_qkeras", eff), (f"auc_{s}_qkeras", 0.8)):
                row.update({key: value, key + "_low": value / 2, key + "_high": value * 2})
        rows.append(row)
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    lines = [line for line in scan_table(tmp_path) if line.startswith("|")]
    assert len({line.count("|") for line in lines}) == 1  # header, separator and rows have the same columns
    front = [line.split(" | ")[0][2:] for line in lines[2:] if line.rstrip(" |").endswith("t, w, z")]
    assert front == ["point 1"]  # point 0 costs more for less; the failed point is never on the front
    assert "not bit-exact" in lines[-1] and "chosen and are reported on the same jets" in scan_table(tmp_path)[0]

    for i, row in enumerate(rows):  # a scan with a selection half: the front is drawn on it, not on the report half
        row.update({f"sel_eff1e-3_{s}_qkeras": [0.01, 0.005, 0.003, 0.02][i] for s in "twz"})
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    lines = scan_table(tmp_path)
    table = [line for line in lines if line.startswith("|")]
    assert len({line.count("|") for line in table}) == 1 and "sel eff t / w / z" in table[0]
    front = [line.split(" | ")[0][2:] for line in table[2:] if line.rstrip(" |").endswith("t, w, z")]
    assert front == ["point 0", "point 1"] and "on which the front is drawn and choices are made" in lines[0]


def test_point_digest_changes_with_the_toolchain(tmp_path, monkeypatch):
    """A scan after an upgrade of hls4ml, QKeras, da4ml or the compilers recomputes its points (their ids change)
    instead of reusing rows made by the old versions."""
    import l1ad.scan as scan

    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"grid": {"model.latent": [2]}, "base": {"pruning": {"enabled": False}}}))
    before = points(load_grid(path))[0]
    assert set(scan.toolchain()) >= {"hls4ml", "qkeras", "da4ml", "gcc", "verilator", "pyosys"}
    upgraded = {**scan.toolchain(), "hls4ml": "9.9"}
    monkeypatch.setattr(scan, "toolchain", lambda: upgraded)
    after = points(load_grid(path))[0]
    assert before["id"] != after["id"] and before["training"] != after["training"]


def test_equal_physics_is_judged_on_the_selection_half_seed_means(tmp_path):
    """A point is as good as the reference when each selection-half seed mean (AUC, eff at 1e-3, every signal) is
    at least the reference's minus one reference seed spread; the report half never enters the judgement."""
    from l1ad.render import scan_table
    from l1ad.scan_plots import as_good_as

    def row(label, sel_w, report_w, lut):
        out = {"point": label, "cfg:point": label, "status": "ok", "error": "", "LUT": lut, "FF": 10,
               "latency_cycles": 6, "seeds": 5}
        for s in "twz":
            for key, value in ((f"eff1e-3_{s}_qkeras", 0.03), (f"auc_{s}_qkeras", 0.8)):
                out.update({key: value, key + "_low": value / 2, key + "_high": value * 2})
            out[f"sel_eff1e-3_{s}_qkeras"] = 0.03
            for prefix, w in (("sel_", sel_w), ("", report_w)):
                out.update({f"{prefix}auc_{s}_seed_mean": 0.8, f"{prefix}auc_{s}_seed_std": 0.01,
                            f"{prefix}eff1e-3_{s}_seed_mean": w if s == "w" else 0.03,
                            f"{prefix}eff1e-3_{s}_seed_std": 0.002})
        return out

    rows = [row("reference", 0.030, 0.030, 2000), row("within one spread", 0.0285, 0.020, 1500),
            row("below on selection", 0.027, 0.040, 1200), row("better", 0.035, 0.030, 1900)]
    assert [as_good_as(r, rows[0]) for r in rows] == [True, True, False, True]
    assert not as_good_as({**rows[3], "sel_auc_z_seed_mean": float("nan")}, rows[0])  # no figure, no claim
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    choice = [line for line in scan_table(tmp_path) if line.startswith("|") and "± " in line]
    assert [line.split(" | ")[0][2:] for line in choice] == [r["point"] for r in rows]
    assert [line.rstrip(" |").rsplit(" | ", 1)[1] for line in choice] == ["yes", "yes", "no", "yes"]
    assert "2.85 ± 0.20" in choice[1] and "1,500" in choice[1]

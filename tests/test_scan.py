"""A tiny design-space scan on local Ray: per-point isolation, a point that fails on purpose, resume."""

import pandas as pd
import pytest
import yaml

from conftest import make_jets
from l1ad.scan import GridError, load_grid, pareto_front, points, run_scan
from l1ad.training.io import write_jets


def test_grid_expansion_and_tied_keys(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"grid": {"quantization.weights.bits,quantization.biases.bits": [4, 6],
                                             "model.latent": [2, 3]}, "base": {"training": {"epochs": 2}}}))
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


def test_scan_runs_isolated_points_records_failure_and_resumes(tmp_path):
    data = write_jets(make_jets(120, seed=8), tmp_path / "jets.parquet", {})
    grid = tmp_path / "tiny.yaml"
    grid.write_text(yaml.safe_dump({
        "name": "tiny", "data": str(data),
        "base": {"model": {"encoder": [4], "latent": 2, "decoder": [4]}, "training": {"epochs": 1, "batch_size": 64}},
        # bits = 0 is not a valid quantizer: that point must fail and be recorded, the others must not care
        "grid": {"quantization.weights.bits,quantization.biases.bits": [4, 6, 0]},
    }))
    out = run_scan(grid, tmp_path / "scan", workers=2, progress=False)
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 3 and (out / "results.csv").exists()
    ok, failed = table[table.status == "ok"], table[table.status == "failed"]
    assert len(ok) == 2 and len(failed) == 1
    assert "weights" in failed.iloc[0]["error"] and "bits" in failed.iloc[0]["error"]
    assert ok["csim_bit_exact"].all() and ok["rtl_bit_exact"].all()
    assert (ok["LUT"] > 0).all() and (ok["latency_cycles"] > 0).all()
    for column in ("auc_t_qkeras", "eff1e-3_w_float", "FF", "DSP", "train_s", "total_s"):
        assert column in table
    for point in ok["point"]:  # each point has its own run, HLS project and RTL build
        for sub in ("run/status.json", "hls/project.tcl", "rtl/metadata.json"):
            assert (out / "points" / point / sub).exists()
    assert (out / "plots" / "efficiency_vs_luts.png").exists() and (out / "plots" / "auc_vs_bits.png").exists()

    finished = {p: (out / "points" / p / "row.json").stat().st_mtime_ns for p in ok["point"]}
    again = pd.read_parquet(run_scan(grid, tmp_path / "scan", workers=2, progress=False) / "results.parquet")
    assert {p: (out / "points" / p / "row.json").stat().st_mtime_ns for p in ok["point"]} == finished  # skipped
    kept = again.set_index("point").loc[ok["point"]]
    assert (kept["auc_t_qkeras"].to_numpy() == ok["auc_t_qkeras"].to_numpy()).all()
    assert (again.status == "failed").sum() == 1  # the failed point was retried and failed again

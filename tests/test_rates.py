"""Rates from a large background-only sample: thresholds at small background efficiencies, the firmware checked on
every background jet, signal efficiencies on the run's own test signal jets."""

import numpy as np
from typer.testing import CliRunner

from conftest import copy_run, make_jets
from l1ad.cli import app
from l1ad.firmware import reference
from l1ad.firmware.convert import project_graph
from l1ad.runs import Run
from l1ad.stages import firmware_record
from l1ad.common.files import read_json
from l1ad.training.io import write_jets


def test_rates_from_a_background_file(shared_run, tmp_path):
    run = copy_run(shared_run, tmp_path / "run", firmware=True)
    jets = make_jets(1300, seed=11)  # 1,300 g and 1,300 q jets (signals in the file are ignored)
    background = write_jets(jets, tmp_path / "background.parquet", {"test": "rates"})
    result = CliRunner().invoke(app, ["rates", str(run), "--background", str(background)])
    assert result.exit_code == 0, result.output
    doc = read_json(run / "rates.json")
    assert doc["background_jets"] == 2600 and doc["passed"]
    assert doc["csim_vs_exact_qkeras"]["score"]["bit_identical"] == 2600
    # 1e-2 (26 jets above) and 1e-3 (2.6: fewer than 10, not quoted)
    assert [level["background_efficiency_target"] for level in doc["levels"]] == [1e-2]
    level = doc["levels"][0]
    r = Run(run)
    info = firmware_record(r)
    model = project_graph(info.project_dir)
    bg = jets[jets["jet_type"].isin(["g", "q"])]
    scores = reference.outputs(model, [r.transform(bg)])[info.outputs.index("score")][:, 0]
    assert np.mean(scores > level["threshold"]) == level["background_efficiency"] <= 1e-2
    assert level["background_jets_above"] == int(np.sum(scores > level["threshold"]))
    events = r.test_events()
    signal = reference.outputs(model, events.x)[info.outputs.index("score")][:, 0]
    for name in ("t", "w", "z"):
        entry = level["signals"][name]
        s = signal[events.labels == name]
        assert entry["n"] == len(s) and entry["signal_efficiency"] == np.mean(s > level["threshold"])
        low, high = entry["signal_efficiency_interval"]
        assert low <= entry["signal_efficiency"] <= high
    assert "bkg eff 0.01" in result.output and "2,600/2,600 scores bit-identical" in result.output


def test_rates_refuse_a_file_without_background(shared_run, tmp_path):
    run = copy_run(shared_run, tmp_path / "run", firmware=True)
    jets = make_jets(30, seed=12)
    signal_only = write_jets(jets[jets["jet_type"].isin(["t", "w"])], tmp_path / "signal.parquet", {})
    result = CliRunner().invoke(app, ["rates", str(run), "--background", str(signal_only)])
    assert result.exit_code == 1 and "no background jets" in result.output
    # thresholds from the jets the model was trained on would be biased: the run's own file is refused, and so is
    # a file generated with the run's data seed and settings (its chunks repeat the run's jets)
    result = CliRunner().invoke(app, ["rates", str(run), "--background", str(Run(run).data_path())])
    assert result.exit_code == 1 and "is the run's own data file" in result.output
    assert not (run / "rates.json").exists()


def test_rates_name_a_missing_file(shared_run, tmp_path):
    result = CliRunner().invoke(app, ["rates", str(shared_run), "--background", str(tmp_path / "nowhere.parquet")])
    assert result.exit_code == 1 and "nowhere.parquet: no such file" in result.output

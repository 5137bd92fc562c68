"""Readers for every supported layout, and validation errors that name file, column and row."""

import arff
import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from l1ad.cli import app
from l1ad.training.features import CLASSES, FEATURES, LABEL
from l1ad.training.io import DataError, load_jets, read_provenance, write_jets


def _same(a: pd.DataFrame, b: pd.DataFrame):
    np.testing.assert_array_equal(a[FEATURES].to_numpy(), b[FEATURES].to_numpy())
    assert a[LABEL].tolist() == b[LABEL].tolist()


def write_openml_csv(table, path):
    table.rename(columns={LABEL: "class"}).to_csv(path, index=False)


def write_openml_arff(table, path):
    attributes = [(f, "REAL") for f in FEATURES] + [("class", CLASSES)]
    rows = [[*map(float, r[:-1]), r[-1]] for r in table[FEATURES + [LABEL]].itertuples(index=False)]
    path.write_text(arff.dumps({"relation": "hls4ml_lhc_jets_hlf", "attributes": attributes, "data": rows}))


def write_zenodo_h5(table, path):
    names = ["j_ptfrac", "j_pt"] + [f"j_{f}" for f in FEATURES] + [f"j_{c}" for c in CLASSES] + ["j_undef"]
    jets = np.zeros((len(table), len(names)), dtype=np.float32)
    jets[:, 1] = 1000.0
    for i, f in enumerate(FEATURES):
        jets[:, 2 + i] = table[f]
    for i, c in enumerate(CLASSES):
        jets[:, 2 + len(FEATURES) + i] = table[LABEL] == c
    with h5py.File(path, "w") as f:
        f["jets"] = jets
        f["jetFeatureNames"] = np.array([n.encode() for n in names])
        f["jetImage"] = np.zeros((len(table), 2, 2), dtype=np.float32)


def test_reads_every_layout(jets, tmp_path):
    jets.to_parquet(tmp_path / "course.parquet")
    write_openml_csv(jets, tmp_path / "openml.csv")
    write_openml_arff(jets, tmp_path / "openml.arff")
    write_zenodo_h5(jets, tmp_path / "zenodo.h5")
    for name in ("course.parquet", "openml.csv", "openml.arff", "zenodo.h5"):
        loaded = load_jets(tmp_path / name)
        assert list(loaded.columns) == FEATURES + [LABEL]
        assert all(loaded[f].dtype == np.float32 for f in FEATURES)
        _same(loaded, jets)


def test_own_file_round_trip_keeps_provenance(jets, tmp_path):
    path = write_jets(jets, tmp_path / "own.parquet", {"seed": 7, "generator": "test"})
    _same(load_jets(path), jets)
    assert read_provenance(path) == {"seed": 7, "generator": "test"}


def test_directory_of_zenodo_files(jets, tmp_path):
    write_zenodo_h5(jets.iloc[:100], tmp_path / "jetImage_0.h5")
    write_zenodo_h5(jets.iloc[100:], tmp_path / "jetImage_1.h5")
    _same(load_jets(tmp_path), jets)


def _expect(tmp_path, table, *fragments, name="bad.csv", writer=write_openml_csv):
    path = tmp_path / name
    writer(table, path)
    with pytest.raises(DataError) as err:
        load_jets(path)
    for fragment in (name, *fragments):
        assert fragment in str(err.value), str(err.value)


def test_missing_column(jets, tmp_path):
    _expect(tmp_path, jets.drop(columns=["d2_b1_mmdt"]), "missing columns d2_b1_mmdt")


def test_missing_label_column_hints_at_layouts(jets, tmp_path):
    jets.drop(columns=[LABEL]).to_parquet(tmp_path / "nolabel.parquet")
    with pytest.raises(DataError, match="'class' in OpenML"):
        load_jets(tmp_path / "nolabel.parquet")


def test_extra_column(jets, tmp_path):
    _expect(tmp_path, jets.assign(j_pt=1.0), "unexpected columns j_pt")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e39])
def test_non_finite_value_names_column_and_row(jets, tmp_path, value):
    jets = jets.astype({"mass_mmdt": np.float64})
    jets.loc[17, "mass_mmdt"] = value
    _expect(tmp_path, jets, "'mass_mmdt'", "row 17")


def test_unknown_label(jets, tmp_path):
    jets.loc[33, LABEL] = "higgs"
    _expect(tmp_path, jets, "row 33", "'higgs'")


def test_wrong_dtype(jets, tmp_path):
    jets["multiplicity"] = jets["multiplicity"].astype(object)
    jets.loc[5, "multiplicity"] = "many"
    _expect(tmp_path, jets, "'multiplicity'", "not a number", "row 5")


def test_empty_files(tmp_path):
    (tmp_path / "zero.csv").write_text("")
    with pytest.raises(DataError, match="zero.csv: the file is empty"):
        load_jets(tmp_path / "zero.csv")
    (tmp_path / "header.csv").write_text(",".join(FEATURES + ["class"]) + "\n")
    with pytest.raises(DataError, match="header.csv: no jets"):
        load_jets(tmp_path / "header.csv")


def test_class_without_jets(jets, tmp_path):
    _expect(tmp_path, jets[jets[LABEL] != "w"], "no jets of class w")


def test_broken_zenodo_one_hot(jets, tmp_path):
    path = tmp_path / "broken.h5"
    write_zenodo_h5(jets, path)
    with h5py.File(path, "r+") as f:
        f["jets"][3, 2 + len(FEATURES):] = 0  # row 3 has no label
    with pytest.raises(DataError, match="broken.h5: row 3: the one-hot label"):
        load_jets(path)


def test_unknown_suffix_and_missing_path(tmp_path):
    (tmp_path / "jets.txt").write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        load_jets(tmp_path / "jets.txt")
    with pytest.raises(DataError, match="no such file"):
        load_jets(tmp_path / "absent.parquet")


def test_failed_convert_exits_non_zero_and_writes_nothing(jets, tmp_path):
    jets.loc[2, "zlogz"] = np.nan
    write_openml_csv(jets, tmp_path / "nan.csv")
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(app, ["data", "convert", str(tmp_path / "nan.csv"), str(out)])
    assert result.exit_code == 1  # a problem with the input file, not with the command line
    assert "nan.csv" in result.output and "'zlogz'" in result.output and "row 2" in result.output
    assert list(tmp_path.iterdir()) == [tmp_path / "nan.csv"]


def test_convert_good_file(jets, tmp_path):
    write_openml_arff(jets, tmp_path / "in.arff")
    result = CliRunner().invoke(app, ["data", "convert", str(tmp_path / "in.arff"), str(tmp_path / "out.parquet")])
    assert result.exit_code == 0, result.output
    _same(load_jets(tmp_path / "out.parquet"), jets)


def test_fetch_offline_says_how_to_use_a_local_file(tmp_path, monkeypatch):
    import sklearn.datasets

    def offline(**kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    monkeypatch.setenv("L1AD_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["data", "fetch"])
    assert result.exit_code == 1  # a problem with the environment, not with the command line
    assert "could not download OpenML dataset 42468" in result.output and "--data /path/to/file" in result.output
    assert not list((tmp_path / "cache").glob("*.parquet"))  # nothing half-written


@pytest.mark.parametrize("column, value, why", [
    ("multiplicity", -5.0, "positive integer"),
    ("multiplicity", 12.5, "positive integer"),
    ("mass_mmdt", -1.0, "not negative"),
    ("c1_b0_mmdt", 0.7, "between 0 and 1/2"),
    ("zlogz", 0.3, "at most 0"),
    ("n2_b1_mmdt", -0.01, "not negative"),
])
def test_physically_impossible_values_are_refused(jets, tmp_path, column, value, why):
    jets = jets.astype({column: np.float64})
    jets.loc[7, column] = value
    _expect(tmp_path, jets, f"'{column}'", "row 7", "impossible", why)

"""Deterministic background-only splits and the JSON scaler."""

import json

import numpy as np
import pytest

from l1ad.training.datasets import DEFAULT_SAMPLE, Scaler, split
from l1ad.training.features import BACKGROUND, FEATURES, LABEL, SIGNALS
from l1ad.training.io import DataError, load_jets


def test_split_is_deterministic_and_background_only(jets):
    a, b, c = split(jets, seed=5), split(jets, seed=5), split(jets, seed=6)
    assert a.train.equals(b.train) and a.val.equals(b.val) and a.test.equals(b.test)
    assert not a.train.equals(c.train)
    assert set(a.train[LABEL]) <= set(BACKGROUND) and set(a.val[LABEL]) <= set(BACKGROUND)
    # every signal jet is a test jet; background is shared out without overlap
    assert (a.test[LABEL].isin(SIGNALS)).sum() == jets[LABEL].isin(SIGNALS).sum()
    n_bg = jets[LABEL].isin(BACKGROUND).sum()
    assert len(a.train) + len(a.val) + (a.test[LABEL].isin(BACKGROUND)).sum() == n_bg
    rows = lambda t: {tuple(r) for r in t[FEATURES].to_numpy()}  # noqa: E731
    assert not rows(a.train) & rows(a.val) and not rows(a.train) & rows(a.test)


def test_split_rejects_bad_fractions(jets):
    with pytest.raises(ValueError, match="fractions"):
        split(jets, seed=1, val_fraction=0.6, test_fraction=0.5)


def test_scaler_fits_training_jets_only_and_round_trips(jets, tmp_path):
    parts = split(jets, seed=1)
    scaler = Scaler.fit(parts.train)
    np.testing.assert_allclose(scaler.mean, parts.train[FEATURES].to_numpy(np.float64).mean(axis=0))
    scaled = scaler.transform(parts.train)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-5)
    scaler.save(tmp_path / "scaler.json")
    assert json.loads((tmp_path / "scaler.json").read_text())["features"] == FEATURES
    again = Scaler.load(tmp_path / "scaler.json")
    np.testing.assert_array_equal(again.transform(parts.test), scaler.transform(parts.test))


def test_scaler_refuses_constant_feature(jets):
    jets["zlogz"] = 1.0
    with pytest.raises(DataError, match="zlogz"):
        Scaler.fit(jets)


def test_embedded_sample_matches_its_data_card():
    table = load_jets(DEFAULT_SAMPLE)
    counts = table[LABEL].value_counts()
    assert counts[BACKGROUND].sum() >= 150_000
    assert all(counts[s] >= 30_000 for s in SIGNALS)
    assert DEFAULT_SAMPLE.stat().st_size < 20 * 2**20
    card = (DEFAULT_SAMPLE.parent / "DATACARD.md").read_text()
    row = "| jets | " + " | ".join(f"{counts[c]:,}" for c in "gqwzt") + " |"
    assert row in card  # the card's generated table is the file's


def test_signal_jets_set_aside_for_baselines_never_reach_the_test_set(jets):
    plain, aside = split(jets, seed=3), split(jets, seed=3, signal_train_fraction=0.25)
    assert plain.train.equals(aside.train) and plain.val.equals(aside.val)  # the background split is unchanged
    assert set(aside.signal_train[LABEL]) <= set(SIGNALS) and len(aside.signal_train) == round(0.25 * 120)
    rows = lambda t: {tuple(r) for r in t[FEATURES].to_numpy()}  # noqa: E731
    assert not rows(aside.signal_train) & rows(aside.test)
    assert len(aside.test) + len(aside.signal_train) == len(plain.test)


def test_signal_test_jets_are_halved_into_selection_and_report(jets):
    """Choices are made on the selection half, figures reported on the other: each signal class's test jets are
    halved once (seeded), the background and the baselines' share stay as they were."""
    plain = split(jets, seed=3, signal_train_fraction=0.25)
    halved, again = (split(jets, seed=3, signal_train_fraction=0.25, selection_fraction=0.5) for _ in range(2))
    assert halved.train.equals(plain.train) and halved.val.equals(plain.val)
    assert halved.signal_train.equals(plain.signal_train) and halved.selection.equals(again.selection)
    background = lambda t: t[t[LABEL].isin(BACKGROUND)].reset_index(drop=True)  # noqa: E731
    assert background(halved.test).equals(background(plain.test)) and set(halved.selection[LABEL]) == set(SIGNALS)
    rows = lambda t: {tuple(r) for r in t[FEATURES].to_numpy()}  # noqa: E731
    assert not rows(halved.selection) & rows(halved.test)
    assert rows(halved.selection) | rows(halved.test) == rows(plain.test)
    report = halved.test[halved.test[LABEL].isin(SIGNALS)][LABEL].value_counts()
    assert all(abs(n - report[c]) <= 1 for c, n in halved.selection[LABEL].value_counts().items())
    other = split(jets, seed=4, signal_train_fraction=0.25, selection_fraction=0.5)
    assert rows(other.selection) != rows(halved.selection)


def test_bootstrap_draws_a_large_reproducible_file(tmp_path, jets):
    from l1ad.training.datasets import bootstrap
    from l1ad.training.io import write_jets

    source = write_jets(jets, tmp_path / "small.parquet", {})
    a = bootstrap(source, 5000, 1, tmp_path / "a.parquet")
    bootstrap(source, 5000, 1, tmp_path / "b.parquet")
    assert len(a) == 5000 and (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert set(map(tuple, a[FEATURES].to_numpy())) <= set(map(tuple, jets[FEATURES].to_numpy()))


@pytest.mark.parametrize("kind", ["log_core", "power"])
def test_import_scaler_applies_the_whole_transform(jets, kind, tmp_path):
    """`l1ad import --scaler runs/X/scaler.json` used to apply only (x - mean) / scale, not the log, power or core
    whitening of the run it came from."""
    from l1ad.runs import read_inputs

    parts = split(jets, seed=0)
    scaler = Scaler.fit(parts.train, kind=kind)
    scaler.save(tmp_path / "scaler.json")
    raw = parts.test[FEATURES].to_numpy(np.float64)
    np.save(tmp_path / "raw.npy", raw)
    got = read_inputs(tmp_path / "raw.npy", tmp_path / "scaler.json", len(FEATURES))
    np.testing.assert_array_equal(got, scaler.transform(parts.test))
    (tmp_path / "plain.json").write_text(json.dumps({"mean": [1.0] * 16, "scale": [2.0] * 16}))
    np.testing.assert_array_equal(read_inputs(tmp_path / "raw.npy", tmp_path / "plain.json", 16),
                                  ((raw - 1.0) / 2.0).astype(np.float32))

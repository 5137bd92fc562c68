"""Physics sanity of a small freshly generated sample, and reproducibility of `l1ad generate`."""

import numpy as np
import pytest
from typer.testing import CliRunner

from l1ad.cli import app
from l1ad.training.features import FEATURES, LABEL
from l1ad.training.io import load_jets, read_provenance
from l1ad.training.jetgen import generate


@pytest.fixture(scope="module")
def sample():
    table, provenance = generate(dict.fromkeys("gqtwz", 200), seed=11, workers=2, progress=False)
    return table, provenance


def test_counts_and_provenance(sample):
    table, provenance = sample
    assert table[LABEL].value_counts().to_dict() == dict.fromkeys("gqtwz", 200)
    assert provenance["seed"] == 11 and provenance["settings"]["jet_radius"] == 0.8
    assert set(provenance["versions"]) >= {"pythia8mc", "fastjet"}


def test_groomed_mass_peaks(sample):
    median = sample[0].groupby(LABEL)["mass_mmdt"].median()
    assert 74 < median["w"] < 86, median
    assert 85 < median["z"] < 97, median
    assert 160 < median["t"] < 185, median
    # QCD below: quark jets far below (mMDT grooms them to one prong), gluon jets (radiating with C_A) below W
    assert median["q"] < 30 and median["g"] < 0.9 * median["w"] and median["g"] < 0.5 * median["t"], median
    assert median["z"] > median["w"]


def test_gluon_jets_have_more_constituents(sample):
    mean = sample[0].groupby(LABEL)["multiplicity"].mean()
    assert mean["g"] > 1.15 * mean["q"], mean


def test_two_prong_jets_look_two_pronged(sample):
    # N2 is small for two-prong jets (W, Z) and larger for one-prong QCD jets (arXiv:1609.07483)
    median = sample[0].groupby(LABEL)["n2_b1_mmdt"].median()
    assert median["w"] < median["q"] and median["z"] < median["g"], median


def test_features_within_physical_ranges(sample):
    table = sample[0]
    assert (table["zlogz"] <= 0).all()
    assert table["c1_b0_mmdt"].between(0, 0.5).all()  # (1 - sum z^2) / 2
    assert (table[[f for f in FEATURES if f != "zlogz"]] >= 0).all().all()
    assert (table["multiplicity"] >= 2).all() and (table["multiplicity"] % 1 == 0).all()
    assert (table["mass_mmdt"] < 1100).all()
    assert np.isfinite(table[FEATURES].to_numpy()).all()


def test_same_seed_gives_identical_file_whatever_the_workers(tmp_path):
    runner = CliRunner()
    for workers, name in ((1, "a.parquet"), (2, "b.parquet")):
        result = runner.invoke(app, ["generate", "--out", str(tmp_path / name), "--jets-per-class", "w=12,q=12",
                                     "--seed", "4", "--workers", str(workers)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert load_jets(tmp_path / "a.parquet", require=("q", "w"))[LABEL].value_counts().to_dict() == {"q": 12, "w": 12}
    assert read_provenance(tmp_path / "a.parquet")["seed"] == 4


def test_generate_rejects_bad_counts(tmp_path):
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "x.parquet"), "--jets-per-class", "h=5",
                                      "--seed", "1"])
    assert result.exit_code == 2 and "unknown jet classes ['h']" in result.output
    assert not (tmp_path / "x.parquet").exists()


def test_embedded_sample_is_what_its_command_regenerates():
    """The data card's command with the card's seed reproduces the embedded sample's first jets of each class
    (jets are taken in chunk order, so a small run is a prefix of the full one)."""
    from l1ad.training.datasets import DEFAULT_SAMPLE

    embedded = load_jets(DEFAULT_SAMPLE)
    provenance = read_provenance(DEFAULT_SAMPLE)
    assert provenance["seed"] == 2026 and provenance["jets_per_class"] == dict.fromkeys("gqtwz", 50000)
    small, _ = generate(dict.fromkeys("gqtwz", 15), seed=provenance["seed"], workers=2, progress=False)
    for label in "gqtwz":
        head = embedded[embedded[LABEL] == label].head(15).reset_index(drop=True)
        np.testing.assert_array_equal(small[small[LABEL] == label][FEATURES].to_numpy(), head[FEATURES].to_numpy())

"""Download the official hls4ml jet dataset from OpenML (data id 42468), as the hls4ml tutorial does."""

from __future__ import annotations

import os
from pathlib import Path

from .io import DataError, validate, write_jets

OPENML_ID = 42468


def cache_dir() -> Path:
    return Path(os.environ.get("L1AD_CACHE", Path.home() / ".cache" / "l1ad"))


def fetch_openml_jets(cache: Path | None = None) -> Path:
    """Fetch OpenML 42468 into the cache and store it as an l1ad parquet file; return its path."""
    from sklearn.datasets import fetch_openml

    cache = cache or cache_dir()
    target = cache / "hls4ml_lhc_jets_hlf.parquet"
    if target.exists():
        return target
    try:
        data = fetch_openml(data_id=OPENML_ID, as_frame=True, data_home=str(cache / "openml"), parser="auto")
    except Exception as err:
        raise DataError(
            f"could not download OpenML dataset {OPENML_ID} ({type(err).__name__}: {err}). This machine may be "
            "offline. Download it elsewhere (https://www.openml.org/d/42468 as ARFF or CSV, or the Zenodo h5 files "
            "from 10.5281/zenodo.3602254), copy it here and pass it with --data /path/to/file"
        ) from err
    table = data.frame.rename(columns={"class": "jet_type"})
    table["jet_type"] = table["jet_type"].astype(str)
    table = validate(table, source=f"OpenML {OPENML_ID}")
    return write_jets(table, target, {"source": f"OpenML data id {OPENML_ID} (hls4ml_lhc_jets_hlf)",
                                      "license": "CC-BY 4.0", "url": "https://www.openml.org/d/42468"})

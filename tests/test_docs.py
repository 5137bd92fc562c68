"""The documentation site builds with warnings as errors, every internal link and image resolves, and the pages
generated from the code say what the code says."""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "L1AD_DOCS_EXECUTE": "off"}  # the notebooks are executed by tests/test_notebooks.py
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(out / "doctrees"), str(ROOT / "docs"), str(out / "html")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-5000:]
    return out / "html"


def test_every_internal_link_and_image_resolves(site):
    broken = []
    pages = list(site.rglob("*.html"))
    for page in pages:
        for ref in re.findall(r'(?:href|src)="([^"]+)"', page.read_text()):
            target = html.unescape(ref).split("#")[0].split("?")[0]
            if not target or re.match(r"^[a-z]+:", target):  # an anchor on the page, or another site
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(site)} -> {ref}")
    assert not broken, broken
    names = {p.relative_to(site).as_posix() for p in pages}
    for page in ("index.html", "getting-started.html", "guide/training.html", "guide/firmware.html", "byom.html",
                 "exactness.html", "results.html", "api.html", "notebooks/01_jet_data.html"):
        assert page in names


def test_the_layer_lists_are_the_registrys(site):
    from l1ad.firmware.kinds import REFUSED, supported_layers

    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", (site / "byom.html").read_text())).split())
    for line in supported_layers():
        assert " ".join(line.split()) in text, line
    for name in REFUSED:
        assert name in text, name


def test_the_api_reference_is_built_from_docstrings(site):
    text = (site / "api.html").read_text()
    for name in ("convert_model", "check", "build_rtl", "with_trigger", "load_config", "run_scan"):
        assert f'id="l1ad.' in text and name in text, name

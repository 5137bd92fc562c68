"""Sphinx configuration of l1ad's documentation site (`make docs`; the test suite builds it with warnings as errors).

Pages are MyST markdown; the notebooks (jupytext percent scripts in ../notebooks, linked here as notebooks/) are
rendered by myst-nb, executed when L1AD_DOCS_EXECUTE is "cache" or "force" (`make docs`), as written otherwise (the
tests); the supported-layer list is generated from the layer registry when the site is built.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # autodoc imports TensorFlow: no start-up chatter in the build
sys.path.insert(0, str(HERE))

project = "l1ad"
author = "l1ad developers"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.viewcode", "generated"]
exclude_patterns = ["_build", "_generated", "conf.py", "generated.py", "Thumbs.db", ".DS_Store", "**/__pycache__",
                    "notebooks/README*"]
source_suffix = {".md": "myst-nb", ".py": "myst-nb"}
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = os.environ.get("L1AD_DOCS_EXECUTE", "off")
nb_execution_timeout = 1800
nb_execution_raise_on_error = True
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = "l1ad"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
suppress_warnings = ["myst.header"]
smartquotes = False  # code names and registry text appear as written

"""Sphinx configuration of softreg's documentation.

Build: ``pip install -e ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html``.
The gallery (``examples/gallery/plot_*.py``) is executed during the build; the command-line
pages are generated from the argparse parser and the API list from ``softreg.__all__``, so
neither can drift from the code (see ``docs/_ext``).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# document (and run the gallery against) this checkout's source, installed or not
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import softreg  # noqa: E402

project = "softreg"
author = "the softreg developers"
copyright = "the softreg developers"  # noqa: A001
version = release = softreg.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "softreg_docs",  # docs/_ext/softreg_docs.py: CLI pages, API list, benchmark tables
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.md5",
                    "auto_examples/*.py", "auto_examples/*.ipynb", "auto_examples/*.zip"]
templates_path = ["_templates"]
default_role = "literal"
nitpicky = False

# -- autodoc / autosummary / numpydoc ---------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery -----------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples" / "gallery"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every plot_*.py runs at build time
    "abort_on_example_error": True,
    "within_subsection_order": "softreg_docs.GalleryOrder",
    "remove_config_comments": True,
    "reference_url": {"softreg": None},
    "doc_module": ("softreg",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "show_memory": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
}

# -- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"softreg {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False

# examples print warnings deliberately (e.g. a ConvergenceWarning shown on purpose); the
# docs build itself must stay warning-free (-W) and never needs the network
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

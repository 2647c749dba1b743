"""Sphinx configuration of sk_ebm's documentation (``bash scripts/docs.sh``)."""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The checkout being documented, not whatever sk_ebm is installed.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
# Two OpenMP threads on a 2-core machine can make torch 100x slower; the
# examples also call torch.set_num_threads(1) themselves.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sk_ebm  # noqa: E402

project = "sk_ebm"
author = "the sk_ebm developers"
copyright = "the sk_ebm developers"
release = sk_ebm.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sk_ebm_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "sg_execution_times.rst"]
# Docstring examples are run by pytest (--doctest-modules), not by this build.

# -- API reference ---------------------------------------------------------------------
autosummary_generate = True
autosummary_generate_overwrite = True
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"
# Method tables are written by autodoc (:members: in the class template), not by
# numpydoc, which would ask autosummary for stub pages of every method.
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = True

# -- Gallery ---------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Run every plot_*.py; demo.py (two minutes, prints a table) stays out.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(demo|__init__)\.py",
    "within_subsection_order": "FileNameSortKey",
    # The examples save their figures (the README's images among them) to
    # $SK_EBM_FIGURE_DIR; the gallery shows those files.
    "image_scrapers": ("sk_ebm_docs.scrape_saved_figures",),
    "reset_modules": ("matplotlib", "sk_ebm_docs.reset_figure_dir"),
    "doc_module": ("sk_ebm",),
    "backreferences_dir": "api/generated/backreferences",
    "reference_url": {"sk_ebm": None},
    "remove_config_comments": True,
    "show_signature": False,
    "download_all_examples": False,
    "abort_on_example_error": True,
    "min_reported_time": 0,
}

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sk_ebm {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_copy_source = False

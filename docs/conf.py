"""Sphinx configuration for minidl's documentation site.

Build (offline, warnings are errors): ``bash docs/build.sh`` — or by hand
``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
Needs ``pip install -e ".[docs]"``. The tutorials are executed in quick mode while the
site builds (sphinx-gallery); ``MINIDL_DOCS_FULL=1`` runs them in full mode.
"""
import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(DOCS, "_ext"))

import minidl  # noqa: E402
import minidl_docs  # noqa: E402

project = "minidl"
author = "minidl developers"
copyright = "minidl developers, MIT licence"
release = version = minidl.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "minidl_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_gallery_src", "_ext", "**.ipynb_checkpoints"]
root_doc = "index"

# -- generated pages (git-ignored) ----------------------------------------------------------
QUICK = os.environ.get("MINIDL_DOCS_FULL") != "1"
minidl_docs.write_gallery_sources(os.path.join(DOCS, "_gallery_src"), quick=QUICK)
minidl_docs.write_api_pages(os.path.join(DOCS, "api"))
minidl_docs.write_homework_pages(os.path.join(DOCS, "homework"))

# -- API reference ---------------------------------------------------------------------------
# autodoc + napoleon settings (Google-style "Args:", NumPy style, PyTorch's "Shape:" section):
# kept in minidl_docs.API_SETTINGS so that tests/docs/test_docstrings.py checks the docstrings
# with exactly these settings.
globals().update(minidl_docs.API_SETTINGS)

# -- Tutorials gallery (sphinx-gallery, as scikit-learn's and PyTorch's tutorials) ---------------
sphinx_gallery_conf = {
    "examples_dirs": ["_gallery_src"],
    "gallery_dirs": ["tutorials"],
    "filename_pattern": r"[/\\]\d\d_",          # execute every tutorial
    "reset_argv": minidl_docs.TutorialArgv(os.path.join(DOCS, "_build", "tutorial_out"), quick=QUICK),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 1,
    "capture_repr": (),            # a page shows what the script prints, as `python tutorials/...` does
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_signature": False,
}

# -- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"minidl {version}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": {"tutorials/[0-9]*": []},   # tutorials: room for tables and code
    "use_edit_page_button": False,
}
html_show_sourcelink = False
myst_heading_anchors = 3

"""Sphinx configuration of the imkerutils site: ``nox -s docs`` builds it into ``build/docs/html``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE / "_scripts")]

from imkerutils import __version__  # noqa: E402

project = "imkerutils"
author = "Tyler Foster"
copyright = "Tyler Foster, MIT licence"
release = __version__
version = __version__

extensions = [
    "myst_parser",  # the Markdown pages (design.md, benchmarks.md, ...) are read as they are
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # numpydoc-style sections in docstrings
    "sphinx.ext.viewcode",
    "cli_reference_directive",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
smartquotes = False  # "--stage" stays two hyphens, not a dash
exclude_patterns = ["_build", "_scripts", "_ext", "Thumbs.db", ".DS_Store"]

myst_heading_anchors = 4  # [text](#a-heading) links inside and between pages
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"imkerutils {__version__}"
html_theme_options = {"description": "Out-of-core canvases and Exquisite", "fixed_sidebar": True}

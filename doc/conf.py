"""Sphinx configuration of the vaesource documentation.

Build (offline, a few minutes on 2 cores, the tutorials included)::

    python -m sphinx -W --keep-going -b html doc doc/_build/html

``make -C doc html-noplot`` skips running the tutorials. The tutorials run
off screen on the embedded template head; tutorial 03 reads MNE's test
recordings from ``$VAESOURCE_TESTING_DATA`` (default: the
``shared/mne-testing-data`` folder next to the repository, as in the tests)
unless the MNE sample dataset is installed.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil
import sys
from datetime import date
from pathlib import Path

DOC = Path(__file__).resolve().parent
REPO = DOC.parent

# Documentation builds are headless: set before vaesource (and pyvista) load.
os.environ["MPLBACKEND"] = "Agg"
os.environ["PYVISTA_OFF_SCREEN"] = "true"
# Never download during a build unless asked (VAESOURCE_NO_DOWNLOAD=0).
os.environ.setdefault("VAESOURCE_NO_DOWNLOAD", "1")
_TESTING = REPO.parent / "shared" / "mne-testing-data"
if _TESTING.is_dir():
    os.environ.setdefault("VAESOURCE_TESTING_DATA", str(_TESTING))

sys.path.insert(0, str(REPO))  # the checkout, even without an installed copy

import data_fetch  # noqa: E402
import vaesource  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "vaesource"
author = "vaesource developers"
copyright = f"{date.today().year}, {author}"
release = vaesource.__version__
version = release

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    # sphinx-gallery writes these next to the sources; they are included
    # where they belong, never read as pages of their own
    "auto_tutorials/*.md5",
    "auto_tutorials/*.codeobj.json",
    "auto_tutorials/*.py",
    "auto_tutorials/*.ipynb",
    "auto_tutorials/*.zip",
]
default_role = "py:obj"  # `name` in docstrings links like :obj:`name`
# No intersphinx: builds must run offline. References to MNE, numpy, ...
# stay plain text.
nitpicky = False

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"  # the numpydoc sections say what the types are
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Docstring checks on every documented object (numpydoc.validate).
# PR01: a parameter is not documented; PR02: an unknown parameter is.
numpydoc_validation_checks = {"PR01", "PR02"}


def _dataclasses():
    """Names of vaesource's dataclasses: their fields are documented under
    Attributes (they are results), which PR01 would count as undocumented
    constructor parameters."""
    names = set()
    for package in (vaesource, data_fetch):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):
                continue  # runs the command line
            module = importlib.import_module(info.name)
            for obj in vars(module).values():
                if (isinstance(obj, type) and dataclasses.is_dataclass(obj)
                        and obj.__module__ == module.__name__):
                    names.add(obj.__name__)
    return names


numpydoc_validation_exclude = {rf"\.{name}$" for name in _dataclasses()}

# -- MyST (the Markdown pages; index.md includes the README's headline table) --
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../tutorials"],
    "gallery_dirs": ["auto_tutorials"],
    # run every tutorial (the default runs only files named plot_*)
    "filename_pattern": r"/\d\d_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    # 3-D renders reach the page through viz.as_figure (matplotlib)
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "doc_module": ("vaesource", "data_fetch"),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"vaesource": None, "data_fetch": None},
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
    "min_reported_time": 1,
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"vaesource {release}"
html_static_path = ["_static"]
html_css_files = ["style.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {
    page: [] for page in ("install", "maths", "command_line", "data", "fig2", "speed",
                          "evidence", "many", "cluster", "development")
}
html_show_sourcelink = False
# MathJax from its CDN by default; VAESOURCE_DOC_MATHJAX names a local
# tex-chtml.js to read the pages without a network.
if os.environ.get("VAESOURCE_DOC_MATHJAX"):
    mathjax_path = os.environ["VAESOURCE_DOC_MATHJAX"]


# -- Re-exported constants ---------------------------------------------------
def _constant_doc(app, what, name, obj, options, lines):
    """A constant re-exported by a package (``vaesource.benchmark.MODELS``)
    is documented by the ``#:`` comment where it is defined, not by the
    docstring of its type (``tuple``)."""
    if what != "data":
        return
    from sphinx.pycode import ModuleAnalyzer

    package, _, attr = name.rpartition(".")
    for modname, module in sorted(sys.modules.items()):
        if not modname.startswith(package + ".") or getattr(module, attr, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # a module without source
            continue
        if ("", attr) in docs:
            lines[:] = [line for line in docs["", attr] if line.strip()]
            return
    if "\n".join(lines).strip() == " ".join((type(obj).__doc__ or "").split()):
        lines[:] = []


def setup(app):
    app.connect("autodoc-process-docstring", _constant_doc)

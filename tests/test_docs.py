"""The README, the documentation pages and the tutorials say what the code does.

Cheap checks of the documentation's own claims: its code runs as shown,
numbers it repeats agree (the README's headline table and the pages it
links to), the README stays a landing page whose links lead to pages of the
site, the tutorials' pictures can be seen when run as plain scripts, and
the API reference (``doc/api.rst``, read as text: no sphinx needed) lists
every public name.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
DOC = REPO / "doc"
# a number as a word (1.45, 12471, the 27.9 of 27.9x), not the 1 of b1 or ico1
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?=x\b|(?!\w|\.\d))")


def _python_block(after, text=README):
    """The first ```python block after the heading ``after`` in ``text``."""
    text = text[text.index(after):]
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


@pytest.mark.parametrize("page", ["README.md", "doc/install.md"])
def test_array_quick_start_runs_and_uses_its_imports(page):
    code = _python_block("## Quick start (arrays)",
                         (REPO / page).read_text(encoding="utf-8"))
    namespace = {}
    exec(compile(code, f"{page} quick start (arrays)", "exec"), namespace)
    imported = re.search(r"from vaesource\.solvers import (.*)", code).group(1)
    for name in (n.strip() for n in imported.split(",")):
        uses = re.findall(rf"\b{name}\(", code)
        assert uses, f"{page} imports {name} but never shows how to call it"
    assert namespace["lasso"].active_set.size > 0


def _headline_rows():
    """(claim, measured, linked page) of each line of the README's headline
    table, between its markers (``doc/index.md`` includes it)."""
    start, end = "<!-- headline-start -->", "<!-- headline-end -->"
    assert README.count(start) == README.count(end) == 1
    table = README[README.index(start) + len(start):README.index(end)]
    rows = []
    for line in table.strip().splitlines()[2:]:  # after the header and |---|
        claim, measured, page = (cell.strip() for cell in line.strip("|").split("|"))
        link = re.fullmatch(r"\[[^\]]+\]\((doc/[\w-]+\.md)(?:#[\w-]+)?\)", page)
        assert link, f"the headline line {claim!r} does not link to one doc page: {page}"
        rows.append((claim, measured, REPO / link.group(1)))
    return rows


def test_readme_headline_numbers_are_on_their_pages():
    """A number the headline quotes is on the page it links to, so a number
    updated on its page and not in the headline (or the reverse) fails here."""
    rows = _headline_rows()
    assert len(rows) >= 5
    for claim, measured, page in rows:
        text = page.read_text(encoding="utf-8")
        on_page = set(NUMBER.findall(text))
        missing = [n for n in NUMBER.findall(measured) if n not in on_page]
        assert not missing, f"{claim!r}: {missing} are not in {page.name}"


def _toctree_pages():
    """The pages named in the toctrees of ``doc/index.md``."""
    text = (DOC / "index.md").read_text(encoding="utf-8")
    pages = set()
    for block in re.findall(r"```\{toctree\}\n(.*?)```", text, re.S):
        pages.update(line.strip() for line in block.splitlines()
                     if line.strip() and not line.startswith(":"))
    return pages


def test_readme_is_a_landing_page_linking_to_the_site():
    """The README stays short, keeps the front page's headline table, and
    every doc page it links to exists and is in the site's table of
    contents (so the site and GitHub show the same pages)."""
    assert len(README.splitlines()) <= 200
    assert "<!-- headline-start -->" in (DOC / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((doc/[^)#\s]+)", README))
    assert {"doc/speed.md", "doc/fig2.md", "doc/evidence.md", "doc/many.md"} <= linked
    in_toc = _toctree_pages()
    for target in sorted(linked):
        assert (REPO / target).is_file(), f"the README links to {target}, which is missing"
        if target.endswith(".md"):
            assert Path(target).stem in in_toc, f"{target} is in no toctree of doc/index.md"
    for page in DOC.glob("*.md"):
        if page.stem != "index":
            assert page.stem in in_toc, f"doc/{page.name} is in no toctree of doc/index.md"


def test_sample_dataset_size_said_once():
    """Every mention of the sample dataset's size gives the same number."""
    texts = [README] + [p.read_text(encoding="utf-8") for p in
                        sorted(DOC.glob("*.md"))
                        + sorted((REPO / "tutorials").glob("*.py"))
                        + sorted((REPO / "data_fetch").glob("*.py"))]
    sizes = set()
    for text in texts:
        for line in text.splitlines():
            if "sample" in line.lower():
                sizes.update(re.findall(r"(\d+(?:\.\d+)?) GB", line))
    assert len(sizes) == 1, sizes


def test_tutorial_renders_show_as_figures():
    """Off-screen plotters cannot open a window: a tutorial run as a plain
    script shows its 3-D renders through matplotlib (viz.as_figure)."""
    for script in sorted((REPO / "tutorials").glob("[0-9][0-9]_*.py")):
        source = script.read_text(encoding="utf-8")
        if not re.search(r"\b(plot_sources|plot_comparison|plot_volume_sources)\(",
                         source):
            continue
        assert "plotter.show()" not in source, script.name
        assert "as_figure(" in source and "plt.show()" in source, script.name


# the packages whose __all__ the API reference must cover (at least)
API_MODULES = (
    "vaesource", "vaesource.solvers", "vaesource.forward", "vaesource.simulation",
    "vaesource.metrics", "vaesource.viz", "vaesource.compare",
    "vaesource.benchmark", "vaesource.datasets", "data_fetch",
)


def _api_entries():
    """Fully qualified names in the autosummary tables of ``doc/api.rst``."""
    text = (REPO / "doc" / "api.rst").read_text(encoding="utf-8")
    names, module, in_table = set(), None, False
    for line in text.splitlines():
        match = re.match(r"\.\. (?:current|auto|py:)?module:: *(\S+)", line)
        if match:
            module, in_table = match.group(1), False
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and line.strip() and not line.startswith(" "):
            in_table = False
        elif in_table and line.strip() and not line.strip().startswith(":"):
            assert module, f"doc/api.rst lists {line.strip()} before any module"
            names.add(f"{module}.{line.strip().lstrip('~')}")
    return names


def _public_modules():
    """Modules that declare ``__all__`` (no private part in their name)."""
    found = set()
    for package in ("vaesource", "data_fetch"):
        pkg = importlib.import_module(package)
        found.add(package)
        for info in pkgutil.walk_packages(pkg.__path__, package + "."):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            if "__all__" in vars(importlib.import_module(info.name)):
                found.add(info.name)
    return found


def test_api_page_lists_every_public_name():
    """A public function or class without an API page fails here: add it to
    an autosummary table of doc/api.rst."""
    listed = _api_entries()
    # a name re-exported elsewhere (vaesource.compare.compare is
    # vaesource.compare) is listed once
    documented = [_resolve(full) for full in listed]
    modules = _public_modules()
    assert set(API_MODULES) <= modules, (
        f"no __all__ in {sorted(set(API_MODULES) - modules)}")
    missing = [
        f"{name}.{attr}" for name in sorted(modules)
        for attr in importlib.import_module(name).__all__
        if not attr.startswith("__") and f"{name}.{attr}" not in listed
        and not any(getattr(importlib.import_module(name), attr) is obj
                    for obj in documented)
    ]
    assert not missing, f"doc/api.rst does not list {missing}"


def _resolve(full):
    module, _, attr = full.rpartition(".")
    obj = getattr(importlib.import_module(module), attr, None)
    assert obj is not None, f"doc/api.rst lists {full}, which does not exist"
    return obj


def test_api_page_names_exist():
    """Every name the API page lists can be imported (no stale entries)."""
    for full in sorted(_api_entries()):
        _resolve(full)

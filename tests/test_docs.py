"""The README and the tutorials say what the code does.

Cheap checks of the documentation's own claims: its code runs as shown,
numbers it repeats agree, the tutorials' pictures can be seen when run
as plain scripts, and the API reference (``doc/api.rst``, read as text: no
sphinx needed) lists every public name.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _python_block(after):
    """The first ```python block after the heading ``after``."""
    text = README[README.index(after):]
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_readme_array_quick_start_runs_and_uses_its_imports():
    code = _python_block("## Quick start (arrays)")
    namespace = {}
    exec(compile(code, "README quick start (arrays)", "exec"), namespace)
    imported = re.search(r"from vaesource\.solvers import (.*)", code).group(1)
    for name in (n.strip() for n in imported.split(",")):
        uses = re.findall(rf"\b{name}\(", code)
        assert uses, f"the README imports {name} but never shows how to call it"
    assert namespace["lasso"].active_set.size > 0


def test_sample_dataset_size_said_once():
    """Every mention of the sample dataset's size gives the same number."""
    texts = [README] + [p.read_text(encoding="utf-8") for p in
                        sorted((REPO / "tutorials").glob("*.py"))
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

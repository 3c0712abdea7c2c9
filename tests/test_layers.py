"""Imports point down only (DESIGN.md section 7, doc/ARCHITECTURE.md).

Every module of ``vaesource/`` is parsed with :mod:`ast` (imports at module
level and inside functions, relative and absolute) and each import is checked
against the layers below. A module may import from its own unit (the
top-level module or subpackage it belongs to, e.g. ``viz.brain`` from
``viz._scene``) and from units of lower layers; an import from a unit of the
same layer (sideways) or of a higher one (upward) fails, unless it is one of
the listed exceptions, which must still exist (so the list stays true).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vaesource"

# Units (first name under vaesource; "" is the package's __init__, the public
# door) by layer, lowest first. Within DESIGN.md's "solvers, forward,
# simulation, metrics, template head" layer, simulation builds its problems
# from forward and solvers, so it sits above them; evidence (which sources are
# real) is read by inverse and by viz, so it sits below both.
LAYERS = [
    # helpers; the one door to MNE's internals; the method registry (names
    # and labels, read by every layer above)
    {"utils", "_mne_compat", "_methods", "_docs"},
    # the commands' inputs (files -> MNE objects), output folders and small
    # helpers on their estimates
    {"_inputs", "_output", "_stc"},
    # arrays and head models: solvers, lead fields and the template head
    {"solvers", "metrics", "forward"},
    # datasets is the public door to forward.template (nothing imports it)
    {"simulation", "evidence", "datasets"},
    {"inverse"},  # MNE objects
    {"compare", "viz"},
    {"demo", "localize", "render", "benchmark"},  # the commands' back-ends
    {"batch"},  # a study's subjects, each a localize run (its writers)
    {""},  # vaesource/__init__.py: the public API
    {"cli"},
]
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}

# Known sideways imports, each to be removed by moving the shared piece down
# (then its line is deleted here: the test fails on an exception that no
# longer exists). None is left: what the command back-ends shared moved down
# (LEARN_NOISE and the min_evidence parser to inverse, the input readers to
# _inputs, volume_glass to viz.volume, CorticalSettings to simulation).
EXCEPTIONS: set[tuple[str, str]] = set()


def _module_name(path, root=PACKAGE):
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path, root=PACKAGE):
    """(line, imported module) of every vaesource import in the file."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            if node.module is None:  # from . import x: x may be a module
                found += [(node.lineno, f"{target}.{alias.name}")
                          for alias in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, target) for line, target in found
            if target == "vaesource" or target.startswith("vaesource.")]


def _unit(module):
    """The top-level unit of a vaesource module ("" for the package)."""
    parts = module.split(".")
    unit = parts[1] if len(parts) > 1 else ""
    # from vaesource import __version__ is the package's own name
    return "" if unit.startswith("__") else unit


def _graph():
    """{(module, imported unit): [where, ...]} of the imports across units."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for line, target in _imports(path):
            if _unit(target) != _unit(module):
                where = f"{path.relative_to(PACKAGE.parent)}:{line}: {target}"
                graph.setdefault((module, _unit(target)), []).append(where)
    return graph


def test_every_unit_has_a_layer():
    units = {_unit(_module_name(path)) for path in PACKAGE.rglob("*.py")}
    missing = sorted(units - set(LAYER))
    assert not missing, f"give these a layer in tests/test_layers.py: {missing}"


def _points_down(module, target):
    return LAYER.get(target, -1) < LAYER.get(_unit(module), -1)


def test_imports_point_down():
    wrong = []
    for (module, target), where in sorted(_graph().items()):
        if (module, target) in EXCEPTIONS or _points_down(module, target):
            continue
        source = _unit(module)
        side = ("sideways" if LAYER.get(target) == LAYER.get(source)
                else "upward")
        wrong += [f"{w} ({side}: {source or 'vaesource'} -> {target})"
                  for w in where]
    assert not wrong, "imports that do not point down:\n" + "\n".join(wrong)


def test_exceptions_still_exist():
    """An exception that is gone (or points down) is removed from the list."""
    graph = _graph()
    gone = sorted(pair for pair in EXCEPTIONS
                  if pair not in graph or _points_down(*pair))
    assert not gone, f"not needed, remove from EXCEPTIONS: {gone}"


def test_the_check_sees_function_level_and_relative_imports(tmp_path):
    """The parser itself: a relative import inside a function is found."""
    sub = tmp_path / "vaesource" / "viz"
    sub.mkdir(parents=True)
    path = sub / "x.py"
    path.write_text("def f():\n    from ..localize import y\n"
                    "import vaesource.cli\nfrom . import brain\n")
    assert sorted(_imports(path, tmp_path / "vaesource")) == [
        (2, "vaesource.localize"), (3, "vaesource.cli"),
        (4, "vaesource.viz.brain")]

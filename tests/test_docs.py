"""The README and the tutorials say what the code does.

Cheap checks of the documentation's own claims: its code runs as shown,
numbers it repeats agree, and the tutorials' pictures can be seen when run
as plain scripts.
"""

from __future__ import annotations

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

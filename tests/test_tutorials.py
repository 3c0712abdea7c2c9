"""The tutorials (sphinx-gallery scripts in ``tutorials/``) run offline.

Each ``tutorials/NN_*.py`` is executed as a user would run it, in a fresh
process with an empty working folder, on the embedded template head (no
download), with matplotlib and pyvista off screen. Tutorials that render in
3-D need off-screen OpenGL (the ``rendering`` fixture skips them without it,
or fails where CI requires it); those on real recordings read MNE's test
files (the ``testing_data`` fixture skips them when absent).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TUTORIAL_DIR = REPO / "tutorials"
TUTORIALS = sorted(TUTORIAL_DIR.glob("[0-9][0-9]_*.py"))
# hang protection only: every tutorial takes well under a minute
TIMEOUT = 300
_RENDERS = re.compile(r"\b(plot_sources|plot_comparison|plot_volume_sources)\b")
# tutorials on the MNE sample subject's recordings (data_fetch.real_data)
_REAL_DATA = re.compile(r"\b(real_data|data_fetch)\b")
_RST_ADORNMENT = set("=-~^\"'`#*+:.<>_")

# what a tutorial promises to print, where that is cheap to check
EXPECTED_OUTPUT = {
    "01_paper_result.py": [
        r"full_vae\s+success=True",
        r"unit: success rate at each r\n\s+full_vae .*%",
        r"jeffreys: success rate at each r\n\s+full_vae ",
        r"figure 2 sweep: \d+ solves",
    ],
    "02_template_localization.py": [
        r"<SolverResult \| full_vae, ",
        r"converged: True",
        r"localization error \(mm\): \[",
        r"\d+ dipoles; strongest at",
    ],
    "04_compare_methods.py": [
        r"method\s+active\s+expl\. var\s+seconds",
        r"\nfull_vae\s+\d+\s+[\d.]+%",
        r"\nmxne\s+\d+\s+[\d.]+%",
        r"\ngamma_map\s+\d+\s+[\d.]+%",
        r"full_vae\s+errors \(mm\): \[",
    ],
}


def _ids(paths):
    return [p.stem for p in paths]


def _git_status(path):
    """Entries of ``git status`` under ``path`` (ignored files included).

    The tutorial scripts themselves are left out: people edit them while
    the tests run. None when this is not a git checkout.
    """
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        return None
    proc = subprocess.run(
        [git, "status", "--porcelain", "--ignored", "--untracked-files=all",
         "--", str(path)],
        cwd=REPO, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        return None
    return {line for line in proc.stdout.splitlines()
            if not re.search(r"/[0-9][0-9]_[^/]*\.py$", line)}


def test_tutorials_found():
    assert TUTORIALS, f"no tutorials in {TUTORIAL_DIR}"


@pytest.mark.parametrize("script", TUTORIALS, ids=_ids(TUTORIALS))
def test_tutorial_layout(script):
    """A sphinx-gallery script: RST title in the docstring, ``# %%`` cells."""
    source = script.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source), clean=True)
    assert doc, f"{script.name} has no module docstring"
    lines = doc.strip().splitlines()
    assert len(lines) >= 2, f"{script.name}: the docstring has no title"
    title, underline = lines[0].strip(), lines[1].strip()
    assert title and not set(title) <= _RST_ADORNMENT, (
        f"{script.name}: the docstring must start with a title, got {title!r}"
    )
    assert len(set(underline)) == 1 and underline[0] in _RST_ADORNMENT, (
        f"{script.name}: the title must be underlined in RST, got {underline!r}"
    )
    assert len(underline) >= len(title), (
        f"{script.name}: the title underline is shorter than the title"
    )
    n_cells = sum(line.startswith("# %%") for line in source.splitlines())
    assert n_cells >= 2, f"{script.name} has {n_cells} '# %%' cells, need >= 2"


@pytest.mark.parametrize("script", TUTORIALS, ids=_ids(TUTORIALS))
def test_tutorial_runs(script, tmp_path, template_cache, request):
    """The tutorial runs offline, prints what it promises, writes nothing."""
    source = script.read_text(encoding="utf-8")
    if _RENDERS.search(source):
        request.getfixturevalue("rendering")
    env = dict(os.environ)
    if _REAL_DATA.search(source):
        # offline, the real-data tutorials read MNE's small test files
        env["VAESOURCE_TESTING_DATA"] = str(request.getfixturevalue("testing_data"))
    env.update(
        VAESOURCE_NO_DOWNLOAD="1",
        MPLBACKEND="Agg",
        PYVISTA_OFF_SCREEN="true",
        VAESOURCE_CACHE_DIR=str(template_cache),
    )
    before = _git_status(TUTORIAL_DIR)
    try:
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{script.name} did not finish within {TIMEOUT} s\n"
            f"--- stdout ---\n{exc.stdout}\n--- stderr ---\n{exc.stderr}"
        )
    report = (f"{script.name} exited with {proc.returncode}\n"
              f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    assert proc.returncode == 0, report
    for pattern in EXPECTED_OUTPUT.get(script.name, []):
        assert re.search(pattern, proc.stdout), (
            f"{script.name} did not print {pattern!r}\n{report}"
        )
    if before is not None:
        new_entries = _git_status(TUTORIAL_DIR) - before
        assert not new_entries, (
            f"{script.name} wrote into {TUTORIAL_DIR}: {sorted(new_entries)}"
        )

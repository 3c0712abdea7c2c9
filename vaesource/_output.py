"""Output folders of ``vaesource localize`` and ``vaesource demo``: one run each.

A run is written into an empty stage folder next to the output folder, and
the stage then takes the output folder's place as a whole, so the folder
never mixes the files of two runs (a second run with fewer methods would
otherwise leave the first run's estimates next to its own summary). An
existing folder is replaced only when it holds a previous run and nothing
else: a folder with any file that vaesource does not write (a recording, a
script, a subfolder), the run's inputs or the current folder is never
deleted, with or without ``overwrite``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from ._methods import COMPARED

# what a run of `localize` or `demo` writes: estimates and renders per method
# (and the demo's truth), dipoles, summary, report, the demo's inputs
# ("ae-*": what runs with --model ae wrote before the autoencoder had one name)
_METHODS = (*COMPARED, "ae", "truth")
# a run on several conditions or epochs prefixes its estimates with the
# condition's file stem or "epoch<k>" ("aud_left-full_vae-lh.stc")
_RUN_FILE = re.compile(
    r"^(?:(?:[A-Za-z0-9_.+]+-)?(?:%s)(?:-lh\.stc|-rh\.stc|-vl\.stc|-dipoles\.dip|\.png)"
    r"|summary\.json|report\.html|comparison\.png"
    r"|simulated-ave\.fif|template-fwd\.fif|noise-cov\.fif)$" % "|".join(_METHODS)
)
_STAGE_PREFIX = ".vaesource-stage-"
_OLD_PREFIX = ".vaesource-old-"


class OutputExistsError(FileExistsError):
    """The output folder holds an earlier run and ``overwrite`` is False.

    Attributes
    ----------
    path : pathlib.Path
        The output folder.
    """

    def __init__(self, path):
        self.path = Path(path)
        super().__init__(
            f"{self.path} holds the outputs of an earlier run; pass "
            "overwrite=True to replace that run (the folder as a whole)."
        )


def _foreign(out, written=None):
    """Entries of ``out`` that no vaesource run writes (``written(name)``
    says which file names a run writes; default: the commands' runs)."""
    written = _RUN_FILE.match if written is None else written
    return sorted(p.name for p in out.iterdir()
                  if p.is_symlink() or not p.is_file() or not written(p.name))


def check_output_folder(out, *, overwrite, inputs=()):
    """Check, before any work, that a run may be written to ``out``.

    Parameters
    ----------
    out : path-like
        Output folder: absent, empty, or holding a previous run only.
    overwrite : bool
        Whether a previous run there may be replaced.
    inputs : iterable of path-like
        Input files of the run; none may lie inside a folder to be replaced.

    Returns
    -------
    out : pathlib.Path
        The folder, user-expanded.
    """
    out = Path(out).expanduser()
    if out.is_symlink():
        raise ValueError(f"The output folder {str(out)!r} is a symbolic link; "
                         "give the folder it points to, or a new one.")
    if not out.exists():
        return out
    if not out.is_dir():
        raise ValueError(f"The output {str(out)!r} exists and is not a folder.")
    here = out.resolve()
    cwd = Path.cwd().resolve()
    if here == cwd or here in cwd.parents:
        raise ValueError(
            f"The output folder {str(out)!r} is the current folder or holds it; "
            "a run replaces its output folder as a whole, so give a folder "
            "of its own (e.g. a new subfolder)."
        )
    entries = list(out.iterdir())
    if not entries:
        return out
    foreign = _foreign(out)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise ValueError(
            f"The output folder {str(out)!r} holds files that vaesource does not "
            f"write ({shown}). A run replaces its output folder as a whole, so it "
            "only writes to a new or empty folder, or over a previous run; "
            "choose another folder."
        )
    if not overwrite:
        raise OutputExistsError(out)
    for fname in inputs:
        if fname is None:
            continue
        path = Path(fname).expanduser().resolve()
        if here in path.parents:
            raise ValueError(
                f"The input {str(fname)!r} is inside the output folder "
                f"{str(out)!r}, which the run replaces as a whole; choose "
                "another output folder."
            )
    return out


@contextlib.contextmanager
def staged_folder(out, *, written=None):
    """An empty stage folder that replaces ``out`` when the block succeeds.

    The stage is made next to ``out`` (same file system, so the final
    renames are cheap); when the block raises, the stage is removed and
    ``out`` is left as it was. ``written(name)`` says which file names the
    run writes (default: those of the commands' runs); ``out`` may hold
    only those.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=out.parent))
    try:
        # mkdtemp makes an owner-only folder; give it the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(stage, 0o777 & ~umask)
        yield stage
        _swap(stage, out, written)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def _swap(stage, out, written=None):
    """Put ``stage`` in the place of ``out`` (absent, empty or a previous run)."""
    if not out.exists():
        os.rename(stage, out)
        return
    # checked before the run; check again in case files appeared meanwhile
    foreign = _foreign(out, written)
    if foreign:
        raise ValueError(
            f"Files that vaesource does not write appeared in {str(out)!r} "
            f"during the run ({', '.join(foreign[:5])}); it was left as it was."
        )
    old = Path(tempfile.mkdtemp(prefix=_OLD_PREFIX, dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(stage, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)

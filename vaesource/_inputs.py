"""The commands' inputs: MNE objects given as themselves or as files.

Shared by the back-ends that read a user's files (:mod:`vaesource.localize`,
:mod:`vaesource.render`) and the figures that read a surface file
(:func:`vaesource.viz.volume.volume_glass`): a missing or unreadable file
gets an error naming it, and MNE's warnings about a file are passed on only
when the file was read.
"""

from __future__ import annotations

import warnings
from pathlib import Path


def _existing(fname, what):
    path = Path(fname).expanduser()
    if not path.is_file():
        raise ValueError(f"The {what} file {str(path)!r} does not exist.")
    return path


def _read(obj, kind):
    """An MNE object given as itself or as a file (``kind``: "forward" or
    "cov"), with errors that name the file."""
    import mne

    cls, reader, what = {
        "forward": (mne.Forward, mne.read_forward_solution, "forward solution"),
        "cov": (mne.Covariance, mne.read_cov, "noise covariance"),
    }[kind]
    if isinstance(obj, cls):
        return obj
    fname = _existing(obj, what)
    try:
        return _quietly(reader, fname)
    except Exception as err:  # MNE raises several types on a wrong file
        raise ValueError(f"Could not read a {what} from {fname}: {err}") from None


def _quietly(reader, fname):
    """``reader(fname)``, whose warnings (MNE's about file names) are passed on
    only when it succeeds: a wrong file gets our error alone."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = reader(fname, verbose=False)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out

"""One subject of a batch: the task a worker runs.

The task gets paths and options only (never data from the client), reads
its own files, and writes ``OUT/<subject>/`` through
:func:`vaesource.localize.run_localize` (staged next to it, then swapped in
whole: a worker that dies leaves the previous folder, or none). It never
raises on a subject's own problem: a missing file or a channel mismatch
comes back as a failed entry, so the other subjects go on.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

# the options that change a subject's estimates: part of its hash
RESULT_OPTIONS = ("condition", "tmin", "tmax", "loose", "depth", "gamma",
                  "min_evidence", "n_restarts", "random_state", "render")
_CHUNK = 1 << 20


def subject_hash(subject, options):
    """sha256 of a subject's input files (their bytes) and of the options
    that change its estimates.

    Parameters
    ----------
    subject : dict
        A :class:`~vaesource.batch.Subject` as a dict (``to_dict``).
    options : dict
        The localize options of the batch.

    Returns
    -------
    hash : str
        Hexadecimal sha256.
    """
    from .._inputs import _existing

    digest = hashlib.sha256()
    for what, label in (("evoked", "evoked"), ("forward", "forward solution"),
                        ("cov", "noise covariance")):
        path = _existing(subject[what], label)
        digest.update(what.encode() + b"\0")
        with open(path, "rb") as fid:
            for chunk in iter(lambda: fid.read(_CHUNK), b""):
                digest.update(chunk)
    chosen = {k: options.get(k) for k in RESULT_OPTIONS}
    chosen["conditions"] = list(subject["conditions"]) or None
    digest.update(json.dumps(chosen, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_subject(subject, out, options, previous=None):
    """Localize one subject into ``out/<subject>/`` (what a worker runs).

    Parameters
    ----------
    subject : dict
        The subject as plain types (:meth:`Subject.to_dict`).
    out : str
        The batch's output folder.
    options : dict
        Keyword arguments of :func:`vaesource.localize.run_localize`.
    previous : str | None
        The hash of the subject's last completed run, if its folder is
        there: an unchanged hash skips the work.

    Returns
    -------
    entry : dict
        The subject's entry of ``batch.json`` (see
        :func:`vaesource.batch.run_batch`), plus ``skipped``.
    """
    t0 = time.perf_counter()
    folder = Path(out) / subject["name"]
    entry = dict(subject=subject["name"], folder=subject["name"],
                 evoked=subject["evoked"], forward=subject["forward"],
                 cov=subject["cov"], subjects_dir=subject["subjects_dir"],
                 mri_subject=subject["mri_subject"], skipped=False)
    try:
        digest = subject_hash(subject, options)
        entry["hash"] = digest
        if digest == previous and (folder / "summary.json").is_file():
            entry.update(status="done", skipped=True)
            return entry
        entry.update(_localize(subject, folder, options))
        entry.update(status="done", message="")
    except Exception as err:  # a subject's own problem: reported, not raised
        entry.update(status="failed",
                     message=f"{type(err).__name__}: {err}".strip(),
                     hash=entry.get("hash"))
        if not isinstance(err, (ValueError, TypeError, OSError)):
            entry["traceback"] = traceback.format_exc()
    entry.update(seconds=round(time.perf_counter() - t0, 3), finished=_now())
    return entry


def _localize(subject, folder, options):
    """The subject's run of ``localize``: conditions, estimates' file stems."""
    from ..localize import run_localize

    condition = list(subject["conditions"]) or options.get("condition") or "all"
    kw = {k: v for k, v in options.items() if k != "condition"}
    # a ConvergenceWarning goes to the worker's log; summary.json records
    # each subject's convergence
    result = run_localize(subject["evoked"], subject["forward"], subject["cov"],
                          folder, condition=condition, overwrite=True,
                          subjects_dir=subject["subjects_dir"], **kw)
    stc = next(iter(result.estimates.values()))
    # the forward's subject (its source space's, which the estimates carry)
    forward_subject = getattr(stc, "subject", None)
    if result.kind == "evoked":
        stems = {result.conditions[0]: next(iter(result.estimates))}
    else:
        stems = dict(zip(result.conditions, result.estimates))
    return dict(
        conditions=list(result.conditions), estimates=stems,
        kind="volume" if len(stc.vertices) == 1 else "surface",
        mri_subject=subject["mri_subject"] or forward_subject,
    )

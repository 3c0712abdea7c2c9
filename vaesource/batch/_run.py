"""Run a batch: one task per subject, on joblib or a Dask cluster.

The client ships each subject's paths and the options to a worker
(:func:`vaesource.batch._task.run_subject`), collects the entries as the
tasks finish (a progress bar), and rewrites ``OUT/batch.json`` atomically
after each one: an interrupted batch leaves a file that says which
subjects are done, and a rerun skips those whose inputs and options are
unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._output import _OLD_PREFIX, _STAGE_PREFIX
from ..inverse import _parse_min_evidence
from ..utils import _atomic_write, _check_int, _check_positive, logger
from .._docs import fill_doc
from ._inputs import find_bids_subjects, read_manifest
from ._task import _now, run_subject

BATCH_FILE = "batch.json"
_VERSION = 1


@dataclass
class BatchResult:
    """What :func:`run_batch` did.

    Attributes
    ----------
    out : pathlib.Path
        The output folder.
    entries : dict
        ``{subject: entry}``, as in ``batch.json``.
    n_skipped : int
        Subjects already done with the same inputs and options.
    group : pathlib.Path | None
        ``OUT/group`` when the group step ran.
    wall_time : float
        Seconds for the whole batch.
    """

    out: Path
    entries: dict = field(default_factory=dict)
    n_skipped: int = 0
    group: Path | None = None
    wall_time: float = 0.0

    @property
    def failed(self):
        """Names of the subjects that failed."""
        return [s for s, e in self.entries.items() if e["status"] != "done"]

    @property
    def n_done(self):
        """Number of subjects done (computed now or skipped)."""
        return len(self.entries) - len(self.failed)

    def summary(self):
        """A few lines: done, skipped, failed (with their messages)."""
        lines = [f"{self.n_done} of {len(self.entries)} subject(s) done "
                 f"({self.n_skipped} skipped: already done with the same inputs "
                 f"and options), {len(self.failed)} failed, "
                 f"{self.wall_time:.1f} s"]
        lines += [f"  {s}: {self.entries[s]['message']}" for s in self.failed]
        return "\n".join(lines)


def _options(condition, tmin, tmax, loose, depth, gamma, min_evidence,
             n_restarts, random_state, render):
    """The localize options of every subject, checked once on the client."""
    if loose != "auto":
        try:
            loose = float(loose)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid value for the 'loose' parameter: a number in "
                             f"[0, 1] or 'auto', got {loose!r}.") from None
    if not isinstance(condition, str) and condition is not None:
        condition = ",".join(str(c) for c in condition)
    return dict(condition=condition or "all", tmin=tmin, tmax=tmax, loose=loose,
                depth=depth, gamma=_check_positive("gamma", gamma),
                min_evidence=_parse_min_evidence(min_evidence),
                n_restarts=_check_int("n_restarts", n_restarts, min_value=1),
                random_state=random_state, render=bool(render))


def _read_previous(out):
    """The entries of an earlier batch in ``out`` ({} if none)."""
    path = out / BATCH_FILE
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text())["subjects"]
        return {name: dict(e) for name, e in entries.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a batch file ({err}); remove it or choose "
                         "another output folder.") from None


def _check_out(out, overwrite):
    """The output folder: new, empty, or an earlier batch's."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"The output {str(out)!r} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not (out / BATCH_FILE).is_file():
        raise ValueError(
            f"The output folder {str(out)!r} holds files but no {BATCH_FILE}: a "
            "batch writes to a new or empty folder, or resumes an earlier "
            "batch's; choose another folder.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _clean_stages(out):
    """Remove the stage folders a killed task left behind (none is live: no
    task of this batch runs when this is called)."""
    for path in out.iterdir():
        if path.is_dir() and path.name.startswith((_STAGE_PREFIX, _OLD_PREFIX)):
            shutil.rmtree(path, ignore_errors=True)


def _write_batch(out, entries, order):
    """``batch.json``: ``{subject: entry}``, in the order of the input."""
    doc = dict(version=_VERSION, subjects={s: entries[s] for s in order
                                           if s in entries})

    def write(tmp):
        Path(tmp).write_text(json.dumps(doc, indent=2) + "\n")

    _atomic_write(out / BATCH_FILE, write, suffix=".json")


def _task_key(subject, options, previous):
    """A Dask key from the subject and the hash of what it is given."""
    digest = hashlib.sha256(json.dumps([subject, options, previous], sort_keys=True,
                                       default=str).encode()).hexdigest()
    return f"vaesource-batch-{subject['name']}-{digest[:16]}"


def _joblib_results(tasks, out, options, n_jobs):
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    yield from parallel(delayed(run_subject)(subject, str(out), options, previous)
                        for subject, previous in tasks)


def _dask_results(tasks, out, options, scheduler):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("A Dask scheduler (--scheduler) needs distributed: "
                           "pip install 'vaesource[dask]'.") from None
    path = Path(str(scheduler)).expanduser()
    kw = (dict(scheduler_file=str(path)) if path.suffix == ".json" and path.is_file()
          else dict(address=scheduler))
    with Client(**kw) as client:
        futures = {client.submit(run_subject, subject, str(out), options, previous,
                                 key=_task_key(subject, options, previous),
                                 retries=1, pure=False): subject
                   for subject, previous in tasks}
        # a task of a lost worker is rescheduled by the scheduler; one that
        # raises (never a subject's own error: those are entries) runs again
        # once; one that still fails, or that killed several workers
        # (KilledWorker), fails its subject alone
        for future in as_completed(futures):
            try:
                entry = future.result()
            except Exception as err:
                entry = _lost(futures[future], err)
            future.release()
            yield entry


def _lost(subject, err):
    """The entry of a subject whose task itself failed on the cluster."""
    return dict(subject=subject["name"], folder=subject["name"],
                evoked=subject["evoked"], forward=subject["forward"],
                cov=subject["cov"], subjects_dir=subject["subjects_dir"],
                mri_subject=subject["mri_subject"], skipped=False,
                status="failed", hash=None, seconds=None, finished=_now(),
                message=f"the task failed on the cluster: {type(err).__name__}: {err}")


@fill_doc
def run_batch(manifest=None, *, bids_root=None, task=None, out, n_jobs: int = 1,
              scheduler: str | None = None, overwrite: bool = False,
              group: bool = True, condition="all", tmin: float | None = None,
              tmax: float | None = None, loose="auto", depth: float | None = 0.8,
              gamma: float = 1.0, min_evidence="auto", n_restarts: int = 1,
              random_state=None, render: bool = False, progress: bool = True,
              group_radius_mm: float = 10.0, group_min_subjects: int | None = None,
              ) -> BatchResult:
    """Localize every subject of a study, one task each, into ``out``.

    Parameters
    ----------
    manifest : path-like | None
        A manifest file (CSV or TSV, see
        :func:`vaesource.batch.read_manifest`); or give ``bids_root``.
    bids_root : path-like | None
        A BIDS root whose ``derivatives/mne-bids-pipeline`` holds the
        subjects' evoked, forward and noise covariance files (see
        :func:`vaesource.batch.find_bids_subjects`).
    task : str | None
        The BIDS task (with ``bids_root``).
    out : path-like
        Output folder: new, empty, or an earlier batch's (resumed).
    n_jobs : int
        Parallel jobs on this machine (joblib; -1: all cores).
    scheduler : str | None
        Address of a running Dask scheduler (``tcp://host:8786``) or its
        scheduler file (``.json``): the subjects run on that cluster
        instead.
    overwrite : bool
        Compute every subject again, even those already done.
    group : bool
        When at least one subject is done, run the group step
        (:func:`vaesource.batch.group.run_group`) into ``out/group``.
    condition : str | sequence of str
        Conditions of each evoked file, for subjects whose manifest lines
        name none: ``"all"`` (default) or names; several are localized with
        one shared support.
    %(inv_tmin_tmax)s
    %(loose)s
    %(depth)s
    %(inv_gamma)s
    %(inv_min_evidence)s
    %(inv_n_restarts)s
    %(random_state)s
    render : bool
        Make each subject's renders and report (one condition only).
    progress : bool
        Show a progress bar.
    group_radius_mm : float
        The group step's radius: sources of different subjects within it
        form a cluster (:func:`vaesource.batch.group.run_group`).
    group_min_subjects : int | None
        The fewest subjects a cluster is kept with; None: a quarter of the
        subjects done (at least 2).

    Returns
    -------
    result : BatchResult

    Notes
    -----
    Each subject's outputs are those of ``vaesource localize`` in
    ``out/<subject>/``, written whole. ``out/batch.json`` holds
    ``subjects``, ``{subject: entry}`` in the order of the input, each
    entry with ``subject``, ``folder`` (relative to ``out``), ``status`` (``"done"``
    or ``"failed"``), ``message`` (the error of a failed subject),
    ``seconds``, ``finished`` (UTC, ISO 8601), ``hash`` (sha256 of the
    input files' bytes and of the options that change the estimates), the
    input paths, ``subjects_dir`` and ``mri_subject`` (the forward's subject
    unless given), and for a done subject ``conditions``, ``estimates``
    (condition -> file stem of its ``-lh.stc``/``-rh.stc`` or ``-vl.stc``
    in the folder) and ``kind`` (``"surface"`` or ``"volume"``). It is
    rewritten after each subject. A rerun on the same ``out`` skips the
    subjects done with the same hash, which the task checks where it runs
    (the client never reads the inputs).
    """
    t0 = time.perf_counter()
    if (manifest is None) == (bids_root is None):
        raise ValueError("Give a manifest (--manifest) or a BIDS root "
                         "(--bids-root with --task), not both nor neither.")
    if task is not None and bids_root is None:
        raise ValueError("task (--task) chooses the files of a BIDS root "
                         "(--bids-root); a manifest lists its files.")
    if scheduler is None:
        n_jobs = _check_int("n_jobs", n_jobs)
    options = _options(condition, tmin, tmax, loose, depth, gamma, min_evidence,
                       n_restarts, random_state, render)
    subjects = (read_manifest(manifest) if manifest is not None
                else find_bids_subjects(bids_root, task))
    out = _check_out(out, overwrite)
    previous = _read_previous(out)
    order = [s.name for s in subjects]
    gone = sorted(set(previous) - set(order))
    if gone:
        logger.warning("%d subject(s) of the earlier batch in %s are not in this one "
                       "(%s): left out of %s, their folders left as they are.",
                       len(gone), out, ", ".join(gone[:5]), BATCH_FILE)
    entries = {s: previous[s] for s in order if s in previous}
    _clean_stages(out)
    tasks = []
    for s in subjects:
        done = previous.get(s.name, {})
        last = (done.get("hash") if done.get("status") == "done" and not overwrite
                else None)
        tasks.append((s.to_dict(), last))
    logger.info("Batch of %d subject(s) into %s, on %s", len(tasks), out,
                f"Dask at {scheduler}" if scheduler else f"{n_jobs} joblib job(s)")
    results = (_dask_results(tasks, out, options, scheduler) if scheduler
               else _joblib_results(tasks, out, options, n_jobs))
    from tqdm.auto import tqdm

    n_skipped = 0
    bar = tqdm(results, total=len(tasks), disable=not progress, desc="subjects",
               unit="subject")
    try:
        for entry in bar:
            name = entry["subject"]
            skipped = entry.pop("skipped")
            if skipped:
                n_skipped += 1
                # the earlier run's record, with this input's anatomy
                entry = dict(previous[name], subjects_dir=entry["subjects_dir"],
                             mri_subject=entry["mri_subject"] or
                             previous[name].get("mri_subject"))
            entries[name] = entry
            _write_batch(out, entries, order)
            if entry["status"] != "done":
                logger.warning("Subject %s failed: %s", name, entry["message"])
    finally:
        bar.close()
    _clean_stages(out)
    result = BatchResult(out=out, entries={s: entries[s] for s in order},
                         n_skipped=n_skipped)
    if n_skipped:
        logger.info("%d subject(s) skipped: done with the same inputs and options.",
                    n_skipped)
    if group and result.n_done:
        from .group import run_group

        run_group(out, radius_mm=group_radius_mm, min_subjects=group_min_subjects)
        result.group = out / "group"
    result.wall_time = time.perf_counter() - t0
    return result



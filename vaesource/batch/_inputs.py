"""The subjects of a batch: from a manifest file or a BIDS derivatives tree.

Either way a subject is a :class:`Subject`: its name (the folder of its
outputs), the paths of its evoked response, forward solution and noise
covariance, the conditions to localize and where its FreeSurfer anatomy
lies. Only paths are collected here: the files are read by the task that
localizes the subject, on whatever machine runs it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..utils import logger

#: Columns every manifest has, then the optional ones.
REQUIRED_COLUMNS = ("subject", "evoked", "forward", "cov")
OPTIONAL_COLUMNS = ("condition", "subjects_dir", "mri_subject")
# a subject names a folder of the output: no separators, no hidden names
_SUBJECT_NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9_.+-]*$")
# names the batch itself writes in its output folder
_RESERVED = ("group", "batch.json")
# MNE-BIDS-Pipeline's derivatives folder under the BIDS root
PIPELINE_DERIVATIVES = ("derivatives", "mne-bids-pipeline")


@dataclass(frozen=True)
class Subject:
    """One subject of a batch: what its task reads, and where it writes.

    Attributes
    ----------
    name : str
        The subject's name, also its output folder ``OUT/<name>/``.
    evoked, forward, cov : str
        Absolute paths of its ``-ave.fif``, ``-fwd.fif`` and ``-cov.fif``.
    conditions : tuple of str
        The conditions to localize (jointly, one shared support); empty for
        the batch's ``condition`` option (default every condition of the
        file).
    subjects_dir : str | None
        FreeSurfer subjects folder of its anatomy (the group step morphs
        with it).
    mri_subject : str | None
        Its FreeSurfer subject (None: the forward's own, read by the task).
    """

    name: str
    evoked: str
    forward: str
    cov: str
    conditions: tuple = field(default_factory=tuple)
    subjects_dir: str | None = None
    mri_subject: str | None = None

    def to_dict(self):
        """The subject as plain types (what a task receives)."""
        out = asdict(self)
        out["conditions"] = list(self.conditions)
        return out


def _check_name(name, where):
    if not _SUBJECT_NAME.match(name) or name in _RESERVED:
        raise ValueError(
            f"Invalid subject name {name!r} ({where}): it names the subject's "
            "output folder, so it takes letters, digits and _ . + - only, "
            f"does not start with '.', and is not {' or '.join(_RESERVED)}."
        )


def _delimiter(path, text):
    """``,`` or tab: by the extension (.csv, .tsv), else by the header."""
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        return "\t"
    if suffix == ".csv":
        return ","
    header = text.splitlines()[0] if text.strip() else ""
    return "\t" if header.count("\t") > header.count(",") else ","


def read_manifest(fname):
    """The subjects listed in a manifest (CSV or TSV).

    Parameters
    ----------
    fname : path-like
        The manifest: a header line with the columns ``subject``,
        ``evoked``, ``forward`` and ``cov``, optionally ``condition``,
        ``subjects_dir`` and ``mri_subject``, then one line per subject.
        Tab-separated for a ``.tsv`` file, comma-separated for ``.csv``,
        otherwise the header decides. Relative paths are relative to the
        manifest's folder.

    Returns
    -------
    subjects : list of Subject
        In the order of the manifest.

    Notes
    -----
    A subject may take several lines only to list its conditions, one per
    line (``condition``): the lines must then name the same files,
    ``subjects_dir`` and ``mri_subject``, and different conditions. Its
    conditions are localized together, with one shared support. Any other
    repeated subject is an error, as is a manifest without subjects.
    """
    path = Path(fname).expanduser()
    if not path.is_file():
        raise ValueError(f"The manifest file {str(path)!r} does not exist.")
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines(), delimiter=_delimiter(path, text)))
    columns = [c.strip() for c in (rows[0].keys() if rows else
                                   next(csv.reader(text.splitlines()[:1]), []))]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(
            f"The manifest {str(path)!r} has no column {', '.join(map(repr, missing))}; "
            f"its header must name {', '.join(REQUIRED_COLUMNS)} (and optionally "
            f"{', '.join(OPTIONAL_COLUMNS)}), got {', '.join(map(repr, columns)) or 'nothing'}."
        )
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        logger.warning("Manifest %s: ignoring the column(s) %s.", path,
                       ", ".join(map(repr, unknown)))
    base = path.resolve().parent
    merged = {}
    for line, raw in enumerate(rows, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue  # a blank line
        where = f"{path.name}, line {line}"
        for col in REQUIRED_COLUMNS:
            if not row.get(col):
                raise ValueError(f"Empty {col!r} in {where}.")
        name = row["subject"]
        _check_name(name, where)
        files = {col: str(base / Path(row[col]).expanduser())
                 for col in ("evoked", "forward", "cov")}
        subjects_dir = row.get("subjects_dir") or None
        if subjects_dir is not None:
            subjects_dir = str(base / Path(subjects_dir).expanduser())
        condition = row.get("condition") or None
        entry = dict(files, subjects_dir=subjects_dir,
                     mri_subject=row.get("mri_subject") or None)
        if name not in merged:
            merged[name] = (entry, [condition], line)
            continue
        first, conditions, first_line = merged[name]
        if entry != first:
            raise ValueError(
                f"Subject {name!r} is listed twice with different files or "
                f"anatomy ({path.name}, lines {first_line} and {line}); a "
                "subject takes several lines only to list its conditions.")
        if condition is None or None in conditions or condition in conditions:
            raise ValueError(
                f"Subject {name!r} is listed twice ({path.name}, lines "
                f"{first_line} and {line}); a subject takes several lines only "
                "to list different conditions (column 'condition').")
        conditions.append(condition)
    if not merged:
        raise ValueError(f"The manifest {str(path)!r} lists no subject.")
    return [Subject(name=name, conditions=tuple(c for c in conds if c is not None),
                    **entry)
            for name, (entry, conds, _) in merged.items()]


def _derivatives_root(bids_root):
    """Where the pipeline's files are: ``derivatives/mne-bids-pipeline``
    under the BIDS root, or the root itself when given that folder."""
    root = Path(bids_root).expanduser()
    if not root.is_dir():
        raise ValueError(f"The BIDS root {str(root)!r} is not a folder.")
    deriv = root.joinpath(*PIPELINE_DERIVATIVES)
    return deriv if deriv.is_dir() else root


def _cov_candidates(path):
    """Where MNE-BIDS-Pipeline writes the noise covariance of an evoked
    file's entities, by its ``noise_cov`` setting: ``proc-clean`` with and
    without the task (baseline covariance; the task is dropped by recent
    releases), then the empty-room and resting-state ones, a custom
    function's (``proc-custom``), and older releases' without processing."""
    base = path.copy().update(suffix="cov", extension=".fif", run=None,
                              processing="clean")
    yield base
    yield base.copy().update(task=None)
    yield base.copy().update(task="noise")
    yield base.copy().update(task="rest")
    yield base.copy().update(processing="custom")
    yield base.copy().update(processing="custom", task=None)
    yield base.copy().update(processing=None)


def find_bids_subjects(bids_root, task, *, subjects_dir=None):
    """The subjects of a BIDS derivatives tree written by MNE-BIDS-Pipeline.

    Parameters
    ----------
    bids_root : path-like
        The BIDS root (its ``derivatives/mne-bids-pipeline`` is searched), or
        that derivatives folder itself.
    task : str
        The task (``task-<task>`` in the file names).
    subjects_dir : path-like | None
        The FreeSurfer subjects folder; default the pipeline's
        ``derivatives/freesurfer/subjects`` under the BIDS root, when it
        exists.

    Returns
    -------
    subjects : list of Subject
        One per evoked file ``sub-<s>[_ses-<ses>]_task-<task>[...]_ave.fif``,
        named by its subject, session and the other entities that tell the
        files apart (``sub-01``, ``sub-01_ses-02``), sorted by name.

    Notes
    -----
    Each evoked file's forward solution has the same entities, suffix
    ``fwd`` (without the run: the pipeline makes one per subject and
    session); its noise covariance is the first found of the pipeline's
    names (``proc-clean`` with or without the task, ``task-noise`` or
    ``task-rest`` for empty-room or resting-state noise, ``proc-custom``).
    An evoked file without both is an error naming what was looked for.
    The FreeSurfer subject is ``sub-<s>`` when the subjects folder holds
    it (the pipeline's default), else the forward's own.
    """
    from mne_bids import BIDSPath, find_matching_paths

    if not isinstance(task, str) or not task:
        raise ValueError(f"A BIDS batch needs its task (--task), got {task!r}.")
    root = _derivatives_root(bids_root)
    if subjects_dir is None:
        fs = Path(bids_root).expanduser() / "derivatives" / "freesurfer" / "subjects"
        subjects_dir = fs if fs.is_dir() else None
    evokeds = [p for p in find_matching_paths(root, tasks=task, suffixes="ave",
                                              extensions=".fif")
               if p.subject is not None]
    if not evokeds:
        raise ValueError(
            f"No evoked file of task {task!r} under {str(root)!r} (looked for "
            f"sub-*/[ses-*/]<datatype>/sub-*_task-{task}*_ave.fif, as "
            "MNE-BIDS-Pipeline writes them).")
    # the entities that tell the evoked files apart name the subject
    varying = [e for e in ("session", "acquisition", "run", "processing",
                           "recording", "space")
               if len({getattr(p, e) for p in evokeds}) > 1]
    subjects = []
    for ave in evokeds:
        ave = BIDSPath(root=root, subject=ave.subject, session=ave.session,
                       task=ave.task, acquisition=ave.acquisition, run=ave.run,
                       processing=ave.processing, recording=ave.recording,
                       space=ave.space, datatype=ave.datatype, suffix="ave",
                       extension=".fif", check=False)
        fwd = ave.copy().update(suffix="fwd", processing=None)
        fwd_found = next((p for p in (fwd, fwd.copy().update(run=None))
                          if p.fpath.is_file()), None)
        cov = next((p for p in _cov_candidates(ave) if p.fpath.is_file()), None)
        if fwd_found is None or cov is None:
            what = [] if fwd_found is not None else [fwd.fpath.name]
            what += [] if cov is not None else ["a noise covariance ("
                                                f"{next(_cov_candidates(ave)).fpath.name}"
                                                " or the pipeline's other names)"]
            raise ValueError(f"{ave.fpath.name} has no {' nor '.join(what)} in "
                             f"{str(ave.fpath.parent)!r}.")
        name = f"sub-{ave.subject}" + "".join(
            f"_{key}-{getattr(ave, e)}" for e, key in (
                ("session", "ses"), ("acquisition", "acq"), ("run", "run"),
                ("processing", "proc"), ("recording", "rec"), ("space", "space"))
            if e in varying or (e == "session" and ave.session is not None)
            if getattr(ave, e) is not None)
        mri = None
        if subjects_dir is not None and (Path(subjects_dir) / f"sub-{ave.subject}").is_dir():
            mri = f"sub-{ave.subject}"
        subjects.append(Subject(
            name=name, evoked=str(ave.fpath.resolve()),
            forward=str(fwd_found.fpath.resolve()), cov=str(cov.fpath.resolve()),
            subjects_dir=None if subjects_dir is None else str(Path(subjects_dir).resolve()),
            mri_subject=mri))
    names = [s.name for s in subjects]
    if len(set(names)) < len(names):  # pragma: no cover (entities are unique)
        raise ValueError(f"Evoked files of one name under {root}: {names}.")
    return sorted(subjects, key=lambda s: s.name)

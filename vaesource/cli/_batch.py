"""``vaesource batch``: its options and its run."""

from __future__ import annotations

from pathlib import Path

from ._types import _min_evidence


def add_parser(subparsers):
    """Add the ``batch`` command.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The commands of ``vaesource``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The command's parser; it runs :func:`run`.
    """
    batch = subparsers.add_parser(
        "batch",
        help="localize every subject of a study (manifest or BIDS "
        "derivatives), here or on a Dask cluster",
        description="Localize every subject of a study with the full VAE, one "
        "task per subject, on this machine (--n-jobs) or an existing Dask "
        "cluster (--scheduler). Each subject's outputs are those of "
        "'vaesource localize' in OUT/<subject>/ (every condition of its "
        "evoked file on one shared support, by default), written whole; "
        "OUT/batch.json records each subject's status, message, time and "
        "the hash of its inputs and options. A subject that fails does not "
        "stop the others; the command then exits with code 1. Rerun with "
        "the same --out to resume: subjects done with unchanged inputs and "
        "options are skipped. When some subjects are done, the group step "
        "writes OUT/group/.",
        epilog="manifest: a CSV or TSV file with the columns subject, evoked, "
        "forward, cov and optionally condition (several lines of one subject "
        "list its conditions), subjects_dir, mri_subject; paths relative to "
        "the manifest's folder. BIDS: the files MNE-BIDS-Pipeline writes "
        "under <root>/derivatives/mne-bids-pipeline "
        "(sub-01/meg/sub-01_task-T_ave.fif, ..._fwd.fif, "
        "..._proc-clean_cov.fif). Examples: vaesource batch --manifest "
        "study.csv --out study-out --n-jobs 8; vaesource batch --bids-root "
        "ds000117 --task facerecognition --out study-out --scheduler "
        "tcp://scheduler:8786.",
    )
    source = batch.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", type=Path, default=None,
                        help="manifest of the subjects (CSV or TSV)")
    source.add_argument("--bids-root", type=Path, default=None,
                        help="BIDS root of an MNE-BIDS-Pipeline study (with --task)")
    batch.add_argument("--task", default=None,
                       help="BIDS task of the files (with --bids-root)")
    batch.add_argument("--out", type=Path, required=True,
                       help="output folder: new, empty, or an earlier batch's "
                       "(resumed)")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--n-jobs", type=int, default=-1,
                       help="parallel jobs on this machine, -1 for all cores "
                       "(default)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run on an existing Dask cluster: its scheduler's "
                       "address (tcp://host:8786) or scheduler file (.json)")
    batch.add_argument("--condition", default="all", metavar="CONDITIONS",
                       help="conditions of each evoked file: 'all' (default) "
                       "or a comma-separated list of names, localized with "
                       "one shared support (a manifest's condition column "
                       "takes precedence)")
    batch.add_argument("--tmin", type=float, default=None,
                       help="start of the time window (s; default: first sample)")
    batch.add_argument("--tmax", type=float, default=None,
                       help="end of the time window (s; default: last sample)")
    batch.add_argument("--loose", default="auto",
                       help="orientation prior in [0, 1] (0 fixed, 1 free) or "
                       "'auto' (default: 0.2 surface, 1 volume)")
    batch.add_argument("--depth", type=float, default=0.8,
                       help="depth-weighting exponent (default 0.8)")
    batch.add_argument("--min-evidence", type=_min_evidence, default="auto",
                       metavar="E",
                       help="keep the sources whose evidence reaches E: a "
                       "number >= 0, 'auto' (default) or 'none' (as in "
                       "'vaesource localize')")
    batch.add_argument("--overwrite", action="store_true",
                       help="compute every subject again, even those done")
    batch.add_argument("--no-group", action="store_true",
                       help="skip the group step (OUT/group/)")
    batch.add_argument("--group-radius", type=float, default=10.0, metavar="MM",
                       help="group step: sources of different subjects within "
                       "MM form a cluster (default 10)")
    batch.add_argument("--group-min-subjects", type=int, default=None,
                       metavar="K", help="group step: keep the clusters found "
                       "in at least K subjects (default: a quarter of the "
                       "subjects done, at least 2)")
    batch.add_argument("--no-progress", action="store_true",
                       help="hide the progress bar")
    batch.set_defaults(run=run)
    return batch


def run(args):
    """Run the batch and print what it did.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource batch``.

    Returns
    -------
    code : int
        0 when every subject is done, 1 when some failed.
    """
    from ..batch import BATCH_FILE, run_batch

    result = run_batch(
        args.manifest, bids_root=args.bids_root, task=args.task, out=args.out,
        n_jobs=args.n_jobs, scheduler=args.scheduler, overwrite=args.overwrite,
        group=not args.no_group, condition=args.condition, tmin=args.tmin,
        tmax=args.tmax, loose=args.loose, depth=args.depth,
        min_evidence=args.min_evidence, progress=not args.no_progress,
        group_radius_mm=args.group_radius,
        group_min_subjects=args.group_min_subjects)
    print(result.summary())
    print(f"wrote {result.out / BATCH_FILE}")
    if result.group is not None:
        print(f"wrote the group: {result.group}")
    return 1 if result.failed else 0

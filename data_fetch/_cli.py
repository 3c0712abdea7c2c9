"""Command line: ``vaesource-fetch {sample,testing,fsaverage} [--path P] [--archive F]``."""

from __future__ import annotations

import argparse
import sys

_DESCRIPTIONS = {
    "sample": "The MNE 'sample' dataset (MEG/EEG/MRI of one subject, ~1.5 GB).",
    "testing": "The MNE testing dataset (~1 GB).",
    "fsaverage": "The FreeSurfer fsaverage subject with MNE's BEM (~200 MB).",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaesource-fetch",
        description="Download MNE's public datasets through mne.datasets, or "
        "install one from a local archive (machines without a network). "
        "Prints the dataset folder.",
    )
    sub = parser.add_subparsers(dest="dataset", metavar="{sample,testing,fsaverage}",
                                required=True)
    for name, text in _DESCRIPTIONS.items():
        p = sub.add_parser(name, help=text, description=text)
        if name == "fsaverage":
            p.add_argument("--path", metavar="P", default=None,
                           help="FreeSurfer subjects folder (default: MNE's "
                           "SUBJECTS_DIR, else <MNE_DATA>/MNE-fsaverage-data)")
        else:
            p.add_argument("--path", metavar="P", default=None,
                           help="data root folder (default: MNE's config, "
                           "MNE_DATA, else ~/mne_data)")
            p.add_argument("--archive", metavar="F", default=None,
                           help="install from this local .tar.gz/.zip instead "
                           "of downloading")
        p.add_argument("--no-download", action="store_true",
                       help="only report where the dataset is; fail if absent")
    return parser


def main(argv=None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str | None
        Arguments (without the program name); None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 on an error (reported on stderr as ``error: ...``).
    """
    from . import fetch_fsaverage, fetch_sample, fetch_testing

    args = _parser().parse_args(argv)
    download = not args.no_download
    try:
        if args.dataset == "fsaverage":
            folder = fetch_fsaverage(args.path, download=download)
        else:
            fetch = fetch_sample if args.dataset == "sample" else fetch_testing
            folder = fetch(args.path, download=download, archive=args.archive)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(folder)
    return 0

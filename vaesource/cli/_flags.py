"""Options shared by several commands, and the output-folder rule they cite.

``demo`` and ``localize`` share the full VAE's evidence, noise and restart
options, the flags of a results folder (--no-render, --overwrite) and the
listing of what a run wrote; the ``bench`` sweeps share the seed, parallel
jobs, scheduler and output options.
"""

from __future__ import annotations

from pathlib import Path

from ._types import _min_evidence, _positive_int

FOLDER_RULE = (
    "Output folder: one run per folder. A run writes to a new or empty folder; "
    "with --overwrite it replaces a previous vaesource run there as a whole "
    "(written next to it first, then swapped in), so no file of the earlier "
    "run is left behind. A folder holding anything else (your own files, "
    "subfolders, the run's own inputs), or the current folder, is never "
    "replaced: choose another."
)


def add_evidence_flags(parser, seed_help=None):
    """Add the full VAE's evidence selection, noise learning, restarts and the
    colour of the renders (demo and localize).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    seed_help : str | None
        How the random starts of --restarts are seeded, appended to its help.
    """
    parser.add_argument(
        "--min-evidence", type=_min_evidence, default="auto", metavar="E",
        help="keep the full VAE's sources whose evidence (twice the log "
        "Bayes factor of keeping them: how much cost (18) rises without "
        "them) reaches E: a number >= 0, 'auto' (default: 2 log(19 n) for n "
        "candidate locations, i.e. a source is kept when its posterior "
        "probability of being real reaches 0.95) or 'none' (the whole "
        "optimum of cost (18), weak noise-fitting sources included)")
    parser.add_argument(
        "--learn-noise", choices=("scalar", "type", "channel"), default=None,
        help="learn the noise level instead of trusting the noise "
        "covariance: one factor for all channels, one per channel type "
        "(magnetometers, gradiometers, EEG) or one per channel; the learned "
        "factors are reported (default: the covariance as given)")
    parser.add_argument(
        "--restarts", type=_positive_int, default=1, metavar="N",
        help="run the full VAE N times, from the default and N-1 random "
        "starts; keeps the lowest cost and reports how often each source "
        "was found (default 1)" + (f"; {seed_help}" if seed_help else ""))
    parser.add_argument(
        "--color-by", choices=("amplitude", "evidence", "probability"),
        default="amplitude",
        help="colour of the full VAE's sources in its renders: peak "
        "amplitude (default), evidence (log scale) or posterior probability "
        "of being real; their size is always the amplitude, and renders of "
        "other methods are coloured by amplitude")


def add_output_flags(parser):
    """Add --no-render and --overwrite of the commands that write a results
    folder (see :data:`FOLDER_RULE`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    """
    parser.add_argument("--no-render", action="store_true",
                        help="skip the 3-D renders and the report")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier vaesource run in the output "
                        "folder, as a whole (see below)")


def print_written(result, args):
    """Print the files a results-folder run wrote, and say so when it has no
    renders although --no-render was not given.

    Parameters
    ----------
    result : object
        The run's result, with ``files`` ({name: path}) and ``rendered``.
    args : argparse.Namespace
        The parsed arguments (``no_render``).
    """
    for name, path in result.files.items():
        print(f"wrote {name}: {path}")
    if not result.rendered and not args.no_render:
        print("no 3-D renders (off-screen OpenGL unavailable; see the warning)")


def add_sweep_arguments(parser, name):
    """Add the options of a ``bench`` sweep: seed, parallel jobs, joblib
    backend or Dask scheduler, output folder, overwrite and progress bar.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The benchmark's parser.
    name : str
        Stem of the benchmark's outputs (``<name>.csv``, ``<name>.png``).
    """
    parser.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    parser.add_argument("--n-jobs", type=int, default=-1,
                        help="parallel jobs, -1 for all cores (default)")
    parser.add_argument("--backend", default=None,
                        help="joblib backend (default loky; 'dask' needs a "
                        "running distributed scheduler, see --scheduler)")
    parser.add_argument("--scheduler", default=None,
                        help="address of a Dask distributed scheduler to run on")
    parser.add_argument("--out", type=Path, default=Path("."),
                        help="output folder (default: current folder)")
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace existing {name}.csv / {name}.png")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide the progress bar")

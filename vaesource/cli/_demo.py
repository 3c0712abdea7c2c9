"""``vaesource demo``: its options and its run."""

from __future__ import annotations

from pathlib import Path

from ._flags import FOLDER_RULE, add_evidence_flags, add_output_flags, print_written
from ._types import _positive_int, _str_list


def add_parser(subparsers):
    """Add the ``demo`` command.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The commands of ``vaesource``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The command's parser; it runs :func:`run`.
    """
    from ..viz.brain import VIEWS as CORTEX_VIEWS

    demo = subparsers.add_parser(
        "demo",
        help="the main job, offline: simulate, localize (full VAE vs MxNE), report",
        description="Simulate sparse sources on the built-in template head "
        "(fsaverage5 cortex, 306-channel MEG helmet; nothing is downloaded), "
        "localize them with the full-covariance VAE and MNE's MxNE, and write "
        "the source estimates (.stc), the simulated evoked response (.fif) "
        "and report.html with 3-D renders against the truth, time courses "
        "with credible bands and the evidence of the VAE's sources. The full "
        "VAE keeps the sources whose evidence reaches --min-evidence.",
        epilog=FOLDER_RULE,
    )
    demo.add_argument("--out", type=Path, default=Path("vaesource-demo"),
                      help="output folder (default: ./vaesource-demo)")
    demo.add_argument("--n-sources", type=_positive_int, default=2,
                      help="simulated sources (default 2)")
    demo.add_argument("--snr", type=float, default=3.0,
                      help="whitened signal-to-noise power ratio (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--views", default=None, type=_str_list(CORTEX_VIEWS),
                      help="comma-separated views of the renders among "
                      f"{', '.join(CORTEX_VIEWS)} (default: those facing the "
                      "sources)")
    add_evidence_flags(demo, seed_help="the random starts use --seed")
    add_output_flags(demo)
    demo.set_defaults(run=run)
    return demo


def run(args):
    """Run the demo and print what it wrote.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource demo``.

    Returns
    -------
    code : int
        The exit code, 0.
    """
    from ..demo import run_demo

    # an existing output (OutputExistsError) is reported by main, exit 2
    result = run_demo(
        args.out, n_sources=args.n_sources, snr=args.snr, seed=args.seed,
        overwrite=args.overwrite, render=not args.no_render,
        views=args.views or "auto", min_evidence=args.min_evidence,
        learn_noise=args.learn_noise, n_restarts=args.restarts,
        color_by=args.color_by,
    )
    print_written(result, args)
    print(f"{result.summary()} | total {result.wall_time:.1f} s")
    return 0

"""Command line interface: ``vaesource <command> ...``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import __version__


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected integers >= 0, got {text!r}")
    return values


def _rank(text):
    if text == "full":
        return text
    try:
        return _positive_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'full', got {text!r}"
        ) from None


def _rank_list(text):
    values = [_rank(v.strip()) for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected ranks, got {text!r}")
    return values


def _positive_int_list(text):
    values = _int_list(text)
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def _min_evidence(text):
    """--min-evidence: a number >= 0, 'auto' or 'none'."""
    from .inverse import _parse_min_evidence

    try:
        return _parse_min_evidence(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 0, 'auto' or 'none', got {text!r}"
        ) from None


def _add_evidence_flags(parser, seed_help=None):
    """The full VAE's evidence selection, noise learning, restarts and the
    colour of the renders (demo and localize)."""
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


def _str_list(choices):
    def parse(text):
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in choices]
        if not values or bad:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(choices)}; got {text!r}"
            )
        return values

    return parse


def _build_parser():
    from ._methods import VAE_MODELS
    from .benchmark.fig2 import (
        DEFAULT_N_TIMES,
        DEFAULT_RANK,
        MODELS,
        PAPER_R,
        QUICK_R,
        SENSITIVITY_N_TIMES,
        SENSITIVITY_RANKS,
    )
    from .localize import PEERS
    from .simulation import SETTINGS
    from .viz.brain import VIEWS as CORTEX_VIEWS
    from .viz.volume import VOLUME_VIEWS

    parser = argparse.ArgumentParser(
        prog="vaesource",
        description="Sparse MEG/EEG source localization with full-covariance "
        "VAEs (no bad local minima), for MNE-Python users.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress details"
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True

    demo = sub.add_parser(
        "demo",
        help="the main job, offline: simulate, localize (full VAE vs MxNE), report",
        description="Simulate sparse sources on the built-in template head "
        "(fsaverage5 cortex, 306-channel MEG helmet; nothing is downloaded), "
        "localize them with the full-covariance VAE and MNE's MxNE, and write "
        "the source estimates (.stc), the simulated evoked response (.fif) "
        "and report.html with 3-D renders against the truth, time courses "
        "with credible bands and the evidence of the VAE's sources. The full "
        "VAE keeps the sources whose evidence reaches --min-evidence.",
        epilog=_FOLDER_RULE,
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
    _add_evidence_flags(demo, seed_help="the random starts use --seed")
    _add_output_flags(demo)

    localize = sub.add_parser(
        "localize",
        help="localize an evoked response from MNE files (VAE, optionally vs "
        "MxNE and gamma-MAP)",
        description="Localize an evoked response with the full-covariance VAE "
        "(or the diagonal VAE / autoencoder) from MNE files, as "
        "mne.inverse_sparse.gamma_map would from the same objects. Writes to "
        "--out: the source estimates in MNE's .stc format, the VAE's sources "
        "as dipoles at their peaks (<method>-dipoles.dip, for "
        "mne.read_dipole), summary.json (per method: time, sources, "
        "explained variance; for the full VAE one row per source with its "
        "position, evidence, posterior probability of being real, "
        "posterior sd and, with --restarts, how often it was found; the "
        "learned noise with --learn-noise), PNG renders and report.html "
        "(with a 'which sources are real' section). At a finite noise level "
        "the optimum of cost (18) also keeps weak sources that fit noise: "
        "the full VAE keeps only the sources whose evidence reaches "
        "--min-evidence (every output shows these). With --compare, MNE's "
        "MxNE and gamma-MAP run on the same whitened data. Volume estimates "
        "are drawn inside the inner skull of --bem or of the subject in "
        "--subjects-dir, else inside a smooth outline of the source grid.",
        epilog="examples (on the demo's outputs): vaesource localize --evoked "
        "vaesource-demo/simulated-ave.fif --forward "
        "vaesource-demo/template-fwd.fif --cov vaesource-demo/noise-cov.fif "
        "--compare --out vaesource-localize; the same with --learn-noise type "
        "--restarts 5 --color-by evidence; --min-evidence none keeps the "
        "whole optimum. " + _FOLDER_RULE,
    )
    localize.add_argument("--evoked", type=Path, required=True,
                          help="evoked response file (-ave.fif)")
    localize.add_argument("--condition", default=None,
                          help="condition name or index, for files with several")
    localize.add_argument("--forward", type=Path, required=True,
                          help="forward solution (-fwd.fif), surface or volume")
    localize.add_argument("--cov", type=Path, required=True,
                          help="single-trial noise covariance (-cov.fif); "
                          "divided by the evoked's nave")
    localize.add_argument("--tmin", type=float, default=None,
                          help="start of the time window (s; default: first sample)")
    localize.add_argument("--tmax", type=float, default=None,
                          help="end of the time window (s; default: last sample)")
    localize.add_argument("--model", choices=tuple(VAE_MODELS), default="full",
                          help="full-covariance VAE (default), diagonal VAE or "
                          "autoencoder")
    localize.add_argument("--compare", nargs="?", const="mxne,gamma_map",
                          default=None, type=_str_list(PEERS), metavar="METHODS",
                          help="also run MNE's solvers on the same whitened data: "
                          "mxne, gamma_map or both (default when given without "
                          "a value: mxne,gamma_map; gamma-MAP can take minutes "
                          "on large source spaces)")
    localize.add_argument("--gamma", type=float, default=1.0,
                          help="noise variance of the whitened data (default 1: "
                          "the noise of this average; larger is sparser)")
    localize.add_argument("--loose", default="auto",
                          help="orientation prior in [0, 1] (0 fixed, 1 free) or "
                          "'auto' (default: 0.2 surface, 1 volume)")
    localize.add_argument("--depth", type=float, default=0.8,
                          help="depth-weighting exponent (default 0.8)")
    localize.add_argument("--subjects-dir", type=Path, default=None,
                          help="FreeSurfer subjects folder for the renders: "
                          "the subject's cortex, or for volume estimates its "
                          "bem/inner_skull.surf (default $SUBJECTS_DIR; "
                          "fsaverage renders on the built-in template without "
                          "one)")
    localize.add_argument("--bem", type=Path, default=None,
                          help="volume estimates: BEM file (-bem.fif, "
                          "-bem-sol.fif) or FreeSurfer surface whose inner "
                          "skull is drawn around the sources")
    localize.add_argument("--views", default=None, metavar="VIEWS",
                          help="comma-separated views of the renders (cortex: "
                          f"{', '.join(CORTEX_VIEWS)}; volume: "
                          f"{', '.join(VOLUME_VIEWS)}); default: the views "
                          "facing the sources, all three for a volume")
    localize.add_argument("--out", type=Path, required=True,
                          help="output folder (see below)")
    _add_evidence_flags(localize, seed_help="seed them with --seed")
    localize.add_argument("--seed", type=int, default=None,
                          help="seed of the random starts of --restarts "
                          "(default: unseeded)")
    _add_output_flags(localize)

    render = sub.add_parser(
        "render",
        help="render saved source estimates (.stc) on the cortex or in a glass brain",
        description="Render one or more saved source estimates to a PNG: "
        "several estimates are drawn side by side with the same cameras and "
        "colour scale. Cortical estimates render on the subject's FreeSurfer "
        "surfaces (--subject, --subjects-dir), or on the built-in template "
        "for fsaverage; volume estimates need their forward solution "
        "(--forward: source space and MRI -> head transform) and render in a "
        "glass brain: the inner skull of --bem or of the subject in "
        "--subjects-dir, else a smooth outline of the source grid.",
        epilog="examples: vaesource render vaesource-demo/full_vae-lh.stc "
        "vaesource-demo/mxne-lh.stc --truth vaesource-demo/truth-lh.stc "
        "--out comparison.png; vaesource render "
        "vaesource-localize/full_vae-lh.stc --summary "
        "vaesource-localize/summary.json --color-by evidence --out "
        "evidence.png",
    )
    render.add_argument("stc", type=Path, nargs="+",
                        help="source estimate file(s) (-lh.stc, -rh.stc or -vl.stc)")
    render.add_argument("--labels", default=None,
                        help="comma-separated titles, one per estimate "
                        "(default: file names)")
    render.add_argument("--truth", type=Path, default=None,
                        help="ground-truth estimate, drawn as rings (cortex)")
    render.add_argument("--subject", default=None,
                        help="FreeSurfer subject (default: the estimate's, "
                        "else fsaverage)")
    render.add_argument("--subjects-dir", type=Path, default=None,
                        help="FreeSurfer subjects folder (default $SUBJECTS_DIR)")
    render.add_argument("--forward", type=Path, default=None,
                        help="forward solution whose source space the estimates "
                        "use (checks the vertices; needed for volume estimates)")
    render.add_argument("--bem", type=Path, default=None,
                        help="volume estimates: BEM file or FreeSurfer surface "
                        "whose inner skull is drawn around the sources")
    render.add_argument("--surface", choices=("inflated", "white", "pial"),
                        default="inflated", help="cortical surface (default inflated)")
    render.add_argument("--views", default=None,
                        help="comma-separated views (cortex: lateral, medial, "
                        "dorsal, ventral, anterior, posterior; volume: sagittal, "
                        "coronal, axial); default: lateral, medial, dorsal for "
                        "one cortical estimate, the views facing the sources "
                        "for several, all three for a volume")
    render.add_argument("--time", type=float, default=None,
                        help="time (s) to show; default: each source at its peak")
    render.add_argument("--min-fraction", type=float, default=0.0,
                        help="leave out sources below this fraction of the "
                        "strongest (default 0: draw all). The full VAE's "
                        ".stc files written by localize and demo hold only "
                        "the sources selected by their evidence and need no "
                        "cut; this is for other estimates")
    render.add_argument("--color-by", choices=("amplitude", "evidence",
                                               "probability"),
                        default="amplitude",
                        help="colour of the sources (their size is the "
                        "amplitude): peak amplitude (default), evidence (log "
                        "scale) or posterior probability of being real; the "
                        "last two read the per-source table of --summary and "
                        "render one estimate")
    render.add_argument("--summary", type=Path, default=None,
                        help="summary.json of the vaesource localize run "
                        "that wrote the estimate (for --color-by evidence or "
                        "probability)")
    render.add_argument("--title", default=None, help="figure title")
    render.add_argument("--out", type=Path, required=True, help="output PNG file")
    render.add_argument("--overwrite", action="store_true",
                        help="replace an existing PNG")

    bench = sub.add_parser(
        "bench", help="run a benchmark", description="Run a benchmark."
    )
    bench_sub = bench.add_subparsers(dest="benchmark", metavar="benchmark")
    bench_sub.required = True
    fig2 = bench_sub.add_parser(
        "fig2",
        help="the paper's figure 2: success rate against r for each model",
        description="Reproduce figure 2 of the paper: for each setting, r "
        "and trial, draw a problem (d=100 sensors, kappa=200 sources, n "
        "samples, r non-zero rows from a block of rank tau), run every model "
        "on it and score exact recovery. Writes fig2.csv (one row per trial "
        "and model, with the rank and n) and fig2.png (one panel per "
        f"setting). Default: the paper's range, r in {list(PAPER_R)}, 100 "
        f"trials, rank {DEFAULT_RANK}, n = {DEFAULT_N_TIMES}.",
    )
    fig2.add_argument(
        "--quick", action="store_true",
        help=f"a small sweep (r in {list(QUICK_R)}, 5 trials) in under a minute",
    )
    fig2.add_argument(
        "--settings", type=_str_list(SETTINGS), default=None,
        help=f"comma-separated panels among {', '.join(SETTINGS)} (default: all)",
    )
    fig2.add_argument(
        "--models", type=_str_list(MODELS), default=None,
        help=f"comma-separated models among {', '.join(MODELS)} (default: all)",
    )
    fig2.add_argument("--r", type=_int_list, default=None, dest="r_values",
                      help="comma-separated numbers of non-zero rows")
    fig2.add_argument("--trials", type=_positive_int, default=None,
                      help="trials per point (default 100, 5 with --quick)")
    fig2.add_argument("--rank", type=_rank, default=DEFAULT_RANK,
                      help="rank tau of the non-zero block: a positive integer, "
                      "or 'full' for tau = r (the paper says only tau < r < n; "
                      f"default {DEFAULT_RANK})")
    fig2.add_argument("--n-times", type=_positive_int, default=DEFAULT_N_TIMES,
                      help=f"number of samples n (default {DEFAULT_N_TIMES})")
    _add_sweep_arguments(fig2, "fig2")

    sens = bench_sub.add_parser(
        "fig2-sensitivity",
        help="figure 2 for several block ranks and n, and which of the "
        "paper's claims each reproduces",
        description="The paper states neither the rank tau of the non-zero "
        "block nor the number of samples n. Run the figure-2 sweep for each "
        "rank and n (all pairs) and check each claim the paper makes about "
        "its figure in each. Writes fig2_sensitivity.csv (one row per trial "
        "and model), fig2_sensitivity.md (the claims table) and "
        "fig2_sensitivity.png (a row of panels per rank and n). Default: "
        f"ranks {list(SENSITIVITY_RANKS)}, n {list(SENSITIVITY_N_TIMES)}, r "
        f"in {list(PAPER_R)}, 100 trials.",
    )
    sens.add_argument("--ranks", type=_rank_list, default=None,
                      help="comma-separated block ranks: positive integers or "
                      "'full' (default: "
                      f"{','.join(map(str, SENSITIVITY_RANKS))})")
    sens.add_argument("--n-times", type=_positive_int_list, default=None,
                      help="comma-separated numbers of samples (default: "
                      f"{','.join(map(str, SENSITIVITY_N_TIMES))})")
    sens.add_argument(
        "--settings", type=_str_list(SETTINGS), default=None,
        help=f"comma-separated panels among {', '.join(SETTINGS)} (default: all)",
    )
    sens.add_argument("--r", type=_int_list, default=None, dest="r_values",
                      help="comma-separated numbers of non-zero rows (default: "
                      "those of bench fig2)")
    sens.add_argument("--trials", type=_positive_int, default=100,
                      help="trials per point (default 100)")
    _add_sweep_arguments(sens, "fig2_sensitivity")

    from .benchmark.cortical import METHODS, N_SOURCES, SNRS

    cortical = bench_sub.add_parser(
        "cortical",
        help="localization on the template cortex: VAEs vs MNE's solvers",
        description="Simulate sparse cortical sources (ico4 template, off "
        "the ico3 inversion grid, MNE's simulation functions) at several "
        "SNRs and localize them with the full and diagonal VAEs, gamma-MAP, "
        "MxNE and irMxNE; the full VAE as users get it (sources selected by "
        "evidence) and, as full_vae_optimum, its optimum before the "
        "selection. Writes cortical.csv (localization error, EMD, "
        "precision, recall, time per trial and method) and cortical.png. "
        f"Default: sources {list(N_SOURCES)}, SNR {list(SNRS)}, 10 trials.",
    )
    cortical.add_argument("--quick", action="store_true",
                          help="2 trials, sources {1, 3}, SNR {3, 10} (ignores "
                          "--n-sources, --snr, --trials)")
    cortical.add_argument("--n-sources", type=_int_list, default=None,
                          help="comma-separated numbers of sources")
    cortical.add_argument("--snr", type=_float_list, default=None,
                          help="comma-separated SNRs")
    cortical.add_argument("--methods", type=_str_list(METHODS), default=None,
                          help=f"comma-separated among {', '.join(METHODS)}")
    cortical.add_argument("--trials", type=_positive_int, default=None,
                          help="trials per point (default 10)")
    _add_sweep_arguments(cortical, "cortical")

    speed = bench_sub.add_parser(
        "speed",
        help="full-VAE engines vs MNE's gamma-MAP and MxNE: paper, template "
        "cortical and real volume problems",
        description="Time the Newton engine of the full VAE against the "
        "previous MM engine, MNE's gamma-MAP (at its defaults, and until it "
        "reaches the same cost (18)) and MxNE, side by side: the paper's "
        "problems (d=100, kappa=200, n=50, unit / noisy, r in {30, 60, 90}), "
        "simulated responses on the template head (ico3 loose 0.2, ico4 "
        "fixed) and the real 7 mm volume of MNE's testing data (when found). "
        "Prints times, iterations, full passes, costs and ratios. The full run "
        "takes about 10 minutes on 2 cores.",
    )
    speed.add_argument("--trials", type=_positive_int, default=10,
                       help="paper problems per cell (default 10; at most 10 "
                       "against MNE) and cortical responses (at most 5)")
    speed.add_argument("--problems", default=["paper", "cortical", "volume"],
                       type=_str_list(("paper", "cortical", "volume")),
                       help="comma-separated among paper, cortical, volume")
    speed.add_argument("--threads", default=["1", "all"],
                       type=_str_list(("1", "all")),
                       help="BLAS threads: 1, all, or both (default 1,all)")
    return parser


_FOLDER_RULE = (
    "Output folder: one run per folder. A run writes to a new or empty folder; "
    "with --overwrite it replaces a previous vaesource run there as a whole "
    "(written next to it first, then swapped in), so no file of the earlier "
    "run is left behind. A folder holding anything else (your own files, "
    "subfolders, the run's own inputs), or the current folder, is never "
    "replaced: choose another."
)


def _add_output_flags(parser):
    """--no-render and --overwrite of the commands that write a results folder."""
    parser.add_argument("--no-render", action="store_true",
                        help="skip the 3-D renders and the report")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier vaesource run in the output "
                        "folder, as a whole (see below)")


def _add_sweep_arguments(parser, name):
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


def _float_list(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected numbers > 0, got {text!r}")
    return values


def _outputs(args, name):
    """Output paths, or None (after a message) if they exist already."""
    paths = args.out / f"{name}.csv", args.out / f"{name}.png"
    existing = [p for p in paths if p.exists()]
    if existing and not args.overwrite:
        print(
            f"error: {', '.join(map(str, existing))} already exist; "
            "use --overwrite to replace",
            file=sys.stderr,
        )
        return None
    args.out.mkdir(parents=True, exist_ok=True)
    return paths


def _run_sweep(args, run):
    """Run ``run(backend)`` on the requested joblib backend / Dask cluster."""
    client = None
    backend = args.backend
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
        backend = backend or "dask"
    try:
        return run(backend)
    finally:
        if client is not None:
            client.close()


def _bench_fig2(args):
    from .benchmark.fig2 import MODELS, PAPER_R, QUICK_R, run_fig2
    from .simulation import SETTINGS

    paths = _outputs(args, "fig2")
    if paths is None:
        return 2
    settings = args.settings or list(SETTINGS)
    r_values = args.r_values or (QUICK_R if args.quick else PAPER_R)
    n_trials = args.trials or (5 if args.quick else 100)
    result = _run_sweep(args, lambda backend: run_fig2(
        settings, r_values, n_trials, args.models or MODELS, rank=args.rank,
        n_times=args.n_times, seed=args.seed, n_jobs=args.n_jobs,
        backend=backend, progress=not args.no_progress,
    ))
    result.to_csv(paths[0])
    result.plot(paths[1])
    print(result.summary())
    n = len({(r["setting"], r["r"], r["trial"]) for r in result.rows})
    print(f"{n} trials in {result.wall_time:.1f} s; wrote {paths[0]} and {paths[1]}")
    return 0


def _bench_fig2_sensitivity(args):
    from .benchmark.fig2 import (
        PAPER_R,
        SENSITIVITY_N_TIMES,
        SENSITIVITY_RANKS,
        run_sensitivity,
    )
    from .simulation import SETTINGS

    paths = _outputs(args, "fig2_sensitivity")
    if paths is None:
        return 2
    table = args.out / "fig2_sensitivity.md"
    if table.exists() and not args.overwrite:
        print(f"error: {table} already exists; use --overwrite to replace",
              file=sys.stderr)
        return 2
    study = _run_sweep(args, lambda backend: run_sensitivity(
        args.ranks or SENSITIVITY_RANKS, args.n_times or SENSITIVITY_N_TIMES,
        args.settings or list(SETTINGS), args.r_values or PAPER_R, args.trials,
        seed=args.seed, n_jobs=args.n_jobs, backend=backend,
        progress=not args.no_progress,
    ))
    study.to_csv(paths[0])
    study.plot(paths[1])
    text = study.table()
    table.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"{study.wall_time:.1f} s; wrote {paths[0]}, {table} and {paths[1]}")
    return 0


def _bench_cortical(args):
    from .benchmark.cortical import METHODS, N_SOURCES, SNRS, run_cortical

    paths = _outputs(args, "cortical")
    if paths is None:
        return 2
    kw = {}
    if not args.quick:  # --quick fixes its own small grid
        kw = dict(n_sources=args.n_sources or N_SOURCES, snrs=args.snr or SNRS,
                  n_trials=args.trials or 10)
    result = _run_sweep(args, lambda backend: run_cortical(
        methods=args.methods or METHODS, seed=args.seed, quick=args.quick,
        n_jobs=args.n_jobs, backend=backend, progress=not args.no_progress,
        **kw,
    ))
    result.to_csv(paths[0])
    result.plot(paths[1])
    print(result.summary())
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


def _demo(args):
    from .demo import run_demo

    # an existing output (OutputExistsError) is reported by main, exit 2
    result = run_demo(
        args.out, n_sources=args.n_sources, snr=args.snr, seed=args.seed,
        overwrite=args.overwrite, render=not args.no_render,
        views=args.views or "auto", min_evidence=args.min_evidence,
        learn_noise=args.learn_noise, n_restarts=args.restarts,
        color_by=args.color_by,
    )
    _print_written(result, args)
    print(f"{result.summary()} | total {result.wall_time:.1f} s")
    return 0


def _print_written(result, args):
    for name, path in result.files.items():
        print(f"wrote {name}: {path}")
    if not result.rendered and not args.no_render:
        print("no 3-D renders (off-screen OpenGL unavailable; see the warning)")


def _localize(args):
    from .localize import LABELS, _execute, _prepare

    loose = args.loose
    if loose != "auto":
        try:
            loose = float(loose)
        except ValueError:
            raise ValueError(f"--loose must be a number in [0, 1] or 'auto', got "
                             f"{loose!r}") from None
    # run_localize in two steps, to announce the work once the inputs passed
    job = _prepare(
        args.evoked, args.forward, args.cov, args.out,
        condition=args.condition, tmin=args.tmin, tmax=args.tmax,
        model=args.model, compare=args.compare or False, gamma=args.gamma,
        loose=loose, depth=args.depth, subjects_dir=args.subjects_dir,
        bem=args.bem, views=args.views, render=not args.no_render,
        overwrite=args.overwrite, verbose=None, min_evidence=args.min_evidence,
        learn_noise=args.learn_noise, n_restarts=args.restarts,
        random_state=args.seed, color_by=args.color_by,
    )
    print(f"localizing {str(job.evoked.comment)!r} with "
          f"{', '.join(LABELS[m] for m in job.methods)} ...", flush=True)
    result = _execute(job)
    _print_written(result, args)
    print(result.summary())
    print(f"total {result.wall_time:.1f} s")
    return 0


def _render(args):
    from .render import render_files

    if args.out.exists() and not args.overwrite:
        print(f"error: {args.out} already exists; use --overwrite to replace",
              file=sys.stderr)
        return 2
    labels = None
    if args.labels is not None:
        labels = [v.strip() for v in args.labels.split(",")]
    views = None
    if args.views is not None:
        views = tuple(v.strip() for v in args.views.split(",") if v.strip())
    render_files(
        args.stc, args.out, labels=labels, truth=args.truth, subject=args.subject,
        subjects_dir=args.subjects_dir, forward=args.forward, bem=args.bem,
        surface=args.surface, views=views, time=args.time,
        min_fraction=args.min_fraction, color_by=args.color_by,
        summary=args.summary, title=args.title,
    )
    print(f"wrote {args.out}")
    return 0


def _bench_speed(args):
    from .benchmark.speed import run_speed

    run_speed(args.trials, problems=args.problems, threads=args.threads)
    return 0


def _parse(parser, argv):
    """Parse ``argv``; an unknown argument is reported by the subcommand that
    got it, with that subcommand's usage (argparse leaves it to the top)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        leaf = parser
        for dest in ("command", "benchmark"):
            name = getattr(args, dest, None)
            if name is None:
                break
            actions = [a for a in leaf._actions
                       if isinstance(a, argparse._SubParsersAction)]
            leaf = actions[0].choices[name]
        leaf.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv=None):
    """Entry point of the ``vaesource`` command."""
    from ._output import OutputExistsError

    parser = _build_parser()
    args = _parse(parser, argv)
    logging.basicConfig(format="%(message)s")
    logging.getLogger("vaesource").setLevel(
        logging.INFO if args.verbose else logging.WARNING
    )
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "localize":
            return _localize(args)
        if args.command == "render":
            return _render(args)
        if args.command == "bench" and args.benchmark == "speed":
            return _bench_speed(args)
        if args.command == "bench" and args.benchmark == "fig2":
            return _bench_fig2(args)
        if args.command == "bench" and args.benchmark == "fig2-sensitivity":
            return _bench_fig2_sensitivity(args)
        if args.command == "bench" and args.benchmark == "cortical":
            return _bench_cortical(args)
    except OutputExistsError as err:
        print(f"error: {err.path} holds the outputs of an earlier run; add "
              "--overwrite to replace that run (the folder as a whole)",
              file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``vaesource bench``: the benchmarks' options and runs (figure 2, its
sensitivity study, the cortical benchmark, the calibration of the
uncertainty and the speed comparison)."""

from __future__ import annotations

import sys

from ._flags import add_sweep_arguments
from ._types import (
    _float_list,
    _int_list,
    _positive_int,
    _positive_int_list,
    _rank,
    _rank_list,
    _str_list,
)


def add_parser(subparsers):
    """Add the ``bench`` command and its benchmarks.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The commands of ``vaesource``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The command's parser; each of its benchmarks runs its own function.
    """
    bench = subparsers.add_parser(
        "bench", help="run a benchmark", description="Run a benchmark."
    )
    benchmarks = bench.add_subparsers(dest="benchmark", metavar="benchmark")
    benchmarks.required = True
    _add_fig2(benchmarks)
    _add_sensitivity(benchmarks)
    _add_cortical(benchmarks)
    _add_calibration(benchmarks)
    _add_speed(benchmarks)
    return bench


def _add_fig2(benchmarks):
    from ..benchmark.fig2 import (
        DEFAULT_N_TIMES,
        DEFAULT_RANK,
        MODELS,
        PAPER_R,
        QUICK_R,
    )
    from ..simulation import SETTINGS

    fig2 = benchmarks.add_parser(
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
    add_sweep_arguments(fig2, "fig2")
    fig2.set_defaults(run=bench_fig2)


def _add_sensitivity(benchmarks):
    from ..benchmark.fig2 import PAPER_R, SENSITIVITY_N_TIMES, SENSITIVITY_RANKS
    from ..simulation import SETTINGS

    sens = benchmarks.add_parser(
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
    add_sweep_arguments(sens, "fig2_sensitivity")
    sens.set_defaults(run=bench_sensitivity)


def _add_cortical(benchmarks):
    from ..benchmark.cortical import METHODS, N_SOURCES, SNRS

    cortical = benchmarks.add_parser(
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
    add_sweep_arguments(cortical, "cortical")
    cortical.set_defaults(run=bench_cortical)


def _add_calibration(benchmarks):
    from ..benchmark.calibration import N_SOURCES, SETTINGS, SNRS

    cal = benchmarks.add_parser(
        "calibration",
        help="do the location regions and amplitude bands hold the truth?",
        description="Simulate sources off the inversion grid (cortex: ico4 "
        "dipoles, ico3 inversion, loose 0.2; cortex_free: the same with a "
        "free orientation; volume: random positions and orientations, 10 mm "
        "volume grid) and on it (grid), localize them with the default full "
        "VAE and report, against SNR, how often the 95 % location region "
        "holds the true position (its grid cell), how often the 95 % "
        "amplitude band holds the true amplitude (with the location's "
        "uncertainty, and on the grid alone), and the regions' median size "
        "and radius. Writes calibration.csv (one row per true source) and "
        "calibration.png. Default: settings cortex, volume, grid; SNR "
        f"{list(SNRS)}; sources {list(N_SOURCES)}; 10 trials.",
    )
    cal.add_argument("--settings", type=_str_list(SETTINGS),
                     default=["cortex", "volume", "grid"],
                     help=f"comma-separated among {', '.join(SETTINGS)}")
    cal.add_argument("--snr", type=_float_list, default=None,
                     help="comma-separated SNRs")
    cal.add_argument("--n-sources", type=_int_list, default=None,
                     help="comma-separated numbers of sources")
    cal.add_argument("--trials", type=_positive_int, default=10,
                     help="trials per setting, SNR and number of sources "
                     "(default 10)")
    add_sweep_arguments(cal, "calibration")
    cal.set_defaults(run=bench_calibration)


def _add_speed(benchmarks):
    speed = benchmarks.add_parser(
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
    speed.set_defaults(run=bench_speed)


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


def bench_fig2(args):
    """Run the figure-2 sweep; write fig2.csv and fig2.png.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource bench fig2``.

    Returns
    -------
    code : int
        The exit code: 0, or 2 if the outputs exist already.
    """
    from ..benchmark.fig2 import MODELS, PAPER_R, QUICK_R, run_fig2
    from ..simulation import SETTINGS

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


def bench_sensitivity(args):
    """Run the figure-2 sweep for each rank and n; write the claims table.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource bench fig2-sensitivity``.

    Returns
    -------
    code : int
        The exit code: 0, or 2 if the outputs exist already.
    """
    from ..benchmark.fig2 import (
        PAPER_R,
        SENSITIVITY_N_TIMES,
        SENSITIVITY_RANKS,
        run_sensitivity,
    )
    from ..simulation import SETTINGS

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


def bench_cortical(args):
    """Run the cortical benchmark; write cortical.csv and cortical.png.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource bench cortical``.

    Returns
    -------
    code : int
        The exit code: 0, or 2 if the outputs exist already.
    """
    from ..benchmark.cortical import METHODS, N_SOURCES, SNRS, run_cortical

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


def bench_calibration(args):
    """Run the calibration benchmark; write calibration.csv and .png.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource bench calibration``.

    Returns
    -------
    code : int
        The exit code: 0, or 2 if the outputs exist already.
    """
    from ..benchmark.calibration import N_SOURCES, SNRS, run_calibration

    paths = _outputs(args, "calibration")
    if paths is None:
        return 2
    result = _run_sweep(args, lambda backend: run_calibration(
        settings=tuple(args.settings), snrs=tuple(args.snr or SNRS),
        n_sources=tuple(args.n_sources or N_SOURCES), n_trials=args.trials,
        seed=args.seed, n_jobs=args.n_jobs, backend=backend,
        progress=not args.no_progress,
    ))
    result.to_csv(paths[0])
    result.plot(paths[1])
    print(result.summary())
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


def bench_speed(args):
    """Run the speed comparison, which prints its tables.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource bench speed``.

    Returns
    -------
    code : int
        The exit code, 0.
    """
    from ..benchmark.speed import run_speed

    run_speed(args.trials, problems=args.problems, threads=args.threads)
    return 0

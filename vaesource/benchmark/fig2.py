"""The paper's figure 2: success rates of the four models against r.

Each trial draws one problem with :func:`vaesource.simulation.paper_problem`
and runs every model on it; the trials are independent tasks run through
joblib, so any joblib backend (loky processes by default, Dask's distributed
scheduler for a cluster) spreads them out.
"""

from __future__ import annotations

import csv
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..simulation import SETTINGS, paper_problem
from ..utils import (
    ConvergenceWarning,
    _atomic_write,
    _check_int,
    _check_option,
    logger,
)

#: The four models of the paper, in the order of its figure 2.
MODELS = ("full_vae", "diag_vae", "autoencoder", "group_lasso")
MODEL_LABELS = {
    "full_vae": "full-covariance VAE",
    "diag_vae": "diagonal VAE",
    "autoencoder": "autoencoder (h = log)",
    "group_lasso": "group lasso",
}
#: The numbers of non-zero rows ``r`` of the default sweep.
PAPER_R = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
#: The numbers of non-zero rows of ``vaesource bench fig2 --quick``.
QUICK_R = (20, 50, 80)
COLUMNS = ("setting", "r", "trial", "model", "success", "seconds", "n_iter", "seed")


def _solve(model, problem):
    """Run one model on one problem as the paper does; return the result."""
    from .. import solvers

    if model == "group_lasso":
        return solvers.group_lasso(
            problem.M, problem.G, alpha=problem.group_lasso_alpha
        )
    return getattr(solvers, model)(problem.M, problem.G, gamma=problem.gamma)


def trial_seed(seed, setting, r, trial):
    """Deterministic, independent seed of one trial."""
    ss = np.random.SeedSequence([seed, SETTINGS.index(setting), r, trial])
    return int(ss.generate_state(1)[0])


def run_trial(setting, r, trial, models=MODELS, seed=0, problem_kw=None):
    """Draw one problem and run each model on it.

    Parameters
    ----------
    setting : str
        ``"unit"``, ``"jeffreys"``, ``"meg"`` or ``"noisy"``.
    r : int
        Number of non-zero rows.
    trial : int
        Trial number; with ``seed``, ``setting`` and ``r`` it fixes the
        problem's seed.
    models : sequence of str
        Models to run, as in :func:`run_fig2`.
    seed : int
        Master seed.
    problem_kw : dict | None
        Extra arguments of :func:`vaesource.simulation.paper_problem`.

    Returns
    -------
    rows : list of dict
        One row per model with the columns of :data:`COLUMNS`.
    """
    s = trial_seed(seed, setting, r, trial)
    problem = paper_problem(setting, r, seed=s, **(problem_kw or {}))
    rows = []
    for model in models:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # a trial that stops at max_iter is scored like any other
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = _solve(model, problem)
        seconds = time.perf_counter() - t0
        rows.append(
            dict(setting=setting, r=r, trial=trial, model=model,
                 success=bool(problem.success(res.X)), seconds=seconds,
                 n_iter=int(res.n_iter), seed=s)
        )
    return rows


@dataclass
class Fig2Result:
    """Per-trial outcomes of a figure-2 sweep.

    Attributes
    ----------
    rows : list of dict
        One dict per (setting, r, trial, model) with the columns
        ``setting, r, trial, model, success, seconds, n_iter, seed``.
    wall_time : float
        Seconds the whole sweep took.
    """

    rows: list = field(default_factory=list)
    wall_time: float = 0.0

    def success_rates(self):
        """Success rate per setting and model.

        Returns
        -------
        rates : dict
            ``rates[setting][model] = (r_values, rates, n_trials)`` with
            arrays sorted by r.
        """
        out = {}
        for setting in dict.fromkeys(row["setting"] for row in self.rows):
            out[setting] = {}
            for model in dict.fromkeys(row["model"] for row in self.rows):
                sel = [
                    row for row in self.rows
                    if row["setting"] == setting and row["model"] == model
                ]
                if not sel:
                    continue
                rs = np.array(sorted({row["r"] for row in sel}))
                rates = np.array([
                    np.mean([row["success"] for row in sel if row["r"] == r])
                    for r in rs
                ])
                counts = np.array([sum(row["r"] == r for row in sel) for r in rs])
                out[setting][model] = (rs, rates, counts)
        return out

    def to_csv(self, fname):
        """Write the per-trial rows to a CSV file (written atomically).

        Parameters
        ----------
        fname : path-like
            The CSV file.

        Returns
        -------
        fname : Path
            The file written.
        """
        def write(tmp):
            with open(tmp, "w", newline="") as fid:
                writer = csv.DictWriter(fid, fieldnames=COLUMNS)
                writer.writeheader()
                for row in self.rows:
                    writer.writerow({k: row[k] for k in COLUMNS})

        return _atomic_write(fname, write, suffix=".csv")

    @classmethod
    def from_csv(cls, fname):
        """Read rows written by :meth:`to_csv`.

        Parameters
        ----------
        fname : path-like
            A CSV file written by :meth:`to_csv`.

        Returns
        -------
        result : Fig2Result
        """
        rows = []
        with open(fname, newline="") as fid:
            for row in csv.DictReader(fid):
                rows.append(dict(
                    setting=row["setting"], r=int(row["r"]), trial=int(row["trial"]),
                    model=row["model"], success=row["success"] == "True",
                    seconds=float(row["seconds"]), n_iter=int(row["n_iter"]),
                    seed=int(row["seed"]),
                ))
        return cls(rows=rows)

    def plot(self, fname=None):
        """One panel per setting: success rate against r, a line per model.

        Parameters
        ----------
        fname : path-like | None
            Write the figure to this PNG file (and close it).

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        from ..viz.curves import plot_success_curves

        return plot_success_curves(self.success_rates(), fname=fname)

    def summary(self):
        """Short text table of success rates (percent) per setting and model."""
        lines = []
        for setting, per_model in self.success_rates().items():
            lines.append(f"{setting}: success rate at each r")
            for model, (rs, rates, counts) in per_model.items():
                cells = "  ".join(f"r={r}: {100 * v:3.0f} %" for r, v in zip(rs, rates))
                lines.append(f"  {model:12s} {cells}  ({counts.min()} trials per r)")
        return "\n".join(lines)


def run_fig2(
    settings=("unit", "jeffreys", "meg", "noisy"),
    r_values=PAPER_R,
    n_trials=100,
    models=MODELS,
    *,
    seed=0,
    n_jobs=1,
    backend=None,
    progress=True,
    problem_kw=None,
) -> Fig2Result:
    """Reproduce the paper's figure 2 (success rate against r).

    Parameters
    ----------
    settings : sequence of str
        Panels to run among ``"unit"``, ``"jeffreys"``, ``"meg"``,
        ``"noisy"``.
    r_values : sequence of int
        Numbers of non-zero rows.
    n_trials : int
        Trials per (setting, r); the paper uses 100.
    models : sequence of str
        Among ``"full_vae"``, ``"diag_vae"``, ``"autoencoder"``,
        ``"group_lasso"``. All models see the same problems.
    seed : int
        Master seed; trial seeds derive from it, so results do not depend on
        ``n_jobs`` or the backend.
    n_jobs : int
        Parallel jobs (joblib; -1 for all cores).
    backend : str | None
        joblib backend, e.g. ``"loky"`` (default), ``"threading"`` or
        ``"dask"`` (with a ``distributed.Client`` already created).
    progress : bool
        Show a tqdm progress bar.
    problem_kw : dict | None
        Extra arguments of :func:`vaesource.simulation.paper_problem`.

    Returns
    -------
    result : Fig2Result
    """
    from joblib import Parallel, delayed, parallel_config
    from tqdm.auto import tqdm

    for s in settings:
        _check_option("settings", s, SETTINGS)
    for m in models:
        _check_option("models", m, MODELS)
    n_trials = _check_int("n_trials", n_trials, min_value=1)
    r_values = [_check_int("r_values", r, min_value=0) for r in r_values]
    if not settings or not models or not r_values:
        raise ValueError("settings, models and r_values must not be empty.")

    tasks = [(s, r, t) for s in settings for r in r_values for t in range(n_trials)]
    logger.info("figure 2: %d trials x %d models", len(tasks), len(models))
    t0 = time.perf_counter()
    rows = []
    config = {} if backend is None else {"backend": backend}
    with parallel_config(**config):
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        results = parallel(
            delayed(run_trial)(s, r, t, tuple(models), seed, problem_kw)
            for s, r, t in tasks
        )
        for trial_rows in tqdm(
            results, total=len(tasks), disable=not progress, desc="figure 2",
            unit="trial",
        ):
            rows.extend(trial_rows)
    order = {s: i for i, s in enumerate(settings)}
    rows.sort(key=lambda row: (order[row["setting"]], row["r"], row["trial"],
                               models.index(row["model"])))
    return Fig2Result(rows=rows, wall_time=time.perf_counter() - t0)

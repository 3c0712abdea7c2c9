"""The paper's figure 2: success rates of the four models against r.

Each trial draws one problem with :func:`vaesource.simulation.paper_problem`
and runs every model on it; the trials are independent tasks run through
joblib, so any joblib backend (loky processes by default, Dask's distributed
scheduler for a cluster) spreads them out.

The paper leaves two parameters of its problems unstated: the rank ``tau`` of
the non-zero block (it says only ``tau < r < n``) and the number of samples
``n``. :func:`run_sensitivity` runs the sweep for several of each and checks
every claim the paper makes about its figure (:func:`paper_claims`) in each.
"""

from __future__ import annotations

import csv
import functools
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._docs import fill_doc
from .._methods import METHODS, PAPER_MODELS, labels
from ..simulation import SETTINGS, paper_problem
from ..utils import (
    ConvergenceWarning,
    _check_int,
    _check_option,
    _pyplot,
    _validate_type,
    logger,
)
from . import _sweep

#: The four models of the paper, in the order of its figure 2.
MODELS = PAPER_MODELS
MODEL_LABELS = {m: labels("figure_label")[m] for m in MODELS}
#: The numbers of non-zero rows ``r`` of the default sweep: the paper's range
#: up to the limit r = d = 100 of any algorithm, denser where the curves fall.
#: r = 0 is left out: there is nothing to recover (X = 0, M = 0) and the group
#: lasso's penalty, a fraction of ``alpha_max = 0``, is undefined.
PAPER_R = (5, 10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 98, 100)
#: The numbers of non-zero rows of ``vaesource bench fig2 --quick``.
QUICK_R = (20, 50, 80)
#: Default rank ``tau`` of the non-zero block and number of samples ``n``.
DEFAULT_RANK = 5
DEFAULT_N_TIMES = 50
COLUMNS = ("setting", "r", "trial", "model", "success", "seconds", "n_iter", "seed",
           "rank", "n_times")


def _solve(model, problem):
    """Run one model on one problem as the paper does; return the result."""
    from .. import solvers

    if model == "group_lasso":
        return solvers.group_lasso(
            problem.M, problem.G, alpha=problem.group_lasso_alpha
        )
    return getattr(solvers, METHODS[model].solver)(problem.M, problem.G,
                                                   gamma=problem.gamma)


def trial_seed(seed, setting, r, trial):
    """Deterministic, independent seed of one trial.

    It does not depend on the rank or ``n_times``: problems of the same
    (setting, r, trial) share their dictionary and support across them, so
    settings compare on paired draws.
    """
    return _sweep.trial_seed(seed, SETTINGS.index(setting), r, trial)


def _check_rank(rank):
    """A positive int or ``"full"`` (the rank of the block is then r)."""
    _validate_type(rank, ("int", str), "rank", "a positive integer or 'full'")
    if rank == "full" or (not isinstance(rank, str) and rank >= 1):
        return rank if isinstance(rank, str) else int(rank)
    raise ValueError(
        "The 'rank' parameter must be a positive integer or 'full', got "
        f"{rank!r}."
    )


def _problem_size(rank, n_times, problem_kw):
    """Validated ``(rank, n_times, other problem_kw)``; the defaults, or
    those in ``problem_kw``, when ``rank`` / ``n_times`` are None."""
    problem_kw = dict(problem_kw or {})
    for name, value in (("rank", rank), ("n_times", n_times)):
        if value is not None and name in problem_kw:
            raise ValueError(
                f"The {name!r} parameter is given twice, as a keyword and in "
                "problem_kw; give it once."
            )
    rank = problem_kw.pop("rank", DEFAULT_RANK if rank is None else rank)
    n_times = problem_kw.pop("n_times",
                             DEFAULT_N_TIMES if n_times is None else n_times)
    return (_check_rank(rank), _check_int("n_times", n_times, min_value=1),
            problem_kw)


@fill_doc
def run_trial(setting, r, trial, models=MODELS, seed=0, problem_kw=None, *,
              rank=None, n_times=None):
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
    %(fig2_models)s
    seed : int
        Master seed.
    problem_kw : dict | None
        Extra arguments of :func:`vaesource.simulation.paper_problem`.
    rank : int | "full" | None
        Rank ``tau`` of the non-zero block; ``"full"``: ``tau = r`` (the
        block then has rank ``min(r, n_times)``). None:
        :data:`DEFAULT_RANK`.
    n_times : int | None
        Number of samples ``n``. None: :data:`DEFAULT_N_TIMES`.

    Returns
    -------
    rows : list of dict
        One row per model with the columns of :data:`COLUMNS`.
    """
    rank, n_times, problem_kw = _problem_size(rank, n_times, problem_kw)
    s = trial_seed(seed, setting, r, trial)
    tau = max(r, 1) if rank == "full" else rank
    problem = paper_problem(setting, r, seed=s, rank=tau, n_times=n_times,
                            **problem_kw)
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
                 n_iter=int(res.n_iter), seed=s, rank=rank, n_times=n_times)
        )
    return rows


def _format_rank(rank):
    return "unrecorded" if rank is None else str(rank)


def _size_label(rank, n_times):
    n = "unrecorded" if n_times is None else n_times
    return f"rank {_format_rank(rank)}, n = {n}"


@dataclass
class Fig2Result:
    """Per-trial outcomes of a figure-2 sweep.

    Attributes
    ----------
    rows : list of dict
        One dict per (setting, r, trial, model) with the columns of
        :data:`COLUMNS`: ``setting, r, trial, model, success, seconds,
        n_iter, seed, rank, n_times`` (``rank`` is an int or ``"full"``;
        ``rank`` and ``n_times`` are None in rows read from a CSV written
        before they were recorded).
    wall_time : float
        Seconds the whole sweep took.
    """

    rows: list = field(default_factory=list)
    wall_time: float = 0.0

    def problem_sizes(self):
        """The distinct ``(rank, n_times)`` of the rows, in order of appearance."""
        return list(dict.fromkeys((row["rank"], row["n_times"]) for row in self.rows))

    def split(self):
        """One result per ``(rank, n_times)``.

        Returns
        -------
        results : dict
            ``results[(rank, n_times)] = Fig2Result`` (``wall_time`` 0).
        """
        return {
            size: Fig2Result(rows=[
                row for row in self.rows if (row["rank"], row["n_times"]) == size
            ])
            for size in self.problem_sizes()
        }

    def success_rates(self):
        """Success rate per setting and model.

        Returns
        -------
        rates : dict
            ``rates[setting][model] = (r_values, rates, n_trials)`` with
            arrays sorted by r.
        """
        sizes = self.problem_sizes()
        if len(sizes) > 1:
            raise ValueError(
                "These rows hold problems of several sizes ("
                + "; ".join(_size_label(*size) for size in sizes)
                + "): their rates would mix. Take one with Fig2Result.split()."
            )
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
        def convert(out):
            for k in ("rank", "n_times"):
                out[k] = "" if out[k] is None else out[k]
            return out

        return _sweep.write_csv(fname, self.rows, COLUMNS, convert=convert)

    @classmethod
    def from_csv(cls, fname):
        """Read rows written by :meth:`to_csv`.

        A CSV of an earlier release, without the ``rank`` and ``n_times``
        columns, is read with both None (unrecorded): its rates and plot work,
        and nothing is guessed.

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
            reader = csv.DictReader(fid)
            missing = [c for c in COLUMNS[:8] if c not in (reader.fieldnames or ())]
            if missing:
                raise ValueError(
                    f"{fname} is not a figure-2 CSV: it has no column "
                    f"{', '.join(missing)}."
                )
            for row in reader:
                rank = row.get("rank") or None
                if rank is not None and rank != "full":
                    rank = int(rank)
                n_times = row.get("n_times") or None
                rows.append(dict(
                    setting=row["setting"], r=int(row["r"]), trial=int(row["trial"]),
                    model=row["model"], success=row["success"] == "True",
                    seconds=float(row["seconds"]), n_iter=int(row["n_iter"]),
                    seed=int(row["seed"]), rank=rank,
                    n_times=None if n_times is None else int(n_times),
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

        fig = plot_success_curves(self.success_rates())
        sizes = self.problem_sizes()
        if sizes:
            fig.suptitle(_size_label(*sizes[0]).replace("rank", "block rank"),
                         fontsize=10)
        return _save(fig, fname)

    def claims(self):
        """The paper's claims about its figure 2, checked on these rates.

        Returns
        -------
        claims : list of Claim
            See :func:`paper_claims`.
        """
        return paper_claims(self)

    def summary(self):
        """Short text table of success rates (percent) per setting and model."""
        lines = []
        sizes = self.problem_sizes()
        if len(sizes) == 1:
            lines.append(f"non-zero block: {_size_label(*sizes[0])}")
        for setting, per_model in self.success_rates().items():
            lines.append(f"{setting}: success rate at each r")
            for model, (rs, rates, counts) in per_model.items():
                cells = "  ".join(f"r={r}: {100 * v:3.0f} %" for r, v in zip(rs, rates))
                lines.append(f"  {model:12s} {cells}  ({counts.min()} trials per r)")
        return "\n".join(lines)


def _save(fig, fname):
    """Write ``fig`` to a PNG file and close it (when ``fname`` is given)."""
    if fname is not None:
        import matplotlib.pyplot as plt

        fig.savefig(fname, dpi=150)
        plt.close(fig)
    return fig


@fill_doc
def run_fig2(
    settings=("unit", "jeffreys", "meg", "noisy"),
    r_values=PAPER_R,
    n_trials=100,
    models=MODELS,
    *,
    rank=None,
    n_times=None,
    seed=0,
    n_jobs=1,
    backend=None,
    progress=True,
    problem_kw=None,
) -> Fig2Result:
    """Reproduce the paper's figure 2 (success rate against r).

    Parameters
    ----------
    %(fig2_settings)s
    %(fig2_r_values)s
    %(fig2_n_trials)s
    %(fig2_models)s
    rank : int | "full" | None
        Rank ``tau`` of the non-zero block (the paper says only ``tau < r <
        n``); ``"full"``: ``tau = r``. None: :data:`DEFAULT_RANK`.
    n_times : int | None
        Number of samples ``n``. None: :data:`DEFAULT_N_TIMES`.
    %(fig2_seed)s
    %(n_jobs)s
    %(backend)s
    %(progress)s
    problem_kw : dict | None
        Extra arguments of :func:`vaesource.simulation.paper_problem`
        (``rank`` and ``n_times`` may be given here or as keywords, not both).

    Returns
    -------
    result : Fig2Result
    """
    for s in settings:
        _check_option("settings", s, SETTINGS)
    for m in models:
        _check_option("models", m, MODELS)
    n_trials = _check_int("n_trials", n_trials, min_value=1)
    r_values = [_check_int("r_values", r, min_value=1) for r in r_values]
    if not settings or not models or not r_values:
        raise ValueError("settings, models and r_values must not be empty.")
    rank, n_times, problem_kw = _problem_size(rank, n_times, problem_kw)

    tasks = [(s, r, t) for s in settings for r in r_values for t in range(n_trials)]
    logger.info("figure 2 (%s): %d trials x %d models",
                _size_label(rank, n_times), len(tasks), len(models))
    t0 = time.perf_counter()
    trial = functools.partial(run_trial, models=tuple(models), seed=seed,
                              problem_kw=problem_kw, rank=rank, n_times=n_times)
    rows = _sweep.run_trials(trial, tasks, n_jobs=n_jobs, backend=backend,
                             progress=progress, desc="figure 2")
    order = {s: i for i, s in enumerate(settings)}
    rows.sort(key=lambda row: (order[row["setting"]], row["r"], row["trial"],
                               models.index(row["model"])))
    return Fig2Result(rows=rows, wall_time=time.perf_counter() - t0)


# --- The paper's claims about its figure 2 ----------------------------------
#
# Section 5.1 states its findings in words; these are the tests that turn each
# into a yes or no on a sweep's rates (in percentage points, 100 trials per
# point give a binomial standard deviation of at most 5 points).
#: Allowed shortfall at any r of a curve said to be above another.
TOL = 5.0
#: Least lead, at some r, of a curve said to be above another.
GAP = 15.0
#: Largest difference at any r between curves said to be equal.
EQUAL = 10.0
#: "Near perfect" / "high" and "dropped" success rates.
HIGH = 90.0
LOW = 10.0

#: The claims, by id: panel and statement.
CLAIMS = {
    "a1": ("unit", "full VAE > diagonal VAE and AE"),
    "a2": ("unit", "diagonal VAE = AE"),
    "a3": ("unit", "diagonal VAE and AE > group lasso"),
    "b1": ("jeffreys", f"full VAE near perfect (>= {HIGH:.0f} %) up to r = d"),
    "b2": ("jeffreys", "AE degrades (below its unit curve)"),
    "b3": ("jeffreys", "diagonal VAE and group lasso do not benefit from the "
           "scaling"),
    "c1": ("meg", "full VAE stays high while the others drop"),
    "d1": ("noisy", "diagonal VAE > AE"),
}
_SHORT = labels("short")


@dataclass
class Claim:
    """One claim of the paper checked on a sweep.

    Attributes
    ----------
    id : str
        ``"a1"`` ... ``"d1"``, keys of :data:`CLAIMS`.
    panel : str
        The setting it is about.
    text : str
        The claim.
    holds : bool | None
        Whether the rates reproduce it; None when the sweep lacks a panel
        or model it needs.
    evidence : str
        The rates that decide it (percent).
    """

    id: str
    panel: str
    text: str
    holds: bool | None
    evidence: str


def _pct(rates, setting, model):
    """``{r: percent}`` of one curve, or None if the sweep lacks it."""
    curve = rates.get(setting, {}).get(model)
    if curve is None:
        return None
    rs, vals, _ = curve
    return {int(r): 100.0 * float(v) for r, v in zip(rs, vals)}


def _at(r, curves):
    """``"r=90: full 85, diag 17"`` for ``curves = {label: {r: pct}}``."""
    return f"r={r}: " + ", ".join(f"{k} {c[r]:.0f}" for k, c in curves.items())


def _above(a, b):
    """``(holds, r_decisive)`` for "curve a above curve b"."""
    rs = sorted(set(a) & set(b))
    diff = {r: a[r] - b[r] for r in rs}
    worst, best = min(rs, key=diff.get), max(rs, key=diff.get)
    if diff[worst] < -TOL:
        return False, worst
    return diff[best] >= GAP, best


def _check_above(curves, pairs):
    """Claim that each ``(upper, lower)`` pair of ``curves`` is ordered."""
    curves = {k: curves[k] for k in dict.fromkeys(k for pair in pairs for k in pair)}
    decisive = []
    for upper, lower in pairs:
        holds, r = _above(curves[upper], curves[lower])
        if not holds:
            return False, _at(r, curves)
        decisive.append(r)
    return True, _at(decisive[0], curves)


def paper_claims(result):
    """Check each claim the paper makes about its figure 2 on a sweep.

    The claims (:data:`CLAIMS`) are section 5.1's words; each becomes a test
    on the success rates, in percentage points: "A > B" means A is never more
    than :data:`TOL` below B and leads it by at least :data:`GAP` at some r;
    "A = B" means they never differ by more than :data:`EQUAL`; "near
    perfect" and "stays high" mean at least :data:`HIGH`, "drop" at most
    :data:`LOW`.

    - a1, a2, a3 (``unit``): full VAE > diagonal VAE and AE; diagonal VAE
      = AE; both > group lasso.
    - b1 (``jeffreys``): the full VAE succeeds in at least :data:`HIGH` %
      at every r of the sweep up to d = 100. b2: the AE does worse than on
      ``unit`` ("AE performance actually degrading significantly"). b3: the
      diagonal VAE and the group lasso gain less than :data:`GAP` over their
      ``unit`` curves at every r ("the other methods do not actually benefit").
    - c1 (``meg``): the full VAE is above each other model and, at some r,
      succeeds in at least :data:`HIGH` % while each other model is at most
      :data:`LOW` %.
    - d1 (``noisy``): diagonal VAE > AE.

    Parameters
    ----------
    result : Fig2Result
        A sweep of one problem size (one ``(rank, n_times)``).

    Returns
    -------
    claims : list of Claim
        In the order of :data:`CLAIMS`.
    """
    rates = result.success_rates()

    def curves(setting, models, prefix=""):
        out = {prefix + _SHORT[m]: _pct(rates, setting, m) for m in models}
        return None if any(c is None for c in out.values()) else out

    checks = {}
    c = curves("unit", MODELS)
    if c:
        checks["a1"] = _check_above(c, [("full", "diag"), ("full", "AE")])
        diff = {r: abs(c["diag"][r] - c["AE"][r]) for r in c["diag"]}
        r = max(diff, key=diff.get)
        checks["a2"] = diff[r] <= EQUAL, _at(r, {k: c[k] for k in ("diag", "AE")})
        checks["a3"] = _check_above(c, [("diag", "GL"), ("AE", "GL")])
    c = curves("jeffreys", ["full_vae"])
    if c:
        full = {r: v for r, v in c["full"].items() if r <= 100}
        r = min(full, key=lambda r: (full[r], -r))
        tail = ", ".join(f"{r}: {full[r]:.0f}" for r in sorted(full) if r >= 90)
        checks["b1"] = (full[r] >= HIGH,
                        f"full lowest {full[r]:.0f} at r={r}; r={tail}")
    c = {**(curves("unit", ["autoencoder"], "unit ") or {}),
         **(curves("jeffreys", ["autoencoder"], "jeffreys ") or {})}
    if len(c) == 2:
        holds, r = _above(c["unit AE"], c["jeffreys AE"])
        checks["b2"] = holds, _at(r, c)
    pairs = [(curves("unit", [m], "unit "), curves("jeffreys", [m], "jeffreys "))
             for m in ("diag_vae", "group_lasso")]
    if all(u and j for u, j in pairs):
        worst = []
        for u, j in pairs:
            (ku, cu), (kj, cj) = next(iter(u.items())), next(iter(j.items()))
            rs = sorted(set(cu) & set(cj))
            r = max(rs, key=lambda r: cj[r] - cu[r])
            worst.append((cj[r] - cu[r], r, {ku: cu, kj: cj}))
        gain, r, cv = max(worst, key=lambda w: w[0])
        checks["b3"] = gain < GAP, _at(r, cv)
    c = curves("meg", MODELS)
    if c:
        others = [k for k in c if k != "full"]
        lead = {r: c["full"][r] - max(c[k][r] for k in others) for r in c["full"]}
        worst = min(lead, key=lead.get)
        apart = [r for r in lead
                 if c["full"][r] >= HIGH and all(c[k][r] <= LOW for k in others)]
        if lead[worst] < -TOL:  # another model above the full VAE somewhere
            checks["c1"] = False, _at(worst, c)
        else:
            r = max(apart or lead, key=lead.get)
            checks["c1"] = bool(apart), _at(r, c)
    c = curves("noisy", ["diag_vae", "autoencoder"])
    if c:
        checks["d1"] = _check_above(c, [("diag", "AE")])
    return [
        Claim(cid, panel, text, *(
            (bool(checks[cid][0]), checks[cid][1]) if cid in checks
            else (None, "not in this sweep")))
        for cid, (panel, text) in CLAIMS.items()
    ]


# --- Sensitivity to the unstated rank and n ----------------------------------

#: Block ranks and sample counts of ``vaesource bench fig2-sensitivity``.
SENSITIVITY_RANKS = (5, 10, 20, "full")
SENSITIVITY_N_TIMES = (50, 150)


@dataclass
class Fig2Sensitivity:
    """Figure-2 sweeps for several block ranks and sample counts.

    Attributes
    ----------
    result : Fig2Result
        All rows; ``result.split()`` gives one sweep per ``(rank, n_times)``.
    wall_time : float
        Seconds the study took.
    """

    result: Fig2Result
    wall_time: float = 0.0

    def claims(self):
        """The paper's claims checked in each sweep.

        Returns
        -------
        claims : dict
            ``claims[(rank, n_times)] = list of Claim`` (:func:`paper_claims`).
        """
        return {size: paper_claims(res) for size, res in self.result.split().items()}

    def table(self, evidence=True):
        """Markdown table: a row per claim, a column per ``(rank, n_times)``.

        Parameters
        ----------
        evidence : bool
            Follow each cell's yes or no with the rates (percent) that decide
            it.

        Returns
        -------
        table : str
        """
        claims = self.claims()
        sizes = list(claims)
        head = "| claim | " + " | ".join(_size_label(*s) for s in sizes) + " |"
        lines = [head, "|---" * (len(sizes) + 1) + "|"]
        for i, (cid, (panel, text)) in enumerate(CLAIMS.items()):
            cells = []
            for size in sizes:
                claim = claims[size][i]
                word = {True: "**yes**", False: "no", None: "-"}[claim.holds]
                cells.append(f"{word} ({claim.evidence})" if evidence else word)
            lines.append(f"| {cid} {panel}: {text} | " + " | ".join(cells) + " |")
        n_yes = [sum(bool(c.holds) for c in claims[s]) for s in sizes]
        lines.append("| claims reproduced | " + " | ".join(
            f"{k} of {len(CLAIMS)}" for k in n_yes) + " |")
        return "\n".join(lines)

    def to_csv(self, fname):
        """Write all rows, as :meth:`Fig2Result.to_csv` does.

        Parameters
        ----------
        fname : path-like
            The CSV file.

        Returns
        -------
        fname : Path
            The file written.
        """
        return self.result.to_csv(fname)

    @classmethod
    def from_csv(cls, fname):
        """Read a study written by :meth:`to_csv`.

        Parameters
        ----------
        fname : path-like
            A CSV file written by :meth:`to_csv`.

        Returns
        -------
        study : Fig2Sensitivity
        """
        return cls(result=Fig2Result.from_csv(fname))

    def plot(self, fname=None):
        """One figure: a row of the four panels per ``(rank, n_times)``.

        Each panel draws the models' success rates against r and names the
        claims about it, green where they hold, red where they do not.

        Parameters
        ----------
        fname : path-like | None
            Write the figure to this PNG file (and close it).

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        plt = _pyplot(fname)

        from ..viz.curves import _STYLE, _TITLES

        results = self.result.split()
        claims = self.claims()
        settings = list(dict.fromkeys(row["setting"] for row in self.result.rows))
        fig, axes = plt.subplots(
            len(results), len(settings), squeeze=False, sharex=True, sharey=True,
            figsize=(2.7 * len(settings) + 0.8, 2.0 * len(results) + 0.9),
            layout="constrained",
        )
        for i, (size, res) in enumerate(results.items()):
            rates = res.success_rates()
            for j, setting in enumerate(settings):
                ax = axes[i, j]
                for model, (rs, vals, _) in rates.get(setting, {}).items():
                    style = dict(_STYLE.get(model, dict(label=model)))
                    style["ms"] = min(style.get("ms", 4), 5) * 0.7
                    style["lw"] = style.get("lw", 1.5) * 0.7
                    ax.plot(rs, 100 * np.asarray(vals), **style)
                ax.axvline(100, color="0.45", lw=0.8, ls=":")
                ax.grid(alpha=0.3)
                ax.set_ylim(-3, 103)
                ax.set_xlim(0, 103)
                marks = [c for c in claims[size] if c.panel == setting]
                for k, claim in enumerate(marks):
                    color = {True: "#1e8449", False: "#c0392b", None: "0.5"}
                    word = {True: "yes", False: "no", None: "-"}[claim.holds]
                    ax.text(0.03, 0.05 + 0.12 * k, f"{claim.id} {word}",
                            transform=ax.transAxes, fontsize=7,
                            color=color[claim.holds], fontweight="bold")
                if i == 0:
                    ax.set_title(_TITLES.get(setting, setting), fontsize=9)
                if j == 0:
                    ax.set_ylabel(f"{_size_label(*size)}\nsuccess (%)", fontsize=8)
                if i == len(results) - 1:
                    ax.set_xlabel("non-zero rows r", fontsize=8)
                ax.tick_params(labelsize=7)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels),
                   fontsize=8, frameon=False)
        return _save(fig, fname)


@fill_doc
def run_sensitivity(
    ranks=SENSITIVITY_RANKS,
    n_times=SENSITIVITY_N_TIMES,
    settings=("unit", "jeffreys", "meg", "noisy"),
    r_values=PAPER_R,
    n_trials=100,
    models=MODELS,
    *,
    seed=0,
    n_jobs=1,
    backend=None,
    progress=True,
) -> Fig2Sensitivity:
    """Figure 2 for each block rank and sample count, and the paper's claims.

    The paper does not state the rank ``tau`` of the non-zero block (only
    ``tau < r < n``) nor ``n``; this runs :func:`run_fig2` for each pair of
    ``ranks`` x ``n_times`` on the same seeds (so the sweeps compare on
    paired draws) and checks each claim in each (:func:`paper_claims`).

    Parameters
    ----------
    ranks : sequence of int | "full"
        Block ranks; ``"full"``: ``tau = r``.
    n_times : sequence of int
        Numbers of samples ``n``.
    %(fig2_settings)s
    %(fig2_r_values)s
    %(fig2_n_trials)s
    %(fig2_models)s
    %(fig2_seed)s
    %(n_jobs)s
    %(backend)s
    %(progress)s

    Returns
    -------
    study : Fig2Sensitivity
    """
    ranks = [_check_rank(rank) for rank in ranks]
    n_times = [_check_int("n_times", n, min_value=1) for n in n_times]
    if not ranks or not n_times:
        raise ValueError("ranks and n_times must not be empty.")
    t0 = time.perf_counter()
    rows = []
    for rank in ranks:
        for n in n_times:
            logger.info("sensitivity: %s", _size_label(rank, n))
            rows += run_fig2(
                settings, r_values, n_trials, models, rank=rank, n_times=n,
                seed=seed, n_jobs=n_jobs, backend=backend, progress=progress,
            ).rows
    result = Fig2Result(rows=rows, wall_time=time.perf_counter() - t0)
    return Fig2Sensitivity(result=result, wall_time=result.wall_time)

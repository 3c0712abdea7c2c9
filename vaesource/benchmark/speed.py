"""Speed of the full-VAE engines against MNE's gamma-MAP (and MxNE).

Run:  vaesource bench speed [--trials 10] [--problems paper,cortical,volume]
      [--threads 1,all]
(or ``python benchmarks/bench_solvers.py``, which calls :func:`run_speed`).

Three problem families, each timed side by side in one run:

``paper``
    The paper's problems (d=100, kappa=200, n=50), ``unit`` and ``noisy``, r
    in {30, 60, 90}: ``full_vae`` with the Newton engine and with the
    previous MM engine (``update="mackay"``), and MNE's array kernel
    ``mne.inverse_sparse._gamma_map._gamma_map_opt`` (the solver behind
    :func:`mne.inverse_sparse.gamma_map`).
``cortical``
    Simulated evoked responses on the template head (306 MEG channels):
    sources on the ico4 cortex inverted on ico3 with loose orientation 0.2
    (3852 columns), and on ico5 inverted on ico4 with fixed orientation
    (5124 columns); :func:`vaesource.apply_vae_inverse` (both engines),
    :func:`mne.inverse_sparse.gamma_map` and
    :func:`mne.inverse_sparse.mixed_norm` (alpha by the noise rule of
    :func:`vaesource.compare.mxne_noise_alpha`). On the ico3 problems also
    the diagonal VAE and the autoencoder with both of their engines
    (``update="newton"`` and ``"mm"``), their costs (50) and (8) recomputed
    by :func:`vaesource.solvers.cost_diag` and
    :func:`vaesource.solvers.ae_energy`.
``volume``
    The real 7 mm volume of MNE's sample subject (testing data, "Left + Right
    Auditory", 305 x 12471 columns after whitening), with both noise
    covariances of the testing data; only when the data is found
    (``$VAESOURCE_TESTING_DATA`` or ``../shared/mne-testing-data``).

For every problem: median wall time, iterations, full-size passes (Newton),
final cost (18) and the certificate; gamma-MAP both at its defaults and "to
the same cost": the time at which its cost (18) first came within 1e-8
(relative) of the Newton engine's. gamma-MAP returns neither its weights nor
its cost; both are recovered from the SVD of ``Sigma`` it computes at every
iteration (wrapped, with the wrapper's own time subtracted; see
:class:`_GammaMapTrace`). Costs are compared on gamma-MAP's arrays
(whitened onto the non-zero noise components, like MNE). ``threads`` runs
everything with one BLAS thread and/or the machine's default (all cores);
vaesource's solvers always limit themselves to one thread (the measured
best on small factorisations), MNE's use what they are given.
"""

from __future__ import annotations

import os
import time
import tracemalloc
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .. import _mne_compat, solvers
from .._methods import METHODS, PAPER_MODELS
from ..simulation import paper_problem
from ..utils import ConvergenceWarning, use_log_level

MODELS = PAPER_MODELS
PROBLEMS = ("paper", "cortical", "volume")
THREADS = {"1": 1, "all": None}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


class _GammaMapTrace:
    """Cost (18) after each gamma-MAP iteration, and when it was reached.

    gamma-MAP factorises ``CM = G_n diag(g) G_n^T + alpha_n I`` by an SVD at
    every iteration, in units where ``M_n = M / c`` (``c^2 = ||M M^T||_F``);
    the true ``Sigma = c^2 CM``, so from ``CM = U S U^T``, cost (18) =
    ``||S^-1/2 U^T M_n||^2 + n sum log S + n d log c^2``. The wrapper's own
    time is subtracted from the clock.
    """

    def __init__(self, M):
        self.c2 = float(np.linalg.norm(M @ M.T, "fro"))
        self.Mn = M / np.sqrt(self.c2)
        self.times, self.costs = [], []

    @contextmanager
    def record(self):
        overhead = 0.0
        t0 = time.perf_counter()

        def spy(out):
            nonlocal overhead
            t_in = time.perf_counter()
            U, S = out[0], out[1]
            n, d = self.Mn.shape[1], self.Mn.shape[0]
            self.costs.append(
                float(np.sum((U.T @ self.Mn) ** 2 / S[:, None]))
                + n * float(np.sum(np.log(S))) + n * d * np.log(self.c2)
            )
            self.times.append(t_in - t0 - overhead)
            overhead += time.perf_counter() - t_in

        with _mne_compat.observe_gamma_map_svds(spy):
            yield self
        self.seconds = time.perf_counter() - t0 - overhead

    def time_to(self, target):
        """Seconds until the cost first came within 1e-8 of ``target``."""
        costs = np.asarray(self.costs)
        hit = np.flatnonzero(costs <= target + 1e-8 * abs(target))
        return (self.times[hit[0]], int(hit[0])) if hit.size else (None, None)


def _ratio(num, den):
    return f"{num / den:6.1f}x" if num is not None and den else "   n/a"


# ---------------------------------------------------------------- paper ---
def solve_times(n_trials):
    """Median solve time of each model on the paper's problems."""
    print("1. Median solve time (ms), d=100, kappa=200, n=50, one BLAS thread "
          "(success count, median iterations)")
    _run("full_vae", paper_problem("unit", 10, seed=0))  # warm-up
    for setting in ("unit", "noisy"):
        for r in (30, 60, 90):
            probs = [paper_problem(setting, r, seed=1000 + t) for t in range(n_trials)]
            cells = []
            # diag_vae and autoencoder run their MM engine here by default
            # (update="auto" on a small dictionary): their Newton engine too
            for model in MODELS + ("mackay", "diag_vae[newton]",
                                   "autoencoder[newton]"):
                wall, its, ok = [], [], 0
                for p in probs:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        res, tw = _timed(lambda: _run(model, p))
                    wall.append(tw)
                    its.append(res.n_iter)
                    ok += p.success(res.X)
                name = "full_vae[mackay]" if model == "mackay" else model
                cells.append(f"{name} {1e3 * np.median(wall):6.1f} "
                             f"({ok}/{n_trials}, {np.median(its):.0f} it)")
            print(f"  {setting:6s} r={r:2d}: " + " | ".join(cells))


def _run(model, p):
    if model == "group_lasso":
        return solvers.group_lasso(p.M, p.G, alpha=p.group_lasso_alpha)
    if model == "mackay":
        return solvers.full_vae(p.M, p.G, gamma=p.gamma, update="mackay")
    if model.endswith("]"):
        name, update = model[:-1].split("[")
        return getattr(solvers, name)(p.M, p.G, gamma=p.gamma, update=update)
    return getattr(solvers, METHODS[model].solver)(p.M, p.G, gamma=p.gamma)


def versus_gamma_map(n_trials, r=60, setting="unit"):
    """Newton and MM engines vs MNE's kernel on one paper setting."""
    print(f"\n  {setting}, r={r}: full_vae (Newton / MM) vs MNE's gamma-MAP "
          "kernel (its default MacKay update)")
    ratios, ratios_default = [], []
    for t in range(n_trials):
        p = paper_problem(setting, r, seed=2000 + t)
        solvers.full_vae(p.M, p.G, gamma=p.gamma)  # warm caches
        # a few milliseconds each: the median of three runs, the engines
        # alternated (the machine's load varies)
        t_new, t_old = [], []
        for _ in range(3):
            new, sec = _timed(lambda: solvers.full_vae(p.M, p.G, gamma=p.gamma))
            t_new.append(sec)
            old, sec = _timed(lambda: solvers.full_vae(
                p.M, p.G, gamma=p.gamma, update="mackay"))
            t_old.append(sec)
        t_new, t_old = float(np.median(t_new)), float(np.median(t_old))
        trace = _GammaMapTrace(p.M)  # at MNE's defaults
        with use_log_level(quiet_mne="ERROR"), warnings.catch_warnings(), \
                trace.record():
            warnings.simplefilter("ignore")
            _mne_compat.gamma_map_opt(p.M, p.G, p.gamma)
        c_new = new.cost[-1]
        # and on, until its cost reaches ours (it stops short at its defaults)
        longer = _GammaMapTrace(p.M)
        with use_log_level(quiet_mne="ERROR"), warnings.catch_warnings(), \
                longer.record():
            warnings.simplefilter("ignore")
            _mne_compat.gamma_map_opt(p.M, p.G, p.gamma, tol=0.0, maxit=3000)
        t_same, k = longer.time_to(c_new)
        ratios.append(t_same / t_new if t_same is not None else np.nan)
        ratios_default.append(trace.seconds / t_new)
        print(f"    trial {t}: Newton {1e3 * t_new:6.1f} ms ({new.n_iter} it, "
              f"{new.info['n_passes']} passes, KKT "
              f"{new.info['kkt_violation']:.0e}) | MM {1e3 * t_old:6.1f} ms "
              f"({old.n_iter} it, cost {old.cost[-1] - c_new:+.1e}) | MNE default "
              f"{1e3 * trace.seconds:6.1f} ms ({len(trace.costs)} it, cost "
              f"{trace.costs[-1] - c_new:+.1e}), to the same cost "
              + (f"{1e3 * t_same:6.1f} ms ({k} it)" if t_same is not None
                 else "never")
              + f" | ratios MNE-same / Newton {_ratio(t_same, t_new)}, "
              f"MNE default / Newton {_ratio(trace.seconds, t_new)}, "
              f"MM / Newton {_ratio(t_old, t_new)}")
    ok = np.asarray(ratios)[np.isfinite(ratios)]
    if ok.size:
        print(f"  median time ratio MNE / full_vae (same cost): "
              f"{np.median(ok):.1f}x (min {ok.min():.1f}x, {ok.size} trials)")
    print(f"  median time ratio MNE at its defaults (tol 1e-6, maxit 10000) / "
          f"full_vae: {np.median(ratios_default):.1f}x (min "
          f"{np.min(ratios_default):.1f}x)")
    return ratios


# ------------------------------------------------------- MNE problems ---
def _testing_data():
    path = os.environ.get("VAESOURCE_TESTING_DATA")
    path = Path(path) if path else (
        Path(__file__).resolve().parents[3] / "shared" / "mne-testing-data")
    return path if (path / "test-ave.fif.gz").exists() else None


def volume_problem(data=None, cov="test"):
    """The 7 mm volume problem of MNE's sample subject (testing data).

    Returns ``(evoked, forward, noise_cov)``: "Left + Right Auditory"
    (nave-weighted), MEG, window 0.05-0.15 s; volume grid in the inner
    skull, single-layer BEM forward; ``cov`` "test" (``test-cov.fif``) or
    "trunc" (``sample_audvis_trunc-cov.fif``).
    """
    import mne

    data = Path(data) if data is not None else _testing_data()
    bem = mne.read_bem_solution(data / "sample-1280-bem-sol.fif", verbose=False)
    src = mne.setup_volume_source_space(None, pos=7.0, bem=bem, verbose=False)
    evokeds = [ev.pick("meg") for ev in mne.read_evokeds(
        data / "test-ave.fif.gz", baseline=(None, 0), verbose=False)]
    fwd = mne.make_forward_solution(
        evokeds[0].info, data / "sample_audvis_trunc-trans.fif", src, bem,
        meg=True, eeg=False, verbose=False,
    )
    fname = {"test": "test-cov.fif", "trunc": "sample_audvis_trunc-cov.fif"}[cov]
    noise_cov = mne.read_cov(data / fname, verbose=False)
    evoked = mne.combine_evoked(evokeds[:2], weights="nave")
    return evoked.crop(0.05, 0.15), fwd, noise_cov


def cortical_problems(n_trials, inv_spacing="ico3", snr=3.0, seed=0):
    """Simulated responses on the template head, 1, 2, 3, 5 sources in turn."""
    from ..simulation import cortical_evoked
    from ..forward.template import template

    sim_spacing = {"ico3": "ico4", "ico4": "ico5"}[inv_spacing]
    fine, coarse = template(sim_spacing), template(inv_spacing)
    counts = (1, 2, 3, 5)
    return [
        cortical_evoked(fine, counts[t % 4], snr=snr, seed=seed + t,
                        inverse_template=coarse, nave=1, sfreq=100.0)
        for t in range(n_trials)
    ]


def compare_on(evoked, fwd, cov, *, loose, depth=0.8, mxne=True):
    """One problem: both engines, gamma-MAP (defaults), MxNE. Returns a dict."""
    import mne

    from ..compare import mxne_noise_alpha
    from ..forward import leadfield_from_forward
    from ..inverse import apply_vae_inverse, scale_noise_cov
    from ..solvers import cost_full

    cov_avg = scale_noise_cov(cov, evoked.nave)
    # gamma-MAP's arrays (whitened onto the non-zero noise components)
    lf = leadfield_from_forward(fwd, evoked, cov_avg, loose=loose, depth=depth,
                                pca=True, verbose=False)
    M, G = lf.whiten(evoked), lf.G
    out = {}
    for update in ("newton", "mackay"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the optimum of cost (18), as gamma-MAP minimises it: no
            # evidence selection (it would refit a smaller support)
            stc, sec = _timed(lambda: apply_vae_inverse(
                evoked, fwd, cov, loose=loose, depth=depth, update=update,
                max_iter=100_000, min_evidence=None, verbose=False))
        res = stc.vae_result
        # peak memory of the array solver alone (an untimed second run:
        # tracing allocations slows them)
        M_v, G_v = res.info["M"], res.info["lead_field"].G
        tracemalloc.start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            solvers.full_vae(M_v, G_v, n_orient=lf.n_orient, update=update,
                             max_iter=100_000)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out[update] = dict(
            seconds=sec, solver_seconds=res.info["seconds"], n_iter=res.n_iter, n_passes=res.info.get("n_passes", 0),
            cost=cost_full(M, G, res.weights, res.gamma),
            kkt=res.info["kkt_violation"], converged=res.converged,
            n_active=res.active_set.size // lf.n_orient, peak=peak / G_v.nbytes,
        )
    trace = _GammaMapTrace(M)
    with warnings.catch_warnings(), trace.record():
        warnings.simplefilter("ignore")
        stc = mne.inverse_sparse.gamma_map(
            evoked, fwd, cov_avg, alpha=1.0, loose=loose, depth=depth,
            verbose=False)
    t_same, k = trace.time_to(out["newton"]["cost"])
    out["gamma_map"] = dict(
        seconds=trace.seconds, n_iter=len(trace.costs), cost=trace.costs[-1],
        seconds_same=t_same, n_iter_same=k,
        n_active=int(sum(len(v) for v in stc.vertices)),
    )
    if mxne:
        alpha = mxne_noise_alpha(M, G, lf.n_orient)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stc, sec = _timed(lambda: mne.inverse_sparse.mixed_norm(
                evoked, fwd, cov_avg, alpha=alpha, loose=loose, depth=depth,
                verbose=False))
        out["mxne"] = dict(seconds=sec,
                           n_active=int(sum(len(v) for v in stc.vertices)))
    return out


def separable_on(evoked, fwd, cov, *, loose, depth=0.8):
    """The diagonal VAE and the autoencoder, both engines, on one problem.

    Returns ``{model: {update: dict(seconds, n_iter, cost, n_active)}}``;
    ``cost`` is cost (50) (:func:`vaesource.solvers.cost_diag`) or the
    energy (8) (:func:`vaesource.solvers.ae_energy`) at the returned
    parameters, computed apart from the solvers.
    """
    from ..inverse import apply_vae_inverse
    from ..solvers import ae_energy, cost_diag

    out = {}
    for model in ("diag", "ae"):
        out[model] = {}
        # alternate the engines, twice each; the median of the two times
        for update in ("mm", "newton", "mm", "newton"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stc = apply_vae_inverse(evoked, fwd, cov, model=model,
                                        loose=loose, depth=depth, update=update,
                                        verbose=False)
            res = stc.vae_result
            M, G = res.info["M"], res.info["lead_field"].G
            o = res.n_orient
            if model == "diag":
                cost = cost_diag(M, G, res.weights, res.gamma, o)
            else:
                par = res.params
                cost = ae_energy(M, G, par.w_x, par.W_z, res.gamma,
                                 eps=res.info["eps"], n_orient=o)
            row = out[model].setdefault(update, dict(seconds=[]))
            row["seconds"].append(res.info["seconds"])
            row.update(n_iter=res.n_iter, cost=cost,
                       n_active=res.active_set.size // o)
        for row in out[model].values():
            row["seconds"] = float(np.median(row["seconds"]))
    return out


def _print_separable(name, r):
    for model, label in (("diag", "diag_vae"), ("ae", "autoencoder")):
        new, old = r[model]["newton"], r[model]["mm"]
        print(f"  {name} {label}: Newton {new['seconds']:6.3f} s ({new['n_iter']} "
              f"it, {new['n_active']} active) | MM {old['seconds']:6.3f} s "
              f"({old['n_iter']} it, {old['n_active']} active) | cost Newton - "
              f"MM {new['cost'] - old['cost']:+.3g} (relative "
              f"{(new['cost'] - old['cost']) / abs(old['cost']):+.1e}) | MM / "
              f"Newton {_ratio(old['seconds'], new['seconds'])}")


def location_times(evoked, fwd, cov, *, loose):
    """Seconds of the default call's regions and location bands.

    The estimate of the default call (evidence selection), then the time
    to its location regions (:attr:`~vaesource.evidence.SourceTable.region_size`)
    and to the 90 % bands with the location
    (:func:`~vaesource.evidence.credible_interval`).
    """
    from ..evidence import credible_interval
    from ..inverse import apply_vae_inverse

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stc, solve = _timed(lambda: apply_vae_inverse(
            evoked, fwd, cov, loose=loose, verbose=False))
        table = stc.vae_sources
        _, regions = _timed(lambda: table.region_size)
        _, band = _timed(lambda: credible_interval(stc, 0.9, location=True))
    return dict(solve=solve, regions=regions, band=band,
                n_rows=len(table.region_size))


def _print_problem(name, r):
    new, old, gm = r["newton"], r["mackay"], r["gamma_map"]
    c = new["cost"]
    line = (
        f"  {name}: Newton {new['seconds']:6.2f} s (solver "
        f"{new['solver_seconds']:.2f} s, {new['n_iter']} it, "
        f"{new['n_passes']} passes, KKT {new['kkt']:.0e}, {new['n_active']} "
        f"active, peak {new['peak']:.1f}x G) | MM {old['seconds']:6.2f} s "
        f"({old['n_iter']} it, cost {old['cost'] - c:+.3g}, KKT {old['kkt']:.0e}, "
        f"peak {old['peak']:.1f}x G) "
        f"| gamma-MAP default {gm['seconds']:6.2f} s ({gm['n_iter']} it, cost "
        f"{gm['cost'] - c:+.3g}), same cost "
        + (f"{gm['seconds_same']:.2f} s" if gm["seconds_same"] is not None
           else "never")
    )
    if "mxne" in r:
        line += f" | MxNE {r['mxne']['seconds']:5.2f} s"
    print(line)
    print(f"      ratios: gamma-MAP default / Newton "
          f"{_ratio(gm['seconds'], new['seconds'])}, gamma-MAP same cost / "
          f"Newton {_ratio(gm['seconds_same'], new['seconds'])}, MM / Newton "
          f"{_ratio(old['seconds'], new['seconds'])}"
          + (f", MxNE / Newton {_ratio(r['mxne']['seconds'], new['seconds'])}"
             if "mxne" in r else ""))


def _summary(rows, label):
    keys = [("gamma_map", "seconds"), ("gamma_map", "seconds_same"),
            ("mackay", "seconds"), ("mxne", "seconds")]
    new = np.array([r["newton"]["seconds"] for r in rows])
    parts = [f"Newton median {np.median(new):.2f} s"]
    for method, key in keys:
        vals = [r[method][key] for r in rows if method in r]
        if not vals:
            continue
        vals = np.array([np.nan if v is None else v for v in vals], float)
        name = {"gamma_map": "gamma-MAP", "mackay": "MM", "mxne": "MxNE"}[method]
        if key == "seconds_same":
            name += " (same cost)"
            if np.all(np.isnan(vals)):
                parts.append(f"{name} never reached")
                continue
        ratio = vals / new
        parts.append(f"{name} {np.nanmedian(vals):.2f} s = "
                     f"{np.nanmedian(ratio):.1f}x")
    print(f"  {label}: " + ", ".join(parts))


def _separable_summary(rows, label):
    for model, name in (("diag", "diag_vae"), ("ae", "autoencoder")):
        new = np.array([r[model]["newton"]["seconds"] for r in rows])
        old = np.array([r[model]["mm"]["seconds"] for r in rows])
        dc = np.array([r[model]["newton"]["cost"] - r[model]["mm"]["cost"]
                       for r in rows])
        print(f"  {label} {name}: Newton median {np.median(new):.3f} s, MM "
              f"{np.median(old):.3f} s = {np.median(old / new):.1f}x (min "
              f"{np.min(old / new):.1f}x); cost Newton - MM: max {dc.max():+.3g}, "
              f"lower in {np.sum(dc < 0)} of {dc.size}")


def run_speed(n_trials=10, problems=PROBLEMS, threads=("1", "all")):
    """Print the speed tables; returns the measurements.

    Parameters
    ----------
    n_trials : int
        Problems per cell on the paper's problems (at most 10 for the
        comparison with MNE) and simulated responses per cortical setting
        (at most 5).
    problems : sequence of str
        Among ``"paper"``, ``"cortical"``, ``"volume"``.
    threads : sequence of str
        ``"1"`` (one BLAS thread) and/or ``"all"`` (the machine's default).

    Returns
    -------
    results : dict
        ``{threads: {problem: ...}}``.
    """
    results = {}
    for th in threads:
        limit = THREADS[th]
        print(f"\n=== BLAS threads: {th} ===")
        res = results[th] = {}
        with threadpool_limits(limit, user_api="blas"):
            if "paper" in problems:
                if th == threads[0]:
                    solve_times(n_trials)
                print("\n2. full_vae vs MNE's gamma-MAP kernel, paper problems")
                res["paper"] = {
                    "unit": versus_gamma_map(min(n_trials, 10), setting="unit"),
                    "noisy": versus_gamma_map(min(n_trials, 10), setting="noisy"),
                }
            if "cortical" in problems:
                print("\n3. Template cortical problems (306 MEG channels, SNR 3)")
                for inv, loose in (("ico3", 0.2), ("ico4", 0.0)):
                    rows = []
                    separable = []
                    for t, sim in enumerate(cortical_problems(min(n_trials, 5), inv)):
                        r = compare_on(sim.evoked, sim.forward, sim.noise_cov,
                                       loose=loose)
                        name = f"{inv} loose {loose} #{t} ({sim.n_sources} src)"
                        _print_problem(name, r)
                        rows.append(r)
                        if inv == "ico3":
                            s = separable_on(sim.evoked, sim.forward,
                                             sim.noise_cov, loose=loose)
                            _print_separable(name, s)
                            separable.append(s)
                    _summary(rows, f"{inv} loose {loose}")
                    res[f"cortical_{inv}"] = rows
                    if separable:
                        _separable_summary(separable, f"{inv} loose {loose}")
                        res[f"separable_{inv}"] = separable
            if "volume" in problems:
                if _testing_data() is None:
                    print("\n4. Real 7 mm volume: testing data not found, skipped")
                else:
                    print("\n4. Real 7 mm volume (MNE sample subject, auditory)")
                    for cov in ("test", "trunc"):
                        ev, fwd, nc = volume_problem(cov=cov)
                        r = compare_on(ev, fwd, nc, loose=1.0, mxne=False)
                        _print_problem(f"{cov}-cov", r)
                        r["location"] = loc = location_times(ev, fwd, nc,
                                                             loose=1.0)
                        print(f"      where the sources are (default call, "
                              f"{loc['n_rows']} rows, solved in "
                              f"{loc['solve']:.2f} s): regions "
                              f"{loc['regions']:.2f} s, 90 % bands with the "
                              f"location {loc['band']:.2f} s")
                        res[f"volume_{cov}"] = r
    return results

"""Solver speed on the paper's problems, and full_vae against MNE's gamma-MAP.

Run:  vaesource bench speed [--trials 20]
(or ``python benchmarks/bench_solvers.py``, which calls :func:`run_speed`).

Prints
1. the median solve time of each model at d=100, kappa=200, n=50 for
   r in {30, 60, 90} (``unit`` and ``noisy`` settings; one warm-up solve
   excluded; BLAS limited to one thread, as the solvers do themselves);
2. the time of ``mne.inverse_sparse._gamma_map._gamma_map_opt`` (the array
   kernel of ``mne.inverse_sparse.gamma_map``) as a ratio of ``full_vae``'s
   on the same arrays, run to the same final cost (18): MNE's tolerance is
   timed for the number of iterations after which its cost (18) first comes
   within 1e-8 (relative) of the cost ``full_vae`` stops at (its cost per
   iteration is recovered from the matrices it factorises; see
   ``_mne_cost_trace``).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from .. import solvers
from ..simulation import paper_problem
from ..utils import ConvergenceWarning

MODELS = ("full_vae", "diag_vae", "autoencoder", "group_lasso")


def _run(model, p):
    if model == "group_lasso":
        return solvers.group_lasso(p.M, p.G, alpha=p.group_lasso_alpha)
    return getattr(solvers, model)(p.M, p.G, gamma=p.gamma)


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def solve_times(n_trials):
    print("1. Median solve time (ms), d=100, kappa=200, n=50; wall / CPU; "
          "success count; median iterations")
    _run("full_vae", paper_problem("unit", 10, seed=0))  # warm-up
    for setting in ("unit", "noisy"):
        for r in (30, 60, 90):
            probs = [paper_problem(setting, r, seed=1000 + t) for t in range(n_trials)]
            cells = []
            for model in MODELS:
                wall, cpu, its, ok = [], [], [], 0
                for p in probs:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        res, tw, tc = _timed(lambda: _run(model, p))
                    wall.append(tw)
                    cpu.append(tc)
                    its.append(res.n_iter)
                    ok += p.success(res.X)
                cells.append(
                    f"{model} {1e3 * np.median(wall):6.1f}/{1e3 * np.median(cpu):6.1f}"
                    f" ({ok}/{n_trials}, {np.median(its):.0f} it)"
                )
            print(f"  {setting:6s} r={r:2d}: " + " | ".join(cells))


def _mne_cost_trace(M, G, gamma, maxit):
    """Cost (18) after each iteration of MNE's gamma-MAP kernel.

    The kernel returns neither its weights nor its cost, so the matrix it
    decomposes at each iteration, ``CM = G_n diag(g) G_n^T + alpha_n I`` in
    its normalised units, is recorded by wrapping its SVD. With
    ``M_n = M / c`` (``c^2 = ||M M^T||_F``), the true ``Sigma = c^2 CM``, so
    cost (18) = ``tr[M_n M_n^T CM^-1] + n log|CM| + n d log c^2``.
    """
    import mne.inverse_sparse._gamma_map as gm

    recorded = []
    orig = gm._safe_svd

    def recording_svd(A, *args, **kwargs):
        recorded.append(A.copy())
        return orig(A, *args, **kwargs)

    gm._safe_svd = recording_svd
    try:
        gm._gamma_map_opt(M, G, gamma, tol=0.0, maxit=maxit)
    finally:
        gm._safe_svd = orig
    c2 = np.linalg.norm(M @ M.T, "fro")
    Mn = M / np.sqrt(c2)
    n, d = M.shape[1], M.shape[0]
    costs = []
    for CM in recorded:
        L = np.linalg.cholesky(CM)
        Z = np.linalg.solve(L, Mn)
        costs.append(np.sum(Z**2) + n * 2 * np.sum(np.log(np.diag(L)))
                     + n * d * np.log(c2))
    return np.array(costs)


def versus_gamma_map(n_trials, r=60, setting="unit"):
    from mne.inverse_sparse._gamma_map import _gamma_map_opt
    from mne.utils import use_log_level

    print(f"\n2. full_vae vs MNE gamma_map kernel (its default MacKay update), "
          f"{setting} setting, r={r}, both with one BLAS thread")
    ratios = []
    for t in range(n_trials):
        p = paper_problem(setting, r, seed=2000 + t)
        solvers.full_vae(p.M, p.G, gamma=p.gamma)  # warm caches
        res, _, t_vae = _timed(lambda: solvers.full_vae(p.M, p.G, gamma=p.gamma))
        c_vae = res.cost[-1]
        with use_log_level("error"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trace = _mne_cost_trace(p.M, p.G, p.gamma, maxit=3000)
            # CM of iteration k holds the weights after k updates
            reached = np.flatnonzero(trace <= c_vae + 1e-8 * abs(c_vae))
            if reached.size == 0:
                print(f"  trial {t}: MNE never reached cost {c_vae:.6f} in 3000 "
                      f"iterations (best {trace.min():.6f})")
                continue
            k = int(reached[0])
            # run exactly k updates (maxit=k+1 builds CM k times) and time it
            times = []
            for _ in range(3):
                _, _, t_mne = _timed(
                    lambda: _gamma_map_opt(p.M, p.G, p.gamma, tol=0.0, maxit=k + 1)
                )
                times.append(t_mne)
            t_mne = min(times)
        ratios.append(t_mne / t_vae)
        print(f"  trial {t}: full_vae {1e3 * t_vae:.1f} ms ({res.n_iter} it, cost "
              f"{c_vae:.6f}); MNE {1e3 * t_mne:.1f} ms ({k} it, cost "
              f"{trace[k]:.6f}); ratio {t_mne / t_vae:.1f}x")
    if ratios:
        print(f"  median time ratio MNE / full_vae: {np.median(ratios):.1f}x "
              f"(min {np.min(ratios):.1f}x, {len(ratios)} trials)")
    return ratios


def run_speed(n_trials=20):
    """Print the solve times and the ratios against MNE's gamma-MAP kernel.

    Parameters
    ----------
    n_trials : int
        Problems per cell of the solve-time table (at most 10 / 5 of them
        for the comparisons with MNE, noiseless / noisy).

    Returns
    -------
    ratios : dict
        ``{"unit": [...], "noisy": [...]}``, MNE's time over full_vae's per
        trial at r=60.
    """
    with threadpool_limits(1, user_api="blas"):
        solve_times(n_trials)
        return {
            "unit": versus_gamma_map(min(n_trials, 10), setting="unit"),
            "noisy": versus_gamma_map(min(n_trials, 5), setting="noisy"),
        }

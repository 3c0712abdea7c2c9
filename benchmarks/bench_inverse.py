"""apply_vae_inverse vs mne.inverse_sparse.gamma_map on a real volume problem.

Problem: MNE's sample "Left Auditory" + "Right Auditory" average (test-ave,
nave 9), 306 MEG channels, a 7 mm volume grid in the inner skull (4157
locations, free orientation: 12471 columns), single-layer BEM forward,
depth 0.8, window 0.05-0.15 s.

Both minimise cost (18), ``tr[M M^T Sigma^-1] + n log|Sigma|`` with
``Sigma = G diag(w) G^T + I`` (one weight per location), on the same arrays:
gamma_map is given the ``nave``-scaled covariance with ``alpha=1``, so its
whitened ``M`` and gain ``G`` are exactly ours (checked below). Costs are
evaluated the same way for both, by :func:`vaesource.solvers.cost_full` on
those arrays: for ours at the returned weights; for gamma_map at its final
``Sigma``, captured from its last iteration (it rescales ``M`` by ``c =
||M M^T||_F^(1/2)``, so ``Sigma = c^2 * CM``) -- gamma_map does not return
its weights.

Run::

    python benchmarks/bench_inverse.py [--gamma-map-maxit N] [--out DIR]
    python benchmarks/bench_inverse.py --report   # all methods, both modalities

Prints times, iterations, costs and the time ratio; ``--gamma-map-maxit``
caps gamma_map (its default is 10000 iterations at tol 1e-6 on the weights);
when the cap is hit the ratio is a lower bound. ``--blas-threads 1`` runs
both single-threaded (the VAE solvers always are): on two shared cores
threaded BLAS made gamma_map several times slower.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "mne-testing-data"


def build_problem(data=DATA):
    from vaesource.benchmark.speed import volume_problem

    return volume_problem(data, cov="test")


def run_vae(evoked, fwd, cov, tol=1e-8, max_iter=100_000):
    from vaesource.inverse import apply_vae_inverse

    t0 = time.perf_counter()
    stc = apply_vae_inverse(evoked, fwd, cov, tol=tol, max_iter=max_iter)
    seconds = time.perf_counter() - t0
    return stc, seconds


def run_gamma_map(evoked, fwd, cov, maxit=10000):
    """gamma_map on the nave-scaled covariance; returns (stc, s, Sigma, n_iter)."""
    import mne
    from mne.inverse_sparse import _gamma_map

    from vaesource.inverse import scale_noise_cov

    captured = {"n": 0}
    real_svd = _gamma_map._safe_svd

    def spy(A, *args, **kwargs):  # records the last Sigma it factorises
        captured["CM"] = A.copy()
        captured["n"] += 1
        return real_svd(A, *args, **kwargs)

    cov_avg = scale_noise_cov(cov, evoked.nave)
    t0 = time.perf_counter()
    with mock.patch.object(_gamma_map, "_safe_svd", spy):
        stc = mne.inverse_sparse.gamma_map(
            evoked, fwd, cov_avg, alpha=1.0, maxit=maxit, pick_ori="vector",
            verbose=False,
        )
    seconds = time.perf_counter() - t0
    return stc, seconds, captured["CM"], captured["n"]


def cost_from_sigma(M, Sigma):
    """Cost (18) at a given Sigma."""
    from scipy import linalg

    c, low = linalg.cho_factor(Sigma, lower=True)
    data = float(np.sum(M * linalg.cho_solve((c, low), M)))
    return data + M.shape[1] * 2.0 * float(np.sum(np.log(np.diag(c))))


def report_real(methods=("full_vae", "diag_vae", "gamma_map", "mxne", "irmxne")):
    """Peaks (head coordinates, mm), time and fit of each method, per modality.

    Uses :func:`vaesource.compare.compare` on the auditory (left + right,
    nave 9) and visual (nave 12) averages, window 0.05-0.15 s.
    """
    import mne

    from vaesource.compare import compare
    from vaesource.metrics import stc_sources

    _, fwd, cov = build_problem()
    evokeds = [
        ev.pick("meg") for ev in mne.read_evokeds(
            DATA / "test-ave.fif.gz", baseline=(None, 0), verbose=False)
    ]
    conditions = {
        "auditory": mne.combine_evoked(evokeds[:2], weights="nave"),
        "visual": mne.combine_evoked(evokeds[2:], weights="nave"),
    }
    out = {}
    for name, evoked in conditions.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            comp = compare(evoked, fwd, cov, methods=methods, tmin=0.05, tmax=0.15)
        print(f"== {name} (nave {evoked.nave:g}) ==")
        out[name] = {}
        for row in comp.rows:
            pos, amp = stc_sources(row.estimate, fwd)
            order = np.argsort(amp)[::-1][:4]
            peaks = [(1e3 * pos[i]).round(1).tolist() + [round(amp[i] / amp.max(), 2)]
                     for i in order]
            extra = ""
            if hasattr(row.estimate, "vae_result"):
                res = row.estimate.vae_result
                eq = {"full_vae": "cost (18)", "diag_vae": "cost (50)"}.get(
                    res.model, "AE cost")
                extra = f", {eq} {res.cost[-1]:.2f}"
            print(f"{row.method:10s} {row.seconds:7.1f} s, {row.n_active:4d} active, "
                  f"EV {100 * row.explained_variance:5.1f} %{extra}, alpha "
                  f"{row.params.get('alpha', '-')}")
            for p in peaks:
                print(f"    x {p[0]:6.1f}  y {p[1]:6.1f}  z {p[2]:6.1f} mm  rel. amp {p[3]}")
            out[name][row.method] = dict(seconds=row.seconds, n_active=row.n_active,
                                         ev=row.explained_variance, peaks=peaks)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gamma-map-maxit", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads for both solvers (default: as set)")
    parser.add_argument("--report", action="store_true",
                        help="localize auditory and visual with every method")
    args = parser.parse_args(argv)
    if args.report:
        out = report_real()
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "real_report.json").write_text(json.dumps(out, indent=2))
        return out

    from threadpoolctl import threadpool_limits

    from vaesource.solvers import cost_full

    t0 = time.perf_counter()
    evoked, fwd, cov = build_problem()
    print(f"problem built in {time.perf_counter() - t0:.1f} s: "
          f"{len(evoked.ch_names)} channels, {fwd['nsource']} locations, "
          f"{3 * fwd['nsource']} columns, {len(evoked.times)} samples, "
          f"nave {evoked.nave}")

    with warnings.catch_warnings(), threadpool_limits(args.blas_threads, "blas"):
        warnings.simplefilter("ignore")
        stc, t_vae = run_vae(evoked, fwd, cov)
    res = stc.vae_result
    M, G = res.info["M"], res.info["lead_field"].G
    c_vae = cost_full(M, G, res.weights, res.gamma)
    print(f"full VAE: {t_vae:.1f} s, {res.n_iter} iterations, converged "
          f"{res.converged}, {res.active_set.size // 3} active, cost "
          f"{c_vae:.6f} (solver's last {res.cost[-1]:.6f})")

    with warnings.catch_warnings(), threadpool_limits(args.blas_threads, "blas"):
        warnings.simplefilter("ignore")
        stc_gm, t_gm, CM, n_gm = run_gamma_map(
            evoked, fwd, cov, maxit=args.gamma_map_maxit
        )
    # gamma_map whitens onto the 303 non-zero noise components (pca=True),
    # we keep 306 rows of which 3 are zero; with gamma = 1 the zero rows add
    # nothing to cost (18), so both costs are evaluated on gamma_map's arrays
    from vaesource.forward import leadfield_from_forward
    from vaesource.inverse import scale_noise_cov

    lf_pca = leadfield_from_forward(
        fwd, evoked, scale_noise_cov(cov, evoked.nave), pca=True, verbose=False
    )
    M_p, G_p = lf_pca.whiten(evoked), lf_pca.G
    c = np.linalg.norm(M_p @ M_p.T, ord="fro")
    c_gm = cost_from_sigma(M_p, c * CM)
    c_vae_p = cost_full(M_p, G_p, res.weights, res.gamma)
    print(f"cost (18) on the rank-{M_p.shape[0]} arrays: VAE {c_vae_p:.6f} "
          f"(306-row value {c_vae:.6f}), gamma_map {c_gm:.6f}")
    c_vae = c_vae_p
    # consistency of the captured Sigma with gamma_map's estimate: its fit is
    # G X = G Gamma G^T Sigma^-1 M = M - Sigma^-1 M (noise variance 1)
    sw = lf_pca.source_weighting
    X_gm = np.zeros((G_p.shape[1], M_p.shape[1]))
    verts = np.concatenate(stc_gm.vertices)
    idx = np.searchsorted(lf_pca.vertices[0], verts)
    for k, i in enumerate(idx):  # xyz components (volume grid: no surf_ori)
        X_gm[3 * i : 3 * i + 3] = stc_gm.data[k] / sw[3 * i : 3 * i + 3, None]
    fit = G_p @ X_gm
    pred = M_p - np.linalg.solve(c * CM, M_p)
    print(f"check of the captured Sigma: ||G X - (M - Sigma^-1 M)|| / ||G X|| = "
          f"{np.linalg.norm(fit - pred) / np.linalg.norm(fit):.2e}")
    hit_cap = n_gm >= args.gamma_map_maxit
    print(f"gamma_map: {t_gm:.1f} s, {n_gm} iterations"
          f"{' (cap hit: not converged)' if hit_cap else ''}, "
          f"{sum(len(v) for v in stc_gm.vertices)} active, cost {c_gm:.6f}")
    ratio = t_gm / t_vae
    print(f"time ratio gamma_map / VAE: {'>= ' if hit_cap else ''}{ratio:.1f}")
    print(f"cost difference (gamma_map - VAE): {c_gm - c_vae:.6g} "
          f"(relative {(c_gm - c_vae) / abs(c_vae):.3g})")
    out = dict(
        n_channels=len(evoked.ch_names), n_locations=int(fwd["nsource"]),
        vae_seconds=t_vae, vae_iter=int(res.n_iter), vae_converged=bool(res.converged),
        vae_cost=c_vae, gamma_map_seconds=t_gm, gamma_map_iter=int(n_gm),
        gamma_map_cap_hit=bool(hit_cap), gamma_map_cost=c_gm, ratio=ratio,
    )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_inverse.json").write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

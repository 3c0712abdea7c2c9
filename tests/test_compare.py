"""Tests of vaesource.compare: VAE inverses next to MNE's sparse solvers."""

import mne
import numpy as np
import pytest

from vaesource.simulation import cortical_evoked
from vaesource.compare import Comparison, compare, mxne_noise_alpha
from vaesource.metrics import localization_error, stc_sources


@pytest.fixture(scope="module")
def problem(template_cache):
    """Two sources, 102 magnetometers, sources within 40 mm of them."""
    from vaesource.datasets import template

    coarse = template("ico3", sensors="meg", cache_dir=template_cache)
    fine = template("ico4", sensors="meg", cache_dir=template_cache)
    sim = cortical_evoked(fine, 2, snr=10.0, seed=7, inverse_template=coarse,
                          nave=2, sfreq=100.0)
    fwd = sim.forward
    near = np.min(np.linalg.norm(
        fwd["source_rr"][:, None] - sim.positions[None], axis=-1), 1) < 0.04
    n_lh = len(fwd["src"][0]["vertno"])
    verts = [fwd["src"][0]["vertno"][near[:n_lh]], fwd["src"][1]["vertno"][near[n_lh:]]]
    dummy = mne.SourceEstimate(np.zeros((near.sum(), 1)), verts, 0, 1)
    fwd = mne.forward.restrict_forward_to_stc(fwd, dummy, on_missing="ignore")
    return sim, sim.evoked.copy().pick("mag"), fwd


def test_compare_methods(problem):
    sim, ev, fwd = problem
    from threadpoolctl import threadpool_limits

    methods = ("full_vae", "gamma_map", "mxne", "irmxne")
    # threaded BLAS only slows these small products down on shared cores
    with threadpool_limits(1, user_api="blas"):
        comp = compare(ev, fwd, sim.noise_cov, methods=methods, loose=0.0,
                       gamma_map_kw=dict(tol=1e-4))
    assert isinstance(comp, Comparison) and comp.methods == list(methods)
    for row in comp.rows:
        assert isinstance(row.estimate, mne.SourceEstimate)
        assert 0.5 < row.explained_variance < 1.0, row.method
        assert row.seconds > 0 and row.n_active >= 1
        pos, amp = stc_sources(row.estimate, fwd)
        assert np.all(localization_error(sim.positions, pos, amp) < 15), row.method
    # the same cost (18) and the same noise level: the same fit
    assert comp["full_vae"].explained_variance == pytest.approx(
        comp["gamma_map"].explained_variance, abs=0.01
    )
    assert comp["gamma_map"].params["alpha"] == 1.0
    alpha = comp["mxne"].params["alpha"]
    assert 1.0 <= alpha <= 99.0 and comp["irmxne"].params["n_mxne_iter"] == 10
    # irMxNE is sparser than MxNE at the same alpha
    assert comp["irmxne"].n_active <= comp["mxne"].n_active
    text = comp.summary()
    assert all(m in text for m in methods)
    with pytest.raises(KeyError):
        comp["champagne"]


def test_mxne_noise_alpha():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((50, 60))
    E = rng.standard_normal((50, 20))
    # noise alone sits at the threshold: about 100 % of its own alpha_max
    assert mxne_noise_alpha(E, G, 1) > 75
    # a strong source pushes alpha_max up and the percentage down
    X = np.zeros((60, 20))
    X[3] = 10 * rng.standard_normal(20)
    low = mxne_noise_alpha(G @ X + E, G, 1)
    assert low < 25
    # the MxNE solution at that alpha on pure noise is empty: alpha is above
    # max_i ||G_i^T E||_F for most noise draws
    from mne.inverse_sparse.mxne_optim import mixed_norm_solver

    M = rng.standard_normal((50, 20))
    alpha_abs = np.median([np.max(np.linalg.norm(
        G.T @ rng.standard_normal((50, 20)), axis=1)) for _ in range(20)])
    if alpha_abs < np.max(np.linalg.norm(G.T @ M, axis=1)):
        pytest.skip("this draw is above the median")
    X_hat, active, _ = mixed_norm_solver(M, G, alpha_abs, verbose=False)
    assert active.sum() == 0


def test_compare_bad_input(problem):
    sim, ev, fwd = problem
    with pytest.raises(ValueError, match="'methods' parameter"):
        compare(ev, fwd, sim.noise_cov, methods=("champagne",))
    with pytest.raises(ValueError, match="must not be empty"):
        compare(ev, fwd, sim.noise_cov, methods=())
    with pytest.raises(ValueError, match="mxne_alpha"):
        compare(ev, fwd, sim.noise_cov, mxne_alpha=150)
    with pytest.raises(ValueError, match="no sample"):
        compare(ev, fwd, sim.noise_cov, tmin=5.0, tmax=6.0)


def test_run_cortical_small(template_cache, tmp_path):
    from vaesource.benchmark.cortical import (
        COLUMNS,
        CorticalResult,
        CorticalSettings,
        run_cortical,
    )

    settings = CorticalSettings(cache_dir=str(template_cache))
    res = run_cortical(
        n_sources=(2,), snrs=(10.0,), n_trials=1, methods=("full_vae", "mxne"),
        settings=settings, progress=False,
    )
    # the full VAE as users get it, then its optimum before the selection
    assert [r["method"] for r in res.rows] == ["full_vae", "full_vae_optimum",
                                               "mxne"]
    full = res.rows[0]
    assert res.rows[1]["n_active"] >= full["n_active"]
    assert set(full) == set(COLUMNS)
    # off-grid sources: the error is at least the distance to the grid
    assert full["grid_error_mm"] > 0
    assert full["loc_error_mm"] < 15 and full["recall"] == 1.0
    assert full["seconds"] > 0 and full["n_active"] >= 2
    back = CorticalResult.from_csv(res.to_csv(tmp_path / "c.csv"))
    assert back.rows[0]["loc_error_mm"] == pytest.approx(full["loc_error_mm"])
    res.plot(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
    assert "full_vae" in res.summary() and "full_vae_optimum" in res.summary()
    with pytest.raises(ValueError, match="'methods' parameter"):
        run_cortical(methods=("champagne",), settings=settings)

"""Tests of the l2,1 (group lasso / MxNE) solver."""

import logging
import warnings

import numpy as np
import pytest
from mne.inverse_sparse.mxne_optim import mixed_norm_solver
from numpy.testing import assert_allclose, assert_array_equal

from vaesource.solvers import alpha_max, group_lasso
from vaesource.utils import ConvergenceWarning


def _problem(n_sensors=30, n_sources=60, n_times=10, seed=0):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n_sensors, n_sources))
    M = rng.standard_normal((n_sensors, n_times))
    return M, G


def _row_sparse(r, seed, n_sensors=100, n_sources=200, n_times=50, rank=5):
    """The paper's noiseless problem: unit-norm Gaussian dictionary and r
    unit-norm, rank-``rank`` correlated rows."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n_sensors, n_sources))
    G /= np.linalg.norm(G, axis=0)
    support = np.sort(rng.choice(n_sources, r, replace=False))
    X = np.zeros((n_sources, n_times))
    block = rng.standard_normal((r, rank)) @ rng.standard_normal((rank, n_times))
    X[support] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return G @ X, G, X, support


def _loc_norms(X, n_orient):
    return np.linalg.norm(X.reshape(X.shape[0] // n_orient, -1), axis=1)


def _primal(M, G, X, alpha, n_orient):
    return 0.5 * np.sum((M - G @ X) ** 2) + alpha * _loc_norms(X, n_orient).sum()


def _dual_gap(M, G, X, alpha, n_orient):
    """Duality gap computed independently, as primal minus dual objective."""
    R = M - G @ X
    dual_norm = _loc_norms(G.T @ R, n_orient).max()
    nu = R * min(1.0, alpha / dual_norm)
    dual = 0.5 * np.sum(M**2) - 0.5 * np.sum((M - nu) ** 2)
    return _primal(M, G, X, alpha, n_orient) - dual


# ------------------------------------------------------ agreement with MNE ---


@pytest.mark.parametrize("n_orient, n_times", [(1, 40), (3, 10)])
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.6])
def test_matches_mne_mixed_norm_solver(n_orient, n_times, fraction):
    """Same problem, same solution as MNE's l2,1 solver (independent code).

    ``n_times = 40 > n_sensors`` exercises the exact data reduction.
    """
    M, G = _problem(n_sources=60 * n_orient, n_times=n_times,
                    seed=int(100 * fraction) + n_orient)
    alpha = fraction * alpha_max(M, G, n_orient)
    res = group_lasso(M, G, alpha=alpha, n_orient=n_orient, tol=1e-10)
    X_mne, mask, _ = mixed_norm_solver(
        M, G, alpha, maxit=3000, tol=1e-10, n_orient=n_orient, debias=False,
        active_set_size=10, verbose=False,
    )
    X_ref = np.zeros_like(res.X)
    X_ref[mask] = X_mne
    assert res.converged
    assert 0 < res.active_set.size < G.shape[1]
    assert_array_equal(res.active_set, np.flatnonzero(mask))
    assert np.linalg.norm(res.X - X_ref) <= 1e-5 * np.linalg.norm(X_ref)
    p_ours = _primal(M, G, res.X, alpha, n_orient)
    p_mne = _primal(M, G, X_ref, alpha, n_orient)
    assert abs(p_ours - p_mne) <= 1e-8 * p_mne


# ------------------------------------------------------------ optimality ---


@pytest.mark.parametrize("n_orient", [1, 3])
@pytest.mark.parametrize("fraction", [1e-4, 0.05, 0.5])
def test_kkt_gap_and_result_fields(n_orient, fraction):
    M, G = _problem(n_sources=90, seed=7)
    alpha = fraction * alpha_max(M, G, n_orient)

    # KKT: G_i^T R = alpha X_i / ||X_i|| on the support, <= alpha elsewhere
    # (at a tight tolerance, since the gap bounds them only loosely)
    res = group_lasso(M, G, alpha=alpha, n_orient=n_orient, tol=1e-12)
    assert res.converged
    corr = (G.T @ (M - G @ res.X)).reshape(-1, n_orient * M.shape[1])
    X_loc = res.X.reshape(corr.shape)
    norms = np.linalg.norm(X_loc, axis=1)
    active = norms > 0
    assert active.any()
    assert_allclose(corr[active], alpha * X_loc[active] / norms[active, None],
                    rtol=0, atol=1e-6 * alpha)
    assert np.all(np.linalg.norm(corr[~active], axis=1) <= alpha * (1 + 1e-6))

    tol = 1e-8
    res = group_lasso(M, G, alpha=alpha, n_orient=n_orient, tol=tol)
    assert res.converged and res.model == "group_lasso"
    assert res.n_orient == n_orient and res.gamma is None and res.params is None
    X_loc = res.X.reshape(corr.shape)
    norms = np.linalg.norm(X_loc, axis=1)
    active = norms > 0

    # the certified gap is a true duality gap, below the documented tolerance
    gap = _dual_gap(M, G, res.X, alpha, n_orient)
    assert -1e-12 <= gap <= tol * 0.5 * np.sum(M**2) * (1 + 1e-6)
    assert res.info["gap"] <= tol * 0.5 * np.sum(M**2)
    assert res.info["alpha"] == alpha and res.info["tol"] == tol

    # cost: finite, one value before and after each iteration, ending at the
    # objective of the returned X
    assert res.cost.shape == (res.n_iter + 1,)
    assert np.all(np.isfinite(res.cost))
    assert_allclose(res.cost[0], 0.5 * np.sum(M**2))
    assert_allclose(res.cost[-1], _primal(M, G, res.X, alpha, n_orient), rtol=1e-9)

    # weights: ||X_i||_F repeated over the location's columns
    assert_allclose(res.weights, np.repeat(norms, n_orient))
    assert_array_equal(res.active_set, np.flatnonzero(np.repeat(active, n_orient)))
    assert res.active_set.dtype.kind == "i"


def test_warm_start_returns_the_same_solution():
    M, G = _problem(seed=3)
    alpha = 0.2 * alpha_max(M, G)
    cold = group_lasso(M, G, alpha=alpha, tol=1e-10)
    warm = group_lasso(M, G, alpha=alpha, tol=1e-10, X_init=cold.X)
    assert warm.converged and warm.n_iter <= 2
    assert_allclose(warm.X, cold.X, atol=1e-8 * np.abs(cold.X).max())
    # a warm start from elsewhere reaches the same solution too
    other = group_lasso(M, G, alpha=alpha, tol=1e-10,
                        X_init=np.ones_like(cold.X))
    assert_allclose(other.X, cold.X, atol=1e-6 * np.abs(cold.X).max())


# ------------------------------------------------------------ edge cases ---


@pytest.mark.parametrize("n_orient", [1, 3])
def test_alpha_max_and_zero_data_give_zero(n_orient):
    M, G = _problem(seed=1)
    a_max = alpha_max(M, G, n_orient)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for alpha in (a_max, 2 * a_max):
            res = group_lasso(M, G, alpha=alpha, n_orient=n_orient)
            assert res.X.shape == (G.shape[1], M.shape[1])
            assert not np.any(res.X) and res.active_set.size == 0
            assert res.n_iter == 0 and res.converged
            assert not np.any(res.weights)
        res = group_lasso(np.zeros_like(M), G, alpha=1.0, n_orient=n_orient)
        assert not np.any(res.X) and res.active_set.size == 0 and res.converged
    # just below alpha_max, exactly one location becomes active
    res = group_lasso(M, G, alpha=0.999 * a_max, n_orient=n_orient)
    assert res.active_set.size == n_orient


# ------------------------------------------------------ noiseless regime ---


def test_noiseless_recovery_with_tiny_alpha():
    """alpha = 1e-5 alpha_max approximates basis pursuit: a sparse enough
    row-sparse X is recovered exactly, with the paper's 1e-3 accuracy."""
    M, G, X, support = _row_sparse(5, seed=0)
    res = group_lasso(M, G, alpha=1e-5 * alpha_max(M, G))
    assert res.converged
    assert_array_equal(res.active_set, support)
    assert np.linalg.norm(res.X - X) <= 1e-3 * np.linalg.norm(X)


def test_tiny_alpha_with_large_support_converges_fast():
    """The ill-conditioned regime (support beyond the number of sensors)
    where coordinate descent needs minutes: few iterations here."""
    M, G, _, _ = _row_sparse(60, seed=1)
    alpha = 1e-5 * alpha_max(M, G)
    res = group_lasso(M, G, alpha=alpha)
    assert res.converged and res.n_iter <= 150
    assert res.active_set.size > M.shape[0]
    assert _dual_gap(M, G, res.X, alpha, 1) <= 1e-8 * 0.5 * np.sum(M**2) * 1.01


# ------------------------------------------------ warnings and validation ---


def test_convergence_warning_reports_the_gap():
    M, G, _, _ = _row_sparse(40, seed=2)
    with pytest.warns(ConvergenceWarning, match=r"duality gap \d\.\de[-+]\d+, "
                      r"tolerance 1\.0e-08") as record:
        res = group_lasso(M, G, alpha=1e-4 * alpha_max(M, G), max_iter=2)
    # attributed to the caller, not to the solver's internals
    assert record[0].filename == __file__
    assert not res.converged and res.n_iter == 2
    assert res.info["gap"] > 1e-8 * 0.5 * np.sum(M**2)
    assert_allclose(res.info["gap_relative"], res.info["gap"] / (0.5 * np.sum(M**2)))
    assert f"{res.info['gap_relative']:.1e}" in str(record[0].message)


def test_verbose_logs_progress(caplog):
    M, G = _problem(seed=4)
    with caplog.at_level(logging.DEBUG, logger="vaesource"):
        group_lasso(M, G, alpha=0.3 * alpha_max(M, G), verbose="debug")
    assert "working set" in caplog.text and "gap" in caplog.text


def test_bad_input():
    M, G = _problem(n_sources=200)
    M_nan = M.copy()
    M_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="'M'.*non-finite"):
        group_lasso(M_nan, G, alpha=1.0)
    with pytest.raises(ValueError, match="G.shape"):
        group_lasso(M, G[:-1], alpha=1.0)
    with pytest.raises(ValueError, match="'n_orient'.*3 does not divide"):
        group_lasso(M, G, alpha=1.0, n_orient=3)
    for alpha in (0, -1.0, np.nan):
        with pytest.raises(ValueError, match="'alpha'"):
            group_lasso(M, G, alpha=alpha)
    with pytest.raises(ValueError, match="'max_iter'"):
        group_lasso(M, G, alpha=1.0, max_iter=0)
    with pytest.raises(ValueError, match="'X_init'"):
        group_lasso(M, G, alpha=1.0, X_init=np.zeros((3, 3)))

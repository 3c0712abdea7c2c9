"""Tests of the paper's problem generator and success criterion."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from vaesource.simulation import paper_problem


@pytest.mark.parametrize("setting", ["unit", "jeffreys", "noisy"])
def test_paper_problem_construction(setting):
    p = paper_problem(setting, 30, seed=3)
    assert p.M.shape == (100, 50) and p.G.shape == (100, 200)
    assert p.X.shape == (200, 50)
    assert_allclose(np.linalg.norm(p.G, axis=0), 1.0)
    norms = np.linalg.norm(p.X, axis=1)
    assert_allclose(np.flatnonzero(norms), p.support)
    assert p.support.size == 30 and np.all(np.diff(p.support) > 0)
    # the non-zero block has rank tau = 5: correlated rows
    assert np.linalg.matrix_rank(p.X[p.support]) == 5
    if setting == "jeffreys":
        nu = norms[p.support]
        assert np.all((nu >= 0.01) & (nu <= 100)) and nu.max() / nu.min() > 10
    else:
        assert_allclose(norms[p.support], 1.0)
    if setting == "noisy":
        E = p.M - p.G @ p.X
        snr = 10 * np.log10(np.sum((p.G @ p.X) ** 2) / np.sum(E**2))
        assert_allclose(snr, 20.0)
        assert_allclose(p.noise_var, np.mean(E**2))
        assert p.gamma == p.noise_var
        assert_allclose(p.group_lasso_alpha, np.sqrt(p.noise_var) / 2)
    else:
        assert_allclose(p.M, p.G @ p.X)
        assert p.noise_var == 0.0 and p.gamma == 1e-10


def test_jeffreys_scaling_is_log_uniform():
    nu = np.concatenate([
        np.linalg.norm(paper_problem("jeffreys", 90, seed=s).X, axis=1)
        for s in range(20)
    ])
    log_nu = np.log10(nu[nu > 0])
    # log-uniform on [1e-2, 1e2]: equal mass per decade
    counts, _ = np.histogram(log_nu, bins=4, range=(-2, 2))
    assert counts.min() > 0.8 * counts.mean()


def test_seeded_and_independent():
    a, b = paper_problem("unit", 10, seed=1), paper_problem("unit", 10, seed=1)
    assert_allclose(a.M, b.M)
    c = paper_problem("unit", 10, seed=2)
    assert not np.allclose(a.G, c.G)


def test_success_criterion():
    p = paper_problem("unit", 10, seed=0)
    assert p.success(p.X)
    assert p.success(p.X * (1 + 5e-4))  # within 1e-3
    assert not p.success(p.X * (1 + 5e-3))  # right support, too inaccurate
    wrong = p.X.copy()
    wrong[[p.support[0]]] = 0
    off = np.setdiff1d(np.arange(200), p.support)[0]
    wrong[off] = 1.0
    assert not p.success(wrong)
    # noisy: support only
    q = paper_problem("noisy", 10, seed=0)
    assert q.success(q.X * 1.5)
    with pytest.raises(ValueError, match="shape"):
        p.success(p.X[:5])
    # r = 0: only the zero estimate succeeds
    z = paper_problem("unit", 0, seed=0)
    assert np.all(z.M == 0) and z.success(np.zeros_like(z.X))
    assert not z.success(np.ones_like(z.X))


def test_bad_input():
    with pytest.raises(ValueError, match="'setting'.*'unit'.*got 'gauss'"):
        paper_problem("gauss", 3, seed=0)
    with pytest.raises(ValueError, match="'r'.*<= n_sources"):
        paper_problem("unit", 201, seed=0)
    with pytest.raises(ValueError, match="'r'"):
        paper_problem("unit", -1, seed=0)
    with pytest.raises(ValueError, match="'a'"):
        paper_problem("jeffreys", 3, seed=0, a=2.0)

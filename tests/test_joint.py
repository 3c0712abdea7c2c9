"""Many responses, one support: ``full_vae(..., n_times=)`` on a thin factor
of the responses and :func:`joint_full_vae` (DESIGN section 9)."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from vaesource.solvers import full_vae
from vaesource.utils import ConvergenceWarning


def _problem(n_orient=1, n_resp=3, n_sensors=40, n_cols=120, n_t=(20, 25, 18),
             n_active=3, seed=0, noise=0.3, scales=None):
    """Responses sharing ``n_active`` locations, with their own time courses
    and noise levels ``noise * sqrt(scales[c])``."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n_sensors, n_cols))
    G /= np.linalg.norm(G, axis=0)
    n_loc = n_cols // n_orient
    locs = rng.choice(n_loc, n_active, replace=False)
    cols = (locs[:, None] * n_orient + np.arange(n_orient)).ravel()
    scales = np.ones(n_resp) if scales is None else np.asarray(scales, float)
    Ms = []
    for c in range(n_resp):
        X = rng.standard_normal((cols.size, n_t[c % len(n_t)]))
        M = G[:, cols] @ X
        M += noise * np.sqrt(scales[c]) * rng.standard_normal(M.shape)
        Ms.append(M)
    return Ms, G, noise**2


def _thin(Ms):
    """Thin factor of ``sum_c M_c M_c^T`` from its eigendecomposition."""
    C = sum(M @ M.T for M in Ms)
    lam, V = np.linalg.eigh(C)
    keep = lam > 1e-12 * lam.max()
    return V[:, keep] * np.sqrt(lam[keep])


def _quiet(fun, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fun(*args, **kw)


# ------------------------------------------------------ n_times (task 1) ---


@pytest.mark.parametrize("n_orient", [1, 3])
@pytest.mark.parametrize("update", ["newton", "mackay"])
def test_thin_factor_equals_stacked(n_orient, update):
    """A thin factor of the summed outer product with n_times = the total
    solves the same cost (18) as the stacked responses."""
    Ms, G, gamma = _problem(n_orient)
    M = np.hstack(Ms)
    Q = _thin(Ms)
    assert Q.shape[1] < M.shape[1]
    kw = dict(gamma=gamma, n_orient=n_orient, update=update, tol=1e-12)
    a = _quiet(full_vae, M, G, **kw)
    b = _quiet(full_vae, Q, G, n_times=M.shape[1], **kw)
    assert b.info["n_times"] == a.info["n_times"] == M.shape[1]
    assert b.X.shape == (G.shape[1], Q.shape[1])
    assert_allclose(b.weights, a.weights, rtol=1e-6, atol=1e-10 * a.weights.max())
    assert_allclose(b.cost[-1], a.cost[-1], rtol=1e-9)
    assert_array_equal(b.active_set, a.active_set)
    act = a.active_set
    assert_allclose(b.X[act] @ b.X[act].T, a.X[act] @ a.X[act].T, rtol=1e-5,
                    atol=1e-8 * np.abs(a.X).max() ** 2)
    assert_allclose(b.evidence, a.evidence, rtol=1e-5)
    # the per-sample count matters: without it the cost differs
    c = _quiet(full_vae, Q, G, **kw)
    assert not np.isclose(c.cost[-1], a.cost[-1])


@pytest.mark.parametrize("n_orient", [1, 3])
def test_thin_factor_selection(n_orient):
    Ms, G, gamma = _problem(n_orient, seed=1, noise=0.6)
    M, Q = np.hstack(Ms), _thin(Ms)
    kw = dict(gamma=gamma, n_orient=n_orient, min_evidence="auto")
    a = _quiet(full_vae, M, G, **kw)
    b = _quiet(full_vae, Q, G, n_times=M.shape[1], **kw)
    assert_array_equal(b.locations, a.locations)
    assert_allclose(b.weights, a.weights, rtol=1e-6, atol=1e-10 * a.weights.max())
    assert_allclose(b.evidence, a.evidence, rtol=1e-5)
    assert b.info["n_times"] == M.shape[1]
    assert b.info["optimum"].info["n_times"] == M.shape[1]
    assert_array_equal(b.info["optimum"].locations, a.info["optimum"].locations)


def test_thin_factor_learn_gamma():
    Ms, G, gamma = _problem(1, seed=2)
    M, Q = np.hstack(Ms), _thin(Ms)
    kw = dict(gamma=1.0, learn_gamma=True)
    a = _quiet(full_vae, M, G, **kw)
    b = _quiet(full_vae, Q, G, n_times=M.shape[1], **kw)
    assert_allclose(b.gamma, a.gamma, rtol=1e-6)
    assert_allclose(b.weights, a.weights, rtol=1e-5, atol=1e-9 * a.weights.max())
    assert_allclose(b.cost[-1], a.cost[-1], rtol=1e-9)
    for update in ("mackay",):
        a = _quiet(full_vae, M, G, update=update, **kw)
        b = _quiet(full_vae, Q, G, n_times=M.shape[1], update=update, **kw)
        assert_allclose(b.gamma, a.gamma, rtol=1e-4)
        assert_allclose(b.cost[-1], a.cost[-1], rtol=1e-7)


def test_thin_factor_noise_groups():
    Ms, G, gamma = _problem(1, seed=3)
    M, Q = np.hstack(Ms), _thin(Ms)
    groups = np.repeat([0, 1], G.shape[0] // 2)
    kw = dict(gamma=gamma, noise_groups=groups)
    a = _quiet(full_vae, M, G, **kw)
    b = _quiet(full_vae, Q, G, n_times=M.shape[1], **kw)
    assert_allclose(b.info["noise_var"], a.info["noise_var"], rtol=1e-5)
    assert_allclose(b.weights, a.weights, rtol=1e-5, atol=1e-9 * a.weights.max())
    assert_allclose(b.cost[-1], a.cost[-1], rtol=1e-8)
    assert_allclose(b.evidence, a.evidence, rtol=1e-4)


def test_thin_factor_restarts_and_empty():
    Ms, G, gamma = _problem(1, seed=4)
    M, Q = np.hstack(Ms), _thin(Ms)
    kw = dict(gamma=gamma, n_restarts=3, random_state=0)
    a = _quiet(full_vae, M, G, **kw)
    b = _quiet(full_vae, Q, G, n_times=M.shape[1], **kw)
    assert_allclose(b.info["restarts"]["costs"], a.info["restarts"]["costs"],
                    rtol=1e-7)
    # nothing clears a huge threshold: the empty estimate, on Q's columns
    with pytest.warns(UserWarning, match="No source reaches"):
        e = full_vae(Q, G, n_times=M.shape[1], gamma=gamma, min_evidence=1e12)
    assert e.locations.size == 0
    assert e.X.shape == (G.shape[1], Q.shape[1])
    assert e.info["n_times"] == M.shape[1]
    with pytest.warns(UserWarning, match="No source reaches"):
        ea = full_vae(M, G, gamma=gamma, min_evidence=1e12)
    assert_allclose(e.cost[-1], ea.cost[-1], rtol=1e-10)
    pickle.loads(pickle.dumps(e))


def test_n_times_validation():
    Ms, G, gamma = _problem(1)
    with pytest.raises(TypeError, match="n_times"):
        full_vae(Ms[0], G, n_times=3.5)
    with pytest.raises(TypeError, match="n_times"):
        full_vae(Ms[0], G, n_times=True)
    with pytest.raises(ValueError, match="n_times"):
        full_vae(Ms[0], G, n_times=0)

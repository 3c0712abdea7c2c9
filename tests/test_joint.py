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
@pytest.mark.parametrize("update", ["newton", "mackay"])
def test_thin_factor_selection(n_orient, update):
    Ms, G, gamma = _problem(n_orient, seed=1, noise=0.6)
    M, Q = np.hstack(Ms), _thin(Ms)
    kw = dict(gamma=gamma, n_orient=n_orient, min_evidence="auto",
              update=update, tol=1e-12)
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


# ------------------------------------------------ joint_full_vae (task 2) ---

SCALES = [1.0, 2.5, 6.0]


def _dense_cost(Ms, G, w_cols, gammas, n_each):
    """The joint cost by dense numpy."""
    A = (G * w_cols) @ G.T
    total = 0.0
    for M, g, n in zip(Ms, gammas, n_each):
        S = A + g * np.eye(G.shape[0])
        total += np.trace(M.T @ np.linalg.solve(S, M)) + n * np.linalg.slogdet(S)[1]
    return total


def _dense_rho(Ms, G, w_cols, gammas, n_each, n_orient):
    """Joint MacKay ratios of every location by dense numpy."""
    A = (G * w_cols) @ G.T
    num = den = 0.0
    for M, g, n in zip(Ms, gammas, n_each):
        P = np.linalg.inv(A + g * np.eye(G.shape[0]))
        B = G.T @ P @ M
        num = num + np.sum(B**2, axis=1)
        den = den + n * np.einsum("ij,ij->j", G, P @ G)
    loc = lambda v: v.reshape(-1, n_orient).sum(axis=1)  # noqa: E731
    return loc(num) / loc(den)


def _joint(Ms, G, gamma, n_orient=1, scales=SCALES, **kw):
    from vaesource.solvers import joint_full_vae

    return joint_full_vae(Ms, G, gamma=gamma, noise_scales=scales,
                          n_orient=n_orient, **kw)


@pytest.mark.parametrize("n_orient", [1, 3])
@pytest.mark.parametrize("update", ["newton", "mackay"])
def test_joint_equal_scales_is_full_vae(n_orient, update):
    Ms, G, gamma = _problem(n_orient, seed=5)
    a = _quiet(full_vae, np.hstack(Ms), G, gamma=2 * gamma, n_orient=n_orient,
               update=update, min_evidence="auto")
    b = _quiet(_joint, Ms, G, gamma, n_orient, scales=[2.0] * 3, update=update,
               min_evidence="auto")
    assert_array_equal(b.locations, a.locations)
    assert_allclose(b.weights, a.weights, rtol=1e-6, atol=1e-12)
    assert_allclose(b.X, a.X, rtol=1e-6, atol=1e-9 * np.abs(a.X).max())
    assert_allclose(b.cost[-1], a.cost[-1], rtol=1e-10)
    assert_allclose(b.evidence, a.evidence, rtol=1e-6)
    assert b.gamma == gamma and b.info["n_times"] == sum(M.shape[1] for M in Ms)
    for res in (b, b.info["optimum"]):
        resp = res.info["responses"]
        assert len(resp) == 3
        assert_allclose(np.hstack([r.X for r in resp]), res.X)
        assert_allclose(sum(r.cost[-1] for r in resp), res.cost[-1], rtol=1e-8)
        for r, M in zip(resp, Ms):
            assert r.gamma == 2 * gamma and r.info["n_times"] == M.shape[1]
            assert_allclose(r.evidence, res.evidence)
            assert_allclose(r.posterior_cov, res.posterior_cov)


def test_joint_single_response_is_full_vae():
    Ms, G, gamma = _problem(3, seed=6)
    a = full_vae(Ms[0], G, gamma=gamma * 3.0, n_orient=3)
    b = _joint(Ms[:1], G, gamma, 3, scales=[3.0])
    assert_allclose(b.weights, a.weights, rtol=1e-10, atol=1e-14)
    assert_allclose(b.X, a.X, rtol=1e-8, atol=1e-12)
    assert_allclose(b.evidence, a.evidence, rtol=1e-8)
    r = b.info["responses"][0]
    assert_allclose(r.posterior_cov, a.posterior_cov, rtol=1e-8, atol=1e-14)
    assert r.gamma == 3.0 * gamma


def _check_kkt(res, Ms, G, gamma, n_orient, scales=SCALES, tol=1e-5):
    gammas = gamma * np.asarray(scales)
    n_each = [M.shape[1] for M in Ms]
    rho = _dense_rho(Ms, G, res.weights, gammas, n_each, n_orient)
    active = res.weights[::n_orient] > 0
    assert active.any()
    assert rho[~active].max(initial=0) <= 1 + tol
    assert np.abs(rho[active] - 1).max() <= tol
    return rho


@pytest.mark.parametrize("n_orient", [1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_joint_unequal_kkt_and_minimum(n_orient, seed):
    """The returned point is a KKT point of the joint cost, below the
    equal-scale optimum, each response's own optimum and perturbations."""
    Ms, G, gamma = _problem(n_orient, seed=seed, scales=SCALES)
    res = _joint(Ms, G, gamma, n_orient)
    assert res.converged and res.info["kkt_violation"] <= 1e-6
    _check_kkt(res, Ms, G, gamma, n_orient)
    gammas = gamma * np.asarray(SCALES)
    n_each = [M.shape[1] for M in Ms]

    def cost(w):
        return _dense_cost(Ms, G, w, gammas, n_each)

    f = cost(res.weights)
    assert_allclose(res.cost[-1], f, rtol=1e-9)
    assert np.all(np.diff(res.cost) <= 1e-11 * np.abs(res.cost[:-1]))
    assert_allclose(sum(r.cost[-1] for r in res.info["responses"]), f, rtol=1e-9)
    others = [_joint(Ms, G, gamma, n_orient, scales=[2.0] * 3).weights]
    others += [full_vae(M, G, gamma=g, n_orient=n_orient).weights
               for M, g in zip(Ms, gammas)]
    for w in others:
        assert cost(w) > f
    rng = np.random.default_rng(seed)
    for _ in range(5):
        w = res.weights * np.exp(_expand(0.05 * rng.standard_normal(
            res.weights.size // n_orient), n_orient))
        w += _expand(1e-3 * rng.random(w.size // n_orient)
                     * (rng.random(w.size // n_orient) < 0.2), n_orient)
        assert cost(w) >= f - 1e-10 * abs(f)


def _expand(v, n_orient):
    return np.repeat(v, n_orient)


@pytest.mark.parametrize("n_orient", [1, 3])
def test_joint_evidence_posterior_and_estimates(n_orient):
    Ms, G, gamma = _problem(n_orient, seed=7, scales=SCALES)
    res = _joint(Ms, G, gamma, n_orient)
    gammas = gamma * np.asarray(SCALES)
    n_each = [M.shape[1] for M in Ms]
    w = res.weights
    f = _dense_cost(Ms, G, w, gammas, n_each)
    brute = []
    for loc in res.locations:
        w0 = w.copy()
        w0[loc * n_orient:(loc + 1) * n_orient] = 0.0
        brute.append(_dense_cost(Ms, G, w0, gammas, n_each) - f)
    assert_allclose(res.evidence, brute, rtol=1e-6, atol=1e-8 * abs(f))
    A = (G * w) @ G.T
    act = res.active_set
    assert_allclose(res.X, np.hstack([r.X for r in res.info["responses"]]))
    for r, M, g, n in zip(res.info["responses"], Ms, gammas, n_each):
        P = np.linalg.inv(A + g * np.eye(G.shape[0]))
        X = w[:, None] * (G.T @ P @ M)
        assert_allclose(r.X, X, rtol=1e-7, atol=1e-10 * np.abs(X).max())
        assert r.X.shape == M.shape[:0] + (G.shape[1], M.shape[1])
        assert r.gamma == g and r.info["n_times"] == n
        assert_allclose(r.evidence, res.evidence)
        Wb = w[act].reshape(-1, n_orient)
        Gb = G[:, act].reshape(G.shape[0], -1, n_orient)
        post = np.array([np.diag(wi) - np.diag(wi) @ Gi.T @ P @ Gi @ np.diag(wi)
                         for wi, Gi in zip(Wb, Gb.transpose(1, 0, 2))])
        assert_allclose(r.posterior_cov, post, rtol=1e-7,
                        atol=1e-10 * np.abs(post).max())
        lo, hi = r.credible_interval(0.9)
        assert lo.shape == (act.size, M.shape[1]) and np.all(hi >= lo)
    with pytest.raises(ValueError, match="own posterior"):
        res.posterior_cov


def test_joint_thin_factors_selection_restarts_pickle():
    """Thin factors with n_times give the same joint optimum; selection and
    restarts are joint; the result pickles."""
    Ms, G, gamma = _problem(3, seed=8, noise=0.6, scales=SCALES)
    Qs = [_thin([M]) for M in Ms]
    n_each = [M.shape[1] for M in Ms]
    a = _joint(Ms, G, gamma, 3, min_evidence="auto", n_restarts=2, random_state=0)
    b = _joint(Qs, G, gamma, 3, n_times=n_each, min_evidence="auto",
               n_restarts=2, random_state=0)
    assert_array_equal(b.locations, a.locations)
    assert_allclose(b.weights, a.weights, rtol=1e-6, atol=1e-12)
    assert_allclose(b.evidence, a.evidence, rtol=1e-6)
    from vaesource.solvers import auto_min_evidence

    thr = auto_min_evidence(G.shape[1] // 3)
    assert np.all(a.evidence >= thr)
    opt = a.info["optimum"]
    assert opt.locations.size >= a.locations.size
    assert len(opt.info["responses"]) == 3
    assert a.info["restarts"]["costs"].size == 2
    assert a.info["n_times"] == sum(n_each)
    # the selected result is a KKT point on its own support
    keep = np.zeros(G.shape[1], bool)
    keep[(a.locations[:, None] * 3 + np.arange(3)).ravel()] = True
    sub = _joint(Ms, G[:, keep], gamma, 3)
    assert_allclose(sub.weights, a.weights[keep], rtol=1e-6, atol=1e-12)
    c = pickle.loads(pickle.dumps(a))
    assert_allclose(c.info["responses"][1].posterior_cov,
                    a.info["responses"][1].posterior_cov)
    assert_allclose(c.evidence, a.evidence)


def test_joint_bad_input():
    Ms, G, gamma = _problem(1)
    with pytest.raises(ValueError, match="at least one response"):
        _joint([], G, gamma, scales=None)
    with pytest.raises(ValueError, match="rows"):
        _joint([Ms[0], Ms[1][:-1]], G, gamma, scales=None)
    with pytest.raises(ValueError, match="noise_scales"):
        _joint(Ms, G, gamma, scales=[1.0, 2.0])
    with pytest.raises(ValueError, match="noise_scales"):
        _joint(Ms, G, gamma, scales=[1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="noise_scales"):
        _joint(Ms, G, gamma, scales=[1.0, np.nan, 2.0])
    bad = Ms[1].copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"Ms\[1\].*non-finite"):
        _joint([Ms[0], bad, Ms[2]], G, gamma)
    with pytest.raises(ValueError, match="n_times"):
        _joint(Ms, G, gamma, n_times=[10, 10])
    with pytest.raises(TypeError, match=r"n_times\[0\]"):
        _joint(Ms, G, gamma, n_times=[1.5, 10, 10])
    with pytest.raises(TypeError, match="Ms"):
        _joint(Ms[0], G, gamma)
    with pytest.raises(ValueError, match="update='newton'"):
        _joint(Ms, G, gamma, update="mackay")


@pytest.mark.parametrize("case", ["dense", "noiseless"])
def test_joint_unequal_dense_and_noiseless(case):
    """KKT of the joint cost where Sigma_c is factorised densely (more active
    columns than half the sensors) and where gamma is negligible (span form
    with explicit residuals)."""
    if case == "dense":
        Ms, G, gamma = _problem(1, seed=9, n_active=30, noise=0.05,
                                n_t=(60, 50, 70), scales=SCALES)
        # a noise level far below the data's: many sources stay active
        gamma = 1e-4
    else:
        Ms, G, gamma = _problem(1, seed=10, n_active=4, noise=0.0)
        gamma = 1e-9
    res = _quiet(_joint, Ms, G, gamma, 1, tol=1e-12)
    if case == "dense":
        assert res.active_set.size > G.shape[0] // 2
    assert res.info["kkt_violation"] <= 1e-6
    _check_kkt(res, Ms, G, gamma, 1, tol=1e-4 if case == "noiseless" else 1e-5)

"""Evidence, posterior covariance, selection and restarts of the full VAE."""

import numpy as np
import pytest

from vaesource.solvers import (
    auto_min_evidence,
    cost_full,
    full_vae,
    inclusion_probability,
)


def _problem(seed, n_sensors=30, n_loc=60, n_orient=1, k=3, n_times=20, noise=1.0,
             amp=1.0):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n_sensors, n_loc * n_orient))
    G /= np.linalg.norm(G, axis=0)
    G *= np.sqrt(n_sensors)
    X = np.zeros((n_loc * n_orient, n_times))
    support = np.sort(rng.choice(n_loc, k, replace=False))
    for i in support:
        X[i * n_orient:(i + 1) * n_orient] = amp * rng.standard_normal(
            (n_orient, n_times))
    M = G @ X + np.sqrt(noise) * rng.standard_normal((n_sensors, n_times))
    return M, G, X, support


@pytest.mark.parametrize("n_orient, gamma", [(1, 1.0), (3, 1.0), (1, 1e-2), (3, 1e-3)])
def test_evidence_is_cost_rise(n_orient, gamma):
    """Evidence = cost (18) without the location minus cost (18) with it,
    and the posterior blocks are those of W - W G^T Sigma^-1 G W (dense)."""
    M, G, _, _ = _problem(0, n_orient=n_orient, noise=gamma)
    res = full_vae(M, G, gamma=gamma, n_orient=n_orient)
    w = res.weights
    base = cost_full(M, G, w, gamma)
    assert res.cost[-1] == pytest.approx(base, rel=1e-12)
    dense = []
    for loc in res.locations:
        w0 = w.copy()
        w0[loc * n_orient:(loc + 1) * n_orient] = 0.0
        dense.append(cost_full(M, G, w0, gamma) - base)
    dense = np.array(dense)
    assert res.evidence.shape == (res.locations.size,)
    np.testing.assert_allclose(res.evidence, dense, rtol=1e-7, atol=1e-8)
    assert np.all(res.evidence >= -1e-8)  # removing a source never helps
    Sigma = (G * w) @ G.T + gamma * np.eye(G.shape[0])
    W = np.diag(w)
    post = W - W @ G.T @ np.linalg.solve(Sigma, G) @ W
    blocks = np.array([
        post[c:c + n_orient, c:c + n_orient]
        for c in res.locations * n_orient
    ])
    np.testing.assert_allclose(res.posterior_cov, blocks, rtol=1e-7,
                               atol=1e-10 * np.abs(blocks).max())


def test_evidence_noiseless_limit():
    """As gamma -> 0 the posterior of determined sources shrinks like gamma
    and their evidence grows like 1 / gamma (no loss of accuracy)."""
    M, G, X, support = _problem(1, k=3, noise=0.0)
    out = {}
    for gamma in (1e-6, 1e-10):
        res = full_vae(M, G, gamma=gamma)
        np.testing.assert_array_equal(res.locations, support)
        out[gamma] = res
    ratio = out[1e-6].evidence / out[1e-10].evidence
    np.testing.assert_allclose(ratio, 1e-4, rtol=1e-2)
    var = np.diagonal(out[1e-10].posterior_cov, axis1=1, axis2=2)
    assert np.all(var > 0) and np.all(var < 1e-8)
    lo, hi = out[1e-10].credible_interval(0.95)
    assert np.all(lo <= X[support] + 1e-6) and np.all(X[support] <= hi + 1e-6)


def test_evidence_only_full_vae():
    from vaesource.solvers import diag_vae

    M, G, _, _ = _problem(2)
    with pytest.raises(ValueError, match="full VAE"):
        diag_vae(M, G).evidence


def test_credible_intervals_calibrated():
    """On data drawn from the model (sources on the grid, white noise at the
    assumed level), 95 % intervals cover the truth 90-99 % of the time."""
    covered = []
    for seed in range(20):
        M, G, X, support = _problem(seed, n_sensors=40, n_loc=100, n_times=50)
        res = full_vae(M, G, min_evidence="auto")
        lo, hi = res.credible_interval(0.95)
        for i in support:
            j = np.flatnonzero(res.active_set == i)
            if j.size:
                covered.append((X[i] >= lo[j[0]]) & (X[i] <= hi[j[0]]))
            else:
                covered.append(np.zeros(X.shape[1], bool))
    coverage = np.mean(covered)
    assert 0.90 <= coverage <= 0.99, coverage


def test_selection_recovers_support():
    """The optimum at a finite noise level keeps noise-fitting sources; the
    evidence selection keeps exactly the true ones, at a stationary point of
    cost (18) on its support."""
    exact = 0
    for seed in range(10):
        M, G, _, support = _problem(seed, n_sensors=40, n_loc=100, n_times=50)
        res = full_vae(M, G, min_evidence="auto")
        opt = res.info["optimum"]
        assert opt.locations.size > support.size
        assert set(res.locations) <= set(opt.locations)
        assert np.all(res.evidence >= auto_min_evidence(100))
        assert res.info["kkt_violation"] <= 1e-5
        sel = res.info["selection"]
        assert sel["n_dropped"] == opt.locations.size - res.locations.size
        exact += np.array_equal(res.locations, support)
        # the refit minimises cost (18) on the support: not above the
        # restriction of the optimum's weights
        w = np.zeros_like(opt.weights)
        w[res.active_set] = opt.weights[res.active_set]
        assert res.cost[-1] <= cost_full(M, G, w, 1.0) + 1e-9
    assert exact >= 8


def test_inclusion_probability():
    n = 1000
    t = auto_min_evidence(n)
    assert t == pytest.approx(2 * np.log(19 * n))
    p = inclusion_probability([0.0, t, 2 * np.log(n), 4 * t, 1e6], n)
    np.testing.assert_allclose(p[[1, 2]], [0.95, 0.5])
    assert p[0] < 1e-3 and p[3] > 0.999 and p[4] == 1.0
    assert auto_min_evidence(n, 0.5) == pytest.approx(2 * np.log(n))
    with pytest.raises(ValueError, match="'probability'"):
        auto_min_evidence(n, 1.0)


def test_empty_selection_warns():
    M, G, _, _ = _problem(3)
    with pytest.warns(UserWarning, match="strongest had evidence"):
        res = full_vae(M, G, min_evidence=1e9)
    assert res.active_set.size == 0 and not np.any(res.X)
    assert res.info["optimum"].locations.size > 0


def test_restarts_agree_noiseless():
    """Theorem 4.1: with few enough sources in the noiseless limit all the
    minima reached from random starts are the sparsest solution."""
    M, G, _, support = _problem(4, k=4, noise=0.0)
    res = full_vae(M, G, gamma=1e-10, n_restarts=4, random_state=0)
    info = res.info["restarts"]
    assert info["costs"].shape == (4,)
    np.testing.assert_array_equal(res.locations, support)
    np.testing.assert_array_equal(info["frequency"], 1.0)
    np.testing.assert_array_equal(info["n_locations"], support.size)
    # seeded
    again = full_vae(M, G, gamma=1e-10, n_restarts=4, random_state=0)
    np.testing.assert_array_equal(again.info["restarts"]["costs"], info["costs"])


@pytest.mark.parametrize("kw, match", [
    (dict(min_evidence=-1.0), "min_evidence.*-1.0"),
    (dict(min_evidence="big"), "min_evidence.*big"),
    (dict(min_evidence=np.nan), "min_evidence"),
    (dict(n_restarts=0), "n_restarts.*0"),
])
def test_bad_selection_parameters(kw, match):
    M, G, _, _ = _problem(5)
    with pytest.raises(ValueError, match=match):
        full_vae(M, G, **kw)
    with pytest.raises(TypeError, match="min_evidence"):
        full_vae(M, G, min_evidence=[1.0])


def _hetero_problem(seed, n_times, per_channel):
    rng = np.random.default_rng(seed)
    n_sensors, n_loc = 60, 150
    G = rng.standard_normal((n_sensors, n_loc))
    G *= np.sqrt(n_sensors) / np.linalg.norm(G, axis=0)
    X = np.zeros((n_loc, n_times))
    support = np.sort(rng.choice(n_loc, 3, replace=False))
    X[support] = rng.standard_normal((3, n_times))
    if per_channel:
        groups = np.arange(n_sensors)
        var = np.exp(rng.uniform(np.log(0.3), np.log(3.0), n_sensors))
        true = var
    else:
        groups = np.repeat([2, 0, 1], 20)  # labels need not be sorted
        true = np.array([0.5, 1.0, 3.0])  # variance of labels 0, 1, 2
        var = true[groups]
    M = G @ X + np.sqrt(var)[:, None] * rng.standard_normal((n_sensors, n_times))
    return M, G, support, groups, true


@pytest.mark.parametrize("per_channel, n_times", [(False, 300), (True, 3000)])
def test_noise_learning_recovers_variances(per_channel, n_times):
    """Champagne's heteroscedastic noise learning: on a simulation with a
    known diagonal noise the learned variances are within 10 % (after the
    evidence selection: at the raw optimum the weak noise-fitting sources
    absorb 10-20 % of the noise), and the result is stationary in the
    weights and the variances."""
    M, G, support, groups, true = _hetero_problem(0, n_times, per_channel)
    sel = full_vae(M, G, noise_groups=groups, min_evidence="auto")
    np.testing.assert_array_equal(sel.locations, support)
    np.testing.assert_allclose(sel.info["noise_var"], true, rtol=0.1)
    res = sel.info["optimum"]
    lam = res.info["noise_var"]
    np.testing.assert_array_equal(res.info["noise_groups"], np.unique(groups))
    assert res.converged and res.info["noise_violation"] <= 1e-6
    assert res.gamma == pytest.approx(np.mean(lam[np.searchsorted(
        np.unique(groups), groups)]))
    # the reported cost is cost (18) with the learned diagonal noise
    Sigma = (G * res.weights) @ G.T + np.diag(lam[np.searchsorted(
        np.unique(groups), groups)])
    _, logdet = np.linalg.slogdet(Sigma)
    cost = np.sum(M * np.linalg.solve(Sigma, M)) + M.shape[1] * logdet
    assert res.cost[-1] == pytest.approx(cost, rel=1e-9)
    assert np.all(np.diff(res.cost) <= 1e-9 * np.abs(res.cost[1:]))
    # with a scalar noise the fit is worse: the model is misspecified
    scalar = full_vae(M, G, learn_gamma=True)
    assert res.cost[-1] < scalar.cost[-1]


def test_noise_learning_one_group_is_learn_gamma():
    M, G, _, _, _ = _hetero_problem(1, 200, False)
    one = full_vae(M, G, noise_groups=np.zeros(M.shape[0], int))
    ref = full_vae(M, G, learn_gamma=True)
    assert one.info["noise_var"][0] == pytest.approx(ref.gamma, rel=1e-5)
    assert one.cost[-1] == pytest.approx(ref.cost[-1], rel=1e-9)


def test_noise_learning_bad_input():
    M, G, _, _, _ = _hetero_problem(2, 50, False)
    with pytest.raises(ValueError, match="noise_groups must have shape"):
        full_vae(M, G, noise_groups=np.zeros(3))
    with pytest.raises(ValueError, match="noise_basis must have 60 rows"):
        full_vae(M, G, noise_groups=np.zeros(5), noise_basis=np.eye(5))
    with pytest.raises(ValueError, match="span 10 of the 60"):
        full_vae(M, G, noise_groups=np.zeros(10), noise_basis=np.eye(60)[:, :10])
    with pytest.raises(ValueError, match="noise_basis is only used"):
        full_vae(M, G, noise_basis=np.eye(60))


@pytest.mark.parametrize("update", ["newton", "mackay"])
def test_certificate_parts(update):
    """The certificate's two parts, checked against dense MacKay ratios:
    the largest ratio among inactive locations and the largest |rho - 1|
    (the gradient) among active ones."""
    M, G, _, _ = _problem(6, n_orient=3)
    res = full_vae(M, G, n_orient=3, update=update, max_iter=20000)
    Sigma = (G * res.weights) @ G.T + np.eye(G.shape[0])
    P = np.linalg.inv(Sigma)
    B = G.T @ P @ M
    K = np.einsum("sc,sc->c", G, P @ G)
    rho = (np.sum(B**2, axis=1).reshape(-1, 3).sum(1)
           / (M.shape[1] * K.reshape(-1, 3).sum(1)))
    active = res.weights[::3] > 0
    info = res.info
    assert info["max_rho_inactive"] == pytest.approx(rho[~active].max(), rel=1e-8)
    assert info["max_active_violation"] == pytest.approx(
        np.abs(rho[active] - 1).max(), rel=1e-6, abs=1e-12)
    assert info["kkt_violation"] == pytest.approx(max(
        info["max_rho_inactive"] - 1, info["max_active_violation"]), rel=1e-6)
    if update == "newton":
        assert info["max_rho_inactive"] <= 1 + 1e-6
        assert info["max_active_violation"] <= 1e-6

"""Tests of the VAE and AE solvers against the paper's mathematics."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from vaesource.simulation import paper_problem
from vaesource.solvers import (
    ae_energy,
    autoencoder,
    cost_diag,
    cost_full,
    diag_vae,
    full_vae,
    vae_energy,
)
from vaesource.utils import ConvergenceWarning

SOLVERS = {"full_vae": full_vae, "diag_vae": diag_vae, "autoencoder": autoencoder}


def _small(setting, r=8, seed=0, **kw):
    kw = {"n_sensors": 30, "n_sources": 60, "n_times": 40, **kw}
    return paper_problem(setting, r, seed=seed, **kw)


def _is_monotone(cost, rtol=1e-11):
    return np.all(np.diff(cost) <= rtol * np.abs(cost[:-1]))


# --------------------------------------------------------------- descent ---


@pytest.mark.parametrize("setting", ["unit", "noisy", "jeffreys"])
@pytest.mark.parametrize("update", ["newton", "convex", "mackay", "em"])
def test_full_vae_cost_never_increases(setting, update):
    """Every accepted iterate lowers cost (18), and cost (18) is recorded."""
    for seed in range(3):
        p = _small(setting, r=12, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = full_vae(p.M, p.G, gamma=p.gamma, update=update, max_iter=300)
        assert res.cost.size == res.n_iter + 1
        # gamma = 1e-10 makes Sigma ill-conditioned (cond ~ 1e12): evaluating
        # cost (18) itself then carries rounding errors up to ~1e-7
        rtol = 1e-11 if setting == "noisy" else 1e-6
        assert _is_monotone(res.cost, rtol), np.diff(res.cost).max()
        assert_allclose(
            res.cost[-1], cost_full(p.M, p.G, res.weights, res.gamma), rtol=rtol * 100
        )


@pytest.mark.parametrize("setting", ["unit", "noisy"])
def test_diag_and_ae_cost_never_increase(setting):
    for seed in range(3):
        p = _small(setting, r=12, seed=seed)
        res = diag_vae(p.M, p.G, gamma=p.gamma)
        assert _is_monotone(res.cost)
        assert_allclose(
            res.cost[-1], cost_diag(p.M, p.G, res.weights, p.gamma), rtol=1e-9
        )
        res = autoencoder(p.M, p.G, gamma=p.gamma)
        assert _is_monotone(res.cost)


def _reference_mm(M, G, gamma, update, n_iter, w0):
    """Textbook MM updates on the unreduced data, no pruning."""
    n = M.shape[1]
    w = np.full(G.shape[1], w0)
    for _ in range(n_iter):
        Sigma = G @ np.diag(w) @ G.T + gamma * np.eye(G.shape[0])
        Si = np.linalg.inv(Sigma)
        X = np.diag(w) @ G.T @ Si @ M
        z = np.einsum("ij,ik,kj->j", G, Si, G)
        if update == "convex":
            w = np.linalg.norm(X, axis=1) / np.sqrt(n * z)
        elif update == "mackay":
            w = np.sum(X**2, axis=1) / (n * w * z)
        else:
            w = np.sum(X**2, axis=1) / n + w - w**2 * z
    return w


@pytest.mark.parametrize("update", ["convex", "mackay", "em"])
def test_updates_match_textbook_formulas(update):
    """The optimised iterations (data reduction, Cholesky) equal the formulas."""
    rng = np.random.default_rng(1)
    G = rng.standard_normal((15, 25))
    M = G[:, :4] @ rng.standard_normal((4, 60)) + 0.3 * rng.standard_normal((15, 60))
    w0 = np.sum(M**2) / (M.shape[1] * np.sum(G**2))
    with pytest.warns(ConvergenceWarning, match="relative cost change"):
        res = full_vae(M, G, gamma=0.5, update=update, max_iter=7, prune_tol=0)
    assert res.info["n_times_reduced"] == 15  # 60 samples reduced to rank 15
    assert res.info["n_rejected"] == 0
    assert_allclose(res.weights, _reference_mm(M, G, 0.5, update, 7, w0), rtol=1e-8)


# -------------------------------------------------- energy (5) and params ---


@pytest.mark.parametrize("setting", ["noisy", "unit"])
def test_energy_equals_cost_at_solution(setting):
    """Energy (5) with the returned encoder/decoder equals cost (18) + n kappa."""
    p = _small(setting, r=10, seed=3)
    n_sensors, n_times = p.M.shape
    kappa = p.G.shape[1]
    res = full_vae(p.M, p.G, gamma=p.gamma)
    par = res.params
    energy = vae_energy(p.M, p.G, par.w_x, par.W_z, par.full_S(), par.gamma)
    assert_allclose(energy, res.cost[-1] + n_times * kappa, rtol=1e-8)
    # the VAE's source estimate is diag(w_x) W_z M (paper eq. 41)
    assert_allclose(par.w_x[:, None] * (par.W_z @ p.M), res.X, atol=1e-10)

    # diagonal covariance: energy (5) with S = diag(s) is cost (50) + const
    res = diag_vae(p.M, p.G, gamma=p.gamma)
    par = res.params
    energy = vae_energy(p.M, p.G, par.w_x, par.W_z, par.s, par.gamma)
    const = n_times * kappa + n_times * (n_sensors - kappa) * np.log(p.gamma)
    assert_allclose(energy, res.cost[-1] + const, rtol=1e-8)

    res = autoencoder(p.M, p.G, gamma=p.gamma)
    par = res.params
    energy = ae_energy(p.M, p.G, par.w_x, par.W_z, par.gamma, eps=res.info["eps"])
    assert_allclose(energy, res.cost[-1], rtol=1e-8)
    assert_allclose(par.w_x[:, None] * (par.W_z @ p.M), res.X, atol=1e-10)


def test_perturbing_encoder_raises_energy():
    """The returned encoder (W_z, S) is the optimum of (5) for the decoder."""
    p = _small("noisy", r=10, seed=4)
    res = full_vae(p.M, p.G, gamma=p.gamma)
    par = res.params
    W_z, S = par.W_z, par.full_S()
    e0 = vae_energy(p.M, p.G, par.w_x, W_z, S, par.gamma)
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1e-1):
        dW = scale * rng.standard_normal(W_z.shape) * np.abs(W_z).max()
        dS = scale * rng.standard_normal(S.shape)
        assert vae_energy(p.M, p.G, par.w_x, W_z + dW, S, par.gamma) > e0
        assert vae_energy(p.M, p.G, par.w_x, W_z, S + dS, par.gamma) > e0
        # and the decoder, with the encoder re-optimised, is a minimum of (18)
        w = res.weights * np.exp(scale * rng.standard_normal(res.weights.shape))
        assert cost_full(p.M, p.G, w, res.gamma) > res.cost[-1]


def test_sign_invariance():
    """Section 4.6: (w_x, W_z, S) -> (D w_x, D W_z, D S) leaves (5) unchanged."""
    p = _small("noisy", r=10, seed=5)
    par = full_vae(p.M, p.G, gamma=p.gamma).params
    W_z, S = par.W_z, par.full_S()
    D = np.random.default_rng(2).choice([-1.0, 1.0], size=par.w_x.size)
    e0 = vae_energy(p.M, p.G, par.w_x, W_z, S, par.gamma)
    e1 = vae_energy(p.M, p.G, D * par.w_x, D[:, None] * W_z, D[:, None] * S, par.gamma)
    assert_allclose(e1, e0, rtol=1e-12)
    X0 = par.w_x[:, None] * (W_z @ p.M)
    X1 = (D * par.w_x)[:, None] * ((D[:, None] * W_z) @ p.M)
    assert_allclose(X1, X0, atol=1e-12)
    # flipping only the decoder is not a symmetry
    e2 = vae_energy(p.M, p.G, D * par.w_x, W_z, S, par.gamma)
    assert e2 > e0 + 1.0


# ------------------------------------------------------- closed forms ---


def test_lemma_c6_closed_form():
    """Lemma C.6: with d free weights and gamma -> 0, w_i = ||u_i||^2 / n."""
    rng = np.random.default_rng(6)
    d, n = 12, 30
    G_d = rng.standard_normal((d, d))
    U = rng.standard_normal((d, n)) * np.exp(rng.uniform(-1, 1, (d, 1)))
    M = G_d @ U
    # the other kappa - d columns of a larger dictionary are fixed at zero:
    # solving on G_d alone is exactly that constrained problem
    res = full_vae(M, G_d, gamma=1e-10, tol=1e-12, max_iter=5000)
    assert res.converged
    assert_allclose(res.weights, np.sum(U**2, axis=1) / n, rtol=1e-5)
    assert_allclose(res.X, U, rtol=1e-6, atol=1e-8)


def test_theorem_41_scaled_rows_recovered_from_any_init():
    """Theorem 4.1: geometrically scaled row norms -> the unique sparse optimum.

    Every random initialisation must land on the true support and sources.
    """
    rng = np.random.default_rng(7)
    d, kappa, n, r = 20, 40, 30, 8
    G = rng.standard_normal((d, kappa))
    G /= np.linalg.norm(G, axis=0)
    support = np.sort(rng.choice(kappa, r, replace=False))
    X = np.zeros((kappa, n))
    rows = rng.standard_normal((r, 4)) @ rng.standard_normal((4, n))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    X[support] = rows * (0.5 ** np.arange(r))[:, None]  # pi_(j+1) = 0.5 pi_(j)
    M = G @ X
    for seed in range(6):
        w0 = np.exp(np.random.default_rng(seed).uniform(-6, 2, kappa))
        res = full_vae(M, G, gamma=1e-10, weights_init=w0)
        assert_allclose(res.active_set, support)
        assert np.linalg.norm(res.X - X) <= 1e-6 * np.linalg.norm(X)
        # stopping on a 1e-8 relative cost change pins w to ~1e-3 (the cost
        # is flat at its minimum), the sources to ~1e-6
        assert_allclose(res.weights[support], np.sum(X[support] ** 2, 1) / n, rtol=1e-2)
    res = full_vae(M, G, gamma=1e-10, weights_init=w0, tol=1e-14, max_iter=20000)
    # what remains is the finite-gamma bias, ~gamma / min(w) = 5e-5
    assert_allclose(res.weights[support], np.sum(X[support] ** 2, 1) / n, rtol=2e-4)


# ------------------------------------------------------------ behaviour ---


def test_noiseless_limit_recovers_paper_problem():
    """gamma = 1e-10 gives exact recovery, finite everything, no warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(3):
            p = paper_problem("unit", 40, seed=seed)
            res = full_vae(p.M, p.G, gamma=1e-10)
            assert res.converged
            assert np.all(np.isfinite(res.cost)) and np.all(np.isfinite(res.X))
            assert p.success(res.X)
            assert_allclose(res.active_set, p.support)


def test_learn_gamma_finds_noise_level():
    rng = np.random.default_rng(8)
    G = rng.standard_normal((60, 120))
    X = np.zeros((120, 400))
    X[[3, 50, 90]] = 3 * rng.standard_normal((3, 400))
    sigma2 = 0.25
    M = G @ X + np.sqrt(sigma2) * rng.standard_normal((60, 400))
    for update in ("newton", "convex", "mackay"):
        res = full_vae(M, G, gamma=5.0, learn_gamma=True, update=update)
        assert res.converged
        assert abs(res.gamma / sigma2 - 1) < 0.1, res.gamma
        if update == "newton":  # the certificate covers gamma too
            assert res.info["kkt_violation"] <= 1e-6
            Si = np.linalg.inv((G * res.weights) @ G.T + res.gamma * np.eye(60))
            rho_gamma = np.sum((Si @ M) ** 2) / 400 / np.trace(Si)
            assert abs(rho_gamma - 1) <= 1e-6
        # at finite gamma the minimum of (18) keeps small noise-fitting weights
        top = np.argsort(res.weights)[::-1]
        assert_allclose(np.sort(top[:3]), [3, 50, 90])
        assert res.weights[top[3]] < 1e-3 * res.weights[top[2]]
    # with gamma fixed at a wrong value the cost at the learned one is lower
    fixed = full_vae(M, G, gamma=5.0)
    assert res.cost[-1] < fixed.cost[-1]


def test_fixed_orientation_matches_mne_gamma_map():
    """Against MNE's gamma-MAP kernel, whose update_mode=2 is our convex rule."""
    from vaesource._mne_compat import gamma_map_opt

    p = _small("noisy", r=6, seed=11)
    res = full_vae(p.M, p.G, gamma=p.gamma, tol=1e-13, max_iter=20000)
    X_mne, active_mne = gamma_map_opt(
        p.M, p.G, p.gamma, maxit=20000, tol=1e-13, update_mode=2
    )
    X_full = np.zeros_like(res.X)
    X_full[active_mne] = X_mne
    assert_allclose(res.X, X_full, atol=1e-6 * np.abs(X_full).max())


def test_free_orientation_is_stationary_and_close_to_mne():
    """n_orient=3: one weight per location at a stationary point of (18).

    MNE's grouped gamma-MAP update sums per-orientation norms, which is not
    the MM step for a shared weight, so it stops at a slightly different
    point; it must still agree closely.
    """
    from vaesource._mne_compat import gamma_map_opt

    rng = np.random.default_rng(9)
    n_sensors, n_loc, n_times = 40, 30, 20
    G = rng.standard_normal((n_sensors, 3 * n_loc))
    X = np.zeros((3 * n_loc, n_times))
    X[6:9] = rng.standard_normal((3, n_times))
    X[45:48] = rng.standard_normal((3, n_times))
    # noise well below gamma: the minimum of (18) is exactly sparse
    M = G @ X + 1e-4 * rng.standard_normal((n_sensors, n_times))
    gamma = 1e-3
    res = full_vae(M, G, gamma=gamma, n_orient=3, tol=1e-13, max_iter=5000)
    expected = [6, 7, 8, 45, 46, 47]
    assert_allclose(res.active_set, expected)
    w = res.weights.reshape(-1, 3)
    assert np.all(w == w[:, :1])  # one weight per location
    # stationarity of (18) in each active weight: ||G_i^T S^-1 M||^2 / n
    # equals tr(G_i^T S^-1 G_i)
    Si = np.linalg.inv((G * res.weights) @ G.T + gamma * np.eye(n_sensors))
    for loc in (2, 15):
        G_i = G[:, 3 * loc : 3 * loc + 3]
        lhs = np.sum((G_i.T @ Si @ M) ** 2) / n_times
        assert_allclose(lhs, np.trace(G_i.T @ Si @ G_i), rtol=1e-5)
    X_mne, active_mne = gamma_map_opt(
        M, G, gamma, maxit=20000, tol=1e-12, update_mode=2, group_size=3
    )
    assert_allclose(active_mne, expected)
    assert np.linalg.norm(res.X[expected] - X_mne) < 1e-3 * np.linalg.norm(X_mne)


def test_data_reduction_when_many_samples():
    rng = np.random.default_rng(10)
    G = rng.standard_normal((20, 40))
    M = G[:, :3] @ rng.standard_normal((3, 500)) + 0.1 * rng.standard_normal((20, 500))
    res = full_vae(M, G, gamma=0.01)
    assert res.info["n_times_reduced"] == 20
    # the same problem with the samples rotated: identical cost and weights
    Qr, _ = np.linalg.qr(rng.standard_normal((500, 500)))
    res2 = full_vae(M @ Qr, G, gamma=0.01)
    assert_allclose(res2.weights, res.weights, rtol=1e-6, atol=1e-12)
    assert_allclose(res2.X, res.X @ Qr, atol=1e-8)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_zero_data_gives_empty_active_set(name):
    M = np.zeros((10, 5))
    G = np.random.default_rng(0).standard_normal((10, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = SOLVERS[name](M, G, gamma=1.0)
    assert res.active_set.size == 0
    assert res.converged
    assert np.all(res.X == 0) and np.all(res.weights == 0)


def test_convergence_warning_says_how_far():
    p = _small("noisy", r=10)
    with pytest.warns(ConvergenceWarning, match=r"relative cost change \d\.\d+e"):
        res = full_vae(p.M, p.G, gamma=p.gamma, max_iter=2, update="mackay")
    assert not res.converged and res.n_iter == 2
    # Newton: max_iter bounds the attempted steps, n_iter counts accepted ones
    with pytest.warns(ConvergenceWarning, match=r"stationarity violation \d\.\d+e"
                      r".*relative cost change \d\.\d+e"):
        res = full_vae(p.M, p.G, gamma=p.gamma, max_iter=2)
    assert not res.converged and 1 <= res.n_iter <= 2
    assert res.info["kkt_violation"] > 1e-6


@pytest.mark.parametrize("name", list(SOLVERS))
def test_bad_input(name):
    solver = SOLVERS[name]
    rng = np.random.default_rng(0)
    M, G = rng.standard_normal((10, 5)), rng.standard_normal((10, 12))
    bad = M.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="'M'.*non-finite"):
        solver(bad, G)
    badG = G.copy()
    badG[1, 1] = np.inf
    with pytest.raises(ValueError, match="'G'.*non-finite"):
        solver(M, badG)
    with pytest.raises(ValueError, match="same number of rows"):
        solver(M, G[:9])
    with pytest.raises(ValueError, match="'gamma'.*got 0"):
        solver(M, G, gamma=0)
    with pytest.raises(ValueError, match="'gamma'.*got -1"):
        solver(M, G, gamma=-1)
    with pytest.raises(ValueError, match="'n_orient'.*5 does not divide.*12"):
        solver(M, G, n_orient=5)
    with pytest.raises(ValueError, match="weights_init"):
        solver(M, G, weights_init=np.ones(3))
    with pytest.raises(ValueError, match="2-D array"):
        solver(M[0], G)


def test_unknown_update_rule():
    M, G = np.ones((4, 3)), np.eye(4)
    with pytest.raises(ValueError, match="'update'.*'convex'.*got 'lbfgs'"):
        full_vae(M, G, update="lbfgs")
    for solver in (diag_vae, autoencoder):
        with pytest.raises(ValueError, match="'update'.*'newton'.*'mm'.*got"):
            solver(M, G, update="mackay")


# ---------------------------------------------- optimality / working set ---


def _rho_inactive(M, G, res, n_orient=1):
    """MacKay ratios of inactive locations, from a dense reference."""
    n = M.shape[1]
    Si = np.linalg.inv((G * res.weights) @ G.T + res.gamma * np.eye(G.shape[0]))
    a2 = np.sum((G.T @ Si @ M) ** 2, axis=1).reshape(-1, n_orient).sum(1)
    z = np.einsum("ij,ik,kj->j", G, Si, G).reshape(-1, n_orient).sum(1)
    inactive = res.weights[::n_orient] == 0
    return (a2 / n / z)[inactive]


def test_location_missing_from_start_enters():
    """w = 0 is a fixed point of the updates; the optimality check revives it."""
    p = paper_problem("jeffreys", 30, seed=12)
    w0 = np.full(200, 1e-2)
    w0[p.support[:3]] = 0.0  # three true sources start (and would stay) out
    res = full_vae(p.M, p.G, gamma=p.gamma, weights_init=w0)
    assert res.converged and res.info["n_entered"] >= 3
    assert p.success(res.X)
    assert _is_monotone(res.cost, 1e-6)
    assert np.all(_rho_inactive(p.M, p.G, res) < 1.0)


def test_free_orientation_optimality_at_return():
    """No inactive location would lower cost (18) noticeably by entering."""
    rng = np.random.default_rng(13)
    n_sensors, n_loc, n_times = 20, 60, 30
    G = rng.standard_normal((n_sensors, 3 * n_loc))
    X = np.zeros((3 * n_loc, n_times))
    for loc in (4, 31, 50):
        X[3 * loc : 3 * loc + 3] = rng.standard_normal((3, n_times))
    M = G @ X + 0.05 * rng.standard_normal((n_sensors, n_times))
    res = full_vae(M, G, gamma=0.05**2, n_orient=3, tol=1e-10)
    assert res.converged
    assert_allclose(np.sort(np.argsort(-res.row_norms)[:3]), [4, 31, 50])
    assert np.all(_rho_inactive(M, G, res, 3) < 1.0 + 1e-3)


# ------------------------------------------------------- Newton engine ---


def _kkt_reference(M, G, weights, gamma, n_orient=1):
    """Largest stationarity violation of cost (18), from dense inverses."""
    n = M.shape[1]
    Si = np.linalg.inv((G * weights) @ G.T + gamma * np.eye(G.shape[0]))
    a2 = np.sum((G.T @ Si @ M) ** 2, axis=1).reshape(-1, n_orient).sum(1)
    z = np.einsum("ij,ik,kj->j", G, Si, G).reshape(-1, n_orient).sum(1)
    rho = a2 / n / z
    active = weights[::n_orient] > 0
    return np.max(np.where(active, np.abs(rho - 1), np.maximum(rho - 1, 0)))


def _volume_like(seed, n_sensors=40, n_loc=150, n_orient=3, n_src=4, snr=2.0):
    """Correlated free-orientation gain (neighbouring columns alike) + noise."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n_sensors, n_loc // 5 + 1))
    G = np.repeat(base, 5, axis=1)[:, :n_loc]
    G = np.repeat(G, n_orient, axis=1) + 0.3 * rng.standard_normal(
        (n_sensors, n_loc * n_orient))
    X = np.zeros((n_loc * n_orient, 25))
    for loc in rng.choice(n_loc, n_src, replace=False):
        X[loc * n_orient:(loc + 1) * n_orient] = rng.standard_normal((n_orient, 25))
    signal = G @ X
    noise = rng.standard_normal(signal.shape)
    M = signal / np.linalg.norm(signal) * np.linalg.norm(noise) * np.sqrt(snr) + noise
    return M, G


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_newton_certified_and_not_above_mackay(seed):
    """The Newton engine stops on a certificate an independent dense
    computation confirms, at a cost no higher than the MM engine's."""
    M, G = _volume_like(seed)
    res = full_vae(M, G, gamma=1.0, n_orient=3)
    ref = full_vae(M, G, gamma=1.0, n_orient=3, update="mackay", tol=1e-10,
                   max_iter=20000)
    assert res.converged and res.info["update"] == "newton"
    assert res.info["kkt_violation"] <= 1e-6
    assert res.info["rel_change"] <= 1e-8
    assert _kkt_reference(M, G, res.weights, 1.0, 3) <= 2e-6
    assert res.cost[-1] <= ref.cost[-1] + 1e-10 * abs(ref.cost[-1])
    assert_allclose(res.cost[-1], cost_full(M, G, res.weights, 1.0), rtol=1e-12)
    assert _is_monotone(res.cost)
    # zeros are exact, and far fewer passes over all columns than iterations
    assert np.count_nonzero(res.weights) == res.active_set.size
    assert res.info["n_passes"] < ref.n_iter / 5
    # the MM engine's result carries the same certificate, honestly larger
    assert ref.info["kkt_violation"] == pytest.approx(
        _kkt_reference(M, G, ref.weights, 1.0, 3), rel=1e-6, abs=1e-9)



def test_newton_single_precision_selection_passes(monkeypatch):
    """On a large problem the passes that only select locations run in
    single precision; the certificate is still a double-precision pass over
    all columns, and the point reached is the one of double passes alone."""
    from vaesource.solvers import _newton

    M, G = _volume_like(3, n_loc=400)  # 1200 columns: the working-set path
    calls = []
    ratios = _newton._ratios

    def spy(prob, sig, locs, w=None, single=False):
        calls.append(single)
        return ratios(prob, sig, locs, w, single)

    monkeypatch.setattr(_newton, "_ratios", spy)
    res = full_vae(M, G, gamma=1.0, n_orient=3)
    assert any(calls) and not calls[-1]  # the last pass is the double one
    assert res.converged and res.info["kkt_violation"] <= 1e-6
    assert _kkt_reference(M, G, res.weights, 1.0, 3) <= 2e-6
    monkeypatch.setattr(_newton, "_SINGLE_ABOVE", np.inf)
    calls.clear()
    ref = full_vae(M, G, gamma=1.0, n_orient=3)
    assert not any(calls)
    assert res.cost[-1] <= ref.cost[-1] + 1e-10 * abs(ref.cost[-1])
    assert_allclose(res.weights, ref.weights, rtol=1e-5, atol=1e-8 * res.weights.max())
    # a tolerance above the hand-over is still certified in double
    monkeypatch.undo()
    monkeypatch.setattr(_newton, "_ratios", spy)
    calls.clear()
    res = full_vae(M, G, gamma=1.0, n_orient=3, kkt_tol=0.05)
    assert any(calls) and not calls[-1]
    assert res.info["kkt_violation"] <= 0.05


def test_newton_single_precision_passes_rounding(monkeypatch):
    """Violations that are only a single-precision pass's rounding (an
    ill-conditioned Sigma) do not stop the solver uncertified: after a
    single pass that moves nothing, the passes are in double."""
    from vaesource.solvers import _newton

    def inflated(stats_single):
        def stats(self, G_C, norms2=None):
            z, A = stats_single(self, G_C, norms2)
            return 0.8 * z, A  # every MacKay ratio 25 % too large
        return stats

    for cls in (_newton._DenseSigma, _newton._SpanSigma):
        monkeypatch.setattr(cls, "stats_single", inflated(cls.stats_single))
    M, G = _volume_like(3, n_loc=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = full_vae(M, G, gamma=1.0, n_orient=3)
    assert res.converged and res.info["kkt_violation"] <= 1e-6
    assert _kkt_reference(M, G, res.weights, 1.0, 3) <= 2e-6

def test_newton_large_working_set_from_weights_init():
    """Starting on every location (more than the Newton cap) still converges:
    MM steps prune until Newton can take over."""
    M, G = _volume_like(3, n_sensors=20, n_loc=400)
    res = full_vae(M, G, gamma=1.0, n_orient=3, weights_init=np.full(400, 0.1))
    assert res.converged
    assert _kkt_reference(M, G, res.weights, 1.0, 3) <= 2e-6
    assert _is_monotone(res.cost)


def test_newton_stationarity_tolerance_is_honoured():
    M, G = _volume_like(4)
    loose = full_vae(M, G, gamma=1.0, n_orient=3, kkt_tol=1e-2, tol=1e-3)
    tight = full_vae(M, G, gamma=1.0, n_orient=3, kkt_tol=1e-9, tol=1e-12)
    assert loose.converged and tight.converged
    assert loose.info["kkt_violation"] <= 1e-2
    assert tight.info["kkt_violation"] <= 1e-9
    assert _kkt_reference(M, G, tight.weights, 1.0, 3) <= 1e-8
    assert tight.cost[-1] <= loose.cost[-1]


def test_newton_warning_gives_both_figures():
    M, G = _volume_like(5)
    with pytest.warns(ConvergenceWarning, match=r"stationarity violation "
                      r"\d\.\d+e.*relative cost change \d\.\d+e"):
        res = full_vae(M, G, gamma=1.0, n_orient=3, max_iter=2)
    assert not res.converged
    with pytest.raises(ValueError, match="'kkt_tol'"):
        full_vae(M, G, kkt_tol=-1)


def test_newton_noise_explains_everything_is_certified():
    """A gamma so large that the start is pruned at once: the empty estimate
    is certified (no ConvergenceWarning), on small and large problems."""
    for n_loc in (50, 2000):
        M, G = _volume_like(6, n_sensors=30, n_loc=n_loc, n_orient=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            res = full_vae(M, G, gamma=1e8)
        assert res.converged and res.active_set.size == 0
        assert res.info["kkt_violation"] == 0.0
        assert _is_monotone(res.cost)


def test_warnings_point_at_the_users_line():
    """A ConvergenceWarning from deep inside the engine names this file."""
    p = _small("noisy", r=10)
    with pytest.warns(ConvergenceWarning) as record:
        full_vae(p.M, p.G, gamma=p.gamma, max_iter=2)
    assert record[0].filename == __file__


# ------------------------------------ Newton engine, separable penalties ---


def _separable_kkt_reference(M, G, res, n_orient, model):
    """Largest stationarity violation of cost (50) / eq. (8) from dense
    inverses: the data term's derivative ``-||G_i^T Sigma^-1 M||^2`` against
    the penalty's ``n sum_j c_j / (gamma + w_i c_j)`` (diagonal VAE) or ``1 /
    (w_i + n eps)`` (autoencoder)."""
    n = M.shape[1]
    w = res.weights
    Si = np.linalg.inv((G * w) @ G.T + res.gamma * np.eye(G.shape[0]))
    a2 = np.sum((G.T @ Si @ M) ** 2, axis=1).reshape(-1, n_orient).sum(1)
    if model == "diag_vae":
        c = np.sum(G**2, axis=0)
        pg = n * (c / (res.gamma + w * c)).reshape(-1, n_orient).sum(1)
    else:
        pg = 1.0 / (w[::n_orient] + n * res.info["eps"])
    rho = a2 / pg
    active = w[::n_orient] > 0
    return np.max(np.where(active, np.abs(rho - 1), np.maximum(rho - 1, 0)))


@pytest.mark.parametrize("model", ["diag_vae", "autoencoder"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_separable_newton_certified_and_not_above_mm(model, seed):
    """The Newton engine on cost (50) / eq. (8): its certificate is
    confirmed by a dense computation, its cost is the independent one, and
    it ends no higher than the MM engine run to a tighter tolerance."""
    M, G = _volume_like(seed)
    solver = SOLVERS[model]
    res = solver(M, G, gamma=1.0, n_orient=3)
    ref = solver(M, G, gamma=1.0, n_orient=3, update="mm", tol=1e-10,
                 max_iter=20000)
    assert res.converged and res.info["update"] == "newton"
    assert ref.info["update"] == "mm"
    assert res.info["kkt_violation"] <= 1e-6
    assert _separable_kkt_reference(M, G, res, 3, model) <= 2e-6
    assert _is_monotone(res.cost)
    assert res.cost[-1] <= ref.cost[-1] + 1e-10 * abs(ref.cost[-1])
    if model == "diag_vae":
        assert_allclose(res.cost[-1], cost_diag(M, G, res.weights, 1.0, 3),
                        rtol=1e-12)
    else:
        par = res.params
        assert_allclose(res.cost[-1], ae_energy(M, G, par.w_x, par.W_z, 1.0,
                                                eps=res.info["eps"], n_orient=3),
                        rtol=1e-10)
    # zeros are exact, and far fewer iterations than the MM engine's
    assert np.count_nonzero(res.weights) == res.active_set.size
    assert res.n_iter < ref.n_iter


@pytest.mark.parametrize("setting", ["unit", "noisy"])
def test_separable_engines_agree_on_paper_problems(setting):
    """Both engines of the diagonal VAE and the autoencoder recover the same
    rows on easy problems (r well below d); noiseless, they reach the same
    estimate; with noise the concave penalties have many minima (a weak
    weight at zero or not) and the Newton engine ends no higher here. Its
    cost is cost (50) computed independently."""
    for seed in range(3):
        p = _small(setting, r=6, seed=seed)
        for model in ("diag_vae", "autoencoder"):
            new = SOLVERS[model](p.M, p.G, gamma=p.gamma, update="newton")
            old = SOLVERS[model](p.M, p.G, gamma=p.gamma, update="mm", tol=1e-12,
                                 max_iter=20000)
            assert new.info["update"] == "newton" and old.info["update"] == "mm"
            assert new.converged and p.success(new.X) and p.success(old.X)
            if setting == "unit":
                assert_allclose(new.cost[-1], old.cost[-1], rtol=1e-7)
                assert_allclose(new.X, old.X, atol=1e-4 * np.abs(old.X).max())
            else:
                assert new.cost[-1] <= old.cost[-1] + 1e-10 * abs(old.cost[-1])
            if model == "diag_vae":
                assert_allclose(new.cost[-1],
                                cost_diag(p.M, p.G, new.weights, p.gamma),
                                rtol=1e-9)


def test_separable_auto_engine_by_size():
    """update="auto": the MM engine on small dictionaries (figure 2's), the
    Newton engine on large ones (more than 4 n_sensors columns)."""
    p = _small("unit", r=6)
    M, G = _volume_like(0)
    for solver in (diag_vae, autoencoder):
        assert solver(p.M, p.G, gamma=p.gamma).info["update"] == "mm"
        assert solver(M, G, n_orient=3).info["update"] == "newton"

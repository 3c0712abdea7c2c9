"""Where a source is: the relocation of DESIGN.md section 10 against
independent references (cost (18) minimised numerically, the closed-form
single-location optimum, the evidence), its regions and mixture bands."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from vaesource.evidence import (
    SourceNeighbors,
    _mixture_band,
    credible_interval,
    location_regions,
)
from vaesource.solvers import full_vae
from vaesource.solvers._location import _one_dim, relocate


def _cost18(M, G, w_cols, gamma=1.0):
    Sigma = (G * w_cols) @ G.T + gamma * np.eye(G.shape[0])
    _, logdet = np.linalg.slogdet(Sigma)
    return np.trace(M.T @ np.linalg.solve(Sigma, M)) + M.shape[1] * logdet


def _problem(k, seed=0, n_s=30, n_loc=40, n_t=20):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n_s, n_loc * k))
    X = np.zeros((n_loc * k, n_t))
    X[: 2 * k] = 3 * rng.standard_normal((2 * k, n_t))
    M = G @ X + rng.standard_normal((n_s, n_t))
    return M, G


@pytest.mark.parametrize("k", [1, 3])
def test_relocation_is_cost_18_minimised_over_the_moved_weight(k):
    """D_j equals the rise of cost (18), minimised numerically over the
    weight of the moved source (the others held), for every candidate."""
    M, G = _problem(k)
    res = full_vae(M, G, gamma=1.0, n_orient=k)
    w = res.weights
    n_loc = G.shape[1] // k
    i = int(res.locations[0])
    rel, _ = relocate(G, w, [(M, 1.0, M.shape[1])], k, [i], np.arange(n_loc))
    L0 = _cost18(M, G, w)
    for j in range(n_loc):
        base = w.copy()
        base[i * k:(i + 1) * k] = 0

        def f(log_w, j=j):
            wc = base.copy()
            wc[j * k:(j + 1) * k] += np.exp(log_w)
            return _cost18(M, G, wc)

        best = _cost18(M, G, base)
        for start in np.linspace(-14, 10, 25):
            r = minimize_scalar(f, bounds=(start, start + 1), method="bounded",
                                options=dict(xatol=1e-10))
            best = min(best, r.fun)
        assert rel.delta_cost[j] == pytest.approx(best - L0, abs=1e-6 * abs(L0))
    # at its own location the source stays (a stationary point): D = 0
    assert abs(rel.delta_cost[i]) < 1e-6 * abs(L0)
    assert rel.weight[i] == pytest.approx(w[i * k], rel=1e-5)


def test_relocation_to_nowhere_is_the_evidence():
    """A candidate that explains nothing (zero gain) takes no weight, and
    the rise of cost (18) is then the source's evidence."""
    M, G = _problem(3, seed=1)
    G = np.hstack([G, np.zeros((G.shape[0], 3))])  # location 40: no field
    res = full_vae(M, G, gamma=1.0, n_orient=3)
    for a, loc in enumerate(res.locations):
        rel, _ = relocate(G, res.weights, [(M, 1.0, M.shape[1])], 3,
                          [int(loc)], [40])
        assert rel.weight[0] == 0
        assert rel.delta_cost[0] == pytest.approx(res.evidence[a], rel=1e-8)


def test_one_dimensional_optimum_fixed_orientation_closed_form():
    """One term (fixed orientation, one response): ``w* = max(0, (c / n -
    lam) / lam^2)``, the single-location optimum of the engine."""
    rng = np.random.default_rng(2)
    lam = rng.uniform(0.1, 5.0, (200, 1))
    n = 20.0
    cc = n * lam * rng.uniform(0.2, 30.0, (200, 1))
    w, f = _one_dim(lam, cc, np.array([n]), 1.0)
    expected = np.maximum(0.0, (cc / n - lam) / lam**2)[:, 0]
    np.testing.assert_allclose(w, expected, rtol=1e-8, atol=1e-12)
    q = 1 + w * lam[:, 0]
    np.testing.assert_allclose(f, n * np.log(q) - cc[:, 0] * w / q, rtol=1e-10,
                               atol=1e-10)


def test_relocation_posterior_at_its_own_location_is_the_estimate():
    """Moved to where it is, the source's posterior mean and covariance are
    the estimate's rows and its posterior block (appendix C.1)."""
    M, G = _problem(3, seed=3)
    res = full_vae(M, G, gamma=1.0, n_orient=3)
    for a, loc in enumerate(res.locations):
        rel, _ = relocate(G, res.weights, [(M, 1.0, M.shape[1])], 3,
                          [int(loc)], [int(loc)])
        cols = int(loc) * 3 + np.arange(3)
        np.testing.assert_allclose(rel.means[0][0], res.X[cols], rtol=1e-5,
                                   atol=1e-8 * np.abs(res.X).max())
        np.testing.assert_allclose(rel.covs[0][0], res.posterior_cov[a],
                                   rtol=1e-5, atol=1e-10)


def test_joint_relocation_is_the_sum_of_the_responses():
    """Two responses with their own noise: D_j is the sum of each
    response's cost change at the best common weight (cost of the sum
    checked numerically)."""
    M, G = _problem(1, seed=4)
    rng = np.random.default_rng(5)
    M2 = M + rng.standard_normal(M.shape)
    w = full_vae(np.hstack([M, M2]), G, gamma=1.5).weights
    data = [(M, 1.0, M.shape[1]), (M2, 2.0, M2.shape[1])]
    i = int(np.flatnonzero(w)[0])
    rel, _ = relocate(G, w, data, 1, [i], np.arange(G.shape[1]))

    def joint(wc):
        return _cost18(M, G, wc, 1.0) + _cost18(M2, G, wc, 2.0)

    L0 = joint(w)
    for j in range(0, G.shape[1], 7):
        base = w.copy()
        base[i] = 0
        grid = np.concatenate([[0.0], np.exp(np.linspace(-12, 8, 4001))])
        vals = [joint(base + np.eye(G.shape[1])[j] * g) for g in grid]
        b = int(np.argmin(vals))
        lo, hi = grid[max(b - 1, 0)], grid[min(b + 1, grid.size - 1)]
        r = minimize_scalar(lambda g: joint(base + np.eye(G.shape[1])[j] * g),
                            bounds=(lo, hi), method="bounded",
                            options=dict(xatol=1e-12))
        best = min(vals[b], r.fun)
        assert rel.delta_cost[j] == pytest.approx(best - L0, abs=1e-7 * abs(L0))


def test_mixture_band_quantiles():
    """The band of a Gaussian mixture holds the level: its edges are the
    mixture's quantiles (checked against the mixture's CDF and a single
    Gaussian's normal quantiles)."""
    q = np.array([0.5, 0.3, 0.2])
    mu = np.array([[0.0, 1.0], [2.0, 1.0], [5.0, 1.0]])
    sd = np.array([[1.0, 0.5], [0.5, 0.5], [2.0, 0.5]])
    lo, hi = _mixture_band(q, mu, sd, 0.9)
    cdf = lambda x, t: np.sum(q * norm.cdf((x - mu[:, t]) / sd[:, t]))  # noqa: E731
    for t in range(2):
        assert cdf(lo[t], t) == pytest.approx(0.05, abs=1e-9)
        assert cdf(hi[t], t) == pytest.approx(0.95, abs=1e-9)
    # equal components: the Gaussian's own band
    assert lo[1] == pytest.approx(1.0 - norm.ppf(0.95) * 0.5, abs=1e-9)


def test_neighbors():
    rr = np.random.default_rng(0).uniform(-0.05, 0.05, (500, 3))
    nb = SourceNeighbors(rr, radius=0.02, n_neighbors=20)
    for loc in (0, 17, 499):
        cand = nb(loc)
        assert cand[0] == loc
        d = np.linalg.norm(rr[cand] - rr[loc], axis=1)
        assert np.all(np.diff(d) >= 0)
        assert cand.size >= 20
        within = np.flatnonzero(np.linalg.norm(rr - rr[loc], axis=1) <= 0.02)
        assert set(within) <= set(cand)


def _simulate_and_localize(sim_spacing, snr, seed):
    """Two sources simulated on ``sim_spacing`` of the template and
    localized on its ico3 grid (loose 0.2): the simulation and estimate."""
    from vaesource import apply_vae_inverse
    from vaesource.datasets import template
    from vaesource.simulation import cortical_evoked

    coarse = template("ico3", sensors="meg")
    fine = coarse if sim_spacing == "ico3" else template(sim_spacing, sensors="meg")
    sim = cortical_evoked(fine, 2, snr=snr, seed=seed, sfreq=100.0,
                          inverse_template=None if fine is coarse else coarse)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.2,
                                verbose=False)
    return sim, stc


@pytest.fixture(scope="module")
def on_grid():
    """Two sources on the ico3 grid (normal orientation), SNR 10."""
    return _simulate_and_localize("ico3", 10.0, 3)


def test_regions_of_sources_on_the_grid(on_grid):
    """On the grid, each strong source's region holds its true location and
    its probabilities are a distribution; the table's columns agree with
    the regions."""
    sim, stc = on_grid
    table = stc.vae_sources
    assert len(table.regions) == len(table) == stc.data.shape[0]
    for (pos, prob), size, radius, p0 in zip(
            table.regions, table.region_size, table.region_radius_mm, table.pos):
        assert pos.shape == (size, 3) and prob.shape == (size,)
        assert prob.sum() >= 0.95 - 1e-9
        assert np.all(np.diff(prob) <= 1e-12)
        assert radius == pytest.approx(1e3 * np.max(np.linalg.norm(pos - p0, axis=1)))
    for p in sim.positions:
        i = int(np.argmin(np.linalg.norm(table.pos - p, axis=1)))
        assert np.linalg.norm(table.pos[i] - p) < 1e-9  # found where it is
        pos, _ = table.regions[i]
        assert np.min(np.linalg.norm(pos - p, axis=1)) < 1e-9
    rows = table.rows()
    assert {"region_size", "region_radius_mm", "region", "merged"} <= set(rows[0])
    regions = location_regions(stc.vae_result, level=0.5)
    assert all(r.n_in <= s for r, s in zip(regions, table.region_size))


def test_location_band(on_grid):
    """The band with the location has the estimate's shape, is ordered, and
    on the grid it holds the true amplitude where the source is active."""
    sim, stc = on_grid
    lo, hi = credible_interval(stc, 0.95, location=True)
    assert lo.data.shape == hi.data.shape == stc.data.shape
    assert np.all(lo.data <= hi.data) and np.all(lo.data >= 0)
    table = stc.vae_sources
    covered = []
    for s_i, p in enumerate(sim.positions):
        i = int(np.argmin(np.linalg.norm(table.pos - p, axis=1)))
        amp = np.abs(sim.stc.data[s_i])
        act = amp >= 0.5 * amp.max()
        covered.append(np.mean((lo.data[i][act] <= amp[act]) & (amp[act] <= hi.data[i][act])))
    assert np.mean(covered) >= 0.8, covered
    with pytest.raises(ValueError, match="level"):
        credible_interval(stc, 1.5, location=True)


@pytest.fixture(scope="module")
def split():
    """Two sources off the ico3 grid (ico4), SNR 3: the estimate splits
    each over two neighbouring locations (4 rows)."""
    return _simulate_and_localize("ico4", 3.0, 1)


def test_split_sources_are_one_source(split):
    """Rows that one source in between explains, up to the evidence a second
    source must earn, are grouped: 4 rows, 2 sources, each near a true one;
    their merged band is the whole source's."""
    from vaesource.evidence import _problem

    sim, stc = split
    table = stc.vae_sources
    heads = np.unique(table.source)
    assert len(table) == 4 and heads.size == 2
    problem = _problem(stc.vae_result)
    norms = stc.vae_result.row_norms[stc.vae_result.locations]
    for i, head in enumerate(table.source):
        if head != i:
            assert norms[head] >= norms[i]
            cost = problem.merge_cost([int(table.location[head]), int(table.location[i])])
            assert cost < table.min_evidence
    for p in sim.positions:  # each true source has a group near it
        d = 1e3 * np.linalg.norm(table.pos[heads] - p, axis=1)
        assert d.min() < 15
    rows = {r["location"]: r for r in table.rows()}
    for i, head in enumerate(table.source):
        assert rows[int(table.location[i])]["source"] == int(table.location[head])
    lo, hi = credible_interval(stc, 0.95, location=True, merged=True)
    parts = table.source != np.arange(len(table))
    assert np.all(np.isnan(lo.data[parts])) and np.all(np.isfinite(lo.data[~parts]))
    lo1, hi1 = credible_interval(stc, 0.95, location=True)
    # the whole source is stronger than its strongest part alone
    for h in heads:
        t = np.argmax(stc.data[h])
        assert hi.data[h, t] > hi1.data[h, t]
    assert "part of the source" in table.summary()


def test_regions_of_learned_noise_and_conditions(split):
    """Learned noise per channel type (the problem in the whitener's range,
    with the learned covariance) and two conditions sharing a support (the
    joint cost): regions and bands with the location exist and are finite;
    a condition's table moves its sources under the joint cost."""
    from vaesource import apply_vae_inverse

    sim, _ = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.2,
                                learn_noise="type", verbose=False)
        second = sim.evoked.copy()
        second.data = second.data[:, ::-1].copy()  # another response
        stcs = apply_vae_inverse([sim.evoked, second], sim.forward,
                                 sim.noise_cov, loose=0.2, verbose=False)
    for est in [stc] + stcs:
        table = est.vae_sources
        assert len(table.regions) == len(table)
        assert np.all(table.region_size >= 1)
        lo, hi = credible_interval(est, 0.95, location=True)
        assert np.all(np.isfinite(lo.data)) and np.all(lo.data <= hi.data)
    # one joint posterior of where the sources are
    np.testing.assert_array_equal(stcs[0].vae_sources.region_size,
                                  stcs[1].vae_sources.region_size)


def test_report_table_shows_split_sources(split):
    """The report's source table says which rows are one source."""
    from vaesource.viz.evidence import source_table_html

    _, stc = split
    table = stc.vae_sources
    html = source_table_html(table)
    assert "one source with" in html
    for i, head in enumerate(table.source):
        if head != i:
            assert f"part of {table.hemi[head]} {table.vertex[head]}" in html

"""Where a source is: moving it to nearby locations (DESIGN §10).

For a set ``S`` of active locations (one source, or two parts of one),
remove them (``Sigma_-S = Sigma - G_S W_S G_S^T``) and put one source at a
candidate location ``j`` with the best weight for ``j`` alone, the other
weights held::

    L_j = min_{w >= 0} L(Sigma_-S + w G_j G_j^T)

With ``K_j = G_j^T Sigma_-S^-1 G_j = U diag(lam) U^T`` and ``c_a`` the
squared norms of the rows of ``U^T G_j^T Sigma_-S^-1 M``, the change of cost
(18) from ``Sigma_-S`` is (matrix determinant lemma and Woodbury)::

    f_j(w) = sum_a [n log(1 + w lam_a) - c_a w / (1 + w lam_a)]

a one-dimensional problem (fixed orientation, one response: ``w* = max(0,
(c / n - lam) / lam^2)``; summed over the responses of a joint problem).
``D_j = L_j - L`` is ``-2 log`` of the likelihood ratio of the source at
``j`` against the estimate.

Nothing is refitted: ``Sigma^-1`` is factored once per response, and
``Sigma_-S^-1`` enters through the rank-``|S| n_orient`` Woodbury update of
the evidence (:mod:`vaesource.solvers._evidence`)::

    K_j = A_j^T A_j + A_j^T A_S T A_S^T A_j,
    B_j = A_j^T m + A_j^T A_S T A_S^T m,
    T = (W_S^-1 - A_S^T A_S)^-1 = W_S^1/2 R_S^-1 W_S^1/2,

with ``A = L^-1 G``, ``m = L^-1 M`` (``L L^T = Sigma``) and ``R_S = I -
W_S^1/2 K_S W_S^1/2`` positive definite. The posterior of the moved source
is Gaussian: mean ``w (I + w K_j)^-1 B_j``, covariance ``w (I + w
K_j)^-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

_GRID = 10.0 ** np.linspace(-6.0, 6.0, 97)  # relative to the reference weight


@dataclass(repr=False)
class Relocation:
    """One source moved over its candidate locations.

    Attributes
    ----------
    candidates : array of int, shape (n_cand,)
        Candidate locations.
    delta_cost : array, shape (n_cand,)
        ``D_j``: cost (18) with the source at ``j`` (best weight) minus the
        cost of the estimate.
    weight : array, shape (n_cand,)
        The best weight at each candidate.
    means : list of array, shape (n_cand, n_orient, n_t)
        Per response, the posterior mean of the moved source's components
        (weighted units), or None when not asked for.
    covs : list of array, shape (n_cand, n_orient, n_orient)
        Per response, its posterior covariance (weighted units).
    """

    candidates: np.ndarray
    delta_cost: np.ndarray
    weight: np.ndarray
    means: list | None
    covs: list

    def probability(self):
        """``p_j = exp(-D_j / 2) / sum_k exp(-D_k / 2)``: the posterior of
        the source's location among the candidates (equal prior)."""
        d = -0.5 * (self.delta_cost - self.delta_cost.min())
        p = np.exp(d)
        return p / p.sum()


class _Response:
    """One response's factor of ``Sigma`` and whitened data."""

    def __init__(self, G, w_cols, M, noise, n_times):
        active = np.flatnonzero(w_cols > 0)
        G_A = G[:, active]
        Sigma = (G_A * w_cols[active]) @ G_A.T
        if np.ndim(noise) == 0:
            Sigma[np.diag_indices_from(Sigma)] += float(noise)
        else:
            Sigma += noise
        self.L = linalg.cholesky(Sigma, lower=True, check_finite=False)
        self.m = self._solve(M)
        self.n = n_times

    def _solve(self, X):
        return linalg.solve_triangular(self.L, X, lower=True, check_finite=False)

    def whiten(self, G_cols):
        return self._solve(G_cols)


def _cols(locs, n_orient):
    locs = np.asarray(locs, int)
    return (locs[:, None] * n_orient + np.arange(n_orient)).ravel()


def _removal(A_S, m, w_S):
    """``T`` of the Woodbury update removing ``S``, and the cost of putting
    ``S`` back at its weights, from ``Sigma_-S`` (``f_current``)."""
    sq = np.sqrt(w_S)
    K_S = A_S.T @ A_S
    R = np.eye(w_S.size) - sq[:, None] * K_S * sq[None, :]
    cR = linalg.cho_factor(R, lower=True, check_finite=False)
    T = sq[:, None] * linalg.cho_solve(cR, np.diag(sq), check_finite=False)
    return T, K_S, cR


def _candidates_terms(resp, A_J, A_S, T, B_S, k):
    """``K_j`` (n_cand, k, k) and ``B_j`` (n_cand, k, n_t) with ``S`` removed."""
    n_cand = A_J.shape[1] // k
    Aj = A_J.T.reshape(n_cand, k, -1)
    # K_j = Aj Aj^T pair by pair: einsum's "jas,jbs->jab" has no fast path
    # (5x slower on thousands of candidates), the row dot products do
    K = np.empty((n_cand, k, k))
    for a in range(k):
        for b in range(a, k):
            K[:, a, b] = K[:, b, a] = np.einsum("js,js->j", Aj[:, a], Aj[:, b])
    B = (A_J.T @ resp.m).reshape(n_cand, k, -1)
    if T is not None:
        C = A_J.T @ A_S  # (n_cand k, |S|)
        CT = C @ T
        K += np.einsum("jas,jbs->jab", CT.reshape(n_cand, k, -1),
                       C.reshape(n_cand, k, -1))
        B += (CT @ B_S).reshape(n_cand, k, -1)
    return K, B


def _one_dim(lam, cc, n, w_ref, group=1):
    """Minimise ``f(w) = sum_a [n_a log(1 + w lam_a) - c_a w / (1 + w lam_a)]``
    over ``w >= 0`` for each row (a grid over twelve decades around
    ``w_ref``, a scalar or one per row, then bisection on ``f'``); returns
    ``(w*, f(w*))``.

    ``group``: the rows come in runs of this many that share ``lam`` and
    ``w_ref`` (the samples of one candidate): the grid's logarithms are
    then taken once per run.
    """
    lam = np.maximum(lam, 0.0)

    def f(w):
        lam_, cc_ = (lam, cc) if w.ndim == 1 else (lam[:, None], cc[:, None])
        q = 1.0 + w[..., None] * lam_
        return np.sum(n * np.log(q) - cc_ * w[..., None] / q, axis=-1)

    def df(w):
        q = 1.0 + w[:, None] * lam
        return np.sum((n * lam * q - cc) / q**2, axis=-1)

    rows = np.arange(lam.shape[0])
    grid = np.multiply.outer(np.broadcast_to(w_ref, rows.shape), _GRID)
    if group > 1:
        # f on the grid = sum_a n_a log q_a - c . (w / q), the first term
        # and w / q per run, the second a product per run
        k = lam.shape[1]
        grid_g = grid[::group]
        q = 1.0 + grid_g[..., None] * lam[::group, None, :]
        logs = np.sum(n * np.log(q), axis=-1)
        vals = (logs[:, None, :] - np.matmul(
            cc.reshape(-1, group, k), (grid_g[..., None] / q).transpose(0, 2, 1))
        ).reshape(rows.size, -1)
    else:
        vals = f(grid)
    b = np.argmin(vals, axis=1)
    best_w = grid[rows, b]
    best_f = vals[rows, b]
    # refine between the grid neighbours by bisection on f' (log scale)
    lo = np.log(grid[rows, np.maximum(b - 1, 0)])
    hi = np.log(grid[rows, np.minimum(b + 1, _GRID.size - 1)])
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        pos = df(np.exp(mid)) > 0
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
    w = np.exp(0.5 * (lo + hi))
    fw = f(w)
    better = fw < best_f
    best_w = np.where(better, w, best_w)
    best_f = np.where(better, fw, best_f)
    # w = 0 (the source leaves) is a candidate too
    zero = best_f >= 0
    return np.where(zero, 0.0, best_w), np.where(zero, 0.0, best_f)


class PointGains:
    """The gains of sources at points between the grid's locations.

    Point ``p`` lies ``f[p]`` of the way from basis block ``ia[p]`` to
    ``ib[p]``: its gain is ``((1 - f) L_a + f L_b) F_p^T * scale_p``, with
    ``L_i`` the ``(n_sensors, d)`` block ``i`` of ``basis`` (``d`` columns:
    x, y, z lead fields, or one column) and ``F_p`` its ``(m, d)``
    orientation frame (None: the blocks' own columns). Every linear map
    of the sensors (the whitening by each response's ``Sigma``) is applied
    to the basis, a few hundred locations, instead of to the thousands of
    points' columns.
    """

    def __init__(self, basis, ia, ib, f, frame=None, scale=None):
        self.basis, self.ia, self.ib, self.f = basis, ia, ib, f
        self.frame, self.scale = frame, scale
        self.n_points = f.size
        self.m = basis.shape[2] if frame is None else frame.shape[1]

    def gains(self, op=None):
        """``(n_points, n_rows, m)``: the points' gains, mapped by ``op``
        (a function of ``(n_sensors, n)`` arrays) if given."""
        basis = self.basis
        if op is not None:
            n_s, n_u, d = basis.shape
            basis = op(basis.reshape(n_s, n_u * d)).reshape(-1, n_u, d)
        L_u = basis.transpose(1, 0, 2)
        f = self.f[:, None, None]
        L = (1 - f) * L_u[self.ia] + f * L_u[self.ib]
        if self.frame is not None:
            L = np.matmul(L, self.frame.transpose(0, 2, 1))
        if self.scale is not None:
            L *= self.scale[:, None, :]
        return L

    def columns(self, op=None):
        """The gains side by side, ``(n_rows, n_points * m)``."""
        L = self.gains(op)
        return L.transpose(1, 0, 2).reshape(L.shape[1], -1)


def _responses(G, w_cols, data):
    return [_Response(G, w_cols, M, noise, n) for M, noise, n in data]


def relocate(G, w_cols, data, n_orient, moved, candidates, *, means=True,
             responses=None, blocks=None, per_sample=False):
    """Move the source made of the active locations ``moved`` to each
    candidate location.

    Parameters
    ----------
    G : array, shape (n_sensors, n_locations * n_orient)
        Gain (whitened so that the noise of response ``c`` is its noise).
    w_cols : array, shape (n_locations * n_orient,)
        The estimate's weights.
    data : list of (M, noise, n_times)
        Per response: data (or a thin factor), noise (a variance, or an
        ``(n_sensors, n_sensors)`` covariance) and the number of samples.
    n_orient : int
        Columns per location.
    moved : array of int
        Active locations forming the source (one, or the parts of one).
    candidates : array of int
        Locations it may move to.
    means : bool
        Also compute the posterior means (needs the data's own columns).
    responses : list | None
        Factors of a previous call on the same estimate (reused).
    blocks : array, shape (n_cand, n_sensors, m) | PointGains | None
        The gain of a source at each candidate (one weight for its ``m``
        columns); default the candidates' own ``n_orient`` columns of
        ``G``. The posterior means and covariances are of all ``m``
        components.
    per_sample : bool
        The posterior of the moved source with the best variance for each
        time sample alone (empirical Bayes per sample) rather than the one
        variance ``w`` of all samples: the prior ``N(0, w)`` of cost (18),
        the same at every sample, shrinks the peak of a transient time
        course towards its mean power. ``covs`` are then per sample, shape
        ``(n_cand, n_t, m, m)``. The location (``delta_cost``) is unchanged.

    Returns
    -------
    relocation : Relocation
    responses : list
        The factors, to pass to the next call.
    """
    w_cols = np.asarray(w_cols, float)
    if responses is None:
        responses = _responses(G, w_cols, data)
    k = n_orient
    S = _cols(moved, k)
    n_cand = len(candidates)
    if blocks is None:
        G_J = G[:, _cols(candidates, k)]
        m_cols = k
    elif isinstance(blocks, PointGains):
        G_J, m_cols = blocks, blocks.m
    else:
        m_cols = blocks.shape[2]
        G_J = blocks.transpose(1, 0, 2).reshape(G.shape[0], n_cand * m_cols)
    k = m_cols
    n_terms = len(responses) * k
    lam = np.zeros((n_cand, n_terms))
    cc = np.zeros((n_cand, n_terms))
    nn = np.zeros(n_terms)
    f_now = 0.0
    eig = []
    for r, resp in enumerate(responses):
        A_S = resp.whiten(G[:, S])
        T, K_S, _ = _removal(A_S, resp.m, w_cols[S])
        B_S = A_S.T @ resp.m
        A_J = G_J.columns(resp.whiten) if isinstance(G_J, PointGains) \
            else resp.whiten(G_J)
        K, B = _candidates_terms(resp, A_J, A_S, T, B_S, k)
        vals, U = np.linalg.eigh(K)
        UB = np.einsum("jab,jat->jbt", U, B)
        lam[:, r * k:(r + 1) * k] = vals
        cc[:, r * k:(r + 1) * k] = np.sum(UB**2, axis=2)
        nn[r * k:(r + 1) * k] = resp.n
        eig.append((vals, U, UB))
        # the estimate: S put back at its weights from Sigma_-S
        K_m = K_S + K_S @ T @ K_S
        B_m = B_S + K_S @ T @ B_S
        sq = np.sqrt(w_cols[S])
        Iw = np.eye(S.size) + sq[:, None] * K_m * sq[None, :]
        sign, logdet = np.linalg.slogdet(Iw)
        Bw = sq[:, None] * B_m
        f_now += resp.n * logdet - np.sum(Bw * np.linalg.solve(Iw, Bw))
    w_ref = float(np.max(w_cols[S]))
    w_best, f_best = _one_dim(lam, cc, nn, w_ref)
    mus, covs = [], []
    for vals, U, UB in eig:
        if per_sample:
            mu, C = _per_sample(vals, U, UB, w_best)
            mus.append(mu)
            covs.append(C)
            continue
        g = w_best[:, None] / (1.0 + w_best[:, None] * np.maximum(vals, 0))
        covs.append(np.einsum("jab,jb,jcb->jac", U, g, U))
        if means:
            mus.append(np.einsum("jab,jb,jbt->jat", U, g, UB))
    return Relocation(
        candidates=np.asarray(candidates, int), delta_cost=f_best - f_now,
        weight=w_best, means=mus if means or per_sample else None, covs=covs,
    ), responses


def _per_sample(vals, U, UB, w_ref):
    """Posterior of the moved source with a variance of its own at each
    sample (the best for that sample alone), instead of the one variance
    of all samples: means (n_cand, k, n_t), covariances (n_cand, n_t, k, k)."""
    n_cand, k, n_t = UB.shape
    lam = np.repeat(np.maximum(vals, 0), n_t, axis=0)  # (n_cand n_t, k)
    cc = (UB.transpose(0, 2, 1) ** 2).reshape(-1, k)
    ref = np.repeat(np.where(w_ref > 0, w_ref, 1.0), n_t)
    w_t = _one_dim(lam, cc, np.ones(k), ref, group=n_t)[0]
    g = (w_t[:, None] / (1.0 + w_t[:, None] * lam)).reshape(n_cand, n_t, k)
    mu = np.einsum("jab,jtb,jbt->jat", U, g, UB)
    C = np.einsum("jab,jtb,jcb->jtac", U, g, U)
    return mu, C


def merge_split(result, refit, threshold, neighbors, G, data):
    """Merge active locations that the evidence says are one source.

    Two active locations whose candidate neighbourhoods overlap are tested
    as one source: both are removed and one source is put at the best
    location of their neighbourhoods (:func:`relocate`). When the rise of
    cost (18), ``D``, is below ``threshold`` (the evidence a location needs
    to be kept), the second location does not earn its place: the pair is
    replaced by that location and cost (18) is minimised again on the new
    support. The pair with the smallest ``D`` goes first, until no pair
    qualifies.

    Parameters
    ----------
    result : SolverResult
        A selected optimum of cost (18).
    refit : callable
        ``refit(locations, weights_init) -> SolverResult``.
    threshold : float
        The selection's ``min_evidence``.
    neighbors : callable
        ``neighbors(location)``: the candidate locations of a source there.
    G : array
        The gain the result was solved on.
    data : callable
        ``data(result)``: its responses as :func:`relocate` takes them.

    Returns
    -------
    result : SolverResult
        With ``info["merges"]``: one dict per merge (the locations merged,
        the location kept, ``D``).
    """
    k = result.n_orient
    merges = []
    n_iter = 0
    current = result
    while current.locations.size > 1:
        locs = current.locations
        hoods = {int(a): np.asarray(neighbors(int(a)), int) for a in locs}
        responses = None
        best = None
        for x in range(locs.size):
            for y in range(x + 1, locs.size):
                a, b = int(locs[x]), int(locs[y])
                if not np.intersect1d(hoods[a], hoods[b]).size:
                    continue
                cand = np.union1d(hoods[a], hoods[b])
                # not onto another source
                cand = cand[~np.isin(cand, locs) | np.isin(cand, [a, b])]
                rel, responses = relocate(
                    G, current.weights, data(current), k, [a, b], cand,
                    means=False, responses=responses,
                )
                j = int(np.argmin(rel.delta_cost))
                d = float(rel.delta_cost[j])
                if rel.weight[j] > 0 and (best is None or d < best[0]):
                    best = (d, a, b, int(cand[j]), float(rel.weight[j]))
        if best is None or best[0] >= threshold:
            break
        d, a, b, j, w_j = best
        w_loc = current.weights[current.active_set[::k]]
        keep = ~np.isin(locs, [a, b])
        new_locs = np.append(locs[keep], j)
        w_init = np.append(w_loc[keep], w_j)
        merges.append(dict(merged=[a, b], location=j, delta_cost=d))
        current = refit(new_locs, w_init)
        n_iter += current.n_iter
    if merges:
        for key in ("selection", "optimum", "restarts"):
            if key in result.info:
                current.info[key] = result.info[key]
        current.n_iter = result.n_iter + n_iter
    current.info["merges"] = merges
    return current

"""Majorisation-minimisation engine shared by the VAE and AE solvers.

After the encoder is optimised away (paper appendix C.1 and E), the full
VAE, the diagonal VAE and the log-penalised autoencoder all reduce to::

    L(w) = tr[M M^T Sigma^-1] + penalty(w),   Sigma = G diag(w) G^T + gamma I

with a concave ``penalty``: ``n log|Sigma|`` (cost (18)), ``n sum_j log(gamma
+ w_j ||g_j||^2)`` (cost (50) with the encoder means optimised away) or
``sum_j log(w_j / n + eps)`` (eq. (8) with h = log, see
:func:`vaesource.solvers.autoencoder`). The data term is
``min_X (1/gamma) ||M - G X||^2 + sum_j ||X_j||^2 / w_j``, attained at
``X = diag(w) G^T Sigma^-1 M``, so every iteration shares one Cholesky
factorisation of ``Sigma`` (or, once at most ``n_sensors`` columns remain
active, of its restriction to their span) and only the weight update
differs.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import blas, lapack

from ..utils import ConvergenceWarning, logger, warn
from ._common import _expand, _group_sum


def _chol(S, what):
    """Lower Cholesky factor, regularised at rounding level if needed."""
    n = S.shape[0]
    L, info = lapack.dpotrf(S, lower=1, clean=1)
    if info != 0:
        # Only reachable when rounding makes S indefinite (gamma far below
        # eps * ||G W G^T||): regularise at that rounding level.
        floor = np.finfo(float).eps * np.abs(S).max() * n
        logger.debug("Cholesky of %s failed; adding %.3g to the diagonal", what, floor)
        S.flat[:: n + 1] += floor
        L, info = lapack.dpotrf(S, lower=1, clean=1)
        if info != 0:
            raise np.linalg.LinAlgError(
                f"{what} is not positive definite; is gamma too small for the "
                "data scale?"
            )
    return L


# The small factorisations below call LAPACK directly: on the paper's
# problems (100 x 100) the checks and dispatch of scipy.linalg's wrappers
# cost 10-20 us per call, several percent of a solve. Same routines, same
# storage order, so the same results to the last bit.
def _tri(L, B, trans=False):
    """``L^-1 B`` (``L^-T B`` if ``trans``) for a lower triangular ``L``."""
    if L.flags.f_contiguous:
        X, info = lapack.dtrtrs(L, B, lower=1, trans=1 if trans else 0)
    else:  # LAPACK reads a C-ordered L as its (upper) transpose
        X, info = lapack.dtrtrs(L.T, B, lower=0, trans=0 if trans else 1)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"singular triangular factor (diagonal {info - 1})")
    return X


def _cho_factor(A):
    """Lower Cholesky factor of a symmetric positive definite ``A`` (raises
    ``LinAlgError`` if it is not: callers choose the remedy)."""
    L, info = lapack.dpotrf(A, lower=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError("matrix is not positive definite")
    return L


def _cho_solve(L, B):
    """``A^-1 B`` from the lower factor of :func:`_cho_factor`."""
    X, info = lapack.dpotrs(L, B, lower=1)
    if info != 0:
        raise ValueError(f"illegal value in argument {-info} of dpotrs")
    return X


class _DenseFactor:
    """Sigma = G_A W G_A^T + gamma I through its n_sensors x n_sensors Cholesky.

    Used while there are more active columns than sensors.
    """

    def __init__(self, G_A, w_cols, gamma, Q):
        n_sensors = G_A.shape[0]
        self.G_A, self.gamma = G_A, gamma
        # lower triangle of G_A W G_A^T (syrk: half the flops of gemm)
        Gs = np.asfortranarray(G_A * np.sqrt(w_cols))
        Sigma = blas.dsyrk(1.0, Gs, lower=1)
        Sigma.flat[:: n_sensors + 1] += gamma
        self.L = _chol(Sigma, "Sigma = G diag(w) G^T + gamma I")
        self.C = _tri(self.L, Q)  # L^-1 Q
        self._B = None  # L^-1 G_A, when asked for (z_cols)
        self.data = float(np.sum(self.C**2))  # tr[Q Q^T Sigma^-1]
        self.logdet = 2.0 * float(np.sum(np.log(np.diag(self.L))))

    @property
    def B(self):
        """``L^-1 G_A``: the whitened active columns (the costly part of an
        iteration, n_sensors^2 per column; the separable penalties' steps
        need only ``G_A^T Sigma^-1 Q``)."""
        if self._B is None:
            self._B = _tri(self.L, self.G_A)
        return self._B

    def GtSinvQ(self):
        """``G_A^T Sigma^-1 Q``, shape (n_active_cols, k)."""
        if self._B is None:
            return self.G_A.T @ _tri(self.L, self.C, trans=True)
        return self.B.T @ self.C

    def z_cols(self):
        """``diag(G_A^T Sigma^-1 G_A)``."""
        return np.sum(self.B**2, axis=0)

    def noise_stats(self):
        """``(||Sigma^-1 Q||_F^2, tr Sigma^-1)`` for the noise update."""
        E = _tri(self.L, self.C, trans=True)
        Linv = _tri(self.L, np.eye(self.L.shape[0]))
        return float(np.sum(E**2)), float(np.sum(Linv**2))

    def GtSinv(self, M):
        """``G_A^T Sigma^-1 M``."""
        return self.B.T @ _tri(self.L, M)

    def SinvG(self):
        """``Sigma^-1 G_A``, shape (n_sensors, n_active_cols)."""
        return _tri(self.L, self.B, trans=True)

    def whiten(self, G_C):
        """``(T, TQ)`` with ``T^T T = G_C^T Sigma^-1 G_C``, ``T^T TQ = G_C^T
        Sigma^-1 Q`` (for columns outside the active set)."""
        return _tri(self.L, G_C), self.C


class _Basis:
    """Thin QR ``G_A = Q_A R`` of the active columns, reused while they stay.

    With ``p <= n_sensors`` independent active columns, ``Sigma`` acts as
    ``R W R^T + gamma I`` on their span and as ``gamma I`` on its complement,
    so every quantity of an iteration costs O(p^3) instead of
    O(n_sensors^2 p), and no ``1 / gamma`` ever multiplies a rounding error
    of the span: the ``gamma -> 0`` limit stays accurate.
    """

    def __init__(self, G_A, Q):
        self.Qa, self.R = linalg.qr(G_A, mode="economic", check_finite=False)
        d = np.abs(np.diag(self.R))
        self.ok = d.size == 0 or d.min() > 1e-10 * d.max()
        self.Y = self.Qa.T @ Q
        self.resQ = Q - self.Qa @ self.Y
        self.resid2 = float(np.sum(self.resQ**2))
        self.n_sensors = G_A.shape[0]


class _ReducedFactor:
    """Sigma on the span of ``p <= n_sensors`` active columns (see _Basis)."""

    def __init__(self, basis, w_cols, gamma):
        self.basis, self.gamma = basis, gamma
        R = basis.R
        p = R.shape[0]
        Rs = np.asfortranarray(R * np.sqrt(w_cols))
        S = blas.dsyrk(1.0, Rs, lower=1)
        S.flat[:: p + 1] += gamma
        self.L = _chol(S, "R diag(w) R^T + gamma I")
        T = _tri(self.L, np.hstack([R, basis.Y]))
        self.TR, self.TY = T[:, :p], T[:, p:]
        self.data = basis.resid2 / gamma + float(np.sum(self.TY**2))
        self.logdet = (basis.n_sensors - p) * np.log(gamma) + 2.0 * float(
            np.sum(np.log(np.diag(self.L)))
        )

    def GtSinvQ(self):
        return self.TR.T @ self.TY

    def z_cols(self):
        return np.sum(self.TR**2, axis=0)

    def noise_stats(self):
        b, g = self.basis, self.gamma
        p = self.L.shape[0]
        SinvY = _tri(self.L, self.TY, trans=True)
        Linv = _tri(self.L, np.eye(p))
        e2 = b.resid2 / g**2 + float(np.sum(SinvY**2))
        return e2, (b.n_sensors - p) / g + float(np.sum(Linv**2))

    def GtSinv(self, M):
        b = self.basis
        # the part of M outside the span is orthogonal to G_A: it drops out
        return self.TR.T @ _tri(self.L, b.Qa.T @ M)

    def SinvG(self):
        return self.basis.Qa @ _tri(self.L, self.TR, trans=True)

    def whiten(self, G_C):
        b, g = self.basis, self.gamma
        P = b.Qa.T @ G_C
        # span part through S^-1, complement part through 1 / gamma
        T = np.vstack([_tri(self.L, P), (G_C - b.Qa @ P) / np.sqrt(g)])
        TQ = np.vstack([self.TY, b.resQ / np.sqrt(g)])
        return T, TQ


def _factor(G, cols, w_cols, gamma, Q, cache):
    """The cheaper exact factorisation of Sigma for these active columns."""
    G_A = G[:, cols]
    if 0 < cols.size <= G.shape[0]:
        key = cols.tobytes()
        if cache.get("key") != key:
            cache["key"], cache["basis"] = key, _Basis(G_A, Q)
        if cache["basis"].ok:
            return _ReducedFactor(cache["basis"], w_cols, gamma)
    return _DenseFactor(G_A, w_cols, gamma, Q)


def _penalty(kind, w_loc, col_norms2, gamma, n_times, n_orient, eps, logdet):
    """Concave penalty of the reduced cost for all locations."""
    if kind == "logdet":
        return n_times * logdet
    if kind == "diag":
        wc = _expand(w_loc, n_orient) * col_norms2
        return n_times * np.sum(np.log(gamma + wc))
    if kind == "log":
        with np.errstate(divide="ignore"):
            return np.sum(np.log(w_loc / n_times + eps))
    raise RuntimeError(kind)  # pragma: no cover


def _mm_solve(
    M,
    G,
    Q,
    *,
    n_orient,
    gamma,
    kind,
    update,
    learn_gamma,
    max_iter,
    tol,
    prune_tol,
    weights_init,
    eps,
    name,
    n_times=None,
):
    """Run the MM iterations; returns a dict of raw results.

    ``kind`` selects the penalty ("logdet", "diag", "log"), ``update`` the
    weight update ("convex", "mackay", "em" for "logdet"; "convex" for "diag";
    "exact" for "log"). ``n_times`` is the number of samples the data stand
    for (the ``n`` of the cost; default ``M.shape[1]``, more when ``M`` is a
    thin factor of many responses).
    """
    n_sensors = M.shape[0]
    if n_times is None:
        n_times = M.shape[1]
    n_locations = G.shape[1] // n_orient
    col_norms2 = np.sum(G**2, axis=0)
    loc_norms2 = _group_sum(col_norms2, n_orient)
    data_norm2 = float(np.sum(Q**2))

    # Locations with a zero gain column block can never explain anything.
    w = np.zeros(n_locations)
    usable = loc_norms2 > 0
    if weights_init is None:
        # Uniform weights whose model covariance has the data's power.
        w0 = data_norm2 / (n_times * max(np.sum(col_norms2), np.finfo(float).tiny))
        w[usable] = w0 if w0 > 0 else 1.0
    else:
        w[usable] = np.asarray(weights_init, float)[usable]
    if data_norm2 == 0.0:
        w[:] = 0.0
    kkt = kind == "logdet"

    # pruned locations keep w = 0 and drop out of every product below
    active = np.flatnonzero(w > 0)
    n_added = 0
    # On large dictionaries, while locations may still enter, the iterations
    # only run to a loose tolerance (as working-set solvers such as celer
    # do with their subproblems): converging to ``tol`` before each
    # optimality check wastes iterations. On small ones the extra iteration
    # costs more than it saves.
    large = G.shape[1] > 4 * n_sensors
    cur_tol = max(tol, _LOOSE_TOL) if kkt and large else tol
    cost = []
    cache = {}  # QR of the active columns, recomputed when they change
    converged = False
    n_rejected = 0
    snapshot = None  # state before a MacKay step, to undo it
    while True:
        cols = _cols(active, n_orient)
        w_A = w[active]
        fac = _factor(G, cols, _expand(w_A, n_orient), gamma, Q, cache)
        pen = _penalty(
            kind, w, col_norms2, gamma, n_times, n_orient, eps, fac.logdet
        )
        new_cost = fac.data + pen
        if snapshot is not None and new_cost > snapshot["cost"] + 1e-12 * abs(
            snapshot["cost"]
        ):
            n_rejected += 1
            w, active, gamma = snapshot["w"], snapshot["active"], snapshot["gamma"]
            if "entry" in snapshot:
                # Locations entering together interact: admit only the
                # best one, at its exact optimum, which lowers the cost.
                loc, w_loc = snapshot["entry"]
                w[loc] = w_loc
                active = np.union1d(active, [loc])
            else:
                # The MacKay step raised the cost: replace it by the
                # convex-bounding step from the same point, which cannot.
                w_new, gamma = _step(
                    "convex", kind, snapshot, n_times, n_orient, gamma
                )
                active = _apply(w, active, w_new, loc_norms2, prune_tol, gamma)
            snapshot = None
            continue
        snapshot = None
        cost.append(new_cost)
        n_iter = len(cost) - 1
        if n_iter >= 1:
            change = abs(cost[-2] - cost[-1])
            if change <= cur_tol * max(abs(cost[-1]), np.finfo(float).tiny):
                entering = None
                if kkt and n_iter < max_iter:
                    entering = _enter(
                        fac, G, w, active, usable, n_orient, n_times, cur_tol,
                        new_cost,
                    )
                if entering is not None:
                    locs, w_locs, best = entering
                    snapshot = dict(cost=new_cost, w=w.copy(),
                                    active=active.copy(), gamma=gamma, entry=best)
                    n_added += locs.size
                    w[locs] = w_locs
                    active = np.union1d(active, locs)
                    continue
                if cur_tol <= tol:
                    converged = True
                    break
                # no location enters any more: now converge to tol
                cur_tol = tol
        if n_iter == max_iter or active.size == 0:
            converged = active.size == 0
            break

        # tr(G_i^T S^-1 G_i): cost (18)'s steps only
        z = _group_sum(fac.z_cols(), n_orient) if kind == "logdet" else None
        A = fac.GtSinvQ()
        state = dict(
            cost=new_cost,
            w_A=w_A,
            a2=_group_sum(np.sum(A**2, axis=1), n_orient),  # ||G_i^T S^-1 Q||^2
            z=z,
            c_A=col_norms2[cols],
            gamma=gamma,
            eps=eps,
        )
        if learn_gamma:
            state["e2"], state["tr_inv"] = fac.noise_stats()
            state["n_sensors"] = n_sensors
        if update == "mackay":
            state.update(w=w.copy(), active=active.copy())
            snapshot = state
        w_new, gamma = _step(update, kind, state, n_times, n_orient, gamma)
        active = _apply(w, active, w_new, loc_norms2, prune_tol, gamma)

    cost = np.asarray(cost)
    if not converged:
        rel = (
            abs(cost[-2] - cost[-1]) / max(abs(cost[-1]), np.finfo(float).tiny)
            if cost.size > 1
            else np.inf
        )
        warn(
            f"{name} did not converge after {n_iter} iterations: relative "
            f"cost change {rel:.2e}, tolerance {tol:.2e}.",
            ConvergenceWarning,
        )

    # Final estimate at the returned weights (the loop stops right after
    # evaluating them, but a MacKay rejection may have moved on; rebuild).
    cols = _cols(active, n_orient)
    w_cols = _expand(w[active], n_orient)
    X = np.zeros((G.shape[1], M.shape[1]))
    if active.size:
        fac = _factor(G, cols, w_cols, gamma, Q, cache)
        SinvG = fac.SinvG()
        X[cols] = w_cols[:, None] * fac.GtSinv(M)
    else:
        SinvG = np.zeros((n_sensors, 0))
    G_A = G[:, cols]
    return dict(
        X=X,
        w=w,
        cols=cols,
        w_cols=w_cols,
        G_A=G_A,
        SinvG=SinvG,
        gamma=gamma,
        cost=cost,
        n_iter=n_iter,
        converged=converged,
        n_rejected=n_rejected,
        n_added=n_added,
    )


def _cols(active, n_orient):
    """Column indices of the active locations."""
    if n_orient == 1:
        return active
    return (active[:, None] * n_orient + np.arange(n_orient)).ravel()


_LOOSE_TOL = 1e-5


def _enter(fac, G, w, active, usable, n_orient, n_times, tol, cost):
    """Locations to bring (back) in at a converged point, or None.

    A location enters when its single-location gain, about ``n (rho - 1)^2
    / 2``, exceeds the stopping tolerance ``tol |cost|``. Returns the
    locations, their starting weights (the exact single-column optimum
    ``(rho - 1) / z``) and the best one with its exact optimum.
    """
    inactive = np.flatnonzero(usable & (w == 0))
    if inactive.size == 0:
        return None
    threshold = max(np.sqrt(2.0 * tol * abs(cost) / n_times), 1e-6)
    locs, rho, z = _violations(fac, G, inactive, n_orient, n_times, threshold)
    if locs.size == 0:
        return None
    n_enter = max(10, active.size)
    locs, rho, z = locs[:n_enter], rho[:n_enter], z[:n_enter]
    best = (locs[0], _best_entry_weight(fac, G[:, _cols(locs[:1], n_orient)], n_times))
    logger.debug("%d locations enter (max rho %.3g)", locs.size, rho[0])
    return locs, (rho - 1.0) / z, best


def _violations(fac, G, cands, n_orient, n_times, threshold, chunk=4096):
    """MacKay ratio ``rho_i`` (and ``z_i``) of inactive locations above threshold.

    At ``w_i = 0`` the derivative of cost (18) in ``w_i`` is
    ``n tr(G_i^T S^-1 G_i) - ||G_i^T S^-1 Q||^2 = n z_i (1 - rho_i)``: a
    location with ``rho_i > 1`` would lower the cost by entering.
    """
    rho, z = np.empty(cands.size), np.empty(cands.size)
    for start in range(0, cands.size, chunk):
        sl = slice(start, start + chunk)
        T, TQ = fac.whiten(G[:, _cols(cands[sl], n_orient)])
        a2 = _group_sum(np.sum((T.T @ TQ) ** 2, axis=1), n_orient)
        z[sl] = _group_sum(np.sum(T**2, axis=0), n_orient)
        rho[sl] = (a2 / n_times) / z[sl]
    order = np.argsort(-rho)
    order = order[rho[order] > 1.0 + threshold]
    return cands[order], rho[order], z[order]


def _best_entry_weight(fac, G_i, n_times):
    """Exact minimiser over ``w >= 0`` of cost (18) when one location enters.

    With ``Z = G_i^T S^-1 G_i = V diag(lam) V^T`` and ``B = V^T G_i^T S^-1
    Q``, the cost changes by ``f(w) = -w sum_j ||B_j||^2 / (1 + w lam_j) + n
    sum_j log(1 + w lam_j)``; ``f'(w) = 0`` is found by bisection.
    """
    T, TQ = fac.whiten(G_i)
    lam, V = np.linalg.eigh(T.T @ T)
    lam = np.maximum(lam, 0.0)
    b2 = np.sum((V.T @ (T.T @ TQ)) ** 2, axis=1)

    def grad(w):
        return np.sum(-b2 / (1 + w * lam) ** 2 + n_times * lam / (1 + w * lam))

    lo, hi = 0.0, 1.0 / max(lam.max(), np.finfo(float).tiny)
    while grad(hi) < 0 and hi < 1e300:
        lo, hi = hi, 2.0 * hi
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if grad(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)


def _step(update, kind, st, n_times, n_orient, gamma):
    """One weight (and noise) update from the quantities at the current w."""
    w_A, a2, z = st["w_A"], st["a2"], st["z"]
    u2 = w_A**2 * a2  # ||X_i||_F^2 of the current estimate
    if kind == "logdet":
        rho = (a2 / n_times) / z
        if update == "convex":
            w_new = w_A * np.sqrt(rho)
        elif update == "mackay":
            w_new = w_A * rho
        else:  # em
            w_new = w_A + w_A**2 * (a2 / n_times - z) / n_orient
    elif kind == "diag":
        c_A = st["c_A"]
        grad = _group_sum(c_A / (st["gamma"] + _expand(w_A, n_orient) * c_A), n_orient)
        w_new = np.sqrt(u2 / (n_times * grad))
    else:  # log: exact minimisation of ||X_i||^2 / w + log(w / n + eps)
        w_new = 0.5 * (u2 + np.sqrt(u2**2 + 4.0 * u2 * n_times * st["eps"]))
    if "tr_inv" in st:
        # the noise as one more group: n_sensors identity columns
        g = st["gamma"]
        tr_inv = st["tr_inv"]
        rho_g = (st["e2"] / n_times) / tr_inv
        if update == "convex":
            gamma = g * np.sqrt(rho_g)
        elif update == "mackay":
            gamma = g * rho_g
        else:
            gamma = g + g**2 * tr_inv * (rho_g - 1.0) / st["n_sensors"]
        gamma = float(max(gamma, np.finfo(float).tiny))
    w_new[~np.isfinite(w_new)] = 0.0
    return w_new, gamma


def _apply(w, active, w_new, loc_norms2, prune_tol, gamma):
    """Write the new weights into ``w`` in place and prune; return active."""
    w[active] = w_new
    # A location whose variance is a negligible fraction of the noise
    # variance no longer shapes Sigma; w = 0 is a fixed point of every
    # update, so dropping it only saves work. A threshold relative to
    # max(w) instead would cut true sources whose variances span many
    # decades (the paper's Jeffreys setting).
    keep = w_new * loc_norms2[active] > prune_tol * gamma
    if not np.all(keep):
        w[active[~keep]] = 0.0
        active = active[keep]
    return active

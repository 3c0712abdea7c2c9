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
factorisation of ``Sigma`` and only the weight update differs.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import blas, lapack

from ..utils import ConvergenceWarning, logger, warn
from ._common import _expand, _group_sum


class _Factor:
    """Cholesky factor of Sigma on the current active columns."""

    def __init__(self, G_A, w_cols, gamma):
        n_sensors = G_A.shape[0]
        # lower triangle of G_A diag(w) G_A^T (syrk: half the flops of gemm)
        Gs = np.asfortranarray(G_A * np.sqrt(w_cols))
        Sigma = blas.dsyrk(1.0, Gs, lower=1)
        Sigma.flat[:: n_sensors + 1] += gamma
        L, info = lapack.dpotrf(Sigma, lower=1, clean=1)
        if info != 0:
            # Only reachable when rounding makes Sigma indefinite (gamma far
            # below eps * ||G W G^T||): regularise at that rounding level.
            floor = np.finfo(float).eps * np.abs(Sigma).max() * n_sensors
            logger.debug("Cholesky failed; adding %.3g to the diagonal", floor)
            Sigma.flat[:: n_sensors + 1] += floor
            L, info = lapack.dpotrf(Sigma, lower=1, clean=1)
            if info != 0:
                raise np.linalg.LinAlgError(
                    "Sigma = G diag(w) G^T + gamma I is not positive definite "
                    f"(gamma={gamma:.3g}); is gamma too small for the data scale?"
                )
        self.L = L
        self.logdet = 2.0 * np.sum(np.log(np.diag(self.L)))

    def solve_L(self, B):
        """``L^-1 B``."""
        return linalg.solve_triangular(self.L, B, lower=True, check_finite=False)

    def solve_Lt(self, B):
        """``L^-T B``."""
        return linalg.solve_triangular(
            self.L, B, lower=True, trans="T", check_finite=False
        )


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
):
    """Run the MM iterations; returns a dict of raw results.

    ``kind`` selects the penalty ("logdet", "diag", "log"), ``update`` the
    weight update ("convex", "mackay", "em" for "logdet"; "convex" for "diag";
    "exact" for "log").
    """
    n_sensors, n_times = M.shape
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

    # pruned locations keep w = 0 and drop out of every product below
    active = np.flatnonzero(w > 0)
    cost = []
    converged = False
    n_rejected = 0
    snapshot = None  # state before a MacKay step, to undo it
    while True:
        cols = _cols(active, n_orient)
        G_A = G[:, cols]
        w_A = w[active]
        fac = _Factor(G_A, _expand(w_A, n_orient), gamma)
        BC = fac.solve_L(np.hstack([G_A, Q]))  # one triangular solve
        B, C = BC[:, : G_A.shape[1]], BC[:, G_A.shape[1] :]  # L^-1 G_A, L^-1 Q
        data = float(np.sum(C**2))  # tr[Q Q^T Sigma^-1]
        pen = _penalty(
            kind, w, col_norms2, gamma, n_times, n_orient, eps, fac.logdet
        )
        new_cost = data + pen
        if snapshot is not None and new_cost > snapshot["cost"] + 1e-12 * abs(
            snapshot["cost"]
        ):
            # The MacKay step raised the cost: replace it by the
            # convex-bounding step from the same point, which cannot.
            n_rejected += 1
            w, active, gamma = snapshot["w"], snapshot["active"], snapshot["gamma"]
            w_new, gamma = _step("convex", kind, snapshot, n_times, n_orient, gamma)
            active = _apply(w, active, w_new, loc_norms2, prune_tol, gamma)
            snapshot = None
            continue
        cost.append(new_cost)
        n_iter = len(cost) - 1
        if n_iter >= 1:
            change = abs(cost[-2] - cost[-1])
            if change <= tol * max(abs(cost[-1]), np.finfo(float).tiny):
                converged = True
                break
        if n_iter == max_iter or active.size == 0:
            converged = active.size == 0
            break

        A = B.T @ C  # G_A^T Sigma^-1 Q
        state = dict(
            cost=new_cost,
            w_A=w_A,
            a2=_group_sum(np.sum(A**2, axis=1), n_orient),  # ||G_i^T S^-1 Q||^2
            z=_group_sum(np.sum(B**2, axis=0), n_orient),  # tr(G_i^T S^-1 G_i)
            c_A=col_norms2[cols],
            gamma=gamma,
            eps=eps,
        )
        if learn_gamma:
            E = fac.solve_Lt(C)  # Sigma^-1 Q
            Linv = fac.solve_L(np.eye(n_sensors))
            state["tr_inv"] = float(np.sum(Linv**2))
            state["e2"] = float(np.sum(E**2))
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

    # Final estimate at the returned weights (the factor is already current
    # when the loop stopped on the tolerance; rebuild it after a pruning).
    cols = _cols(active, n_orient)
    G_A = G[:, cols]
    w_cols = _expand(w[active], n_orient)
    if active.size:
        fac = _Factor(G_A, w_cols, gamma)
        B = fac.solve_L(G_A)
        SinvG = fac.solve_Lt(B)  # Sigma^-1 G_A
    else:
        fac = None
        SinvG = np.zeros((n_sensors, 0))
    X = np.zeros((G.shape[1], n_times))
    X[cols] = w_cols[:, None] * (SinvG.T @ M)
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
    )


def _cols(active, n_orient):
    """Column indices of the active locations."""
    if n_orient == 1:
        return active
    return (active[:, None] * n_orient + np.arange(n_orient)).ravel()


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

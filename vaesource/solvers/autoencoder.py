"""The deterministic autoencoder baseline of the paper (eq. 8, h = log)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .._docs import fill_doc
from ..utils import (
    _blas_single_thread,
    _check_option,
    _check_positive,
    logger,
    use_log_level,
)
from ._common import _expand, _reduce_data
from ._mm import _mm_solve
from ._newton import _newton_solve, _Separable
from ._result import SolverResult, VAEParameters
from .vae import (
    _CERTIFICATE,
    _SEPARABLE_UPDATES,
    _check_common,
    _separable_engine,
)


@fill_doc
def autoencoder(
    M,
    G,
    *,
    gamma=1.0,
    n_orient=1,
    eps=None,
    update: Literal["auto", "newton", "mm"] = "auto",
    max_iter=2000,
    tol=1e-8,
    kkt_tol=1e-6,
    prune_tol=1e-6,
    weights_init=None,
    verbose=None,
) -> SolverResult:
    """Deterministic autoencoder with a log latent penalty (paper eq. 8).

    The AE shares the VAE's encoder and decoder means (``z = W_z x``,
    ``x_hat = G diag(w_x) z``) but replaces the posterior by a penalty::

        sum_i (1/gamma) ||x_i - G diag(w_x) z_i||^2 + ||w_x||^2
        + sum_j h(||z_j||^2 / n),   h(v) = log(v + eps)

    (one ``w_x`` and one latent row norm per location when
    ``n_orient > 1``). Writing ``X = diag(w_x) Z`` and optimising the
    split between ``w_x`` and ``Z`` (appendix D) gives, with ``beta_j =
    ||z_j||^2``::

        L(beta) = tr[M M^T Sigma^-1] + sum_j log(beta_j / n + eps),
        Sigma = G diag(beta) G^T + gamma I

    The cost never increases. Both engines start from equal weights on
    every location; a location whose ``beta_j`` reaches zero never returns
    (the derivative of ``log(beta_j / n + eps)`` there is ``1 / (n eps)``).

    Parameters
    ----------
    M : array, shape (n_sensors, n_times)
        Data.
    G : array, shape (n_sensors, n_sources)
        Gain / dictionary.
    gamma : float
        Decoder variance (the weight of the data term), > 0.
    %(n_orient)s
    eps : float | None
        Keeps ``h`` finite at zero; ``eps -> 0`` is the paper's ``h = log``.
        Default ``1e-12 * ||M||_F^2 / n``, negligible for any active row.
    update : "auto" | "newton" | "mm"
        The engine. ``"auto"`` (default): ``"newton"`` on dictionaries of
        more than ``4 n_sensors`` columns, ``"mm"`` on smaller ones (the
        faster one on each, as measured; on figure 2's problems both give
        the same success rates at every r and setting, 50 trials each).

        - ``"newton"``: the working-set projected-Newton engine of
          :func:`full_vae` on this cost: the MM steps below while they lower
          the cost by more than 1e-3 (relative), then projected Newton
          steps on the exact Hessian (that of the data term plus the
          penalty's diagonal ``-1 / (beta_j + n eps)^2``); it stops on a
          certificate of stationarity (``kkt_tol``).
        - ``"mm"``: the MM engine of earlier releases, alternating the exact
          ridge step for ``X`` and the exact minimisation over each
          ``beta_j`` (for ``eps -> 0``, ``beta_j = ||X_j||^2``: M-FOCUSS
          with p = 0, Cotter et al. 2005) until the relative cost change is
          below ``tol``.
    %(max_iter)s
    %(tol)s
    kkt_tol : float
        ``"newton"``: stop when ``|rho_j - 1|`` is at most this on every
        active location, with ``rho_j = ||G_j^T Sigma^-1 M||_F^2 (beta_j + n
        eps)`` the ratio of the data term's derivative to the penalty's.
    %(prune_tol)s
    %(weights_init)s
    %(verbose)s

    Returns
    -------
    result : SolverResult
        ``result.weights`` holds ``beta`` (the variances in ``Sigma``);
        ``result.cost`` the cost above, equal to eq. (8) at the returned
        parameters ``result.params`` (``w_x``, ``W_z``).
    """
    with use_log_level(verbose):
        M, G, gamma, n_orient, max_iter, tol, prune_tol, weights_init = (
            _check_common(M, G, gamma, n_orient, max_iter, tol, prune_tol,
                          weights_init)
        )
        n_times = M.shape[1]
        if eps is None:
            eps = 1e-12 * max(float(np.sum(M**2)) / n_times, np.finfo(float).tiny)
        eps = _check_positive("eps", eps)
        _check_option("update", update, _SEPARABLE_UPDATES)
        update = _separable_engine(update, G)
        kkt_tol = _check_positive("kkt_tol", kkt_tol, allow_zero=True)
        logger.debug("autoencoder: eps=%.3g", eps)
        with _blas_single_thread():
            Q, _ = _reduce_data(M)
            if update == "newton":
                out = _newton_solve(
                    M, G, Q, n_orient=n_orient, gamma=gamma, learn_gamma=False,
                    max_iter=max_iter, tol=tol, kkt_tol=kkt_tol,
                    prune_tol=prune_tol, weights_init=weights_init,
                    name="autoencoder", penalty=_Separable("log", gamma, eps),
                )
            else:
                out = _mm_solve(
                    M, G, Q, n_orient=n_orient, gamma=gamma, kind="log",
                    update="exact", learn_gamma=False, max_iter=max_iter,
                    tol=tol, prune_tol=prune_tol, weights_init=weights_init,
                    eps=eps, name="autoencoder",
                )
        beta = out["w"]
        cols = out["cols"]
        X = out["X"]
        # split X_j = w_xj z_j with ||z_j||^2 = beta_j (the optimal split)
        loc_norm = np.linalg.norm(
            X.reshape(-1, n_orient * n_times), axis=1
        )
        w_x_loc = np.zeros_like(beta)
        nz = beta > 0
        w_x_loc[nz] = loc_norm[nz] / np.sqrt(beta[nz])
        w_x = _expand(w_x_loc, n_orient)
        weights = _expand(beta, n_orient)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(w_x[cols] > 0, weights[cols] / w_x[cols], 0.0)
        params = VAEParameters(
            w_x=w_x, gamma=gamma, active_set=cols,
            W_z_active=scale[:, None] * out["SinvG"].T, kind="ae",
        )
        return SolverResult(
            X=X, weights=weights, active_set=cols, cost=out["cost"],
            n_iter=out["n_iter"], converged=out["converged"], gamma=gamma,
            model="autoencoder", n_orient=n_orient, params=params,
            info={"eps": eps, "n_times_reduced": Q.shape[1], "update": update,
                  **{k: out[k] for k in _CERTIFICATE if k in out}},
        )

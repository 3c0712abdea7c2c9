"""Many responses, one support: the joint full-covariance VAE (DESIGN §9).

Responses ``c`` (conditions, epochs, averages of ``nave_c`` trials) share
the source weights ``w`` and differ in their noise level: whitened by the
single-trial noise covariance, an average of ``nave_c`` trials has noise
``gamma nave_ref / nave_c``. The joint cost is the sum of the responses'
costs (18). With equal noise levels only ``sum_c M_c M_c^T`` and the total
number of samples enter, and one :func:`~vaesource.solvers.full_vae` call on
a thin factor solves it; with unequal ones the Newton engine runs on all the
``Sigma_c`` at once (:class:`._newton._JointProblem`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import linalg

from .._docs import fill_doc
from ..utils import (
    _blas_single_thread,
    _check_array,
    _check_int,
    _check_option,
    _check_positive,
    _validate_type,
    use_log_level,
)
from ._common import _expand, _reduce_data
from ._evidence import joint_evidence
from ._newton import _joint_newton_solve
from ._result import SolverResult, VAEParameters
from .vae import (
    _CERTIFICATE,
    _UPDATES,
    _check_common,
    _empty,
    _full_vae_runs,
    full_vae,
)


@fill_doc
def joint_full_vae(
    Ms,
    G,
    *,
    gamma=1.0,
    noise_scales=None,
    n_times=None,
    n_orient=1,
    update: Literal["newton", "mackay", "convex", "em"] = "newton",
    max_iter=2000,
    tol=1e-8,
    kkt_tol=1e-6,
    prune_tol=1e-6,
    weights_init=None,
    min_evidence=None,
    n_restarts=1,
    random_state=None,
    verbose=None,
) -> SolverResult:
    """Full-covariance VAE on many responses sharing one support.

    Response ``c`` has data ``M_c`` (or a thin factor of it) standing for
    ``n_c`` time samples and noise variance ``gamma_c = gamma *
    noise_scales[c]``; all share the weights ``w``. The joint cost, the sum
    of the responses' costs (18), is::

        L(w) = sum_c [tr(M_c^T Sigma_c^-1 M_c) + n_c log|Sigma_c|],
        Sigma_c = G diag(w) G^T + gamma_c I

    Parameters
    ----------
    Ms : list of array, shape (n_sensors, k_c)
        The responses' data (whitened so that the noise variance of
        response ``c`` is ``gamma * noise_scales[c]``), or thin factors
        ``Q_c`` of them (``Q_c Q_c^T = M_c M_c^T``; then give their numbers
        of samples as ``n_times``).
    G : array, shape (n_sensors, n_sources)
        Gain / dictionary.
    gamma : float
        Noise variance of a response with scale 1, > 0.
    noise_scales : array, shape (n_responses,) | None
        Noise variance of each response relative to ``gamma``, each > 0
        (for averages of ``nave_c`` trials whitened by the covariance of
        the average of ``nave_ref``: ``nave_ref / nave_c``). None: all 1.
    n_times : list of int | None
        Number of time samples each response stands for (its ``n_c``).
        None: ``M_c.shape[1]``.
    %(n_orient)s
    update : "newton" | "mackay" | "convex" | "em"
        The engine (see :func:`~vaesource.solvers.full_vae`). Only
        ``"newton"`` handles unequal noise scales.
    %(max_iter)s
    %(tol)s
    %(kkt_tol)s
    %(prune_tol)s
    weights_init : array, shape (n_locations,) | None
        Initial weights (see :func:`~vaesource.solvers.full_vae`).
    min_evidence : float | "auto" | None
        Keep only the active locations whose joint evidence (the rise of
        the joint cost when the location alone is removed) reaches this
        value, refitting the rest (as :func:`~vaesource.solvers.full_vae`
        does with cost (18)).
    n_restarts : int
        Number of runs (the default start and ``n_restarts - 1`` random
        ones); the lowest joint cost wins.
    %(random_state)s
    %(verbose)s

    Returns
    -------
    result : SolverResult
        The joint estimate: ``weights``, ``active_set``, ``cost`` (the
        joint cost after each iteration), ``gamma`` (the ``gamma`` given),
        ``X`` the responses' estimates side by side (``np.hstack`` of the
        ``X_c``), ``evidence`` the joint evidence ``sum_c [n_c log|R_ic| +
        tr(X_ic X_ic^T R_ic^-1) / w_i]`` (``R_ic = I - w_i G_i^T Sigma_c^-1
        G_i``) and ``info`` holding the certificate of the joint cost (as
        :func:`~vaesource.solvers.full_vae`), ``"n_times"`` (the total),
        ``"noise_scales"``, ``"selection"`` / ``"optimum"`` /
        ``"restarts"`` as :func:`~vaesource.solvers.full_vae` has them, and
        ``"responses"``: one :class:`SolverResult` per response with ``X_c
        = diag(w) G^T Sigma_c^-1 M_c`` (shape (n_sources, k_c)), the shared
        weights, ``gamma = gamma_c``, ``params`` of ``Sigma_c`` (so its
        ``posterior_cov`` and ``credible_interval`` are the response's
        own), ``cost`` its term of the joint cost at the returned weights,
        ``info["n_times"] = n_c`` and the joint ``evidence``. With unequal
        scales the joint result has no ``params`` (no single ``Sigma``):
        the posterior is per response.

    Notes
    -----
    Equal scales (e.g. epochs, or conditions of equal size): the cost is
    cost (18) with ``M M^T = sum_c M_c M_c^T`` and ``n = sum_c n_c``, solved
    by one :func:`~vaesource.solvers.full_vae` call on a thin factor.

    Unequal scales: the Newton engine of ``full_vae`` on the joint cost,
    with one factorisation of each ``Sigma_c`` (sharing the QR basis of the
    active columns) and, with ``K_ic = G_i^T Sigma_c^-1 G_i`` and ``B_ic =
    G_i^T Sigma_c^-1 M_c``, the gradient ``sum_c n_c tr K_ic - sum_c
    ||B_ic||_F^2``, the MacKay ratio ``rho_i = sum_c ||B_ic||_F^2 / sum_c
    n_c tr K_ic`` (1 on active locations, at most 1 on inactive ones at a
    stationary point: the certificate) and the Hessian ``sum_c K_c o (2 B_c
    B_c^T - n_c K_c)`` (summed over each location's columns). Weights
    negligible next to the smallest noise level are pruned.
    """
    Ms, G, scales, n_each = _check_responses(Ms, G, noise_scales, n_times)
    n_restarts = _check_int("n_restarts", n_restarts, min_value=1)
    _check_option("update", update, _UPDATES)
    gamma = _check_positive("gamma", gamma)
    with use_log_level(verbose):
        if np.all(scales == scales[0]):
            result = full_vae(
                _stack(Ms), G, gamma=gamma * scales[0], n_times=int(n_each.sum()),
                n_orient=n_orient, update=update, max_iter=max_iter, tol=tol,
                kkt_tol=kkt_tol, prune_tol=prune_tol, weights_init=weights_init,
                min_evidence=min_evidence, n_restarts=n_restarts,
                random_state=random_state,
            )
            with _blas_single_thread():
                for res in (result, result.info.get("optimum")):
                    if res is not None:
                        _add_responses(res, Ms, gamma, scales, n_each)
            return result
        if update != "newton":
            raise ValueError(
                "Responses with different noise scales are only solved with "
                f"update='newton', got update={update!r}."
            )
        _, G, gamma, n_orient, max_iter, tol, prune_tol, weights_init = (
            _check_common(Ms[0], G, gamma, n_orient, max_iter, tol, prune_tol,
                          weights_init))
        kkt_tol = _check_positive("kkt_tol", kkt_tol, allow_zero=True)
        Qs = [_reduce_data(M)[0] for M in Ms]

        def solve(G_, weights_init_, gamma_):
            with _blas_single_thread():
                out = _joint_newton_solve(
                    Ms, G_, Qs, n_each=n_each, scales=scales,
                    n_orient=n_orient, gamma=gamma_, max_iter=max_iter, tol=tol,
                    kkt_tol=kkt_tol, prune_tol=prune_tol,
                    weights_init=weights_init_, name="joint_full_vae",
                )
                return _joint_result(out, gamma_, scales, n_each, n_orient,
                                     sum(Q.shape[1] for Q in Qs))

        def empty(G_, gamma_):
            return _joint_empty(Ms, G_, gamma_, scales, n_each, n_orient)

        def scale():
            power = sum(float(np.sum(M**2)) for M in Ms) / float(n_each.sum())
            return power / max(float(np.sum(G**2)), 1e-300)

        result = _full_vae_runs(
            solve, empty, scale, G, gamma, n_orient, weights_init,
            min_evidence, n_restarts, random_state,
        )
        for res in result.info["responses"]:  # counts of the selection too
            res.n_iter, res.converged = result.n_iter, result.converged
        return result


def _check_responses(Ms, G, noise_scales, n_times):
    """Validate the responses, their noise scales and sample counts."""
    if isinstance(Ms, np.ndarray) and Ms.ndim == 3:
        Ms = list(Ms)
    _validate_type(Ms, (list, tuple), "Ms", "a list of arrays (one per response)")
    if len(Ms) == 0:
        raise ValueError(
            "The 'Ms' parameter must hold at least one response, got an empty "
            "list."
        )
    Ms = [_check_array(f"Ms[{c}]", M, 2) for c, M in enumerate(Ms)]
    G = _check_array("G", G, 2)
    rows = [M.shape[0] for M in Ms]
    if any(r != G.shape[0] for r in rows):
        raise ValueError(
            "Every response must have as many rows (sensors) as G "
            f"({G.shape[0]}), got responses with {rows} rows."
        )
    for c, M in enumerate(Ms):
        if M.shape[1] == 0:
            raise ValueError(f"Response Ms[{c}] has no columns (shape {M.shape}).")
    n_resp = len(Ms)
    if noise_scales is None:
        scales = np.ones(n_resp)
    else:
        _validate_type(noise_scales, "array-like", "noise_scales")
        scales = np.asarray(noise_scales, dtype=float)
        if scales.shape != (n_resp,) or not np.all(
            np.isfinite(scales) & (scales > 0)
        ):
            raise ValueError(
                "The 'noise_scales' parameter must hold one finite value > 0 "
                f"per response ({n_resp}), got {noise_scales!r}."
            )
    if n_times is None:
        n_each = np.array([M.shape[1] for M in Ms])
    else:
        _validate_type(n_times, "array-like", "n_times",
                       "a list of int (one per response) or None")
        if len(n_times) != n_resp:
            raise ValueError(
                "The 'n_times' parameter must hold one int per response "
                f"({n_resp}), got {len(n_times)}."
            )
        n_each = np.array([_check_int(f"n_times[{c}]", n, min_value=1)
                           for c, n in enumerate(n_times)])
    return Ms, G, scales, n_each


def _stack(Ms):
    """The responses side by side, or a thin factor of ``sum_c M_c M_c^T``
    when they have more columns than sensors together."""
    n_sensors = Ms[0].shape[0]
    if sum(M.shape[1] for M in Ms) <= n_sensors:
        return np.hstack(Ms)
    lam, V = linalg.eigh(sum(M @ M.T for M in Ms))
    keep = lam > max(lam.max(), 0.0) * n_sensors * np.finfo(float).eps
    return V[:, keep] * np.sqrt(lam[keep])


def _cost_terms(Ms, G_A, w_cols, gammas, n_each):
    """Each response's cost (18) at the weights ``w_cols`` of ``G_A``."""
    A = (G_A * w_cols) @ G_A.T
    terms = []
    for M, g, n in zip(Ms, gammas, n_each):
        S = A.copy()
        S.flat[:: S.shape[0] + 1] += g
        c = linalg.cho_factor(S, lower=True, check_finite=False)
        data = float(np.sum(M * linalg.cho_solve(c, M, check_finite=False)))
        terms.append(data + n * 2.0 * float(np.sum(np.log(np.diag(c[0])))))
    return np.array(terms)


def _response(X, weights, cols, W_z_active, G_A, gamma, n, term, evidence,
              base, scale):
    """The result of one response of a joint solve."""
    params = VAEParameters(
        w_x=np.sqrt(weights), gamma=gamma, active_set=cols.copy(),
        W_z_active=W_z_active, kind="full", G_active=G_A,
    )
    return SolverResult(
        X=X, weights=weights.copy(), active_set=cols.copy(),
        cost=np.array([term]), n_iter=base.n_iter, converged=base.converged,
        gamma=gamma, model="full_vae", n_orient=base.n_orient, params=params,
        info={"n_times": int(n), "noise_scale": float(scale),
              "evidence": evidence},
    )


def _add_responses(res, Ms, gamma, scales, n_each):
    """Equal scales: the responses' own estimates from the shared Sigma."""
    p, cols = res.params, res.active_set
    w_x = p.w_x[cols]
    Xs = []
    for M in Ms:
        X = np.zeros((res.weights.size, M.shape[1]))
        X[cols] = w_x[:, None] * (p.W_z_active @ M)
        Xs.append(X)
    evidence = res.evidence
    terms = _cost_terms(Ms, p.G_active, res.weights[cols], gamma * scales, n_each)
    res.info["responses"] = [
        _response(X, res.weights, cols, p.W_z_active, p.G_active, gamma * s, n,
                  t, evidence, res, s)
        for X, s, n, t in zip(Xs, scales, n_each, terms)
    ]
    res.X = np.hstack(Xs)
    res.gamma = gamma
    res.info.update(evidence=evidence, noise_scales=scales.copy())


def _joint_result(out, gamma, scales, n_each, n_orient, n_reduced):
    """Pack the joint engine's output."""
    weights = _expand(out["w"], n_orient)
    cols = out["cols"]
    w_x = np.sqrt(weights[cols])
    gammas = gamma * scales
    evidence = joint_evidence(out["G_A"], out["w_cols"], gammas,
                              [X[cols] for X in out["Xs"]], n_each, n_orient)
    result = SolverResult(
        X=np.hstack(out["Xs"]), weights=weights, active_set=cols,
        cost=out["cost"], n_iter=out["n_iter"], converged=out["converged"],
        gamma=gamma, model="full_vae", n_orient=n_orient, params=None,
        info={"update": "newton", "n_times": int(n_each.sum()),
              "n_times_reduced": n_reduced, "noise_scales": scales.copy(),
              "n_entered": out["n_added"], "evidence": evidence,
              **{k: out[k] for k in _CERTIFICATE if k in out}},
    )
    result.info["responses"] = [
        _response(X, weights, cols, w_x[:, None] * SinvG.T, out["G_A"], g, n,
                  t, evidence, result, s)
        for X, SinvG, g, n, t, s in zip(out["Xs"], out["SinvGs"], gammas,
                                        n_each, out["terms"], scales)
    ]
    return result


def _joint_empty(Ms, G, gamma, scales, n_each, n_orient):
    """The all-zero joint estimate (every source removed)."""
    responses = [_empty(M, G, gamma * s, n_orient, int(n))
                 for M, s, n in zip(Ms, scales, n_each)]
    for r, s in zip(responses, scales):
        r.info.update(evidence=np.zeros(0), noise_scale=float(s))
    return SolverResult(
        X=np.zeros((G.shape[1], sum(M.shape[1] for M in Ms))),
        weights=np.zeros(G.shape[1]), active_set=np.zeros(0, int),
        cost=np.array([sum(r.cost[-1] for r in responses)]), n_iter=0,
        converged=True, gamma=gamma, model="full_vae", n_orient=n_orient,
        params=None,
        info={"kkt_violation": np.nan, "rel_change": 0.0,
              "n_times": int(n_each.sum()), "noise_scales": scales.copy(),
              "evidence": np.zeros(0), "responses": responses},
    )

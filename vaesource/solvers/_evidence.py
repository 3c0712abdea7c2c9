"""Evidence and posterior of the active sources of cost (18).

With ``Sigma = G diag(w) G^T + gamma I``, ``P = Sigma^-1`` and, for the
``n_orient`` columns ``G_i`` of location ``i``, ``K_i = G_i^T P G_i``:

- the posterior covariance of the sources (the encoder covariance of
  appendix C.1 scaled by the decoder weights) is ``W - W G^T P G W``, whose
  block of location ``i`` is ``w_i R_i`` with ``R_i = I - w_i K_i``; it is the
  same at every time sample;
- removing location ``i`` alone (``w_i -> 0``, the others fixed) changes
  ``Sigma`` by a rank-``n_orient`` term, and with ``X_i = w_i G_i^T P M`` the
  rows of the estimate (Woodbury and the matrix determinant lemma)::

      L(w with w_i = 0) - L(w) = n log|R_i| + tr(X_i X_i^T R_i^-1) / w_i

  the Mahalanobis energy of the estimate under its own posterior minus the
  log-volume the posterior has shrunk by. Cost (18) is ``-2 log p(M | w)``
  up to a constant, so this is twice the log Bayes factor of "location
  ``i`` is active" against "it is not", the others held at their values.

``R_i`` is computed from the singular value decomposition of
``F = G_A diag(sqrt(w_A))`` (``R = I - V diag(s^2 / (s^2 + gamma)) V^T`` on
the active columns), which keeps its relative accuracy as ``gamma -> 0``:
when the active columns are at most as many as the sensors, ``V`` is square
and ``R = V diag(gamma / (s^2 + gamma)) V^T`` involves no cancellation.
"""

from __future__ import annotations

import numpy as np


def posterior_factors(G_A, w_cols, gamma, n_orient):
    """``R_i = I - w_i K_i`` for each active location.

    Parameters
    ----------
    G_A : array, shape (n_sensors, n_active_cols)
        Gain columns of the active set (whitened so that the noise is
        ``gamma I``).
    w_cols : array, shape (n_active_cols,)
        Their weights (equal within a location).
    gamma : float
        Noise variance.
    n_orient : int
        Columns per location.

    Returns
    -------
    R : array, shape (n_active_locations, n_orient, n_orient)
    """
    n_cols = G_A.shape[1]
    n_loc = n_cols // n_orient
    if n_cols == 0:
        return np.zeros((0, n_orient, n_orient))
    F = G_A * np.sqrt(w_cols)
    _, s, Vt = np.linalg.svd(F, full_matrices=False)
    s2 = s**2
    Vb = Vt.T.reshape(n_loc, n_orient, -1)
    if Vt.shape[0] == n_cols:  # V square and orthogonal: no cancellation
        f = gamma / (s2 + gamma)
        return np.einsum("ium,m,ivm->iuv", Vb, f, Vb)
    g = s2 / (s2 + gamma)
    return np.eye(n_orient) - np.einsum("ium,m,ivm->iuv", Vb, g, Vb)


def evidence_from_factors(R, X_A, w_loc, n_times):
    """Rise of cost (18) when each active location alone is removed.

    Parameters
    ----------
    R : array, shape (n_active_locations, n_orient, n_orient)
        From :func:`posterior_factors`.
    X_A : array, shape (n_active_cols, n_t)
        Rows of the estimate on the active columns (``n_t`` may be a reduced
        number of columns with the same ``X_A @ X_A.T``).
    w_loc : array, shape (n_active_locations,)
        Weight of each active location.
    n_times : int
        Number of time samples of the data (the ``n`` of cost (18)).

    Returns
    -------
    evidence : array, shape (n_active_locations,)
    """
    n_loc, n_orient, _ = R.shape
    if n_loc == 0:
        return np.zeros(0)
    Xb = X_A.reshape(n_loc, n_orient, -1)
    XXt = np.einsum("iut,ivt->iuv", Xb, Xb)
    sign, logdet = np.linalg.slogdet(R)
    # R is positive definite in exact arithmetic; a non-positive determinant
    # only comes from rounding on a location that explains nothing
    logdet = np.where(sign > 0, logdet, 0.0)
    quad = np.trace(np.linalg.solve(R, XXt), axis1=1, axis2=2)
    return n_times * logdet + quad / w_loc


def location_weights(result):
    """Per-location weights of the active set of a result."""
    k = result.n_orient
    return result.weights[result.active_set[::k]]


def joint_evidence(G_A, w_cols, gammas, X_As, n_each, n_orient):
    """Rise of the joint cost of many responses when each active location
    alone is removed.

    Response ``c`` has noise ``gammas[c]``, ``n_each[c]`` samples and the
    rows ``X_As[c]`` of its estimate on the active columns; the evidence is
    ``sum_c [n_c log|R_ic| + tr(X_ic X_ic^T R_ic^-1) / w_i]`` with ``R_ic =
    I - w_i G_i^T Sigma_c^-1 G_i`` (each term as in
    :func:`evidence_from_factors`).

    Returns
    -------
    evidence : array, shape (n_active_locations,)
    """
    w_loc = w_cols[::n_orient]
    total = np.zeros(w_loc.size)
    for gamma, X_A, n in zip(gammas, X_As, n_each):
        R = posterior_factors(G_A, w_cols, gamma, n_orient)
        total += evidence_from_factors(R, X_A, w_loc, n)
    return total

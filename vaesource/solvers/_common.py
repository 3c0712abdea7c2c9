"""Validation and exact data reduction shared by the array solvers."""

from __future__ import annotations

import numpy as np

from ..utils import _check_array, _check_int


def _check_MG(M, G, n_orient=1):
    """Validate the data and the gain matrix; return float arrays."""
    M = _check_array("M", M, 2)
    G = _check_array("G", G, 2)
    n_orient = _check_int("n_orient", n_orient, min_value=1)
    if M.shape[0] != G.shape[0]:
        raise ValueError(
            "M and G must have the same number of rows (sensors), got "
            f"M.shape={M.shape} and G.shape={G.shape}."
        )
    if M.shape[1] == 0:
        raise ValueError(f"M has no time samples (shape {M.shape}).")
    if G.shape[1] == 0:
        raise ValueError(f"G has no columns (shape {G.shape}).")
    if G.shape[1] % n_orient != 0:
        raise ValueError(
            f"Invalid value for the 'n_orient' parameter: {n_orient} does not "
            f"divide the number of columns of G ({G.shape[1]})."
        )
    return M, G, n_orient


def _reduce_data(M):
    """Exact data reduction: a thin factor ``Q`` with ``Q @ Q.T == M @ M.T``.

    Every model here sees the data only through ``M @ M.T`` (cost (18) and
    its relatives) or through ``G.T @ Sigma^-1 @ M`` whose row norms equal
    those obtained with ``Q``.  ``Q = U_k * s_k`` keeps the ``k`` non-zero
    singular values of ``M``, so ``k <= min(n_sensors, n_times)``. The source
    estimate is mapped back with ``V_k.T`` (``X = X_Q @ Vt``).

    Returns ``(Q, Vt)``; ``Vt`` is None when no reduction was done.
    """
    n_sensors, n_times = M.shape
    if n_times <= 1:
        return M, None
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    tol = s[0] * max(M.shape) * np.finfo(float).eps if s.size else 0.0
    k = int(np.sum(s > tol))
    if k >= n_times:
        return M, None
    return U[:, :k] * s[:k], Vt[:k]


def _group_sum(values, n_orient):
    """Sum a per-column quantity over each location's ``n_orient`` columns."""
    if n_orient == 1:
        return values
    return values.reshape(-1, n_orient).sum(axis=1)


def _expand(values, n_orient):
    """Repeat a per-location quantity over its columns."""
    if n_orient == 1:
        return values
    return np.repeat(values, n_orient)


def alpha_max(M, G, n_orient=1):
    """Smallest group-lasso penalty giving an all-zero solution.

    For ``0.5 * ||M - G X||_F^2 + alpha * sum_i ||X_i||_F`` (MNE's
    ``mixed_norm_solver`` convention) this is ``max_i ||G_i.T M||_F``.

    Parameters
    ----------
    M : array, shape (n_sensors, n_times)
    G : array, shape (n_sensors, n_sources)
    n_orient : int

    Returns
    -------
    alpha_max : float
    """
    M, G, n_orient = _check_MG(M, G, n_orient)
    GtM = G.T @ M
    # each location's n_orient rows summed at once, as MNE's l2,inf norm does
    # (the MxNE "noise" rule of vaesource.compare reads it)
    norms2 = np.sum(GtM.reshape(-1, n_orient * GtM.shape[1]) ** 2, axis=1)
    return float(np.sqrt(np.max(norms2)))

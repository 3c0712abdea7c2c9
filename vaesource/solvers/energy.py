"""Objective functions of the paper, from explicit parameters.

These are written directly from the paper's equations, independently of the
solvers, so that tests can check that what the MM solvers minimise is the
VAE energy and that the parameters they return are its optimal encoder.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ._common import _check_MG, _group_sum


def _sigma(G, weights, gamma):
    Sigma = (G * weights) @ G.T
    Sigma.flat[:: G.shape[0] + 1] += gamma
    return Sigma


def cost_full(M, G, weights, gamma):
    """Cost (18): ``tr[M M^T Sigma^-1] + n log|Sigma|``.

    Parameters
    ----------
    M : array, shape (n_sensors, n_times)
    G : array, shape (n_sensors, n_sources)
    weights : array, shape (n_sources,)
        ``w = w_x ** 2``.
    gamma : float

    Returns
    -------
    cost : float
    """
    M, G, _ = _check_MG(M, G)
    c, low = linalg.cho_factor(_sigma(G, np.asarray(weights, float), gamma), lower=True)
    data = float(np.sum(M * linalg.cho_solve((c, low), M)))
    return data + M.shape[1] * 2.0 * float(np.sum(np.log(np.diag(c))))


def cost_diag(M, G, weights, gamma, n_orient=1):
    """Cost (50) with the encoder means optimised away.

    ``tr[M M^T Sigma^-1] + n sum_j log(gamma + w_j ||g_j||^2)``; the minimum
    of ``(1/gamma) ||M - G diag(w_x) Mz||^2 + ||Mz||_F^2`` over ``Mz`` is the
    first term.

    Parameters
    ----------
    M : array, shape (n_sensors, n_times)
        Data.
    G : array, shape (n_sensors, n_sources)
        Gain / dictionary.
    weights : array, shape (n_sources,)
        Source variances ``w = w_x ** 2``, one per column.
    gamma : float
        Decoder (noise) variance.
    n_orient : int
        Columns per location (only checked against the shape of ``G``; the
        log term is per column).

    Returns
    -------
    cost : float
        Cost (50) minimised over the encoder means.
    """
    M, G, _ = _check_MG(M, G, n_orient)
    weights = np.asarray(weights, float)
    c, low = linalg.cho_factor(_sigma(G, weights, gamma), lower=True)
    data = float(np.sum(M * linalg.cho_solve((c, low), M)))
    return data + M.shape[1] * float(
        np.sum(np.log(gamma + weights * np.sum(G**2, axis=0)))
    )


def vae_energy(M, G, w_x, W_z, S, gamma):
    """The VAE energy (5) of a linear encoder / decoder, summed over samples.

    ``sum_i E_q[(1/gamma) ||x_i - G diag(w_x) z||^2] + d log gamma
    + tr[S S^T] - log|S S^T| + ||W_z x_i||^2`` with ``q = N(W_z x_i, S S^T)``,
    evaluated in closed form as in eq. (13).

    Parameters
    ----------
    M : array, shape (n_sensors, n_times)
    G : array, shape (n_sensors, n_sources)
    w_x : array, shape (n_sources,)
        Decoder weights.
    W_z : array, shape (n_sources, n_sensors)
        Encoder mean matrix.
    S : array, shape (n_sources, n_sources) | shape (n_sources,)
        Encoder covariance factor, or the standard deviations of a diagonal
        encoder covariance.
    gamma : float
        Decoder variance.

    Returns
    -------
    energy : float
    """
    M, G, _ = _check_MG(M, G)
    n_sensors, n_times = M.shape
    w_x = np.asarray(w_x, float)
    S = np.asarray(S, float)
    GD = G * w_x
    Z = W_z @ M
    recon = float(np.sum((M - GD @ Z) ** 2))
    if S.ndim == 1:
        Sigma_z_diag = S**2
        trace_fit = float(np.sum(np.sum(GD**2, axis=0) * Sigma_z_diag))
        tr_Sz = float(np.sum(Sigma_z_diag))
        logdet_Sz = float(np.sum(np.log(Sigma_z_diag)))
    else:
        Sigma_z = S @ S.T
        trace_fit = float(np.sum((GD.T @ GD) * Sigma_z))
        tr_Sz = float(np.trace(Sigma_z))
        logdet_Sz = 2.0 * float(np.linalg.slogdet(S)[1])
    return (
        (recon + n_times * trace_fit) / gamma
        + n_times * (n_sensors * np.log(gamma) + tr_Sz - logdet_Sz)
        + float(np.sum(Z**2))
    )


def ae_energy(M, G, w_x, W_z, gamma, *, eps, n_orient=1):
    """The autoencoder energy (8) with ``h(v) = log(v + eps)``.

    ``sum_i (1/gamma) ||x_i - G diag(w_x) z_i||^2 + ||w_x||^2 +
    sum_j h(||z_j||^2 / n)`` with ``z_i = W_z x_i``; with ``n_orient > 1``
    each location counts its (shared) decoder weight once and its latent
    rows together.

    Parameters
    ----------
    M : array, shape (n_sensors, n_times)
        Data.
    G : array, shape (n_sensors, n_sources)
        Gain / dictionary.
    w_x : array, shape (n_sources,)
        Decoder weights (shared by the columns of a location).
    W_z : array, shape (n_sources, n_sensors)
        Encoder matrix, ``z_i = W_z x_i``.
    gamma : float
        Decoder (noise) variance.
    eps : float
        Offset of the log penalty ``h(v) = log(v + eps)``.
    n_orient : int
        Columns per location.

    Returns
    -------
    energy : float
        The energy (8) summed over samples.
    """
    M, G, n_orient = _check_MG(M, G, n_orient)
    n_times = M.shape[1]
    w_x = np.asarray(w_x, float)
    Z = W_z @ M
    recon = float(np.sum((M - (G * w_x) @ Z) ** 2)) / gamma
    w_loc = w_x[::n_orient]
    z2 = _group_sum(np.sum(Z**2, axis=1), n_orient)
    return recon + float(np.sum(w_loc**2)) + float(np.sum(np.log(z2 / n_times + eps)))

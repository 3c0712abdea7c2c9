"""Quality measures of sparse source estimates against known sources.

All distances are in millimetres; positions are given in metres (MNE's
unit) and converted here. The functions work on plain arrays of positions
and amplitudes; :func:`stc_sources` extracts them from an MNE source
estimate (or list of dipoles) and its source space.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment, linprog
from scipy.spatial.distance import cdist

from .utils import _check_positive


def _positions(name, pos):
    pos = np.asarray(pos, dtype=float)
    if pos.ndim == 1 and pos.size == 0:
        pos = pos.reshape(0, 3)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(
            f"The {name!r} parameter must have shape (n, 3), got {pos.shape}."
        )
    if not np.all(np.isfinite(pos)):
        raise ValueError(f"The {name!r} parameter contains non-finite values.")
    return pos


def _amplitudes(name, amp, n):
    if amp is None:
        return np.ones(n)
    amp = np.abs(np.asarray(amp, dtype=float)).ravel()
    if amp.shape != (n,) or not np.all(np.isfinite(amp)):
        raise ValueError(
            f"The {name!r} parameter must be {n} finite values, got shape "
            f"{amp.shape}."
        )
    return amp


def _significant(est_pos, est_amp, threshold):
    """Estimated sources whose amplitude is at least ``threshold * max``."""
    if est_amp.size == 0 or est_amp.max() == 0:
        return est_pos[:0], est_amp[:0]
    keep = est_amp >= threshold * est_amp.max()
    return est_pos[keep], est_amp[keep]


def localization_error(
    true_pos, est_pos, est_amp=None, *, threshold: float = 0.1
) -> np.ndarray:
    """Distance from each true source to its matched estimated peak (mm).

    True and estimated sources are paired one to one by the Hungarian
    algorithm (:func:`scipy.optimize.linear_sum_assignment`) minimising the
    total distance, among the estimated sources whose amplitude is at least
    ``threshold`` times the largest (weak spurious sources are not peaks).

    Parameters
    ----------
    true_pos : array, shape (n_true, 3)
        True source positions (m).
    est_pos : array, shape (n_est, 3)
        Estimated source positions (m).
    est_amp : array, shape (n_est,) | None
        Estimated amplitudes (any positive scale); None treats all
        estimated sources as peaks.
    threshold : float
        Relative amplitude below which an estimated source is ignored.

    Returns
    -------
    errors : array, shape (n_true,)
        Distance in mm for each true source; NaN for true sources left
        unmatched because fewer peaks than true sources were estimated.
    """
    true_pos = _positions("true_pos", true_pos)
    est_pos = _positions("est_pos", est_pos)
    est_amp = _amplitudes("est_amp", est_amp, len(est_pos))
    est_pos, _ = _significant(est_pos, est_amp, threshold)
    errors = np.full(len(true_pos), np.nan)
    if len(true_pos) == 0 or len(est_pos) == 0:
        return errors
    D = 1e3 * cdist(true_pos, est_pos)
    rows, cols = linear_sum_assignment(D)
    errors[rows] = D[rows, cols]
    return errors


def emd(true_pos, true_amp, est_pos, est_amp, *, max_support: int = 500) -> float:
    """Earth mover's distance between true and estimated amplitude maps (mm).

    Both amplitude distributions are normalised to unit mass; the distance
    is the minimal cost of moving one onto the other with the Euclidean
    ground distance, solved exactly as a transport linear programme
    (:func:`scipy.optimize.linprog`, HiGHS).

    Parameters
    ----------
    true_pos : array, shape (n_true, 3)
        True positions (m).
    true_amp : array, shape (n_true,)
        True amplitudes (absolute values are used).
    est_pos : array, shape (n_est, 3)
        Estimated positions (m).
    est_amp : array, shape (n_est,)
        Estimated amplitudes (absolute values are used).
    max_support : int
        Keep at most this many of the largest estimated amplitudes (mass
        renormalised), to bound the programme's size for dense estimates.

    Returns
    -------
    distance : float
        In mm; NaN when either distribution has no mass.
    """
    true_pos = _positions("true_pos", true_pos)
    est_pos = _positions("est_pos", est_pos)
    a = _amplitudes("true_amp", true_amp, len(true_pos))
    b = _amplitudes("est_amp", est_amp, len(est_pos))
    keep_a, keep_b = a > 0, b > 0
    true_pos, a = true_pos[keep_a], a[keep_a]
    est_pos, b = est_pos[keep_b], b[keep_b]
    if a.size == 0 or b.size == 0:
        return float("nan")
    if b.size > max_support:
        idx = np.argsort(b)[::-1][:max_support]
        est_pos, b = est_pos[idx], b[idx]
    a, b = a / a.sum(), b / b.sum()
    n, m = a.size, b.size
    C = 1e3 * cdist(true_pos, est_pos)
    if n == 1 or m == 1:  # one side is a point mass: no choice to make
        return float(np.sum(C * np.outer(a, b)))
    # flow f_ij >= 0, row sums a_i, column sums b_j (one redundant equality)
    A_rows = np.kron(np.eye(n), np.ones((1, m)))
    A_cols = np.kron(np.ones((1, n)), np.eye(m))
    A_eq = np.vstack([A_rows, A_cols[:-1]])
    b_eq = np.concatenate([a, b[:-1]])
    res = linprog(C.ravel(), A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if not res.success:  # pragma: no cover  (feasible by construction)
        raise RuntimeError(f"EMD linear programme failed: {res.message}")
    return float(res.fun)


def precision_recall(
    true_pos, est_pos, est_amp=None, *, tol_mm: float = 10.0, threshold: float = 0.1
) -> tuple[float, float]:
    """Precision and recall of active locations, up to a distance tolerance.

    A true source is recovered when an estimated source (amplitude at least
    ``threshold`` times the largest) lies within ``tol_mm`` of it; an
    estimated source is correct when a true source lies within ``tol_mm``.

    Parameters
    ----------
    true_pos : array, shape (n_true, 3)
        True positions (m).
    est_pos : array, shape (n_est, 3)
        Estimated positions (m).
    est_amp : array, shape (n_est,) | None
        Estimated amplitudes; None counts every estimated source.
    tol_mm : float
        Distance tolerance in mm.
    threshold : float
        Relative amplitude below which an estimated source is ignored.

    Returns
    -------
    precision : float
        Fraction of estimated sources near a true one (NaN if none estimated).
    recall : float
        Fraction of true sources near an estimated one (NaN if none true).
    """
    true_pos = _positions("true_pos", true_pos)
    est_pos = _positions("est_pos", est_pos)
    est_amp = _amplitudes("est_amp", est_amp, len(est_pos))
    tol_mm = _check_positive("tol_mm", tol_mm, allow_zero=True)
    est_pos, _ = _significant(est_pos, est_amp, threshold)
    if len(true_pos) == 0 or len(est_pos) == 0:
        precision = float("nan") if len(est_pos) == 0 else 0.0
        recall = float("nan") if len(true_pos) == 0 else 0.0
        return precision, recall
    close = 1e3 * cdist(true_pos, est_pos) <= tol_mm
    return float(close.any(axis=0).mean()), float(close.any(axis=1).mean())


def explained_variance(M, M_est) -> float:
    """Fraction of the data power explained: ``1 - ||M - M_est||^2 / ||M||^2``.

    Parameters
    ----------
    M : array, shape (n_sensors, n_times)
        (Whitened) data.
    M_est : array, shape (n_sensors, n_times)
        Model prediction ``G X``.

    Returns
    -------
    ev : float
        At most 1 (negative when the prediction is worse than zero); 0 for
        zero data.
    """
    M = np.asarray(M, float)
    M_est = np.asarray(M_est, float)
    if M.shape != M_est.shape:
        raise ValueError(
            f"M and M_est must have the same shape, got {M.shape} and {M_est.shape}."
        )
    denom = float(np.sum(M**2))
    if denom == 0:
        return 0.0
    return 1.0 - float(np.sum((M - M_est) ** 2)) / denom


def stc_sources(estimate, src) -> tuple[np.ndarray, np.ndarray]:
    """Positions and amplitudes of the sources of an estimate.

    Parameters
    ----------
    estimate : mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate | list of mne.Dipole
        Sparse estimate. Amplitude is the Euclidean norm of each source's
        time course (over orientations too for vector estimates).
    src : mne.SourceSpaces | mne.Forward
        Source space of the estimate (a forward's is in head coordinates,
        which is what the positions are then in). Unused for dipoles.

    Returns
    -------
    pos : array, shape (n_est, 3)
        Positions (m).
    amp : array, shape (n_est,)
        Amplitudes (A·m times sqrt(s) units).
    """
    import mne

    if isinstance(estimate, (list, tuple)):
        if not estimate:
            return np.zeros((0, 3)), np.zeros(0)
        pos = np.array([d.pos[0] for d in estimate])
        amp = np.array([np.linalg.norm(d.amplitude) for d in estimate])
        return pos, amp
    if isinstance(src, mne.Forward):
        src = src["src"]
    data = estimate.data
    if data.ndim == 3:  # vector estimate: (n_sources, 3, n_times)
        amp = np.sqrt(np.sum(data**2, axis=(1, 2)))
    else:
        amp = np.linalg.norm(data, axis=1)
    pos = []
    for s, vertno in zip(src, estimate.vertices):
        pos.append(s["rr"][np.asarray(vertno, int)])
    pos = np.concatenate(pos) if pos else np.zeros((0, 3))
    return pos, amp


__all__ = [
    "emd",
    "explained_variance",
    "localization_error",
    "precision_recall",
    "stc_sources",
]

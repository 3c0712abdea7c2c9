"""Shared helpers: logging, warnings and input validation."""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

logger = logging.getLogger("vaesource")


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before meeting its tolerance."""


def warn(message, category=UserWarning):
    """Emit a warning attributed to the user's line that called vaesource.

    The first frame outside the ``vaesource`` package (as MNE's ``warn``
    does), so that the message points at the user's code whatever the depth
    of the call inside the package.
    """
    import sys

    package = str(Path(__file__).resolve().parent)
    frame, level = sys._getframe(1), 2  # 2: the caller of warn()
    while frame is not None and str(
        Path(frame.f_code.co_filename).resolve()
    ).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _check_option(name, value, allowed):
    """Raise a ValueError naming the parameter if ``value`` is not allowed."""
    if value not in allowed:
        allowed = list(allowed)
        if len(allowed) > 1:
            options = ", ".join(repr(v) for v in allowed[:-1])
            options += f", and {allowed[-1]!r}"
        else:
            options = repr(allowed[0])
        raise ValueError(
            f"Invalid value for the {name!r} parameter. Allowed values are "
            f"{options}, but got {value!r} instead."
        )
    return value


def _check_positive(name, value, *, allow_zero=False, allow_none=False):
    """Validate a positive (or non-negative) finite scalar."""
    if value is None and allow_none:
        return None
    try:
        value_f = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"The {name!r} parameter must be a number, got {value!r}."
        ) from None
    ok = value_f >= 0 if allow_zero else value_f > 0
    if not (np.isfinite(value_f) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"The {name!r} parameter must be finite and {bound}, got {value!r}."
        )
    return value_f


def _check_int(name, value, *, min_value=None):
    """Validate an integer parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"The {name!r} parameter must be an integer, got {value!r}.")
    if min_value is not None and value < min_value:
        raise ValueError(
            f"The {name!r} parameter must be >= {min_value}, got {value!r}."
        )
    return int(value)


def _check_array(name, value, ndim):
    """Return a float64 array, checking dimensionality and finiteness."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(
            f"The {name!r} parameter must be a {ndim}-D array, got an array of "
            f"shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(
            f"The {name!r} parameter contains {n_bad} non-finite value(s) "
            "(NaN or inf)."
        )
    return arr


def _check_random_state(seed):
    """Return a ``numpy.random.Generator`` from a seed or generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def scale_noise_cov(noise_cov, nave):
    """Noise covariance of an average of ``nave`` trials (``cov / nave``).

    Parameters
    ----------
    noise_cov : mne.Covariance
        Single-trial noise covariance.
    nave : float
        Number of averaged trials, > 0.

    Returns
    -------
    cov : mne.Covariance
        A scaled copy (its eigen-decomposition, when present, scaled too).
    """
    nave = _check_positive("nave", nave)
    cov = noise_cov.copy()
    cov["data"] = cov["data"] / nave
    if cov.get("eig", None) is not None:
        cov["eig"] = cov["eig"] / nave
    return cov


class use_log_level:
    """Context manager setting the vaesource log level for one call.

    ``verbose`` follows MNE: None keeps the current level; True means
    "info", False "warning"; a level name or number is used as is.

    With ``quiet_mne=True``, MNE's logger is also kept at WARNING (or at the
    level ``quiet_mne`` names, e.g. ``"ERROR"``) inside the block unless
    vaesource logs at DEBUG: MNE's forward and whitening machinery log dozens
    of lines per call that mean nothing to a vaesource user.
    """

    def __init__(self, verbose=None, *, quiet_mne=False):
        self.verbose = verbose
        self.quiet_mne = quiet_mne
        self._old = None
        self._mne_ctx = None

    def __enter__(self):
        if self.verbose is not None:
            level = self.verbose
            if isinstance(level, bool):
                level = "INFO" if level else "WARNING"
            if isinstance(level, str):
                level = level.upper()
            self._old = logger.level
            logger.setLevel(level)
        if self.quiet_mne and not logger.isEnabledFor(logging.DEBUG):
            import mne

            level = "WARNING" if self.quiet_mne is True else self.quiet_mne
            self._mne_ctx = mne.utils.use_log_level(level)
            self._mne_ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self._mne_ctx is not None:
            self._mne_ctx.__exit__(*exc)
            self._mne_ctx = None
        if self._old is not None:
            logger.setLevel(self._old)
            self._old = None
        return False


def _verbose(func):
    """Decorator: run ``func`` under the log level of its ``verbose`` argument
    (keyword), with MNE quieted (``use_log_level(verbose, quiet_mne=True)``)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with use_log_level(kwargs.get("verbose"), quiet_mne=True):
            return func(*args, **kwargs)

    return wrapper


_CONTROLLER = None


def _blas_single_thread(enabled=True):
    """Context limiting BLAS to one thread (for small matrix products).

    The MM solvers run many small or medium factorisations (at most
    n_sensors x n_sensors); multi-threaded OpenBLAS on those was measured up
    to 50x slower than one thread on a 2-core machine, and far worse when
    the cores are shared. Parallelism belongs to the outer loop (joblib).
    """
    global _CONTROLLER
    import contextlib

    if not enabled:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _atomic_write(path, write, suffix=None):
    """Write a file through ``write(tmp_path)`` then rename it into place.

    Readers never see a half-written file, and a failure leaves no file
    behind. ``suffix`` (default: the part of the name after its last "-",
    which keeps MNE's "-fwd.fif" style conventions) ends the temporary name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "-" + path.name.rsplit("-", 1)[-1]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes owner-only files; outputs and caches can be shared
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _pyplot(fname=None, ax=None):
    """:mod:`matplotlib.pyplot`, on the Agg backend for a figure made for a file.

    The one place where vaesource switches matplotlib's backend: a figure
    written to ``fname`` (and not drawn into the caller's ``ax``) needs no
    display, and Agg works without one. ``force=False``: a backend that
    cannot be left is kept.
    """
    import matplotlib

    if fname is not None and ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt

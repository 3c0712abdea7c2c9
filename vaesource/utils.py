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


# the string shortcuts of _validate_type: (classes, name in the message).
# A bool is not taken for a number: True where a count or a tolerance is
# expected is much more likely a mistake than a 1 (as in MNE's _ensure_int).
_TYPE_SHORTCUTS = {
    "int": ((int, np.integer), "int"),
    "numeric": ((int, float, np.integer, np.floating), "numeric"),
    "str": ((str,), "str"),
    "path-like": ((str, os.PathLike), "path-like"),
    "array-like": ((list, tuple, np.ndarray), "array-like"),
    "callable": ((), "callable"),
}


def _type_label(cls):
    """How a class reads in a message: ``int``, ``mne.Forward``, ``numpy.ndarray``."""
    module = getattr(cls, "__module__", "builtins")
    if module == "builtins":
        return cls.__qualname__
    return f"{module.split('.')[0]}.{cls.__qualname__}"


def _validate_type(item, types, item_name, type_name=None):
    """Raise a TypeError naming the parameter if ``item`` has a wrong type.

    The convention of MNE's ``_validate_type``: a value of a wrong type raises
    a TypeError, a value of the right type that is not allowed (out of range,
    wrong shape, unknown option) a ValueError, raised by the caller's own
    checks.

    Parameters
    ----------
    item : object
        The value to check.
    types : type | str | None | tuple
        A class, None (the value None), one of the shortcuts ``"int"``,
        ``"numeric"``, ``"str"``, ``"path-like"``, ``"array-like"``,
        ``"callable"``, or a tuple of them. A bool is neither an ``"int"``
        nor ``"numeric"`` (unless ``bool`` is listed itself, which also
        takes ``numpy.bool_``).
    item_name : str
        The parameter's name, as the message shows it: "The 'forward'
        parameter must be ...".
    type_name : str | None
        What the value must be, written out (e.g. ``"a number, 'auto' or
        None"``); None writes "an instance of" and the accepted types.

    Returns
    -------
    item : object
        The value, unchanged.
    """
    if not isinstance(types, tuple):
        types = (types,)
    classes, labels, callable_ok, bool_ok = [], [], False, False
    for type_ in types:
        if type_ is None:
            classes.append(type(None))
            labels.append("None")
        elif isinstance(type_, str):
            if type_ not in _TYPE_SHORTCUTS:
                raise ValueError(f"Unknown type shortcut {type_!r}.")
            cls_, label = _TYPE_SHORTCUTS[type_]
            classes.extend(cls_)
            labels.append(label)
            callable_ok |= type_ == "callable"
        else:
            classes.append(type_)
            labels.append(_type_label(type_))
            if type_ is bool:  # numpy's bool is one too
                classes.append(np.bool_)
                bool_ok = True
    ok = isinstance(item, tuple(classes)) or (callable_ok and callable(item))
    if not bool_ok and isinstance(item, (bool, np.bool_)):
        ok = False  # a bool is not a number
    if ok:
        return item
    if type_name is None:
        if len(labels) > 1:
            labels = [", ".join(labels[:-1]), labels[-1]]
        type_name = "an instance of " + " or ".join(labels)
    got = "None" if item is None else str(type(item))
    raise TypeError(
        f"The {item_name!r} parameter must be {type_name}, got {got} instead."
    )


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
    """Validate a positive (or non-negative) finite scalar.

    A value that is not a number (a str, a bool, an array) raises a
    TypeError; a number out of range (or not finite) a ValueError.
    """
    if value is None and allow_none:
        return None
    _validate_type(value, "numeric", name)
    value_f = float(value)
    ok = value_f >= 0 if allow_zero else value_f > 0
    if not (np.isfinite(value_f) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"The {name!r} parameter must be finite and {bound}, got {value!r}."
        )
    return value_f


def _check_int(name, value, *, min_value=None):
    """Validate an integer parameter (a bool is not one: TypeError)."""
    _validate_type(value, "int", name)
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

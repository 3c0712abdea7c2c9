"""Small helpers shared by the forward-model modules."""

from __future__ import annotations

import contextlib
import logging

from ..utils import logger

_LEVELS = dict(
    debug=logging.DEBUG,
    info=logging.INFO,
    warning=logging.WARNING,
    error=logging.ERROR,
    critical=logging.CRITICAL,
)


def _to_level(verbose):
    """Map an MNE-style ``verbose`` value to a logging level (None: keep)."""
    if verbose is None:
        return None
    if isinstance(verbose, bool):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, str):
        try:
            return _LEVELS[verbose.lower()]
        except KeyError:
            allowed = ", ".join(repr(k) for k in _LEVELS)
            raise ValueError(
                f"Invalid value for the 'verbose' parameter. Allowed values are "
                f"True, False, None, an int or one of {allowed}, but got "
                f"{verbose!r} instead."
            ) from None
    return int(verbose)


@contextlib.contextmanager
def use_log_level(verbose):
    """Temporarily set the vaesource logger level from ``verbose``.

    MNE's own logger is kept at WARNING inside the block unless vaesource is
    at DEBUG, since MNE's forward machinery logs dozens of lines per call
    that mean nothing to a vaesource user.
    """
    import mne

    level = _to_level(verbose)
    old = logger.level
    if level is not None:
        logger.setLevel(level)
    if logger.isEnabledFor(logging.DEBUG):
        mne_ctx = contextlib.nullcontext()
    else:
        mne_ctx = mne.utils.use_log_level("WARNING")
    try:
        with mne_ctx:
            yield
    finally:
        logger.setLevel(old)

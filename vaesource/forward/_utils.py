"""Small helpers shared by the forward-model modules."""

from __future__ import annotations

import contextlib
import logging

from ..utils import logger
from ..utils import use_log_level as _use_vaesource_level


@contextlib.contextmanager
def use_log_level(verbose):
    """Set the vaesource log level from ``verbose`` and quieten MNE's.

    MNE's logger is kept at WARNING inside the block unless vaesource logs
    at DEBUG: MNE's forward and whitening machinery log dozens of lines per
    call that mean nothing to a vaesource user.
    """
    import mne

    with _use_vaesource_level(verbose):
        if logger.isEnabledFor(logging.DEBUG):
            mne_ctx = contextlib.nullcontext()
        else:
            mne_ctx = mne.utils.use_log_level("WARNING")
        with mne_ctx:
            yield

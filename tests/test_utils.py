"""Tests of vaesource.utils."""

import logging

import mne

from vaesource.utils import logger, use_log_level


def test_use_log_level_quiet_mne():
    """``quiet_mne`` keeps MNE at WARNING unless vaesource logs at DEBUG."""
    mne_logger = logging.getLogger("mne")
    with mne.utils.use_log_level("info"):
        old = logger.level
        with use_log_level("info", quiet_mne=True):
            assert logger.level == logging.INFO
            assert mne_logger.level == logging.WARNING
        assert logger.level == old
        assert mne_logger.level == logging.INFO
        with use_log_level("debug", quiet_mne=True):
            assert mne_logger.level == logging.INFO
        with use_log_level("info"):
            assert mne_logger.level == logging.INFO

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
        with use_log_level(quiet_mne="ERROR"):
            assert mne_logger.level == logging.ERROR
        assert mne_logger.level == logging.INFO


def test_verbose_decorator():
    """``_verbose`` runs the function at the level of its ``verbose`` keyword."""
    from vaesource.utils import _verbose

    @_verbose
    def level(*, verbose=None):
        return logger.level, logging.getLogger("mne").level

    old = logger.level
    with mne.utils.use_log_level("info"):
        assert level(verbose="debug")[0] == logging.DEBUG
        assert level(verbose="info") == (logging.INFO, logging.WARNING)
    assert logger.level == old


def test_pyplot_agg_only_for_files():
    """The backend switches to Agg for a figure written to a file only."""
    import matplotlib

    from vaesource.utils import _pyplot

    backend = matplotlib.get_backend()
    plt = _pyplot(None)
    assert plt is __import__("matplotlib.pyplot").pyplot
    assert matplotlib.get_backend() == backend
    _pyplot("x.png")
    assert matplotlib.get_backend().lower() == "agg"

"""Tests of vaesource.utils."""

import logging
import re
from pathlib import Path

import mne
import numpy as np
import pytest

from vaesource.utils import (
    _check_int,
    _check_positive,
    _validate_type,
    logger,
    use_log_level,
)


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


@pytest.mark.parametrize("item, types", [
    (3, "int"), (np.int64(3), "int"), (2.5, "numeric"), (np.float32(1), "numeric"),
    (7, "numeric"), ("a.fif", "path-like"), (Path("a.fif"), "path-like"),
    ([1, 2], "array-like"), (np.zeros(2), "array-like"), (len, "callable"),
    (None, ("int", None)), (True, bool), (np.bool_(False), bool),
    ("auto", ("numeric", str)), (mne.Info(), mne.Info),
])
def test_validate_type_accepts(item, types):
    assert _validate_type(item, types, "x") is item


@pytest.mark.parametrize("item, types, message", [
    ("fwd.fif", mne.Forward,
     "The 'x' parameter must be an instance of mne.Forward, got <class 'str'> "
     "instead."),
    (None, mne.Covariance,
     "The 'x' parameter must be an instance of mne.Covariance, got None instead."),
    (1.0, "int", "must be an instance of int, got <class 'float'> instead."),
    # a bool is not a number (MNE's _ensure_int rule)
    (True, "int", "must be an instance of int, got <class 'bool'> instead."),
    (np.True_, ("numeric", None),
     "must be an instance of numeric or None, got <class 'numpy.bool"),
    ("1", ("int", "path-like", None),
     None),  # a str is path-like: accepted (checked below)
    ([1], (int, float, None),
     "must be an instance of int, float or None, got <class 'list'> instead."),
    (1, bool, "must be an instance of bool, got <class 'int'> instead."),
    (3, "callable", "must be an instance of callable, got <class 'int'>"),
])
def test_validate_type_rejects(item, types, message):
    if message is None:
        assert _validate_type(item, types, "x") is item
        return
    with pytest.raises(TypeError, match=re.escape(message)):
        _validate_type(item, types, "x")


def test_validate_type_own_wording_and_bad_shortcut():
    with pytest.raises(TypeError, match=re.escape(
            "The 'rank' parameter must be a positive integer or 'full', got "
            "<class 'float'> instead.")):
        _validate_type(2.0, ("int", str), "rank", "a positive integer or 'full'")
    with pytest.raises(ValueError, match="Unknown type shortcut 'integer'"):
        _validate_type(1, "integer", "x")


def test_number_checks_tell_a_wrong_type_from_a_bad_value():
    """A str or a bool where a number is wanted is a TypeError; a number out
    of range (or not finite) stays a ValueError."""
    assert _check_positive("tol", 0, allow_zero=True) == 0.0
    assert _check_positive("gamma", np.float32(2)) == 2.0
    assert _check_positive("gamma", None, allow_none=True) is None
    assert _check_int("max_iter", np.int32(5), min_value=1) == 5
    for value in ("1", True, None, [1.0]):
        with pytest.raises(TypeError, match="'gamma' parameter must be an "
                                            "instance of numeric"):
            _check_positive("gamma", value)
    for value in (0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="'gamma' parameter must be finite "
                                             "and > 0"):
            _check_positive("gamma", value)
    for value in (2.0, True, "3"):
        with pytest.raises(TypeError, match="'max_iter' parameter must be an "
                                            "instance of int"):
            _check_int("max_iter", value, min_value=1)
    with pytest.raises(ValueError, match="'max_iter' parameter must be >= 1"):
        _check_int("max_iter", 0, min_value=1)

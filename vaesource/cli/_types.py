"""Argparse type converters of the ``vaesource`` options.

Each takes the option's text and returns its value, or raises
:class:`argparse.ArgumentTypeError`, which argparse reports as
``vaesource <command>: error: argument --x: <message>`` with exit code 2.
"""

from __future__ import annotations

import argparse


def _positive_int(text):
    """An integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _int_list(text):
    """Comma-separated integers >= 0."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected integers >= 0, got {text!r}")
    return values


def _positive_int_list(text):
    """Comma-separated integers >= 1."""
    values = _int_list(text)
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def _float_list(text):
    """Comma-separated numbers > 0."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected numbers > 0, got {text!r}")
    return values


def _rank(text):
    """A block rank: a positive integer or 'full'."""
    if text == "full":
        return text
    try:
        return _positive_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'full', got {text!r}"
        ) from None


def _rank_list(text):
    """Comma-separated block ranks (see :func:`_rank`)."""
    values = [_rank(v.strip()) for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected ranks, got {text!r}")
    return values


def _min_evidence(text):
    """--min-evidence: a number >= 0, 'auto' or 'none'."""
    from ..inverse import _parse_min_evidence

    try:
        return _parse_min_evidence(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 0, 'auto' or 'none', got {text!r}"
        ) from None


def _str_list(choices):
    """A converter of comma-separated names, each among ``choices``.

    Parameters
    ----------
    choices : sequence of str
        The allowed names, in the order the error message lists them.

    Returns
    -------
    parse : callable
        Takes the option's text and returns the list of names.
    """
    def parse(text):
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in choices]
        if not values or bad:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(choices)}; got {text!r}"
            )
        return values

    return parse

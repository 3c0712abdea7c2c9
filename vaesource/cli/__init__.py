"""Command line interface: ``vaesource <command> ...``.

The parser is built from one module per command, each adding its parser and
the function that runs it (``run`` in the parser's defaults); :func:`main`
parses the arguments and calls that function. The parsers read only
constants of the back-ends (names, defaults); the functions that do the
work are imported when a command runs, so ``vaesource --help`` loads
neither MNE nor pyvista:

- ``_demo.py``: ``vaesource demo``;
- ``_localize.py``: ``vaesource localize``;
- ``_render.py``: ``vaesource render``;
- ``_bench.py``: ``vaesource bench`` and its benchmarks;
- ``_flags.py``: the options shared by several commands and the
  output-folder rule;
- ``_types.py``: the argparse type converters.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from . import _batch, _bench, _demo, _localize, _render

# the commands, in the order of ``vaesource --help``
COMMANDS = (_demo, _localize, _render, _bench, _batch)


def _build_parser():
    """The parser of ``vaesource``.

    Returns
    -------
    parser : argparse.ArgumentParser
        Each command (and each benchmark of ``bench``) sets ``run``, the
        function that runs it on the parsed arguments.
    """
    parser = argparse.ArgumentParser(
        prog="vaesource",
        description="Sparse MEG/EEG source localization with full-covariance "
        "VAEs (no bad local minima), for MNE-Python users.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress details"
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _parse(parser, argv):
    """Parse ``argv``; an unknown argument is reported by the subcommand that
    got it, with that subcommand's usage (argparse leaves it to the top)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        leaf = parser
        for dest in ("command", "benchmark"):
            name = getattr(args, dest, None)
            if name is None:
                break
            actions = [a for a in leaf._actions
                       if isinstance(a, argparse._SubParsersAction)]
            leaf = actions[0].choices[name]
        leaf.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv=None):
    """Entry point of the ``vaesource`` command.

    Parameters
    ----------
    argv : list of str | None
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        The exit code: 0, or 2 after an error message on stderr. A wrong
        argument exits with code 2 (:class:`SystemExit`), as in argparse.
    """
    from .._output import OutputExistsError

    parser = _build_parser()
    args = _parse(parser, argv)
    logging.basicConfig(format="%(message)s")
    logging.getLogger("vaesource").setLevel(
        logging.INFO if args.verbose else logging.WARNING
    )
    run = getattr(args, "run", None)
    if run is None:  # pragma: no cover (every command sets one)
        parser.error(f"unknown command {args.command!r}")
    try:
        return run(args)
    except OutputExistsError as err:
        print(f"error: {err.path} holds the outputs of an earlier run; add "
              "--overwrite to replace that run (the folder as a whole)",
              file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

"""The ``vaesource`` command line: dispatch, error reports, lazy imports.

The commands' outputs are tested with their back-ends (test_demo,
test_localize, test_benchmark, test_fig2); this file checks the package
``vaesource.cli`` itself: every command parser names the function that runs
it, ``main`` calls that function and turns its errors into exit code 2, and
``vaesource --help`` loads none of the heavy back-ends.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from vaesource import cli
from vaesource._output import OutputExistsError
from vaesource.cli import (_batch, _bench, _build_parser, _demo, _localize,
                           _render, main)

# one complete command line per leaf command, and the function it runs
RUNS = {
    ("demo",): (["demo"], _demo.run),
    ("localize",): (["localize", "--evoked", "e-ave.fif", "--forward",
                     "f-fwd.fif", "--cov", "c-cov.fif", "--out", "o"],
                    _localize.run),
    ("render",): (["render", "x-lh.stc", "--out", "x.png"], _render.run),
    ("bench", "fig2"): (["bench", "fig2"], _bench.bench_fig2),
    ("bench", "fig2-sensitivity"): (["bench", "fig2-sensitivity"],
                                    _bench.bench_sensitivity),
    ("bench", "cortical"): (["bench", "cortical"], _bench.bench_cortical),
    ("bench", "calibration"): (["bench", "calibration"], _bench.bench_calibration),
    ("bench", "speed"): (["bench", "speed"], _bench.bench_speed),
    ("batch",): (["batch", "--manifest", "m.csv", "--out", "o"], _batch.run),
}


def _leaves(parser, path=()):
    """{command path: parser} of the parsers without subcommands."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path: parser}
    found = {}
    for name, child in subs[0].choices.items():
        found.update(_leaves(child, path + (name,)))
    return found


def test_every_command_has_a_runner():
    """Each leaf parser sets ``run``; the table above covers all of them, and
    no two commands share a runner."""
    leaves = _leaves(_build_parser())
    assert set(leaves) == set(RUNS)
    runners = [leaf.get_default("run") for leaf in leaves.values()]
    assert all(callable(r) for r in runners)
    assert len(set(runners)) == len(runners)
    assert [m.__name__.rpartition(".")[2] for m in cli.COMMANDS] == [
        "_demo", "_localize", "_render", "_bench", "_batch"]


@pytest.mark.parametrize("path", sorted(RUNS))
def test_parsing_selects_the_runner(path):
    argv, run = RUNS[path]
    args = _build_parser().parse_args(argv)
    assert args.run is run
    assert args.command == path[0]
    if len(path) > 1:
        assert args.benchmark == path[1]


@pytest.mark.parametrize("path", sorted(RUNS))
def test_main_calls_the_runner(path, monkeypatch):
    """main returns what the selected runner returns, given the parsed
    arguments (the runner is looked up when the parser is built)."""
    argv, run = RUNS[path]
    module = run.__module__.rpartition(".")[2]
    seen = []

    def fake(args):
        seen.append(args)
        return 7

    monkeypatch.setattr(getattr(cli, module), run.__name__, fake)
    assert main(argv) == 7
    assert len(seen) == 1 and seen[0].command == path[0]


@pytest.mark.parametrize("error", [ValueError, TypeError, OSError, RuntimeError])
def test_main_reports_errors(error, monkeypatch, capsys):
    def fake(args):
        raise error("the message")

    monkeypatch.setattr(_render, "run", fake)
    assert main(["render", "x-lh.stc", "--out", "x.png"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: the message\n"


def test_main_reports_an_earlier_run(tmp_path, monkeypatch, capsys):
    def fake(args):
        raise OutputExistsError(args.out)

    monkeypatch.setattr(_demo, "run", fake)
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path} holds the outputs of an earlier run; add "
        "--overwrite to replace that run (the folder as a whole)\n")


def test_other_errors_propagate(monkeypatch):
    """Only the errors of bad inputs become messages; a bug keeps its trace."""
    def fake(args):
        raise KeyError("bug")

    monkeypatch.setattr(_render, "run", fake)
    with pytest.raises(KeyError):
        main(["render", "x-lh.stc", "--out", "x.png"])


def test_unknown_argument_names_the_leaf(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "cortical", "--quick", "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: vaesource bench cortical")
    assert err.endswith("vaesource bench cortical: error: unrecognized "
                        "arguments: --bogus\n")


def test_help_loads_no_back_end():
    """``vaesource --help`` and ``python -m vaesource.cli`` build the whole
    parser without importing MNE, pyvista or the back-ends that no option
    needs a constant from."""
    heavy = ("mne", "pyvista", "vaesource.demo", "vaesource.render",
             "vaesource.benchmark.speed")
    code = ("import sys\nfrom vaesource.cli import main\n"
            "try:\n    main(['bench', 'fig2', '--help'])\n"
            "except SystemExit:\n    pass\n"
            f"print([m for m in {heavy!r} if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"
    run = subprocess.run([sys.executable, "-m", "vaesource.cli", "--version"],
                         capture_output=True, text=True)
    assert run.returncode == 0
    assert run.stdout.strip() == cli.__version__


def test_localize_conditions_and_epochs_flags(capsys):
    """localize takes --evoked or --epochs (exactly one), --condition with
    several names and --save-epochs; its help names them."""
    parser = _build_parser()
    common = ["--forward", "f-fwd.fif", "--cov", "c-cov.fif", "--out", "o"]
    args = parser.parse_args(["localize", "--epochs", "x-epo.fif",
                              "--save-epochs", *common])
    assert args.run is _localize.run
    assert str(args.epochs) == "x-epo.fif" and args.evoked is None
    assert args.save_epochs is True
    args = parser.parse_args(["localize", "--evoked", "e-ave.fif", "--condition",
                              "a,b", *common])
    assert args.condition == "a,b" and args.epochs is None
    assert args.save_epochs is False
    for argv in (["localize", *common],
                 ["localize", "--evoked", "e-ave.fif", "--epochs", "x-epo.fif",
                  *common]):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(argv)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "one of the arguments --evoked --epochs is required" in err
    assert "not allowed with argument" in err
    with pytest.raises(SystemExit):
        parser.parse_args(["localize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--epochs", "--save-epochs", "'all' or a comma-separated list"):
        assert flag in text

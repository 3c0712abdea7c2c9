"""The benchmark sweeps' shared machinery: seeds, the parallel loop, CSV files."""

import csv

import numpy as np

from vaesource.benchmark import _sweep
from vaesource.benchmark.cortical import trial_seed as cortical_seed
from vaesource.benchmark.fig2 import trial_seed as fig2_seed


def _rows(a, b):
    return [dict(a=a, b=b, c=a * b)]


def test_trial_seed_is_the_seed_sequence_of_its_keys():
    # the seeds of every published sweep: they must never change
    ss = np.random.SeedSequence([0, 2, 30, 4])
    assert _sweep.trial_seed(0, 2, 30, 4) == int(ss.generate_state(1)[0])
    assert fig2_seed(0, "meg", 30, 4) == _sweep.trial_seed(0, 2, 30, 4)
    assert cortical_seed(1, 3, 10.0, 2) == _sweep.trial_seed(1, 3, 1000, 2)


def test_run_trials_collects_every_row():
    rows = _sweep.run_trials(_rows, [(1, 2), (3, 4)], progress=False)
    assert sorted(r["c"] for r in rows) == [2, 12]


def test_write_csv_atomic(tmp_path):
    fname = tmp_path / "sub" / "out.csv"
    rows = [dict(a=1, b=None, extra="x"), dict(a=2, b=3, extra="y")]
    out = _sweep.write_csv(fname, rows, ("a", "b"), convert=lambda r: {
        **r, "b": "" if r["b"] is None else r["b"]})
    assert out == fname
    with open(fname, newline="") as fid:
        assert list(csv.reader(fid)) == [["a", "b"], ["1", ""], ["2", "3"]]
    assert [p.name for p in fname.parent.iterdir()] == ["out.csv"]

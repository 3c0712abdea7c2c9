"""What the benchmark sweeps share: trial seeds, the parallel loop, CSV files.

A sweep is a list of independent trials, each a task ``func(*task)`` that
returns a list of row dicts; the trials run through joblib (any backend:
loky processes by default, Dask's distributed scheduler for a cluster) in
whatever order they finish, and the caller sorts the rows.
"""

from __future__ import annotations

import csv

import numpy as np

from ..utils import _atomic_write


def trial_seed(*keys):
    """Deterministic, independent seed of the trial named by integer ``keys``."""
    ss = np.random.SeedSequence(list(keys))
    return int(ss.generate_state(1)[0])


def run_trials(func, tasks, *, n_jobs=1, backend=None, progress=True, desc=None):
    """Rows of ``func(*task)`` for every task, all trials' rows concatenated.

    Parameters
    ----------
    func : callable
        A picklable function (module level, or a :func:`functools.partial`
        of one) returning a list of rows.
    tasks : list of tuple
        Its positional arguments, one tuple per trial.
    n_jobs : int
        Parallel jobs (joblib; -1 for all cores).
    backend : str | None
        joblib backend (``"loky"`` by default).
    progress : bool
        Show a tqdm progress bar (labelled ``desc``).

    Returns
    -------
    rows : list of dict
        In the order the trials finished.
    """
    from joblib import Parallel, delayed, parallel_config
    from tqdm.auto import tqdm

    rows = []
    config = {} if backend is None else {"backend": backend}
    with parallel_config(**config):
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        results = parallel(delayed(func)(*task) for task in tasks)
        for trial_rows in tqdm(results, total=len(tasks), disable=not progress,
                               desc=desc, unit="trial"):
            rows.extend(trial_rows)
    return rows


def write_csv(fname, rows, columns, *, convert=None):
    """Write ``rows`` (the ``columns`` of each) to a CSV file, atomically.

    ``convert``, if given, maps each row's dict of columns to what is written.
    Returns the path written.
    """

    def write(tmp):
        with open(tmp, "w", newline="") as fid:
            writer = csv.DictWriter(fid, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                out = {k: row[k] for k in columns}
                writer.writerow(out if convert is None else convert(out))

    return _atomic_write(fname, write, suffix=".csv")

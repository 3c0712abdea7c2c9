"""Throughput of ``vaesource batch`` on a Dask cluster: one worker vs two.

A separate ``dask scheduler`` process and ``dask worker`` processes
(``--nworkers 1 --nthreads 1`` each) on this machine, as a user would start
them on a cluster; :func:`vaesource.batch.run_batch` is the client. The
study: ``--n-subjects`` synthetic subjects on the template head (sources
simulated on the ico4 cortex, inverted on the ``--spacing`` grid (ico3,
or ico4 itself), 306 MEG
channels, two conditions each on one shared support), written once as
files with a manifest.

Prints, for one worker and then two, the wall time of the whole batch
(client included, workers already started and their imports done) and
the subjects per minute, then the ratio (the target of issue 20: two
workers give at least 1.7x the throughput of one). The machine's cores and
any other load on them bound that ratio: it says how many cores it has.

Usage::

    python benchmarks/bench_batch.py [--n-subjects 24] [--spacing ico3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _make_study(root, n_subjects, spacing):
    """Subjects' files and their manifest; returns the manifest's path."""
    import mne
    import numpy as np

    from vaesource.datasets import template
    from vaesource.simulation import cortical_evoked

    sim_head = template("ico4", sensors="meg")
    # ico4 inverts on the simulation grid itself (no finer head to simulate on)
    inv_head = template(spacing, sensors="meg") if spacing != "ico4" else None
    lines = ["subject,evoked,forward,cov"]
    for k in range(n_subjects):
        sim = cortical_evoked(sim_head, 2, snr=3.0, seed=k,
                              inverse_template=inv_head, nave=60)
        rng = np.random.default_rng(k)
        other = sim.evoked.copy()
        other.comment = "b"
        sim.evoked.comment = "a"
        # the second condition: the same sources, weaker, its own noise
        scale = other.data.std(axis=1, keepdims=True)
        other.data = 0.7 * other.data + 0.2 * scale * rng.standard_normal(
            other.data.shape)
        mne.write_evokeds(root / f"s{k:02d}-ave.fif", [sim.evoked, other],
                          verbose=False)
        if k == 0:
            mne.write_forward_solution(root / "inverse-fwd.fif", sim.forward,
                                       verbose=False)
            sim.noise_cov.save(root / "noise-cov.fif", verbose=False)
        lines.append(f"sub-{k:02d},s{k:02d}-ave.fif,inverse-fwd.fif,noise-cov.fif")
    manifest = root / "study.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _warm():
    """A worker's imports, before the clock starts."""
    import vaesource.batch._task  # noqa: F401
    import vaesource.localize  # noqa: F401

    return os.getpid()


def _start(args, log):
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=24)
    parser.add_argument("--spacing", default="ico3", choices=("ico3", "ico4"))
    args = parser.parse_args()

    from distributed import Client

    from vaesource.batch import run_batch

    dask = str(Path(sys.executable).with_name("dask"))
    procs = []
    with tempfile.TemporaryDirectory(prefix="vaesource-bench-batch-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        manifest = _make_study(tmp, args.n_subjects, args.spacing)
        print(f"{args.n_subjects} subjects written in "
              f"{time.perf_counter() - t0:.1f} s ({args.spacing} inverse grid, "
              "306 MEG channels, 2 conditions each)", flush=True)
        sched_file = tmp / "scheduler.json"
        log = open(tmp / "dask.log", "w")
        rates = {}
        try:
            procs.append(_start([dask, "scheduler", "--scheduler-file",
                                 str(sched_file), "--host", "127.0.0.1",
                                 "--port", "0", "--no-dashboard"], log))
            deadline = time.monotonic() + 60
            while not sched_file.exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("the scheduler did not start")
                time.sleep(0.1)
            with Client(scheduler_file=str(sched_file)) as client:
                for n_workers in (1, 2):
                    while len(procs) - 1 < n_workers:
                        procs.append(_start(
                            [dask, "worker", "--scheduler-file", str(sched_file),
                             "--nworkers", "1", "--nthreads", "1",
                             "--no-dashboard"], log))
                    client.wait_for_workers(n_workers, timeout=120)
                    client.run(_warm)
                    out = tmp / f"out-{n_workers}"
                    t0 = time.perf_counter()
                    result = run_batch(manifest, out=out, scheduler=str(sched_file),
                                       group=False, progress=False)
                    wall = time.perf_counter() - t0
                    assert not result.failed, result.summary()
                    rates[n_workers] = 60.0 * args.n_subjects / wall
                    busy = sum(e["seconds"] for e in result.entries.values())
                    print(f"{n_workers} worker(s): {wall:.1f} s, "
                          f"{rates[n_workers]:.1f} subjects/minute (tasks: "
                          f"{busy / args.n_subjects:.2f} s each on average)",
                          flush=True)
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in reversed(procs):
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
            log.close()
    print(f"two workers / one: {rates[2] / rates[1]:.2f}x (target >= 1.7x; "
          f"{os.cpu_count()} cores on this machine, shared with whatever else "
          "runs on it)")


if __name__ == "__main__":
    main()

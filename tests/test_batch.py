"""``vaesource batch`` / ``run_batch``: manifests, BIDS discovery, faults,
resuming, and the same estimates on joblib and on a real Dask cluster (with
a worker killed mid-run)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vaesource.batch import find_bids_subjects, read_manifest, run_batch
from vaesource.cli import main

N_SUBJECTS = 4


def _write_evoked(fname, sim, seed, conditions=("a", "b")):
    """Conditions of one subject: the simulated response, and one more per
    condition with its own noise (deterministic by ``seed``)."""
    import mne

    rng = np.random.default_rng(seed)
    evokeds = []
    for k, name in enumerate(conditions):
        ev = sim.evoked.copy()
        ev.comment = name
        # noise on the scale of each channel (magnetometers and gradiometers
        # differ by orders of magnitude)
        scale = ev.data.std(axis=1, keepdims=True)
        ev.data = ev.data * (1.0 - 0.3 * k) + 0.1 * scale * rng.standard_normal(
            ev.data.shape)
        evokeds.append(ev)
    mne.write_evokeds(fname, evokeds, overwrite=True, verbose=False)


@pytest.fixture(scope="module")
def study(tmp_path_factory, template_cache):
    """``N_SUBJECTS`` synthetic template subjects (ico3, MEG, 2 conditions
    each, one forward and covariance shared) and their manifest."""
    import mne

    from vaesource.datasets import template
    from vaesource.simulation import cortical_evoked

    tmpl = template("ico3", sensors="meg", cache_dir=template_cache)
    d = tmp_path_factory.mktemp("batch-study")
    sims = [cortical_evoked(tmpl, 2, snr=5.0, seed=10 + k, tmin=-0.02, tmax=0.1,
                            sfreq=100.0) for k in range(N_SUBJECTS)]
    mne.write_forward_solution(d / "template-fwd.fif", sims[0].forward,
                               verbose=False)
    sims[0].noise_cov.save(d / "noise-cov.fif", verbose=False)
    lines = ["subject,evoked,forward,cov"]
    for k, sim in enumerate(sims):
        _write_evoked(d / f"s{k}-ave.fif", sim, seed=k)
        lines.append(f"sub-{k:02d},s{k}-ave.fif,template-fwd.fif,noise-cov.fif")
    (d / "study.csv").write_text("\n".join(lines) + "\n")
    return dict(root=d, manifest=d / "study.csv", sims=sims)


def _estimates(out):
    """{relative path: data} of every .stc of a batch folder."""
    import mne

    found = {}
    for path in sorted(Path(out).glob("*/*-lh.stc")):
        stc = mne.read_source_estimate(path)
        found[str(path.relative_to(out))] = (
            [v.copy() for v in stc.vertices], stc.data.copy())
    return found


def _assert_same_estimates(a, b):
    ea, eb = _estimates(a), _estimates(b)
    assert ea and sorted(ea) == sorted(eb)
    for key in ea:
        (va, da), (vb, db) = ea[key], eb[key]
        assert all(np.array_equal(x, y) for x, y in zip(va, vb)), key
        assert np.array_equal(da, db), key  # bitwise


def _batch(out):
    return json.loads((out / "batch.json").read_text())["subjects"]


# -- manifests ---------------------------------------------------------------

def test_read_manifest_csv_tsv_and_conditions(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "study.tsv").write_text(
        "subject\tevoked\tforward\tcov\tsubjects_dir\n"
        "s1\tdata/s1-ave.fif\tdata/fwd.fif\t/abs/cov.fif\tfs\n\n"
        "s2\tdata/s2-ave.fif\tdata/fwd.fif\t/abs/cov.fif\t\n")
    s1, s2 = read_manifest(tmp_path / "study.tsv")
    assert s1.name == "s1" and s1.evoked == str(tmp_path / "data" / "s1-ave.fif")
    assert s1.cov == "/abs/cov.fif" and s1.subjects_dir == str(tmp_path / "fs")
    assert s2.subjects_dir is None and s2.mri_subject is None
    assert s1.conditions == ()
    # no telling extension: the header decides; one subject, its conditions on
    # several lines (localized together)
    (tmp_path / "study.txt").write_text(
        "subject,evoked,forward,cov,condition,mri_subject\n"
        "s1,a.fif,f.fif,c.fif,aud,bert\ns1,a.fif,f.fif,c.fif,vis,bert\n")
    (s1,) = read_manifest(tmp_path / "study.txt")
    assert s1.conditions == ("aud", "vis") and s1.mri_subject == "bert"


@pytest.mark.parametrize("text, match", [
    ("subject,evoked,forward\ns1,a,b\n", "no column 'cov'"),
    ("subject,evoked,forward,cov\n", "lists no subject"),
    ("", "no column 'subject'"),
    ("subject,evoked,forward,cov\ns1,a,f,c\ns1,a,f,c\n", "listed twice"),
    ("subject,evoked,forward,cov,condition\ns1,a,f,c,x\ns1,a,f,c,x\n",
     "listed twice"),
    ("subject,evoked,forward,cov,condition\ns1,a,f,c,x\ns1,b,f,c,y\n",
     "different files"),
    ("subject,evoked,forward,cov\n../s1,a,f,c\n", "Invalid subject name"),
    ("subject,evoked,forward,cov\ngroup,a,f,c\n", "Invalid subject name"),
    ("subject,evoked,forward,cov\ns1,,f,c\n", "Empty 'evoked'"),
])
def test_read_manifest_errors(tmp_path, text, match):
    fname = tmp_path / "m.csv"
    fname.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_manifest(fname)
    with pytest.raises(ValueError, match="does not exist"):
        read_manifest(tmp_path / "none.csv")


def test_run_batch_checks_before_work(study, tmp_path):
    with pytest.raises(ValueError, match="not both nor neither"):
        run_batch(out=tmp_path / "o")
    with pytest.raises(ValueError, match="'loose'"):
        run_batch(study["manifest"], out=tmp_path / "o", loose="x")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    with pytest.raises(ValueError, match="no batch.json"):
        run_batch(study["manifest"], out=tmp_path / "busy")
    assert not (tmp_path / "o").exists()


# -- faults and resuming ------------------------------------------------------

def test_a_failing_subject_fails_alone(study, tmp_path, capsys):
    import mne

    d = study["root"]
    bad = mne.read_evokeds(d / "s0-ave.fif", verbose=False)
    for ev in bad:
        ev.rename_channels({ch: f"X{k}" for k, ch in enumerate(ev.ch_names)})
    mne.write_evokeds(tmp_path / "renamed-ave.fif", bad, verbose=False)
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "subject,evoked,forward,cov\n"
        f"good,{d / 's1-ave.fif'},{d / 'template-fwd.fif'},{d / 'noise-cov.fif'}\n"
        f"missing,{d / 'nowhere-ave.fif'},{d / 'template-fwd.fif'},{d / 'noise-cov.fif'}\n"
        f"channels,renamed-ave.fif,{d / 'template-fwd.fif'},{d / 'noise-cov.fif'}\n")
    out = tmp_path / "out"
    code = main(["batch", "--manifest", str(manifest), "--out", str(out),
                 "--n-jobs", "1", "--no-group", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 1
    entries = _batch(out)
    assert list(entries) == ["good", "missing", "channels"]
    assert entries["good"]["status"] == "done" and entries["good"]["message"] == ""
    assert entries["good"]["conditions"] == ["a", "b"]
    assert entries["good"]["estimates"] == {"a": "a-full_vae", "b": "b-full_vae"}
    assert entries["good"]["mri_subject"] == "fsaverage"
    assert entries["missing"]["status"] == "failed"
    assert "nowhere-ave.fif" in entries["missing"]["message"]
    assert entries["channels"]["status"] == "failed"
    assert "channel" in entries["channels"]["message"].lower()
    for e in entries.values():
        assert e["seconds"] >= 0 and e["finished"].startswith("20")
    assert sorted(p.name for p in out.iterdir()) == ["batch.json", "good"]
    assert "1 of 3 subject(s) done" in printed and "2 failed" in printed
    assert "missing: ValueError" in printed


def test_resume_skips_what_is_done(study, tmp_path, caplog):
    d = tmp_path / "inputs"
    shutil.copytree(study["root"], d)
    out = tmp_path / "out"
    kw = dict(out=out, group=False, progress=False)
    first = run_batch(d / "study.csv", **kw)
    assert first.n_done == N_SUBJECTS and first.n_skipped == 0
    before = _batch(out)
    written = {s: (out / s / "summary.json").stat().st_mtime_ns for s in before}

    # an interrupted batch: one subject's entry not written yet, another's
    # folder gone
    doc = json.loads((out / "batch.json").read_text())
    del doc["subjects"]["sub-01"]
    (out / "batch.json").write_text(json.dumps(doc))
    shutil.rmtree(out / "sub-02")
    # a changed input
    _write_evoked(d / "s3-ave.fif", study["sims"][3], seed=99)
    again = run_batch(d / "study.csv", **kw)
    after = _batch(out)
    assert again.n_skipped == 1 and again.n_done == N_SUBJECTS
    assert after["sub-00"] == before["sub-00"]
    for s in ("sub-01", "sub-02", "sub-03"):  # computed again
        assert after[s]["finished"] >= before[s]["finished"]
    assert (out / "sub-00" / "summary.json").stat().st_mtime_ns == written["sub-00"]
    assert (out / "sub-03" / "summary.json").stat().st_mtime_ns > written["sub-03"]
    assert after["sub-03"]["hash"] != before["sub-03"]["hash"]
    assert after["sub-01"]["hash"] == before["sub-01"]["hash"]
    assert (out / "sub-02" / "summary.json").is_file()
    assert "1 skipped" in again.summary()

    # a changed option computes every subject again
    third = run_batch(d / "study.csv", tmax=0.08, **kw)
    assert third.n_skipped == 0 and third.n_done == N_SUBJECTS
    assert len({e["hash"] for e in _batch(out).values()} & {
        e["hash"] for e in after.values()}) == 0
    # same again: all skipped, from the command line too
    assert main(["batch", "--manifest", str(d / "study.csv"), "--out", str(out),
                 "--tmax", "0.08", "--n-jobs", "1", "--no-group",
                 "--no-progress"]) == 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_killed_client_resumes(study, tmp_path):
    """The command killed mid-run, then run again: only the subjects not done
    are computed, and the outputs are those of an uninterrupted run."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaesource.cli", "batch", "--manifest",
         str(study["manifest"]), "--out", str(out), "--n-jobs", "1",
         "--no-group", "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: (out / "batch.json").is_file() or proc.poll() is not None,
              60, "the first subject")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    done = _batch(out)
    assert 1 <= len(done) < N_SUBJECTS, "the batch ended before it was killed"
    result = run_batch(study["manifest"], out=out, group=False, progress=False)
    assert result.n_skipped == len(done) and result.n_done == N_SUBJECTS
    assert {s: e for s, e in _batch(out).items() if s in done} == done
    ref = tmp_path / "ref"
    run_batch(study["manifest"], out=ref, group=False, progress=False)
    _assert_same_estimates(ref, out)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_group_step_runs_with_its_options(study, tmp_path):
    """The batch ends with the group step, given its radius and minimum."""
    import csv

    one = tmp_path / "one.csv"
    one.write_text(study["manifest"].read_text().splitlines()[0] + "\n"
                   + study["manifest"].read_text().splitlines()[1].replace(
                       "s0-ave", str(study["root"] / "s0-ave")).replace(
                       "template-fwd", str(study["root"] / "template-fwd")).replace(
                       "noise-cov", str(study["root"] / "noise-cov")) + "\n")
    out = tmp_path / "out"
    result = run_batch(one, out=out, progress=False, group_min_subjects=1)
    assert result.group == out / "group"
    names = {p.name for p in (out / "group").iterdir()}
    assert {"sources.csv", "clusters.csv", "report.html"} <= names
    with open(out / "group" / "sources.csv") as fid:
        sources = list(csv.DictReader(fid))
    summary = json.loads((out / "sub-00" / "summary.json").read_text())
    n_sources = len(summary["methods"][0]["sources"])
    conditions = json.loads((out / "batch.json").read_text())[
        "subjects"]["sub-00"]["conditions"]
    # one row per condition x source (the conditions share their sources)
    assert len(conditions) == 2
    assert len(sources) == n_sources * len(conditions) > 0
    assert {r["condition"] for r in sources} == set(conditions)
    with open(out / "group" / "clusters.csv") as fid:
        clusters = list(csv.DictReader(fid))
    assert len(clusters) >= 1  # one subject suffices with min_subjects=1
    # a minimum above the number of subjects keeps no cluster
    run_batch(one, out=out, progress=False, overwrite=True,
              group_min_subjects=5, group_radius_mm=5.0)
    with open(out / "group" / "clusters.csv") as fid:
        assert list(csv.DictReader(fid)) == []


# -- BIDS ---------------------------------------------------------------------

def test_find_bids_subjects_pipeline_names(tmp_path):
    pytest.importorskip("mne_bids")
    meg = tmp_path / "derivatives" / "mne-bids-pipeline"
    files = [
        "sub-01/ses-a/meg/sub-01_ses-a_task-faces_ave.fif",
        "sub-01/ses-a/meg/sub-01_ses-a_task-faces_fwd.fif",
        "sub-01/ses-a/meg/sub-01_ses-a_proc-clean_cov.fif",  # recent: no task
        "sub-02/ses-a/meg/sub-02_ses-a_task-faces_ave.fif",
        "sub-02/ses-a/meg/sub-02_ses-a_task-faces_fwd.fif",
        "sub-02/ses-a/meg/sub-02_ses-a_task-faces_proc-clean_cov.fif",
        "sub-02/ses-a/meg/sub-02_ses-a_task-rest_ave.fif",  # another task
    ]
    for f in files:
        (meg / f).parent.mkdir(parents=True, exist_ok=True)
        (meg / f).write_bytes(b"")
    (tmp_path / "derivatives" / "freesurfer" / "subjects" / "sub-01").mkdir(
        parents=True)
    s1, s2 = find_bids_subjects(tmp_path, "faces")
    assert (s1.name, s2.name) == ("sub-01_ses-a", "sub-02_ses-a")
    assert s1.cov.endswith("sub-01_ses-a_proc-clean_cov.fif")
    assert s2.cov.endswith("sub-02_ses-a_task-faces_proc-clean_cov.fif")
    assert s1.forward.endswith("sub-01_ses-a_task-faces_fwd.fif")
    assert s1.mri_subject == "sub-01" and s2.mri_subject is None
    assert s1.subjects_dir.endswith("freesurfer/subjects")
    with pytest.raises(ValueError, match="No evoked file of task 'none'"):
        find_bids_subjects(tmp_path, "none")
    (meg / files[1]).unlink()
    with pytest.raises(ValueError, match="sub-01_ses-a_task-faces_fwd.fif"):
        find_bids_subjects(tmp_path, "faces")


def test_batch_on_a_bids_derivatives_tree(study, tmp_path, capsys):
    pytest.importorskip("mne_bids")
    from mne_bids import BIDSPath

    root = tmp_path / "bids"
    deriv = root / "derivatives" / "mne-bids-pipeline"
    d = study["root"]
    for k in range(2):
        path = BIDSPath(subject=f"{k + 1:02d}", task="oddball", datatype="meg",
                        suffix="ave", extension=".fif", root=deriv, check=False)
        path.fpath.parent.mkdir(parents=True)
        shutil.copy(d / f"s{k}-ave.fif", path.fpath)
        shutil.copy(d / "template-fwd.fif", path.copy().update(suffix="fwd").fpath)
        shutil.copy(d / "noise-cov.fif", path.copy().update(
            suffix="cov", processing="clean").fpath)
    out = tmp_path / "out"
    assert main(["batch", "--bids-root", str(root), "--task", "oddball", "--out",
                 str(out), "--n-jobs", "1", "--no-group", "--no-progress"]) == 0
    entries = _batch(out)
    assert list(entries) == ["sub-01", "sub-02"]
    assert all(e["status"] == "done" for e in entries.values())
    assert entries["sub-01"]["cov"].endswith("sub-01_task-oddball_proc-clean_cov.fif")
    ref = tmp_path / "ref"
    run_batch(study["manifest"], out=ref, group=False, progress=False)
    # the same files give the same estimates, found either way
    for k in range(2):
        a = _estimates(out)[f"sub-{k + 1:02d}/a-full_vae-lh.stc"][1]
        b = _estimates(ref)[f"sub-{k:02d}/a-full_vae-lh.stc"][1]
        assert np.array_equal(a, b)


# -- Dask ---------------------------------------------------------------------

def _dask():
    return str(Path(sys.executable).with_name("dask"))


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_dask_cluster_gives_the_joblib_estimates_despite_a_killed_worker(
        study, tmp_path):
    distributed = pytest.importorskip("distributed")
    ref = tmp_path / "joblib"
    run_batch(study["manifest"], out=ref, n_jobs=2, group=False, progress=False)

    sched_file = tmp_path / "scheduler.json"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    procs = []
    try:
        procs.append(subprocess.Popen(
            [_dask(), "scheduler", "--scheduler-file", str(sched_file), "--host",
             "127.0.0.1", "--no-dashboard", "--port", "0"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(sched_file.exists, 60, "the scheduler")
        for _ in range(2):
            # no nanny: a killed worker stays dead, its task must run elsewhere
            procs.append(subprocess.Popen(
                [_dask(), "worker", "--scheduler-file", str(sched_file),
                 "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                 "--no-nanny"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(scheduler_file=str(sched_file)) as client:
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)  # {worker address: its pid}

            # one uninterrupted run on the cluster: bitwise the joblib run's
            clean = tmp_path / "dask"
            result = run_batch(study["manifest"], out=clean,
                               scheduler=str(sched_file), group=False,
                               progress=False)
            assert not result.failed
            _assert_same_estimates(ref, clean)

            # a worker killed while it localizes a subject
            killed = tmp_path / "killed"
            box = {}
            thread = threading.Thread(target=lambda: box.update(result=run_batch(
                study["manifest"], out=killed, scheduler=client.scheduler.address,
                group=False, progress=False)))
            thread.start()
            victim = next(iter(pids))

            def busy():
                return bool(client.processing().get(victim))

            _wait(busy, 60, "a task on the worker")
            os.kill(pids[victim], signal.SIGKILL)
            thread.join(120)
            assert not thread.is_alive()
            result = box["result"]
            assert not result.failed and result.n_done == N_SUBJECTS
            assert victim not in client.scheduler_info()["workers"]
        entries = _batch(killed)
        assert [e["status"] for e in entries.values()] == ["done"] * N_SUBJECTS
        _assert_same_estimates(ref, killed)
        assert not [p for p in killed.iterdir() if p.name.startswith(".")]
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

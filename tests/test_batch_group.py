"""The group map of a batch (``vaesource.batch.group``): sources of template
subjects put on fsaverage, clustered across subjects, written as tables, a
picture and a report.

The study is built from real ``run_localize`` outputs: five subjects on the
ico3 template head share two sources (three at one vertex, two at a
neighbouring one), each has one source of its own, and one subject failed.
No FreeSurfer subject is available offline, so the morph is run for real by
MNE on a FreeSurfer-like subjects folder made of fsaverage5's own surfaces
(a subject whose registered sphere is fsaverage's, turned by 2 degrees).
"""

import csv
import json

import numpy as np
import pytest

from vaesource.batch._clusters import cluster_sources
from vaesource.batch.group import CLUSTER_COLUMNS, SOURCE_COLUMNS, run_group

N_DONE = 5
CONDITIONS = ("aud", "vis")


def _read_csv(fname):
    with open(fname, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def _near(rr, vertno, v, lo, hi):
    """A source vertex of ``vertno`` between lo and hi mm from vertex v."""
    d = np.linalg.norm(rr[vertno] - rr[v], axis=1) * 1e3
    ok = vertno[(d > lo) & (d < hi)]
    return int(ok[np.argmin(d[(d > lo) & (d < hi)])])


@pytest.fixture(scope="module")
def study(tmp_path_factory, template_cache):
    """OUT/ of a batch: batch.json and five template subjects' localize
    folders (the first with two conditions on one shared support), one
    failed subject."""
    import mne

    from vaesource.datasets import template
    from vaesource.localize import run_localize

    tmpl = template("ico3", sensors="meg", cache_dir=template_cache)
    fwd = mne.convert_forward_solution(tmpl.fwd, surf_ori=True, force_fixed=True,
                                       use_cps=True, verbose=False)
    d = tmp_path_factory.mktemp("group-inputs")
    mne.write_forward_solution(d / "t-fwd.fif", tmpl.fwd, verbose=False)
    cov = mne.make_ad_hoc_cov(tmpl.info, verbose=False)
    cov.save(d / "t-cov.fif", verbose=False)
    # sources seen well by MEG: the strongest fixed-orientation gains
    gain = np.linalg.norm(fwd["sol"]["data"], axis=0)
    n_lh = len(tmpl.src[0]["vertno"])
    lh_rr, rh_rr = tmpl.src[0]["rr"], tmpl.src[1]["rr"]
    lh_v, rh_v = tmpl.src[0]["vertno"], tmpl.src[1]["vertno"]
    common = dict(lh=int(lh_v[np.argmax(gain[:n_lh])]),
                  rh=int(rh_v[np.argmax(gain[n_lh:])]))
    # two subjects have their common sources at a neighbouring vertex
    shifted = dict(lh=_near(lh_rr, lh_v, common["lh"], 4, 9),
                   rh=_near(rh_rr, rh_v, common["rh"], 4, 9))
    # one source of each subject's own, far from everything else
    far = np.linalg.norm(lh_rr[lh_v] - lh_rr[common["lh"]], axis=1) > 0.04
    strong = np.argsort(-gain[:n_lh] * far)
    own, picked = [], []
    for k in strong:
        p = lh_rr[lh_v[k]]
        if all(np.linalg.norm(p - lh_rr[q]) > 0.03 for q in picked):
            picked.append(int(lh_v[k]))
            own.append(int(lh_v[k]))
        if len(own) == N_DONE:
            break
    rng = np.random.default_rng(0)
    sd = np.sqrt(cov.data)
    times = np.arange(0.0, 0.2, 0.005)
    out = tmp_path_factory.mktemp("study")
    entries = {}
    for s in range(N_DONE):
        name = f"sub-{s + 1:02d}"
        at = common if s < 3 else shifted
        verts = [np.array(sorted([at["lh"], own[s]])), np.array([at["rh"]])]
        evokeds = []
        for c, cond in enumerate(CONDITIONS[:2 if s == 0 else 1]):
            data = np.zeros((3, len(times)))
            for i in range(3):
                f = 5 + 3 * i + c + rng.uniform(0, 2)
                data[i] = 25e-9 * np.sin(2 * np.pi * f * times) * np.hanning(
                    len(times))
            stc = mne.SourceEstimate(data, verts, tmin=0.0, tstep=0.005,
                                     subject="fsaverage")
            ev = mne.apply_forward(fwd, stc, tmpl.info, use_cps=True,
                                   verbose=False)
            ev.data += sd[:, None] / np.sqrt(100) * rng.standard_normal(
                ev.data.shape)
            ev.nave = 100
            ev.comment = cond
            evokeds.append(ev)
        fname = d / f"{name}-ave.fif"
        mne.write_evokeds(fname, evokeds, verbose=False)
        run_localize(fname, d / "t-fwd.fif", d / "t-cov.fif", out / name,
                     condition="all" if s == 0 else None, render=False)
        entries[name] = dict(status="done", message="", seconds=1.0,
                             finished="2026-01-01T00:00:00", hash="x",
                             folder=name, subjects_dir=None,
                             mri_subject=None if s % 2 else "fsaverage",
                             conditions=[e.comment for e in evokeds])
    entries["sub-99"] = dict(status="failed", message="missing file x-fwd.fif",
                             seconds=0.1, finished="2026-01-01T00:00:00",
                             hash="y", folder="sub-99", subjects_dir=None,
                             mri_subject=None, conditions=[])
    (out / "batch.json").write_text(json.dumps(dict(subjects=entries)))
    white = {h: mne.transforms.apply_trans(
        tmpl.trans, tmpl.surfaces["white"][h][0]) * 1e3 for h in ("lh", "rh")}
    return dict(out=out, common=common, shifted=shifted, own=own, white=white,
                tmpl=tmpl)


@pytest.fixture(autouse=True)
def _template_cache(template_cache, monkeypatch):
    """run_group loads the template from the tests' cache, not the user's."""
    monkeypatch.setenv("VAESOURCE_CACHE_DIR", str(template_cache))


def test_group_recovers_the_common_sources(study):
    result = run_group(study["out"], render=False)
    group = study["out"] / "group"
    assert sorted(p.name for p in group.iterdir()) == [
        "clusters.csv", "report.html", "sources.csv"]
    assert result.min_subjects == 2  # a quarter of 5, at least 2
    cols, clusters = _read_csv(group / "clusters.csv")
    assert tuple(cols) == CLUSTER_COLUMNS
    # the two shared sources, in all five subjects; the own ones dropped
    assert len(clusters) == 2
    for hemi in ("lh", "rh"):
        c = next(c for c in clusters if c["hemi"] == hemi)
        assert int(c["n_subjects"]) == N_DONE
        assert c["subjects"].split(";") == [f"sub-{s:02d}" for s in range(1, 6)]
        truth = study["white"][hemi][study["common"][hemi]]
        mean = np.array([float(c[k]) for k in ("x_mm", "y_mm", "z_mm")])
        assert np.linalg.norm(mean - truth) < 10.0
        assert 0 < float(c["spread_mm"]) < 10.0
        assert float(c["mean_evidence"]) > 0
        assert c["space"] == "fsaverage"


def test_group_sources_csv(study):
    run_group(study["out"], render=False)
    cols, rows = _read_csv(study["out"] / "group" / "sources.csv")
    assert tuple(cols) == SOURCE_COLUMNS
    # one row per subject x condition x source; the failed subject has none
    for s in range(1, N_DONE + 1):
        name = f"sub-{s:02d}"
        summary = json.loads((study["out"] / name / "summary.json").read_text())
        n_src = len(summary["methods"][0]["sources"])
        mine = [r for r in rows if r["subject"] == name]
        n_cond = 2 if s == 1 else 1
        assert len(mine) == n_src * n_cond
        assert {r["condition"] for r in mine} == set(CONDITIONS[:n_cond])
    assert not [r for r in rows if r["subject"] == "sub-99"]
    assert {r["space"] for r in rows} == {"fsaverage"}
    # template subjects are not morphed: the vertex is the subject's, the
    # position fsaverage's white surface (MNI305 mm)
    for r in rows:
        assert r["vertex"] == r["subject_vertex"]
        pos = np.array([float(r[k]) for k in ("x_mm", "y_mm", "z_mm")])
        assert np.allclose(pos, study["white"][r["hemi"]][int(r["vertex"])],
                           atol=0.01)
        assert float(r["amplitude_nAm"]) > 0 and float(r["probability"]) <= 1
    # the shared support: the same sources in both conditions of sub-01
    first = [r for r in rows if r["subject"] == "sub-01"]
    assert ({(r["hemi"], r["vertex"]) for r in first if r["condition"] == "aud"}
            == {(r["hemi"], r["vertex"]) for r in first if r["condition"] == "vis"})
    clustered = {r["cluster"] for r in rows}
    assert clustered == {"1", "2", ""}


def test_group_min_subjects_and_radius(study):
    # more subjects than there are: nothing is kept
    assert run_group(study["out"], min_subjects=N_DONE + 1,
                     render=False).clusters == []
    # a radius below the neighbours' distance splits each shared source in
    # the three subjects at the vertex and the two at its neighbour
    result = run_group(study["out"], radius_mm=1.0, render=False)
    sizes = sorted((c["hemi"], c["n_subjects"]) for c in result.clusters)
    assert sizes == [("lh", 2), ("lh", 3), ("rh", 2), ("rh", 3)]
    assert sorted(run_group(study["out"], radius_mm=1.0, min_subjects=3,
                            render=False).clusters[i]["n_subjects"]
                  for i in range(2)) == [3, 3]
    # every subject's own source alone: with min_subjects=1 each is a cluster
    result = run_group(study["out"], min_subjects=1, render=False)
    assert sum(c["n_subjects"] == 1 for c in result.clusters) >= N_DONE
    with pytest.raises(ValueError, match="radius_mm"):
        run_group(study["out"], radius_mm=0)
    with pytest.raises(ValueError, match="min_subjects"):
        run_group(study["out"], min_subjects=0)


def test_group_report_and_failed_subject(study):
    result = run_group(study["out"], render=False)
    assert result.subjects["sub-99"]["status"] == "failed"
    assert result.subjects["sub-99"]["n_sources"] is None
    assert all(result.subjects[f"sub-{s:02d}"]["n_sources"] >= 3
               for s in range(1, N_DONE + 1))
    page = (study["out"] / "group" / "report.html").read_text()
    assert "missing file x-fwd.fif" in page and "sub-05" in page
    assert page.count("<tr>") >= 3  # cluster table: header + 2 rows


def test_group_png(study, rendering):
    from PIL import Image

    result = run_group(study["out"])
    png = study["out"] / "group" / "group.png"
    assert result.files["group.png"] == png
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape == (960, 1440, 3)
    assert img.std() > 10
    # the two clusters' colours (tab10 blue and orange) are drawn
    for rgb in ((31, 119, 180), (255, 127, 14)):
        close = np.all(np.abs(img.astype(int) - rgb) < 40, axis=-1)
        assert close.sum() > 50
    page = (study["out"] / "group" / "report.html").read_text()
    assert "data:image/png;base64," in page


def test_group_replaces_itself_and_refuses_foreign_files(study, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(study["out"], out)
    run_group(out, render=False)
    run_group(out, render=False)  # a second group map replaces the first
    assert not [p for p in out.iterdir() if p.name.startswith(".vaesource")]
    (out / "group" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="notes.txt"):
        run_group(out, render=False)
    assert (out / "group" / "notes.txt").is_file()
    with pytest.raises(FileNotFoundError, match="batch.json"):
        run_group(tmp_path, render=False)


def _fake_subjects_dir(root, tmpl, degrees):
    """fsaverage, and a subject 'fake' whose registered sphere is
    fsaverage's turned about z, both with fsaverage5's meshes."""
    import nibabel as nib
    from nilearn import datasets
    from scipy.spatial.transform import Rotation

    surf = datasets.fetch_surf_fsaverage("fsaverage5")
    rot = Rotation.from_euler("z", degrees, degrees=True).as_matrix()
    spheres = {}
    for subject, turn in (("fsaverage", np.eye(3)), ("fake", rot)):
        folder = root / subject / "surf"
        folder.mkdir(parents=True)
        for hemi, side in (("lh", "left"), ("rh", "right")):
            for kind, name in (("white", "white"), ("sphere", "sphere.reg")):
                gii = nib.load(surf[f"{kind}_{side}"])
                rr = gii.darrays[0].data.astype(float)
                tris = gii.darrays[1].data.astype(int)
                if kind == "sphere":
                    rr = rr @ turn.T
                    spheres[subject, hemi] = rr
                nib.freesurfer.write_geometry(str(folder / f"{hemi}.{name}"),
                                              rr, tris)
    return spheres


def test_group_morph_to_fsaverage(study, tmp_path):
    """A FreeSurfer-like subject is morphed by MNE (sparse morph): each
    source goes to the fsaverage vertex nearest on the registered sphere."""
    import shutil

    from scipy.spatial import cKDTree

    out = tmp_path / "out"
    shutil.copytree(study["out"], out)
    spheres = _fake_subjects_dir(tmp_path / "subjects", study["tmpl"], 2.0)
    batch = json.loads((out / "batch.json").read_text())
    entry = batch["subjects"]["sub-02"]
    entry.update(subjects_dir=str(tmp_path / "subjects"), mri_subject="fake")
    (out / "batch.json").write_text(json.dumps(batch))
    result = run_group(out, render=False)
    rows = [r for r in result.sources if r["subject"] == "sub-02"]
    assert rows and {r["space"] for r in rows} == {"fsaverage"}
    moved = 0
    for r in rows:
        hemi = r["hemi"]
        expected = cKDTree(spheres["fsaverage", hemi]).query(
            spheres["fake", hemi][r["subject_vertex"]])[1]
        assert r["vertex"] == expected
        assert np.allclose([r["x_mm"], r["y_mm"], r["z_mm"]],
                           study["white"][hemi][expected], atol=0.01)
        moved += r["vertex"] != r["subject_vertex"]
    assert moved  # 2 degrees move the sources off their own vertices
    # still within the clusters of the shared sources (a few mm away)
    assert sorted(c["n_subjects"] for c in result.clusters) == [N_DONE, N_DONE]


def test_group_volume_without_transform_is_listed_unmorphed(study, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(study["out"], out)
    folder = out / "sub-03"
    summary = json.loads((folder / "summary.json").read_text())
    for row in summary["methods"][0]["sources"]:
        row["hemi"] = "vol"
    (folder / "summary.json").write_text(json.dumps(summary))
    with pytest.warns(UserWarning, match="head frame"):
        result = run_group(out, render=False)
    rows = [r for r in result.sources if r["subject"] == "sub-03"]
    assert {r["space"] for r in rows} == {"head-unmorphed"}
    assert all(r["cluster"] == "" for r in rows)
    head = [row["pos_mm"] for row in summary["methods"][0]["sources"]]
    assert [[r["x_mm"], r["y_mm"], r["z_mm"]] for r in rows] == head
    assert sorted(c["n_subjects"] for c in result.clusters) == [4, 4]


def test_cluster_sources_counts_each_subject_once():
    pos = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0.5, 0, 0],
                    [30, 0, 0], [38, 0, 0], [46, 0, 0]], float)
    subjects = ["a", "b", "c", "a", "a", "b", "c"]
    labels, seeds = cluster_sources(pos, subjects, 5.0)
    # a's second source near the first is left out of the first cluster
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert len({subjects[i] for i in np.flatnonzero(labels == labels[0])}) == 3
    # a row 8 mm apart is not chained into one cluster (single linkage would)
    assert len({labels[4], labels[5], labels[6]}) >= 2
    assert np.all(labels >= 0) and len(seeds) == labels.max() + 1
    empty, none = cluster_sources(np.zeros((0, 3)), [], 5.0)
    assert empty.size == 0 and none.size == 0

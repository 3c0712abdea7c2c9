"""The group map of a batch: every subject's sources in one frame, clustered.

:func:`run_group` reads what a batch wrote (``OUT/batch.json`` and each
done subject's ``localize`` folder), puts every source in one frame,
groups the sources of different subjects that lie close together
(:mod:`vaesource.batch._clusters`) and writes ``OUT/group/``: the tables
``sources.csv`` and ``clusters.csv``, the picture ``group.png`` and
``report.html``. The folder is written to a stage folder that then
replaces ``OUT/group/`` as a whole, as ``localize`` does for its run
folders.

The frame. Cortical sources go to fsaverage: a subject on fsaverage (the
built-in template head, whose vertex numbers are fsaverage's) is already
there; any other subject is morphed with :func:`mne.compute_source_morph`
(``sparse=True``: each source to the fsaverage vertex nearest on the
registered sphere), which needs the subject's ``subjects_dir`` (holding
the subject and ``fsaverage``). Positions are those of the fsaverage
**white** surface (where the template's and MNE's surface source spaces
lie), in fsaverage's MRI (surface RAS) coordinates in mm, which for
fsaverage are MNI305 coordinates (its ``talairach.xfm`` is the identity).
Volume sources go to MNI305 with :func:`mne.head_to_mni` where the
subject's ``subjects_dir``, ``mri_subject`` and head <-> MRI transform are
known; these and fsaverage positions share one frame and are clustered
together. Sources that cannot be placed (no ``subjects_dir``, or no
transform) are listed in the subject's head frame (space
``head-unmorphed``), left out of the clusters and the picture.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import html
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._output import _foreign, staged_folder
from ..utils import _check_int, _check_positive, logger, use_log_level, warn
from ._clusters import cluster_sources, cluster_spread

#: The frames of ``sources.csv``'s ``space`` column.
SPACES = ("fsaverage", "mni", "head-unmorphed")
#: Columns of ``sources.csv``, in order.
SOURCE_COLUMNS = (
    "subject", "condition", "space", "x_mm", "y_mm", "z_mm", "hemi", "vertex",
    "subject_vertex", "amplitude_nAm", "evidence", "probability", "cluster",
)
#: Columns of ``clusters.csv``, in order.
CLUSTER_COLUMNS = (
    "cluster", "n_subjects", "space", "hemi", "x_mm", "y_mm", "z_mm",
    "spread_mm", "max_distance_mm", "mean_evidence", "mean_amplitude_nAm",
    "subjects",
)
GROUP_FILES = ("sources.csv", "clusters.csv", "group.png", "report.html")
_HEMIS = ("lh", "rh")
# vertices of fsaverage5, the built-in template's cortex: fsaverage's first
# 10242 of each hemisphere
_N_FSAVERAGE5 = 10242
# a template-head subject's head-frame positions (summary.json, 0.01 mm) equal
# the template's own
_SAME_POSITION_MM = 0.5
_PNG_SIZE = (1440, 960)


@dataclass
class GroupResult:
    """What :func:`run_group` found and wrote.

    Attributes
    ----------
    sources : list of dict
        The rows of ``sources.csv`` (keys :data:`SOURCE_COLUMNS`).
    clusters : list of dict
        The rows of ``clusters.csv`` (keys :data:`CLUSTER_COLUMNS`; the
        subjects as a list).
    subjects : dict
        ``{subject: {"status", "n_sources", "space", "message"}}`` of every
        subject of ``batch.json``.
    radius_mm : float
        The cluster radius used.
    min_subjects : int
        The fewest subjects a kept cluster is found in.
    files : dict
        ``{name: path}`` of the written files.
    """

    sources: list
    clusters: list
    subjects: dict
    radius_mm: float
    min_subjects: int
    files: dict = field(default_factory=dict)


@fill_doc
def run_group(
    out,
    *,
    radius_mm: float = 10.0,
    min_subjects: int | None = None,
    render: bool = True,
    verbose=None,
) -> GroupResult:
    """Put a batch's sources in one frame, cluster them, write ``OUT/group/``.

    Parameters
    ----------
    out : path-like
        The batch's output folder: ``batch.json`` and one ``localize``
        folder per subject.
    radius_mm : float
        Sources of different subjects within this distance (mm) of a
        cluster's seed make one cluster (see Notes).
    min_subjects : int | None
        Keep the clusters found in at least this many subjects; None: a
        quarter of the done subjects (rounded up), at least 2.
    render : bool
        Draw ``group.png`` (skipped with a warning when off-screen OpenGL is
        unavailable; the report then has no picture).
    %(verbose)s

    Returns
    -------
    result : GroupResult

    Notes
    -----
    ``sources.csv``: one row per subject, condition and source, columns
    :data:`SOURCE_COLUMNS`. ``space`` is ``fsaverage`` (cortex; ``vertex``
    is the fsaverage vertex, ``subject_vertex`` the subject's; the
    position that of the fsaverage white surface), ``mni`` (volume;
    MNI305) or ``head-unmorphed`` (the subject's head frame, as in its
    ``summary.json``; not clustered). ``amplitude_nAm`` is the source's
    peak amplitude in that condition; ``evidence`` and ``probability`` are
    the source's (joint over the conditions of a shared support).
    ``cluster`` is the number of the kept cluster it belongs to, empty for
    none.

    ``clusters.csv``: one row per kept cluster, most subjects first,
    columns :data:`CLUSTER_COLUMNS`: the mean position (mm) of its sources
    (one per subject), ``spread_mm`` their root-mean-square distance from
    it and ``max_distance_mm`` the largest, the mean evidence and peak
    amplitude (strongest condition) of its sources, and the subjects
    (``;``-separated).

    The clustering rule (:func:`vaesource.batch._clusters.cluster_sources`):
    each subject's sources counted once over its conditions, the source
    with the most subjects within ``radius_mm`` seeds a cluster (ties: the
    larger evidence), which takes each of those subjects' source nearest
    the seed; repeated on the sources left. A cluster therefore counts a
    subject once, and its sources lie within ``radius_mm`` of the seed.
    """
    with use_log_level(verbose, quiet_mne=True):
        return _run_group(out, radius_mm, min_subjects, render)


def _run_group(out, radius_mm, min_subjects, render):
    t0 = time.perf_counter()
    radius_mm = float(_check_positive("radius_mm", radius_mm))
    if min_subjects is not None:
        min_subjects = _check_int("min_subjects", min_subjects, min_value=1)
    if not isinstance(render, (bool, np.bool_)):
        raise TypeError(f"render must be a bool, got {render!r}.")
    out = Path(out).expanduser()
    entries = _read_batch(out)
    done = [s for s, e in entries.items() if e.get("status") == "done"]
    if min_subjects is None:
        min_subjects = max(2, math.ceil(len(done) / 4))
    subjects, rows = {}, []
    for name, entry in entries.items():
        status = str(entry.get("status", "unknown"))
        info = dict(status=status, n_sources=None, space="",
                    message=str(entry.get("message") or ""))
        subjects[name] = info
        if status != "done":
            continue
        try:
            found = _subject_rows(out, name, entry)
        except (OSError, ValueError, KeyError, TypeError) as err:
            warn(f"Subject {name!r} is done but its outputs cannot be read "
                 f"({err}); it is left out of the group.")
            info.update(status="unreadable", message=str(err))
            continue
        info["n_sources"] = len({(r["hemi"], r["subject_vertex"]) for r in found})
        info["space"] = ", ".join(sorted({r["space"] for r in found}))
        rows += found
    clusters = _clusters(rows, radius_mm, min_subjects)
    result = GroupResult(sources=rows, clusters=clusters, subjects=subjects,
                         radius_mm=radius_mm, min_subjects=min_subjects)
    rendering = False
    if render:
        from ..viz._scene import _rendering_available

        rendering, why = _rendering_available()
        if not rendering:
            logger.warning("No group.png: %s", why)
    target = out / "group"
    with _staged_group(target) as stage:
        _write_csv(stage / "sources.csv", SOURCE_COLUMNS, rows)
        _write_csv(stage / "clusters.csv", CLUSTER_COLUMNS,
                   [dict(c, subjects=";".join(c["subjects"])) for c in clusters])
        png = None
        if rendering:
            png = stage / "group.png"
            _render_group(png, rows, clusters, result).close()
        (stage / "report.html").write_text(
            _report_html(result, png), encoding="utf-8")
        names = [f for f in GROUP_FILES if (stage / f).exists()]
    result.files = {f: target / f for f in names}
    n_done = sum(1 for s in subjects.values() if s["status"] == "done")
    logger.info("Group of %d subject(s): %d source row(s), %d cluster(s) in at "
                "least %d subjects (radius %.3g mm), %.1f s; written to %s",
                n_done, len(rows), len(clusters), min_subjects, radius_mm,
                time.perf_counter() - t0, target)
    return result


# ---------------------------------------------------------------------------
# reading the batch
# ---------------------------------------------------------------------------
def _read_batch(out):
    fname = out / "batch.json"
    if not fname.is_file():
        raise FileNotFoundError(
            f"No batch.json in {str(out)!r}: the 'out' parameter must be the "
            "output folder of a batch (vaesource batch --out).")
    try:
        batch = json.loads(fname.read_text(encoding="utf-8"))
        entries = batch["subjects"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{fname} is not a batch record: {err}") from None
    if not isinstance(entries, dict):
        raise ValueError(f"{fname}: 'subjects' must be an object "
                         "{subject: entry}.")
    for name, entry in entries.items():
        folder = entry.get("folder", name) if isinstance(entry, dict) else name
        if folder == "group" and entry.get("status") == "done":
            raise ValueError(
                f"Subject {name!r} is written to {str(out / 'group')!r}, the "
                "folder of the group map; rename the subject.")
    return entries


def _subject_rows(out, name, entry):
    """The ``sources.csv`` rows of one done subject."""
    folder = out / str(entry.get("folder") or name)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    method = next((m for m in summary.get("methods", []) if "sources" in m), None)
    if method is None:
        raise ValueError(
            f"{folder / 'summary.json'} has no source table (a run of the full "
            "VAE, model='full', writes one)")
    sources = method["sources"]
    if summary.get("conditions"):
        conditions = [str(c["condition"]) for c in summary["conditions"]]
    elif "condition" in summary:
        conditions = [str(summary["condition"])]
    else:
        conditions = ["epochs"]
    placed = _place(sources, entry, name)
    rows = []
    for src_row, (space, pos, vertex) in zip(sources, placed):
        per = src_row.get("conditions")
        for cond in conditions:
            amp = per[cond]["amplitude_nAm"] if per else src_row["amplitude_nAm"]
            rows.append(dict(
                subject=name, condition=cond, space=space,
                x_mm=round(float(pos[0]), 2), y_mm=round(float(pos[1]), 2),
                z_mm=round(float(pos[2]), 2), hemi=str(src_row["hemi"]),
                vertex=int(vertex), subject_vertex=int(src_row["vertex"]),
                amplitude_nAm=float(amp), evidence=_float(src_row.get("evidence")),
                probability=_float(src_row.get("probability")), cluster=""))
    return rows


def _float(value):
    return float("nan") if value is None else float(value)


def _place(sources, entry, name):
    """[(space, position in mm, vertex)] of a subject's source rows."""
    if not sources:
        return []
    hemis = {str(r["hemi"]) for r in sources}
    head = np.array([r["pos_mm"] for r in sources], float)
    vertices = np.array([int(r["vertex"]) for r in sources])
    subjects_dir = entry.get("subjects_dir")
    mri_subject = entry.get("mri_subject")
    if hemis <= set(_HEMIS):
        placed = _place_cortex(sources, head, vertices, subjects_dir,
                               mri_subject, name)
        if placed is not None:
            return placed
    elif hemis == {"vol"}:
        placed = _place_volume(head, vertices, entry, name)
        if placed is not None:
            return placed
    else:
        raise ValueError(f"unknown hemispheres {sorted(hemis)} in the source "
                         "table")
    return [("head-unmorphed", p, v) for p, v in zip(head, vertices)]


def _place_cortex(sources, head, vertices, subjects_dir, mri_subject, name):
    hemi = [str(r["hemi"]) for r in sources]
    if mri_subject == "fsaverage" or mri_subject is None:
        # fsaverage vertex numbers: positions from the template (fsaverage5)
        # or from subjects_dir's fsaverage; a subject of unknown name counts
        # as the template only if its head-frame positions are the template's
        white = _template_white()
        on_template = bool(np.all(vertices < _N_FSAVERAGE5)) and (
            mri_subject == "fsaverage" or _matches_template(hemi, vertices, head))
        if on_template:
            return [("fsaverage", white["mri"][h][v], v)
                    for h, v in zip(hemi, vertices)]
        if mri_subject == "fsaverage" and subjects_dir is not None:
            surf = _fsaverage_white(subjects_dir)
            return [("fsaverage", surf[h][v], v) for h, v in zip(hemi, vertices)]
        if mri_subject is None:
            warn(f"Subject {name!r}: no mri_subject, and its sources are not "
                 "on the built-in template head; listed in its head frame, "
                 "not morphed.")
            return None
    if subjects_dir is None:
        warn(f"Subject {name!r} (MRI subject {mri_subject!r}): no "
             "subjects_dir to morph it to fsaverage with; its sources are "
             "listed in its head frame, not morphed.")
        return None
    to = _morph_vertices(hemi, vertices, mri_subject, subjects_dir)
    surf = _fsaverage_white(subjects_dir)
    return [("fsaverage", surf[h][v], v) for h, v in zip(hemi, to)]


def _morph_vertices(hemi, vertices, subject, subjects_dir):
    """The fsaverage vertex of each source: MNE's sparse morph (each vertex to
    the nearest one on the registered sphere)."""
    import mne

    keys = sorted({(h, int(v)) for h, v in zip(hemi, vertices)},
                  key=lambda k: (_HEMIS.index(k[0]), k[1]))
    verts = [np.array([v for h, v in keys if h == hh], int) for hh in _HEMIS]
    # one source per column: where a column's weight lands is its vertex
    stc = mne.SourceEstimate(np.eye(len(keys)), verts, tmin=0.0, tstep=1.0,
                             subject=subject)
    morph = mne.compute_source_morph(stc, subject_from=subject,
                                     subject_to="fsaverage",
                                     subjects_dir=subjects_dir, spacing=None,
                                     sparse=True,
                                     verbose=False)
    moved = morph.apply(stc, verbose=False)
    to_keys = [("lh", int(v)) for v in moved.vertices[0]] + [
        ("rh", int(v)) for v in moved.vertices[1]]
    where = {key: to_keys[int(np.argmax(np.abs(moved.data[:, k])))]
             for k, key in enumerate(keys)}
    out = []
    for h, v in zip(hemi, vertices):
        th, tv = where[(h, int(v))]
        if th != h:  # not with xhemi=False; a guard on MNE's behaviour
            raise ValueError(f"the morph moved {h} vertex {v} to the {th}")
        out.append(tv)
    return np.array(out, int)


def _place_volume(head, vertices, entry, name):
    import mne

    subjects_dir = entry.get("subjects_dir")
    subject = entry.get("mri_subject")
    trans = _read_trans(entry)
    if subjects_dir is None or subject is None or trans is None:
        warn(f"Subject {name!r}: a volume estimate without subjects_dir, "
             "mri_subject and a head <-> MRI transform ('trans' or 'forward' "
             "in batch.json); its sources are listed in its head frame, not "
             "in MNI coordinates.")
        return None
    mni = mne.head_to_mni(head / 1e3, subject, trans, subjects_dir=subjects_dir,
                          verbose=False)
    return [("mni", p, v) for p, v in zip(np.atleast_2d(mni), vertices)]


def _read_trans(entry):
    """The head <-> MRI transform named by a batch entry, if any."""
    import mne

    if entry.get("trans"):
        return mne.read_trans(entry["trans"], verbose=False)
    if entry.get("forward"):
        return mne.read_forward_solution(entry["forward"], verbose=False)[
            "mri_head_t"]
    return None


@functools.lru_cache(maxsize=1)
def _template():
    from ..forward.template import template

    # any spacing holds the whole fsaverage5 surfaces; ico3 loads fastest
    return template("ico3", sensors="meg", verbose=False)


@functools.lru_cache(maxsize=1)
def _template_white():
    """The template's white surface: head frame and fsaverage MRI (mm)."""
    import mne

    tmpl = _template()
    head = {h: tmpl.surfaces["white"][h][0] * 1e3 for h in _HEMIS}
    mri = {h: mne.transforms.apply_trans(tmpl.trans, tmpl.surfaces["white"][h][0])
           * 1e3 for h in _HEMIS}
    return dict(head=head, mri=mri)


def _matches_template(hemi, vertices, head):
    white = _template_white()["head"]
    ref = np.array([white[h][v] for h, v in zip(hemi, vertices)])
    return bool(np.all(np.linalg.norm(ref - head, axis=1) < _SAME_POSITION_MM))


def _fsaverage_white(subjects_dir):
    """fsaverage's white surfaces {hemi: (n, 3) mm} from a subjects folder."""
    import nibabel as nib

    surf = Path(subjects_dir).expanduser() / "fsaverage" / "surf"
    out = {}
    for h in _HEMIS:
        fname = surf / f"{h}.white"
        if not fname.is_file():
            raise ValueError(f"no fsaverage white surface: {fname} not found")
        out[h] = nib.freesurfer.read_geometry(str(fname))[0]
    return out


# ---------------------------------------------------------------------------
# clusters and tables
# ---------------------------------------------------------------------------
def _clusters(rows, radius_mm, min_subjects):
    """Cluster the placed sources (one per subject source, conditions
    merged), number the kept clusters in ``rows``; the cluster rows."""
    keys, points = [], {}
    for r in rows:
        if r["space"] == "head-unmorphed":
            continue
        key = (r["subject"], r["hemi"], r["subject_vertex"])
        if key not in points:
            keys.append(key)
            points[key] = dict(pos=(r["x_mm"], r["y_mm"], r["z_mm"]),
                               space=r["space"], hemi=r["hemi"],
                               evidence=r["evidence"], amplitude=[])
        points[key]["amplitude"].append(r["amplitude_nAm"])
    if not keys:
        return []
    pos = np.array([points[k]["pos"] for k in keys], float)
    evidence = np.array([points[k]["evidence"] for k in keys], float)
    labels, _ = cluster_sources(pos, [k[0] for k in keys], radius_mm,
                                weights=evidence)
    found = []
    for lab in range(labels.max() + 1):
        members = np.flatnonzero(labels == lab)
        if len(members) < min_subjects:
            continue
        mean, spread = cluster_spread(pos[members])
        ev = evidence[members]
        amps = [max(points[keys[i]]["amplitude"]) for i in members]
        found.append(dict(
            members=[keys[i] for i in members],
            n_subjects=len(members),
            space="+".join(sorted({points[keys[i]]["space"] for i in members})),
            hemi="+".join(sorted({points[keys[i]]["hemi"] for i in members})),
            x_mm=round(float(mean[0]), 2), y_mm=round(float(mean[1]), 2),
            z_mm=round(float(mean[2]), 2), spread_mm=round(spread, 2),
            max_distance_mm=round(float(np.max(np.linalg.norm(
                pos[members] - mean, axis=1))), 2),
            mean_evidence=(float(np.nanmean(ev)) if np.isfinite(ev).any()
                           else float("nan")),
            mean_amplitude_nAm=float(np.mean(amps)),
            subjects=sorted(keys[i][0] for i in members)))
    found.sort(key=lambda c: (-c["n_subjects"], -np.nan_to_num(
        c["mean_evidence"], nan=-np.inf)))
    number = {}
    for k, c in enumerate(found, start=1):
        c["cluster"] = k
        for key in c.pop("members"):
            number[key] = k
    for r in rows:
        r["cluster"] = number.get((r["subject"], r["hemi"], r["subject_vertex"]), "")
    return [{col: c[col] for col in CLUSTER_COLUMNS} for c in found]


def _write_csv(fname, columns, rows):
    with open(fname, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _cell(row[c]) for c in columns})


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


@contextlib.contextmanager
def _staged_group(target):
    """A stage folder that replaces ``target`` (absent, or a previous group
    map and nothing else) when the block succeeds
    (:func:`vaesource._output.staged_folder`)."""
    target = Path(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ValueError(f"{str(target)!r} exists and is not a folder.")
    if target.exists():
        foreign = _foreign(target, GROUP_FILES.__contains__)
        if foreign:
            raise ValueError(
                f"{str(target)!r} holds files that the group map does not "
                f"write ({', '.join(foreign[:5])}); it is replaced as a whole, "
                "so move them elsewhere first.")
    with staged_folder(target, written=GROUP_FILES.__contains__) as stage:
        yield stage


# ---------------------------------------------------------------------------
# group.png
# ---------------------------------------------------------------------------
# tab10 without its gray, which marks the sources in no kept cluster
_CLUSTER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                   "#8c564b", "#e377c2", "#bcbd22", "#17becf")
_NO_CLUSTER = "#8a8a8a"
# two rows of four: each hemisphere's sides, and the whole brain from above,
# below, the front and the back (so that a source at a pole faces a camera)
_PANELS = (("lateral", ("lh",), "left lateral"), ("dorsal", _HEMIS, "dorsal"),
           ("anterior", _HEMIS, "anterior"), ("lateral", ("rh",), "right lateral"),
           ("medial", ("lh",), "left medial"), ("ventral", _HEMIS, "ventral"),
           ("posterior", _HEMIS, "posterior"), ("medial", ("rh",), "right medial"))
_N_COLS = 4
_MAX_LEGEND = 8


def _cluster_color(k):
    return _CLUSTER_COLORS[(k - 1) % len(_CLUSTER_COLORS)]


def _render_group(fname, rows, clusters, result):
    """Every subject's cortical sources on the inflated template cortex,
    coloured by cluster; returns the off-screen plotter (saved to fname)."""
    import pyvista as pv

    from ..viz._scene import _add_title, _finish, _fit_camera, _new_plotter
    from ..viz._surfaces import _make_cortex
    from ..viz._views import _camera_for

    tmpl = _template()
    cortex = _make_cortex(tmpl.surfaces["inflated"], "inflated", tmpl.sulc)
    white = _template_white()["mri"]
    # one glyph per subject source; the inflated surface shows sulci too, so
    # each is drawn at its fsaverage5 vertex (the nearest white-surface one
    # when it was morphed to a finer fsaverage vertex)
    drawn, seen = [], set()
    for r in rows:
        key = (r["subject"], r["hemi"], r["subject_vertex"])
        if r["space"] != "fsaverage" or key in seen:
            continue
        seen.add(key)
        v = r["vertex"]
        if v >= _N_FSAVERAGE5:
            p = np.array([r["x_mm"], r["y_mm"], r["z_mm"]])
            v = int(np.argmin(np.linalg.norm(white[r["hemi"]] - p, axis=1)))
        drawn.append((r["hemi"], v, r["cluster"]))
    n_other = len({(r["subject"], r["hemi"], r["subject_vertex"]) for r in rows
                   if r["space"] != "fsaverage"})
    extent = max(np.ptp(np.concatenate([cortex.rr[h] for h in _HEMIS]), axis=0))
    r_big, r_small = 0.02 * extent, 0.012 * extent
    width, height = _PNG_SIZE
    legend_lines = min(len(clusters), _MAX_LEGEND) + 4
    strip_px = 30 + 19 * legend_lines
    panel_px = (height - strip_px) / 2
    plotter = _new_plotter((3, _N_COLS), (width, height),
                           row_weights=[panel_px, panel_px, strip_px],
                           groups=[(2, np.s_[:])])
    meshes = {}
    for h in _HEMIS:
        faces = np.column_stack([np.full(len(cortex.tris[h]), 3),
                                 cortex.tris[h]]).ravel()
        mesh = pv.PolyData(cortex.rr[h], faces)
        gray = cortex.shade[h]
        mesh["shade"] = (255 * np.repeat(gray[:, None], 3, axis=1)).astype(np.uint8)
        mesh.point_data["Normals"] = cortex.nn[h]
        meshes[h] = mesh
    sphere = pv.Sphere(radius=1.0, theta_resolution=24, phi_resolution=24)
    labelled = _label_panels(cortex, drawn, clusters)
    for idx, (view, hemis, title) in enumerate(_PANELS):
        plotter.subplot(idx // _N_COLS, idx % _N_COLS)
        for h in hemis:
            plotter.add_mesh(meshes[h], scalars="shade", rgb=True,
                             smooth_shading=True, ambient=0.25, diffuse=0.8,
                             specular=0.0, reset_camera=False)
        points = [cortex.rr[h] for h in hemis]
        # the clustered sources last, so that they are drawn over the rest
        groups = {}
        for h, v, k in drawn:
            if h in hemis:
                groups.setdefault(k, []).append((h, v))
        for k in sorted(groups, key=lambda k: (k != "", k if k != "" else 0)):
            radius = r_small if k == "" else r_big
            centers = np.array([cortex.rr[h][v] + 0.5 * radius * cortex.nn[h][v]
                                for h, v in groups[k]])
            glyphs = pv.PolyData(centers).glyph(scale=False, orient=False,
                                                geom=sphere, factor=radius)
            plotter.add_mesh(glyphs, color=_NO_CLUSTER if k == "" else
                             _cluster_color(k), smooth_shading=True,
                             ambient=0.35, diffuse=0.75, specular=0.1,
                             reset_camera=False)
            points.append(centers)
        for k, pos in labelled.get(idx, []):
            plotter.add_point_labels(
                pos[None, :], [str(k)], font_size=16, bold=True,
                text_color="black", shape_color="white", shape_opacity=0.8,
                point_size=1, show_points=False, always_visible=True,
                reset_camera=False)
            points.append(pos[None, :])
        direction, up = _camera_for(view, hemis)
        _fit_camera(plotter.renderer, direction, up, np.concatenate(points),
                    top_px=22)
        _add_title(plotter, title)
    plotter.subplot(2, 0)
    _legend(plotter, clusters, result, n_other, strip_px)
    return _finish(plotter, fname)


def _label_panels(cortex, drawn, clusters):
    """{panel: [(cluster, position)]}: each kept cluster's number once, in
    the panel whose camera its sources face most, beside their mean."""
    from ..viz._views import _camera_for

    labels = {}
    for c in clusters:
        k = c["cluster"]
        mine = [(h, v) for h, v, kk in drawn if kk == k]
        if not mine:
            continue
        hemis = {h for h, _ in mine}
        nn = np.mean([cortex.nn[h][v] for h, v in mine], axis=0)
        pos = np.mean([cortex.rr[h][v] for h, v in mine], axis=0)
        best, score = None, -np.inf
        for idx, (view, phemis, _) in enumerate(_PANELS):
            if not hemis <= set(phemis):
                continue
            s = float(nn @ np.asarray(_camera_for(view, phemis)[0], float))
            if s > score:
                best, score = idx, s
        if best is None:  # a cluster over both hemispheres: the dorsal view
            best = 1
        extent = np.ptp(cortex.rr["lh"][:, 1])
        labels.setdefault(best, []).append((k, pos + 0.06 * extent * nn))
    return labels


def _legend(plotter, clusters, result, n_other, strip_px):
    """Title and one line per cluster (in its colour) in the bottom strip."""
    n_done = sum(1 for s in result.subjects.values() if s["status"] == "done")

    def y(px):
        return 1.0 - px / strip_px

    def text(line, top, color="black", size=11, bold=False):
        actor = plotter.add_text(line, position=(0.02, y(top)), viewport=True,
                                 font_size=size, color=color)
        actor.GetTextProperty().SetVerticalJustificationToTop()
        actor.GetTextProperty().SetBold(bold)

    text(f"Group map of {n_done} subjects: sources of different subjects "
         f"within {result.radius_mm:g} mm make a cluster (one source per "
         "subject)", 6, size=12, bold=True)
    text(f"coloured and numbered: the clusters found in at least "
         f"{result.min_subjects} subjects; positions: mean, fsaverage / "
         "MNI305 mm", 27, color="#303030")
    top = 50
    for c in clusters[:_MAX_LEGEND]:
        text(f"{c['cluster']}: {c['n_subjects']} of {n_done} subjects, {c['hemi']}"
             f" ({c['x_mm']:.0f}, {c['y_mm']:.0f}, {c['z_mm']:.0f}) mm, spread "
             f"{c['spread_mm']:.1f} mm, mean evidence {c['mean_evidence']:.3g}",
             top, color=_cluster_color(c["cluster"]), bold=True)
        top += 19
    if len(clusters) > _MAX_LEGEND:
        text(f"... and {len(clusters) - _MAX_LEGEND} more (clusters.csv)", top)
        top += 19
    if not clusters:
        text("no cluster found in enough subjects", top)
        top += 19
    text("small gray spheres: sources in no such cluster; drawn on the "
         "inflated fsaverage5 cortex", top, color="#505050")
    if n_other:
        text(f"not drawn: {n_other} volume or unmorphed source(s) "
             "(see sources.csv)", top + 19, color="#505050")


# ---------------------------------------------------------------------------
# report.html
# ---------------------------------------------------------------------------
_CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1250px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td.text { text-align: left; }
.failed { color: #a00000; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


def _report_html(result, png):
    esc = html.escape
    n_done = sum(1 for s in result.subjects.values() if s["status"] == "done")
    parts = [
        "<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
        "<title>vaesource group map</title>", f"<style>{_CSS}</style>",
        "</head><body>", "<h1>vaesource group map</h1>",
        f"<p>{n_done} of {len(result.subjects)} subjects done. Sources of "
        f"different subjects within {result.radius_mm:g} mm of a cluster's "
        "seed are grouped (one source per subject); clusters found in at "
        f"least {result.min_subjects} subjects are kept. Positions: mm, "
        "fsaverage white surface / MNI305 (see sources.csv for each "
        "source's space).</p>",
        "<h2>Clusters</h2>",
    ]
    if result.clusters:
        cols = ("cluster", "n_subjects", "hemi", "x_mm", "y_mm", "z_mm",
                "spread_mm", "max_distance_mm", "mean_evidence",
                "mean_amplitude_nAm", "subjects")
        parts.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in cols)
                     + "</tr>")
        for c in result.clusters:
            cells = []
            for col in cols:
                val = c[col]
                if col == "subjects":
                    cells.append(f"<td class='text'>{esc(', '.join(val))}</td>")
                elif isinstance(val, float):
                    cells.append(f"<td>{val:.4g}</td>")
                else:
                    cells.append(f"<td>{esc(str(val))}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No cluster found in enough subjects.</p>")
    parts.append("<h2>Map</h2>")
    if png is not None and Path(png).is_file():
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        parts.append(f"<img alt='group map' src='data:image/png;base64,{data}'>")
    else:
        parts.append("<p>No picture (rendering off or unavailable).</p>")
    parts += ["<h2>Subjects</h2>", "<table><tr><th>subject</th><th>status</th>"
              "<th>sources</th><th>space</th><th>message</th></tr>"]
    for name, s in result.subjects.items():
        cls = "" if s["status"] == "done" else " class='failed'"
        n = "" if s["n_sources"] is None else s["n_sources"]
        parts.append(
            f"<tr{cls}><td class='text'>{esc(name)}</td><td class='text'>"
            f"{esc(s['status'])}</td><td>{n}</td><td class='text'>"
            f"{esc(s['space'])}</td><td class='text'>{esc(s['message'])}</td></tr>")
    parts += ["</table>", "</body></html>", ""]
    return "\n".join(parts)

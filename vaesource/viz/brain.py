"""Cortex renders of sparse source estimates (pyvista, off screen).

:func:`plot_sources` draws one estimate on the cortical surface (the
embedded template's, or any FreeSurfer subject's) from several views in one
image; :func:`plot_comparison` draws several estimates side by side with the
same cameras and one colour scale. Active locations are spheres placed on
the rendered surface (inflated coordinates for the inflated surface) and
pushed slightly outward along the surface normal, so they are never hidden
inside it; ground truth is drawn as green rings around the true locations.
The glyphs' size is the amplitude; their colour the amplitude too, or, for
full-VAE estimates, the evidence or posterior probability of each source
(``color_by``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..utils import _check_option, logger
from ._scene import (
    CONFIDENCE_CMAP,
    DEFAULT_CMAP,
    GYRUS_GRAY,
    SULCUS_GRAY,
    TRUTH_COLOR,
    RenderInfo,
    _add_rings,
    _add_spheres,
    _check_size,
    _color_of,
    _color_scale,
    _finish,
    _fit_camera,
    _add_title,
    _attach,
    _fill_strip,
    _glyph_radii,
    _plan_strip,
    _new_plotter,
    _source_values,
    _units,
    _verbose,
)

HEMIS = ("lh", "rh")
_SURFACES = ("inflated", "white", "pial")
# camera direction (focal point -> camera) and view-up, in RAS (x right,
# y anterior, z up): head and FreeSurfer surface coordinates both are
_SPLIT_VIEWS = {
    "lateral": {"lh": ((-1, 0, 0), (0, 0, 1)), "rh": ((1, 0, 0), (0, 0, 1))},
    "medial": {"lh": ((1, 0, 0), (0, 0, 1)), "rh": ((-1, 0, 0), (0, 0, 1))},
}
_WHOLE_VIEWS = {
    "dorsal": ((0, 0, 1), (0, 1, 0)),
    "ventral": ((0, 0, -1), (0, 1, 0)),
    "anterior": ((0, 1, 0), (0, 0, 1)),
    "posterior": ((0, -1, 0), (0, 0, 1)),
}
VIEWS = tuple(_SPLIT_VIEWS) + tuple(_WHOLE_VIEWS)
# gap between the two inflated hemispheres, as a fraction of their width
_INFLATED_GAP = 0.06
# "auto" views: a source whose normal has at least this component towards a
# lateral or medial camera is shown there (the inflated surface's side views
# hold most of the cortex; a whole-brain view would add a tall extra row)
_SIDE_VISIBLE = 0.25
# glyph size relative to the largest extent of the rendered cortex
_SPHERE_SIZE = 0.03
# narrowest default image: room for the colour bar and the legend
_MIN_WIDTH = 640


@dataclass
class _Cortex:
    """Rendered geometry of both hemispheres (metres)."""

    rr: dict
    tris: dict
    nn: dict
    shade: dict  # gray level per vertex, from the curvature
    surface: str

    @property
    def n_vertices(self):
        return {hemi: len(self.rr[hemi]) for hemi in self.rr}


# ---------------------------------------------------------------- geometry
def _vertex_normals(rr, tris):
    """Area-weighted outward vertex normals of a closed triangle mesh."""
    tri_nn = np.cross(rr[tris[:, 1]] - rr[tris[:, 0]], rr[tris[:, 2]] - rr[tris[:, 0]])
    nn = np.zeros_like(rr)
    for k in range(3):
        np.add.at(nn, tris[:, k], tri_nn)
    norm = np.linalg.norm(nn, axis=1, keepdims=True)
    nn /= np.where(norm > 0, norm, 1.0)
    # FreeSurfer meshes wind outward; flip if a mesh comes the other way
    if np.sum((rr - rr.mean(axis=0)) * nn) < 0:
        nn = -nn
    return nn


def _read_freesurfer(subject, subjects_dir, surface):
    import nibabel as nib

    if subjects_dir is None:
        subjects_dir = os.environ.get("SUBJECTS_DIR")
    if subjects_dir is None:
        raise ValueError(
            "The 'subjects_dir' parameter is needed with subject="
            f"{subject!r} (or set the SUBJECTS_DIR environment variable)."
        )
    surf_dir = Path(subjects_dir).expanduser() / subject / "surf"
    surfaces, curv = {}, {}
    for hemi in HEMIS:
        fname = surf_dir / f"{hemi}.{surface}"
        if not fname.is_file():
            raise ValueError(
                f"No {surface} surface for subject {subject!r}: {fname} not found."
            )
        rr, tris = nib.freesurfer.read_geometry(str(fname))
        surfaces[hemi] = (rr / 1000.0, tris)  # FreeSurfer mm -> m
        for kind in ("curv", "sulc"):
            fname = surf_dir / f"{hemi}.{kind}"
            if fname.is_file():
                curv[hemi] = nib.freesurfer.read_morph_data(str(fname))
                break
    return surfaces, (curv if len(curv) == 2 else None)


def _resolve_surfaces(surfaces, surface, subject, subjects_dir, curvature):
    """(surfaces {hemi: (rr, tris)}, curvature {hemi: array} | None)."""
    from ..forward.template import Template

    if surfaces is None and subject is not None:
        has_dir = subjects_dir is not None or os.environ.get("SUBJECTS_DIR")
        # fsaverage5 vertex numbers are fsaverage's first 10242: without a
        # FreeSurfer installation both render on the template
        if has_dir or subject not in ("fsaverage", "fsaverage5"):
            return _read_freesurfer(subject, subjects_dir, surface)
    if surfaces is None:
        from ..forward.template import template

        surfaces = template("ico3", sensors="meg", verbose=False)
    if isinstance(surfaces, Template):
        tmpl = surfaces
        surfaces = tmpl.surfaces[surface]
        if curvature is None:
            curvature = tmpl.sulc
    elif isinstance(surfaces, dict) and surface in surfaces:
        surfaces = surfaces[surface]
    if not (isinstance(surfaces, dict) and set(HEMIS) <= set(surfaces)):
        raise ValueError(
            "The 'surfaces' parameter must be None (the template), a "
            "vaesource Template, or a dict {'lh': (rr, tris), 'rh': (rr, "
            f"tris)}}, got {type(surfaces).__name__}."
        )
    return {hemi: surfaces[hemi] for hemi in HEMIS}, curvature


def _curvature_shade(curv, tris, n_smooth=2):
    """Gray level per vertex: light on gyri, dark in sulci, smooth between.

    A hard threshold of the curvature (MNE's "classic" binary cortex) draws
    jagged two-tone bands on a surface as coarse as fsaverage5; a smoothed
    curvature through a soft step instead shades the folds continuously at
    the rendered resolution.
    """
    c = np.asarray(curv, float).copy()
    n = len(c)
    # mean over each vertex and its neighbours, a few times
    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    degree = np.bincount(edges[:, 0], minlength=n) + 1.0
    for _ in range(n_smooth):
        total = c.copy()
        np.add.at(total, edges[:, 0], c[edges[:, 1]])
        c = total / degree
    scale = np.percentile(np.abs(c), 85)
    t = 0.5 * (1 + np.tanh(2.5 * c / (scale if scale > 0 else 1.0)))
    return GYRUS_GRAY - (GYRUS_GRAY - SULCUS_GRAY) * t


def _make_cortex(surfaces, surface, curvature) -> _Cortex:
    rr, tris, nn, shade = {}, {}, {}, {}
    for hemi in HEMIS:
        r, t = surfaces[hemi]
        r = np.array(r, float)
        t = np.asarray(t, np.int64)
        if r.ndim != 2 or r.shape[1] != 3 or t.ndim != 2 or t.shape[1] != 3:
            raise ValueError(
                f"The {hemi} surface must be (rr, tris) with shapes (n, 3) "
                f"and (m, 3), got {r.shape} and {t.shape}."
            )
        rr[hemi], tris[hemi] = r, t
        if curvature is not None:
            c = np.asarray(curvature[hemi])
            if c.shape != (len(r),):
                raise ValueError(
                    f"The {hemi} curvature has {c.size} values but the surface "
                    f"has {len(r)} vertices."
                )
            shade[hemi] = _curvature_shade(c, t)
        else:
            shade[hemi] = np.full(len(r), GYRUS_GRAY)
    if surface == "inflated":
        # inflated hemispheres overlap in space: put them side by side
        width = max(np.ptp(rr[h][:, 0]) for h in HEMIS)
        gap = _INFLATED_GAP * width / 2
        rr["lh"][:, 0] -= rr["lh"][:, 0].max() + gap
        rr["rh"][:, 0] -= rr["rh"][:, 0].min() - gap
    for hemi in HEMIS:
        nn[hemi] = _vertex_normals(rr[hemi], tris[hemi])
    return _Cortex(rr=rr, tris=tris, nn=nn, shade=shade, surface=surface)


# ---------------------------------------------------------------- estimates
def _check_stc(stc, name="stc"):
    import mne

    if isinstance(stc, (mne.VolSourceEstimate, mne.VolVectorSourceEstimate)):
        raise ValueError(
            f"The {name!r} parameter is a volume source estimate: use "
            "vaesource.viz.plot_volume_sources for it."
        )
    if not isinstance(stc, (mne.SourceEstimate, mne.VectorSourceEstimate)):
        raise ValueError(
            f"The {name!r} parameter must be an mne.SourceEstimate or "
            f"mne.VectorSourceEstimate, got {type(stc).__name__}."
        )
    return stc


def _stc_magnitude(stc):
    """Per-source magnitude time courses, shape (n_sources, n_times)."""
    data = np.asarray(stc.data)
    if data.ndim == 3:  # vector estimate: (n_sources, 3, n_times)
        return np.linalg.norm(data, axis=1)
    return np.abs(data)


def _amplitudes_at(stc, time):
    """Amplitude per source at ``time`` (s), or at each source's peak."""
    mag = _stc_magnitude(stc)
    if mag.shape[1] == 0:
        return np.zeros(mag.shape[0])
    if time is None:
        return mag.max(axis=1)
    times = np.asarray(stc.times)
    tstep = stc.tstep if len(times) > 1 else 0.0
    if not times[0] - tstep / 2 <= time <= times[-1] + tstep / 2:
        raise ValueError(
            f"The 'time' parameter must lie within the estimate's times "
            f"[{times[0]:.3f}, {times[-1]:.3f}] s, got {time!r}."
        )
    return mag[:, int(np.argmin(np.abs(times - time)))]


def _check_match(stc, cortex, name, src=None):
    """Vertex numbers of ``stc`` must index the rendered surfaces."""
    n_vert = cortex.n_vertices
    if len(stc.vertices) != 2:
        raise ValueError(
            f"The {name!r} estimate must have two hemispheres (lh, rh), got "
            f"{len(stc.vertices)} vertex arrays."
        )
    if src is not None:
        if len(src) != 2:
            raise ValueError(
                f"The 'src' parameter must be a cortical source space with two "
                f"hemispheres, got {len(src)} source spaces."
            )
        for hemi, s, verts in zip(HEMIS, src, stc.vertices):
            if s["np"] != n_vert[hemi]:
                raise ValueError(
                    f"The source space does not match the surfaces: its {hemi} "
                    f"has {s['np']} vertices but the {cortex.surface} surface "
                    f"has {n_vert[hemi]}. Pass the subject's surfaces "
                    "(subject=..., subjects_dir=...)."
                )
            if not np.isin(verts, s["vertno"]).all():
                raise ValueError(
                    f"The {name!r} estimate does not match the source space: "
                    f"{hemi} vertices {np.setdiff1d(verts, s['vertno'])[:5]} "
                    "are not source vertices."
                )
    for hemi, verts in zip(HEMIS, stc.vertices):
        verts = np.asarray(verts)
        if verts.size and (verts.min() < 0 or verts.max() >= n_vert[hemi]):
            raise ValueError(
                f"The {name!r} estimate does not match the surfaces: it uses "
                f"{hemi} vertex {int(verts.max())} but the {cortex.surface} "
                f"{hemi} surface has {n_vert[hemi]} vertices. Source estimates "
                "must carry vertex numbers of the rendered subject (fsaverage5 "
                "numbers for the template); pass the right subject's surfaces "
                "(subject=..., subjects_dir=...)."
            )


def _active(stc, time, threshold):
    """[(hemi, vertex, amplitude in A·m)] of the sources above threshold."""
    amps = _amplitudes_at(stc, time)
    out = []
    offset = 0
    for hemi, verts in zip(HEMIS, stc.vertices):
        a = amps[offset: offset + len(verts)]
        offset += len(verts)
        for v, amp in zip(verts, a):
            if amp > threshold:
                out.append((hemi, int(v), float(amp)))
    return out


def _truth_vertices(truth, cortex):
    """Truth as {hemi: vertex array}, from an estimate or vertex numbers."""
    import mne

    if truth is None:
        return {hemi: np.array([], int) for hemi in HEMIS}
    if isinstance(truth, (mne.SourceEstimate, mne.VectorSourceEstimate)):
        _check_match(truth, cortex, "truth")
        mag = _stc_magnitude(truth).max(axis=1) if truth.data.size else []
        out, offset = {}, 0
        for hemi, verts in zip(HEMIS, truth.vertices):
            out[hemi] = np.asarray(verts)[np.asarray(mag[offset: offset + len(verts)]) > 0]
            offset += len(verts)
        return out
    if isinstance(truth, dict):
        out = {hemi: np.asarray(truth.get(hemi, []), int).ravel() for hemi in HEMIS}
    elif isinstance(truth, (list, tuple)) and len(truth) == 2:
        out = {hemi: np.asarray(v, int).ravel() for hemi, v in zip(HEMIS, truth)}
    else:
        raise ValueError(
            "The 'truth' parameter must be a SourceEstimate, a dict {'lh': "
            "vertices, 'rh': vertices} or a pair [lh_vertices, rh_vertices], "
            f"got {type(truth).__name__}."
        )
    for hemi in HEMIS:
        v = out[hemi]
        if v.size and (v.min() < 0 or v.max() >= cortex.n_vertices[hemi]):
            raise ValueError(
                f"The 'truth' {hemi} vertex {int(v.max())} does not exist on the "
                f"{cortex.surface} surface ({cortex.n_vertices[hemi]} vertices)."
            )
    return out


# ---------------------------------------------------------------- layout
def _panels_for(views, hemi):
    """[(view, hemis, title)] for the requested views."""
    hemis = HEMIS if hemi == "both" else (hemi,)
    panels = []
    for view in views:
        if view in _SPLIT_VIEWS:
            for h in hemis:
                panels.append((view, (h,), f"{h} {view}"))
        else:
            panels.append((view, hemis, view if hemi == "both" else f"{hemi} {view}"))
    return panels


def _camera_for(view, hemis):
    if view in _SPLIT_VIEWS:
        return _SPLIT_VIEWS[view][hemis[0]]
    return _WHOLE_VIEWS[view]


def _auto_panels(cortex, marked, hemi):
    """Panels facing the sources: each marked vertex in the lateral or medial
    view its (rendered) surface normal faces most, or, when it faces neither
    (a normal mostly up, down, forward or back), in that whole-brain view.

    Parameters
    ----------
    marked : list of (hemi, vertex)
        Every drawn source and truth marker.

    Returns
    -------
    panels : list of (view, hemis, title)
        In the usual order (lateral, medial, then whole-brain views);
        lateral views of the drawn hemispheres when nothing is marked.
    note : str
        Which views these are, for the legend.
    """
    hemis = HEMIS if hemi == "both" else (hemi,)
    wanted = set()
    for h, v in marked:
        if h not in hemis:
            continue
        n = cortex.nn[h][v]
        split = {(view, h): n @ np.asarray(dirs[h][0], float)
                 for view, dirs in _SPLIT_VIEWS.items()}
        best = max(split, key=split.get)
        if split[best] < _SIDE_VISIBLE:
            # facing up, down, forward or back: a whole-brain view shows it
            whole = {(view, None): n @ np.asarray(d, float)
                     for view, (d, _) in _WHOLE_VIEWS.items()}
            best = max(whole, key=whole.get)
        wanted.add(best)
    if not wanted:
        return _panels_for(("lateral",), hemi), "views: lateral (no source)"
    panels = []
    for view in VIEWS:
        if view in _SPLIT_VIEWS:
            panels += [(view, (h,), f"{h} {view}") for h in hemis if (view, h) in wanted]
        elif (view, None) in wanted:
            panels.append((view, hemis, view if hemi == "both" else f"{hemi} {view}"))
    note = "views: those facing the sources"
    empty = [h for h in hemis if not any(m[0] == h for m in marked)]
    if empty:
        note += f" (none in the {' or '.join(empty)})"
    return panels, note


def _check_views(views, hemi):
    _check_option("hemi", hemi, ("both", "lh", "rh"))
    if isinstance(views, str):
        views = (views,)
    views = tuple(views)
    if not views:
        raise ValueError("The 'views' parameter must name at least one view.")
    for view in views:
        _check_option("views", view, VIEWS)
    return views


def _aspect(cortex, view, hemis, title_px=18, row_px=270):
    """Width / height of a panel that just holds its view, title included."""
    points = np.concatenate([cortex.rr[h] for h in hemis])
    direction, up = (np.asarray(v, float) for v in _camera_for(view, hemis))
    right = np.cross(up, direction)
    width, height = np.ptp(points @ right), np.ptp(points @ up)
    height *= 1 + title_px / row_px
    return float(np.clip(1.06 * width / height, 0.45, 1.8))


class _Scene:
    """Draws cortex panels into a plotter, sharing meshes and colour scale."""

    def __init__(self, plotter, cortex, *, cmap, clim, factor, r_max, amp_max=None,
                 values=None, log=False):
        import pyvista as pv

        self.plotter = plotter
        self.cortex = cortex
        self.cmap = cmap
        self.clim = clim
        self.factor = factor
        self.r_max = r_max
        # glyph sizes follow the amplitude whatever the colour shows
        self.amp_max = amp_max if amp_max is not None else (clim or (0, 1))[1]
        # {(hemi, vertex): value} of the coloured quantity; None: amplitude
        self.values = values
        self.log = log
        self.info = RenderInfo()
        self.actor = None
        self._fits = {}
        self.meshes = {}
        for hemi in HEMIS:
            rr, tris = cortex.rr[hemi], cortex.tris[hemi]
            faces = np.column_stack([np.full(len(tris), 3), tris]).ravel()
            mesh = pv.PolyData(rr, faces)
            gray = cortex.shade[hemi]
            mesh["shade"] = (255 * np.repeat(gray[:, None], 3, axis=1)).astype(np.uint8)
            mesh.point_data["Normals"] = cortex.nn[hemi]
            self.meshes[hemi] = mesh

    def panel(self, row, col, view, hemis, title, active, truth, top_px=18,
              title_at_bottom=False):
        pl = self.plotter
        pl.subplot(row, col)
        idx = len(self.info.panels)
        self.info.panels.append(
            dict(row=row, col=col, view=view, hemis=hemis, title=title)
        )
        for hemi in hemis:
            pl.add_mesh(
                self.meshes[hemi],
                scalars="shade",
                rgb=True,
                smooth_shading=True,
                ambient=0.25,
                diffuse=0.8,
                specular=0.0,
                reset_camera=False,
            )
        sel = [a for a in active if a[0] in hemis]
        if sel:
            amps = np.array([a[2] for a in sel]) * self.factor
            radii = _glyph_radii(amps, self.amp_max, self.r_max)
            centers = np.array(
                [
                    self.cortex.rr[h][v] + 0.5 * r * self.cortex.nn[h][v]
                    for (h, v, _), r in zip(sel, radii)
                ]
            )
            vals = amps if self.values is None else np.array(
                [self.values[(h, v)] for h, v, _ in sel])
            self.actor = _add_spheres(pl, centers, vals, radii, self.cmap, self.clim,
                                      log=self.log)
            for (h, v, _), c, a, val, r in zip(sel, centers, amps, vals, radii):
                self.info.sources.append(
                    dict(panel=idx, hemi=h, vertex=v, pos=c, amplitude=a,
                         value=float(val), radius=r,
                         color=_color_of(self.cmap, val, self.clim, self.log))
                )
        ring_r = 1.55 * self.r_max
        for hemi in hemis:
            verts = truth[hemi]
            if not len(verts):
                continue
            centers = self.cortex.rr[hemi][verts] + 0.3 * self.r_max * self.cortex.nn[hemi][verts]
            _add_rings(pl, centers, self.cortex.nn[hemi][verts], ring_r)
            for v, c in zip(verts, centers):
                self.info.truth.append(
                    dict(panel=idx, hemi=hemi, vertex=int(v), pos=c, radius=ring_r,
                         color=TRUTH_COLOR)
                )
        # fit the camera to the cortex and to the glyphs sticking out of it
        glyphs = [(g["pos"], g["radius"]) for g in self.info.sources + self.info.truth
                  if g["panel"] == idx]
        box = np.vstack([np.eye(3), -np.eye(3)])
        points = np.concatenate([self.cortex.rr[h] for h in hemis]
                                + [p + r * box for p, r in glyphs])
        direction, up = _camera_for(view, hemis)
        _fit_camera(pl.renderer, direction, up, points, top_px=top_px)
        self._fits[idx] = (pl.renderer, direction, up, points, top_px)
        if title:
            _add_title(pl, title, bottom=title_at_bottom)


    def share_cameras(self, groups):
        """One camera for each group of panels (fitted to all they show)."""
        for group in groups:
            points = np.concatenate([self._fits[i][3] for i in group])
            top_px = max(self._fits[i][4] for i in group)
            for i in group:
                renderer, direction, up, _, _ = self._fits[i]
                _fit_camera(renderer, direction, up, points, top_px=top_px)


def _prepare(stcs, surfaces, surface, subject, subjects_dir, curvature, src,
             time, threshold, units, clim, color_by="amplitude", sources=None):
    _check_option("surface", surface, _SURFACES)
    surfs, curvature = _resolve_surfaces(surfaces, surface, subject, subjects_dir,
                                         curvature)
    cortex = _make_cortex(surfs, surface, curvature)
    actives = {}
    values = None
    for name, stc in stcs.items():
        _check_stc(stc, name)
        _check_match(stc, cortex, name, src=src)
        actives[name] = _active(stc, time, threshold)
        vals = _source_values(stc, color_by, sources)
        if vals is not None:
            keys = [(h, int(v)) for h, verts in zip(HEMIS, stc.vertices)
                    for v in verts]
            values = dict(zip(keys, vals))
            # a source without evidence cannot be coloured by it
            missing = [f"{h} {v}" for h, v, _ in actives[name]
                       if not np.isfinite(values[(h, v)])]
            if missing:
                raise ValueError(
                    f"No {color_by} for the source(s) {', '.join(missing[:5])} "
                    f"of {name!r}: the 'sources' table does not match the "
                    "estimate."
                )
    peak = max((a[2] for act in actives.values() for a in act), default=0.0)
    label, factor = _units(peak, units)
    amp_max = peak * factor if peak > 0 else None
    log = False
    if values is not None:
        shown = [values[(h, v)] for act in actives.values() for h, v, _ in act]
        clim, log = _color_scale(shown, color_by, clim)
    elif clim is None:
        clim = (0.0, peak * factor) if peak > 0 else None
    else:
        clim = tuple(float(c) for c in clim)
        if len(clim) != 2 or not clim[1] > clim[0]:
            raise ValueError(
                f"The 'clim' parameter must be (vmin, vmax) with vmax > vmin, "
                f"got {clim!r}."
            )
    extent = max(np.ptp(np.concatenate([cortex.rr[h] for h in HEMIS]), axis=0))
    colour = dict(values=values, log=log, amp_max=amp_max)
    return cortex, actives, label, factor, clim, _SPHERE_SIZE * extent, colour


@_verbose
def plot_sources(
    stc,
    *,
    surfaces=None,
    surface: Literal["inflated", "white", "pial"] = "inflated",
    views=("lateral", "medial", "dorsal"),
    hemi: Literal["both", "lh", "rh"] = "both",
    time: float | None = None,
    truth=None,
    subject: str | None = None,
    subjects_dir=None,
    curvature=None,
    src=None,
    color_by: Literal["amplitude", "evidence", "probability"] = "amplitude",
    sources=None,
    cmap=None,
    clim=None,
    threshold: float = 0.0,
    units: Literal["auto", "nAm", "Am", "a.u."] = "auto",
    title: str | None = None,
    size=None,
    fname=None,
    verbose=None,
):
    """Render a sparse cortical source estimate on the cortex, several views.

    Parameters
    ----------
    stc : mne.SourceEstimate | mne.VectorSourceEstimate
        The estimate; its vertex numbers must index the rendered surfaces
        (fsaverage5 vertex numbers for the template, as on
        ``Template.src``).
    surfaces : None | Template | dict
        None renders the embedded template's cortex (unless ``subject`` is
        given); a :class:`vaesource.datasets.Template`; or a dict
        ``{"lh": (rr, tris), "rh": (rr, tris)}`` (or ``Template.surfaces``).
    surface : ``"inflated"`` | ``"white"`` | ``"pial"``
        Which surface to draw on. Sources sit on that surface at their
        vertices, pushed outward along the normal.
    views : str | tuple of str
        Among ``"lateral"``, ``"medial"`` (one panel per hemisphere),
        ``"dorsal"``, ``"ventral"``, ``"anterior"``, ``"posterior"`` (both
        hemispheres in one panel); or ``"auto"``: in one row, only the
        panels facing the sources (each source, estimated or true, in the
        lateral or medial view its surface faces most, else the whole-brain
        view it faces), which the legend says.
    hemi : ``"both"`` | ``"lh"`` | ``"rh"``
        Hemispheres to draw.
    time : float | None
        Time (s) at which to show amplitudes; None shows each source at its
        own peak.
    truth : None | SourceEstimate | dict | list
        Ground truth, drawn as green rings: an estimate (its non-zero
        sources), ``{"lh": vertices, "rh": vertices}`` or
        ``[lh_vertices, rh_vertices]``.
    subject, subjects_dir : str | None, path-like | None
        Read ``{lh,rh}.<surface>`` and ``curv`` (or ``sulc``) of a FreeSurfer
        subject with nibabel, when ``surfaces`` is None
        (``subjects_dir`` defaults to ``$SUBJECTS_DIR``). ``"fsaverage"``
        without a subjects folder renders on the template (fsaverage5 vertex
        numbers are fsaverage's first 10242).
    curvature : dict | None
        ``{hemi: array}``; positive values are shaded dark (sulci), smoothly
        (a soft step of the curvature, lightly smoothed on the mesh).
        Default: the template's sulcal depth or the subject's curvature.
    src : mne.SourceSpaces | None
        If given, checked against the surfaces and the estimate.
    color_by : ``"amplitude"`` | ``"evidence"`` | ``"probability"``
        What the colour of the spheres shows (their size is always the
        amplitude): the amplitude, the evidence of each source (twice the
        log Bayes factor of keeping it, on a log scale) or its posterior
        probability of being real. The last two need a full-VAE estimate of
        :func:`vaesource.apply_vae_inverse` (``stc.vae_sources``) or
        ``sources``.
    sources : vaesource.evidence.SourceTable | list of dict | None
        Evidence and probability per source for ``color_by``, when the
        estimate does not carry them (e.g. read from a ``.stc`` file): a
        :class:`~vaesource.evidence.SourceTable` or its rows (the
        ``"sources"`` of ``vaesource localize``'s ``summary.json``),
        matched by hemisphere and vertex.
    cmap : str | matplotlib colormap | None
        Colour map; default ``"autumn_r"`` (yellow to red) for amplitudes,
        ``"viridis"`` (dark to yellow) for evidence and probability.
    clim : (float, float) | None
        Colour limits in colour-bar units; default ``(0, peak)`` for
        amplitudes, whole decades around the evidence, (0, 1) for
        probabilities.
    threshold : float
        Sources with amplitude (A·m) at or below it are not drawn.
    units : ``"auto"`` | ``"nAm"`` | ``"Am"`` | ``"a.u."``
        Colour-bar units; ``"auto"`` uses nAm for MNE-scale currents.
    title : str | None
        Figure title, in bold at the head of the legend (the colour bar is
        labelled with its quantity and unit).
    size : (int, int) | None
        Image width and height in pixels (default depends on the views).
    fname : path-like | None
        Write a PNG screenshot there.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    plotter : pyvista.Plotter
        The off-screen plotter, already rendered (``plotter.screenshot()``
        returns the image). ``plotter.vaesource`` holds a
        :class:`~vaesource.viz._scene.RenderInfo` (panels, glyph
        positions and colours). Close it with ``plotter.close()``.
    """
    auto = isinstance(views, str) and views == "auto"
    if auto:
        _check_option("hemi", hemi, ("both", "lh", "rh"))
    else:
        views = _check_views(views, hemi)
    cortex, actives, label, factor, clim, r_max, colour = _prepare(
        {"stc": stc}, surfaces, surface, subject, subjects_dir, curvature, src,
        time, threshold, units, clim, color_by, sources,
    )
    cmap = cmap or (DEFAULT_CMAP if color_by == "amplitude" else CONFIDENCE_CMAP)
    truth_v = _truth_vertices(truth, cortex)
    views_note = ""
    if auto:
        # one row: the panels facing the sources, side by side
        marked = [(h, v) for h, v, _ in actives["stc"]]
        marked += [(h, int(v)) for h in HEMIS for v in truth_v[h]]
        panels, views_note = _auto_panels(cortex, marked, hemi)
        n_rows = 1
        columns = [[p] for p in panels]
    else:
        panels = _panels_for(views, hemi)
        # split views: a column per view, a row per hemisphere; whole-brain
        # views span both rows; a strip at the bottom for the colour bar and
        # legend
        n_rows = 2 if hemi == "both" else 1
        columns = [[p for p in panels if p[0] == view] for view in views]
    # column widths follow what they show: a lateral view is wide, a dorsal
    # view of both hemispheres spanning both rows is tall
    row_px = 270
    widths = []
    for col in columns:
        span = n_rows if len(col) == 1 else 1
        widths.append(max(_aspect(cortex, view, hemis) * span * row_px
                          for view, hemis, _ in col))
    widths = np.array(widths) * max(1.0, _MIN_WIDTH / sum(widths))
    width = _check_size(size, (int(round(sum(widths))), 100))[0]
    active = actives["stc"]
    plan = _plan_strip(width, estimate=bool(active),
                       truth=any(len(v) for v in truth_v.values()),
                       extra=views_note or None, title=title,
                       note=None if active else "no active source",
                       color_by=color_by)
    size = _check_size(size, (width, row_px * n_rows + plan.height))
    strip = plan.height / (size[1] - plan.height) * n_rows
    groups = [(n_rows, np.s_[:])]
    for j, col in enumerate(columns):
        if len(col) == 1 and n_rows == 2:
            groups.append((np.s_[:n_rows], j))
    plotter = _new_plotter(
        (n_rows + 1, len(columns)), size,
        row_weights=[1] * n_rows + [strip], col_weights=list(widths),
        groups=groups,
    )
    scene = _Scene(plotter, cortex, cmap=cmap, clim=clim, factor=factor, r_max=r_max,
                   **colour)
    for j, col in enumerate(columns):
        for i, (view, hemis, ttl) in enumerate(col):
            scene.panel(i, j, view, hemis, ttl, active, truth_v)
    plotter.subplot(n_rows, 0)
    if not active:
        logger.info("plot_sources: the estimate has no active source")
    scene.info.colorbar = _fill_strip(plotter, plan, actor=scene.actor, units=label,
                                      color_by=color_by)
    scene.info.clim = clim
    scene.info.units = label
    scene.info.color_by = color_by
    scene.info.views = views_note or ", ".join(p[2] for p in panels)
    _attach(plotter, scene.info)
    return _finish(plotter, fname)


@_verbose
def plot_comparison(
    stcs: dict,
    *,
    surfaces=None,
    surface: Literal["inflated", "white", "pial"] = "inflated",
    views="auto",
    hemi: Literal["both", "lh", "rh"] = "both",
    time: float | None = None,
    truth=None,
    show_truth: bool = True,
    subject: str | None = None,
    subjects_dir=None,
    curvature=None,
    src=None,
    cmap=None,
    clim=None,
    threshold: float = 0.0,
    units: Literal["auto", "nAm", "Am", "a.u."] = "auto",
    title: str | None = None,
    size=None,
    fname=None,
    verbose=None,
):
    """Several estimates side by side: same cameras, one colour scale.

    Parameters
    ----------
    stcs : dict
        ``{name: SourceEstimate}``, one column each, in order, titled by
        name. An entry named ``"truth"`` (any case) is drawn as its own
        column and, unless ``truth`` is given, also as green rings on the
        other columns.
    truth : None | SourceEstimate | dict | list
        Ground truth drawn as green rings on every column (see
        :func:`plot_sources`).
    show_truth : bool
        Draw the truth rings.
    views : ``"auto"`` | str | tuple of str
        ``"auto"`` (default): the views where the sources are (as in
        :func:`plot_sources`), so no row is an empty brain; the legend says
        so. Otherwise as in :func:`plot_sources`.
    hemi, surfaces, surface, time, threshold, units, clim, cmap
        As in :func:`plot_sources`; each view (and hemisphere, for lateral
        and medial views) is one row.
    subject, subjects_dir, curvature, src, title, size, fname, verbose
        As in :func:`plot_sources`.

    Returns
    -------
    plotter : pyvista.Plotter
        The rendered off-screen plotter (see :func:`plot_sources`).
    """
    if not isinstance(stcs, dict) or not stcs:
        raise ValueError(
            "The 'stcs' parameter must be a non-empty dict {name: SourceEstimate}, "
            f"got {stcs!r:.60}."
        )
    auto = isinstance(views, str) and views == "auto"
    if not auto:
        views = _check_views(views, hemi)
    else:
        _check_option("hemi", hemi, ("both", "lh", "rh"))
    cortex, actives, label, factor, clim, r_max, _ = _prepare(
        stcs, surfaces, surface, subject, subjects_dir, curvature, src,
        time, threshold, units, clim,
    )
    cmap = cmap or DEFAULT_CMAP
    truth_key = next((k for k in stcs if str(k).lower() == "truth"), None)
    if truth is None and truth_key is not None:
        truth = stcs[truth_key]
    truth_v = _truth_vertices(truth if show_truth else None, cortex)
    no_truth = {h: np.array([], int) for h in HEMIS}
    if auto:
        marked = [(h, v) for act in actives.values() for h, v, _ in act]
        marked += [(h, int(v)) for h in HEMIS for v in truth_v[h]]
        panels, views_note = _auto_panels(cortex, marked, hemi)
    else:
        panels = _panels_for(views, hemi)
        views_note = ""
    names = list(stcs)
    # row heights follow each view's aspect (a dorsal view is tall); the
    # first row also holds the method names
    col_px = max(300, _MIN_WIDTH / len(names))
    heights = [col_px / _aspect(cortex, view, hemis, title_px=28 if i == 0 else 0)
               for i, (view, hemis, _) in enumerate(panels)]
    width = _check_size(size, (int(round(col_px * len(names))), 100))[0]
    empty = [n for n in names if not actives[n]]
    plan = _plan_strip(
        width, estimate=len(empty) < len(names),
        truth=any(len(v) for v in truth_v.values()), extra=views_note or None,
        title=title,
        note=("no active source: " + ", ".join(map(str, empty))) if empty else None,
    )
    size = _check_size(size, (width, int(round(sum(heights))) + plan.height))
    strip = plan.height / (size[1] - plan.height) * sum(heights)
    plotter = _new_plotter(
        (len(panels) + 1, len(names)), size,
        row_weights=list(heights) + [strip],
        groups=[(len(panels), np.s_[:])],
    )
    scene = _Scene(plotter, cortex, cmap=cmap, clim=clim, factor=factor, r_max=r_max)
    for j, name in enumerate(names):
        marks = no_truth if name == truth_key else truth_v
        for i, (view, hemis, ttl) in enumerate(panels):
            scene.panel(i, j, view, hemis, ttl if j == 0 else "", actives[name],
                        marks, top_px=28 if i == 0 else 0, title_at_bottom=True)
            scene.info.panels[-1]["name"] = name
            if i == 0:
                _add_title(plotter, str(name), heading=True)
    # same camera along each row, whatever each method found
    scene.share_cameras(
        [[k for k, p in enumerate(scene.info.panels) if p["row"] == i]
         for i in range(len(panels))]
    )
    plotter.subplot(len(panels), 0)
    scene.info.colorbar = _fill_strip(plotter, plan, actor=scene.actor, units=label)
    scene.info.clim = clim
    scene.info.units = label
    scene.info.views = views_note or ", ".join(p[2] for p in panels)
    _attach(plotter, scene.info)
    return _finish(plotter, fname)

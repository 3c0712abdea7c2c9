"""Glass-brain renders of volume source estimates (pyvista, off screen).

:func:`plot_volume_sources` draws the active locations of an
:class:`mne.VolSourceEstimate` as spheres inside a translucent head surface
(the template's inner skull by default, a subject's inner skull, or a smooth
outline of the source grid from :func:`grid_outline`), seen along the three
orthogonal axes with parallel projection, like a glass brain, each panel
labelled with the anatomical directions (L/R, A/P, S/I) at its edges.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .._docs import fill_doc
from .._inputs import _existing
from ..utils import _check_option, _validate_type, _verbose
from ._scene import (
    CONFIDENCE_CMAP,
    DEFAULT_CMAP,
    TRUTH_COLOR,
    RenderInfo,
    _add_rings,
    _add_spheres,
    _add_title,
    _attach,
    _check_size,
    _color_of,
    _color_scale,
    _fill_strip,
    _finish,
    _fit_camera,
    _glyph_radii,
    _new_plotter,
    _plan_strip,
    _source_values,
    _units,
)

# camera direction (focal point -> camera) and view-up in head coordinates
_VIEWS = {
    "sagittal": ((1, 0, 0), (0, 0, 1)),  # from the right: anterior on the right
    "coronal": ((0, -1, 0), (0, 0, 1)),  # from behind: subject's right on the right
    "axial": ((0, 0, 1), (0, 1, 0)),  # from above: anterior up
}
VOLUME_VIEWS = tuple(_VIEWS)
_SURFACE_NAMES = ("inner_skull", "scalp", "cortex")
# anatomical direction of each head axis (RAS), for the panel edges
_DIRECTIONS = {(0, 1): "R", (0, -1): "L", (1, 1): "A", (1, -1): "P",
               (2, 1): "S", (2, -1): "I"}


def grid_outline(rr, spacing=None):
    """A smooth closed surface just around a grid of source positions.

    The grid's points are blurred into a density (a Gaussian of about the
    grid spacing) whose level set half a spacing outside the outermost
    points is extracted (marching cubes) and smoothed, so the outline
    follows the shape the grid fills (e.g. the brain's, for a grid inside
    the inner skull) instead of its convex hull.

    Parameters
    ----------
    rr : array, shape (n_points, 3)
        Source positions (m).
    spacing : float | None
        Grid spacing (m); default: the median distance to the nearest
        neighbour.

    Returns
    -------
    rr, tris : array, shape (n_vertices, 3), array, shape (n_triangles, 3)
        The outline, in the frame of ``rr``.
    """
    import pyvista as pv
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import cKDTree

    rr = np.asarray(rr, float)
    if len(rr) < 4:
        raise ValueError(f"An outline needs at least 4 points, got {len(rr)}.")
    if spacing is None:
        dist, _ = cKDTree(rr).query(rr, k=2)
        spacing = float(np.median(dist[:, 1]))
    step = spacing / 4
    lo = rr.min(axis=0) - 2 * spacing
    dims = np.ceil((rr.max(axis=0) + 2 * spacing - lo) / step).astype(int) + 1
    density = np.zeros(dims)
    idx = np.round((rr - lo) / step).astype(int)
    np.add.at(density, tuple(idx.T), 1.0)
    density = gaussian_filter(density, sigma=0.7 * spacing / step)
    # the level a lone face of the grid reaches half a spacing out: half the
    # density inside, times the fall-off of the Gaussian over that distance
    inside = np.median(density[tuple(idx.T)])
    image = pv.ImageData(dimensions=dims, spacing=(step,) * 3, origin=lo)
    image.point_data["density"] = density.ravel(order="F")
    surf = image.contour([0.35 * inside], scalars="density")
    surf = surf.extract_largest().extract_surface(algorithm=None).triangulate()
    surf = surf.smooth_taubin(n_iter=60, pass_band=0.05)
    surf = surf.decimate(0.8) if surf.n_cells > 20000 else surf
    tris = surf.faces.reshape(-1, 4)[:, 1:]
    return np.asarray(surf.points, float), np.asarray(tris, np.int64)


def _edge_labels(plotter, direction, up):
    """Anatomical directions at the edges of a panel seen along ``direction``."""
    direction = np.asarray(direction, float)
    up = np.asarray(up, float)
    right = np.cross(up, direction)

    def name(vector):
        axis = int(np.argmax(np.abs(vector)))
        return _DIRECTIONS[(axis, int(np.sign(vector[axis])))]

    style = dict(viewport=True, font_size=10, color="#404040")
    for text, pos, h, v in ((name(right), (0.965, 0.5), "Right", "Centered"),
                            (name(-right), (0.035, 0.5), "Left", "Centered"),
                            (name(up), (0.5, 0.985), "Centered", "Top"),
                            (name(-up), (0.5, 0.015), "Centered", "Bottom")):
        actor = plotter.add_text(text, position=pos, **style)
        prop = actor.GetTextProperty()
        prop.SetBold(True)
        getattr(prop, f"SetJustificationTo{h}")()
        getattr(prop, f"SetVerticalJustificationTo{v}")()


def _check_vol_stc(stc, src, name="stc"):
    import mne

    _validate_type(stc, (mne.VolSourceEstimate, mne.VolVectorSourceEstimate), name,
                   "an mne.VolSourceEstimate (use plot_sources for cortical "
                   "estimates)")
    _validate_type(src, mne.SourceSpaces, "src",
                   "the volume mne.SourceSpaces of the estimate")
    if src.kind not in ("volume", "discrete"):
        raise ValueError(
            "The 'src' parameter must be the volume mne.SourceSpaces of the "
            f"estimate, got SourceSpaces of kind {src.kind!r}."
        )
    verts = np.concatenate(stc.vertices)
    vertno = np.concatenate([s["vertno"] for s in src])
    if len(stc.vertices) != len(src) or not np.isin(verts, vertno).all():
        raise ValueError(
            f"The {name!r} estimate does not match the source space: "
            f"{np.setdiff1d(verts, vertno)[:5]} are not vertices of 'src' "
            f"({len(vertno)} used vertices)."
        )
    return stc


def _positions(src, vertices, to_head):
    """World positions (head frame, m) of source-space vertex numbers."""
    rr = np.concatenate([s["rr"] for s in src])
    pos = rr[np.asarray(vertices, int)]
    if to_head is not None:
        pos = pos @ to_head[:3, :3].T + to_head[:3, 3]
    return pos


def _head_transform(src, trans, template):
    """4x4 src -> head transform, or None (already head / same frame)."""
    import mne
    from mne.io.constants import FIFF

    if src[0]["coord_frame"] == FIFF.FIFFV_COORD_HEAD:
        return None
    if isinstance(trans, str) and trans == "identity":
        return None
    if trans is None and template is not None:
        trans = template.trans
    if trans is None:
        return None
    if isinstance(trans, mne.transforms.Transform):
        if trans["from"] == FIFF.FIFFV_COORD_HEAD:
            return np.linalg.inv(trans["trans"])
        return np.asarray(trans["trans"])
    _validate_type(trans, str, "trans",
                   "None, 'identity' or an mne.transforms.Transform")
    raise ValueError(
        "The 'trans' parameter must be None, 'identity' or an "
        f"mne.transforms.Transform, got {trans!r}."
    )


def _resolve_glass(surface, template):
    """List of (rr, tris) to draw translucent, in head coordinates."""
    if isinstance(surface, tuple) and len(surface) == 2 and not isinstance(surface[0], str):
        return [surface]
    names = (surface,) if isinstance(surface, str) else tuple(surface)
    out = []
    for name in names:
        if isinstance(name, tuple):
            out.append(name)
            continue
        _check_option("surface", name, _SURFACE_NAMES)
        if name == "cortex":
            out.extend(template.surfaces["pial"][h] for h in ("lh", "rh"))
        else:
            out.append(getattr(template, name))
    return out


@_verbose
@fill_doc
def plot_volume_sources(
    stc,
    src,
    *,
    surface="inner_skull",
    template=None,
    trans=None,
    views=("sagittal", "coronal", "axial"),
    time: float | None = None,
    truth=None,
    color_by: Literal["amplitude", "evidence", "probability"] = "amplitude",
    sources=None,
    regions: bool = True,
    cmap=None,
    clim=None,
    threshold: float = 0.0,
    units: Literal["auto", "nAm", "Am", "a.u."] = "auto",
    opacity: float = 0.18,
    glass_name: str | None = None,
    title: str | None = None,
    size=None,
    fname=None,
    verbose=None,
):
    """Glass-brain render of a volume source estimate, orthogonal views.

    Parameters
    ----------
    stc : mne.VolSourceEstimate | mne.VolVectorSourceEstimate
        The estimate.
    src : mne.SourceSpaces
        Its volume (or discrete) source space.
    surface : str | tuple | list
        Translucent surface(s): ``"inner_skull"``, ``"scalp"``, ``"cortex"``
        (the template's, head coordinates), or ``(rr, tris)`` in the head
        frame (m), or a list of these.
    template : vaesource.datasets.Template | None
        Template supplying the named surfaces and the default ``trans``;
        None loads the ico3 template.
    trans : None | ``"identity"`` | mne.transforms.Transform
        Head <-> MRI transform, used when ``src`` is in MRI coordinates (as
        MNE's volume source spaces are); default: the template's.
    views : tuple of str
        Among ``"sagittal"``, ``"coronal"``, ``"axial"``.
    %(render_time)s
    truth : None | mne.VolSourceEstimate | array of int
        Ground truth, drawn as green rings: a volume estimate (its non-zero
        sources) or an array of source-space vertex numbers.
    %(render_color_by)s
    sources : vaesource.evidence.SourceTable | list of dict | None
        Evidence and probability per source for ``color_by``, when the
        estimate does not carry them (e.g. read from a ``.stc`` file): a
        :class:`~vaesource.evidence.SourceTable` or its rows (the
        ``"sources"`` of ``vaesource localize``'s ``summary.json``),
        matched by vertex number.
    %(render_regions)s
    %(render_cmap)s
    %(render_clim)s
    %(render_threshold)s
    %(render_units)s
    %(render_title)s
    %(render_size)s
    %(render_fname)s
    opacity : float
        Opacity of the glass surface.
    glass_name : str | None
        What the glass is, for the legend (default: the surface's name,
        nothing for a surface given as arrays).
    %(verbose)s

    Returns
    -------
    plotter : pyvista.Plotter
        The rendered off-screen plotter; ``plotter.vaesource`` describes
        the panels and glyphs.
    """
    import mne
    import pyvista as pv

    from ._estimates import _amplitudes_at

    _check_vol_stc(stc, src)
    if isinstance(views, str):
        views = (views,)
    views = tuple(views)
    for view in views:
        _check_option("views", view, tuple(_VIEWS))
    if not 0 < float(opacity) <= 1:
        raise ValueError(f"The 'opacity' parameter must be in (0, 1], got {opacity!r}.")
    if template is None and (isinstance(surface, str) or (
            isinstance(surface, list) and any(isinstance(s, str) for s in surface))):
        from ..forward.template import template as load_template

        template = load_template("ico3", sensors="meg", verbose=False)
    glass = _resolve_glass(surface, template)
    to_head = _head_transform(src, trans, template)

    amps = _amplitudes_at(stc, time)
    verts = np.concatenate(stc.vertices)
    keep = amps > threshold
    values = _source_values(stc, color_by, sources)
    if values is not None and not np.isfinite(values[keep]).all():
        missing = verts[keep][~np.isfinite(values[keep])]
        raise ValueError(
            f"No {color_by} for the source(s) at vertices {missing[:5]}: the "
            "'sources' table does not match the estimate."
        )
    peak = float(amps[keep].max()) if keep.any() else 0.0
    label, factor = _units(peak, units)
    amp_max = peak * factor
    log = False
    if values is not None:
        values = values[keep]
        clim, log = _color_scale(values, color_by, clim)
    elif clim is None:
        clim = (0.0, peak * factor) if peak > 0 else None
    cmap = cmap or (DEFAULT_CMAP if color_by == "amplitude" else CONFIDENCE_CMAP)
    pos = _positions(src, verts[keep], to_head)
    _validate_type(regions, bool, "regions")
    clouds = _volume_regions(stc, verts[keep]) if regions else [None] * len(pos)
    amps = amps[keep] * factor
    if values is None:
        values = amps

    if truth is None:
        truth_pos = np.zeros((0, 3))
    elif isinstance(truth, (mne.VolSourceEstimate, mne.VolVectorSourceEstimate)):
        _check_vol_stc(truth, src, "truth")
        t_amp = _amplitudes_at(truth, None)
        truth_pos = _positions(src, np.concatenate(truth.vertices)[t_amp > 0], to_head)
    else:
        t_verts = np.asarray(truth, int).ravel()
        vertno = np.concatenate([s["vertno"] for s in src])
        if not np.isin(t_verts, vertno).all():
            raise ValueError(
                "The 'truth' vertices must be vertices of 'src', got "
                f"{np.setdiff1d(t_verts, vertno)[:5]}."
            )
        truth_pos = _positions(src, t_verts, to_head)

    all_rr = np.concatenate([np.asarray(rr, float) for rr, _ in glass] + [pos, truth_pos])
    extent = np.ptp(all_rr, axis=0).max()
    r_max = 0.03 * extent
    if glass_name is None and isinstance(surface, str):
        glass_name = surface.replace("_", " ") + " (template)"
    width = _check_size(size, (320 * len(views), 100))[0]
    plan = _plan_strip(width, estimate=len(amps) > 0, truth=len(truth_pos) > 0,
                       extra=f"gray glass: {glass_name}" if glass_name else None,
                       title=title, note=None if len(amps) else "no active source",
                       color_by=color_by,
                       regions=any(c is not None for c in clouds),
                       region_kind="translucent dots")
    size = _check_size(size, (width, 330 + plan.height))
    strip = plan.height / (size[1] - plan.height)
    plotter = _new_plotter((2, len(views)), size, row_weights=[1, strip],
                           groups=[(1, np.s_[:])])
    info = RenderInfo(clim=clim, units=label, color_by=color_by)
    meshes = []
    for rr, tris in glass:
        tris = np.asarray(tris, np.int64)
        faces = np.column_stack([np.full(len(tris), 3), tris]).ravel()
        mesh = pv.PolyData(np.asarray(rr, float), faces)
        if mesh.n_cells < 5000:
            # a coarse BEM surface (1280 triangles) outlines as a polygon
            mesh = mesh.subdivide(2, subfilter="loop")
        meshes.append(mesh)
    radii = _glyph_radii(amps, amp_max, r_max) if len(amps) else []
    actor = None
    for j, view in enumerate(views):
        plotter.subplot(0, j)
        info.panels.append(dict(row=0, col=j, view=view, hemis=(), title=view))
        for mesh in meshes:
            # front faces only: one translucent layer per pixel, no need to
            # sort overlapping layers (depth peeling fails in subplots on
            # software EGL)
            plotter.add_mesh(mesh, color="#8c9bb0", opacity=float(opacity),
                             smooth_shading=True, specular=0.0, culling="back",
                             silhouette=dict(color="#6b7785", line_width=1.5),
                             reset_camera=False)
        direction, up = _VIEWS[view]
        if len(amps):
            actor = _add_spheres(plotter, pos, values, radii, cmap, clim, log=log)
            for p, a, val, r in zip(pos, amps, values, radii):
                info.sources.append(dict(
                    panel=j, pos=p, amplitude=a, value=float(val), radius=r,
                    color=_color_of(cmap, val, clim, log),
                ))
            for v, cloud, val in zip(verts[keep], clouds, values):
                if cloud is not None:
                    rgb = _color_of(cmap, val, clim, log)
                    _add_cloud(plotter, *cloud, rgb, 0.3 * r_max)
                    info.regions.append(dict(panel=j, hemi="vol", vertex=int(v),
                                             pos=cloud[0], color=rgb))
        if len(truth_pos):
            _add_rings(plotter, truth_pos, np.tile(direction, (len(truth_pos), 1)),
                       1.55 * r_max)
            for p in truth_pos:
                info.truth.append(dict(panel=j, pos=p, radius=1.55 * r_max,
                                       color=TRUTH_COLOR))
        # room for the title and the direction letters at the edges
        _fit_camera(plotter.renderer, direction, up, all_rr, margin=1.25, top_px=18)
        _add_title(plotter, view)
        _edge_labels(plotter, direction, up)
        if len(views) > 1:
            plotter.renderer.add_border(color="#d0d0d0", width=1.0)
    plotter.subplot(1, 0)
    info.colorbar = _fill_strip(plotter, plan, actor=actor, units=label,
                                color_by=color_by)
    info.glass = glass_name or ""
    _attach(plotter, info)
    return _finish(plotter, fname)


def _volume_regions(stc, vertices):
    """Each drawn source's location region, ``(positions, weights)``
    (head frame, m; the probability over the region's largest), or None."""
    from ._estimates import _table_regions

    table = getattr(stc, "vae_sources", None)
    regions = _table_regions(table)
    if regions is None:
        return [None] * len(vertices)
    by_vertex = {int(v): (np.asarray(pos, float), np.asarray(q) / np.max(q))
                 for v, (pos, q) in zip(table.vertex, regions)}
    return [by_vertex.get(int(v)) for v in vertices]


# opacity of a region's dots, by the probability of their location over the
# region's most probable: below a third, below two thirds, above
_CLOUD_OPACITY = (0.2, 0.35, 0.55)


def _add_cloud(plotter, positions, weights, color, radius):
    """A region as translucent spheres, more opaque where more probable
    (three levels: one actor per opacity)."""
    import pyvista as pv

    level = np.minimum((3 * np.asarray(weights)).astype(int), 2)
    sphere = pv.Sphere(radius=radius, theta_resolution=12, phi_resolution=12)
    for k, alpha in enumerate(_CLOUD_OPACITY):
        if not np.any(level == k):
            continue
        dots = pv.PolyData(positions[level == k]).glyph(scale=False, orient=False,
                                                        geom=sphere)
        plotter.add_mesh(dots, color=color, opacity=alpha, smooth_shading=True,
                         ambient=0.4, diffuse=0.6, specular=0.0,
                         reset_camera=False)


@dataclass
class Glass:
    """The surface a volume estimate is drawn in (head frame, m)."""

    rr: np.ndarray
    tris: np.ndarray
    name: str


# FreeSurfer places of the inner skull in a subject's folder
_INNER_SKULL = ("bem/inner_skull.surf", "bem/watershed/{subject}_inner_skull_surface")


def volume_glass(forward, *, bem=None, subjects_dir=None) -> Glass:
    """The glass around a volume source space: the inner skull, or an outline.

    Parameters
    ----------
    forward : mne.Forward
        Forward solution of a volume (or discrete) source space.
    bem : path-like | None
        A BEM model or solution (``-bem.fif``, ``-bem-sol.fif``), or a
        FreeSurfer surface file such as ``bem/inner_skull.surf``: its inner
        skull (the innermost surface) is drawn.
    subjects_dir : path-like | None
        FreeSurfer subjects folder: with the forward's subject, its
        ``bem/inner_skull.surf`` (or the watershed one) is drawn.

    Returns
    -------
    glass : Glass
        In head coordinates; without a BEM or subject surface, a smooth
        outline around the source grid.
    """
    from mne.io.constants import FIFF

    src = forward["src"]
    if bem is not None:
        rr, tris = _read_inner_skull(bem)
        name = f"inner skull ({Path(bem).name})"
    else:
        subject = src[0].get("subject_his_id") or None
        found = None
        if subject is not None:
            base = subjects_dir or os.environ.get("SUBJECTS_DIR")
            for rel in _INNER_SKULL if base else ():
                fname = Path(base).expanduser() / subject / rel.format(subject=subject)
                if fname.is_file():
                    found = fname
                    break
        if found is None:
            offsets = np.cumsum([0] + [s["np"] for s in src[:-1]])
            used = np.concatenate([off + s["vertno"] for off, s in zip(offsets, src)])
            to_head = _head_transform(src, forward["mri_head_t"], None)
            rr, tris = grid_outline(_positions(src, used, to_head))
            return Glass(rr=rr, tris=tris, name="outline of the source grid")
        rr, tris = _read_inner_skull(found)
        name = f"inner skull of {subject}"
    # surfaces are in MRI coordinates, whatever frame the source space is in
    trans = forward["mri_head_t"]
    mri_head = np.asarray(trans["trans"])
    if trans["from"] != FIFF.FIFFV_COORD_MRI:
        mri_head = np.linalg.inv(mri_head)
    rr = rr @ mri_head[:3, :3].T + mri_head[:3, 3]
    return Glass(rr=rr, tris=np.asarray(tris, np.int64), name=name)


def _read_inner_skull(fname):
    """(rr in MRI m, tris) of a BEM file's innermost surface or a FreeSurfer
    surface file."""
    import mne
    from mne.io.constants import FIFF

    path = _existing(fname, "BEM")
    try:
        if path.name.endswith((".fif", ".fif.gz")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # file naming
                surfs = mne.read_bem_surfaces(path, verbose=False)
            brain = [s for s in surfs if s["id"] == FIFF.FIFFV_BEM_SURF_ID_BRAIN]
            surf = brain[0] if brain else surfs[-1]
            return np.asarray(surf["rr"], float), np.asarray(surf["tris"], np.int64)
        rr, tris = mne.read_surface(path, verbose=False)
    except Exception as err:  # MNE and nibabel raise several types
        raise ValueError(f"Could not read a BEM surface from {path}: {err}") from None
    return np.asarray(rr, float) / 1000.0, np.asarray(tris, np.int64)  # mm -> m

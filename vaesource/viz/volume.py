"""Glass-brain renders of volume source estimates (pyvista, off screen).

:func:`plot_volume_sources` draws the active locations of an
:class:`mne.VolSourceEstimate` as spheres inside a translucent head surface
(the template's inner skull by default), seen along the three orthogonal
axes with parallel projection, like a glass brain.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..utils import _check_option
from ._render import (
    DEFAULT_CMAP,
    TRUTH_COLOR,
    RenderInfo,
    _add_rings,
    _add_spheres,
    _add_title,
    _attach,
    _check_size,
    _cmap,
    _fill_strip,
    _finish,
    _fit_camera,
    _glyph_radii,
    _new_plotter,
    _units,
    _verbose,
)

# camera direction (focal point -> camera) and view-up in head coordinates
_VIEWS = {
    "sagittal": ((1, 0, 0), (0, 0, 1)),  # from the right: anterior on the right
    "coronal": ((0, -1, 0), (0, 0, 1)),  # from behind: subject's right on the right
    "axial": ((0, 0, 1), (0, 1, 0)),  # from above: anterior up
}
_SURFACE_NAMES = ("inner_skull", "scalp", "cortex")


def _check_vol_stc(stc, src, name="stc"):
    import mne

    if not isinstance(stc, (mne.VolSourceEstimate, mne.VolVectorSourceEstimate)):
        raise ValueError(
            f"The {name!r} parameter must be an mne.VolSourceEstimate, got "
            f"{type(stc).__name__} (use plot_sources for cortical estimates)."
        )
    if not isinstance(src, mne.SourceSpaces) or src.kind not in ("volume", "discrete"):
        raise ValueError(
            "The 'src' parameter must be the volume mne.SourceSpaces of the "
            f"estimate, got {type(src).__name__}"
            + (f" of kind {src.kind!r}." if isinstance(src, mne.SourceSpaces) else ".")
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
    raise ValueError(
        "The 'trans' parameter must be None, 'identity' or an "
        f"mne.transforms.Transform, got {type(trans).__name__}."
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
    cmap=DEFAULT_CMAP,
    clim=None,
    threshold: float = 0.0,
    units: Literal["auto", "nAm", "Am", "a.u."] = "auto",
    opacity: float = 0.18,
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
    time, truth, cmap, clim, threshold, units, title, size, fname :
        As in :func:`vaesource.viz.plot_sources`; ``truth`` is a volume
        estimate or an array of source-space vertex numbers.
    opacity : float
        Opacity of the glass surface.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    plotter : pyvista.Plotter
        The rendered off-screen plotter; ``plotter.vaesource`` describes
        the panels and glyphs.
    """
    import mne
    import pyvista as pv

    from .brain import _amplitudes_at

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
        from ..datasets import template as load_template

        template = load_template("ico3", sensors="meg", verbose=False)
    glass = _resolve_glass(surface, template)
    to_head = _head_transform(src, trans, template)

    amps = _amplitudes_at(stc, time)
    verts = np.concatenate(stc.vertices)
    keep = amps > threshold
    peak = float(amps[keep].max()) if keep.any() else 0.0
    label, factor = _units(peak, units)
    if clim is None:
        clim = (0.0, peak * factor) if peak > 0 else None
    pos = _positions(src, verts[keep], to_head)
    amps = amps[keep] * factor

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
    size = _check_size(size, (320 * len(views), 330 + 90))
    strip = 90 / (size[1] - 90)
    plotter = _new_plotter((2, len(views)), size, row_weights=[1, strip],
                           groups=[(1, np.s_[:])])
    info = RenderInfo(clim=clim, units=label)
    meshes = []
    for rr, tris in glass:
        tris = np.asarray(tris, np.int64)
        faces = np.column_stack([np.full(len(tris), 3), tris]).ravel()
        meshes.append(pv.PolyData(np.asarray(rr, float), faces))
    radii = _glyph_radii(amps, clim[1], r_max) if len(amps) else []
    colors = _cmap(cmap)
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
            actor = _add_spheres(plotter, pos, amps, radii, cmap, clim)
            for p, a, r in zip(pos, amps, radii):
                info.sources.append(dict(
                    panel=j, pos=p, amplitude=a, radius=r,
                    color=np.asarray(colors((a - clim[0]) / (clim[1] - clim[0])))[:3],
                ))
        if len(truth_pos):
            _add_rings(plotter, truth_pos, np.tile(direction, (len(truth_pos), 1)),
                       1.55 * r_max)
            for p in truth_pos:
                info.truth.append(dict(panel=j, pos=p, radius=1.55 * r_max,
                                       color=TRUTH_COLOR))
        _fit_camera(plotter.renderer, direction, up, all_rr, top_px=18)
        _add_title(plotter, view)
    plotter.subplot(1, 0)
    _fill_strip(plotter, actor=actor, units=label, title=title or "amplitude",
                truth=len(truth_pos) > 0, note=None if len(amps) else "no active source")
    _attach(plotter, info)
    return _finish(plotter, fname)

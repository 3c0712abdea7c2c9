"""Shared pieces of the pyvista renders: plotter, glyphs, colour bar, legend.

Everything here renders off screen: the plotters are made with
``off_screen=True`` and nothing calls ``show()``. On a machine without a
display, VTK (>= 9.4 wheels) renders through EGL (Mesa's software
rasteriser is enough); :func:`_new_plotter` selects that window class up
front so VTK does not first try, and warn about, a missing X server.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..utils import _validate_type

# Colours of the things every render shares
GYRUS_GRAY = 0.86
SULCUS_GRAY = 0.56
TRUTH_COLOR = "#00b140"  # green: distinct from the warm amplitude colour map
DEFAULT_CMAP = "autumn_r"  # yellow (weak) -> red (strong), saturated everywhere
# evidence and probability get another map, so that a render coloured by them
# is not read as amplitudes: dark (doubtful) -> yellow (certain)
CONFIDENCE_CMAP = "viridis"
# what the colour of the source glyphs shows; their size is the amplitude
COLOR_BY = ("amplitude", "evidence", "probability")
_COLOR_LABELS = {
    "evidence": "evidence (log scale)",
    "probability": "P(real)",
}
_FONT_COLOR = "black"


@dataclass
class RenderInfo:
    """What a render shows and where: attached to the plotter as ``.vaesource``.

    Attributes
    ----------
    panels : list of dict
        One per 3-D panel: ``row``, ``col`` (subplot index), ``view``,
        ``hemis`` and ``title``.
    sources : list of dict
        One per drawn source glyph: ``panel`` (index into ``panels``),
        ``pos`` (world coordinates of the glyph centre, m), ``amplitude``
        (in the amplitude units), ``value`` (the quantity coloured, in the
        colour bar's units), ``color`` (RGB in [0, 1]), ``radius`` (m)
        and, for cortical sources, ``hemi`` and ``vertex``.
    truth : list of dict
        Ground-truth markers, same keys (colour is :data:`TRUTH_COLOR`).
    regions : list of dict
        One per drawn location region: ``panel``, ``hemi`` and ``vertex``
        (of its source), ``vertices`` (the tinted vertices; none for
        volumes), ``pos`` (world coordinates of the tinted vertices, or of
        the volume's dots, m) and ``color`` (RGB in [0, 1]).
    clim : tuple of float | None
        Colour limits in colour-bar units (None when nothing is active).
    units : str
        Amplitude units.
    color_by : str
        What the colour shows: ``"amplitude"``, ``"evidence"`` (log
        scale) or ``"probability"``.
    colorbar : dict | None
        The colour bar: ``text`` (its label, quantity and unit), ``bar``
        and ``label`` (the VTK actors, in the strip's renderer); None
        without one.
    views : str
        How the views were chosen (e.g. "views with sources: lh lateral").
    glass : str
        What the translucent surface of a glass brain is.
    """

    panels: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    truth: list = field(default_factory=list)
    regions: list = field(default_factory=list)
    clim: tuple | None = None
    units: str = ""
    color_by: str = "amplitude"
    colorbar: dict | None = None
    views: str = ""
    glass: str = ""


def _headless() -> bool:
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


_PROBE = """
import pyvista as pv
pl = pv.Plotter(off_screen=True, window_size=(64, 64))
pl.add_mesh(pv.Sphere(), color="red")
img = pl.screenshot()
pl.close()
assert img.std() > 0, "blank image"
"""


@functools.lru_cache(maxsize=None)
def _rendering_available() -> tuple[bool, str]:
    """Whether VTK can render off screen here, probed in a child process.

    A VTK without any usable OpenGL (no X, no EGL, no OSMesa) crashes the
    process that tries, so the probe must not run in ours.

    Returns
    -------
    ok : bool
    message : str
        Why not, with what to install (Debian/Ubuntu package names).
    """
    env = dict(os.environ)
    if _headless():
        env.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], env=env,
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False, "the off-screen rendering probe timed out"
    if proc.returncode == 0:
        return True, ""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
             for line in (proc.stderr or "").splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    return False, (
        f"VTK cannot render off screen (probe exit code {proc.returncode}; "
        f"{last[-160:]}). "
        "Install Mesa's EGL (Debian/Ubuntu: apt-get install libegl1 "
        "libegl-mesa0 libgl1-mesa-dri) or OSMesa (libosmesa6), or run "
        "under xvfb."
    )


def _new_plotter(shape, size, *, row_weights=None, col_weights=None, groups=None):
    """An off-screen plotter with a white background and no borders."""
    if _headless():
        # VTK would otherwise try X first and log a 'bad X server' warning
        # before falling back to EGL; OSMesa-only builds ignore the value
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    kwargs = dict(
        off_screen=True,
        window_size=[int(size[0]), int(size[1])],
        shape=shape,
        border=False,
    )
    if row_weights is not None:
        kwargs["row_weights"] = list(row_weights)
    if col_weights is not None:
        kwargs["col_weights"] = list(col_weights)
    if groups:
        kwargs["groups"] = groups
    plotter = pv.Plotter(**kwargs)
    plotter.set_background("white")
    return plotter


def _check_size(size, default):
    if size is None:
        return tuple(int(s) for s in default)
    _validate_type(size, "array-like", "size", "(width, height) in pixels")
    try:
        width, height = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(
            f"The 'size' parameter must be (width, height) in pixels, got {size!r}."
        ) from None
    if width < 50 or height < 50:
        raise ValueError(
            f"The 'size' parameter must be at least 50 x 50 pixels, got {size!r}."
        )
    return width, height


def _cmap(cmap):
    import matplotlib

    if isinstance(cmap, str):
        try:
            return matplotlib.colormaps[cmap]
        except KeyError:
            raise ValueError(
                f"Invalid value for the 'cmap' parameter: {cmap!r} is not a "
                "matplotlib colour map name."
            ) from None
    return cmap


def _units(peak, units):
    """Colour-bar units and the factor from data units (A·m) to them."""
    from ..utils import _check_option

    _check_option("units", units, ("auto", "nAm", "Am", "a.u."))
    if units == "auto":
        # MNE source estimates are in A·m: cortical currents are ~1-100 nAm;
        # unit-scale values come from the array benchmark instead
        units = "nAm" if 0 < peak < 1e-5 else "Am" if peak < 1e-1 else "a.u."
    factor = 1e9 if units == "nAm" else 1.0
    label = {"nAm": "nAm", "Am": "A·m", "a.u."  : "a.u."}[units]
    return label, factor


def _glyph_radii(amplitudes, vmax, r_max):
    """Sphere radii growing with amplitude, from 45 % to 100 % of ``r_max``."""
    frac = np.clip(np.asarray(amplitudes, float) / vmax, 0.0, 1.0)
    return r_max * (0.45 + 0.55 * frac)


def _add_spheres(plotter, centers, amplitudes, radii, cmap, clim, log=False):
    """Spheres coloured by ``amplitudes`` (or whatever quantity is given, on a
    log scale with ``log``); returns the actor (for a colour bar)."""
    import pyvista as pv

    points = pv.PolyData(np.asarray(centers, float))
    points["radius"] = np.asarray(radii, float)
    values = np.asarray(amplitudes, float)
    if log:
        values = np.clip(values, clim[0], clim[1])
    points["amplitude"] = values
    sphere = pv.Sphere(radius=1.0, theta_resolution=32, phi_resolution=32)
    glyphs = points.glyph(scale="radius", orient=False, geom=sphere, factor=1.0)
    return plotter.add_mesh(
        glyphs,
        scalars="amplitude",
        cmap=cmap,
        clim=clim,
        log_scale=bool(log),
        show_scalar_bar=False,
        smooth_shading=True,
        ambient=0.35,
        diffuse=0.75,
        specular=0.1,
        reset_camera=False,
    )


def _add_rings(plotter, centers, normals, radius, color=TRUTH_COLOR):
    """Green tori around ``centers``, their axes along ``normals``."""
    import pyvista as pv

    centers = np.atleast_2d(np.asarray(centers, float))
    normals = np.atleast_2d(np.asarray(normals, float))
    # vtkGlyph3D turns the glyph's x axis onto the orientation vector
    torus = pv.ParametricTorus(
        ringradius=1.0, crosssectionradius=0.16, u_res=48, v_res=12, w_res=12
    ).rotate_y(90, inplace=False)
    points = pv.PolyData(centers)
    points["normal"] = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    rings = points.glyph(orient="normal", scale=False, geom=torus, factor=radius)
    return plotter.add_mesh(
        rings,
        color=color,
        smooth_shading=True,
        ambient=0.4,
        diffuse=0.7,
        reset_camera=False,
    )


def _nice_ticks(bar, clim, log=False):
    """Round tick values (matplotlib's locator) instead of VTK's even split."""
    from matplotlib.ticker import LogLocator, MaxNLocator
    from vtkmodules.vtkCommonCore import vtkDoubleArray

    vmin, vmax = (float(c) for c in clim)
    if log:
        ticks = LogLocator(numticks=6).tick_values(vmin, vmax)
    else:
        ticks = MaxNLocator(nbins=5).tick_values(vmin, vmax)
    tol = 1e-9 * (vmax - vmin)
    ticks = [t for t in ticks if vmin - tol <= t <= vmax + tol]
    labels = vtkDoubleArray()
    for t in ticks:
        labels.InsertNextValue(t)
    bar.SetUseCustomLabels(True)
    bar.SetCustomLabels(labels)
    bar.SetLabelFormat("%g")


@dataclass
class _Strip:
    """Layout of the bottom strip: its legend lines, type size and height."""

    title: str | None
    lines: list
    font: int
    note: str | None
    height: int  # px


def _plan_strip(width, *, estimate, truth, extra=None, title=None, note=None,
                color_by="amplitude", regions=False, region_kind="tinted cortex"):
    """The strip of a render ``width`` pixels wide: the legend fills its right
    part, in smaller type and then on wrapped lines when it is narrow, and
    the strip grows to hold it (at least the colour bar's 90 px)."""
    legend = []
    if estimate and color_by == "amplitude":
        legend.append("spheres: estimate (colour, size: amplitude)")
    elif estimate:
        what = ("evidence, 2 log Bayes factor" if color_by == "evidence"
                else "posterior probability of being real")
        legend.append(f"spheres: estimate (colour: {what}; size: amplitude)")
    if estimate and regions:
        legend.append(f"{region_kind}: 95 % location region of each source")
    if truth:
        legend.append("green rings: ground truth")
    if extra:
        legend.append(extra)
    # VTK type of size f: about 1.03 f px per character, 2 f px per line
    width_px = (0.98 - _LEGEND_X) * width
    longest = max((len(entry) for entry in legend), default=0)
    font = 9 if longest * 9.3 <= width_px else 8
    lines = [line for entry in legend
             for line in textwrap.wrap(entry, int(width_px / (1.03 * font)),
                                       subsequent_indent="  ")]
    height = (12 + (2 * (font + 2) + 4 if title else 0) + 2 * font * len(lines)
              + (24 if note and estimate else 0))
    return _Strip(title=title, lines=lines, font=font, note=note,
                  height=max(90, height))


def _fill_strip(plotter, plan, *, actor, units, color_by="amplitude"):
    """The bottom strip, laid out by ``plan`` (:func:`_plan_strip`): colour bar
    (or a note), title and legend; returns the colour bar (see
    :attr:`RenderInfo.colorbar`).

    The colour bar is labelled with its quantity and unit above the bar,
    its ticks below it, so label and ticks never meet; the figure's title
    heads the legend on the right.
    """
    h = float(plan.height)

    def y(px_from_top):
        return 1.0 - px_from_top / h

    actors = None
    if actor is not None:
        bar = plotter.add_scalar_bar(
            title="",
            mapper=actor.mapper,
            vertical=False,
            position_x=0.06,
            position_y=y(85),
            width=0.36,
            height=56 / h,
            n_labels=5,
            fmt="%.3g",
            color=_FONT_COLOR,
            label_font_size=15,
            bold=False,
            font_family="arial",
            shadow=False,
            interactive=False,
        )
        # ticks below the bar; the quantity label is our own text above it
        bar.SetTextPositionToPrecedeScalarBar()
        bar.SetBarRatio(0.38)
        # VTK shrinks tick labels to fit its own box; keep them readable
        bar.SetUnconstrainedFontSize(True)
        _nice_ticks(bar, actor.mapper.scalar_range, log=color_by == "evidence")
        text = _colorbar_label(units, color_by)
        label = plotter.add_text(
            text, position=(0.06, y(6)), viewport=True,
            font_size=9, color=_FONT_COLOR,
        )
        label.GetTextProperty().SetVerticalJustificationToTop()
        actors = dict(bar=bar, label=label, text=text)
    top = 6
    if plan.title:
        heading = plotter.add_text(str(plan.title), position=(_LEGEND_X, y(top)),
                                   viewport=True, font_size=plan.font + 2,
                                   color=_FONT_COLOR)
        heading.GetTextProperty().SetBold(True)
        heading.GetTextProperty().SetVerticalJustificationToTop()
        top += 2 * (plan.font + 2) + 4
    if plan.lines:
        text = plotter.add_text("\n".join(plan.lines), position=(_LEGEND_X, y(top)),
                                viewport=True, font_size=plan.font,
                                color=_FONT_COLOR)
        text.GetTextProperty().SetVerticalJustificationToTop()
        top += 2 * plan.font * len(plan.lines) + 2
    if plan.note:
        note = plotter.add_text(
            plan.note, position=(0.06, 0.45) if actor is None else (_LEGEND_X, y(top)),
            viewport=True, font_size=10, color="#a00000",
        )
        if actor is not None:
            note.GetTextProperty().SetVerticalJustificationToTop()
    return actors


# left edge of the legend in the strip (the colour bar takes 0.06 to 0.42)
_LEGEND_X = 0.47


def _colorbar_label(units, color_by="amplitude"):
    if color_by == "amplitude":
        return f"amplitude ({units})"
    return _COLOR_LABELS[color_by]


def _source_values(stc, color_by, sources=None):
    """The quantity ``color_by`` of each row of ``stc.data`` (None for
    amplitudes): the evidence or posterior probability of each source.

    ``sources`` is a :class:`vaesource.evidence.SourceTable` or its rows
    (``summary.json``'s ``sources``); default: ``stc.vae_sources``. Rows are
    matched by hemisphere (``"vol"`` for volumes) and vertex; a row of the
    estimate without a source row is NaN (and must not be drawn).
    """
    from ..utils import _check_option

    _check_option("color_by", color_by, COLOR_BY)
    if color_by == "amplitude":
        return None
    if sources is None:
        sources = getattr(stc, "vae_sources", None)
    if sources is None:
        raise ValueError(
            f"color_by={color_by!r} needs the evidence of each source: an "
            "estimate of vaesource.apply_vae_inverse(..., model='full') (it "
            "carries stc.vae_sources), or the 'sources' parameter (a "
            "SourceTable, or the 'sources' rows of localize's summary.json)."
        )
    rows = sources.rows() if hasattr(sources, "rows") else list(sources)
    lookup = {}
    for row in rows:
        try:
            lookup[(str(row["hemi"]), int(row["vertex"]))] = float(row[color_by])
        except (KeyError, TypeError):
            raise ValueError(
                "The 'sources' rows must hold 'hemi', 'vertex' and "
                f"{color_by!r}, got {row!r:.80}."
            ) from None
    if len(stc.vertices) == 2 and not any(h == "vol" for h, _ in lookup):
        spaces = ("lh", "rh")
    else:
        spaces = ("vol",) * len(stc.vertices)
    keys = [(s, int(v)) for s, verts in zip(spaces, stc.vertices) for v in verts]
    return np.array([lookup.get(k, np.nan) for k in keys])


def _color_scale(values, color_by, clim=None):
    """(clim, log) of the colour scale of ``values`` (evidence: whole
    decades on a log scale, from 1 or below, so that a strong source is
    never drawn as a doubtful one because all shown are strong;
    probability: 0 to 1)."""
    if clim is not None:
        clim = tuple(float(c) for c in clim)
        if len(clim) != 2 or not clim[1] > clim[0] or (
                color_by == "evidence" and clim[0] <= 0):
            raise ValueError(
                "The 'clim' parameter must be (vmin, vmax) with vmax > vmin "
                f"(and vmin > 0 for color_by='evidence'), got {clim!r}."
            )
        return clim, color_by == "evidence"
    if color_by == "probability":
        return (0.0, 1.0), False
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    top = max(float(values.max(initial=1.0)), 1.0)
    low = max(float(values.min(initial=top)), 0.1)
    lo = min(10.0 ** np.floor(np.log10(low)), 1.0)
    hi = 10.0 ** np.ceil(np.log10(top))
    if hi <= lo:
        hi = 10 * lo
    return (float(lo), float(hi)), True


def _color_of(cmap, value, clim, log):
    """RGB of ``value`` on the colour scale (as the render draws it)."""
    lo, hi = clim
    if log:
        frac = (np.log10(np.clip(value, lo, hi)) - np.log10(lo)) / (
            np.log10(hi) - np.log10(lo))
    else:
        frac = (value - lo) / (hi - lo)
    return np.asarray(_cmap(cmap)(float(np.clip(frac, 0, 1))))[:3]


def _add_title(plotter, text, *, heading=False, bottom=False):
    """Panel label in the top-left corner, or a bold heading at top centre.

    Fixed-size text actors: pyvista's corner annotations rescale their font
    with the text length, which makes labels of one figure differ in size.
    """
    if heading:
        actor = plotter.add_text(text, position=(0.5, 0.985), viewport=True,
                                 font_size=12, color=_FONT_COLOR)
        actor.GetTextProperty().SetJustificationToCentered()
        actor.GetTextProperty().SetBold(True)
    elif bottom:
        actor = plotter.add_text(text, position=(0.015, 0.015), viewport=True,
                                 font_size=9, color=_FONT_COLOR)
        return actor
    else:
        actor = plotter.add_text(text, position=(0.015, 0.985), viewport=True,
                                 font_size=9, color=_FONT_COLOR)
    actor.GetTextProperty().SetVerticalJustificationToTop()
    return actor


def _fit_camera(renderer, direction, up, points, margin=1.06, top_px=0):
    """Parallel camera along ``direction`` whose view just holds ``points``.

    VTK's ``reset_camera`` fits a bounding sphere, which leaves elongated
    objects (a hemisphere seen from the side) small; fit the projected
    extent to the viewport's aspect instead.
    """
    points = np.asarray(points, float)
    direction = np.asarray(direction, float)
    direction = direction / np.linalg.norm(direction)
    up = np.asarray(up, float)
    up = up - up @ direction * direction
    up /= np.linalg.norm(up)
    right = np.cross(up, direction)
    lo = np.array([points @ right, points @ up, points @ direction]).min(axis=1)
    hi = np.array([points @ right, points @ up, points @ direction]).max(axis=1)
    mid = (lo + hi) / 2
    center = mid[0] * right + mid[1] * up + mid[2] * direction
    half_w, half_h = (hi[:2] - lo[:2]) / 2 * margin
    vx0, vy0, vx1, vy1 = renderer.GetViewport()
    win_w, win_h = renderer.GetRenderWindow().GetSize()
    aspect = ((vx1 - vx0) * win_w) / max((vy1 - vy0) * win_h, 1)
    # keep the top ``top_px`` pixels free for the panel's title
    pad = min(top_px / max((vy1 - vy0) * win_h, 1), 0.4)
    scale = max(half_h / (1 - pad), half_w / aspect)
    center = center + pad * scale * up
    camera = renderer.camera
    camera.focal_point = tuple(center)
    camera.position = tuple(center + (hi[2] - lo[2] + 1.0) * direction)
    camera.up = tuple(up)
    renderer.enable_parallel_projection()
    camera.parallel_scale = scale
    renderer.reset_camera_clipping_range()


def world_to_pixel(plotter, renderer_index, pos):
    """Pixel (column, row) of a world position in a screenshot of ``plotter``.

    Parameters
    ----------
    plotter : pyvista.Plotter
        A plotter that has been rendered (e.g. after ``screenshot()``).
    renderer_index : int | tuple
        The subplot (index into ``plotter.renderers`` or ``(row, col)``).
    pos : array, shape (3,)
        World coordinates (m).

    Returns
    -------
    col, row : float
        Image coordinates, origin at the top left as in the screenshot array.
    """
    from vtkmodules.vtkRenderingCore import vtkCoordinate

    if isinstance(renderer_index, tuple):
        renderer_index = plotter.renderers.loc_to_index(renderer_index)
    renderer = plotter.renderers[renderer_index]
    coordinate = vtkCoordinate()
    coordinate.SetCoordinateSystemToWorld()
    coordinate.SetValue(*np.asarray(pos, float))
    x, y = coordinate.GetComputedDoubleDisplayValue(renderer)
    height = plotter.window_size[1]
    return float(x), float(height - 1 - y)


def as_figure(plotter, *, close: bool = True):
    """A matplotlib figure showing an off-screen render, e.g. for ``plt.show()``.

    The renders are made off screen, so a plain script (or a notebook)
    cannot open their plotter in a window; as a matplotlib figure, at the
    render's pixel size, it shows like any other figure (and sphinx-gallery
    collects it).

    Parameters
    ----------
    plotter : pyvista.Plotter
        A render of :mod:`vaesource.viz`.
    close : bool
        Close the plotter once its image is taken.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    img = plotter.screenshot()
    if close:
        plotter.close()
    height, width = img.shape[:2]
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(img)
    ax.set_axis_off()
    return fig


def _attach(plotter, info):
    """Expose ``info`` as ``plotter.vaesource`` (pyvista forbids plain setattr)."""
    import pyvista as pv

    pv.set_new_attribute(plotter, "vaesource", info)


def _finish(plotter, fname):
    """Render once (so the plotter can be projected and screenshot) and save."""
    plotter.render()
    if fname is not None:
        fname = Path(fname)
        fname.parent.mkdir(parents=True, exist_ok=True)
        plotter.screenshot(str(fname), return_img=False)
    return plotter

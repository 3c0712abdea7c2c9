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

import functools
import inspect
from typing import Literal

import numpy as np

from .._docs import fill_doc
from ..utils import _check_option, _validate_type, _verbose, logger
from ._estimates import (
    _active,
    _check_match,
    _check_stc,
    _cortex_regions,
    _truth_vertices,
)
from ._panels import _Scene
from ._scene import (
    CONFIDENCE_CMAP,
    DEFAULT_CMAP,
    _add_title,
    _attach,
    _check_size,
    _color_scale,
    _fill_strip,
    _finish,
    _new_plotter,
    _plan_strip,
    _source_values,
    _units,
)
from ._surfaces import _SURFACES, HEMIS, _make_cortex, _resolve_surfaces
# VIEWS: read from here by cli and localize (as are HEMIS, _check_views and
# _resolve_surfaces)
from ._views import VIEWS  # noqa: F401
from ._views import _aspect, _auto_panels, _check_views, _panels_for

# glyph size relative to the largest extent of the rendered cortex
_SPHERE_SIZE = 0.03
# narrowest default image: room for the colour bar and the legend
_MIN_WIDTH = 640


def _cortex_keywords(
    *,
    surfaces=None,
    surface: Literal["inflated", "white", "pial"] = "inflated",
    hemi: Literal["both", "lh", "rh"] = "both",
    time: float | None = None,
    truth=None,
    subject: str | None = None,
    subjects_dir=None,
    curvature=None,
    src=None,
    regions: bool = True,
    cmap=None,
    clim=None,
    threshold: float = 0.0,
    units: Literal["auto", "nAm", "Am", "a.u."] = "auto",
    title: str | None = None,
    size=None,
    fname=None,
    verbose=None,
):
    """The keywords that plot_sources and plot_comparison share, defined once
    (documented in plot_sources)."""


# order of the keywords in the public signatures
_ORDER = ("surfaces", "surface", "views", "hemi", "time", "truth", "show_truth",
          "subject", "subjects_dir", "curvature", "src", "color_by", "sources",
          "regions", "cmap", "clim", "threshold", "units", "title", "size", "fname",
          "verbose")


def _takes_cortex_keywords(func):
    """Give ``func(first, *, its own keywords, **options)`` the keywords of
    :func:`_cortex_keywords` as its own: in its signature (``help``, the
    docs) and when called, where ``options`` receives all of them, with
    their defaults."""
    own = inspect.signature(func).parameters.values()
    shared = inspect.signature(_cortex_keywords).parameters.values()
    first = [p for p in own if p.kind == p.POSITIONAL_OR_KEYWORD]
    keywords = [p for p in own if p.kind == p.KEYWORD_ONLY] + list(shared)
    signature = inspect.Signature(
        first + sorted(keywords, key=lambda p: _ORDER.index(p.name)))

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{func.__name__}() {err}") from None
        bound.apply_defaults()
        return func(**bound.arguments)

    wrapper.__signature__ = signature
    return wrapper


def _check_views_or_auto(views, hemi):
    """(auto, views): ``views="auto"`` or the checked views."""
    auto = isinstance(views, str) and views == "auto"
    if auto:
        _check_option("hemi", hemi, ("both", "lh", "rh"))
    else:
        views = _check_views(views, hemi)
    return auto, views


def _prepare(stcs, options, color_by="amplitude", sources=None):
    surface, clim = options["surface"], options["clim"]
    _check_option("surface", surface, _SURFACES)
    surfs, curvature = _resolve_surfaces(
        options["surfaces"], surface, options["subject"], options["subjects_dir"],
        options["curvature"])
    cortex = _make_cortex(surfs, surface, curvature)
    actives = {}
    values = None
    for name, stc in stcs.items():
        _check_stc(stc, name)
        _check_match(stc, cortex, name, src=options["src"])
        actives[name] = _active(stc, options["time"], options["threshold"])
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
    label, factor = _units(peak, options["units"])
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
    regions = {name: {} for name in stcs}
    _validate_type(options["regions"], bool, "regions")
    if options["regions"] and any(
            getattr(stc, "vae_sources", None) is not None for stc in stcs.values()):
        white = _white_surfaces(options, surfs, surface)
        regions = {name: _cortex_regions(stc, white) for name, stc in stcs.items()}
    return (cortex, actives, label, factor, clim, _SPHERE_SIZE * extent, colour,
            regions)


def _white_surfaces(options, surfs, surface):
    """The white surface matching the rendered one (where the location
    regions are placed; the rendered one when no white surface is found)."""
    if surface != "white":
        try:
            surfs, _ = _resolve_surfaces(
                options["surfaces"], "white", options["subject"],
                options["subjects_dir"], options["curvature"])
        except ValueError:
            pass
    return {h: (np.asarray(rr, float), np.asarray(tris, np.int64))
            for h, (rr, tris) in surfs.items()}


@_verbose
@_takes_cortex_keywords
@fill_doc
def plot_sources(
    stc,
    *,
    views=("lateral", "medial", "dorsal"),
    color_by: Literal["amplitude", "evidence", "probability"] = "amplitude",
    sources=None,
    **options,
):
    """Render a sparse cortical source estimate on the cortex, several views.

    Parameters
    ----------
    stc : mne.SourceEstimate | mne.VectorSourceEstimate
        The estimate; its vertex numbers must index the rendered surfaces
        (fsaverage5 vertex numbers for the template, as on
        ``Template.src``).
    %(render_surfaces)s
    %(render_surface)s
    views : str | tuple of str
        Among ``"lateral"``, ``"medial"`` (one panel per hemisphere),
        ``"dorsal"``, ``"ventral"``, ``"anterior"``, ``"posterior"`` (both
        hemispheres in one panel); or ``"auto"``: in one row, only the
        panels facing the sources (each source, estimated or true, in the
        lateral or medial view its surface faces most, else the whole-brain
        view it faces), which the legend says.
    %(render_hemi)s
    %(render_time)s
    truth : None | SourceEstimate | dict | list
        Ground truth, drawn as green rings: an estimate (its non-zero
        sources), ``{"lh": vertices, "rh": vertices}`` or
        ``[lh_vertices, rh_vertices]``.
    %(render_subject)s
    %(render_curvature)s
    %(render_src)s
    %(render_color_by)s
    sources : vaesource.evidence.SourceTable | list of dict | None
        Evidence and probability per source for ``color_by``, when the
        estimate does not carry them (e.g. read from a ``.stc`` file): a
        :class:`~vaesource.evidence.SourceTable` or its rows (the
        ``"sources"`` of ``vaesource localize``'s ``summary.json``),
        matched by hemisphere and vertex.
    %(render_regions)s
    %(render_cmap)s
    %(render_clim)s
    %(render_threshold)s
    %(render_units)s
    %(render_title)s
    %(render_size)s
    %(render_fname)s
    %(verbose)s

    Returns
    -------
    plotter : pyvista.Plotter
        The off-screen plotter, already rendered (``plotter.screenshot()``
        returns the image). ``plotter.vaesource`` holds a
        :class:`~vaesource.viz._scene.RenderInfo` (panels, glyph
        positions and colours). Close it with ``plotter.close()``.
    """
    hemi, title, size = options["hemi"], options["title"], options["size"]
    auto, views = _check_views_or_auto(views, hemi)
    cortex, actives, label, factor, clim, r_max, colour, regions = _prepare(
        {"stc": stc}, options, color_by, sources)
    cmap = options["cmap"] or (
        DEFAULT_CMAP if color_by == "amplitude" else CONFIDENCE_CMAP)
    truth_v = _truth_vertices(options["truth"], cortex)
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
                       color_by=color_by, regions=bool(regions["stc"]))
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
            scene.panel(i, j, view, hemis, ttl, active, truth_v,
                        regions=regions["stc"])
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
    return _finish(plotter, options["fname"])


@_verbose
@_takes_cortex_keywords
@fill_doc
def plot_comparison(
    stcs: dict,
    *,
    views="auto",
    show_truth: bool = True,
    **options,
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
        so. Otherwise as in :func:`plot_sources`. Each view (and
        hemisphere, for lateral and medial views) is one row.
    %(render_hemi)s
    %(render_surfaces)s
    %(render_surface)s
    %(render_time)s
    %(render_threshold)s
    %(render_units)s
    %(render_clim)s
    %(render_cmap)s
    %(render_subject)s
    %(render_curvature)s
    %(render_src)s
    %(render_regions)s
    %(render_title)s
    %(render_size)s
    %(render_fname)s
    %(verbose)s

    Returns
    -------
    plotter : pyvista.Plotter
        The rendered off-screen plotter (see :func:`plot_sources`).
    """
    _validate_type(stcs, dict, "stcs", "a non-empty dict {name: SourceEstimate}")
    if not stcs:
        raise ValueError(
            "The 'stcs' parameter must be a non-empty dict {name: SourceEstimate}, "
            f"got {stcs!r:.60}."
        )
    hemi, truth, title, size = (options[k] for k in ("hemi", "truth", "title", "size"))
    auto, views = _check_views_or_auto(views, hemi)
    cortex, actives, label, factor, clim, r_max, _, regions = _prepare(stcs, options)
    cmap = options["cmap"] or DEFAULT_CMAP
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
        regions=any(regions.values()),
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
                        marks, top_px=28 if i == 0 else 0, title_at_bottom=True,
                        regions=regions[name])
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
    return _finish(plotter, options["fname"])

"""Views of the cortex: cameras, panels and the "auto" views facing the sources."""

from __future__ import annotations

import numpy as np

from ..utils import _check_option
from ._surfaces import HEMIS

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
# "auto" views: a source whose normal has at least this component towards a
# lateral or medial camera is shown there (the inflated surface's side views
# hold most of the cortex; a whole-brain view would add a tall extra row)
_SIDE_VISIBLE = 0.25


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


def _check_views(views, hemi, allowed=VIEWS):
    """The views as a tuple, each one of ``allowed`` (a string is one view)."""
    _check_option("hemi", hemi, ("both", "lh", "rh"))
    if isinstance(views, str):
        views = (views,)
    views = tuple(views)
    if not views:
        raise ValueError("The 'views' parameter must name at least one view.")
    for view in views:
        _check_option("views", view, allowed)
    return views


def _aspect(cortex, view, hemis, title_px=18, row_px=270):
    """Width / height of a panel that just holds its view, title included."""
    points = np.concatenate([cortex.rr[h] for h in hemis])
    direction, up = (np.asarray(v, float) for v in _camera_for(view, hemis))
    right = np.cross(up, direction)
    width, height = np.ptp(points @ right), np.ptp(points @ up)
    height *= 1 + title_px / row_px
    return float(np.clip(1.06 * width / height, 0.45, 1.8))

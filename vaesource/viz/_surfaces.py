"""The cortex to draw on: FreeSurfer or template surfaces and their normals.

:func:`_resolve_surfaces` finds the surfaces (the embedded template's, a
FreeSurfer subject's read with nibabel, or given arrays) and
:func:`_make_cortex` turns them into a :class:`_Cortex`: both hemispheres
(inflated ones side by side), outward vertex normals and a gray level per
vertex from the curvature.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils import _validate_type
from ._scene import GYRUS_GRAY, SULCUS_GRAY

HEMIS = ("lh", "rh")
_SURFACES = ("inflated", "white", "pial")
# gap between the two inflated hemispheres, as a fraction of their width
_INFLATED_GAP = 0.06


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
    _validate_type(surfaces, dict, "surfaces",
                   "None (the template), a vaesource Template, or a dict "
                   "{'lh': (rr, tris), 'rh': (rr, tris)}")
    if not set(HEMIS) <= set(surfaces):
        raise ValueError(
            "The 'surfaces' parameter must be None (the template), a "
            "vaesource Template, or a dict {'lh': (rr, tris), 'rh': (rr, "
            f"tris)}}, got a dict with keys {sorted(map(str, surfaces))}."
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

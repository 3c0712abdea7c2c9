"""One cortex panel of a render: surface, source spheres, truth rings, camera."""

from __future__ import annotations

import numpy as np

from ._scene import (
    TRUTH_COLOR,
    RenderInfo,
    _add_rings,
    _add_spheres,
    _add_title,
    _color_of,
    _fit_camera,
    _glyph_radii,
)
from ._surfaces import HEMIS
from ._views import _camera_for


# opacity of a location region's tint, from its least to its most probable
# location
_REGION_OPACITY = (0.4, 0.8)
# times the source's probability of being real; fainter regions are not drawn
_FAINTEST = 0.05


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
              title_at_bottom=False, regions=None):
        pl = self.plotter
        pl.subplot(row, col)
        idx = len(self.info.panels)
        self.info.panels.append(
            dict(row=row, col=col, view=view, hemis=hemis, title=title)
        )
        sel = [a for a in active if a[0] in hemis]
        colors = self._colors(sel)
        meshes = self._tinted(idx, hemis, sel, colors, regions or {})
        for hemi in hemis:
            pl.add_mesh(
                meshes[hemi],
                scalars="shade",
                rgb=True,
                smooth_shading=True,
                ambient=0.25,
                diffuse=0.8,
                specular=0.0,
                reset_camera=False,
            )
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
            for (h, v, _), c, a, val, r, rgb in zip(sel, centers, amps, vals, radii,
                                                     colors):
                self.info.sources.append(
                    dict(panel=idx, hemi=h, vertex=v, pos=c, amplitude=a,
                         value=float(val), radius=r, color=rgb)
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


    def _colors(self, sel):
        """RGB of each source's glyph (as the render colours it)."""
        out = []
        for h, v, amp in sel:
            val = amp * self.factor if self.values is None else self.values[(h, v)]
            out.append(_color_of(self.cmap, val, self.clim, self.log))
        return out

    def _tinted(self, idx, hemis, sel, colors, regions):
        """The hemispheres' meshes, with the location region of each drawn
        source tinted in its colour: translucent, more opaque where the
        source is more probable, so the folds stay readable under it."""
        meshes = dict(self.meshes)
        # weakest first: where regions overlap, the strongest source's shows
        order = sorted(range(len(sel)), key=lambda k: sel[k][2])
        for k in order:
            h, v, _ = sel[k]
            if (h, v) not in regions:
                continue
            verts, weight, p_real = regions[(h, v)]
            if p_real * _REGION_OPACITY[1] < _FAINTEST:
                continue  # a source that is likely noise: no region drawn
            if meshes[h] is self.meshes[h]:
                meshes[h] = self.meshes[h].copy()
            shade = meshes[h]["shade"].astype(float)
            alpha = p_real * (_REGION_OPACITY[0] + (
                _REGION_OPACITY[1] - _REGION_OPACITY[0]) * np.asarray(weight))[:, None]
            shade[verts] = (1 - alpha) * shade[verts] + alpha * 255 * colors[k]
            meshes[h]["shade"] = np.round(shade).astype(np.uint8)
            self.info.regions.append(dict(panel=idx, hemi=h, vertex=v,
                                          vertices=verts, pos=self.cortex.rr[h][verts],
                                          color=colors[k]))
        return meshes

    def share_cameras(self, groups):
        """One camera for each group of panels (fitted to all they show)."""
        for group in groups:
            points = np.concatenate([self._fits[i][3] for i in group])
            top_px = max(self._fits[i][4] for i in group)
            for i in group:
                renderer, direction, up, _, _ = self._fits[i]
                _fit_camera(renderer, direction, up, points, top_px=top_px)

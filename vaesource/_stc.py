"""Small helpers on MNE source estimates."""

from __future__ import annotations

import numpy as np


def keep_strong(stc, fraction):
    """Copy of ``stc`` without the sources weaker than ``fraction`` x peak.

    The amplitude of a source is its largest absolute value over time (and
    the norm over orientations for vector estimates). Works for surface,
    volume and vector estimates; an empty estimate is returned unchanged.
    """
    data = stc.data  # (n_sources, n_times), or (n_sources, 3, n_times)
    amp = np.abs(data) if data.ndim == 2 else np.linalg.norm(data, axis=1)
    amp = amp.max(axis=1)
    if not amp.size or amp.max() <= 0:
        return stc.copy()
    keep = amp >= fraction * amp.max()
    vertices, offset = [], 0
    for verts in stc.vertices:
        vertices.append(verts[keep[offset: offset + len(verts)]])
        offset += len(verts)
    return type(stc)(data[keep], vertices, stc.tmin, stc.tstep, subject=stc.subject)

"""Source estimates on the cortex: checks, amplitudes and active sources."""

from __future__ import annotations

import numpy as np

from ..utils import _validate_type
from ._surfaces import HEMIS


def _check_stc(stc, name="stc"):
    import mne

    volume = isinstance(stc, (mne.VolSourceEstimate, mne.VolVectorSourceEstimate))
    return _validate_type(
        stc, (mne.SourceEstimate, mne.VectorSourceEstimate), name,
        "an mne.SourceEstimate or mne.VectorSourceEstimate"
        + (" (a volume source estimate: use vaesource.viz.plot_volume_sources "
           "for it)" if volume else ""),
    )


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
        kind = "a SourceEstimate, a dict {'lh': vertices, 'rh': vertices} or a pair"
        if isinstance(truth, (list, tuple)):  # of the wrong length
            raise ValueError(
                f"The 'truth' parameter must be {kind} [lh_vertices, "
                f"rh_vertices], got a {type(truth).__name__} of length "
                f"{len(truth)}."
            )
        _validate_type(truth, (mne.SourceEstimate, dict, list, tuple), "truth",
                       f"{kind} [lh_vertices, rh_vertices]")
    for hemi in HEMIS:
        v = out[hemi]
        if v.size and (v.min() < 0 or v.max() >= cortex.n_vertices[hemi]):
            raise ValueError(
                f"The 'truth' {hemi} vertex {int(v.max())} does not exist on the "
                f"{cortex.surface} surface ({cortex.n_vertices[hemi]} vertices)."
            )
    return out


def _table_regions(sources):
    """The location regions of a source table, or None when it has none
    (no table, an estimate of learned noise, of many epochs)."""
    if sources is None or sources.region_size is None:
        return None
    return sources.regions


def _cortex_regions(stc, white):
    """Where each source's location region lies on the cortex.

    Each region's positions are placed relative to the source's own vertex
    on the white surface (their offsets from the source's head-frame
    position: the head and MRI axes differ by a rotation of a few degrees,
    which moves a point 20 mm away by about a millimetre), and the white
    surface's vertices within a mesh spacing and a half of them are the
    region's; the same vertex numbers mark it on any rendered surface.

    Parameters
    ----------
    stc : mne.SourceEstimate
        A full-VAE estimate (``stc.vae_sources``); otherwise no regions.
    white : dict
        ``{hemi: (rr, tris)}`` of the white surface (m), the estimate's
        vertex numbers index it.

    Returns
    -------
    regions : dict
        ``{(hemi, vertex): (vertices, weights, p_real)}``: the region's
        vertices of the hemisphere, their weight in (0, 1] (the largest
        probability of the region's positions near each, over the region's
        largest) and the source's posterior probability of being real (a
        region of a source that is likely noise is drawn faint).
    """
    from scipy.spatial import cKDTree

    table = getattr(stc, "vae_sources", None)
    regions = _table_regions(table)
    if regions is None:
        return {}
    out = {}
    trees = {}
    for i, (pos, prob) in enumerate(regions):
        hemi, vertex = table.hemi[i], int(table.vertex[i])
        if hemi not in white:
            continue
        rr, tris = white[hemi]
        if hemi not in trees:
            edges = rr[tris[:, [1, 2, 0]]] - rr[tris]
            spacing = float(np.median(np.linalg.norm(edges, axis=-1)))
            trees[hemi] = (cKDTree(rr), 1.5 * spacing, _neighbours(tris, len(rr)))
        tree, radius, neighbours = trees[hemi]
        points = rr[vertex] + (np.asarray(pos, float) - table.pos[i])
        prob = np.asarray(prob, float)
        weight = {}
        for near, q in zip(tree.query_ball_point(points, radius), prob / prob.max()):
            for v in near:
                weight[v] = max(weight.get(v, 0.0), float(q))
        weight.setdefault(vertex, 1.0)
        # fill the holes: a vertex most of whose neighbours are in the region
        # (on the inflated surface, isolated vertices draw as speckles)
        w = np.zeros(len(rr))
        w[list(weight)] = list(weight.values())
        inside = neighbours @ (w > 0) / np.maximum(neighbours.sum(axis=1).A1, 1)
        fill = (w == 0) & (inside >= 0.5)
        w[fill] = (neighbours @ w / np.maximum(neighbours @ (w > 0), 1))[fill]
        verts = np.flatnonzero(w > 0)
        out[(hemi, vertex)] = (verts, w[verts], float(table.probability[i]))
    return out


def _neighbours(tris, n):
    """Adjacency of a triangle mesh's vertices, a sparse (n, n) matrix."""
    from scipy import sparse

    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    adj = sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                            shape=(n, n)).tocsr()
    adj = ((adj + adj.T) > 0).astype(float)
    return adj

"""Which sources are real: evidence and posterior uncertainty per source.

:func:`vaesource.apply_vae_inverse` attaches to each estimate a
:class:`SourceTable` (``stc.vae_sources``): for every active location its
position, peak amplitude, evidence (the rise of cost (18) when it alone is
removed, twice the log Bayes factor of keeping it), posterior inclusion
probability, posterior standard deviation per orientation (A·m) and, with
restarts, how often it appeared. :func:`credible_interval` turns the
posterior covariance into pointwise credible bands of the time courses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .solvers import auto_min_evidence, inclusion_probability


@dataclass(repr=False)
class SourceTable:
    """Per-source evidence and uncertainty of a full-VAE estimate.

    One entry per active location, in the order of the estimate's vertices
    (and of its dipoles).

    Attributes
    ----------
    location : array of int, shape (n,)
        Index of the location in the lead field (forward) source space.
    vertex : array of int, shape (n,)
        Vertex number in its source space (as in ``stc.vertices``).
    hemi : list of str
        ``"lh"`` / ``"rh"`` for surface source spaces, ``"vol"`` otherwise.
    pos : array, shape (n, 3)
        Position in head coordinates (m).
    amplitude : array, shape (n,)
        Peak over time of the source's amplitude (norm over orientations),
        A·m.
    evidence : array, shape (n,)
        Rise of cost (18) when the location alone is removed (``2 log`` of
        the Bayes factor of keeping it).
    probability : array, shape (n,)
        Posterior probability that the location is active, with a prior of
        one active location among ``n_locations``
        (:func:`vaesource.solvers.inclusion_probability`).
    posterior_sd : array, shape (n, n_orient)
        Posterior standard deviation of each orientation component (A·m),
        the same at every time sample.
    posterior_cov : array, shape (n, n_orient, n_orient)
        Posterior covariance of the components (A·m)^2, in the lead field's
        orientation basis (``source_nn``).
    frequency : array, shape (n,) | None
        Fraction of the restarts whose support holds the location (None
        without restarts).
    min_evidence : float | None
        The selection threshold used (None: the unselected optimum).
    n_locations : int
        Number of candidate locations.
    region_size : array of int, shape (n,)
        Number of locations in each source's location region (the smallest
        set of nearby locations holding ``region_level`` of the posterior
        of where the source is; see :func:`location_regions`).
    region_radius_mm : array, shape (n,)
        Largest distance from the source's location to a location of its
        region (mm): where the source is, to within the grid's spacing.
    region_level : float
        Probability held by the regions (0.95).
    merged : array of int, shape (n,)
        Number of selected locations each source stands for: 2 or more
        where the estimate was made with ``merge_split=True`` and the
        evidence merged them (``vae_result.info["merges"]``).
    source : array of int, shape (n,)
        The source each row belongs to, as the row of its strongest part:
        ``source[i] != i`` where row ``i`` is a part of a source split over
        neighbouring locations, which one source in between explains as well
        up to what a second source must earn (the selection's threshold;
        :func:`source_groups`). Such rows are one source, not several.
    """

    location: np.ndarray
    vertex: np.ndarray
    hemi: list
    pos: np.ndarray
    amplitude: np.ndarray
    evidence: np.ndarray
    probability: np.ndarray
    posterior_sd: np.ndarray
    posterior_cov: np.ndarray
    frequency: np.ndarray | None
    min_evidence: float | None
    n_locations: int
    region_level: float = 0.95
    merged: np.ndarray | None = None
    _locate: object = None  # computes the regions when first asked for
    _located: dict | None = None

    def _where(self, key):
        """The regions, sources and groups, computed once when first used
        (they take a few tenths of a second on a fine grid)."""
        if self._located is None:
            self._located = (dict(regions=None, source=None, groups=None,
                                  region_size=None, region_radius_mm=None,
                                  problem=None)
                             if self._locate is None else self._locate())
            self._locate = None
        return self._located[key]

    @property
    def region_size(self):
        """Number of locations in each source's location region, (n,)."""
        return self._where("region_size")

    @property
    def region_radius_mm(self):
        """Largest distance (mm) from each source's location to its region's."""
        return self._where("region_radius_mm")

    @property
    def source(self):
        """The source each row belongs to (the row of its strongest part)."""
        return self._where("source")

    @property
    def _regions(self):
        return self._where("regions")

    @property
    def _groups(self):
        return self._where("groups")

    def __len__(self):
        return self.location.size

    def __repr__(self):
        sel = ("unselected" if self.min_evidence is None
               else f"evidence >= {self.min_evidence:.3g}")
        return f"<SourceTable | {len(self)} source(s), {sel}>"

    @property
    def regions(self) -> list:
        """Each source's location region, in the order of the rows.

        One ``(positions, probabilities)`` per source (the order of
        ``stc.data`` and of the dipoles): ``positions`` an array ``(k, 3)``
        of locations in head coordinates (m, as ``fwd["source_rr"]``),
        most probable first; ``probabilities`` an array ``(k,)`` of their
        posterior probabilities, summing to ``region_level`` or more.
        """
        if self._regions is None:
            raise ValueError("This table has no location regions.")
        return [(r.positions, r.probabilities) for r in self._regions]

    def rows(self) -> list:
        """One JSON-ready dict per source, strongest evidence first.

        Returns
        -------
        rows : list of dict
            Keys ``location``, ``vertex``, ``hemi``, ``pos_mm``,
            ``amplitude_nAm``, ``evidence``, ``probability``,
            ``posterior_sd_nAm``, ``region_size``, ``region_radius_mm``,
            ``region`` (its locations: ``pos_mm`` and ``probability``),
            ``merged``, ``source`` (the location of the strongest part of
            the source the row belongs to) and, with restarts,
            ``frequency``.
        """
        out = []
        for i in np.argsort(-self.evidence, kind="stable"):
            row = dict(
                location=int(self.location[i]), vertex=int(self.vertex[i]),
                hemi=self.hemi[i],
                pos_mm=[round(1e3 * float(v), 2) for v in self.pos[i]],
                amplitude_nAm=float(1e9 * self.amplitude[i]),
                evidence=float(self.evidence[i]),
                probability=float(self.probability[i]),
                posterior_sd_nAm=[float(1e9 * v) for v in self.posterior_sd[i]],
            )
            if self.region_size is not None:
                row["region_size"] = int(self.region_size[i])
                row["region_radius_mm"] = round(float(self.region_radius_mm[i]), 2)
                pos, prob = self.regions[i]
                row["region"] = [
                    dict(pos_mm=[round(1e3 * float(v), 2) for v in p_],
                         probability=round(float(q), 4))
                    for p_, q in zip(pos, prob)]
            if self.merged is not None:
                row["merged"] = int(self.merged[i])
            if self.source is not None:
                row["source"] = int(self.location[self.source[i]])
            if self.frequency is not None:
                row["frequency"] = float(self.frequency[i])
            out.append(row)
        return out

    def summary(self, max_rows=10) -> str:
        """A text table of the strongest sources.

        Parameters
        ----------
        max_rows : int
            Most sources listed.

        Returns
        -------
        text : str
        """
        lines = [
            f"{'hemi':>4s} {'vertex':>7s} {'x, y, z (mm)':>22s} {'peak nAm':>9s} "
            f"{'evidence':>9s} {'P(real)':>7s} {'sd nAm':>7s}"
            + (f" {'region':>12s}" if self.region_size is not None else "")
            + (f" {'restarts':>8s}" if self.frequency is not None else "")
        ]
        for row in self.rows()[:max_rows]:
            x, y, z = row["pos_mm"]
            sd = float(np.sqrt(np.sum(np.square(row["posterior_sd_nAm"]))))
            line = (
                f"{row['hemi']:>4s} {row['vertex']:7d} {x:7.1f},{y:6.1f},{z:6.1f} "
                f"{row['amplitude_nAm']:9.2f} {row['evidence']:9.1f} "
                f"{row['probability']:7.3f} {sd:7.2f}"
            )
            if "region_size" in row:
                region = f"{row['region_size']} loc, {row['region_radius_mm']:.0f} mm"
                line += f" {region:>12s}"
            if self.frequency is not None:
                line += f" {row['frequency']:8.2f}"
            if row.get("source", row["location"]) != row["location"]:
                line += f"  (part of the source at location {row['source']})"
            lines.append(line)
        if len(self) > max_rows:
            lines.append(f"... and {len(self) - max_rows} more")
        return "\n".join(lines)


#: Candidate locations of a source: within this distance (m) ...
REGION_RADIUS = 0.02
#: ... and at least this many of the nearest.
REGION_NEIGHBORS = 20


class SourceNeighbors:
    """The candidate locations of a source: those within ``radius`` (m)
    of it, and at least its ``n_neighbors`` nearest, nearest first (itself
    first).

    Parameters
    ----------
    positions : array, shape (n_locations, 3)
        Source positions (m).
    radius : float
    n_neighbors : int
    """

    def __init__(self, positions, radius=REGION_RADIUS, n_neighbors=REGION_NEIGHBORS):
        from scipy.spatial import cKDTree

        self.positions = np.asarray(positions, float)
        self.radius = float(radius)
        self.n_neighbors = min(int(n_neighbors), len(self.positions))
        self._tree = cKDTree(self.positions)

    def __call__(self, location):
        p = self.positions[location]
        idx = np.asarray(self._tree.query_ball_point(p, self.radius), int)
        if idx.size < self.n_neighbors:
            idx = np.atleast_1d(self._tree.query(p, self.n_neighbors)[1])
        d = np.linalg.norm(self.positions[idx] - p, axis=1)
        return idx[np.lexsort((idx != location, d))]


@dataclass(repr=False)
class _Region:
    """A source's location posterior among its candidates."""

    candidates: np.ndarray  # locations, most probable first
    probability: np.ndarray  # all candidates, same order
    n_in: int  # the region: the first n_in candidates
    relocation: object  # solvers._location.Relocation (same order)
    positions_all: np.ndarray

    @property
    def positions(self):
        return self.positions_all[: self.n_in]

    @property
    def probabilities(self):
        return self.probability[: self.n_in]


def _relocation_data(result):
    """The gain and the responses the result was solved on, as
    :func:`vaesource.solvers._location.relocate` takes them."""
    lf = result.info["lead_field"]
    joint = result.info.get("joint")
    if joint is not None:
        responses = joint.info["responses"]
        data = [(r.info["M"], r.gamma, r.info.get("n_times", r.info["M"].shape[1]))
                for r in responses]
        which = next(c for c, r in enumerate(responses) if r is result)
        return lf.G, joint.weights, data, which
    M = result.info["M"]
    n = result.info.get("n_times", M.shape[1])
    if "noise_cov" in result.info:  # learned per type / channel
        basis = result.info["noise_basis"]
        return (basis @ lf.G, result.weights,
                [(basis @ M, result.info["noise_cov"], n)], 0)
    return lf.G, result.weights, [(M, result.gamma, n)], 0


def location_regions(result, level=0.95, neighbors=None, cell_error=True):
    """Where each source of a full-VAE estimate may be.

    Each active location's source is moved to each of its candidate
    locations (the others held) with its best weight there; the rise of
    cost (18), ``D_j``, is ``-2 log`` of the likelihood ratio, so ``p_j
    \\propto exp(-D_j / 2)`` is the posterior of the source's location
    under an equal prior over the candidates (DESIGN.md section 10;
    :mod:`vaesource.solvers._location`, closed form, no refit). The region
    is the smallest set of candidates holding ``level`` of it.

    A real source is not at a grid location: within the cell of location
    ``j`` its lead field differs from ``G_j`` by a term that grows with its
    offset and with the folding of the cortex. With ``cell_error`` that
    term is part of the likelihood: the offset is uniform over the cell
    (per axis variance ``h^2 / 16`` on a surface, a disc of radius ``h /
    2``; ``h^2 / 12`` in a volume, a cube of side ``h``), and the lead field
    is linear in it, its Jacobian read from the differences to the nearest
    locations, so that the source's sensor pattern ``G_j a`` (``a`` its
    moment along its main time course ``v``) carries a Gaussian error of
    covariance ``C = (var / mean(d_n^2 / dim)) mean_n (G_n - G_j) a a^T (G_n
    - G_j)^T`` (``d_n`` the neighbours' distances). It enters the noise of
    the data's component along ``v`` only (``M v``; the error is the same
    at every sample, scaled by the time course), so it grows with the
    source's energy: a strong source is not placed more precisely than its
    cell, and its amplitude band widens with the lead field's error.

    Parameters
    ----------
    result : SolverResult
        The ``vae_result`` of a full-VAE estimate.
    level : float
        Probability the region holds, in (0, 1).
    neighbors : callable | None
        ``neighbors(location)``: its candidates. Default
        :class:`SourceNeighbors` (within 20 mm, at least the nearest 20).
    cell_error : bool
        Include the lead field's error within a grid cell (above). False:
        the grid's own likelihood (exact for sources on the grid).

    Returns
    -------
    regions : list
        One per active location, in the order of ``result.locations``.
    """
    from .solvers._location import relocate

    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"The 'level' parameter must be in (0, 1), got {level}.")
    lf = result.info["lead_field"]
    if neighbors is None:
        neighbors = SourceNeighbors(lf.source_rr)
    problem = _problem(result, level, neighbors, cell_error)
    return [problem.region([int(loc)]) for loc in result.locations]


class _Problem:
    """A solved estimate, ready to move its sources (one or several
    locations at a time) over the cells near them."""

    def __init__(self, G, weights, data, k, lf, neighbors, cell_error, level, which):
        self.G, self.weights, self.data, self.k = G, weights, data, k
        self.lf, self.neighbors = lf, neighbors
        self.cell_error, self.level, self.which = cell_error, level, which
        # time courses: the data's own columns (not a thin factor of epochs)
        self.timed = all(M.shape[1] == n for M, _, n in data)
        self._base = None

    def candidates(self, moved):
        return np.unique(np.concatenate([self.neighbors(a) for a in moved]))

    def points(self, moved, cand):
        """The cells near the source and their points (all of them: a cell
        whose own location fits far worse than the best may hold points,
        towards its neighbours, that fit well; measured: keeping only the
        cells within a rise of 30 of the best lost a sixth of the regions'
        coverage on the template cortex)."""
        if not self.cell_error:
            return np.arange(cand.size), (cand, cand, np.zeros(cand.size))
        return _cell_points(cand, self.neighbors)

    def relocate(self, moved, points, per_sample=False):
        """Move the source made of ``moved`` to ``points`` ``(a, b, f)``."""
        from .solvers._location import relocate

        blocks, frame = _point_gains(self.G, self.lf, *points)
        rel, self._base = relocate(
            self.G, self.weights, self.data, self.k, moved, points[0],
            means=False, responses=self._base, blocks=blocks,
            per_sample=per_sample and self.timed)
        return rel, frame

    def region(self, moved):
        """The region of the source made of ``moved`` (its posterior over
        the cells' points; the band is computed when asked for)."""
        cand = self.neighbors(moved[0]) if len(moved) == 1 else self.candidates(moved)
        cell, points = self.points(moved, cand)
        rel, _ = self.relocate(moved, points)
        q = rel.probability()
        # the posterior of the cells (equal prior over each cell's points)
        p = np.bincount(cell, weights=q, minlength=cand.size)
        order = np.argsort(-p, kind="stable")
        n_in = int(np.searchsorted(np.cumsum(p[order]), self.level * (1 - 1e-12)) + 1)
        n_in = min(n_in, order.size)
        return _Region(
            candidates=cand[order], probability=p[order], n_in=n_in,
            relocation=dict(points=q, where=points, moved=list(moved),
                            delta_cost=rel.delta_cost, weight=rel.weight),
            positions_all=self.lf.source_rr[cand[order]],
        )

    def band_terms(self, region):
        """The posterior of the region's likely points, per sample."""
        rel = region.relocation
        q = rel["points"]
        keep = q >= _MIN_POINT * q.max()
        points = tuple(x[keep] for x in rel["where"])
        moved_rel, frame = self.relocate(rel["moved"], points, per_sample=True)
        return q[keep] / q[keep].sum(), moved_rel, frame

    def merge_cost(self, moved):
        """Rise of cost (18) when the locations ``moved`` are one source at
        the best point of their cells."""
        cand = self.candidates(moved)
        _, points = self.points(moved, cand)
        rel, _ = self.relocate(moved, points)
        return float(rel.delta_cost.min())


def source_groups(result, threshold, neighbors=None, level=0.95):
    """Pairs of selected locations that the evidence says are one source.

    Two active locations whose neighbourhoods overlap are moved together to
    each point of their cells (:func:`location_regions`); when cost (18)
    rises by less than ``threshold`` (the evidence a location needs to be
    kept) at the best point, one source there explains the data as well as
    the two do, up to what a second source must earn: they are one source,
    split over the grid. The pairs with the smallest rise go first; a
    location belongs to one pair at most.

    Parameters
    ----------
    result : SolverResult
        The ``vae_result`` of a full-VAE estimate.
    threshold : float
        Evidence threshold (the selection's ``min_evidence``).
    neighbors : callable | None
        ``neighbors(location)``: its candidates. Default
        :class:`SourceNeighbors` (within 20 mm, at least the nearest 20).
    level : float
        Probability held by each pair's region.

    Returns
    -------
    source : array of int, shape (n_active_locations,)
        The source of each active location, as the index of its strongest
        part.
    groups : dict
        Index of the strongest part -> the region of the pair moved
        together (its band is the whole source's).
    """
    return _pair_sources(_problem(result, level, neighbors), result, threshold)


def _pair_sources(problem, result, threshold):
    """:func:`source_groups` on a prepared problem."""
    locs = [int(v) for v in result.locations]
    hoods = [set(problem.neighbors(a).tolist()) for a in locs]
    tests = []
    for x in range(len(locs)):
        for y in range(x + 1, len(locs)):
            if locs[y] in hoods[x] or locs[x] in hoods[y]:
                d = problem.merge_cost([locs[x], locs[y]])
                if d < threshold:
                    tests.append((d, x, y))
    strength = result.row_norms[result.locations] if locs else np.zeros(0)
    source = np.arange(len(locs))
    groups = {}
    for d, x, y in sorted(tests):
        if source[x] != x or source[y] != y or x in groups or y in groups:
            continue
        head, part = (x, y) if strength[x] >= strength[y] else (y, x)
        source[part] = head
        groups[head] = problem.region([locs[head], locs[part]])
    return source, groups


#: A cell's points: its location and the points this far towards each of
#: its nearest locations (half-way is the cell's edge).
CELL_FRACTIONS = (0.25, 0.5)
#: Nearest locations a cell reaches towards.
N_CELL = 6


def _cell_points(candidates, neighbors):
    """Points covering each candidate's cell: the location itself and the
    points :data:`CELL_FRACTIONS` of the way towards each of its
    :data:`N_CELL` nearest locations. Returns the cell of each point (index
    into ``candidates``) and the points as ``(a, b, f)``: ``f`` of the way
    from location ``a`` to location ``b``."""
    cell, a, b, f = [], [], [], []
    for c, j in enumerate(candidates):
        cell.append(c)
        a.append(j), b.append(j), f.append(0.0)
        near = [n for n in neighbors(int(j))[: N_CELL + 2] if n != j][:N_CELL]
        for n in near:
            for frac in CELL_FRACTIONS:
                cell.append(c)
                a.append(j), b.append(n), f.append(frac)
    return (np.array(cell, int),
            (np.array(a, int), np.array(b, int), np.array(f, float)))


def _point_gains(G, lf, a, b, f):
    """The gains of points ``f`` of the way from ``a`` to ``b`` (a
    :class:`~vaesource.solvers._location.PointGains`) and their frames
    (:func:`_frames`).

    A source there has, to first order, the lead field ``(1 - f) L_a + f
    L_b`` (x, y, z components) and the orientation frame of the cortex
    there: the normal ``(1 - f) nn_a + f nn_b`` (normalised) and two
    tangents, weighted as the grid's columns are. With a fixed orientation
    the normal columns are interpolated.
    """
    from .solvers._location import PointGains

    k = lf.n_orient
    frame = _frames(lf, a, b, f)
    Gl = G.reshape(G.shape[0], -1, k)
    # each distinct location once (a cell's points share their own and
    # their neighbours' lead fields)
    locs, idx = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = idx[: a.size], idx[a.size:]
    if k == 1:
        return PointGains(Gl[:, locs], ia, ib, f), frame
    sw = lf.source_weighting.reshape(-1, k)
    nn = lf.source_nn.reshape(-1, k, 3)
    # x, y, z lead fields (whitened): L = (G_j / sw_j) nn_j
    L_u = np.matmul((Gl[:, locs] / sw[locs]).transpose(1, 0, 2), nn[locs])
    # the x, y, z frame of a free grid is L's own
    return PointGains(L_u.transpose(1, 0, 2), ia, ib, f,
                      None if frame["free"] else frame["nn"],
                      frame["scale"]), frame


def _frames(lf, a, b, f):
    """Scale to A·m and orientation frames (x, y, z) of points ``f`` of the
    way from locations ``a`` to ``b``: ``scale`` (n, k), ``nn`` (n, k, 3),
    orthonormal (the normal interpolated, the tangents completing it)."""
    k = lf.n_orient
    sw = lf.source_weighting.reshape(-1, k)
    nn = lf.source_nn.reshape(-1, k, 3)
    g = f[:, None]
    scale = (1 - g) * sw[a] + g * sw[b]
    normal = (1 - g) * nn[a, 0] + g * nn[b, 0]
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    if k == 1:
        return dict(scale=scale, nn=normal[:, None, :], free=False)
    # tangents: the first grid tangent made orthogonal to the normal
    t1 = (1 - g) * nn[a, 1] + g * nn[b, 1]
    t1 -= np.sum(t1 * normal, axis=1, keepdims=True) * normal
    bad = np.linalg.norm(t1, axis=1) < 1e-6
    if bad.any():
        t1[bad] = np.cross(normal[bad], [1.0, 0.0, 0.0])
        t1[bad] -= np.sum(t1[bad] * normal[bad], axis=1, keepdims=True) * normal[bad]
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(normal, t1)
    frames = np.stack([normal, t1, t2], axis=1)
    # a free-orientation grid (x, y, z columns) keeps its own frame
    free = np.allclose(nn[a], nn[b]) and np.allclose(nn[a][:1], np.eye(3))
    if free:
        frames = nn[a]
    return dict(scale=scale, nn=frames,
                free=free and bool(np.all(frames == np.eye(3))))


def source_table(result, level=0.95):
    """The :class:`SourceTable` of a solved full-VAE problem.

    Parameters
    ----------
    result : SolverResult
        The ``vae_result`` of an estimate of :func:`vaesource.apply_vae_inverse`
        with ``model="full"`` (its ``info`` holds the lead field).
    level : float
        Probability held by the location regions.

    Returns
    -------
    table : SourceTable
    """
    lf = result.info["lead_field"]
    k = result.n_orient
    locs = result.locations
    cols = result.active_set
    sw = lf.source_weighting[cols].reshape(-1, k)
    cov = result.posterior_cov * sw[:, :, None] * sw[:, None, :]
    X = _physical_rows(result)
    amp = np.sqrt(np.sum(X**2, axis=1)).max(axis=1) if locs.size else np.zeros(0)
    vertex, hemi = [], []
    offsets = np.cumsum([0] + [len(v) for v in lf.vertices])
    kinds = _hemi_names(lf)
    for loc in locs:
        s = int(np.searchsorted(offsets, loc, side="right") - 1)
        vertex.append(int(lf.vertices[s][loc - offsets[s]]))
        hemi.append(kinds[s])
    restarts = result.info.get("restarts")
    selection = result.info.get("selection")
    locate = None
    if locs.size == 0 or "noise_cov" not in result.info or "noise_basis" in result.info:
        threshold = (auto_min_evidence(lf.n_sources) if selection is None
                     else selection["min_evidence"])
        locate = functools.partial(_locate_sources, result, level, threshold)
    parts = {}  # selected locations each merged source stands for
    for m in result.info.get("merges", []):
        parts[m["location"]] = sum(parts.pop(a, 1) for a in m["merged"])
    merged = np.array([parts.get(int(loc), 1) for loc in locs], int)
    return SourceTable(
        location=locs, vertex=np.array(vertex, int), hemi=hemi,
        pos=lf.source_rr[locs], amplitude=amp, evidence=result.evidence,
        probability=inclusion_probability(result.evidence, lf.n_sources),
        posterior_sd=np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0)),
        posterior_cov=cov,
        frequency=None if restarts is None else restarts["frequency"],
        min_evidence=None if selection is None else selection["min_evidence"],
        n_locations=lf.n_sources,
        region_level=level, merged=merged, _locate=locate,
    )


def _locate_sources(result, level, threshold):
    """Regions, sizes, radii, sources and groups of a table."""
    lf = result.info["lead_field"]
    locs = result.locations
    # one factorisation of Sigma for the regions, the pairs and the bands
    problem = _problem(result, level)
    regions = [problem.region([int(loc)]) for loc in locs]
    source, groups = _pair_sources(problem, result, threshold)
    radius = np.array([
        1e3 * np.max(np.linalg.norm(r.positions - lf.source_rr[loc], axis=1))
        for r, loc in zip(regions, locs)])
    return dict(regions=regions, source=source, groups=groups,
                region_size=np.array([r.n_in for r in regions], int),
                region_radius_mm=radius, problem=problem)


def _physical_rows(result):
    """Active time courses in A·m, shape (n_locations, n_orient, n_times)."""
    lf = result.info["lead_field"]
    cols = result.active_set
    k = result.n_orient
    X = result.X[cols] * lf.source_weighting[cols, None]
    return X.reshape(cols.size // k, k, result.X.shape[1])


def _hemi_names(lf):
    src = lf.forward["src"]
    if src.kind == "surface":
        return ["lh", "rh"][: len(src)]
    return ["vol"] * len(src)


def credible_interval(estimate, level=0.95, location=False, merged=False):
    """Pointwise credible band of a full-VAE estimate's time courses.

    On the grid (``location=False``) the posterior of the sources is
    Gaussian with the covariance of :attr:`SourceTable.posterior_cov` at
    every time sample. For a fixed orientation or a vector estimate the band
    of each component is ``x -/+ z sd``; for the norm over orientations of a
    free / loose estimate it is the delta-method band ``|x| -/+ z sqrt(u^T C
    u)`` with ``u = x / |x|``, clipped at 0.

    With ``location=True`` the band allows for where the source is: each
    source's posterior is the mixture, over the points of its location
    region's cells (:func:`location_regions`), of the posterior of a source
    moved there, weighted by the probability of the point. The band holds
    ``level`` of the mixture (its quantiles at ``(1 -/+ level) / 2``). A
    source off the grid is seen by the grid's nearest locations with a
    biased amplitude (a deeper or shallower lead field, another
    orientation); the mixture spans them.

    Parameters
    ----------
    estimate : mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate
        An estimate returned by :func:`vaesource.apply_vae_inverse` with
        ``model="full"``.
    level : float
        Posterior probability inside the band, in (0, 1).
    location : bool
        Include the uncertainty of the sources' locations (above). False:
        the band of the estimate's own locations.
    merged : bool
        With ``location``: rows that are one source split over the grid
        (:attr:`SourceTable.source`) get one band, of the whole source's
        amplitude (all of its rows moved together, :func:`source_groups`),
        on the row of its strongest part; its other rows are NaN.

    Returns
    -------
    lower, upper : source estimates
        Copies of ``estimate`` holding the band's edges, with the shape of
        ``estimate.data``.
    """
    from scipy.stats import norm

    table = getattr(estimate, "vae_sources", None)
    result = getattr(estimate, "vae_result", None)
    if table is None or result is None:
        raise ValueError(
            "The estimate carries no posterior: credible intervals need an "
            "estimate of vaesource.apply_vae_inverse(..., model='full')."
        )
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"The 'level' parameter must be in (0, 1), got {level}.")
    lower, upper = estimate.copy(), estimate.copy()
    if location:
        lower.data, upper.data = _location_band(estimate, table, level, merged)
        return lower, upper
    z = norm.ppf(0.5 + level / 2)
    lf = result.info["lead_field"]
    k = result.n_orient
    n = len(table)
    X = _physical_rows(result)
    C = table.posterior_cov
    data = estimate.data
    if data.ndim == 3:  # vector: rotate to x, y, z
        nn = lf.source_nn[result.active_set].reshape(n, k, 3)
        C_xyz = np.einsum("iaj,iab,ibk->ijk", nn, C, nn)
        sd = np.sqrt(np.maximum(np.diagonal(C_xyz, axis1=1, axis2=2), 0))
        lower.data = data - z * sd[:, :, None]
        upper.data = data + z * sd[:, :, None]
    elif k == 1:
        sd = np.sqrt(np.maximum(C[:, 0, 0], 0))
        lower.data = data - z * sd[:, None]
        upper.data = data + z * sd[:, None]
    else:
        size = np.linalg.norm(X, axis=1)
        u = X / np.where(size > 0, size, 1.0)[:, None, :]
        var = np.einsum("iat,iab,ibt->it", u, C, u)
        sd = np.sqrt(np.maximum(var, 0))
        lower.data = np.maximum(data - z * sd, 0.0)
        upper.data = data + z * sd
    return lower, upper


#: Points of a mixture below this probability are left out of its band.
_MIN_POINT = 1e-4


def _location_band(estimate, table, level, merged=False):
    """The band of each source's mixture over the points of its region."""
    result = estimate.vae_result
    if table._regions is None or "n_epochs" in result.info:
        raise ValueError(
            "This estimate has no location posterior with time courses (the "
            "shared support of many epochs is solved on a factor of their "
            "summed outer product, not on time samples): use location=False."
        )
    problem = table._where("problem") or _problem(result, table.region_level)
    data = estimate.data
    lo, hi = np.zeros_like(data), np.zeros_like(data)
    nn_rows = _row_normals(estimate)
    for i, region in enumerate(table._regions):
        if merged and table.source is not None and table.source[i] != i:
            lo[i] = hi[i] = np.nan  # a part of the source on another row
            continue
        if merged and i in table._groups:
            region = table._groups[i]
        q, rel, frame = problem.band_terms(region)
        lo[i], hi[i] = _region_band(q, rel, frame, problem.which, data.ndim,
                                    nn_rows[i], level)
    return lo, hi


def _problem(result, level=0.95, neighbors=None, cell_error=True):
    lf = result.info["lead_field"]
    if neighbors is None:
        neighbors = SourceNeighbors(lf.source_rr)
    G, weights, data, which = _relocation_data(result)
    return _Problem(G, weights, data, result.n_orient, lf, neighbors,
                    cell_error, level, which)


def _region_band(q, rel, frame, c, ndim, normal, level):
    """The band of one source: the mixture, with weights ``q``, of its
    posteriors at the points (``rel``, response ``c``)."""
    scale = frame["scale"]
    mu = rel.means[c] * scale[:, :, None]  # (p, k, t) A·m
    # per sample covariances (p, t, k, k), A·m^2
    C = rel.covs[c] * scale[:, None, :, None] * scale[:, None, None, :]
    nn = frame["nn"]  # (p, k, 3)
    if ndim == 3:  # vector: each of x, y, z
        mu_xyz = np.einsum("pkt,pkd->pdt", mu, nn)
        C_xyz = np.einsum("pad,ptab,pbe->ptde", nn, C, nn)
        sd = np.sqrt(np.maximum(np.diagonal(C_xyz, axis1=2, axis2=3), 0))
        bands = [_mixture_band(q, mu_xyz[:, d], sd[:, :, d], level) for d in range(3)]
        return np.stack([b[0] for b in bands]), np.stack([b[1] for b in bands])
    if mu.shape[1] == 1:  # fixed: signed along the row's normal
        sign = np.sign(nn[:, 0] @ normal)
        sign[sign == 0] = 1.0
        sd = np.sqrt(np.maximum(C[:, :, 0, 0], 0))
        return _mixture_band(q, sign[:, None] * mu[:, 0], sd, level)
    # the norm over orientations: its quantiles, by sampling
    return _norm_band(q, mu, C, level)


def _row_normals(estimate):
    """Orientation (x, y, z) of each row of a fixed-orientation estimate."""
    result = estimate.vae_result
    lf = result.info["lead_field"]
    k = result.n_orient
    return lf.source_nn[result.active_set[::k]]


#: Draws of the norm's distribution, shared among a mixture's points in
#: proportion to their weights (at least :data:`MIN_DRAWS` each; fixed seed:
#: the same band for the same estimate).
N_DRAWS = 2048
MIN_DRAWS = 16


def _norm_band(q, mu, C, level):
    """Quantiles at each time of the norm ``|x|`` of the mixture of
    Gaussians ``N(mu_p(t), C_p(t))`` with weights ``q``: a component the
    sensors do not see (a radial dipole in a sphere) keeps its prior
    variance, which the band of the norm must include."""
    p, k, n_t = mu.shape
    counts = np.maximum(MIN_DRAWS, np.round(q * N_DRAWS).astype(int))
    z = np.random.default_rng(0).standard_normal((counts.max(), k))
    # C = L L^T per point and time (eigh: C may be singular)
    lam, V = np.linalg.eigh(C)  # (p, t, k), (p, t, k, k)
    L = V * np.sqrt(np.maximum(lam, 0))[:, :, None, :]
    sizes, wts = [], []
    for j in range(p):
        # x[t, d] = mu_t + L_t z_d (a product per time; einsum has no fast
        # path for it)
        x = mu[j].T[:, None, :] + np.matmul(z[:counts[j]], L[j].transpose(0, 2, 1))
        sizes.append(np.sqrt(np.sum(x**2, axis=-1)))  # (t, draws)
        wts.append(np.full(counts[j], q[j] / counts[j]))
    size = np.concatenate(sizes, axis=1)
    wts = np.concatenate(wts)
    order = np.argsort(size, axis=1)
    ranked = np.take_along_axis(size, order, axis=1)
    cum = np.cumsum(wts[order], axis=1)
    rows = np.arange(n_t)
    return [ranked[rows, np.argmax(cum >= target * cum[:, -1:], axis=1)]
            for target in ((1 - level) / 2, (1 + level) / 2)]


def _mixture_band(q, mu, sd, level, n_iter=60):
    """Quantiles ``(1 -/+ level) / 2`` at each time of the Gaussian mixture
    with weights ``q`` (p,), means ``mu`` and sds ``sd`` (p, t)."""
    from scipy.special import ndtr

    sd = np.maximum(sd, 1e-12 * (np.abs(mu).max() + 1e-30))
    out = []
    for target in ((1 - level) / 2, (1 + level) / 2):
        a = (mu - 9 * sd).min(axis=0)
        b = (mu + 9 * sd).max(axis=0)
        for _ in range(n_iter):
            m = 0.5 * (a + b)
            cdf = np.sum(q[:, None] * ndtr((m[None] - mu) / sd), axis=0)
            below = cdf < target
            a = np.where(below, m, a)
            b = np.where(below, b, m)
        out.append(0.5 * (a + b))
    return out


__all__ = [
    "SourceNeighbors",
    "SourceTable",
    "credible_interval",
    "location_regions",
    "source_groups",
    "source_table",
]

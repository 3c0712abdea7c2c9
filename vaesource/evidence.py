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

from dataclasses import dataclass

import numpy as np

from .solvers import inclusion_probability


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

    def __len__(self):
        return self.location.size

    def __repr__(self):
        sel = ("unselected" if self.min_evidence is None
               else f"evidence >= {self.min_evidence:.3g}")
        return f"<SourceTable | {len(self)} source(s), {sel}>"

    def rows(self) -> list:
        """One JSON-ready dict per source, strongest evidence first.

        Returns
        -------
        rows : list of dict
            Keys ``location``, ``vertex``, ``hemi``, ``pos_mm``,
            ``amplitude_nAm``, ``evidence``, ``probability``,
            ``posterior_sd_nAm`` and, with restarts, ``frequency``.
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
            if self.frequency is not None:
                line += f" {row['frequency']:8.2f}"
            lines.append(line)
        if len(self) > max_rows:
            lines.append(f"... and {len(self) - max_rows} more")
        return "\n".join(lines)


def source_table(result):
    """The :class:`SourceTable` of a solved full-VAE problem.

    Parameters
    ----------
    result : SolverResult
        The ``vae_result`` of an estimate of :func:`vaesource.apply_vae_inverse`
        with ``model="full"`` (its ``info`` holds the lead field).

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
    return SourceTable(
        location=locs, vertex=np.array(vertex, int), hemi=hemi,
        pos=lf.source_rr[locs], amplitude=amp, evidence=result.evidence,
        probability=inclusion_probability(result.evidence, lf.n_sources),
        posterior_sd=np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0)),
        posterior_cov=cov,
        frequency=None if restarts is None else restarts["frequency"],
        min_evidence=None if selection is None else selection["min_evidence"],
        n_locations=lf.n_sources,
    )


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


def credible_interval(estimate, level=0.95):
    """Pointwise credible band of a full-VAE estimate's time courses.

    The posterior of the sources is Gaussian with the covariance of
    :attr:`SourceTable.posterior_cov` at every time sample. For a fixed
    orientation or a vector estimate the band of each component is ``x -/+
    z sd``; for the norm over orientations of a free / loose estimate it is
    the delta-method band ``|x| -/+ z sqrt(u^T C u)`` with ``u = x / |x|``,
    clipped at 0.

    Parameters
    ----------
    estimate : mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate
        An estimate returned by :func:`vaesource.apply_vae_inverse` with
        ``model="full"``.
    level : float
        Posterior probability inside the band, in (0, 1).

    Returns
    -------
    lower, upper : source estimates
        Copies of ``estimate`` holding the band's edges.
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
    z = norm.ppf(0.5 + level / 2)
    lf = result.info["lead_field"]
    k = result.n_orient
    n = len(table)
    X = _physical_rows(result)
    C = table.posterior_cov
    data = estimate.data
    lower, upper = estimate.copy(), estimate.copy()
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


__all__ = ["SourceTable", "credible_interval", "source_table"]

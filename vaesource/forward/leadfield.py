"""Whitened, depth-weighted gain matrices from :class:`mne.Forward` objects.

This is the bridge between MNE objects and the array solvers: it turns a
forward solution, the measurement info and a noise covariance into the
dictionary ``G`` of the paper (whitened so that the noise is white with unit
variance, orientation-constrained, depth-weighted), and keeps what is needed
to map its rows back to channels and its columns back to source locations,
orientations and physical units.

The preparation itself is MNE-Python's
(:func:`mne.minimum_norm.inverse._prepare_forward`, the same code path as
``mne.inverse_sparse.mxne_inverse._prepare_gain`` used by
:func:`mne.inverse_sparse.mixed_norm` and :func:`mne.inverse_sparse.gamma_map`),
so that results are comparable with MNE's sparse solvers; this module adds
input checks with clear messages and a documented result object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .._docs import fill_doc
from .. import _mne_compat
from ..utils import _validate_type, logger, use_log_level


@dataclass(frozen=True, repr=False)
class LeadField:
    """A whitened, orientation-constrained, depth-weighted gain matrix.

    The model is ``M = G @ X + E`` with ``E`` white, unit-variance noise,
    where ``M = whitener @ data[picks]`` and the physical source amplitudes
    (A·m) are ``source_weighting[:, None] * X``.

    Attributes
    ----------
    G : array, shape (n_rows, n_sources * n_orient)
        Whitened and weighted gain. ``n_rows`` is the number of channels, or
        the noise-covariance rank when ``pca=True``. Column ``n_orient * i + j``
        is orientation ``j`` of source ``i``.
    ch_names : list of str, length n_channels
        Channels used, in the order of the whitener's columns.
    n_orient : int
        1 (fixed orientation) or 3 (free or loose orientation).
    source_weighting : array, shape (n_sources * n_orient,)
        Scale of each column (depth and orientation priors, and the overall
        normalisation making ``||G||_F^2`` equal to the noise rank): a
        solution ``X`` of the weighted problem is ``source_weighting[:, None]
        * X`` in A·m.
    whitener : array, shape (n_rows, n_channels)
        Noise whitener, including the SSP projections and the average
        reference when they are in the info.
    rank : int
        Rank of the noise covariance (dimension of the whitened data).
    vertices : list of array of int
        Source vertices (one array per source space), as for
        :class:`mne.SourceEstimate`.
    source_rr : array, shape (n_sources, 3)
        Source positions in head coordinates (m).
    source_nn : array, shape (n_sources * n_orient, 3)
        Orientation of each column, in head coordinates.
    info : mne.Info
        The measurement info restricted to ``ch_names``.
    forward : mne.Forward
        The forward restricted to ``ch_names`` and converted to the requested
        orientation (not whitened).
    depth_prior : array, shape (n_sources * n_orient,) | None
        Depth-weighting prior (variance), None without depth weighting.
    orient_prior : array, shape (n_sources * n_orient,) | None
        Orientation prior (variance: 1 normal to the cortex, ``loose``
        tangential), None for fixed or free orientation.
    """

    G: np.ndarray
    ch_names: list
    n_orient: int
    source_weighting: np.ndarray
    whitener: np.ndarray
    rank: int
    vertices: list
    source_rr: np.ndarray
    source_nn: np.ndarray
    info: object
    forward: object
    depth_prior: np.ndarray | None = None
    orient_prior: np.ndarray | None = None

    def __repr__(self) -> str:
        kind = {1: "fixed", 3: "free/loose"}[self.n_orient]
        return (
            f"<LeadField | {self.G.shape[0]} rows from {self.n_channels} "
            f"channels (noise rank {self.rank}) x {self.n_sources} sources "
            f"({kind} orientation, {self.G.shape[1]} columns)>"
        )

    @property
    def n_sources(self) -> int:
        """Number of source locations."""
        return len(self.source_rr)

    @property
    def n_channels(self) -> int:
        """Number of channels used."""
        return len(self.ch_names)

    def whiten(self, data) -> np.ndarray:
        """Whitened data ``M`` matching the rows of ``G``.

        Parameters
        ----------
        data : mne.Evoked | array, shape (n_channels, n_times)
            Evoked data (channels are picked by name) or an array whose rows
            are already in the order of ``ch_names``.

        Returns
        -------
        M : array, shape (n_rows, n_times)
        """
        if hasattr(data, "info") and hasattr(data, "data"):
            missing = [c for c in self.ch_names if c not in data.ch_names]
            if missing:
                raise ValueError(
                    f"The data lack {len(missing)} channel(s) of the lead field, "
                    f"e.g. {missing[:5]}."
                )
            sel = [data.ch_names.index(c) for c in self.ch_names]
            arr = np.asarray(data.data)[sel]
        else:
            arr = np.asarray(data, dtype=float)
            if arr.ndim != 2 or arr.shape[0] != self.n_channels:
                raise ValueError(
                    f"The 'data' parameter must have shape ({self.n_channels}, "
                    f"n_times), got {arr.shape}."
                )
        return self.whitener @ arr

    def unweight(self, X: ArrayLike) -> np.ndarray:
        """Source amplitudes (A·m) from a solution of the weighted problem.

        Parameters
        ----------
        X : array, shape (n_sources * n_orient, n_times) | (n_sources * n_orient,)

        Returns
        -------
        X_phys : array, same shape as ``X``
        """
        X = np.asarray(X)
        w = self.source_weighting
        return X * (w if X.ndim == 1 else w[:, np.newaxis])


@fill_doc
def leadfield_from_forward(
    forward,
    info_or_evoked,
    noise_cov=None,
    *,
    loose: float | Literal["auto"] = "auto",
    depth: float | dict | None = 0.8,
    fixed: bool | Literal["auto"] = "auto",
    rank: dict | Literal["info", "full"] | None = None,
    pca: bool = False,
    verbose: bool | str | int | None = None,
) -> LeadField:
    """Gain matrix of a forward solution, whitened and depth-weighted.

    Parameters
    ----------
    forward : mne.Forward
        Forward solution; free orientation (and surface orientation is
        computed when needed) for loose or fixed gains, or already fixed.
    info_or_evoked : mne.Info | mne.Evoked
        Measurement info (or an object with one) giving the channels, their
        bad-channel marks and the SSP projections.
    noise_cov : mne.Covariance | None
        Noise covariance used for whitening. None uses
        :func:`mne.make_ad_hoc_cov` (diagonal, default noise per channel
        type), which only makes channel types commensurate.
    %(loose)s
    %(depth)s
    fixed : bool | ``"auto"``
        Fixed orientation (same as ``loose=0``).
    %(rank)s
    pca : bool
        If True, the whitener maps onto the ``rank`` non-zero noise
        components, so ``G`` has ``rank`` rows and the whitened noise is
        exactly white; if False (MNE's sparse solvers), ``G`` has one row per
        channel and projected-out directions are rows of zeros.
    %(verbose)s

    Returns
    -------
    lead_field : LeadField
        Gain and the maps back to channels and sources.

    Notes
    -----
    Channels used are the good channels of ``info_or_evoked`` whose types are
    in the forward model; channels of other types (e.g. EEG with a MEG-only
    forward) are ignored, which is logged. Every used channel must be in the
    forward and in the noise covariance, otherwise a ValueError names the
    missing ones (MNE would drop them silently).
    """
    import mne

    _validate_type(forward, mne.Forward, "forward")
    info = info_or_evoked if isinstance(info_or_evoked, mne.Info) else None
    if info is None:
        info = getattr(info_or_evoked, "info", None)
        _validate_type(info, mne.Info, "info_or_evoked",
                       "an mne.Info or have an 'info' attribute")
    _validate_type(noise_cov, (mne.Covariance, None), "noise_cov")
    _validate_type(loose, ("numeric", str), "loose", "'auto' or a number in [0, 1]")
    if not (loose == "auto" or (not isinstance(loose, str) and 0 <= loose <= 1)):
        raise ValueError(
            f"The 'loose' parameter must be 'auto' or a number in [0, 1], got "
            f"{loose!r}."
        )
    _validate_type(fixed, (bool, str), "fixed", "True, False or 'auto'")
    if not (fixed == "auto" or isinstance(fixed, bool)):
        raise ValueError(
            f"The 'fixed' parameter must be True, False or 'auto', got {fixed!r}."
        )

    with use_log_level(verbose, quiet_mne=True):
        ch_names = _check_channels(forward, info, noise_cov)
        if ch_names == info["ch_names"]:
            info = info.copy()  # what pick_info of every channel gives, 25x faster
        else:
            index = {c: i for i, c in enumerate(info["ch_names"])}
            info = mne.pick_info(info, [index[c] for c in ch_names])
        if noise_cov is None:
            logger.info(
                "No noise covariance: whitening with an ad hoc diagonal "
                "covariance (mne.make_ad_hoc_cov)."
            )
            noise_cov = mne.make_ad_hoc_cov(info, verbose=False)
        depth_opts = _mne_compat.check_depth(depth)
        (
            fwd,
            gain_info,
            G,
            depth_prior,
            orient_prior,
            source_weighting,
            _,
            noise_cov_prep,
            whitener,
        ) = _prepare_gain(
            forward,
            info,
            noise_cov,
            fixed=fixed,
            loose=loose,
            rank=rank,
            pca=pca,
            depth_opts=depth_opts,
        )
    n_orient = 1 if mne.forward.is_fixed_orient(fwd) else 3
    n_rank = int(np.sum(noise_cov_prep["eig"] > 0))
    logger.info(
        "Lead field: %d channels (rank %d) x %d sources x %d orientation(s)",
        len(gain_info["ch_names"]),
        n_rank,
        fwd["nsource"],
        n_orient,
    )
    return LeadField(
        G=G,
        ch_names=list(gain_info["ch_names"]),
        n_orient=n_orient,
        source_weighting=np.asarray(source_weighting),
        whitener=whitener,
        rank=n_rank,
        vertices=[np.asarray(s["vertno"]) for s in fwd["src"]],
        source_rr=fwd["source_rr"],
        source_nn=fwd["source_nn"],
        info=gain_info,
        forward=fwd,
        depth_prior=depth_prior,
        orient_prior=None if orient_prior is None else np.asarray(orient_prior),
    )


def _check_channels(forward, info, noise_cov):
    """Good channels of ``info`` to use; ValueError if some are not modelled."""
    import mne

    fwd_names = set(forward["sol"]["row_names"])
    fwd_types = set(forward["info"].get_channel_types())
    bads = set(info["bads"])
    if noise_cov is not None:
        bads |= set(noise_cov["bads"])
    types = info.get_channel_types()
    data_picks = mne.pick_types(
        info, meg=True, eeg=True, seeg=True, ecog=True, dbs=True, exclude=()
    )
    used, ignored = [], {}
    for pick in data_picks:
        name, kind = info["ch_names"][pick], types[pick]
        if name in bads:
            continue
        if kind in fwd_types:
            used.append(name)
        else:
            ignored[kind] = ignored.get(kind, 0) + 1
    if ignored:
        logger.info(
            "Ignoring channels of types absent from the forward model: %s",
            ", ".join(f"{n} {k}" for k, n in sorted(ignored.items())),
        )
    missing = [c for c in used if c not in fwd_names]
    if missing:
        raise ValueError(
            f"The forward solution does not cover the data: {len(missing)} good "
            f"channel(s) of types {sorted(fwd_types)} are missing from it, e.g. "
            f"{missing[:5]}. Compute the forward for the same info, or drop "
            "these channels from the data (mark them bad or pick)."
        )
    if noise_cov is not None:
        cov_names = set(noise_cov["names"])
        missing = [c for c in used if c not in cov_names]
        if missing:
            raise ValueError(
                f"The noise covariance lacks {len(missing)} good channel(s) of "
                f"the data, e.g. {missing[:5]}."
            )
    if not used:
        raise ValueError(
            "No good data channel of the info is in the forward model "
            f"(forward channel types: {sorted(fwd_types)})."
        )
    return used


def _prepare_gain(forward, info, noise_cov, *, fixed, loose, rank, pca, depth_opts):
    """The whitened, depth-weighted gain of MNE's sparse solvers, prepared once.

    The same steps, in the same order, as MNE's ``_prepare_forward`` (the
    path of ``mne.inverse_sparse.mxne_inverse._prepare_gain``): orientation
    conversion, channel selection, depth prior on the whitened gain (the
    sparse solvers' ``limit_depth_chs="whiten"``, ``combine_xyz="fro"``, no
    limit), orientation prior, whitening, and the scale that makes
    ``||G||_F^2`` the noise rank. MNE prepares the noise covariance three
    times on that path (each with a rank estimate and an eigendecomposition:
    measured 0.15 s of a 0.21 s preparation on the ico3 template); here it is
    prepared once (:func:`mne.cov.prepare_noise_cov`), the whitener is built
    from that one eigendecomposition, and the gain is whitened once (the
    depth prior reads its column norms, which a rotation of the whitener does
    not change). ``tests/test_operator.py`` checks the result against MNE's
    own path to 1e-10.

    ``info`` holds exactly the channels to use (good, in the forward and the
    covariance), in their order.

    Returns
    -------
    ``(forward, info, gain, depth_prior, orient_prior, source_weighting,
    trace_GRGT, noise_cov, whitener)`` as MNE's ``_prepare_forward``.
    """
    import mne
    from mne.forward import (
        compute_orient_prior,
        convert_forward_solution,
        is_fixed_orient,
    )

    forward = forward.copy()
    loose = _mne_compat.triage_loose(forward["src"], loose, fixed)
    fixed_inverse = all(v == 0.0 for v in loose.values())
    constrained_inverse = any(v < 1.0 for v in loose.values())
    if fixed_inverse and "volume" in loose:
        raise ValueError(
            "Fixed orientations (loose=0) are not supported for volume source "
            "spaces."
        )
    if loose.get("volume", 1) < 1:
        raise ValueError(
            "Restricted orientations (loose < 1) are not supported for volume "
            "source spaces."
        )
    exp = depth_opts["exp"]
    exp = None if exp is None else (float(exp) or None)
    if exp is not None and exp < 0:
        raise ValueError(f"The depth exponent must be >= 0, got {exp}.")
    if fixed_inverse:
        if not is_fixed_orient(forward):
            convert_forward_solution(forward, force_fixed=True, use_cps=True,
                                     copy=False, verbose=False)
    else:
        if is_fixed_orient(forward):
            raise ValueError(
                "The forward solution has fixed orientation: it can only be "
                "used with a fixed orientation (loose=0)."
            )
        if constrained_inverse and not forward["surf_ori"]:
            convert_forward_solution(forward, surf_ori=True, use_cps=True,
                                     copy=False, verbose=False)
    ch_names = list(info["ch_names"])
    _mne_compat.check_compensation_grade(forward["info"], info)
    if (list(forward["sol"]["row_names"]) != ch_names
            or forward["info"]["ch_names"] != ch_names):
        forward = mne.pick_channels_forward(forward, ch_names, ordered=True,
                                            copy=False, verbose=False)

    # the one preparation of the covariance: projections, rank, eigh
    noise_cov = _mne_compat.prepare_noise_cov(noise_cov, info, ch_names, rank)
    eig = noise_cov["eig"].copy()
    nzero = eig > 0
    eig[~nzero] = 0.0
    # as mne.cov.compute_whitener: rows of eigvec are the eigenvectors
    whitener = np.zeros((eig.size, 1))
    whitener[nzero, 0] = 1.0 / np.sqrt(eig[nzero])
    whitener = whitener * noise_cov["eigvec"]
    whitener = whitener[nzero] if pca else np.dot(noise_cov["eigvec"].T, whitener)
    gain = _whiten_gain(whitener, forward["sol"]["data"])

    depth_prior = None
    if exp is not None:
        d = np.sum(gain**2, axis=0)
        if not is_fixed_orient(forward):
            d = d.reshape(-1, 3).sum(axis=1)
        d[d == 0.0] = np.min(d[d != 0.0])  # a sphere's centre has no field
        depth_prior = (1.0 / d) ** exp
        if not is_fixed_orient(forward):
            depth_prior = np.repeat(depth_prior, 3)
    orient_prior = None
    if not fixed_inverse:
        orient_prior = compute_orient_prior(forward, loose=loose, verbose=False)

    source_std = np.ones(gain.shape[1])
    if depth_prior is not None:
        source_std *= depth_prior
    if orient_prior is not None:
        source_std *= orient_prior
    np.sqrt(source_std, out=source_std)
    gain *= source_std
    trace_GRGT = np.linalg.norm(gain, ord="fro") ** 2
    scale = np.sqrt(np.count_nonzero(nzero) / trace_GRGT)
    source_std *= scale
    gain *= scale
    return (forward, info, gain, depth_prior, orient_prior, source_std,
            trace_GRGT, noise_cov, whitener)


def _whiten_gain(whitener, gain):
    """``whitener @ gain``; a row scaling when the whitener is diagonal.

    A diagonal noise covariance without projectors (e.g.
    :func:`mne.make_ad_hoc_cov`) has a diagonal whitener; the product is
    then the same numbers (each row of ``gain`` times one factor, the other
    terms exact zeros) for a fraction of the dense product's time
    (measured: 12 ms of a 36 ms preparation on 306 x 3852).
    """
    if whitener.shape[0] == whitener.shape[1]:
        diag = np.diagonal(whitener)
        if np.count_nonzero(whitener) == np.count_nonzero(diag):
            return diag[:, np.newaxis] * gain
    return whitener @ gain

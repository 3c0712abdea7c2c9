"""Vectorised Sarvas (1987) magnetic field of current dipoles in a sphere.

The magnetic field outside a spherically symmetric conductor does not depend
on the conductivity profile nor on the sphere radius (Sarvas 1987, eq. 25):
only the centre of symmetry (``origin``) enters. This module evaluates that
closed form for many dipoles and many sensor integration points at once, in
cache-sized blocks, and integrates it over real MEG coils with the integration
points and weights of MNE-Python's coil definitions (``coil_def.dat``).

Units are SI throughout: positions in metres, dipole moments in A·m, fields in
tesla (magnetometers) or tesla per metre (planar and axial gradiometers whose
coil definitions fold the baseline into the weights, as MNE's do).

References
----------
J. Sarvas, "Basic mathematical and electromagnetic concepts of the biomagnetic
inverse problem", Phys. Med. Biol. 32(1):11-22, 1987.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from .._docs import fill_doc
from .. import _mne_compat
from ..utils import (
    _check_array,
    _check_option,
    _check_positive,
    _validate_type,
    logger,
    use_log_level,
)

_MAG_FACTOR = 1e-7  # mu_0 / (4 pi), in T m / A
# A dipole this close to the centre of symmetry is radial whatever its
# orientation, so its external field vanishes identically.
_CENTER_TOL = 1e-10  # metres
# Number of (integration point, dipole) pairs per block. Each block touches
# about ten float64 arrays of this size, which should stay in the CPU caches:
# an elementwise pass from cache is several times faster than from memory.
_BLOCK_PAIRS = 2**16


@dataclass(frozen=True)
class MEGCoils:
    """Integration points of a set of MEG coils.

    Attributes
    ----------
    rr : array, shape (n_points, 3)
        Positions of the integration points (m).
    nn : array, shape (n_points, 3)
        Unit normals of the integration points.
    weights : array, shape (n_points,)
        Integration weights (for gradiometers, in 1/m).
    index : array of int, shape (n_points,)
        Channel (coil) each integration point belongs to, in
        ``range(n_coils)``.
    ch_names : list of str, length n_coils
        Channel names, one per coil (including compensation references when
        ``compensator`` is not None).
    compensator : array, shape (n_coils, n_coils) | None
        CTF/4D software gradient compensation to apply to the coil fields,
        as MNE's forward does (None when no compensation is in use).
    picks : array of int, shape (n_channels,) | None
        Coils to keep after compensation (drops the reference channels).
    coord_frame : str
        ``"head"`` or ``"meg"`` (device).
    """

    rr: np.ndarray
    nn: np.ndarray
    weights: np.ndarray
    index: np.ndarray
    ch_names: list
    compensator: np.ndarray | None = None
    picks: np.ndarray | None = None
    coord_frame: str = "head"

    @property
    def n_coils(self) -> int:
        """Number of coils (before reference channels are dropped)."""
        return len(self.ch_names)

    @property
    def out_names(self) -> list:
        """Names of the channels in the final gain matrix."""
        if self.picks is None:
            return list(self.ch_names)
        return [self.ch_names[p] for p in self.picks]


def meg_coils(
    info,
    *,
    accuracy: Literal["point", "normal", "accurate"] = "accurate",
    head_frame: bool = True,
    ignore_ref: bool = False,
) -> MEGCoils:
    """Integration points of the MEG coils of an :class:`mne.Info`.

    Uses MNE-Python's coil definitions, exactly as
    :func:`mne.make_forward_solution` does, so that :func:`sarvas_field` with
    these coils reproduces MNE's sphere-model forward.

    Parameters
    ----------
    info : mne.Info
        Measurement info with MEG channels (bad channels are kept).
    accuracy : ``"point"`` | ``"normal"`` | ``"accurate"``
        Coil integration accuracy; MNE's forward uses ``"accurate"``.
    head_frame : bool
        If True (default), coordinates are in the head frame (through
        ``info["dev_head_t"]``), otherwise in the MEG device frame.
    ignore_ref : bool
        If True, ignore compensation (reference) channels, as
        :func:`mne.make_forward_solution` with ``ignore_ref=True``.

    Returns
    -------
    coils : MEGCoils
        Integration points, normals, weights and channel index.
    """
    import mne

    _check_option("accuracy", accuracy, ("point", "normal", "accurate"))
    _validate_type(info, mne.Info, "info")
    if len(mne.pick_types(info, meg=True, ref_meg=False, exclude=())) == 0:
        raise ValueError(
            "The 'info' parameter has no MEG channels: the Sarvas model "
            "computes magnetic fields only (use mne.make_forward_solution "
            "for EEG)."
        )
    sensors = _mne_compat.prep_meg_channels(
        info, accuracy=accuracy, ignore_ref=ignore_ref, head_frame=head_frame
    )
    return _coils_from_prep(sensors, "head" if head_frame else "meg")


def _coils_from_prep(sensors, coord_frame):
    """MEGCoils from the sensor dict of MNE's ``_prep_meg_channels``."""
    defs = sensors["defs"]
    rmags, cosmags, ws, bins = _mne_compat.concatenate_coils(defs)
    picks = sensors["post_picks"]
    return MEGCoils(
        rr=np.asarray(rmags, float),
        nn=np.asarray(cosmags, float),
        weights=np.asarray(ws, float),
        index=np.asarray(bins, np.intp),
        ch_names=[d["chname"] for d in defs],
        compensator=sensors["compensator"],
        picks=None if picks is None else np.asarray(picks),
        coord_frame=coord_frame,
    )


def sarvas_field(
    rr: ArrayLike,
    Q: ArrayLike | None,
    coil_rr: ArrayLike,
    coil_nn: ArrayLike,
    *,
    origin: ArrayLike = (0.0, 0.0, 0.0),
    coil_weights: ArrayLike | None = None,
    coil_index: ArrayLike | None = None,
    n_coils: int | None = None,
    radius: float | None = None,
) -> np.ndarray:
    """Magnetic field of current dipoles in a spherically symmetric conductor.

    Evaluates Sarvas' (1987) closed form for the field outside a spherically
    symmetric volume conductor, projected on each sensor normal and, for real
    coils, integrated over the coil's integration points.

    Parameters
    ----------
    rr : array, shape (n_dipoles, 3)
        Dipole positions (m).
    Q : array, shape (n_dipoles, 3) | None
        Dipole moments (A·m). If None, return the gain for unit dipoles along
        x, y and z (columns ordered as MNE's free-orientation forward:
        ``3 * i + j`` is dipole ``i`` along axis ``j``).
    coil_rr : array, shape (n_points, 3)
        Positions of the sensor integration points (m), outside the
        conductor: every point must be farther from ``origin`` than every
        dipole.
    coil_nn : array, shape (n_points, 3)
        Unit normals of the integration points (used as given: the result
        is the field component along each normal).
    origin : array-like, shape (3,)
        Centre of the conducting sphere (m), in the same frame as ``rr`` and
        ``coil_rr``.
    coil_weights : array, shape (n_points,) | None
        Integration weights. None means each point is a point magnetometer
        with weight 1 (then ``coil_index`` must be None too).
    coil_index : array of int, shape (n_points,) | None
        Coil (sensor) of each integration point, in ``range(n_coils)``.
        None means one point per sensor.
    n_coils : int | None
        Number of sensors; defaults to ``coil_index.max() + 1``.
    radius : float | None
        Radius of the conductor (m), used only to validate positions (the
        external field does not depend on it): dipoles must lie inside and
        sensors outside. None only checks that the dipoles are closer to
        ``origin`` than all integration points.

    Returns
    -------
    B : array, shape (n_sensors, n_dipoles) | (n_sensors, 3 * n_dipoles)
        If ``Q`` is given, ``B[k, i]`` is the field of dipole ``i`` at sensor
        ``k`` (T, or T/m for gradiometers); the field of all dipoles together
        is ``B.sum(axis=1)``. If ``Q`` is None, the gain (T/(A·m)) for three
        orthogonal unit dipoles per position.

    Notes
    -----
    With dipole position ``r0`` and field point ``r`` relative to the origin,
    ``a = r - r0``, ``F = |a| (|r||a| + |r|^2 - r0·r)`` and Sarvas' eq. (25)
    reads ``B(r) = mu0 / (4 pi F^2) (F Q x r0 - (Q x r0 · r) grad F)``. For a
    unit normal ``e`` this is ``Q · (r0 x u)`` with
    ``u = e / F - r (grad F · e) / F^2``, so the sum over a coil's points can
    be taken on ``u`` before the cross product with ``r0``, which is what makes
    the vectorisation cheap. Dipoles at the origin are rejected: a radial
    dipole produces no external field, so its gain column would be zero.
    """
    rr = _check_array("rr", rr, 2)
    coil_rr = _check_array("coil_rr", coil_rr, 2)
    coil_nn = _check_array("coil_nn", coil_nn, 2)
    origin = _check_array("origin", origin, 1)
    for name, arr in (("rr", rr), ("coil_rr", coil_rr), ("coil_nn", coil_nn)):
        if arr.shape[1] != 3:
            raise ValueError(
                f"The {name!r} parameter must have shape (n, 3), got {arr.shape}."
            )
    if origin.shape != (3,):
        raise ValueError(
            f"The 'origin' parameter must have shape (3,), got {origin.shape}."
        )
    n_points = len(coil_rr)
    if coil_nn.shape != coil_rr.shape:
        raise ValueError(
            "The 'coil_nn' and 'coil_rr' parameters must have the same shape, "
            f"got {coil_nn.shape} and {coil_rr.shape}."
        )
    if n_points == 0:
        raise ValueError("The 'coil_rr' parameter has no integration points.")
    nn_norm = np.linalg.norm(coil_nn, axis=1)
    if np.any(nn_norm == 0):
        raise ValueError(
            f"The 'coil_nn' parameter has {int(np.sum(nn_norm == 0))} "
            "zero-length normal(s); sensor normals must be non-zero."
        )
    # Normals are used as given, not renormalised: MNE's coil normals come
    # from float32 rotation matrices whose columns deviate from unit length
    # by ~1e-5, and matching MNE's forward to 1e-10 requires using them as is.

    if Q is not None:
        Q = _check_array("Q", Q, 2)
        if Q.shape != rr.shape:
            raise ValueError(
                f"The 'Q' parameter must have the shape of 'rr' {rr.shape}, "
                f"got {Q.shape}."
            )
        q_norm = np.linalg.norm(Q, axis=1)
        if np.any(q_norm == 0):
            bad = np.flatnonzero(q_norm == 0)
            raise ValueError(
                f"The 'Q' parameter has {len(bad)} zero-length dipole "
                f"moment(s) (first at index {bad[0]}); use Q=None for the "
                "gain of unit dipoles."
            )

    reducer = _make_reducer(coil_weights, coil_index, n_coils, n_points)
    rd = rr - origin
    rp = coil_rr - origin
    _check_geometry(rd, rp, radius)

    G = _sarvas_gain(rd, rp, coil_nn, reducer)
    if Q is None:
        return G
    n_sensors = G.shape[0]
    # Contract each dipole's 3 columns with its moment
    return np.einsum("kij,ij->ki", G.reshape(n_sensors, -1, 3), Q)


def _make_reducer(coil_weights, coil_index, n_coils, n_points):
    """Sparse (n_coils, n_points) integration matrix, or None for points."""
    if coil_weights is None and coil_index is None:
        if n_coils not in (None, n_points):
            raise ValueError(
                f"The 'n_coils' parameter ({n_coils}) must equal the number of "
                f"points ({n_points}) when there are no coil weights."
            )
        return None
    if coil_weights is None:
        coil_weights = np.ones(n_points)
    coil_weights = _check_array("coil_weights", coil_weights, 1)
    if coil_index is None:
        coil_index = np.arange(n_points)
    coil_index = np.asarray(coil_index)
    if coil_index.ndim != 1 or not np.issubdtype(coil_index.dtype, np.integer):
        raise ValueError(
            "The 'coil_index' parameter must be a 1-D integer array, got "
            f"dtype {coil_index.dtype} and shape {coil_index.shape}."
        )
    for name, arr in (("coil_weights", coil_weights), ("coil_index", coil_index)):
        if len(arr) != n_points:
            raise ValueError(
                f"The {name!r} parameter must have one entry per integration "
                f"point ({n_points}), got {len(arr)}."
            )
    if np.any(coil_index < 0):
        raise ValueError("The 'coil_index' parameter has negative entries.")
    if n_coils is None:
        n_coils = int(coil_index.max()) + 1
    elif coil_index.max() >= n_coils:
        raise ValueError(
            f"The 'coil_index' parameter refers to coil {coil_index.max()}, "
            f"but 'n_coils' is {n_coils}."
        )
    return sparse.csr_matrix(
        (coil_weights, (coil_index, np.arange(n_points))), shape=(n_coils, n_points)
    )


def _check_geometry(rd, rp, radius):
    """Dipoles inside, sensors outside the conductor, none at the centre."""
    rd_norm = np.linalg.norm(rd, axis=1)
    rp_norm = np.linalg.norm(rp, axis=1)
    at_center = rd_norm <= _CENTER_TOL
    if np.any(at_center):
        idx = np.flatnonzero(at_center)
        raise ValueError(
            f"{len(idx)} dipole(s) (first at index {idx[0]}) lie at the centre "
            "of the sphere, where any current dipole is radial and produces no "
            "magnetic field outside the conductor; remove them or move the "
            "sphere origin."
        )
    if radius is not None:
        radius = _check_positive("radius", radius)
        outside = rd_norm >= radius
        if np.any(outside):
            idx = np.flatnonzero(outside)
            raise ValueError(
                f"{len(idx)} dipole(s) (first at index {idx[0]}, "
                f"{1e3 * rd_norm[idx[0]]:.1f} mm from the origin) lie outside "
                f"the sphere of radius {1e3 * radius:.1f} mm."
            )
        inside = rp_norm <= radius
        if np.any(inside):
            idx = np.flatnonzero(inside)
            raise ValueError(
                f"{len(idx)} sensor integration point(s) (first at index "
                f"{idx[0]}, {1e3 * rp_norm[idx[0]]:.1f} mm from the origin) lie "
                f"inside the sphere of radius {1e3 * radius:.1f} mm."
            )
    if len(rd) and rd_norm.max() >= rp_norm.min():
        raise ValueError(
            "A dipole lies farther from the sphere origin "
            f"({1e3 * rd_norm.max():.1f} mm) than a sensor integration point "
            f"({1e3 * rp_norm.min():.1f} mm): sensors must be outside and "
            "dipoles inside the spherical conductor (check the coordinate "
            "frames and the origin)."
        )


def _sarvas_gain(rd, rp, nn, reducer):
    """Gain (n_sensors, 3 * n_dipoles) of origin-centred positions.

    Arrays are laid out (n_points, n_block) so that the integration over coil
    points is a sparse-times-dense product with contiguous columns.
    """
    n_dip, n_pts = len(rd), len(rp)
    n_out = n_pts if reducer is None else reducer.shape[0]
    G = np.empty((n_out, n_dip, 3))
    if n_dip == 0:
        return G.reshape(n_out, 0)
    r2 = np.sum(rp * rp, axis=1)
    r = np.sqrt(r2)
    re = np.sum(rp * nn, axis=1)
    ones = np.ones(n_pts)
    # Pairwise quantities come out of one small matrix product each instead
    # of several elementwise passes (the kernel is memory bound):
    #   a^2 = r^2 - 2 r.r0 + r0^2      = [r, r^2, 1] . [-2 r0, 1, r0^2]
    #   r^2 - r.r0                      = [r, r^2]    . [-r0, 1]
    #   e.r0 - e.r                      = [e, e.r]    . [r0, -1]
    P_a2 = np.c_[rp, r2, ones]
    P_ar = np.c_[rp, r2]
    P_e = np.c_[nn, re]
    two_r = (2 * r)[:, np.newaxis]
    r_col = r[:, np.newaxis]
    inv_r_col = (1.0 / r)[:, np.newaxis]
    re_col = re[:, np.newaxis]
    if reducer is None:
        red = None
    else:
        # Fold normals and positions into the integration matrices:
        # sum_p w_p u_p = (W e) / F + (W r) g, per component, stacked.
        red_nn = sparse.vstack([reducer.multiply(nn[:, j]) for j in range(3)])
        red_rp = sparse.vstack([reducer.multiply(rp[:, j]) for j in range(3)])
        red = (red_nn.tocsr(), red_rp.tocsr())

    block = max(1, _BLOCK_PAIRS // n_pts)
    logger.debug("Sarvas field: %d dipoles x %d points, block %d", n_dip, n_pts, block)
    for start in range(0, n_dip, block):
        d = rd[start : start + block]
        n_b = len(d)
        a2 = P_a2 @ np.r_[-2 * d.T, np.ones((1, n_b)), np.sum(d * d, axis=1)[None]]
        ar = P_ar @ np.r_[-d.T, np.ones((1, n_b))]  # r^2 - r . r0
        r0e = P_e @ np.r_[d.T, -np.ones((1, n_b))]  # e . r0 - e . r
        a = np.sqrt(a2)
        # F = a (r a + r^2 - r . r0)
        F = r_col * a
        F += ar
        F *= a
        # grad F . e = -g0 (e . r0 - e . r) + (a + a^2 / r) (e . r), with
        # g0 = a + 2 r + (r^2 - r . r0) / a (Sarvas eq. 25 rearranged).
        ar /= a
        ar += a
        ar += two_r  # g0
        r0e *= ar
        a2 *= inv_r_col
        a2 += a
        a2 *= re_col
        r0e -= a2  # -(grad F . e)
        inv_F = np.divide(1.0, F, out=F)
        g = r0e
        g *= inv_F
        g *= inv_F  # -(grad F . e) / F^2
        # u = e / F + r g, integrated over each coil: U_j = sum_p w_p u_pj
        if red is None:
            U = [nn[:, j, None] * inv_F + rp[:, j, None] * g for j in range(3)]
        else:
            U = np.split(red[0] @ inv_F + red[1] @ g, 3)
        # field = Q . (r0 x U)
        out = G[:, start : start + block]
        dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
        out[:, :, 0] = dy * U[2] - dz * U[1]
        out[:, :, 1] = dz * U[0] - dx * U[2]
        out[:, :, 2] = dx * U[1] - dy * U[0]
    G *= _MAG_FACTOR
    return G.reshape(n_out, 3 * n_dip)


@fill_doc
def make_sphere_forward(
    info,
    src,
    *,
    origin: ArrayLike = (0.0, 0.0, 0.04),
    trans=None,
    radius: float | None = None,
    accuracy: Literal["point", "normal", "accurate"] = "accurate",
    ignore_ref: bool = False,
    verbose: bool | str | int | None = None,
):
    """MEG forward solution of a spherically symmetric conductor (Sarvas).

    A fast drop-in for ``mne.make_forward_solution(info, trans, src,
    mne.make_sphere_model(r0=origin, head_radius=None), eeg=False)``: same
    coil definitions, same source handling, same :class:`mne.Forward` layout
    (free orientation, head coordinates), with the field computed by the
    vectorised :func:`sarvas_field`.

    Parameters
    ----------
    info : mne.Info
        Measurement info; all its MEG channels (bad ones included, as MNE
        does) are modelled, other channels are ignored.
    src : mne.SourceSpaces
        Source space (surface, volume or discrete), in MRI or head
        coordinates.
    origin : array-like, shape (3,)
        Centre of the sphere in head coordinates (m).
    trans : mne.transforms.Transform | path-like | None
        Head <-> MRI transform of the source space; None means identity
        (sources already in head coordinates, or MRI == head).
    radius : float | None
        Conductor radius (m), used only to check that all sources lie inside
        and all MEG integration points outside it.
    accuracy : ``"point"`` | ``"normal"`` | ``"accurate"``
        Coil integration accuracy; ``"accurate"`` is what MNE uses.
    ignore_ref : bool
        Ignore compensation (reference) channels, as in MNE.
    %(verbose)s

    Returns
    -------
    fwd : mne.Forward
        Free-orientation forward solution for the MEG channels, in head
        coordinates, gain in T/(A·m) (magnetometers) and T/(A·m²)
        (gradiometers).
    """
    return _make_sphere_forward(
        info,
        src,
        origin=origin,
        trans=trans,
        radius=radius,
        accuracy=accuracy,
        ignore_ref=ignore_ref,
        verbose=verbose,
    )


def _make_sphere_forward(
    info,
    src,
    *,
    origin=(0.0, 0.0, 0.04),
    trans=None,
    radius=None,
    accuracy="accurate",
    ignore_ref=False,
    eeg_sphere=None,
    verbose=None,
):
    """Sphere-model forward; EEG too (MNE's code) when ``eeg_sphere`` is given.

    With ``eeg_sphere`` (a multi-shell :func:`mne.make_sphere_model`), its
    centre is the MEG origin as well, sources outside its innermost shell are
    dropped by MNE's preparation, and EEG channels of ``info`` get MNE's
    sphere-model potentials.
    """
    import mne
    from mne.transforms import Transform

    _check_option("accuracy", accuracy, ("point", "normal", "accurate"))
    _validate_type(info, mne.Info, "info")
    n_meg = len(mne.pick_types(info, meg=True, ref_meg=False, exclude=()))
    if n_meg == 0 and eeg_sphere is None:
        raise ValueError(
            "The 'info' parameter has no MEG channels: the Sarvas model "
            "computes magnetic fields only (use mne.make_forward_solution "
            "with a sphere model for EEG)."
        )
    _validate_type(src, mne.SourceSpaces, "src")
    if eeg_sphere is not None:
        origin = eeg_sphere["r0"]
    origin = _check_array("origin", origin, 1)
    if origin.shape != (3,):
        raise ValueError(
            f"The 'origin' parameter must have shape (3,), got {origin.shape}."
        )
    with use_log_level(verbose, quiet_mne=True):
        mri_head_t, trans = _mne_compat.get_trans(trans)
        prep_trans = mri_head_t
        if eeg_sphere is None:
            # A sphere without shells: MNE's MEG-only sphere model. Reusing
            # MNE's preparation keeps channel selection, compensation, source
            # transformation and the Forward bookkeeping identical to MNE's.
            bem = mne.make_sphere_model(r0=origin, head_radius=None, verbose=False)
        else:
            bem = eeg_sphere
            # MNE (1.13) checks sources against a sphere model after moving
            # them to MRI coordinates, although the sphere is in head
            # coordinates, and silently drops sources that are inside. Give
            # it sources already in head coordinates and an identity
            # transform, check them here, and restore the transform after.
            src = src.copy()
            _mne_compat.transform_src_to(src, "head", mri_head_t)
            prep_trans = Transform("mri", "head", np.eye(4))
            inner = eeg_sphere["layers"][0]["rad"]
            src_rr = np.concatenate([s["rr"][s["vertno"]] for s in src])
            dist = np.linalg.norm(src_rr - origin, axis=1)
            if np.any(dist >= inner):
                raise ValueError(
                    f"{int(np.sum(dist >= inner))} source(s) lie outside the "
                    f"innermost shell ({1e3 * inner:.1f} mm) of the EEG sphere "
                    "model."
                )
        sensors, rr, _, update_kwargs, bem = _mne_compat.prepare_for_forward(
            src,
            prep_trans,
            info,
            bem,
            trans=trans,
            meg=n_meg > 0,
            eeg=eeg_sphere is not None,
            ignore_ref=ignore_ref,
        )
        fwds = {}
        if "meg" in sensors:
            coils = _coils_from_sensors(sensors["meg"], accuracy, info, ignore_ref)
            logger.info(
                "Sarvas sphere model (origin %s mm): %d sources x %d channels",
                np.round(1e3 * origin, 1).tolist(),
                len(rr),
                len(coils.out_names),
            )
            G = coil_gain(rr, coils, origin=origin, radius=radius)
            fwds["meg"] = _mne_compat.to_forward_dict(G.T, coils.out_names)
        if "eeg" in sensors:
            logger.info(
                "MNE sphere model for %d EEG channels", len(sensors["eeg"]["ch_names"])
            )
            B = _mne_compat.compute_eeg_forward(rr, bem, sensors["eeg"])
            fwds["eeg"] = _mne_compat.to_forward_dict(B, sensors["eeg"]["ch_names"])
        fwd = _mne_compat.merge_fwds(fwds)
        update_kwargs["mri_head_t"] = mri_head_t
        fwd.update(**update_kwargs)
        with _mne_compat.unlocked(fwd["info"]):
            fwd["info"]["mri_head_t"] = mri_head_t
    return fwd


def coil_gain(
    rr: ArrayLike,
    coils: MEGCoils,
    *,
    origin: ArrayLike = (0.0, 0.0, 0.0),
    radius: float | None = None,
) -> np.ndarray:
    """Free-orientation Sarvas gain of dipoles for a set of MEG coils.

    Parameters
    ----------
    rr : array, shape (n_dipoles, 3)
        Dipole positions (m), in the frame of ``coils``.
    coils : MEGCoils
        Coils, e.g. from :func:`meg_coils`; compensation is applied and the
        reference channels dropped, as in MNE's forward.
    origin : array-like, shape (3,)
        Centre of the sphere (m).
    radius : float | None
        Conductor radius, for validation only (see :func:`sarvas_field`).

    Returns
    -------
    G : array, shape (n_channels, 3 * n_dipoles)
        Gain, rows in the order of ``coils.out_names``.
    """
    G = sarvas_field(
        rr,
        None,
        coils.rr,
        coils.nn,
        origin=origin,
        coil_weights=coils.weights,
        coil_index=coils.index,
        n_coils=coils.n_coils,
        radius=radius,
    )
    if coils.compensator is not None:
        G = coils.compensator @ G
    if coils.picks is not None:
        G = G[coils.picks]
    return G


def _coils_from_sensors(meg, accuracy, info, ignore_ref):
    """MEGCoils from the sensor dict of MNE's forward preparation."""
    if accuracy != "accurate":
        # MNE prepares "accurate" coils; other accuracies need a fresh set,
        # with the same channels and compensation.
        return meg_coils(info, accuracy=accuracy, ignore_ref=ignore_ref)
    return _coils_from_prep(meg, "head")

"""The one door to MNE-Python's private API.

vaesource reuses a few of MNE's internal functions so that its forward
models, gains and source estimates are built by MNE's own code and stay
comparable with MNE's solvers. Those functions carry no stability promise:
this module is the only place in vaesource that names them (a test checks
that), each behind one small function that says what vaesource needs from
it, and ``tests/test_mne_compat.py`` checks each entry against MNE's public
API, so that an MNE release that changes one fails there with a clear
message. Where the private API differs between the MNE versions that
``pyproject.toml`` allows, both are handled here.

Everything MNE is imported inside the functions: importing vaesource stays
cheap.
"""

from __future__ import annotations

from contextlib import contextmanager
from copy import deepcopy

import numpy as np


# -------------------------------------------------------------- objects ---
@contextmanager
def unlocked(info):
    """Context in which the protected fields of ``info`` can be set.

    MNE locks fields such as ``sfreq``, ``dev_head_t`` and ``dig`` of an
    :class:`mne.Info` against direct assignment (``Info._unlock``).
    """
    with info._unlock():
        yield info


def check_info_consistency(info):
    """Raise if ``info`` is inconsistent (``Info._check_consistency``)."""
    info._check_consistency()


def transform_src_to(src, coord_frame, mri_head_t):
    """Move the source spaces ``src`` to ``coord_frame`` in place.

    ``SourceSpaces._transform_to`` exists only since MNE 1.9; its body, a
    :func:`mne.transforms.transform_surface_to` per source space, is used
    on every version.

    Parameters
    ----------
    src : mne.SourceSpaces
        Modified in place, and returned.
    coord_frame : str
        ``"head"`` or ``"mri"``.
    mri_head_t : mne.transforms.Transform
        The MRI -> head transform.
    """
    from mne.transforms import transform_surface_to

    for s in src:
        transform_surface_to(s, coord_frame, mri_head_t, copy=False)
    return src


def frame_name(coord_frame):
    """Name of a FIFF coordinate frame (``"head"``), or the value if unknown."""
    from mne.transforms import _frame_to_str

    return _frame_to_str.get(coord_frame, coord_frame)


def get_trans(trans):
    """The MRI -> head transform from ``trans`` (None: identity).

    Returns ``(mri_head_t, description)`` as ``mne.transforms._get_trans``.
    """
    from mne.transforms import _get_trans

    return _get_trans(trans)


# -------------------------------------------------------------- geometry ---
def get_ico_surface(grade):
    """MNE's icosahedron of subdivision ``grade`` (dict with rr, tris)."""
    from mne.surface import _get_ico_surface

    return _get_ico_surface(grade)


def fit_sphere(points):
    """Least-squares sphere through ``points``: ``(radius, center)``.

    The linear least-squares fit of ``mne.bem._fit_sphere`` in recent MNE
    (1.13; MNE 1.8 minimises another cost with COBYLA, which gives a
    slightly different sphere for points not exactly on one), written out
    so that the template head is the same on every MNE version.
    """
    points = np.asarray(points, dtype=float)
    A = np.c_[2 * points, np.ones((len(points), 1))]
    b = (points**2).sum(axis=1)
    x, _, _, _ = np.linalg.lstsq(A, b, rcond=1e-6)
    origin = x[:3]
    radius = np.sqrt(x[0] ** 2 + x[1] ** 2 + x[2] ** 2 + x[3])
    return radius, origin


# --------------------------------------------------------------- forward ---
def prep_meg_channels(info, *, accuracy, ignore_ref, head_frame):
    """MNE's MEG coil definitions for ``info`` (``_prep_meg_channels``).

    A dict with ``defs`` (one coil definition per channel), ``compensator``
    and ``post_picks``, as MNE's forward modelling uses them.
    """
    from mne.forward._make_forward import _prep_meg_channels

    return _prep_meg_channels(
        info,
        accuracy=accuracy,
        ignore_ref=ignore_ref,
        head_frame=head_frame,
        verbose=False,
    )


def concatenate_coils(defs):
    """Integration points of coil definitions: ``(rmags, cosmags, ws, bins)``."""
    from mne.forward._compute_forward import _concatenate_coils

    return _concatenate_coils(defs)


def prepare_for_forward(src, mri_head_t, info, bem, *, trans, meg, eeg, ignore_ref):
    """MNE's preparation of a forward computation (``_prepare_for_forward``).

    Returns ``(sensors, rr, info, update_kwargs, bem)``: sensors by kind,
    source positions (head coordinates) and the fields of the Forward.
    """
    from mne.forward._make_forward import _prepare_for_forward

    return _prepare_for_forward(
        src,
        mri_head_t,
        info,
        bem,
        0.0,
        1,
        bem_extra="instance of ConductorModel",
        trans=trans,
        info_extra="instance of Info",
        meg=meg,
        eeg=eeg,
        ignore_ref=ignore_ref,
    )


def compute_eeg_forward(rr, bem, eeg_sensors):
    """EEG gain (n_sources * 3, n_channels) of MNE's ``_compute_forwards``."""
    from mne.forward._compute_forward import _compute_forwards

    return _compute_forwards(rr, bem=bem, sensors={"eeg": eeg_sensors}, n_jobs=1)[
        "eeg"
    ]


def to_forward_dict(gain, names):
    """A free-orientation forward dict (head frame) from ``gain`` (3 n_src, n_ch)."""
    from mne.forward._make_forward import _to_forward_dict

    return _to_forward_dict(gain, names)


def merge_fwds(fwds):
    """One :class:`mne.Forward` from the dicts of ``fwds`` (``"meg"``, ``"eeg"``)."""
    from mne.forward.forward import _merge_fwds

    return _merge_fwds(fwds, verbose=False)


def check_depth(depth):
    """Depth-weighting options of MNE's sparse solvers for ``depth``."""
    from mne.utils.check import _check_depth

    return _check_depth(depth, "depth_sparse")


def prepare_forward(forward, info, noise_cov, *, fixed, loose, rank, pca, depth_opts):
    """MNE's whitened, depth-weighted gain (``minimum_norm._prepare_forward``).

    The code path of ``mne.inverse_sparse.mxne_inverse._prepare_gain``.
    Returns ``(forward, gain_info, gain, depth_prior, orient_prior,
    source_weighting, trace_GRGT, noise_cov, whitener)``.
    """
    from mne.minimum_norm.inverse import _prepare_forward

    return _prepare_forward(
        forward, info, noise_cov, fixed, loose, rank, pca, use_cps=True, **depth_opts
    )


def triage_loose(src, loose, fixed):
    """``loose`` as a dict per source-space kind (``inverse._triage_loose``)."""
    from mne.minimum_norm.inverse import _triage_loose

    return _triage_loose(src, loose, fixed)


def check_compensation_grade(forward_info, info):
    """Raise if the CTF compensation grades of ``info`` and the forward differ."""
    from mne.utils import _check_compensation_grade

    _check_compensation_grade(forward_info, info, "forward")


def prepare_noise_cov(noise_cov, info, ch_names, rank):
    """:func:`mne.cov.prepare_noise_cov` with one eigendecomposition per type.

    MNE's estimates the rank of each channel type's block from its singular
    values (``scipy.linalg.svdvals``: 40 ms of a 45 ms call on 306 MEG
    channels, measured), then takes its eigendecomposition. The block is
    symmetric, so here the rank comes from the eigenvalues of the same
    scaled block (``eigvalsh``, the same threshold, ``n max(s) eps``), and
    MNE's singular values are computed only when an eigenvalue lies within
    a factor 100 of the threshold, where the two could disagree. The
    eigendecomposition itself is MNE's (``cov._get_ch_whitener``). Used for
    ``rank=None`` (a diagonal covariance is handled as MNE does, as its
    square matrix); a given rank goes to MNE.

    Returns the prepared covariance (``eig``, ``eigvec``) as MNE's.
    """
    import mne
    from mne._fiff.pick import _picks_by_type
    from mne._fiff.proj import make_projector
    from mne.cov import _get_ch_whitener
    from mne.defaults import DEFAULTS

    if rank is not None:
        return mne.cov.prepare_noise_cov(noise_cov, info, ch_names, rank,
                                         verbose=False)
    idx = [noise_cov.ch_names.index(c) for c in ch_names]
    C_picked = C = np.asarray(
        noise_cov._get_square()[np.ix_(idx, idx)], dtype=np.float64)
    projs = info["projs"] + noise_cov["projs"]
    proj, ncomp, _ = make_projector(projs, ch_names)
    if ncomp > 0:
        C = np.dot(proj, np.dot(C, proj.T))
    scalings = DEFAULTS["scalings_cov_rank"]
    n_chan = len(ch_names)
    eig = np.zeros(n_chan)
    eigvec = np.zeros((n_chan, n_chan))
    for ch_type, picks in _picks_by_type(info, meg_combined=True, ref_meg=False,
                                         exclude=[]):
        if len(picks) == 0:
            continue
        names = [ch_names[p] for p in picks]
        this_C = C[np.ix_(picks, picks)]
        # the rank, as MNE's _compute_rank: the info's projector again on
        # the block, each type scaled, singular values above n max(s) eps
        proj_t, _, _ = make_projector(info["projs"], names)
        data = np.dot(np.dot(proj_t, this_C), proj_t.T)
        scales = np.array([scalings[mne.channel_type(info, p)] for p in picks])
        data *= scales[np.newaxis, :] * scales[:, np.newaxis]
        s = np.abs(np.linalg.eigvalsh(data))
        tol = s.size * s.max() * np.finfo(float).eps
        if np.any((s > tol / 100) & (s < tol * 100)):
            from scipy.linalg import svdvals

            s = svdvals(data)
            tol = s.size * s.max() * np.finfo(float).eps
        this_rank = int(np.sum(s > tol))
        e, v, _ = _get_ch_whitener(this_C.copy(), False, ch_type.upper(), this_rank)
        eig[picks], eigvec[np.ix_(picks, picks)] = e, v
    out = mne.Covariance(
        data=C_picked,
        names=list(ch_names), bads=list(noise_cov["bads"]),
        projs=deepcopy(noise_cov["projs"]), nfree=noise_cov["nfree"],
        verbose=False,
    )
    out.update(eig=eig, eigvec=eigvec)
    return out


# -------------------------------------------------------------- inverses ---
def check_reference(inst):
    """Raise if ``inst`` has EEG without an average-reference projector."""
    from mne.minimum_norm.inverse import _check_reference

    _check_reference(inst)


def check_ori(pick_ori, forward):
    """Raise if ``pick_ori`` does not suit ``forward`` (as MNE's sparse solvers)."""
    from mne.inverse_sparse.mxne_inverse import _check_ori

    _check_ori(pick_ori, forward)


def compute_residual(forward, evoked, X, active_set, info):
    """``evoked`` less the data explained by ``X`` on ``active_set``."""
    from mne.inverse_sparse.mxne_inverse import _compute_residual

    return _compute_residual(forward, evoked, X, active_set, info)


def make_sparse_stc(X, active_set, forward, tmin, tstep, *, pick_ori=None):
    """A source estimate with the rows ``X`` at the source indices ``active_set``."""
    from mne.inverse_sparse.mxne_inverse import _make_sparse_stc

    return _make_sparse_stc(
        X,
        active_set,
        forward,
        tmin,
        tstep,
        active_is_idx=True,
        pick_ori=pick_ori,
        verbose=False,
    )


def make_dipoles_sparse(X, active_set, forward, tmin, tstep, M, gain_active):
    """One :class:`mne.Dipole` per active source, as MNE's sparse solvers."""
    from mne.inverse_sparse.mxne_inverse import _make_dipoles_sparse

    return _make_dipoles_sparse(
        X, active_set, forward, tmin, tstep, M, gain_active, active_is_idx=True
    )


def gamma_map_opt(M, G, alpha, **kwargs):
    """MNE's gamma-MAP array kernel: ``(X, active_set)`` (``_gamma_map_opt``)."""
    from mne.inverse_sparse._gamma_map import _gamma_map_opt

    return _gamma_map_opt(M, G, alpha, **kwargs)


@contextmanager
def observe_gamma_map_svds(callback):
    """Context in which ``callback(out)`` sees every SVD of MNE's gamma-MAP.

    The gamma-MAP kernel computes one SVD of the model covariance per
    iteration (``_safe_svd`` in ``mne.inverse_sparse._gamma_map``);
    ``out`` is its ``(U, S, Vh)``, returned unchanged to the kernel after
    ``callback`` returns. The benchmark traces cost (18) this way.
    """
    from unittest import mock

    import mne.inverse_sparse._gamma_map as gm

    real = gm._safe_svd

    def spy(A, *args, **kwargs):
        out = real(A, *args, **kwargs)
        callback(out)
        return out

    with mock.patch.object(gm, "_safe_svd", spy):
        yield


# ----------------------------------------------------------------- other ---
def simulate_evoked(fwd, stc, info, cov, *, nave, rng):
    """:func:`mne.simulation.simulate_evoked`, noise drawn from ``rng``.

    ``rng`` (a :class:`numpy.random.Generator`) is passed as ``rng`` in
    recent MNE (1.13, where ``random_state`` is the legacy name) and as
    ``random_state`` to MNE 1.8, which has only that.
    """
    import inspect

    from mne.simulation import simulate_evoked

    params = inspect.signature(simulate_evoked).parameters
    key = "rng" if "rng" in params else "random_state"
    return simulate_evoked(
        fwd, stc, info, cov, nave=nave, iir_filter=None, use_cps=True,
        verbose=False, **{key: rng},
    )


def write_info(fname, info):
    """Write ``info`` to ``fname``, replacing the file if there is one.

    Recent :func:`mne.io.write_info` (1.13) takes ``overwrite`` and refuses
    to replace a file without it; MNE 1.8's has no such parameter and
    always replaces.
    """
    import inspect

    import mne

    if "overwrite" in inspect.signature(mne.io.write_info).parameters:
        mne.io.write_info(fname, info, overwrite=True)
    else:
        mne.io.write_info(fname, info)


def compare_version(version_a, operator, version_b):
    """``version_a operator version_b`` as MNE compares dataset versions."""
    from mne.fixes import _compare_version

    return _compare_version(version_a, operator, version_b)

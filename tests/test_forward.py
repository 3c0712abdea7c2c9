"""Tests of the built-in Sarvas forward model and of lead-field preparation.

The reference is MNE-Python's own sphere-model forward
(:func:`mne.make_forward_solution` with :func:`mne.make_sphere_model`), plus
an independent physical check: the radial field component does not see the
volume currents of a spherical conductor, so it equals the Biot-Savart field
of the dipole alone.
"""

from __future__ import annotations

import mne
import numpy as np
import pytest
from conftest import requires_testing_data
from mne.io.constants import FIFF
from numpy.testing import assert_allclose, assert_array_equal

from vaesource._mne_compat import unlocked
from vaesource.forward import (
    coil_gain,
    leadfield_from_forward,
    make_sphere_forward,
    meg_coils,
    sarvas_field,
)

ORIGIN = np.array([0.0, 0.0, 0.04])


def _fibonacci_sphere(n, radius, center, z_min=-1.0):
    """Roughly uniform points on (a cap of) a sphere."""
    i = np.arange(n) + 0.5
    z = 1 - (1 - z_min) * i / n
    phi = np.pi * (1 + 5**0.5) * i
    rho = np.sqrt(1 - z**2)
    pts = np.c_[rho * np.cos(phi), rho * np.sin(phi), z]
    return center + radius * pts, pts


def _point_mag_info(n=40, radius=0.11):
    """Info with radial point magnetometers on a helmet-like cap."""
    rr, nn = _fibonacci_sphere(n, radius, ORIGIN, z_min=-0.3)
    info = mne.create_info([f"MAG{k:03d}" for k in range(n)], 1000.0, "mag")
    for ch, r, e in zip(info["chs"], rr, nn, strict=True):
        ch["coil_type"] = FIFF.FIFFV_COIL_POINT_MAGNETOMETER
        ch["coord_frame"] = FIFF.FIFFV_COORD_DEVICE
        # coil frame: any tangential ex, ey and the normal ez
        ex = np.cross(e, [1.0, 0.0, 0.0] if abs(e[0]) < 0.9 else [0.0, 1.0, 0.0])
        ex /= np.linalg.norm(ex)
        ey = np.cross(e, ex)
        ch["loc"][:12] = np.r_[r, ex, ey, e]
    with unlocked(info):
        info["dev_head_t"] = mne.transforms.Transform("meg", "head", np.eye(4))
    return info


def _discrete_src(n=60, seed=0, center=ORIGIN, max_r=0.07):
    """Random dipoles in a ball around ``center`` (head coordinates)."""
    rng = np.random.default_rng(seed)
    rr = rng.normal(size=(n, 3))
    rr *= rng.uniform(0.01, max_r, (n, 1)) / np.linalg.norm(rr, axis=1, keepdims=True)
    nn = rng.normal(size=(n, 3))
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    return mne.setup_volume_source_space(pos=dict(rr=rr + center, nn=nn), verbose=False)


def _mne_sphere_fwd(info, src, trans=None):
    sphere = mne.make_sphere_model(r0=ORIGIN, head_radius=None, verbose=False)
    return mne.make_forward_solution(info, trans, src, sphere, eeg=False, verbose=False)


def _assert_fwd_equal(fwd, fwd_mne, rtol, atol_rel):
    G, G_mne = fwd["sol"]["data"], fwd_mne["sol"]["data"]
    assert G.shape == G_mne.shape
    assert_allclose(G, G_mne, rtol=rtol, atol=atol_rel * np.abs(G_mne).max())
    assert fwd["sol"]["row_names"] == fwd_mne["sol"]["row_names"]
    assert fwd["info"]["ch_names"] == fwd_mne["info"]["ch_names"]
    assert_array_equal(fwd["source_rr"], fwd_mne["source_rr"])
    assert_array_equal(fwd["source_nn"], fwd_mne["source_nn"])
    assert fwd["source_ori"] == fwd_mne["source_ori"] == FIFF.FIFFV_MNE_FREE_ORI
    assert fwd["coord_frame"] == fwd_mne["coord_frame"] == FIFF.FIFFV_COORD_HEAD
    assert fwd["src"][0]["coord_frame"] == FIFF.FIFFV_COORD_HEAD
    for s, s_mne in zip(fwd["src"], fwd_mne["src"], strict=True):
        assert_array_equal(s["vertno"], s_mne["vertno"])


# ---------------------------------------------------------------------------
# sarvas_field


def test_radial_field_is_biot_savart():
    """Volume currents give no radial field: B_r is the primary field."""
    rng = np.random.default_rng(1)
    rr = rng.normal(size=(25, 3)) * 0.03
    Q = rng.normal(size=(25, 3)) * 1e-8  # 10 nA m
    coil_rr, nn = _fibonacci_sphere(30, 0.1, np.zeros(3))
    B = sarvas_field(rr, Q, coil_rr, nn)
    diff = coil_rr[:, None, :] - rr[None, :, :]
    dist3 = np.linalg.norm(diff, axis=-1) ** 3
    primary = 1e-7 * np.einsum("kij,kj->ki", np.cross(Q[None], diff), nn) / dist3
    assert_allclose(B, primary, rtol=1e-10, atol=1e-12 * np.abs(primary).max())
    # order of magnitude: 10 nA m at ~8 cm gives tens to hundreds of fT
    assert 1e-15 < np.abs(B).max() < 1e-11


def test_moments_contract_gain_and_origin_shift():
    rng = np.random.default_rng(2)
    rr = rng.normal(size=(7, 3)) * 0.02 + ORIGIN
    Q = rng.normal(size=(7, 3))
    coil_rr, nn = _fibonacci_sphere(20, 0.12, ORIGIN)
    G = sarvas_field(rr, None, coil_rr, nn, origin=ORIGIN)
    assert G.shape == (20, 21)
    B = sarvas_field(rr, Q, coil_rr, nn, origin=ORIGIN)
    assert_allclose(B, (G.reshape(20, 7, 3) * Q).sum(-1), rtol=1e-12)
    # only relative positions matter
    G0 = sarvas_field(rr - ORIGIN, None, coil_rr - ORIGIN, nn)
    assert_allclose(G, G0, rtol=1e-12, atol=1e-14 * np.abs(G).max())
    # a radial dipole has no external field (Sarvas: Q x r0 = 0)
    radial = sarvas_field(rr, rr - ORIGIN, coil_rr, nn, origin=ORIGIN)
    assert np.abs(radial).max() < 1e-12 * np.abs(B).max()


def test_coil_integration_matches_point_sum():
    """Weighted coil points are the weighted sum of point magnetometers."""
    rng = np.random.default_rng(3)
    rr = rng.normal(size=(5, 3)) * 0.02
    coil_rr, nn = _fibonacci_sphere(12, 0.11, np.zeros(3))
    w = rng.uniform(-1, 1, 12)
    index = np.repeat([0, 1, 2], 4)[rng.permutation(12)]
    G = sarvas_field(rr, None, coil_rr, nn, coil_weights=w, coil_index=index)
    G_pts = sarvas_field(rr, None, coil_rr, nn)
    expected = np.stack(
        [(w[index == k, None] * G_pts[index == k]).sum(0) for k in range(3)]
    )
    assert_allclose(G, expected, rtol=1e-12, atol=1e-14 * np.abs(G).max())


def test_point_magnetometers_match_mne():
    info = _point_mag_info()
    src = _discrete_src()
    fwd = make_sphere_forward(info, src, origin=ORIGIN)
    _assert_fwd_equal(fwd, _mne_sphere_fwd(info, src), rtol=1e-10, atol_rel=1e-12)
    # the low-level path gives the same numbers
    coils = meg_coils(info)
    G = sarvas_field(fwd["source_rr"], None, coils.rr, coils.nn, origin=ORIGIN)
    assert_allclose(G, fwd["sol"]["data"], rtol=1e-12)


@requires_testing_data
def test_vectorview_matches_mne(testing_data):
    """All 306 VectorView channels, real coil integration, with a trans."""
    info = mne.io.read_info(testing_data / "test-ave.fif.gz", verbose=False)
    trans = mne.read_trans(testing_data / "sample_audvis_trunc-trans.fif")
    # sources given in MRI coordinates; the forward moves them to head
    head_mri = trans["trans"]
    src = _discrete_src(n=80, seed=4)
    for s in src:
        s["rr"] = mne.transforms.apply_trans(head_mri, s["rr"])
        s["nn"] = s["nn"] @ head_mri[:3, :3].T
        s["coord_frame"] = FIFF.FIFFV_COORD_MRI
    fwd = make_sphere_forward(info, src, origin=ORIGIN, trans=trans)
    fwd_mne = _mne_sphere_fwd(info, src, trans=trans)
    assert len(fwd["sol"]["row_names"]) == 306
    _assert_fwd_equal(fwd, fwd_mne, rtol=1e-6, atol_rel=1e-9)
    # accuracy: the real coils differ from point magnetometers, but little
    fwd_point = make_sphere_forward(
        info, src, origin=ORIGIN, trans=trans, accuracy="point"
    )
    G, Gp = fwd["sol"]["data"], fwd_point["sol"]["data"]
    rel = np.linalg.norm(G - Gp) / np.linalg.norm(G)
    assert 1e-4 < rel < 0.2


@requires_testing_data
def test_forward_round_trip(testing_data, tmp_path):
    info = mne.io.read_info(testing_data / "test-ave.fif.gz", verbose=False)
    fwd = make_sphere_forward(info, _discrete_src(n=10), origin=ORIGIN)
    fname = tmp_path / "sarvas-fwd.fif"
    mne.write_forward_solution(fname, fwd, verbose=False)
    fwd_read = mne.read_forward_solution(fname, verbose=False)
    assert_allclose(fwd_read["sol"]["data"], fwd["sol"]["data"], rtol=1e-6)


# ---------------------------------------------------------------------------
# bad input


def test_sarvas_bad_input():
    coil_rr, nn = _fibonacci_sphere(10, 0.1, np.zeros(3))
    rr = np.array([[0.0, 0.01, 0.02], [0.01, 0.0, 0.0]])
    with pytest.raises(ValueError, match="centre of the sphere"):
        sarvas_field(np.r_[rr, [[0.0, 0.0, 0.0]]], None, coil_rr, nn)
    with pytest.raises(ValueError, match="outside the sphere of radius"):
        sarvas_field(np.r_[rr, [[0.0, 0.0, 0.095]]], None, coil_rr, nn, radius=0.09)
    with pytest.raises(ValueError, match="inside the sphere of radius"):
        sarvas_field(rr, None, coil_rr, nn, radius=0.105)
    with pytest.raises(ValueError, match="farther from the sphere origin"):
        sarvas_field(np.r_[rr, [[0.0, 0.0, 0.12]]], None, coil_rr, nn)
    with pytest.raises(ValueError, match="zero-length dipole moment"):
        sarvas_field(rr, np.array([[1.0, 0, 0], [0, 0, 0]]), coil_rr, nn)
    bad_nn = nn.copy()
    bad_nn[3] = 0
    with pytest.raises(ValueError, match="zero-length normal"):
        sarvas_field(rr, None, coil_rr, bad_nn)
    with pytest.raises(ValueError, match="shape"):
        sarvas_field(rr[:, :2], None, coil_rr, nn)
    with pytest.raises(ValueError, match="one entry per integration point"):
        sarvas_field(rr, None, coil_rr, nn, coil_weights=np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        sarvas_field(np.r_[rr, [[np.nan, 0, 0]]], None, coil_rr, nn)


def test_make_sphere_forward_bad_input():
    src = _discrete_src(n=5)
    eeg_info = mne.create_info(["EEG1", "EEG2"], 1000.0, "eeg")
    with pytest.raises(ValueError, match="no MEG channels"):
        make_sphere_forward(eeg_info, src)
    with pytest.raises(ValueError, match="no MEG channels"):
        meg_coils(eeg_info)
    info = _point_mag_info()
    with pytest.raises(ValueError, match="'accuracy' parameter"):
        make_sphere_forward(info, src, accuracy="sloppy")
    with pytest.raises(TypeError, match="'src' parameter must be an instance "
                                        "of mne.SourceSpaces, got <class 'numpy"):
        make_sphere_forward(info, np.zeros((3, 3)))
    with pytest.raises(TypeError, match="'info' parameter must be an instance "
                                        "of mne.Info, got <class 'dict'>"):
        make_sphere_forward(dict(info), src)
    # a source at the origin and one outside the (declared) conductor
    at_origin = mne.setup_volume_source_space(
        pos=dict(rr=np.r_[[ORIGIN]], nn=np.array([[0.0, 0.0, 1.0]])), verbose=False
    )
    with pytest.raises(ValueError, match="centre of the sphere"):
        make_sphere_forward(info, at_origin, origin=ORIGIN)
    with pytest.raises(ValueError, match="outside the sphere"):
        make_sphere_forward(info, src, origin=ORIGIN, radius=0.03)


def test_coil_gain_compensation_shapes():
    info = _point_mag_info(n=8)
    coils = meg_coils(info, accuracy="point")
    assert coils.n_coils == 8 and coils.compensator is None
    G = coil_gain(np.array([[0.0, 0.02, 0.05]]), coils, origin=ORIGIN)
    assert G.shape == (8, 3)
    assert coils.out_names == info["ch_names"]


# ---------------------------------------------------------------------------
# leadfield_from_forward


def _prepare_gain_mne(fwd, info, cov, loose, depth=0.8):
    from mne.inverse_sparse.mxne_inverse import _prepare_gain

    _, G, gain_info, whitener, source_weighting, _ = _prepare_gain(
        fwd, info, cov, pca=False, depth=depth, loose=loose, rank=None
    )
    return G, gain_info, whitener, source_weighting


@requires_testing_data
def test_leadfield_free_matches_mne(testing_data):
    evoked = mne.read_evokeds(
        testing_data / "test-ave.fif.gz", condition="Left Auditory", verbose=False
    )
    cov = mne.read_cov(testing_data / "test-cov.fif", verbose=False)
    evoked.info["bads"] = ["MEG 2443"]
    fwd = make_sphere_forward(evoked.info, _discrete_src(n=40), origin=ORIGIN)
    lf = leadfield_from_forward(fwd, evoked, cov)
    G, gain_info, whitener, weighting = _prepare_gain_mne(fwd, evoked.info, cov, 1.0)
    assert_allclose(lf.G, G, rtol=1e-12)
    assert_allclose(lf.whitener, whitener, rtol=1e-12)
    assert_allclose(lf.source_weighting, weighting, rtol=1e-12)
    assert lf.ch_names == gain_info["ch_names"]
    # the bad channel is out, EEG (absent from the MEG forward) ignored
    assert "MEG 2443" not in lf.ch_names and len(lf.ch_names) == 305
    assert lf.n_orient == 3 and lf.n_sources == 40 and lf.G.shape == (305, 120)
    # SSP projectors reduce the noise rank below the channel count
    assert lf.rank < 305
    assert_array_equal(lf.vertices[0], np.arange(40))
    assert_allclose(lf.source_rr, fwd["source_rr"])
    # whitened data and physical units
    M = lf.whiten(evoked)
    sel = [evoked.ch_names.index(c) for c in lf.ch_names]
    assert_allclose(M, whitener @ evoked.data[sel])
    X = np.ones((120, 2))
    assert_allclose(lf.unweight(X), weighting[:, None] * X)
    # pca=True: one row per non-zero noise component
    lf_pca = leadfield_from_forward(fwd, evoked, cov, pca=True)
    assert lf_pca.G.shape == (lf.rank, 120)
    assert_allclose(lf_pca.G.T @ lf_pca.G, lf.G.T @ lf.G, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("loose, n_orient", [(0.0, 1), (0.2, 3)])
def test_leadfield_fixed_loose_matches_mne(small_template, loose, n_orient):
    tmpl = small_template
    info = mne.pick_info(tmpl.info, mne.pick_types(tmpl.info, meg=True))
    cov = mne.make_ad_hoc_cov(info, verbose=False)
    lf = leadfield_from_forward(tmpl.fwd, info, cov, loose=loose)
    G, gain_info, _, weighting = _prepare_gain_mne(tmpl.fwd, info, cov, loose)
    assert lf.n_orient == n_orient
    assert lf.G.shape == (306, n_orient * tmpl.n_sources)
    assert_allclose(lf.G, G, rtol=1e-10, atol=1e-12 * np.abs(G).max())
    assert_allclose(lf.source_weighting, weighting, rtol=1e-10)
    if n_orient == 1:  # columns oriented along the cortical normals
        assert_allclose(np.abs(np.sum(lf.source_nn * tmpl.source_nn, 1)), 1, atol=1e-6)
        # no noise covariance: the same ad hoc one is used
        lf_adhoc = leadfield_from_forward(tmpl.fwd, info, None, loose=loose)
        assert_allclose(lf_adhoc.G, lf.G, rtol=1e-10, atol=1e-12 * np.abs(G).max())
    else:
        # without depth weighting, the column scale is only the global one
        lf_nodepth = leadfield_from_forward(
            tmpl.fwd, info, cov, loose=loose, depth=None
        )
        assert lf_nodepth.depth_prior is None and lf.depth_prior is not None
        ratio = lf_nodepth.source_weighting[2::3] / lf_nodepth.source_weighting[0::3]
        assert_allclose(ratio, 1 / np.sqrt(loose))  # only the loose prior


def test_leadfield_channel_mismatch(small_template):
    tmpl = small_template
    info = tmpl.info
    meg_names = [c for c in tmpl.fwd["sol"]["row_names"] if c.startswith("MEG")]
    fwd_part = mne.pick_channels_forward(
        tmpl.fwd, meg_names[:-3], ordered=True, verbose=False
    )
    with pytest.raises(ValueError, match="does not cover the data: 3 good"):
        leadfield_from_forward(fwd_part, info)
    # marking them bad is the way out
    info_bads = info.copy()
    info_bads["bads"] = meg_names[-3:]
    lf = leadfield_from_forward(fwd_part, info_bads)
    assert lf.n_channels == len(meg_names) - 3  # EEG ignored: not in forward
    # a covariance lacking channels
    cov = mne.make_ad_hoc_cov(
        mne.pick_info(info, mne.pick_types(info, meg=True, eeg=True)[5:]),
        verbose=False,
    )
    with pytest.raises(ValueError, match="noise covariance lacks 5"):
        leadfield_from_forward(tmpl.fwd, info, cov)
    # an info with no channel of the forward's types
    eeg_only = mne.create_info(["Cz"], 1000.0, "eeg")
    fwd_meg = mne.pick_types_forward(tmpl.fwd, meg=True, eeg=False)
    with pytest.raises(ValueError, match="No good data channel"):
        leadfield_from_forward(fwd_meg, eeg_only)
    with pytest.raises(TypeError, match="'forward' parameter must be an "
                                        "instance of mne.Forward, got <class"):
        leadfield_from_forward(tmpl.fwd["sol"]["data"], info)
    with pytest.raises(TypeError, match="'info_or_evoked' parameter must be an "
                                        "mne.Info or have an 'info' attribute"):
        leadfield_from_forward(tmpl.fwd, info["chs"])
    with pytest.raises(TypeError, match="'noise_cov' parameter must be an "
                                        "instance of mne.Covariance or None"):
        leadfield_from_forward(tmpl.fwd, info, np.eye(3))
    with pytest.raises(ValueError, match="'loose' parameter"):
        leadfield_from_forward(tmpl.fwd, info, loose=2.0)
    with pytest.raises(TypeError, match="'loose' parameter must be 'auto' or a "
                                        "number in \\[0, 1\\], got <class 'list'>"):
        leadfield_from_forward(tmpl.fwd, info, loose=[0.2])
    with pytest.raises(ValueError, match="'fixed' parameter"):
        leadfield_from_forward(tmpl.fwd, info, fixed="yes")
    with pytest.raises(TypeError, match="'fixed' parameter must be True, False "
                                        "or 'auto', got <class 'int'>"):
        leadfield_from_forward(tmpl.fwd, info, fixed=1)
    with pytest.raises(ValueError, match="'data' parameter"):
        lf.whiten(np.zeros((3, 4)))

"""Each entry of :mod:`vaesource._mne_compat` still does what vaesource needs.

MNE's private functions carry no stability promise. Each test checks one
entry against MNE's public API (or a plain computation), so that an MNE
release that changes one fails here, naming the entry, rather than deep in
a forward model or a source estimate. The last test keeps
``_mne_compat`` the only module that names MNE's private API.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mne
import numpy as np
import pytest
from mne.io.constants import FIFF
from numpy.testing import assert_allclose, assert_array_equal

from vaesource import _mne_compat as compat

ORIGIN = np.array([0.0, 0.0, 0.04])
_CHANGED = f"MNE {mne.__version__} changed the private API behind _mne_compat."


def _mag_info(n=24, radius=0.11):
    """Radial point magnetometers on a cap around ORIGIN (device = head)."""
    i = np.arange(n) + 0.5
    z = 1 - 1.3 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    nn = np.c_[np.sqrt(1 - z**2) * np.cos(phi), np.sqrt(1 - z**2) * np.sin(phi), z]
    rr = ORIGIN + radius * nn
    info = mne.create_info([f"MAG{k:03d}" for k in range(n)], 1000.0, "mag")
    for ch, r, e in zip(info["chs"], rr, nn, strict=True):
        ch["coil_type"] = FIFF.FIFFV_COIL_POINT_MAGNETOMETER
        ch["coord_frame"] = FIFF.FIFFV_COORD_DEVICE
        ex = np.cross(e, [1.0, 0.0, 0.0] if abs(e[0]) < 0.9 else [0.0, 1.0, 0.0])
        ex /= np.linalg.norm(ex)
        ch["loc"][:12] = np.r_[r, ex, np.cross(e, ex), e]
    with compat.unlocked(info):
        info["dev_head_t"] = mne.transforms.Transform("meg", "head", np.eye(4))
    return info


def _eeg_info():
    names = ["Fz", "Cz", "Pz", "C3", "C4", "F3", "F4", "P3", "P4", "O1", "O2"]
    info = mne.create_info(names, 1000.0, "eeg")
    # renamed colin27_1020 in MNE 1.13
    builtin = mne.channels.get_builtin_montages()
    info.set_montage(
        "colin27_1020" if "colin27_1020" in builtin else "standard_1020",
        verbose=False,
    )
    return info


def _src(n=12, seed=0):
    """Discrete dipoles within 4 cm of ORIGIN (head = MRI coordinates)."""
    rng = np.random.default_rng(seed)
    rr = rng.normal(size=(n, 3))
    rr *= rng.uniform(0.01, 0.04, (n, 1)) / np.linalg.norm(rr, axis=1, keepdims=True)
    nn = rng.normal(size=(n, 3))
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    return mne.setup_volume_source_space(
        pos=dict(rr=rr + ORIGIN, nn=nn), verbose=False
    )


def _sphere():
    return mne.make_sphere_model(r0=ORIGIN, head_radius=0.09, verbose=False)


@pytest.fixture(scope="module")
def eeg_forward():
    """MNE's public EEG sphere forward of _src() (free orientation)."""
    info = _eeg_info()
    fwd = mne.make_forward_solution(
        info, None, _src(), _sphere(), meg=False, verbose=False
    )
    return info, fwd


def _evoked(info, data):
    return mne.EvokedArray(data, info, tmin=0.0, verbose=False)


# -------------------------------------------------------------- objects ---
def test_unlocked():
    info = mne.create_info(["a", "b"], 100.0, "eeg")
    with pytest.raises(RuntimeError):
        info["sfreq"] = 200.0
    with compat.unlocked(info):
        info["sfreq"] = 200.0
    assert info["sfreq"] == 200.0, _CHANGED
    with pytest.raises(RuntimeError):  # locked again
        info["sfreq"] = 300.0


def test_check_info_consistency():
    info = _eeg_info()
    compat.check_info_consistency(info)
    with compat.unlocked(info):
        info["chs"][1]["ch_name"] = info["chs"][0]["ch_name"]
    with pytest.raises((RuntimeError, ValueError)):
        compat.check_info_consistency(info)


def test_transform_src_to():
    src = _src()
    src[0]["coord_frame"] = FIFF.FIFFV_COORD_MRI
    rr, nn = src[0]["rr"].copy(), src[0]["nn"].copy()
    rot = mne.transforms.rotation(0.1, -0.2, 0.3)
    rot[:3, 3] = [0.01, -0.02, 0.03]
    mri_head_t = mne.transforms.Transform("mri", "head", rot)
    assert compat.transform_src_to(src, "head", mri_head_t) is src
    assert src[0]["coord_frame"] == FIFF.FIFFV_COORD_HEAD, _CHANGED
    assert_allclose(src[0]["rr"], mne.transforms.apply_trans(mri_head_t, rr))
    assert_allclose(src[0]["nn"], nn @ rot[:3, :3].T)


def test_frame_name():
    for name in ("head", "mri", "meg"):
        frame = mne.transforms.Transform(name, name)["from"]
        assert compat.frame_name(frame) == name, _CHANGED
    assert compat.frame_name(12345) == 12345


def test_get_trans():
    mri_head_t, _ = compat.get_trans(None)
    assert mri_head_t["from"] == FIFF.FIFFV_COORD_MRI, _CHANGED
    assert mri_head_t["to"] == FIFF.FIFFV_COORD_HEAD
    assert_array_equal(mri_head_t["trans"], np.eye(4))
    mat = mne.transforms.translation(0.01, 0.02, 0.03)
    mri_head_t, _ = compat.get_trans(mne.transforms.Transform("head", "mri", mat))
    assert mri_head_t["from"] == FIFF.FIFFV_COORD_MRI, _CHANGED
    assert_allclose(mri_head_t["trans"], np.linalg.inv(mat))


# -------------------------------------------------------------- geometry ---
def test_get_ico_surface():
    ico1, ico2 = compat.get_ico_surface(1), compat.get_ico_surface(2)
    assert ico2["rr"].shape == (162, 3) and ico2["tris"].shape == (320, 3), _CHANGED
    # icosahedral order: the vertices of a coarser grade come first
    assert_allclose(ico2["rr"][:42], ico1["rr"], err_msg=_CHANGED)


def test_fit_sphere():
    from mne.bem import _fit_sphere

    rng = np.random.default_rng(0)
    nn = rng.normal(size=(200, 3))
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    center = np.array([0.001, -0.004, 0.045])
    points = center + 0.085 * nn[nn[:, 2] > -0.3]
    radius, origin = compat.fit_sphere(points)
    assert_allclose(radius, 0.085, rtol=1e-12)
    assert_allclose(origin, center, atol=1e-12)
    with mne.utils.use_log_level("warning"):  # MNE 1.8 prints COBYLA's result
        radius_mne, origin_mne = _fit_sphere(points)  # MNE's, of any version
    assert_allclose(radius_mne, radius, rtol=1e-4, err_msg=_CHANGED)
    assert_allclose(origin_mne, origin, atol=1e-5, err_msg=_CHANGED)


# --------------------------------------------------------------- forward ---
def test_prep_meg_channels_and_concatenate_coils():
    info = _mag_info()
    sensors = compat.prep_meg_channels(
        info, accuracy="accurate", ignore_ref=False, head_frame=True
    )
    assert [d["chname"] for d in sensors["defs"]] == info["ch_names"], _CHANGED
    assert sensors["compensator"] is None
    rmags, cosmags, ws, bins = compat.concatenate_coils(sensors["defs"])
    # a point magnetometer: one integration point at the channel, along ez
    locs = np.array([ch["loc"] for ch in info["chs"]])
    assert_allclose(rmags, locs[:, :3], atol=1e-12, err_msg=_CHANGED)
    assert_allclose(cosmags, locs[:, 9:12], atol=1e-12, err_msg=_CHANGED)
    assert_allclose(ws, 1.0)
    assert_array_equal(bins, np.arange(len(info["ch_names"])))


def test_prepare_and_compute_eeg_forward(eeg_forward):
    info, fwd_mne = eeg_forward
    mri_head_t, trans = compat.get_trans(None)
    sensors, rr, _, update_kwargs, bem = compat.prepare_for_forward(
        _src(), mri_head_t, info, _sphere(), trans=trans, meg=False, eeg=True,
        ignore_ref=False,
    )
    assert set(sensors) == {"eeg"}, _CHANGED
    assert_allclose(rr, fwd_mne["source_rr"])
    assert update_kwargs["nsource"] == fwd_mne["nsource"]
    B = compat.compute_eeg_forward(rr, bem, sensors["eeg"])
    assert_allclose(B.T, fwd_mne["sol"]["data"], rtol=1e-12, err_msg=_CHANGED)
    fwd = compat.merge_fwds({"eeg": compat.to_forward_dict(B, info["ch_names"])})
    fwd.update(**update_kwargs)
    assert isinstance(fwd, mne.Forward), _CHANGED
    assert_allclose(fwd["sol"]["data"], fwd_mne["sol"]["data"], rtol=1e-12)
    assert fwd["sol"]["row_names"] == fwd_mne["sol"]["row_names"]
    assert fwd["source_ori"] == FIFF.FIFFV_MNE_FREE_ORI
    assert fwd["coord_frame"] == FIFF.FIFFV_COORD_HEAD


def test_merge_fwds_stacks_meg_then_eeg():
    rng = np.random.default_rng(1)
    G_meg, G_eeg = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    fwd = compat.merge_fwds(
        {
            "meg": compat.to_forward_dict(G_meg, ["M1", "M2", "M3"]),
            "eeg": compat.to_forward_dict(G_eeg, ["E1", "E2"]),
        }
    )
    assert fwd["sol"]["row_names"] == ["M1", "M2", "M3", "E1", "E2"], _CHANGED
    assert_array_equal(fwd["sol"]["data"], np.r_[G_meg.T, G_eeg.T])


def test_check_depth():
    opts = compat.check_depth(0.8)
    assert opts["exp"] == 0.8, _CHANGED
    assert compat.check_depth(None)["exp"] is None, _CHANGED


def test_prepare_forward_whitens_the_gain(eeg_forward):
    info, fwd = eeg_forward
    evoked = _evoked(info, np.zeros((len(info["ch_names"]), 1)))
    info = evoked.set_eeg_reference(projection=True, verbose=False).info
    cov = mne.make_ad_hoc_cov(info, verbose=False)
    out = compat.prepare_forward(
        fwd, info, cov, fixed=False, loose=1.0, rank=None, pca=False,
        depth_opts=compat.check_depth(None),
    )
    assert len(out) == 9, _CHANGED
    fwd_out, gain_info, G, _, _, source_weighting, _, _, whitener = out
    W, _ = mne.cov.compute_whitener(cov, info, pca=False, verbose=False)
    assert gain_info["ch_names"] == info["ch_names"], _CHANGED
    assert_allclose(whitener, W, rtol=1e-10, err_msg=_CHANGED)
    WG = W @ fwd["sol"]["data"]
    assert_allclose(G, WG * source_weighting, rtol=1e-10, err_msg=_CHANGED)
    # no depth weighting: one scale, trace(G G^T) = rank of the whitener
    n_rank = len(info["ch_names"]) - 1  # the average reference
    assert_allclose(source_weighting, np.sqrt(n_rank) / np.linalg.norm(WG))
    assert fwd_out["nsource"] == fwd["nsource"]


# -------------------------------------------------------------- inverses ---
def test_check_reference():
    info = _eeg_info()
    evoked = _evoked(info, np.zeros((len(info["ch_names"]), 3)))
    with pytest.raises(ValueError, match="average reference"):
        compat.check_reference(evoked)
    evoked.set_eeg_reference(projection=True, verbose=False)
    compat.check_reference(evoked)
    compat.check_reference(_evoked(_mag_info(), np.zeros((24, 3))))


def test_check_ori(eeg_forward):
    _, fwd = eeg_forward
    compat.check_ori(None, fwd)
    compat.check_ori("vector", fwd)
    fixed = mne.convert_forward_solution(
        fwd, surf_ori=True, force_fixed=True, verbose=False
    )
    with pytest.raises(ValueError, match="fixed"):
        compat.check_ori("vector", fixed)
    with pytest.raises(ValueError, match="pick_ori"):
        compat.check_ori("normal", fwd)


def _fixed(fwd):
    return mne.convert_forward_solution(
        fwd, surf_ori=True, force_fixed=True, verbose=False
    )


def test_compute_residual(eeg_forward):
    info, fwd = eeg_forward
    fwd = _fixed(fwd)
    rng = np.random.default_rng(2)
    evoked = _evoked(info, rng.normal(size=(len(info["ch_names"]), 5)))
    active, X = np.array([1, 7]), rng.normal(size=(2, 5))
    residual = compat.compute_residual(fwd, evoked, X, active, evoked.info)
    expected = evoked.data - fwd["sol"]["data"][:, active] @ X
    assert_allclose(residual.data, expected, rtol=1e-12, err_msg=_CHANGED)


def test_make_sparse_stc(eeg_forward):
    _, fwd = eeg_forward
    fwd = _fixed(fwd)
    X = np.arange(10.0).reshape(2, 5)
    active = np.array([3, 9])
    stc = compat.make_sparse_stc(X, active, fwd, 0.1, 0.01)
    assert isinstance(stc, mne.VolSourceEstimate), _CHANGED
    assert_array_equal(stc.vertices[0], fwd["src"][0]["vertno"][active])
    assert_array_equal(stc.data, X)
    assert_allclose(stc.times, 0.1 + 0.01 * np.arange(5))
    # free orientation, vector: one (x, y, z) row triple per location
    _, fwd_free = eeg_forward
    Xv = np.arange(30.0).reshape(6, 5)
    active = np.r_[6:9, 15:18]
    stc = compat.make_sparse_stc(Xv, active, fwd_free, 0.0, 0.01, pick_ori="vector")
    assert isinstance(stc, mne.VolVectorSourceEstimate), _CHANGED
    assert_array_equal(stc.vertices[0], fwd_free["src"][0]["vertno"][[2, 5]])
    assert_allclose(stc.data.reshape(6, 5), Xv)


def test_make_dipoles_sparse(eeg_forward):
    info, fwd = eeg_forward
    fwd = _fixed(fwd)
    X = np.array([[1e-9, -2e-9, 3e-9], [4e-9, 5e-9, -6e-9]])
    active = np.array([0, 4])
    G = fwd["sol"]["data"][:, active]
    M = G @ X
    dipoles = compat.make_dipoles_sparse(X, active, fwd, 0.0, 0.01, M, G)
    assert len(dipoles) == 2 and isinstance(dipoles[0], mne.Dipole), _CHANGED
    for dip, k, x in zip(dipoles, active, X, strict=True):
        assert_allclose(dip.pos, np.tile(fwd["source_rr"][k], (3, 1)))
        assert_allclose(dip.amplitude, x, err_msg=_CHANGED)
        assert_allclose(np.abs(np.sum(dip.ori * fwd["source_nn"][k], axis=1)), 1.0)
        assert_allclose(dip.times, [0.0, 0.01, 0.02])


def test_gamma_map_opt():
    rng = np.random.default_rng(3)
    G = rng.normal(size=(30, 20))
    X = np.zeros((20, 8))
    X[[4, 13]] = rng.normal(size=(2, 8))
    M = G @ X + 1e-3 * rng.normal(size=(30, 8))
    with mne.utils.use_log_level("error"):
        X_est, active = compat.gamma_map_opt(M, G, 1e-2, tol=1e-10, maxit=2000)
    assert X_est.shape == (len(active), 8), _CHANGED
    X_full = np.zeros_like(X)
    X_full[active] = X_est
    assert_allclose(X_full, X, atol=1e-2, err_msg=_CHANGED)


def test_observe_gamma_map_svds():
    import mne.inverse_sparse._gamma_map as gm

    rng = np.random.default_rng(4)
    G = rng.normal(size=(10, 15))
    M = G[:, :2] @ rng.normal(size=(2, 6))
    seen = []
    real = gm._safe_svd
    with compat.observe_gamma_map_svds(seen.append), mne.utils.use_log_level("error"):
        compat.gamma_map_opt(M, G, 1e-3, maxit=5, tol=0.0)
    assert gm._safe_svd is real
    assert len(seen) == 5, f"{_CHANGED} (one SVD per gamma-MAP iteration)"
    U, S, _ = seen[0]
    # the SVD of the (symmetric) model covariance alpha I + G Gamma G^T
    assert U.shape == (10, 10) and S.shape == (10,)
    assert np.all(S >= 1e-3 - 1e-12)


@pytest.mark.filterwarnings("ignore:No average EEG reference")
def test_simulate_evoked(eeg_forward):
    info, fwd = eeg_forward
    fwd = _fixed(fwd)
    vertices = [fwd["src"][0]["vertno"]]
    data = np.zeros((fwd["nsource"], 4))
    data[2] = 1e-8
    stc = mne.VolSourceEstimate(data, vertices, 0.0, 1e-3)
    cov = mne.make_ad_hoc_cov(info, verbose=False)
    evokeds = [
        compat.simulate_evoked(
            fwd, stc, info, cov, nave=5, rng=np.random.default_rng(7)
        )
        for _ in range(2)
    ]
    assert_array_equal(evokeds[0].data, evokeds[1].data, err_msg=_CHANGED)
    assert evokeds[0].nave == 5
    clean = mne.apply_forward(fwd, stc, info, verbose=False)
    noise = evokeds[0].data - clean.data
    assert 0 < np.std(noise) < np.std(clean.data), _CHANGED
    other = compat.simulate_evoked(
        fwd, stc, info, cov, nave=5, rng=np.random.default_rng(8)
    )
    assert not np.allclose(other.data, evokeds[0].data)


def test_write_info(tmp_path):
    fname = tmp_path / "x-info.fif"
    fname.write_bytes(b"not a fif file")  # replaced
    info = _mag_info()
    compat.write_info(fname, info)
    back = mne.io.read_info(fname, verbose=False)
    assert back["ch_names"] == info["ch_names"], _CHANGED
    assert_allclose(back["chs"][3]["loc"], info["chs"][3]["loc"])


def test_compare_version():
    assert compat.compare_version("1.10", ">", "1.9"), _CHANGED
    assert not compat.compare_version("0.3", ">", "0.3")
    assert compat.compare_version("0.3", ">=", "0.3")


# ----------------------------------------------------------- the one door ---
_PRIVATE_METHODS = {"_unlock", "_check_consistency", "_transform_to"}


def _private_mne_uses(tree):
    """(line, text) of each private MNE name in a module's syntax tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "mne" and (
                any(p.startswith("_") for p in parts)
                or any(a.name.startswith("_") for a in node.names)
            ):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "mne" and any(p.startswith("_") for p in parts):
                    yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Attribute):
            if node.attr in _PRIVATE_METHODS:
                yield node.lineno, ast.unparse(node)
            elif node.attr.startswith("_") and not node.attr.startswith("__"):
                root = node.value
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id == "mne":
                    yield node.lineno, ast.unparse(node)


def test_only_mne_compat_uses_private_mne():
    root = Path(compat.__file__).resolve().parents[1]
    offenders = []
    for package in ("vaesource", "data_fetch"):
        for path in sorted((root / package).rglob("*.py")):
            if path.name == "_mne_compat.py":
                continue
            for line, text in _private_mne_uses(ast.parse(path.read_text())):
                offenders.append(f"{path.relative_to(root)}:{line}: {text}")
    assert not offenders, (
        "MNE's private API is used outside vaesource/_mne_compat.py (add an "
        "entry there, with a test here):\n" + "\n".join(offenders)
    )
    # and the checker finds what it must
    found = list(_private_mne_uses(ast.parse(Path(compat.__file__).read_text())))
    assert any("_unlock" in text for _, text in found)
    assert any("_gamma_map" in text for _, text in found)

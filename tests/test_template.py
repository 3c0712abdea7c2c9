"""Tests of the embedded template head and of the MEG benchmark dictionary.

The template is built from package data only; its forward must be what
MNE-Python computes for the same sensors, sources and spheres, and its
geometry must be anatomically sensible (cortex inside the skull, sensors
outside the scalp).
"""

from __future__ import annotations

import time

import mne
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from vaesource.datasets import cache_path, template
from vaesource.forward import dictionary as dictionary_module
from vaesource.forward import meg_dictionary, sarvas_field
from vaesource.forward.template._geometry import ico_use_tris, read_fsaverage5
from vaesource.forward.template._head import _cache_files


def test_template_contents(small_template):
    tmpl = small_template
    info = tmpl.info
    types = info.get_channel_types()
    assert types.count("grad") == 204 and types.count("mag") == 102
    assert types.count("eeg") == 86
    assert len(info["projs"]) == 1  # average EEG reference
    # VectorView coils, as MNE would define them
    coil_types = {ch["coil_type"] for ch in info["chs"] if ch["kind"] == 1}
    assert coil_types == {
        mne.io.constants.FIFF.FIFFV_COIL_VV_PLANAR_T1,
        mne.io.constants.FIFF.FIFFV_COIL_VV_MAG_T3,
    }
    src = tmpl.src
    assert src.kind == "surface" and len(src) == 2
    for s in src:
        assert s["np"] == 10242 and s["nuse"] == 642
        assert_array_equal(s["vertno"], np.arange(642))
        assert s["use_tris"].shape == (1280, 3)
    assert tmpl.n_sources == 1284
    fwd = tmpl.fwd
    assert fwd["sol"]["data"].shape == (392, 3 * 1284)
    assert fwd["sol"]["row_names"] == info["ch_names"]
    assert fwd["coord_frame"] == mne.io.constants.FIFF.FIFFV_COORD_HEAD
    assert tmpl.surfaces["pial"]["lh"][0].shape == (10242, 3)
    assert tmpl.sulc["rh"].shape == (10242,)
    assert "Template" in repr(tmpl)


def test_template_geometry_is_anatomical(small_template):
    tmpl = small_template
    r0 = tmpl.sphere["r0"]
    radius = tmpl.sphere.radius
    # sphere centre inside the brain, radius a head's
    assert 0.085 < radius < 0.11
    assert np.linalg.norm(r0 - tmpl.source_rr.mean(0)) < 0.03
    # the cortical sources lie inside the inner skull, which is
    # star-shaped around its centre: compare radii along each direction
    skull = tmpl.inner_skull[0]
    center = skull.mean(0)
    src_d = tmpl.source_rr - center
    skull_d = skull - center
    src_r = np.linalg.norm(src_d, axis=1)
    skull_r = np.linalg.norm(skull_d, axis=1)
    nearest_dir = np.argmax(
        (src_d / src_r[:, None]) @ (skull_d / skull_r[:, None]).T, 1
    )
    assert np.all(src_r < skull_r[nearest_dir])
    # sensors outside the scalp, 1.5 to 4 cm away at the closest
    scalp = tmpl.scalp[0]
    coils = tmpl.fwd["info"]
    meg_rr = mne.transforms.apply_trans(
        coils["dev_head_t"],
        np.array([ch["loc"][:3] for ch in coils["chs"] if ch["kind"] == 1]),
    )
    closest = np.min(np.linalg.norm(meg_rr[:, None] - scalp[None], axis=-1))
    assert 0.015 < closest < 0.04
    # EEG electrodes on the outer sphere
    eeg_rr = np.array([ch["loc"][:3] for ch in tmpl.info["chs"] if ch["kind"] == 2])
    assert_allclose(np.linalg.norm(eeg_rr - r0, axis=1), radius, rtol=1e-6)


def test_template_forward_matches_mne(small_template):
    """MEG rows equal MNE's sphere forward; EEG rows MNE's 4-shell sphere."""
    tmpl = small_template
    info_meg = mne.pick_info(tmpl.info, mne.pick_types(tmpl.info, meg=True))
    meg_sphere = mne.make_sphere_model(
        r0=tmpl.sphere["r0"], head_radius=None, verbose=False
    )
    # tmpl.src is in head coordinates: MNE needs no transform (trans=None)
    fwd_meg = mne.make_forward_solution(
        info_meg, None, tmpl.src, meg_sphere, eeg=False, verbose=False
    )
    G = tmpl.fwd["sol"]["data"]
    G_meg = fwd_meg["sol"]["data"]
    # the cached forward is stored in single precision
    assert_allclose(G[:306], G_meg, rtol=1e-6, atol=1e-6 * np.abs(G_meg).max())
    info_eeg = mne.pick_info(tmpl.info, mne.pick_types(tmpl.info, meg=False, eeg=True))
    fwd_eeg = mne.make_forward_solution(
        info_eeg, None, tmpl.src, tmpl.sphere, meg=False, verbose=False
    )
    assert fwd_eeg["nsource"] == tmpl.n_sources  # no source dropped
    G_eeg = fwd_eeg["sol"]["data"]
    assert_allclose(G[306:], G_eeg, rtol=1e-6, atol=1e-6 * np.abs(G_eeg).max())


@pytest.mark.filterwarnings("ignore:Invalid tag:RuntimeWarning")
def test_template_cache(small_template, template_cache):
    files = _cache_files(cache_path(template_cache), "ico3", "meg+eeg")
    assert all(f.is_file() for f in files.values())
    # atomic writes leave no temporary files behind
    assert not list(template_cache.glob(".tmp-*"))
    t0 = time.perf_counter()
    again = template("ico3", sensors="meg+eeg", cache_dir=template_cache)
    assert time.perf_counter() - t0 < 2.0  # ~0.03 s; generous for busy CI
    assert_array_equal(again.fwd["sol"]["data"], small_template.fwd["sol"]["data"])
    assert again.info["ch_names"] == small_template.info["ch_names"]
    assert_allclose(again.sphere["r0"], small_template.sphere["r0"])
    # a corrupt cache file is rebuilt, not fatal
    files["info"].write_bytes(b"garbage")
    rebuilt = template("ico3", sensors="meg+eeg", cache_dir=template_cache)
    assert rebuilt.info["ch_names"] == small_template.info["ch_names"]


def test_template_bad_options(tmp_path):
    with pytest.raises(ValueError, match="'spacing' parameter"):
        template("ico6", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="'sensors' parameter"):
        template("ico3", sensors="meeg", cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_cache_path_env(monkeypatch, tmp_path):
    monkeypatch.setenv("VAESOURCE_CACHE_DIR", str(tmp_path / "here"))
    assert cache_path() == tmp_path / "here"
    assert cache_path(tmp_path / "there") == tmp_path / "there"


def test_ico_subdivisions_are_closed_surfaces():
    surfaces, _ = read_fsaverage5(("sphere",))
    for grade in (3, 4):
        tris = ico_use_tris(grade, surfaces["sphere"]["lh"][0])
        n_vert = 10 * 4**grade + 2
        assert_array_equal(np.unique(tris), np.arange(n_vert))
        edges = np.sort(
            np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), 1
        )
        n_edges = len(np.unique(edges, axis=0))
        assert n_vert - n_edges + len(tris) == 2  # Euler characteristic


# ---------------------------------------------------------------------------
# meg_dictionary


def test_meg_dictionary(template_cache):
    dictionary_module._geometry.cache_clear()
    dictionary_module._cached_dictionary.cache_clear()
    G, geo = meg_dictionary(cache_dir=template_cache, return_geometry=True)
    assert G.shape == (100, 200)
    assert_allclose(np.linalg.norm(G, axis=0), 1.0, rtol=1e-12)
    # strongly correlated columns, yet full rank (paper's 'meg' setting)
    C = np.abs(G.T @ G)
    np.fill_diagonal(C, 0)
    assert C.max() > 0.9 and C.max(0).mean() > 0.8
    assert np.linalg.matrix_rank(G) == 100
    # deterministic, memoised, and returned as a fresh writable copy
    G_again = meg_dictionary(cache_dir=template_cache)
    assert_array_equal(G, G_again)
    G_again[0, 0] = 7.0
    assert meg_dictionary(cache_dir=template_cache)[0, 0] != 7.0
    # other seeds give other, equally spread sources
    G1 = meg_dictionary(seed=1, cache_dir=template_cache)
    assert not np.allclose(G1, G)
    assert_array_equal(G1, meg_dictionary(seed=1, cache_dir=template_cache))
    # columns are the Sarvas field of the documented dipoles at the sensors
    point = sarvas_field(
        geo.source_rr, geo.source_nn, geo.sensor_rr, geo.sensor_nn, origin=geo.origin
    )
    point /= np.linalg.norm(point, axis=0)
    # real coils vs their centres: close but not equal
    err = np.linalg.norm(point - G) / np.linalg.norm(G)
    assert 1e-4 < err < 0.05
    # after the cache exists a fresh process needs only the small geometry file
    dictionary_module._geometry.cache_clear()
    dictionary_module._cached_dictionary.cache_clear()
    t0 = time.perf_counter()
    meg_dictionary(cache_dir=template_cache)
    assert time.perf_counter() - t0 < 1.0  # ~0.02 s; generous for busy CI


def test_meg_dictionary_matches_template_forward(template_cache):
    """Same sensors and sources as the template's MEG forward."""
    tmpl = template("ico4", sensors="meg", cache_dir=template_cache)
    G, geo = meg_dictionary(
        n_sensors=50,
        n_sources=30,
        seed=5,
        cache_dir=template_cache,
        return_geometry=True,
    )
    mags = [tmpl.info["ch_names"].index(f"MEG {k:03d}1") for k in range(1, 51)]
    full = tmpl.fwd["sol"]["data"][mags].reshape(50, -1, 3)[:, geo.source_index]
    expected = np.einsum("kij,ij->ki", full, geo.source_nn)
    expected /= np.linalg.norm(expected, axis=0)
    assert_allclose(G, expected, atol=1e-5)


def test_meg_dictionary_bad_input(template_cache):
    with pytest.raises(ValueError, match="'n_sensors'"):
        meg_dictionary(n_sensors=500, cache_dir=template_cache)
    with pytest.raises(ValueError, match="'n_sources'"):
        meg_dictionary(n_sources=0, cache_dir=template_cache)
    with pytest.raises(ValueError, match="'n_sources'"):
        meg_dictionary(n_sources=10_000, cache_dir=template_cache)

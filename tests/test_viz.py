"""Tests of vaesource.viz: the renders are checked on their pixels.

Off-screen pyvista renders (EGL or OSMesa; no display needed): each test
projects a known glyph position to the screenshot and checks the colour
found there, so a source hidden inside the cortex, a missing truth marker
or a blank image fails.
"""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import mne  # noqa: E402

from vaesource import viz  # noqa: E402
from vaesource.viz._surfaces import _make_cortex  # noqa: E402

SIZE = (660, 420)


# ------------------------------------------------------------------ helpers
def _hsv(pixel):
    return mcolors.rgb_to_hsv(np.asarray(pixel, float)[:3] / 255.0)


def _is_gray(pixel):
    pixel = np.asarray(pixel, int)[:3]
    return int(pixel.max() - pixel.min()) < 25


def _matches(pixel, color):
    """Same hue and clearly saturated: the colour map colour under shading."""
    h_pix, s_pix, v_pix = _hsv(pixel)
    h_exp = mcolors.rgb_to_hsv(np.asarray(color, float))[0]
    dh = min(abs(h_pix - h_exp), 1 - abs(h_pix - h_exp))
    return dh < 0.05 and s_pix > 0.5 and v_pix > 0.3


def _green(img):
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return (g > 90) & (g > r + 50) & (g > b + 40)


def _saturated(img):
    img = img.astype(int)
    return (img.max(axis=-1) - img.min(axis=-1)) > 60


def _panel_box(plotter, panel):
    """Pixel rows / columns of a subplot in the screenshot."""
    renderer = plotter.renderers[plotter.renderers.loc_to_index((panel["row"],
                                                                 panel["col"]))]
    x0, y0, x1, y1 = renderer.GetViewport()
    w, h = plotter.window_size
    return (slice(int(round((1 - y1) * h)), int(round((1 - y0) * h))),
            slice(int(round(x0 * w)), int(round(x1 * w))))


def _pixel_of(plotter, glyph):
    panel = plotter.vaesource.panels[glyph["panel"]]
    col, row = viz.world_to_pixel(plotter, (panel["row"], panel["col"]), glyph["pos"])
    return int(round(row)), int(round(col))


def _stc(template, sources, n_times=5, vector=False):
    """Estimate on the template with ``{(hemi, vertex): amplitude}``."""
    verts = template.vertices
    n = sum(len(v) for v in verts)
    data = np.zeros((n, 3, n_times) if vector else (n, n_times))
    for (hemi, vertex), amp in sources.items():
        k = int(np.flatnonzero(verts[0 if hemi == "lh" else 1] == vertex)[0])
        k += 0 if hemi == "lh" else len(verts[0])
        if vector:
            data[k, 2, 2] = amp
        else:
            data[k, 2] = amp
    cls = mne.VectorSourceEstimate if vector else mne.SourceEstimate
    return cls(data, verts, tmin=0.0, tstep=0.01, subject="fsaverage")


@pytest.fixture(scope="module")
def lateral_vertices(small_template):
    """Two lh source vertices facing the lh lateral camera, 5 cm apart."""
    cortex = _make_cortex(small_template.surfaces["inflated"], "inflated", None)
    verts = small_template.vertices[0]
    nn = cortex.nn["lh"][verts]
    rr = cortex.rr["lh"][verts]
    order = np.argsort(nn[:, 0])  # most negative x normal first
    first = order[0]
    far = [i for i in order[:80] if np.linalg.norm(rr[i] - rr[first]) > 0.05]
    return int(verts[first]), int(verts[far[0]])


# ---------------------------------------------------------------- cortex
def test_plot_sources_source_and_truth_in_place(rendering, small_template, lateral_vertices,
                                                tmp_path):
    v_src, v_truth = lateral_vertices
    stc = _stc(small_template, {("lh", v_src): 20e-9, ("rh", 100): 5e-9})
    fname = tmp_path / "sources.png"
    plotter = viz.plot_sources(
        stc, surfaces=small_template, truth={"lh": [v_truth]}, size=SIZE,
        fname=fname,
    )
    try:
        img = plotter.screenshot()
        assert img.shape == (SIZE[1], SIZE[0], 3)  # deterministic size
        assert fname.is_file()
        saved = plt.imread(fname)
        assert saved.shape[:2] == (SIZE[1], SIZE[0])
        assert img.std() > 20  # not blank
        info = plotter.vaesource
        assert info.units == "nAm"
        assert info.clim == pytest.approx((0.0, 20.0))
        assert info.colorbar["text"] == "amplitude (nAm)"
        # the strong lh source, in the lh lateral panel: colour map colour
        lateral = [s for s in info.sources if s["vertex"] == v_src
                   and info.panels[s["panel"]]["title"] == "lh lateral"]
        assert len(lateral) == 1
        row, col = _pixel_of(plotter, lateral[0])
        pixel = img[row, col]
        assert _matches(pixel, lateral[0]["color"]), pixel
        assert not _is_gray(pixel)
        # ... and the cortex around it (well outside the glyph) is gray
        r_px = 6 * lateral[0]["radius"] / plotter.renderers[0].camera.parallel_scale
        off = int(round(r_px * SIZE[1]))
        assert _is_gray(img[row, min(col + off, SIZE[0] - 1)])
        # truth ring: green pixels around the truth vertex only
        ring = [t for t in info.truth
                if info.panels[t["panel"]]["title"] == "lh lateral"]
        assert len(ring) == 1
        t_row, t_col = _pixel_of(plotter, ring[0])
        rows, cols = _panel_box(plotter, info.panels[ring[0]["panel"]])
        green = _green(img)[rows, cols]
        assert green.sum() > 20
        g_rows, g_cols = np.nonzero(green)
        g_rows, g_cols = g_rows + rows.start, g_cols + cols.start
        dist = np.hypot(g_rows - t_row, g_cols - t_col)
        assert dist.max() < 25  # all green of that panel is the ring
        assert np.hypot(g_rows.mean() - t_row, g_cols.mean() - t_col) < 6
        assert not _green(img[t_row, t_col][None, None])[0, 0]  # a ring: hollow
        # a source on the other hemisphere is not drawn in lh panels
        rh = [s for s in info.sources if s["hemi"] == "rh"]
        assert rh and all("rh" in info.panels[s["panel"]]["hemis"] for s in rh)
        assert {info.panels[s["panel"]]["title"] for s in rh} == {"rh lateral", "rh medial", "dorsal"}
    finally:
        plotter.close()


def test_plot_sources_empty_estimate(rendering, small_template):
    stc = _stc(small_template, {})
    plotter = viz.plot_sources(stc, surfaces=small_template, hemi="lh",
                               views=("lateral",), size=(400, 330))
    try:
        img = plotter.screenshot()
        assert img.shape == (330, 400, 3)
        info = plotter.vaesource
        assert info.sources == [] and info.clim is None
        rows, cols = _panel_box(plotter, info.panels[0])
        panel = img[rows, cols]
        assert not _saturated(panel).any()  # bare gray cortex
        assert (panel.astype(int).sum(axis=-1) < 600).mean() > 0.2  # cortex drawn
        # the note, in dark red, below the panel
        note = img[rows.stop:]
        red = (note[..., 0] > 120) & (note[..., 1] < 60) & (note[..., 2] < 60)
        assert red.sum() > 30
        assert not list(plotter.scalar_bars.keys())
    finally:
        plotter.close()


def test_plot_sources_vector_and_time(rendering, small_template, lateral_vertices):
    v_src, _ = lateral_vertices
    stc = _stc(small_template, {("lh", v_src): 3e-9}, vector=True)
    plotter = viz.plot_sources(stc, surfaces=small_template, views="lateral",
                               hemi="lh", time=0.02, size=(330, 300))
    try:
        info = plotter.vaesource
        assert len(info.sources) == 1
        assert info.sources[0]["amplitude"] == pytest.approx(3.0)
        img = plotter.screenshot()
        assert _matches(img[_pixel_of(plotter, info.sources[0])],
                        info.sources[0]["color"])
    finally:
        plotter.close()
    # at a time where the source is silent nothing is drawn
    plotter = viz.plot_sources(stc, surfaces=small_template, views="lateral",
                               hemi="lh", time=0.0, size=(330, 300))
    assert plotter.vaesource.sources == []
    plotter.close()
    with pytest.raises(ValueError, match="'time' parameter"):
        viz.plot_sources(stc, surfaces=small_template, time=1.0)


def test_plot_sources_rejects_mismatch(small_template):
    verts = small_template.vertices
    bad = mne.SourceEstimate(np.ones((2, 1)), [np.array([20000]), np.array([0])],
                             0.0, 0.01)
    with pytest.raises(ValueError, match="does not match the surfaces"):
        viz.plot_sources(bad, surfaces=small_template)
    # a source space for another mesh
    small = {h: small_template.surfaces["white"][h] for h in ("lh", "rh")}
    rr, tris = small["lh"]
    keep = np.all(tris < 5000, axis=1)
    small["lh"] = (rr[:5000], tris[keep])
    stc = _stc(small_template, {("lh", int(verts[0][3])): 1e-9})
    with pytest.raises(ValueError, match="source space does not match"):
        viz.plot_sources(stc, surfaces=small, surface="white",
                         src=small_template.src)
    # a wrong type is a TypeError (MNE's _validate_type convention)
    with pytest.raises(TypeError, match="'stc' parameter must be an "
                       "mne.SourceEstimate or mne.VectorSourceEstimate \\(a "
                       "volume source estimate: use vaesource.viz."
                       "plot_volume_sources for it\\), got <class"):
        viz.plot_sources(mne.VolSourceEstimate(np.ones((1, 1)), [np.array([0])],
                                               0, 1))
    with pytest.raises(TypeError, match="'stc' parameter must be an "
                       "mne.SourceEstimate or mne.VectorSourceEstimate, got "
                       "<class 'numpy.ndarray'> instead"):
        viz.plot_sources(np.ones((3, 1)), surfaces=small_template)
    with pytest.raises(TypeError, match="'surfaces' parameter must be None"):
        viz.plot_sources(stc, surfaces=[1, 2])
    with pytest.raises(ValueError, match="'surfaces' parameter must be None.*got "
                       "a dict with keys \\['lh'\\]"):
        viz.plot_sources(stc, surfaces={"lh": small["lh"]})
    with pytest.raises(TypeError, match="'truth' parameter must be a "
                       "SourceEstimate, a dict"):
        viz.plot_sources(stc, surfaces=small_template, truth=3)
    with pytest.raises(ValueError, match="'truth' parameter.*got a list of "
                       "length 3"):
        viz.plot_sources(stc, surfaces=small_template, truth=[[0], [0], [0]])
    with pytest.raises(TypeError, match="'size' parameter must be \\(width, "
                       "height\\) in pixels, got <class 'int'>"):
        viz.plot_sources(stc, surfaces=small_template, size=500)
    with pytest.raises(TypeError, match="'stcs' parameter must be a non-empty "
                       "dict {name: SourceEstimate}, got <class 'list'>"):
        viz.plot_comparison([stc], surfaces=small_template)
    with pytest.raises(ValueError, match="'stcs' parameter must be a non-empty"):
        viz.plot_comparison({}, surfaces=small_template)
    with pytest.raises(ValueError, match="'views' parameter"):
        viz.plot_sources(stc, surfaces=small_template, views=("sideways",))
    with pytest.raises(ValueError, match="'surface' parameter"):
        viz.plot_sources(stc, surfaces=small_template, surface="sphere")


def test_plot_comparison_same_cameras(rendering, small_template, lateral_vertices):
    v_src, v_other = lateral_vertices
    truth = _stc(small_template, {("lh", v_src): 10e-9})
    stcs = {
        "full VAE": _stc(small_template, {("lh", v_src): 10e-9}),
        "MxNE": _stc(small_template, {("lh", v_other): 4e-9}),
        "gamma-MAP": _stc(small_template, {}),
        "truth": truth,
    }
    plotter = viz.plot_comparison(stcs, surfaces=small_template, hemi="lh",
                                  size=(800, 330))
    try:
        img = plotter.screenshot()
        assert img.shape == (330, 800, 3)
        info = plotter.vaesource
        cams = [plotter.renderers[plotter.renderers.loc_to_index((p["row"], p["col"]))]
                .camera for p in info.panels]
        for cam in cams[1:]:
            assert np.allclose(cam.position, cams[0].position)
            assert cam.parallel_scale == pytest.approx(cams[0].parallel_scale)
        # one colour scale for all methods
        assert info.clim == pytest.approx((0.0, 10.0))
        vae = [s for s in info.sources if info.panels[s["panel"]]["name"] == "full VAE"]
        row, col = _pixel_of(plotter, vae[0])
        assert _matches(img[row, col], vae[0]["color"])
        # the same spot in the gamma-MAP column: a truth ring, no sphere
        empty = [p for p in info.panels if p["name"] == "gamma-MAP"][0]
        box = _panel_box(plotter, empty)
        shift = box[1].start - _panel_box(plotter, info.panels[vae[0]["panel"]])[1].start
        assert not _matches(img[row, col + shift], vae[0]["color"])
        assert _green(img[box])[max(row - 25, 0): row + 25].any()
        # truth is drawn as spheres in its own column, not as rings there
        assert not [t for t in info.truth
                    if info.panels[t["panel"]]["name"] == "truth"]
    finally:
        plotter.close()


def test_plot_sources_freesurfer_subject(rendering, small_template, tmp_path):
    import nibabel as nib

    surf = tmp_path / "subj" / "surf"
    surf.mkdir(parents=True)
    for hemi in ("lh", "rh"):
        rr, tris = small_template.surfaces["white"][hemi]
        nib.freesurfer.write_geometry(str(surf / f"{hemi}.white"), 1e3 * rr, tris)
        nib.freesurfer.write_morph_data(str(surf / f"{hemi}.curv"),
                                        small_template.sulc[hemi].astype("f4"))
    stc = _stc(small_template, {("rh", int(small_template.vertices[1][7])): 1e-8})
    plotter = viz.plot_sources(stc, subject="subj", subjects_dir=tmp_path,
                               surface="white", views=("dorsal",), size=(300, 330))
    try:
        info = plotter.vaesource
        assert len(info.sources) == 1
        # glyph sits outside the white surface, in metres
        rr = small_template.surfaces["white"]["rh"][0]
        assert np.linalg.norm(info.sources[0]["pos"] - rr[info.sources[0]["vertex"]]) \
            == pytest.approx(0.5 * info.sources[0]["radius"], rel=1e-3)
    finally:
        plotter.close()
    with pytest.raises(ValueError, match="not found"):
        viz.plot_sources(stc, subject="subj", subjects_dir=tmp_path,
                         surface="inflated")


# ---------------------------------------------------------------- volume
def test_plot_volume_sources(rendering, small_template):
    src = mne.setup_volume_source_space(pos=20.0, sphere=small_template.sphere,
                                        verbose=False)
    vertno = src[0]["vertno"]
    data = np.zeros((len(vertno), 2))
    k = len(vertno) // 2
    data[k, 1] = 15e-9
    stc = mne.VolSourceEstimate(data, [vertno], 0.0, 0.01)
    plotter = viz.plot_volume_sources(stc, src, template=small_template,
                                      truth=[vertno[k]], size=(600, 300))
    try:
        img = plotter.screenshot()
        assert img.shape == (300, 600, 3)
        info = plotter.vaesource
        assert [p["view"] for p in info.panels] == ["sagittal", "coronal", "axial"]
        assert len(info.sources) == 3 and len(info.truth) == 3
        for glyph in info.sources:
            row, col = _pixel_of(plotter, glyph)
            # seen through the glass: same hue, a little paler
            h_pix, s_pix, _ = _hsv(img[row, col])
            assert s_pix > 0.4 and min(h_pix, 1 - h_pix) < 0.06, img[row, col]
        for ring in info.truth:
            row, col = _pixel_of(plotter, ring)
            assert _green(img[row - 20: row + 21, col - 20: col + 21]).sum() > 20
        # positions: source-space (MRI) coordinates moved to head coordinates
        trans = np.linalg.inv(small_template.trans["trans"])
        expected = src[0]["rr"][vertno[k]] @ trans[:3, :3].T + trans[:3, 3]
        assert np.allclose(info.sources[0]["pos"], expected)
    finally:
        plotter.close()
    with pytest.raises(ValueError, match="does not match the source space"):
        bad = mne.VolSourceEstimate(np.ones((1, 1)), [np.array([-5])], 0, 1)
        viz.plot_volume_sources(bad, src, template=small_template)
    # a wrong type is a TypeError (MNE's _validate_type convention)
    cortical = mne.SourceEstimate(np.ones((1, 1)), [np.array([0]), np.array([], int)],
                                  0, 1)
    with pytest.raises(TypeError, match="'stc' parameter must be an "
                       "mne.VolSourceEstimate \\(use plot_sources"):
        viz.plot_volume_sources(cortical, src, template=small_template)
    with pytest.raises(TypeError, match="'src' parameter must be the volume "
                       "mne.SourceSpaces of the estimate, got <class 'list'>"):
        viz.plot_volume_sources(stc, list(src), template=small_template)
    with pytest.raises(ValueError, match="'src' parameter.*of kind 'surface'"):
        viz.plot_volume_sources(stc, small_template.src, template=small_template)
    with pytest.raises(TypeError, match="'trans' parameter must be None, "
                       "'identity' or an mne.transforms.Transform, got <class"):
        viz.plot_volume_sources(stc, src, template=small_template, trans=np.eye(4))
    with pytest.raises(ValueError, match="'trans' parameter.*got 'head'"):
        viz.plot_volume_sources(stc, src, template=small_template, trans="head")


# ---------------------------------------------------------------- matplotlib
def test_plot_time_courses(small_template, lateral_vertices):
    v1, v2 = lateral_vertices
    stc = _stc(small_template, {("lh", v1): 20e-9, ("lh", v2): -5e-9})
    truth = _stc(small_template, {("lh", v1): 18e-9, ("rh", 3): 2e-9})
    fig = viz.plot_time_courses(stc, truth=truth, n_max=1)
    ax = fig.axes[0]
    solid = [line for line in ax.lines if line.get_linestyle() == "-"
             and len(line.get_xdata()) == 5]
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"
              and len(line.get_xdata()) == 5]
    assert len(solid) == 1 and len(dashed) == 2  # strongest only, all truth
    assert np.max(np.abs(solid[0].get_ydata())) == pytest.approx(20.0)
    assert "nAm" in ax.get_ylabel()
    assert any("1 strongest of 2" in t.get_text() for t in ax.texts)
    plt.close(fig)
    fig = viz.plot_time_courses(_stc(small_template, {}))
    assert any("no active source" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_plot_convergence_from_solver():
    from vaesource.solvers import full_vae

    rng = np.random.default_rng(0)
    G = rng.standard_normal((20, 40))
    G /= np.linalg.norm(G, axis=0)
    X = np.zeros((40, 10))
    X[[2, 17]] = rng.standard_normal((2, 10))
    result = full_vae(G @ X, G, gamma=1e-10)
    fig = viz.plot_convergence(result)
    ax_c, ax_w = fig.axes
    assert ax_c.get_yscale() == "log" and ax_w.get_yscale() == "log"
    assert len(ax_c.lines[0].get_xdata()) == len(result.cost)
    assert len(ax_w.lines[0].get_xdata()) == result.active_set.size
    plt.close(fig)
    with pytest.raises(TypeError, match="'result' parameter must be a "
                       "SolverResult.*at 'x'.*got <class 'numpy.ndarray'>"):
        viz.plot_convergence({"x": np.ones(3)})


def test_plot_localization_errors(tmp_path):
    rng = np.random.default_rng(1)
    rows = [dict(method=m, snr=snr, n_sources=n, loc_error_mm=float(rng.gamma(2, 3)))
            for m in ("full_vae", "group_lasso") for snr in (0, 10) for n in (1, 3)
            for _ in range(8)]
    rows.append(dict(method="full_vae", snr=0, n_sources=1, loc_error_mm=np.inf))
    fig = viz.plot_localization_errors(rows, fname=tmp_path / "err.png")
    assert (tmp_path / "err.png").is_file()
    assert len(fig.axes) == 2
    assert [a.get_title() for a in fig.axes] == ["1 source", "3 sources"]
    # 2 methods x 2 SNRs boxes per panel
    assert all(len([p for p in a.patches if p.get_alpha() == 0.55]) == 4
               for a in fig.axes)
    assert any("1 non-finite" in t.get_text() for t in fig.axes[0].texts)
    with pytest.raises(ValueError, match="lacks"):
        viz.plot_localization_errors([dict(method="a", snr=0)])


def test_plot_success_curves_four_panels(tmp_path):
    rs = np.arange(10, 100, 10)
    rates = {s: {m: (rs, np.linspace(1, 0, rs.size), np.full(rs.size, 100))
                 for m in ("full_vae", "diag_vae", "autoencoder", "group_lasso")}
             for s in ("unit", "jeffreys", "meg", "noisy")}
    fig = viz.plot_success_curves(rates, fname=tmp_path / "fig2.png")
    assert len(fig.axes) == 4
    assert all(len(a.lines) == 5 for a in fig.axes)  # 4 models + r = d line
    img = plt.imread(tmp_path / "fig2.png")
    assert img.shape[1] > 2 * img.shape[0]


def test_plot_volume_sources_sample_subject(rendering, testing_data):
    """Real head: the sample subject's inner skull and scalp (MRI frame)."""
    import nibabel as nib

    rr, tris = nib.freesurfer.read_geometry(str(testing_data / "inner_skull.surf"))
    head = mne.read_bem_surfaces(testing_data / "sample-head.fif", verbose=False)[0]
    # a grid in a sphere inside the inner skull (a grid bounded by the
    # surface itself takes seconds to build)
    center = (rr.max(axis=0) + rr.min(axis=0)) / 2e3
    radius = 0.4 * np.ptp(rr, axis=0).min() / 1e3
    src = mne.setup_volume_source_space(
        None, pos=20.0, sphere=(*center, radius), verbose=False
    )
    vertno = src[0]["vertno"]
    data = np.zeros((len(vertno), 2))
    data[len(vertno) // 3, 1] = 25e-9
    stc = mne.VolSourceEstimate(data, [vertno], 0.0, 0.01)
    plotter = viz.plot_volume_sources(
        stc, src, surface=[(rr / 1e3, tris), (head["rr"], head["tris"])],
        trans="identity", views=("coronal", "axial"), size=(500, 300),
    )
    try:
        img = plotter.screenshot()
        for glyph in plotter.vaesource.sources:
            assert np.allclose(glyph["pos"], src[0]["rr"][vertno[len(vertno) // 3]])
            h, s, _ = _hsv(img[_pixel_of(plotter, glyph)])
            assert s > 0.4 and min(h, 1 - h) < 0.06
        # the glass head is drawn: a gray silhouette around the source
        rows, cols = _panel_box(plotter, plotter.vaesource.panels[0])
        assert (img[rows, cols].astype(int).sum(axis=-1) < 700).mean() > 0.05
    finally:
        plotter.close()


# ------------------------------------------------------- issue 12: readability
def _texts(plotter):
    """Every 2-D text of a plotter."""
    from vtkmodules.vtkRenderingCore import vtkTextActor

    return [a.GetInput() for r in plotter.renderers for a in r.GetViewProps()
            if isinstance(a, vtkTextActor)]


def test_colour_bar_label_clear_of_ticks(rendering, small_template, lateral_vertices):
    """The colour bar says what it shows (amplitude and unit, not the figure
    title) above the bar, its tick labels on one line below it: on the
    pixels, text above the bar, one band of text below, none on it."""
    v_src, _ = lateral_vertices
    stc = _stc(small_template, {("lh", v_src): 12e-9})
    plotter = viz.plot_sources(stc, surfaces=small_template, title="full VAE",
                               views=("lateral",))
    try:
        assert plotter.vaesource.colorbar["text"] == "amplitude (nAm)"
        assert "full VAE" in _texts(plotter)  # the title: in the legend
        img = plotter.screenshot().astype(int)
    finally:
        plotter.close()
    strip = img[-90:]
    r, g, b = strip[..., 0], strip[..., 1], strip[..., 2]
    bar = (r > 200) & (b < 90) & (r - b > 120)  # yellow -> red colour map
    rows = np.flatnonzero(bar.sum(axis=1) > 100)
    cols = np.flatnonzero(bar.sum(axis=0) > 3)
    assert rows.size > 5
    dark = strip[:, cols.min(): cols.max() + 1].sum(axis=-1) < 250
    text_rows = np.flatnonzero(dark.any(axis=1))
    above = text_rows[text_rows < rows.min()]
    below = text_rows[text_rows > rows.max()]
    assert above.size and below.size
    assert not dark[rows.min(): rows.max() + 1].any()
    # one line of tick labels (a title there would make a second one)
    assert below.max() - below.min() < 16, below


def test_cortex_shading_is_smooth(small_template):
    """Curvature shading varies smoothly over the mesh (no two-tone bands)."""
    from vaesource.viz._scene import GYRUS_GRAY, SULCUS_GRAY

    cortex = _make_cortex(small_template.surfaces["inflated"], "inflated",
                          small_template.sulc)
    for hemi in ("lh", "rh"):
        shade, tris = cortex.shade[hemi], cortex.tris[hemi]
        assert SULCUS_GRAY - 1e-9 <= shade.min() and shade.max() <= GYRUS_GRAY + 1e-9
        assert len(np.unique(np.round(shade, 3))) > 50
        # neighbours differ by a fraction of the gyrus-sulcus contrast
        steps = np.abs(shade[tris[:, 0]] - shade[tris[:, 1]])
        assert np.percentile(steps, 99) < 0.5 * (GYRUS_GRAY - SULCUS_GRAY)


def test_plot_comparison_shows_the_views_with_sources(rendering, small_template,
                                                      lateral_vertices):
    """By default only the views facing the sources are drawn, and the legend
    says so; explicit views are kept."""
    v_src, v_other = lateral_vertices
    stcs = {"a": _stc(small_template, {("lh", v_src): 10e-9}),
            "b": _stc(small_template, {("lh", v_other): 5e-9})}
    plotter = viz.plot_comparison(stcs, surfaces=small_template)
    try:
        info = plotter.vaesource
        assert {p["title"] for p in info.panels if p["title"]} == {"lh lateral"}
        assert {(p["view"], p["hemis"]) for p in info.panels} == {("lateral", ("lh",))}
        assert "facing the sources" in info.views and "rh" in info.views
    finally:
        plotter.close()
    plotter = viz.plot_comparison(stcs, surfaces=small_template,
                                  views=("lateral", "medial"))
    try:
        assert len(plotter.vaesource.panels) == 2 * 4
    finally:
        plotter.close()


def test_time_courses_truth_drawn_like_the_estimate(small_template, lateral_vertices):
    """A loose-orientation estimate holds norms: the signed truth is drawn as
    amplitudes too, and a true source with an estimate nearby (another
    vertex, a coarser grid) takes its colour; the legend says what is true."""
    v1, v2 = lateral_vertices
    rr = small_template.surfaces["white"]["lh"][0]
    # the true source: a fine-grid vertex a few mm from the estimated one
    near = np.argsort(np.linalg.norm(rr - rr[v1], axis=1))
    v_true = int(next(v for v in near if v not in small_template.vertices[0]))
    assert np.linalg.norm(rr[v_true] - rr[v1]) < 0.01
    stc = _stc(small_template, {("lh", v1): 20e-9, ("lh", v2): 5e-9})
    truth = mne.SourceEstimate(np.array([[0, -5e-9, -18e-9, -4e-9, 0]]),
                               [np.array([v_true]), np.array([], int)], 0.0, 0.01)
    positions = {h: small_template.surfaces["white"][h][0] for h in ("lh", "rh")}
    fig = viz.plot_time_courses(stc, truth=truth, positions=positions)
    ax = fig.axes[0]
    solid = [ln for ln in ax.lines if ln.get_linestyle() == "-" and len(ln.get_xdata())]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--" and len(ln.get_xdata())]
    assert len(dashed) == 1
    assert dashed[0].get_ydata().min() >= 0  # amplitude, as the estimate
    assert dashed[0].get_color() == solid[0].get_color()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("gray" in t for t in legend), legend
    plt.close(fig)
    # far from any estimate: gray, and the legend says why
    far = _stc(small_template, {("rh", 3): 1e-8})
    fig = viz.plot_time_courses(far, truth=truth, positions=positions)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("gray: no estimate within 15 mm" in t for t in legend), legend
    plt.close(fig)
    # a fixed-orientation estimate with a sign: both drawn signed
    signed = _stc(small_template, {("lh", v1): -20e-9})
    fig = viz.plot_time_courses(signed, truth=truth, positions=positions)
    ys = [ln.get_ydata() for ln in fig.axes[0].lines if ln.get_linestyle() == "--"
          and len(ln.get_xdata())]
    assert ys[0].min() < 0 and "signed" in fig.axes[0].get_ylabel()
    plt.close(fig)


def test_success_curves_coinciding_models_stay_visible():
    """Identical diagonal-VAE and autoencoder curves: different dashes and
    markers, so both show; the r = d line is labelled."""
    rs = np.arange(10, 100, 10)
    same = np.linspace(1, 0, rs.size)
    rates = {"unit": {m: (rs, same, np.full(rs.size, 100))
                      for m in ("full_vae", "diag_vae", "autoencoder", "group_lasso")}}
    fig = viz.plot_success_curves(rates)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.lines}
    diag, ae = lines["diagonal VAE"], lines["autoencoder (h = log)"]
    assert diag.get_linestyle() != ae.get_linestyle()
    assert diag.get_marker() != ae.get_marker()
    assert diag.get_linewidth() > ae.get_linewidth()  # the one below is wider
    assert any(t.get_text() == "r = d" for t in ax.texts)
    plt.close(fig)


def test_volume_glass_inner_skull_or_outline(rendering, testing_data):
    """A volume estimate is drawn in the subject's inner skull when a BEM is
    given, else in a smooth outline of the grid (not its convex hull), with
    the anatomical directions at the panel edges."""
    from scipy.spatial import ConvexHull

    from vaesource.viz.volume import volume_glass

    bem = mne.read_bem_solution(testing_data / "sample-1280-bem-sol.fif",
                                verbose=False)
    src = mne.setup_volume_source_space(None, pos=15.0, bem=bem, verbose=False)
    info = mne.io.read_info(testing_data / "test-ave.fif.gz", verbose=False)
    info = mne.pick_info(info, mne.pick_types(info, meg="mag"))
    fwd = mne.make_forward_solution(info, testing_data / "sample_audvis_trunc-trans.fif",
                                    src, bem, verbose=False)
    glass = volume_glass(fwd, bem=testing_data / "sample-1280-bem-sol.fif")
    assert glass.name.startswith("inner skull")
    # the sources (head frame) lie inside the inner skull drawn
    pos = fwd["source_rr"]
    hull = ConvexHull(glass.rr)
    inside = np.all(hull.equations[:, :3] @ pos.T + hull.equations[:, 3:] <= 1e-3,
                    axis=0)
    assert inside.mean() > 0.98
    outline = volume_glass(fwd)
    assert outline.name == "outline of the source grid"
    # smooth and not the convex hull: many vertices, some not on the hull
    assert len(outline.rr) > 500
    hull = ConvexHull(outline.rr)
    assert len(hull.vertices) < 0.9 * len(outline.rr)

    vertno = fwd["src"][0]["vertno"]
    data = np.zeros((len(vertno), 2))
    data[len(vertno) // 2, 1] = 20e-9
    stc = mne.VolSourceEstimate(data, [vertno], 0.0, 0.01)
    plotter = viz.plot_volume_sources(stc, fwd["src"], surface=(glass.rr, glass.tris),
                                      glass_name=glass.name, trans=fwd["mri_head_t"])
    try:
        texts = set(_texts(plotter))
        assert {"L", "R", "A", "P", "S", "I"} <= texts
        assert plotter.vaesource.glass == glass.name
        assert any(glass.name in t for t in texts if t)
    finally:
        plotter.close()


# ------------------------------------------------- which sources are real
@pytest.fixture(scope="module")
def vae(template_cache):
    """A simulated response (2 sources) and the full VAE's estimates: the
    sources selected by evidence and the unselected optimum."""
    import warnings

    from vaesource import apply_vae_inverse
    from vaesource.datasets import template
    from vaesource.simulation import cortical_evoked

    tmpl = template("ico3", sensors="meg", cache_dir=template_cache)
    sim = cortical_evoked(tmpl, 2, snr=3.0, seed=3)
    kw = dict(tmin=0.05, tmax=0.15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, **kw)
        opt = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov,
                                min_evidence=None, **kw)
    assert 2 <= len(stc.vae_sources) < len(opt.vae_sources)
    return dict(sim=sim, template=tmpl, stc=stc, optimum=opt)


def test_color_by_evidence_and_probability(rendering, vae):
    """color_by: the glyphs take the colour of their evidence (log scale) or
    probability, their size stays the amplitude; the colour bar says so."""
    from matplotlib import colormaps

    stc = vae["optimum"]
    table = stc.vae_sources
    drawn = {}
    for color_by in ("amplitude", "evidence", "probability"):
        pl = viz.plot_sources(stc, surfaces=vae["template"], views=("lateral",),
                              color_by=color_by, size=SIZE)
        info = pl.vaesource
        drawn[color_by] = info
        assert info.color_by == color_by
        glyphs = {(g["hemi"], g["vertex"]): g for g in info.sources}
        assert len(glyphs) == len(table)
        if color_by == "evidence":
            lo, hi = info.clim
            assert info.colorbar["text"] == "evidence (log scale)"
            assert np.log10(lo) == int(np.log10(lo)) and lo <= 1
            assert hi >= table.evidence.max() and np.log10(hi) == int(np.log10(hi))
            ev = dict(zip(zip(table.hemi, table.vertex), table.evidence))
            for key, g in glyphs.items():
                frac = (np.log10(np.clip(ev[key], lo, hi)) - np.log10(lo)) / (
                    np.log10(hi) - np.log10(lo))
                np.testing.assert_allclose(g["color"],
                                           colormaps["viridis"](frac)[:3])
            # the screenshot shows the strongest evidence's colour
            best = max(glyphs.values(), key=lambda g: g["value"])
            img = pl.screenshot()
            row, col = _pixel_of(pl, best)
            assert _matches(img[row, col], best["color"])
        elif color_by == "probability":
            assert info.clim == (0.0, 1.0)
            assert info.colorbar["text"] == "P(real)"
        else:
            assert info.colorbar["text"].startswith("amplitude")
        pl.close()
    # same sizes, other colours
    amp = {(g["hemi"], g["vertex"]): g for g in drawn["amplitude"].sources}
    ev = {(g["hemi"], g["vertex"]): g for g in drawn["evidence"].sources}
    for key in amp:
        assert amp[key]["radius"] == pytest.approx(ev[key]["radius"])
    assert any(np.abs(amp[k]["color"] - ev[k]["color"]).max() > 0.2 for k in amp)


def test_color_by_needs_evidence(small_template, lateral_vertices):
    v1, v2 = lateral_vertices
    stc = _stc(small_template, {("lh", v1): 20e-9, ("lh", v2): 5e-9})
    with pytest.raises(ValueError, match="vae_sources"):
        viz.plot_sources(stc, surfaces=small_template, color_by="evidence")
    with pytest.raises(ValueError, match="color_by"):
        viz.plot_sources(stc, surfaces=small_template, color_by="size")
    rows = [dict(hemi="lh", vertex=v1, evidence=3e3, probability=1.0)]
    with pytest.raises(ValueError, match="does not match"):
        viz.plot_sources(stc, surfaces=small_template, color_by="evidence",
                         sources=rows)


def test_color_by_rows_of_a_summary(rendering, small_template, lateral_vertices):
    """Estimates read from files are coloured by summary.json's rows."""
    v1, v2 = lateral_vertices
    stc = _stc(small_template, {("lh", v1): 20e-9, ("lh", v2): 5e-9})
    rows = [dict(hemi="lh", vertex=v1, evidence=3e3, probability=1.0),
            dict(hemi="lh", vertex=v2, evidence=25.0, probability=0.6)]
    pl = viz.plot_sources(stc, surfaces=small_template, views=("lateral",),
                          color_by="probability", sources=rows, size=SIZE)
    values = {g["vertex"]: g["value"] for g in pl.vaesource.sources}
    assert values == {v1: 1.0, v2: 0.6}
    pl.close()
    # volume: rows matched by vertex
    src = mne.setup_volume_source_space(pos=30.0, sphere=small_template.sphere,
                                        verbose=False)
    data = np.zeros((src[0]["nuse"], 2))
    data[[3, 7], 1] = [1e-8, 2e-8]
    vol = mne.VolSourceEstimate(data, [src[0]["vertno"]], 0.0, 0.01)
    verts = src[0]["vertno"][[3, 7]]
    rows = [dict(hemi="vol", vertex=int(v), evidence=e, probability=p)
            for v, e, p in zip(verts, (40.0, 900.0), (0.9, 1.0))]
    pl = viz.plot_volume_sources(vol, src, template=small_template,
                                 views=("axial",), color_by="evidence",
                                 sources=rows, size=(400, 300))
    assert sorted(g["value"] for g in pl.vaesource.sources) == [40.0, 900.0]
    assert pl.vaesource.clim == (1.0, 1000.0)
    assert pl.vaesource.colorbar["text"] == "evidence (log scale)"
    pl.close()


def test_time_courses_credible_bands(vae):
    """The full VAE's time courses carry their credible bands, in the colour
    of each source, around the estimate; the truth is drawn the same way."""
    from vaesource import credible_interval

    stc, sim = vae["stc"], vae["sim"]
    fig = viz.plot_time_courses(stc, truth=sim.stc)
    ax = fig.axes[0]
    bands = [c for c in ax.collections if c.get_gid() == "credible-band"]
    solid = [line for line in ax.lines if line.get_linestyle() == "-"
             and len(line.get_xdata()) == len(stc.times)]
    assert len(bands) == len(solid) == len(stc.vae_sources)
    lower, upper = credible_interval(stc)
    for band, line in zip(bands, solid):
        ys = band.get_paths()[0].vertices[:, 1]
        assert np.isclose(ys.max(), 1e9 * upper.data.max(axis=1)).any()
        assert ys.min() >= 0  # amplitudes: the band of a norm is clipped at 0
        np.testing.assert_allclose(band.get_facecolor()[0][:3],
                                   mcolors.to_rgb(line.get_color()))
    assert any("95 % credible band" in t.get_text()
               for t in ax.get_legend().get_texts())
    # the truth: dashed, same quantity (amplitude) and units (nAm)
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"
              and len(line.get_xdata())]
    assert len(dashed) == 2 and min(np.min(d.get_ydata()) for d in dashed) >= 0
    true_peak = 1e9 * np.abs(sim.stc.data).max()
    assert max(np.max(d.get_ydata()) for d in dashed) == pytest.approx(true_peak)
    plt.close(fig)
    # a narrower level, a narrower band; none on request
    fig = viz.plot_time_courses(stc, level=0.5)
    narrow = [c for c in fig.axes[0].collections if c.get_gid() == "credible-band"]
    height = [np.ptp(b.get_paths()[0].vertices[:, 1]) for b in (bands, narrow)
              for b in b[:1]]
    assert height[1] < height[0]
    plt.close(fig)
    fig = viz.plot_time_courses(stc, band=False)
    assert not [c for c in fig.axes[0].collections if c.get_gid() == "credible-band"]
    plt.close(fig)
    with pytest.raises(ValueError, match="posterior"):
        viz.plot_time_courses(sim.stc, band=True)


def test_plot_evidence(vae):
    """Every active location of the optimum, the selected ones in colour,
    above the threshold line."""
    stc = vae["stc"]
    table = stc.vae_sources
    n_opt = stc.vae_result.info["optimum"].locations.size
    fig = viz.plot_evidence(stc)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    points = {c.get_label(): c.get_offsets() for c in ax.collections}
    kept = points[f"selected ({len(table)})"]
    dropped = points[f"dropped ({n_opt - len(table)})"]
    assert np.all(kept[:, 1] >= table.min_evidence)
    assert np.all(dropped[:, 1] < table.min_evidence)
    np.testing.assert_allclose(np.sort(kept[:, 1]), np.sort(table.evidence),
                               rtol=0.5)
    line = next(ln for ln in ax.lines if ln.get_label().startswith("min_evidence"))
    assert line.get_ydata()[0] == pytest.approx(table.min_evidence)
    plt.close(fig)
    # without a selection every location is "active"
    fig = viz.plot_evidence(vae["optimum"])
    labels = [c.get_label() for c in fig.axes[0].collections]
    assert labels == [f"active ({len(vae['optimum'].vae_sources)})"]
    plt.close(fig)
    with pytest.raises(ValueError, match="full-VAE"):
        viz.plot_evidence(vae["sim"].stc)


# ------------------------------------------------------- location regions
@pytest.fixture(scope="module")
def off_grid(heads):
    """Sources between the inversion grid's locations (simulated on the finer
    grid): the full VAE's estimate has regions of several locations."""
    import warnings

    from vaesource import apply_vae_inverse
    from vaesource.simulation import cortical_evoked

    coarse, fine = heads
    sim = cortical_evoked(fine, 2, snr=3.0, seed=1, inverse_template=coarse)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.2)
    assert stc.vae_sources.region_size.max() > 1
    return dict(sim=sim, stc=stc, template=coarse)


def test_plot_sources_location_regions(rendering, off_grid):
    """Each source's location region tints the cortex around it in the
    source's colour, translucent (paler than the source); the source's
    sphere and the truth's rings stay in view; regions=False leaves the
    cortex gray there."""
    stc, tmpl = off_grid["stc"], off_grid["template"]
    table = stc.vae_sources
    kw = dict(surfaces=tmpl, views="auto", truth=off_grid["sim"].stc, size=SIZE)
    shown = viz.plot_sources(stc, **kw)
    plain = viz.plot_sources(stc, regions=False, **kw)
    try:
        img, ref = shown.screenshot(), plain.screenshot()
        info = shown.vaesource
        assert plain.vaesource.regions == []
        drawn = {(g["panel"], g["hemi"], g["vertex"]): g for g in info.sources}
        tinted = {(r["panel"], r["hemi"], r["vertex"]) for r in info.regions}
        assert tinted == set(drawn)
        sizes = dict(zip(zip(table.hemi, table.vertex), table.region_size))
        n_tinted = n_gray = 0
        for region in info.regions:
            glyph = drawn[(region["panel"], region["hemi"], region["vertex"])]
            assert region["vertex"] in region["vertices"]
            assert len(region["vertices"]) >= sizes[(region["hemi"], region["vertex"])]
            np.testing.assert_allclose(region["color"], glyph["color"])
            h_exp = mcolors.rgb_to_hsv(np.asarray(glyph["color"], float))[0]
            panel = info.panels[region["panel"]]
            for pos in region["pos"]:
                pix = [viz.world_to_pixel(pl, (panel["row"], panel["col"]), pos)
                       for pl in (shown, plain)]
                (c1, r1), (c0, r0) = (np.round(p).astype(int) for p in pix)
                if not _is_gray(ref[r0, c0]):
                    continue  # under (or at the edge of) the sphere or a ring
                n_gray += 1
                h, s, _ = _hsv(img[r1, c1])
                if s > 0.15 and min(abs(h - h_exp), 1 - abs(h - h_exp)) < 0.08:
                    n_tinted += 1
                    assert s < 0.9  # translucent: paler than the source
        # most of the region's cortex in view is tinted
        assert n_tinted >= 5 and n_tinted > 0.7 * n_gray, (n_tinted, n_gray)
        # the spheres and the truth's rings are drawn over it (a sphere at
        # the edge of the view may be hidden with or without the regions)
        seen = 0
        # (the images differ in layout: a legend line more with the regions)
        for glyph, same in zip(info.sources, plain.vaesource.sources):
            row, col = _pixel_of(plain, same)
            if _matches(ref[row, col], glyph["color"]):
                seen += 1
                row, col = _pixel_of(shown, glyph)
                assert _matches(img[row, col], glyph["color"])
        assert seen >= 1
        assert _green(img).sum() > 0.8 * _green(ref).sum()
    finally:
        shown.close()
        plain.close()
    with pytest.raises(TypeError, match="'regions' parameter"):
        viz.plot_sources(stc, surfaces=tmpl, regions="yes")


def test_plot_comparison_location_regions(rendering, off_grid):
    """In a comparison, only the estimate with regions gets them."""
    pl = viz.plot_comparison({"full VAE": off_grid["stc"],
                              "truth": off_grid["sim"].stc},
                             surfaces=off_grid["template"], size=SIZE)
    try:
        info = pl.vaesource
        names = {info.panels[r["panel"]]["name"] for r in info.regions}
        assert names == {"full VAE"}
    finally:
        pl.close()


def test_plot_volume_sources_location_regions(rendering, small_template):
    """A volume source's region: translucent dots in the source's colour
    around it (a region stands in for the table of a full-VAE estimate)."""
    from types import SimpleNamespace

    src = mne.setup_volume_source_space(pos=20.0, sphere=small_template.sphere,
                                        verbose=False)
    vertno = src[0]["vertno"]
    data = np.zeros((len(vertno), 2))
    k = len(vertno) // 2
    data[k, 1] = 15e-9
    stc = mne.VolSourceEstimate(data, [vertno], 0.0, 0.01)
    center = src[0]["rr"][vertno[k]]
    trans = np.linalg.inv(small_template.trans["trans"])
    head = center @ trans[:3, :3].T + trans[:3, 3]
    offsets = 0.012 * np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    stc.vae_sources = SimpleNamespace(
        vertex=np.array(vertno), region_size=np.ones(len(vertno), int),
        regions=[(head + offsets, np.array([0.6, 0.2, 0.1, 0.1]))
                 if i == k else (np.zeros((1, 3)), np.ones(1))
                 for i in range(len(vertno))])
    shown = viz.plot_volume_sources(stc, src, template=small_template,
                                    size=(600, 300))
    plain = viz.plot_volume_sources(stc, src, template=small_template,
                                    size=(600, 300), regions=False)
    try:
        img, ref = shown.screenshot(), plain.screenshot()
        info = shown.vaesource
        assert len(info.regions) == 3 and plain.vaesource.regions == []
        np.testing.assert_allclose(info.regions[0]["pos"], head + offsets)
        # each dot off the source's sphere shows its colour, paler; the
        # plain render is not coloured there (its layout differs: a legend
        # line less)
        n_dots = 0
        for region in info.regions:
            glyph = info.sources[region["panel"]]
            panel = info.panels[region["panel"]]
            centre = np.array(viz.world_to_pixel(shown, (0, panel["col"]),
                                                 glyph["pos"]))
            edge = np.array(viz.world_to_pixel(
                shown, (0, panel["col"]), glyph["pos"] + [0, 0, glyph["radius"]]))
            r_px = np.linalg.norm(edge - centre) if panel["view"] != "axial" else (
                np.linalg.norm(np.array(viz.world_to_pixel(
                    shown, (0, panel["col"]), glyph["pos"] + [glyph["radius"], 0, 0]))
                    - centre))
            for pos in region["pos"]:
                c, r = viz.world_to_pixel(shown, (0, panel["col"]), pos)
                if np.hypot(c - centre[0], r - centre[1]) < 1.5 * r_px:
                    continue
                n_dots += 1
                h, sat, _ = _hsv(img[int(round(r)), int(round(c))])
                assert min(h, 1 - h) < 0.08 and 0.1 < sat < 0.95, (h, sat)
                c0, r0 = viz.world_to_pixel(plain, (0, panel["col"]), pos)
                assert _hsv(ref[int(round(r0)), int(round(c0))])[1] < 0.1
        assert n_dots >= 3, n_dots
    finally:
        shown.close()
        plain.close()


def test_regions_of_likely_noise_not_drawn(rendering, vae):
    """An unselected optimum: the regions of its sources that likely fit
    noise (wide ones) are left out, so they do not cover the cortex."""
    stc = vae["optimum"]
    table = stc.vae_sources
    p_real = dict(zip(zip(table.hemi, table.vertex), table.probability))
    pl = viz.plot_sources(stc, surfaces=vae["template"], views=("lateral",),
                          size=SIZE)
    try:
        drawn = {(r["hemi"], r["vertex"]) for r in pl.vaesource.regions}
        shown = {(g["hemi"], g["vertex"]) for g in pl.vaesource.sources}
        assert drawn == {k for k in shown if 0.8 * p_real[k] >= 0.05}
        assert len(drawn) < len(shown)
    finally:
        pl.close()

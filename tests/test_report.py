"""Tests of vaesource.viz.make_report: an mne.Report written atomically."""

from __future__ import annotations

import os
import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")

import mne  # noqa: E402

from vaesource import viz  # noqa: E402


def _stc(template, rows):
    verts = template.vertices
    data = np.zeros((sum(len(v) for v in verts), 4))
    for k, amp in rows.items():
        data[k, 1:3] = amp
    return mne.SourceEstimate(data, verts, tmin=0.0, tstep=0.01, subject="fsaverage")


def test_make_report(rendering, small_template, tmp_path):
    from vaesource.solvers import full_vae

    truth = _stc(small_template, {10: 10e-9, 700: 5e-9})
    stcs = {"full VAE": truth.copy(), "MxNE": _stc(small_template, {11: 8e-9})}
    rng = np.random.default_rng(0)
    G = rng.standard_normal((15, 30))
    G /= np.linalg.norm(G, axis=0)
    X = np.zeros((30, 5))
    X[4] = 1.0
    result = full_vae(G @ X, G, gamma=1e-10)
    rows = [dict(method=m, snr=s, n_sources=1, loc_error_mm=float(e))
            for m in ("full_vae", "group_lasso") for s in (0, 10)
            for e in rng.gamma(2, 3, size=5)]
    rs = np.array([10, 50, 90])
    rates = {"unit": {"full_vae": (rs, np.array([1.0, 0.9, 0.2]), np.full(3, 10))}}
    vol_src = mne.setup_volume_source_space(pos=30.0, sphere=small_template.sphere,
                                            verbose=False)
    vol_data = np.zeros((vol_src[0]["nuse"], 2))
    vol_data[5, 1] = 1e-8
    vol_stc = mne.VolSourceEstimate(vol_data, [vol_src[0]["vertno"]], 0.0, 0.01)
    fname = tmp_path / "out" / "report.html"
    report = viz.make_report(
        fname, stcs=stcs, truth=truth, surfaces=small_template,
        views=("lateral",), results={"full_vae": result}, rates=rates,
        loc_rows=rows, title="test report",
        volume=(vol_stc, vol_src, dict(template=small_template, size=(500, 260))),
    )
    assert isinstance(report, mne.Report)
    html = fname.read_text()
    assert "test report" in html
    titles = {"full VAE: cortex", "full VAE: time courses", "MxNE: cortex",
              "comparison", "convergence", "recovery curves", "localization errors",
              "volume estimate"}
    for title in titles:
        assert title in html, title
    # one embedded PNG / image per figure
    n_images = len(re.findall(r'<img class="figure-img', html))
    assert n_images == len(titles) + 1  # + MxNE time courses
    # atomic: no temporary file left next to it
    assert sorted(p.name for p in fname.parent.iterdir()) == ["report.html"]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        viz.make_report(fname, rates=rates)
    viz.make_report(fname, rates=rates, overwrite=True)
    assert "recovery curves" in fname.read_text()
    assert "comparison" not in fname.read_text()
    with pytest.raises(ValueError, match=".html"):
        viz.make_report(tmp_path / "report.pdf")


def test_report_which_sources_are_real(rendering, template_cache, tmp_path):
    """A full-VAE estimate gets its section: the source table, the evidence
    of the optimum's sources against the threshold, time courses with
    credible bands; renders coloured by evidence."""
    import warnings

    from vaesource import apply_vae_inverse
    from vaesource.datasets import template
    from vaesource.simulation import cortical_evoked

    tmpl = template("ico3", sensors="meg", cache_dir=template_cache)
    sim = cortical_evoked(tmpl, 2, snr=3.0, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov,
                                tmin=0.05, tmax=0.15)
    fname = tmp_path / "report.html"
    viz.make_report(fname, stcs={"full VAE": stc, "MxNE": _stc(tmpl, {11: 8e-9})},
                    truth=sim.stc, surfaces=tmpl, views=("lateral",),
                    interactive=False, color_by="evidence")
    html = fname.read_text()
    assert "which sources are real: full VAE" in html
    assert "which sources are real: MxNE" not in html  # no evidence there
    for title in ("full VAE: sources", "full VAE: evidence of the optimum",
                  "full VAE: time courses", "MxNE: time courses"):
        assert title in html, title
    table = stc.vae_sources
    for row in table.rows():
        assert f"<td>{row['evidence']:.1f}</td>" in html
        assert f"<td>{row['probability']:.3f}</td>" in html
    assert f"min_evidence = {table.min_evidence:.3g}" in html
    # where each source is: its region, its band at its peak with the
    # location's uncertainty, the truth's amplitude there
    for head in ("region (locations)", "region radius (mm)",
                 "peak nAm [95 % band with location]", "truth (nAm)"):
        assert f"<th>{head}</th>" in html, head
    from vaesource import credible_interval

    lower, upper = credible_interval(stc, location=True)
    data = np.asarray(stc.data)
    for row in table.rows():
        assert (f"<td>{row['region_size']}</td><td>{row['region_radius_mm']:.1f}"
                "</td>") in html
    for i in range(len(data)):
        t = int(np.argmax(np.abs(data[i])))
        cell = (f"{1e9 * data[i, t]:.2f} [{1e9 * lower.data[i, t]:.2f}, "
                f"{1e9 * upper.data[i, t]:.2f}]")
        assert f"<td>{cell}</td>" in html, cell
        assert lower.data[i, t] <= upper.data[i, t]
    # a source standing for a true one: the truth's amplitude at its peak
    truth_amp = 1e9 * np.abs(sim.stc.data).max()
    cells = [float(c) for c in re.findall(
        r"\]</td><td>([0-9.]+)</td>", html)]
    assert cells and all(0 < c <= truth_amp + 0.01 for c in cells)
    assert "credible band" in html and "coloured by their evidence" in html
    n_opt = stc.vae_result.info["optimum"].locations.size
    assert f"one of the {n_opt} active locations of the optimum" in html

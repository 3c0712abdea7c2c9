"""An HTML report (:class:`mne.Report`) assembling the vaesource figures."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from ..utils import _atomic_write, _verbose, logger


def _add_render(report, plotter, tmp_dir, title, section, caption=None,
                interactive=None):
    """Screenshot a plotter into the report as a PNG (and, given a title in
    ``interactive``, its first panel as an interactive view), then close it."""
    png = Path(tmp_dir) / f"render-{len(list(Path(tmp_dir).iterdir()))}.png"
    plotter.screenshot(str(png), return_img=False)
    report.add_image(png, title=title, section=section, caption=caption)
    if interactive:
        _add_interactive(report, plotter, interactive, section)
    plotter.close()


def _add_interactive(report, plotter, title, section, renderer_index=0):
    """One panel of ``plotter`` as an interactive 3-D view (the plotter is
    left open)."""
    from ._interactive import iframe, panel_html

    page = panel_html(plotter, renderer_index)
    report.add_html(iframe(page), title=title, section=section)
    logger.info("Interactive view %r: %.1f MB", title, len(page) / 1e6)


def _add_figure(report, fig, title, section, caption=None):
    import matplotlib.pyplot as plt

    report.add_figure(fig, title=title, section=section, caption=caption)
    plt.close(fig)


@_verbose
@fill_doc
def make_report(
    fname,
    *,
    stcs=None,
    truth=None,
    surfaces=None,
    subject=None,
    subjects_dir=None,
    src=None,
    views="auto",
    volume=None,
    results=None,
    rates=None,
    loc_rows=None,
    match_mm: float = 15.0,
    color_by: str = "amplitude",
    title: str = "vaesource report",
    interactive: bool = True,
    overwrite: bool = False,
    verbose=None,
):
    """Write an HTML report of source estimates, solver traces and benchmarks.

    Every part is optional; the report holds the sections given.

    Parameters
    ----------
    fname : path-like
        Output ``.html`` file. Written atomically (to a temporary file in
        the same folder, then renamed), so readers never see half a report.
    stcs : mne.SourceEstimate | dict | None
        Cortical estimates ``{name: stc}``: each rendered with
        :func:`~vaesource.viz.plot_sources` and its time courses with
        :func:`~vaesource.viz.plot_time_courses`; with two or more, also a
        side-by-side :func:`~vaesource.viz.plot_comparison`. A full-VAE
        estimate of :func:`vaesource.apply_vae_inverse` also gets a section
        "which sources are real": its sources' table (evidence, posterior
        probability, posterior standard deviation, location region's size
        and radius, the 95 % band at the source's peak including where it
        may be and, with ``truth``, the true amplitude there; restarts),
        the evidence of every source of the unselected optimum against the
        threshold (:func:`~vaesource.viz.plot_evidence`) and the time
        courses with their 95 % credible bands.
    truth : mne.SourceEstimate | None
        Ground truth, drawn as rings and dashed time courses, its amplitude
        in the sources' table (that of the true source within ``match_mm``
        of each estimated one).
    surfaces : None | Template | dict
        Cortex to render on (see :func:`~vaesource.viz.plot_sources`).
    subject, subjects_dir, src
        FreeSurfer subject whose surfaces to render on, and the source
        space of the estimates (see :func:`~vaesource.viz.plot_sources`).
    views : ``"auto"`` | tuple of str
        Views of the renders: ``"auto"`` (default) shows those facing the
        sources (see :func:`~vaesource.viz.plot_sources`).
    volume : tuple | None
        ``(vol_stc, src)`` or ``(vol_stc, src, kwargs)`` for
        :func:`~vaesource.viz.plot_volume_sources` (a full-VAE estimate
        also gets the section "which sources are real").
    results : SolverResult | dict | None
        Solver runs for :func:`~vaesource.viz.plot_convergence`.
    rates : dict | None
        Success rates for :func:`~vaesource.viz.plot_success_curves`
        (figure 2 of the paper).
    loc_rows : list of dict | None
        Benchmark rows for :func:`~vaesource.viz.plot_localization_errors`.
    match_mm : float
        In the time courses, a true source takes the colour of an estimated
        source within this distance (on the white surface); in the sources'
        table, its amplitude stands next to that source's.
    color_by : ``"amplitude"`` | ``"evidence"`` | ``"probability"``
        Colour of the sources in the renders of full-VAE estimates (see
        :func:`~vaesource.viz.plot_sources`); other estimates and the
        comparison are coloured by amplitude.
    title : str
        Report title.
    interactive : bool
        Also show each cortical estimate (both hemispheres, with the ground
        truth) and the volume estimate as an interactive 3-D view, rotatable
        and zoomable in the browser with no server or network (vtk.js,
        embedded: about 1.7 MB each, meshes decimated to
        10 000 triangles). Needs the ``trame-vtk`` package; without it the
        report says so and holds the static renders only.
    overwrite : bool
        Replace an existing file.
    %(verbose)s

    Returns
    -------
    report : mne.Report
        The report (already saved to ``fname``).
    """
    import mne

    from .brain import plot_comparison, plot_sources
    from .curves import plot_success_curves
    from ._scene import COLOR_BY
    from .diagnostics import plot_convergence, plot_localization_errors
    from .timecourses import plot_time_courses
    from .volume import plot_volume_sources
    from ..utils import _check_option

    _check_option("color_by", color_by, COLOR_BY)

    fname = Path(fname)
    if fname.suffix not in (".html", ".htm"):
        raise ValueError(
            f"The 'fname' parameter must end with .html, got {str(fname)!r}."
        )
    if fname.exists() and not overwrite:
        raise FileExistsError(f"{fname} exists; pass overwrite=True to replace it.")
    if stcs is not None and not isinstance(stcs, dict):
        stcs = {"estimate": stcs}
    where = dict(surfaces=surfaces, subject=subject, subjects_dir=subjects_dir,
                 src=src)
    report = mne.Report(title=title, verbose=False)
    if interactive and (stcs or volume is not None):
        from ._interactive import MISSING, _have_trame_vtk

        if not _have_trame_vtk():
            logger.warning(MISSING)
            report.add_html(f"<p>{MISSING}</p>", title="interactive 3-D views",
                            section="interactive 3-D views")
            interactive = False
    positions = None
    if stcs and truth is not None:
        positions = _white_positions(surfaces, subject, subjects_dir)
    with tempfile.TemporaryDirectory() as tmp_dir:
        if stcs:
            for name, stc in stcs.items():
                section = f"estimate: {name}"
                table = getattr(stc, "vae_sources", None)
                colour = color_by if table is not None else "amplitude"
                plotter = plot_sources(stc, views=views, truth=truth,
                                       title=str(name), color_by=colour, **where)
                _add_render(report, plotter, tmp_dir, f"{name}: cortex", section,
                            caption=_render_caption(table, colour, truth))
                if interactive:
                    # both hemispheres in one panel, seen from above to start
                    plotter = plot_sources(stc, views=("dorsal",), truth=truth,
                                           size=(640, 520), color_by=colour,
                                           **where)
                    _add_interactive(report, plotter, f"{name}: interactive 3-D",
                                     section)
                    plotter.close()
                fig = plot_time_courses(stc, truth=truth, positions=positions,
                                        match_mm=match_mm, title=str(name))
                if table is None:
                    _add_figure(report, fig, f"{name}: time courses", section)
                else:
                    _add_which_are_real(report, stc, name, fig, truth=truth,
                                        positions=positions, match_mm=match_mm)
            if len(stcs) > 1:
                plotter = plot_comparison(stcs, truth=truth, views=views, **where)
                _add_render(report, plotter, tmp_dir, "comparison", "comparison",
                            caption="Same cameras and colour scale for every method.")
        if volume is not None:
            vol_stc, src, *kw = volume
            plotter = plot_volume_sources(vol_stc, src, **(kw[0] if kw else {}))
            _add_render(report, plotter, tmp_dir, "volume estimate", "volume",
                        interactive=interactive and "volume: interactive 3-D")
            if getattr(vol_stc, "vae_sources", None) is not None:
                fig = plot_time_courses(vol_stc, title="volume estimate")
                _add_which_are_real(report, vol_stc, "volume estimate", fig)
        if results is not None:
            _add_figure(report, plot_convergence(results), "convergence",
                        "solver convergence")
        if rates is not None:
            _add_figure(report, plot_success_curves(rates), "recovery curves",
                        "benchmark")
        if loc_rows is not None:
            _add_figure(report, plot_localization_errors(loc_rows),
                        "localization errors", "benchmark")
    _save_atomic(report, fname)
    logger.info("Wrote the report to %s", fname)
    return report


def _render_caption(table, color_by, truth):
    what = {"amplitude": "coloured and sized by their peak amplitude",
            "evidence": "coloured by their evidence, sized by their peak amplitude",
            "probability": "coloured by their posterior probability of being "
                           "real, sized by their peak amplitude"}[color_by]
    text = ("Sources selected by their evidence" if table is not None
            and table.min_evidence is not None else "Active sources")
    return (f"{text}, {what}"
            + ("; green rings: ground truth." if truth is not None else "."))


def _add_which_are_real(report, stc, name, time_courses, truth=None,
                        positions=None, match_mm=15.0):
    """The section "which sources are real" of a full-VAE estimate: its
    source table (with each source's band at its peak including where it
    may be, and the truth's amplitude there when known), the evidence of
    the optimum's sources against the threshold, the time courses with
    credible bands."""
    from .evidence import plot_evidence, source_table_html

    section = f"which sources are real: {name}"
    table = stc.vae_sources
    bands, peak_index = _peak_bands(stc)
    true_amps = (None if truth is None or peak_index is None else
                 _truth_at_peaks(stc, truth, peak_index, positions, match_mm))
    report.add_html(source_table_html(table, bands=bands, truth=true_amps),
                    title=f"{name}: sources", section=section)
    result = stc.vae_result
    n_opt = result.info.get("optimum", result).locations.size
    caption = (
        f"Each dot is one of the {n_opt} active locations of the optimum of "
        "cost (18). Its evidence (how much cost (18) rises without it), not "
        "its amplitude, tells a source the data need from a weak one that "
        "fits noise"
        + (f"; the {len(table)} above the dashed line (min_evidence) are kept."
           if table.min_evidence is not None else
           " (no selection: every active location is kept).")
    )
    _add_figure(report, plot_evidence(stc, title=str(name)),
                f"{name}: evidence of the optimum's sources", section,
                caption=caption)
    _add_figure(report, time_courses, f"{name}: time courses", section,
                caption="Shaded: 95 % pointwise credible band of each source "
                "(posterior of the full VAE)"
                + ("; dashed: ground truth, in the colour of the estimated "
                   "source that stands for it." if truth is not None else "."))


def _peak_bands(stc):
    """({location: (value, lower, upper)} in nAm at each source's peak, with
    the location's uncertainty, or None; and the peak's time index per row).

    Vector estimates and estimates without location regions (learned noise,
    many epochs) get no band."""
    from ..evidence import credible_interval

    data = np.asarray(stc.data)
    if data.ndim != 2 or not data.size:
        return None, None
    peak_index = np.argmax(np.abs(data), axis=1)
    try:
        lower, upper = credible_interval(stc, location=True)
    except ValueError:
        return None, peak_index
    rows = np.arange(len(data))
    value, lo, hi = (1e9 * np.asarray(x)[rows, peak_index]
                     for x in (data, lower.data, upper.data))
    return ({int(loc): (float(v), float(a), float(b))
             for loc, v, a, b in zip(stc.vae_sources.location, value, lo, hi)},
            peak_index)


def _truth_at_peaks(stc, truth, peak_index, positions, match_mm):
    """{location: nAm}: the amplitude, at the estimate's peak, of the
    strongest true source within ``match_mm`` of each estimated one (the
    same vertex without positions), in the estimate's sign convention
    (its norm for a norm estimate)."""
    from ._estimates import _stc_magnitude
    from .timecourses import _position, _space_vertices

    try:
        t_data = np.asarray(truth.data)
        t_mag = _stc_magnitude(truth)
    except AttributeError:  # vertex numbers, not an estimate
        return None
    # the truth's sample at each estimate's peak (the estimate may be a
    # cropped window of it)
    t_times = np.asarray(truth.times)
    peak_times = np.asarray(stc.times)[peak_index]
    t_index = np.argmin(np.abs(t_times[None, :] - peak_times[:, None]), axis=1)
    on_time = np.abs(t_times[t_index] - peak_times) <= 0.5 * truth.tstep + 1e-9
    t_verts = _space_vertices(truth)
    t_rows = np.flatnonzero(t_mag.max(axis=1) > 0)
    signed = np.asarray(stc.data).ndim == 2 and bool((np.asarray(stc.data) < 0).any())
    out = {}
    for i, (e, loc) in enumerate(zip(_space_vertices(stc), stc.vae_sources.location)):
        if positions is None:
            near = [j for j in t_rows if t_verts[j] == e]
        else:
            p = _position(positions, e)
            near = [j for j in t_rows if 1e3 * np.linalg.norm(
                _position(positions, t_verts[j]) - p) <= match_mm]
        if near and on_time[i]:
            j = max(near, key=lambda j: t_mag[j].max())
            value = (t_data[j, t_index[i]] if signed and t_data.ndim == 2
                     else t_mag[j, t_index[i]])
            out[int(loc)] = 1e9 * float(value)
    return out


def _white_positions(surfaces, subject, subjects_dir):
    """Vertex positions {hemi: (n, 3)} of the white surface (the inflated
    one, whose distances are distorted, only when nothing else is known)."""
    from ._surfaces import _resolve_surfaces

    for kind in ("white", "inflated"):
        try:
            surfs, _ = _resolve_surfaces(surfaces, kind, subject, subjects_dir, None)
        except ValueError:
            continue
        return {hemi: rr for hemi, (rr, _) in surfs.items()}
    return None


def _save_atomic(report, fname: Path) -> None:
    _atomic_write(
        fname,
        lambda tmp: report.save(tmp, overwrite=True, open_browser=False,
                                verbose=False),
        suffix=".html",
    )

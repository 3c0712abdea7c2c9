"""The offline demo: simulate, localize with the full VAE and MxNE, report."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from ._methods import labels
from ._output import check_output_folder, staged_folder
from .inverse import LEARN_NOISE, _parse_min_evidence
from .utils import (
    ConvergenceWarning,
    _check_int,
    _check_option,
    _check_positive,
    logger,
)

#: The demo's two methods (names of :mod:`vaesource._methods`).
METHODS = ("full_vae", "mxne")
LABELS = labels()


@dataclass
class DemoResult:
    """What :func:`run_demo` made.

    Attributes
    ----------
    n_sources : int
        Simulated sources.
    found : dict
        Per method, the number of estimated sources within ``tol_mm`` of a
        true one (each true source counted once).
    loc_error_mm : dict
        Per method, the median distance from each true source to its matched
        estimated source (mm).
    seconds : dict
        Per method, the time of the inverse (s).
    n_active : dict
        Per method, the number of sources of the estimate (for the full VAE,
        those selected by evidence).
    n_optimum : int | None
        Active locations of the full VAE's unselected optimum (None without
        a selection).
    files : dict
        Written files (``report``, source estimates, ...).
    rendered : bool
        Whether 3-D renders were made (off-screen OpenGL available).
    wall_time : float
        Seconds for the whole demo.
    """

    n_sources: int
    found: dict
    loc_error_mm: dict
    seconds: dict
    files: dict
    rendered: bool
    wall_time: float
    n_active: dict = None
    n_optimum: int | None = None

    def summary(self):
        """One line: sources found, localization error and time per method."""
        parts = []
        for m in self.found:
            shown = ""
            if self.n_active:
                shown = f", {self.n_active[m]} estimated"
                if m == "full_vae" and self.n_optimum is not None:
                    shown += f" (selected of {self.n_optimum} at the optimum)"
            parts.append(
                f"{LABELS[m]}: {self.found[m]}/{self.n_sources} found{shown}, "
                f"{self.loc_error_mm[m]:.1f} mm, {self.seconds[m]:.1f} s")
        return f"{self.n_sources} simulated sources | " + " | ".join(parts)


def run_demo(out_dir, *, n_sources=2, snr=3.0, seed=0, overwrite=False,
             cache_dir=None, render=True, views="auto", tol_mm=15.0,
             min_evidence="auto", learn_noise=None, n_restarts=1,
             color_by="amplitude") -> DemoResult:
    """Simulate an evoked response on the template head and localize it.

    Sources are drawn on the ico4 template cortex and inverted on the ico3
    grid (no inverse crime) with the full-covariance VAE and MNE's MxNE, on
    the same whitened data (:func:`vaesource.compare`). Writes the source
    estimates (MNE's ``.stc`` format, all active sources), the simulated
    evoked response with its forward solution and noise covariance (the
    inputs of ``vaesource localize``), and an HTML report with 3-D renders
    of the estimates against the truth (also as comparison.png), the time
    courses with the full VAE's credible bands, which of its sources are
    real (their evidence) and where each is (its location region, tinted in
    the renders; in the source table, the region's size and radius and the
    band at the source's peak with the location, next to the truth's
    amplitude there; see :func:`vaesource.viz.make_report`). The full
    VAE's estimate holds the sources selected by their evidence
    (``min_evidence``): at a finite noise level the optimum of cost (18)
    also keeps weak noise-fitting sources, which the selection removes.

    Parameters
    ----------
    out_dir : path-like
        Output folder: new, empty, or holding a previous run (see
        ``overwrite``).
    n_sources : int
        Number of simulated sources.
    snr : float
        Whitened signal-to-noise power ratio.
    seed : int
        Random seed.
    overwrite : bool
        Replace a previous run in ``out_dir``; otherwise refuse before
        computing anything. The run replaces the folder as a whole (staged
        next to it, then swapped in), so no file of the earlier run stays; a
        folder holding anything vaesource does not write is never replaced.
    cache_dir : path-like | None
        Template cache folder (see :func:`vaesource.datasets.template`).
    render : bool
        Make the 3-D renders (skipped, with a message, when off-screen
        OpenGL is unavailable).
    views : ``"auto"`` | sequence of str
        Views of the renders (comparison.png and the report): ``"auto"``
        shows those facing the sources (see
        :func:`vaesource.viz.plot_comparison`).
    tol_mm : float
        Distance under which an estimated source counts as found.
    min_evidence, learn_noise, n_restarts
        Options of the full VAE (see :func:`vaesource.apply_vae_inverse`);
        ``min_evidence`` also accepts ``"none"`` for the unselected optimum.
        The restarts' seed is ``seed``.
    color_by : ``"amplitude"`` | ``"evidence"`` | ``"probability"``
        Colour of the full VAE's sources in its render in the report (the
        comparison is coloured by amplitude).

    Returns
    -------
    result : DemoResult
    """
    import mne

    from .simulation import CorticalSettings, cortical_evoked
    from .compare import compare
    from .forward.template import template
    from .metrics import localization_error, precision_recall, stc_sources

    from .viz._scene import COLOR_BY

    n_sources = _check_int("n_sources", n_sources, min_value=1)
    snr = _check_positive("snr", snr)
    min_evidence = _parse_min_evidence(min_evidence)
    _check_option("learn_noise", learn_noise, (None,) + LEARN_NOISE)
    n_restarts = _check_int("n_restarts", n_restarts, min_value=1)
    _check_option("color_by", color_by, COLOR_BY)
    if not (isinstance(views, str) and views == "auto"):
        from .viz.brain import _check_views

        views = _check_views(views, "both")
    out = check_output_folder(out_dir, overwrite=overwrite)
    names = {"report": "report.html", "comparison": "comparison.png",
             "evoked": "simulated-ave.fif", "forward": "template-fwd.fif",
             "noise_cov": "noise-cov.fif"}
    names.update({m: f"{m}-lh.stc" for m in METHODS})
    t0 = time.perf_counter()
    settings = CorticalSettings(cache_dir=cache_dir)
    fine = template(settings.sim_spacing, sensors="meg", cache_dir=cache_dir)
    coarse = template(settings.inv_spacing, sensors="meg", cache_dir=cache_dir)
    sim = cortical_evoked(
        fine, n_sources, snr=snr, seed=seed, inverse_template=coarse,
        sfreq=settings.sfreq, tmin=settings.tmin, tmax=settings.tmax,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        comp = compare(sim.evoked, sim.forward, sim.noise_cov, methods=METHODS,
                       loose=settings.loose, depth=settings.depth, verbose=False,
                       vae_kw=dict(min_evidence=min_evidence, learn_noise=learn_noise,
                                   n_restarts=n_restarts, random_state=seed))
    found, errors, seconds, stcs = {}, {}, {}, {}
    for row in comp.rows:
        pos, amp = stc_sources(row.estimate, sim.forward)
        err = localization_error(sim.positions, pos, amp)
        _, recall = precision_recall(sim.positions, pos, amp, tol_mm=tol_mm)
        found[row.method] = int(round(recall * n_sources))
        errors[row.method] = (float(np.nanmedian(err)) if np.any(np.isfinite(err))
                              else float("nan"))
        seconds[row.method] = row.seconds
        stcs[row.method] = row.estimate

    rendered = False
    if render:
        from .viz._scene import _rendering_available

        rendered, why = _rendering_available()
        if not rendered:
            logger.warning("No 3-D renders: %s", why)
    written = []
    with staged_folder(out) as stage:
        sim.evoked.save(stage / names["evoked"], overwrite=True, verbose=False)
        # the inputs of the inverse, so `vaesource localize` can be tried on them
        mne.write_forward_solution(stage / names["forward"], sim.forward,
                                   overwrite=True, verbose=False)
        sim.noise_cov.save(stage / names["noise_cov"], overwrite=True, verbose=False)
        written += ["evoked", "forward", "noise_cov"]
        for m, stc in stcs.items():
            stc.save(stage / m, ftype="stc", overwrite=True, verbose=False)
            written.append(m)
        truth_stc = sim.stc
        truth_stc.save(stage / "truth", ftype="stc", overwrite=True, verbose=False)
        if rendered:
            from .viz import make_report, plot_comparison

            # the full VAE's estimate holds its sources selected by evidence
            shown = {LABELS[m]: stcs[m] for m in METHODS}
            make_report(
                stage / names["report"],
                stcs=shown, truth=truth_stc,
                results={"full VAE": stcs["full_vae"].vae_result},
                title="vaesource demo: full VAE vs MxNE on the template head",
                views=views, match_mm=tol_mm, color_by=color_by, overwrite=True,
            )
            plotter = plot_comparison(
                {**shown, "truth": truth_stc}, views=views,
                fname=stage / names["comparison"],
            )
            plotter.close()
            written += ["report", "comparison"]
    files = {name: out / names[name] for name in written}
    vae = stcs["full_vae"].vae_result
    n_optimum = (int(vae.info["optimum"].locations.size)
                 if "optimum" in vae.info else None)
    return DemoResult(
        n_sources=n_sources, found=found, loc_error_mm=errors, seconds=seconds,
        files=files, rendered=rendered, wall_time=time.perf_counter() - t0,
        n_active={row.method: int(row.n_active) for row in comp.rows},
        n_optimum=n_optimum,
    )


"""
Localize an evoked response on the template head
================================================

Simulate an evoked MEG response of two cortical sources on vaesource's
embedded template head, localize it with the full-covariance VAE
(:func:`vaesource.apply_vae_inverse`, called like
:func:`mne.inverse_sparse.gamma_map`), and check the estimate against the
truth: solver diagnostics, time courses, a 3-D render and the localization
error. Nothing is downloaded.
"""
# License: BSD-3-Clause

import matplotlib.pyplot as plt
import numpy as np

import vaesource
from vaesource import metrics, viz
from vaesource.datasets import template
from vaesource.simulation import cortical_evoked

# %%
# The template head
# -----------------
# :func:`vaesource.datasets.template` builds, from files shipped with
# nilearn, the fsaverage5 cortex in a 306-channel MEG helmet with a sphere
# head model and its forward solution. It is cached after the first call
# (``$VAESOURCE_CACHE_DIR``). Two source spacings are used: sources are
# simulated on the finer ``"ico4"`` grid (5124 locations) and estimated on
# ``"ico3"`` (1284 locations), so no true source is a column of the
# inversion gain (no "inverse crime").
fine = template("ico4")
coarse = template("ico3")
print(fine)
print(coarse)

# %%
# Simulate an evoked response
# ---------------------------
# :func:`~vaesource.simulation.cortical_evoked` places dipoles normal to the
# cortex at ico4 vertices that are not ico3 vertices, at least 3 cm apart,
# with ERP-like waveforms (peaks between 60 and 160 ms), and adds sensor
# noise (:func:`mne.make_ad_hoc_cov`) at a whitened signal-to-noise power
# ratio ``snr`` over the samples where the sources are active. It returns
# MNE objects: the evoked response, the noise covariance and the ico3
# forward, plus the true source estimate and positions.
sim = cortical_evoked(fine, 2, snr=3.0, seed=0, inverse_template=coarse,
                      sfreq=100.0)
evoked, forward, noise_cov = sim.evoked, sim.forward, sim.noise_cov
print(sim)
evoked.plot(spatial_colors=True, time_unit="ms")

# %%
# Localize
# --------
# Same arguments as :func:`mne.inverse_sparse.gamma_map`. The data are
# whitened with ``noise_cov / evoked.nave``, so ``gamma=1`` (the default)
# says that the whitened noise has unit variance; ``learn_gamma=True`` would
# estimate it. ``loose="auto"`` (0.2 on a cortical surface) and
# ``depth=0.8`` are MNE's defaults; the three orientations of a location
# share one weight ``w_i``, and ``stc`` holds their norm.
stc = vaesource.apply_vae_inverse(evoked, forward, noise_cov)
print(stc)

# %%
# The solver's result
# -------------------
# ``stc.vae_result`` is the :class:`~vaesource.solvers.SolverResult` of the
# array solver on the whitened problem: iterations, convergence, ``gamma``,
# the history of cost (18), the weights ``w`` and the VAE's encoder and
# decoder parameters (``res.params``). With loose orientation each location
# has 3 gain columns sharing one weight: ``res.weights`` and
# ``res.active_set`` are per column, its summary counts locations.
res = stc.vae_result
print(res)
optimum = res.info["optimum"]
print(f"iterations: {res.n_iter}, converged: {res.converged}, gamma: {res.gamma}")
print(f"cost (18) at the optimum: {optimum.cost[0]:.1f} -> {optimum.cost[-1]:.1f}")
print(f"explained variance: {100 * res.info['explained_variance']:.1f} %")
print(stc.vae_sources.summary())
viz.plot_convergence(optimum)
plt.show()

# %%
# The figure is the solver's run to the optimum of cost (18). Its right
# panel shows why that optimum has many more than two active locations: at
# a finite noise level (``gamma = 1``) it keeps weights orders of magnitude
# smaller than the largest ones, which fit a little of the noise. The
# estimate ``stc`` keeps only the locations whose evidence (the rise of cost
# (18) when the location alone is removed, twice a log Bayes factor) makes
# them real with a posterior probability of at least 0.95
# (``min_evidence="auto"``), and minimises cost (18) again on them; the table
# above lists them with their evidence, probability and posterior standard
# deviation. ``min_evidence=None`` returns the optimum itself (kept as
# ``res.info["optimum"]``); tutorial 05 shows how the two differ.
#
# Time courses
# ------------
# The strongest estimated sources (solid) against the truth (dashed). The
# estimate holds the norm over the three orientations, so the truth is drawn
# as amplitudes too. The true sources sit on the ico4 grid, between ico3
# locations: given the vertex positions (the white surface), each true
# source takes the colour of an estimated source within 15 mm, and stays
# gray when none is that close.
white = {hemi: rr for hemi, (rr, _) in fine.surfaces["white"].items()}
viz.plot_time_courses(stc, truth=sim.stc, positions=white, n_max=5)
plt.show()

# %%
# 3-D render
# ----------
# :func:`~vaesource.viz.plot_sources` renders off screen with pyvista and
# returns the plotter: spheres are the estimate (colour and size: peak
# amplitude), green rings the true sources. :func:`~vaesource.viz.as_figure`
# turns the render into a matplotlib figure, which ``plt.show()`` opens in a
# window when this runs as a script (``plotter.screenshot("x.png")`` would
# save it instead).
plotter = viz.plot_sources(stc, truth=sim.stc, views=("lateral", "medial"))
viz.as_figure(plotter)
plt.show()

# %%
# Localization error
# ------------------
# :func:`~vaesource.metrics.stc_sources` gives the position and amplitude of
# each estimated source; :func:`~vaesource.metrics.localization_error` pairs
# true and estimated peaks (Hungarian algorithm) and returns the distance in
# mm for each true source; :func:`~vaesource.metrics.precision_recall`
# counts the sources within a tolerance.
pos, amp = metrics.stc_sources(stc, forward)
errors = metrics.localization_error(sim.positions, pos, amp)
precision, recall = metrics.precision_recall(sim.positions, pos, amp, tol_mm=15.0)
print(f"localization error (mm): {np.round(errors, 1)}")
print(f"within 15 mm: precision {precision:.2f}, recall {recall:.2f}")

# %%
# On the ico3 grid the nearest neighbours of a location are about 7 mm away
# and the true sources lie between grid locations, so errors of a few
# millimetres are as good as this grid allows.
#
# Dipoles
# -------
# ``return_as_dipoles=True`` returns one :class:`mne.Dipole` per active
# location (position, orientation and amplitude time course), as
# :func:`mne.inverse_sparse.gamma_map` does.
dipoles = vaesource.apply_vae_inverse(evoked, forward, noise_cov,
                                      return_as_dipoles=True)
strongest = max(dipoles, key=lambda dip: np.abs(dip.amplitude).max())
print(f"{len(dipoles)} dipoles; strongest at {1e3 * strongest.pos[0].round(4)} mm, "
      f"peak {1e9 * np.abs(strongest.amplitude).max():.1f} nAm")

# %%
# From the command line
# ---------------------
# The same inverse runs on files (an evoked ``-ave.fif``, a forward
# ``-fwd.fif`` and a noise covariance ``-cov.fif``)::
#
#     vaesource localize --evoked F --forward F --cov F --out DIR
#
# It writes the estimate (``.stc``), the dipoles (``.dip``), a
# ``summary.json``, renders and an HTML report into ``DIR``.

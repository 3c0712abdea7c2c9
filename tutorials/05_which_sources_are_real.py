"""
Which sources are real: evidence, credible bands, noise learning, restarts
==========================================================================

At a finite noise level the optimum of cost (18) holds, besides the sources
that produced the response, many weak ones that fit a little of the noise.
The full VAE tells them apart on principle: each source's *evidence* (how
much cost (18) rises when it alone is removed, twice the log Bayes factor of
keeping it) and the posterior of the sources (the encoder covariance of the
paper's appendix C.1). This tutorial shows, on a simulated response on the
embedded template head (nothing is downloaded):

1. the evidence against the amplitude of every source of the optimum, and
   the selection :func:`vaesource.apply_vae_inverse` makes by default;
2. renders coloured by evidence, and time courses with credible bands;
3. where each source is: its location region, and the amplitude's band
   that includes it;
4. noise learning per channel type when the noise covariance is wrong for
   the magnetometers;
5. restarts from random initialisations, and how often each source returns.
"""
# License: BSD-3-Clause

import warnings

import matplotlib.pyplot as plt
import numpy as np

import vaesource
from vaesource import metrics, viz
from vaesource.datasets import template
from vaesource.simulation import cortical_evoked

# %%
# A simulated response
# --------------------
# Two sources on the fine ico4 cortex, estimated on the ico3 grid (1284
# locations, no true source on it), at a whitened SNR of 3, as in
# :ref:`sphx_glr_auto_tutorials_02_template_localization.py`.
fine = template("ico4")
coarse = template("ico3")
sim = cortical_evoked(fine, 2, snr=3.0, seed=0, inverse_template=coarse,
                      sfreq=100.0)
evoked, forward, noise_cov = sim.evoked, sim.forward, sim.noise_cov


def localize(evoked, **kwargs):
    """The full VAE, as users get it (the optimum's warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vaesource.apply_vae_inverse(evoked, forward, noise_cov, **kwargs)


def errors_mm(stc):
    """Distance (mm) from each true source to the nearest estimated one."""
    pos, amp = metrics.stc_sources(stc, forward)
    return np.round(metrics.localization_error(sim.positions, pos, amp), 1)


# %%
# The optimum and its evidence
# ----------------------------
# ``min_evidence=None`` returns the optimum of cost (18) itself. Its
# :class:`~vaesource.evidence.SourceTable` (``stc.vae_sources``) lists every
# active location with its peak amplitude, evidence, posterior probability
# of being real and posterior standard deviation.
optimum = localize(evoked, min_evidence=None)
print(f"the optimum: {len(optimum.vae_sources)} active locations for "
      f"{len(sim.positions)} true sources")
print(optimum.vae_sources.summary(max_rows=8))

# %%
# By default (``min_evidence="auto"``) :func:`~vaesource.apply_vae_inverse`
# keeps the sources whose posterior probability of being real reaches 0.95
# and minimises cost (18) again on them; the optimum stays available as
# ``stc.vae_result.info["optimum"]``. :func:`~vaesource.viz.plot_evidence`
# draws every source of the optimum: the true sources stand orders of
# magnitude above the threshold (dashed), the noise-fitting ones far below,
# and no cut by amplitude (dotted: 10 % of the peak, what earlier releases
# hid in the renders) separates them as cleanly.
stc = localize(evoked)
table = stc.vae_sources
print(f"selected: {len(table)} sources with evidence >= {table.min_evidence:.1f}")
print(table.summary())
print("localization error (mm):", errors_mm(stc))
viz.plot_evidence(stc)
plt.show()

# %%
# Renders coloured by evidence
# ----------------------------
# ``color_by="evidence"`` colours each source by its evidence (log scale)
# and keeps its size for the amplitude; ``"probability"`` colours by the
# posterior probability. Here, the optimum: its weak sources are the dark
# ones (``vaesource localize --color-by evidence`` does the same).
plotter = viz.plot_sources(optimum, truth=sim.stc, color_by="evidence",
                           views=("lateral",), title="the optimum, by evidence")
viz.as_figure(plotter)
plt.show()

# %%
# Time courses with credible bands
# --------------------------------
# The posterior of the sources is Gaussian, the same covariance at every
# time sample; :func:`vaesource.credible_interval` turns it into pointwise
# bands (for the norm over orientations, a delta-method band), which
# :func:`~vaesource.viz.plot_time_courses` shades around each estimate. The
# truth (dashed) is drawn the same way, as amplitudes in nAm, in the colour
# of the estimated source within 15 mm of it.
lower, upper = vaesource.credible_interval(stc, level=0.95)
peak = np.argmax(stc.data, axis=1)
rows = np.arange(len(peak))
print("95 % band at each source's peak (nAm):")
for lo, x, hi in zip(lower.data[rows, peak], stc.data[rows, peak],
                     upper.data[rows, peak]):
    print(f"  {1e9 * lo:6.2f} <= {1e9 * x:6.2f} <= {1e9 * hi:6.2f}")
white = {hemi: rr for hemi, (rr, _) in fine.surfaces["white"].items()}
viz.plot_time_courses(stc, truth=sim.stc, positions=white)
plt.show()

# %%
# Where each source is
# --------------------
# The true sources lie between the ico3 grid's locations, so each estimated
# source stands at the location nearest to where the data put it. How sure
# is that place? For each selected source, the full VAE moves it over the
# nearby locations (and points between them), each time re-fitting its
# amplitude in closed form, and weighs each place by its posterior: the
# smallest set of places holding 95 % of it is the source's *location
# region*. The table's ``region`` column gives its size (locations) and its
# radius (the farthest of them from the source, mm); ``table.regions`` the
# places and their probabilities.
print(table.summary())
for (pos, prob), hemi, vertex, at in zip(table.regions, table.hemi,
                                         table.vertex, table.pos):
    offsets = np.round(1e3 * np.linalg.norm(pos - at, axis=1), 1)
    print(f"{hemi} {vertex}: {len(prob)} place(s), P = {np.round(prob, 2)} "
          f"at {offsets} mm from the source")

# %%
# The amplitude's band on the grid assumes the source is exactly at its
# location; ``credible_interval(stc, location=True)`` also averages over
# where it may be (a mixture over its region), so a source whose place is
# uncertain gets a wider band. Here at each source's peak, next to the
# amplitude of the true source nearest to it (on the white surface). Read
# the truth with care: it is a current normal to the fine cortex, a few
# millimetres off the grid, while the estimate is the norm of a loose
# orientation at a grid location; the bands describe the posterior of the
# model on the grid, and need not hold that number.
on_grid = vaesource.credible_interval(stc, level=0.95)
with_location = vaesource.credible_interval(stc, level=0.95, location=True)
true_at = [(hemi, v) for hemi, verts in zip(("lh", "rh"), sim.stc.vertices)
           for v in verts]
true_pos = np.array([white[h][v] for h, v in true_at])
true_amp = np.abs(sim.stc.data)
print(" source     truth   on the grid        with the location")
for i, (hemi, vertex) in enumerate(zip(table.hemi, table.vertex)):
    t = peak[i]
    j = np.argmin(np.linalg.norm(true_pos - white[hemi][vertex], axis=1))
    truth = 1e9 * true_amp[j, np.argmin(np.abs(sim.stc.times - stc.times[t]))]
    grid = 1e9 * np.array([on_grid[0].data[i, t], on_grid[1].data[i, t]])
    loc = 1e9 * np.array([with_location[0].data[i, t], with_location[1].data[i, t]])
    print(f"{hemi} {vertex:5d} {truth:7.2f}   [{grid[0]:6.2f}, {grid[1]:6.2f}]"
          f"   [{loc[0]:6.2f}, {loc[1]:6.2f}]")

# %%
# The renders draw each region by default (``regions=False`` leaves it out):
# the cortex around the places a source may be is tinted in the source's
# colour, more opaque where it is more probable; the green rings are the
# truth.
plotter = viz.plot_sources(stc, truth=sim.stc, views="auto",
                           title="where each source is")
viz.as_figure(plotter)
plt.show()

# %%
# A wrong noise covariance: learn the noise per channel type
# ----------------------------------------------------------
# Suppose the magnetometers were 3 times noisier (in variance) than the
# covariance says, e.g. a noisy room on the day of the recording. The
# whitened magnetometer noise is then larger than the model assumes: the
# optimum fits some of it with sources, and a spurious one gains enough
# evidence to be selected. ``learn_noise="type"`` learns one noise factor per channel type
# (Champagne's heteroscedastic noise learning); ``"channel"`` one per
# channel, ``"scalar"`` one for all.
rng = np.random.default_rng(0)
noisy = evoked.copy()
mag = [i for i, kind in enumerate(noisy.get_channel_types()) if kind == "mag"]
variance = noise_cov.data if noise_cov["diag"] else np.diag(noise_cov.data)
cov_diag = variance[[noise_cov.ch_names.index(noisy.ch_names[i]) for i in mag]]
extra = rng.standard_normal((len(mag), len(noisy.times)))
noisy.data[mag] += extra * np.sqrt(2.0 * cov_diag / noisy.nave)[:, None]
for learn in (None, "type"):
    est = localize(noisy, learn_noise=learn)
    noise = est.vae_result.info.get("noise_var")
    learned = ("" if noise is None else "; learned factors: "
               + ", ".join(f"{k} {v:.2f}" for k, v in noise.items()))
    print(f"learn_noise={learn!r}: {len(est.vae_sources)} sources selected, "
          f"errors {errors_mm(est)} mm{learned}")

# %%
# Learning recovers the factors (about 3 for the magnetometers, 1 for the
# gradiometers), and the selection keeps the true sources only.
#
# Restarts
# --------
# Theorem 4.1 of the paper: under its conditions every minimum of cost (18)
# is the sparsest solution, so runs from different starts must agree.
# ``n_restarts`` runs from the default and random starts, keeps the lowest
# cost and reports how often each selected source appeared (the last
# column).
stc5 = localize(evoked, n_restarts=4, random_state=0)
restarts = stc5.vae_result.info["restarts"]
print("cost (18) of each run:", np.round(restarts["costs"], 3))
print(stc5.vae_sources.summary())

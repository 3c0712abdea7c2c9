"""
Conditions and epochs: one operator, one shared support
=======================================================

An experiment rarely has one evoked response: several conditions (left and
right stimuli, standard and deviant) come from the same few cortical
sources with their own time courses, and each condition is an average of
epochs. Localized one by one, the conditions can disagree on where the
sources are, only because a source that is weak in one condition falls
below its evidence threshold there. The full VAE can share the support
instead: one minimisation of cost (18) over the source variances that all
conditions (or all epochs) share, the evidence of each source joint, each
condition's time courses its own. On simulated data on the embedded
template head (nothing is downloaded), this tutorial:

1. prepares the inverse once (:func:`vaesource.make_vae_operator`);
2. localizes three conditions alone and jointly
   (:func:`vaesource.apply_vae_operator` on a list);
3. localizes single-trial epochs with one support shared by all of them
   (:func:`vaesource.apply_vae_operator_epochs`).

The command line does the same: ``vaesource localize --condition all`` and
``vaesource localize --epochs sub-epo.fif``.
"""
# License: BSD-3-Clause

import warnings

import matplotlib.pyplot as plt
import mne
import numpy as np

import vaesource
from vaesource.datasets import template
from vaesource.simulation import cortical_evoked

# %%
# Two sources, three conditions
# -----------------------------
# :func:`vaesource.simulation.cortical_evoked` draws two sources on the fine
# ico4 cortex (off the ico3 grid the inverse uses). Each condition gives
# them their own time course: a burst at its own latency and strength. In
# the third condition the first source is weak.
fine = template("ico4")
coarse = template("ico3")
sim = cortical_evoked(fine, 2, snr=3.0, seed=1, inverse_template=coarse,
                      sfreq=100.0)
forward, noise_cov, info = sim.forward, sim.noise_cov, sim.evoked.info
times = sim.evoked.times
peak = np.abs(sim.stc.data).max()
# (amplitude, latency in s) of each source, per condition
BURSTS = {
    "left": [(1.0, 0.08), (0.8, 0.13)],
    "right": [(0.7, 0.10), (1.0, 0.16)],
    "late": [(0.12, 0.18), (1.0, 0.09)],
}
fwd_fixed = mne.convert_forward_solution(fine.fwd, surf_ori=True,
                                         force_fixed=True, use_cps=True,
                                         verbose=False)
rng = np.random.default_rng(0)
# the template's ad hoc noise covariance is diagonal: its variances per channel
noise_sd = np.sqrt(noise_cov.data[[noise_cov.ch_names.index(c)
                                   for c in info["ch_names"]]])


def simulate(bursts, nave=1, scale=1.0):
    """An average of ``nave`` trials of the two sources' bursts, with noise."""
    data = np.array([a * peak * scale * np.exp(-((times - t) / 0.02) ** 2)
                     * np.sin(2 * np.pi * 10 * (times - t) + np.pi / 2)
                     for a, t in bursts])
    stc = mne.SourceEstimate(data, sim.stc.vertices, tmin=times[0],
                             tstep=1 / info["sfreq"], subject="fsaverage")
    evoked = mne.apply_forward(fwd_fixed, stc, info, use_cps=True,
                               verbose=False)
    evoked.data += (noise_sd / np.sqrt(nave))[:, np.newaxis] * rng.standard_normal(
        evoked.data.shape)
    evoked.nave = nave
    return evoked


evokeds = []
for name, bursts in BURSTS.items():
    evoked = simulate(bursts)
    evoked.comment = name
    evokeds.append(evoked)

# %%
# Prepare once
# ------------
# The operator holds what depends only on the forward model and the noise
# covariance: the whitener, the orientation and depth priors, the whitened
# gain. It holds no data, can be printed, pickled and applied to any number
# of responses recorded with these channels.
operator = vaesource.make_vae_operator(info, forward, noise_cov)
print(operator)


def true_error_mm(stc):
    """Distance (mm) from each true source to the nearest estimated one."""
    pos, amp = vaesource.metrics.stc_sources(stc, forward)
    return np.round(vaesource.metrics.localization_error(sim.positions, pos,
                                                         amp), 1)


def quietly(fn, *args, **kwargs):
    """The optimum's warnings (weak noise-fitting sources) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# %%
# Each condition alone
# --------------------
# Applied to one evoked response, the operator gives the estimate
# :func:`vaesource.apply_vae_inverse` would, without preparing the forward
# again. Each condition selects its own sources by its own evidence.
alone = [quietly(vaesource.apply_vae_operator, ev, operator) for ev in evokeds]
for ev, stc in zip(evokeds, alone):
    print(f"{ev.comment:>5s} alone: vertices {[v.tolist() for v in stc.vertices]}, "
          f"errors (mm) {true_error_mm(stc)}")

# %%
# The conditions jointly
# ----------------------
# A list of evoked responses is one minimisation: the conditions share the
# source variances, hence the support. The evidence of each source is
# joint (a source strong in one condition is kept in all), the time courses
# and credible bands stay each condition's own. The weak source of the
# third condition is now found where the other conditions put it.
joint = quietly(vaesource.apply_vae_operator, evokeds, operator)
for ev, stc in zip(evokeds, joint):
    print(f"{ev.comment:>5s} jointly: vertices {[v.tolist() for v in stc.vertices]}")
same = all([v.tolist() for v in stc.vertices]
           == [v.tolist() for v in joint[0].vertices] for stc in joint)
print(f"one support for all conditions: {same}")
print(joint[0].vae_sources.summary())

# %%
# The shared sources' time courses, per condition: the same two locations,
# each with the bursts of its condition.
fig, axes = plt.subplots(1, len(joint), figsize=(10, 3), sharey=True,
                         layout="constrained")
for ax, ev, stc in zip(axes, evokeds, joint):
    for row, vertex in zip(stc.data, np.concatenate(stc.vertices)):
        ax.plot(1e3 * stc.times, 1e9 * row, label=f"vertex {vertex}")
    ax.set(title=ev.comment, xlabel="time (ms)")
axes[0].set_ylabel("amplitude (nAm)")
axes[0].legend(fontsize="small")
plt.show()

# %%
# Epochs with one shared support
# ------------------------------
# Single trials are much noisier than their average. With a shared support,
# :func:`vaesource.apply_vae_operator_epochs` finds the sources from all
# epochs at once (the solver sees the summed outer product of the epochs,
# so 20 epochs cost about one evoked response) and gives each epoch its
# own time courses on that support. The sources are off the inversion
# grid: a strong one can be shared by two neighbouring grid locations, and
# the many samples of the epochs let a few weak extra sources just pass the
# 0.95 threshold (their probabilities in the table say so).
trials = np.stack([simulate(BURSTS["left"], scale=0.3).data for _ in range(20)])
epochs = mne.EpochsArray(trials, info, tmin=times[0], verbose=False)
stcs = quietly(vaesource.apply_vae_operator_epochs, epochs, operator)
print(f"{len(stcs)} epoch estimates on vertices "
      f"{[v.tolist() for v in stcs[0].vertices]}; errors (mm) "
      f"{true_error_mm(stcs[0])}")
print(stcs[0].vae_sources.summary())

# %%
# ``stcs[k].vae_sources`` is the same table for every epoch: the shared
# sources, with the joint evidence. The mean of the epochs' estimates is the
# estimate of their average on that support.
mean = np.mean([stc.data for stc in stcs], axis=0)
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for k in range(3):
    ax.plot(1e3 * stcs[k].times, 1e9 * stcs[k].data[0], color="0.7", lw=0.8)
ax.plot(1e3 * stcs[0].times, 1e9 * mean[0], color="C0", label="mean of 20 epochs")
ax.set(xlabel="time (ms)", ylabel="amplitude (nAm)",
       title="first shared source: three epochs and the mean")
ax.legend(fontsize="small")
plt.show()

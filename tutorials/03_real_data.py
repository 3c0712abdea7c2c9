"""
Real data: the MNE sample subject
=================================

Localize the real auditory response of MNE's "sample" subject with the
full-covariance VAE, next to MNE's MxNE, and look at where the sources are
and what they do over time.

:func:`data_fetch.real_data` finds the recordings. With the full MNE sample
dataset on disk (``vaesource-fetch sample`` downloads it, about 1.5 GB) this
tutorial uses its cortical oct-6 forward model and renders the estimate on
the subject's own cortex. Without it (offline machines, the test suite) it
falls back to small test recordings of the same subject and session: the
same auditory stimuli but averages of only 3 and 6 trials, and no cortical
surface, so the sources live on a 7 mm volume grid inside the inner skull.
"""
# License: BSD-3-Clause

# %%
# Find the data
# -------------
# Nothing is downloaded when ``VAESOURCE_NO_DOWNLOAD=1`` is set or no network
# is reachable; ``real_data`` then says which local files it uses.

import matplotlib.pyplot as plt
import mne
import numpy as np
from mne.io.constants import FIFF

from data_fetch import real_data
from vaesource import compare
from vaesource.metrics import stc_sources
from vaesource.viz import (as_figure, plot_sources, plot_time_courses,
                           plot_volume_sources)

mne.set_log_level("WARNING")
data = real_data()
print(f"{data.kind} data from the {data.source}: {data.path}")

# %%
# Forward model, evoked response, noise covariance
# ------------------------------------------------
# With the sample dataset, its precomputed MEG forward on the cortical oct-6
# source space (about 7500 cortical locations) and the "Left Auditory"
# average (several dozen trials). With the testing data, a real boundary-element
# (BEM) forward of the 306 MEG channels on a 7 mm volume grid inside the
# subject's single-layer inner-skull BEM (about 15 s to build), and the
# left- and right-ear auditory averages combined with ``weights="nave"``,
# i.e. the average of all 9 trials: the tones of both ears activate both
# auditory cortices, and more trials mean less noise.

cov = mne.read_cov(data.cov_fname)
trans = mne.read_trans(data.trans_fname)
if data.kind == "sample":
    fwd = mne.read_forward_solution(data.fwd_fname)
    evoked = data.read_evoked("Left Auditory").pick("meg")
else:
    bem = mne.read_bem_solution(data.bem_fname)
    src = mne.setup_volume_source_space(None, pos=7.0, bem=bem)
    evoked = data.read_evoked("auditory").pick("meg")
    fwd = mne.make_forward_solution(evoked.info, trans, src, bem, meg=True,
                                    eeg=False)
print(fwd)
print(f"{evoked.comment}: nave = {evoked.nave}")

# %%
# Localize: full-covariance VAE and MxNE
# --------------------------------------
# :func:`vaesource.compare` runs both methods on the same data.
# Whitening uses the noise covariance divided by ``evoked.nave`` (the
# covariance is that of single trials; an average of ``nave`` trials has
# ``nave`` times less noise variance), so after whitening the noise is white
# with unit variance and ``gamma=1`` is the right decoder variance of the
# VAE. Each location has three orthogonal dipoles sharing one weight ``w``
# (free orientation for the volume grid, ``loose=0.2`` on the cortex), and
# depth weighting (0.8) keeps deep sources from being penalised for their
# weak fields. The VAE minimises cost (18) over ``w`` in the window
# 50-150 ms (the auditory N100m); locations whose weight reaches zero drop
# out, and those that remain, a small fraction of the grid, are the *active
# set*. MxNE minimises a convex
# l2,1-penalised least-squares cost, with its regularisation set from the
# noise level ("noise" rule of :func:`vaesource.compare`).

table = compare(evoked, fwd, cov, methods=("full_vae", "mxne"), tmin=0.05,
                tmax=0.15)
print(table.summary())
stc = table["full_vae"].estimate
print(stc.vae_result)

# %%
# Where are the sources?
# ----------------------
# Positions in the head frame (x towards the right ear, y towards the nose,
# z up; millimetres) of the strongest locations, strongest first. The
# auditory cortices lie on the superior temporal planes, roughly 40-65 mm
# left and right of the midline, and a tone activates both: the estimates
# should have strong sources on both sides (``|x| > 35 mm``). With only 9
# trials the data are noisy: about half of the whitened variance in the
# window is explained, and much of the rest is noise, which ``gamma=1``
# tells the VAE not to fit. Weaker and deeper sources appear as well.


def strongest(estimate, n=8):
    """Head-frame positions (mm) and relative amplitudes, strongest first."""
    pos, amp = stc_sources(estimate, fwd)
    order = np.argsort(amp)[::-1][:n]
    return 1e3 * pos[order], amp[order] / amp.max()


for method in table.methods:
    row = table[method]
    pos, rel = strongest(row.estimate)
    print(f"{method}: {row.n_active} active locations, explained variance "
          f"{100 * row.explained_variance:.0f} %, left: {(pos[:, 0] < -35).any()}, "
          f"right: {(pos[:, 0] > 35).any()}")
    for (x, y, z), r in zip(pos, rel):
        print(f"  x={x:6.1f}  y={y:6.1f}  z={z:6.1f} mm   {r:4.2f} of peak")

# %%
# Time courses
# ------------
# The estimated currents of the strongest active locations (norm over the
# three orientations), in the window that was localized. The auditory
# response (the N100m) rises between 70 and 100 ms after the tone; with 9
# trials the traces stay noisy.

plot_time_courses(stc, n_max=6, title="Full-covariance VAE")
plt.show()

# %%
# Where, in 3-D
# -------------
# With the sample dataset: the active sources on the subject's inflated
# cortex. With the testing data: a glass brain of the subject's inner skull
# (from the BEM, moved to the head frame with the session's transform), with
# each active location as a sphere whose size and colour grow with its
# amplitude, in sagittal, coronal and axial views. The strongest (red)
# spheres lie on the left and right sides near the auditory cortices, with
# one deep near the midline; the many weak (yellow) ones are spread by the
# noise. Both renders are made off screen by pyvista and shown as matplotlib
# figures (:func:`~vaesource.viz.as_figure`).

if data.kind == "sample":
    plotter = plot_sources(stc, subject=data.subject,
                           subjects_dir=data.subjects_dir,
                           views=("lateral", "dorsal"), title="full VAE")
else:
    if trans["from"] == FIFF.FIFFV_COORD_HEAD:
        trans = mne.transforms.invert_transform(trans)  # now MRI -> head
    skull = bem["surfs"][0]
    skull_head = (mne.transforms.apply_trans(trans, skull["rr"]), skull["tris"])
    plotter = plot_volume_sources(stc, fwd["src"], surface=skull_head,
                                  glass_name="inner skull (BEM)", title="full VAE")
as_figure(plotter)
plt.show()

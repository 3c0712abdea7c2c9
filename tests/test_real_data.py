"""Localization of the real auditory and visual responses of MNE's sample data
(the ``real_problem`` fixture of conftest.py)."""

import warnings

import numpy as np
import pytest

from vaesource.inverse import apply_vae_inverse
from vaesource.metrics import stc_sources
from vaesource.utils import ConvergenceWarning

pytestmark = pytest.mark.slow


def _localize(problem, condition):
    with warnings.catch_warnings():
        # converges (relative cost change < 1e-8) in ~450 iterations
        warnings.simplefilter("error", ConvergenceWarning)
        stc = apply_vae_inverse(
            problem[condition], problem["fwd"], problem["cov"], tmin=0.05,
            tmax=0.15,
        )
    assert stc.vae_result.converged
    pos, amp = stc_sources(stc, problem["fwd"])
    strong = amp >= 0.3 * amp.max()
    return stc, 1e3 * pos[strong], amp[strong]


def test_real_problem_size(real_problem):
    fwd = real_problem["fwd"]
    # without an MRI volume MNE stores the grid as a "discrete" source space
    assert fwd["nchan"] == 306 and fwd["src"][0]["type"] in ("vol", "discrete")
    assert 3500 < fwd["nsource"] < 5000  # 4157 at 7 mm in this inner skull


def test_auditory_bilateral_temporal(real_problem):
    import mne

    stc, pos, amp = _localize(real_problem, "auditory")
    assert isinstance(stc, mne.VolSourceEstimate)
    assert stc.vae_result.n_orient == 3
    # head frame: x to the right ear, y to the nasion. Auditory cortices lie
    # about 45-65 mm from the midline, near y = 0
    left = pos[(pos[:, 0] < -35) & (np.abs(pos[:, 1]) < 40)]
    right = pos[(pos[:, 0] > 35) & (np.abs(pos[:, 1]) < 40)]
    assert len(left) and len(right), pos


def test_visual_posterior(real_problem):
    stc, pos, amp = _localize(real_problem, "visual")
    # the strongest source and the amplitude-weighted centre are posterior
    assert pos[np.argmax(amp), 1] < -10, pos
    assert np.average(pos[:, 1], weights=amp) < 0, pos
    assert stc.vae_result.info["explained_variance"] > 0.2

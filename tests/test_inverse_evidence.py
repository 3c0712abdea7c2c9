"""Evidence, selection, credible bands and noise learning on MNE objects."""

import mne
import numpy as np
import pytest

from vaesource import apply_vae_inverse
from vaesource.simulation import cortical_evoked
from vaesource.evidence import SourceTable, credible_interval
from vaesource.metrics import precision_recall, stc_sources
from vaesource.solvers import auto_min_evidence


@pytest.fixture(scope="module")
def sim(heads):
    coarse, fine = heads
    return cortical_evoked(fine, 2, snr=3.0, seed=11, inverse_template=coarse,
                           sfreq=100.0)


def test_default_selects_by_evidence(sim):
    """The default estimate keeps the sources whose evidence reaches
    2 log(n_locations); the unselected optimum stays available."""
    stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.2)
    table = stc.vae_sources
    assert isinstance(table, SourceTable)
    res = stc.vae_result
    n_loc = res.info["lead_field"].n_sources
    assert table.min_evidence == pytest.approx(auto_min_evidence(n_loc))
    assert len(table) == stc.data.shape[0] == res.locations.size
    assert np.all(table.evidence >= table.min_evidence)
    assert np.all(table.probability >= 0.95 - 1e-12)
    np.testing.assert_array_equal(table.vertex, np.concatenate(stc.vertices))
    np.testing.assert_allclose(table.pos, sim.forward["source_rr"][table.location])
    # peak amplitude: the estimate's own peak
    np.testing.assert_allclose(table.amplitude, np.abs(stc.data).max(axis=1))
    assert table.posterior_sd.shape == (len(table), 3)
    assert np.all(table.posterior_sd > 0)
    optimum = res.info["optimum"]
    assert optimum.locations.size > len(table)
    raw = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.2,
                            min_evidence=None)
    np.testing.assert_array_equal(raw.vae_result.locations, optimum.locations)
    assert raw.vae_sources.min_evidence is None
    # the selected sources are the true ones (2 sources, SNR 3)
    pos, amp = stc_sources(stc, sim.forward)
    prec, rec = precision_recall(sim.positions, pos, amp, tol_mm=15.0, threshold=0)
    assert rec == 1.0 and prec >= 0.5
    rows = table.rows()
    assert rows[0]["evidence"] == table.evidence.max()
    assert "P(real)" in table.summary()


def test_credible_interval(sim):
    for pick_ori, loose in ((None, 0.0), (None, 0.2), ("vector", 0.2)):
        stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov,
                                loose=loose, pick_ori=pick_ori)
        lo, hi = credible_interval(stc, 0.95)
        assert type(lo) is type(stc) and lo.data.shape == stc.data.shape
        assert np.all(lo.data <= stc.data + 1e-30) and np.all(stc.data <= hi.data)
        assert np.any(hi.data > stc.data)
        if pick_ori is None and loose > 0:
            assert np.all(lo.data >= 0)
        lo90, hi90 = credible_interval(stc, 0.9)
        assert np.all(hi90.data <= hi.data)
    with pytest.raises(ValueError, match="'level'"):
        credible_interval(stc, 1.5)
    diag = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.0,
                             model="diag")
    with pytest.raises(ValueError, match="no posterior"):
        credible_interval(diag)


def test_dipoles_carry_evidence(sim):
    dips = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.2,
                             return_as_dipoles=True)
    res = dips[0].vae_result
    evidence = [d.vae_source["evidence"] for d in dips]
    assert len(dips) == res.locations.size
    # each dipole carries the evidence of its own location
    np.testing.assert_allclose(evidence, res.evidence)
    assert [d.vae_source["location"] for d in dips] == list(res.locations)
    assert min(evidence) >= auto_min_evidence(len(sim.forward["source_rr"]))
    for d in dips:
        np.testing.assert_allclose(np.array(d.vae_source["pos_mm"]) / 1e3,
                                   d.pos[0], atol=1e-5)


def test_restarts(sim):
    stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.0,
                            n_restarts=3, random_state=0)
    freq = stc.vae_sources.frequency
    assert freq.shape == (stc.data.shape[0],)
    assert np.all((freq > 0) & (freq <= 1))
    assert stc.vae_result.info["restarts"]["costs"].shape == (3,)


def test_learn_noise_per_type(heads):
    """The covariance underestimates the gradiometer noise 4x and
    overestimates the magnetometers' 2x: the learned factors recover it."""
    coarse, fine = heads
    info = fine.info
    assumed = mne.make_ad_hoc_cov(info, verbose=False)
    true = assumed.copy()
    grad = mne.pick_types(info, meg="grad")
    mag = mne.pick_types(info, meg="mag")
    true["data"] = true["data"].copy()
    true["data"][grad] *= 4.0
    true["data"][mag] *= 0.5
    sim = cortical_evoked(fine, 2, snr=3.0, seed=5, inverse_template=coarse,
                          sfreq=200.0, tmax=0.5, noise_cov=true)
    stc = apply_vae_inverse(sim.evoked, sim.forward, assumed, loose=0.2,
                            learn_noise="type")
    noise = stc.vae_result.info["noise_var"]
    assert set(noise) == {"grad", "mag"}
    assert noise["grad"] == pytest.approx(4.0, rel=0.1)
    assert noise["mag"] == pytest.approx(0.5, rel=0.1)
    one = apply_vae_inverse(sim.evoked, sim.forward, assumed, loose=0.2,
                            learn_noise="channel")
    per_channel = one.vae_result.info["noise_var"]
    assert per_channel.shape == (len(info["ch_names"]),)
    assert np.median(per_channel[grad]) == pytest.approx(4.0, rel=0.2)


def test_bad_selection_input(sim):
    ev, fwd, cov = sim.evoked, sim.forward, sim.noise_cov

    def check(match, **kw):
        with pytest.raises(ValueError, match=match):
            apply_vae_inverse(ev, fwd, cov, loose=0.0, **kw)

    check("min_evidence.*-2", min_evidence=-2.0)
    check("n_restarts.*0", n_restarts=0)
    check("learn_noise.*'sensor'", learn_noise="sensor")
    check("only model='full' has", model="diag", min_evidence=3.0)
    check("only available with model='full'", model="ae", learn_noise="type")
    check("cannot be combined", learn_gamma=True, learn_noise="channel")
    with pytest.warns(UserWarning, match="strongest had evidence"):
        stc = apply_vae_inverse(ev, fwd, cov, loose=0.0, min_evidence=1e12)
    assert stc.data.shape[0] == 0 and len(stc.vae_sources) == 0

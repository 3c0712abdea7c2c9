"""Tests of vaesource.inverse.apply_vae_inverse on simulated cortical data."""

import dataclasses

import mne
import numpy as np
import pytest
from mne.io.constants import FIFF

from vaesource.simulation import cortical_evoked
from vaesource.inverse import apply_vae_inverse, scale_noise_cov
from vaesource.metrics import localization_error, precision_recall, stc_sources
from vaesource.solvers import cost_full


@pytest.fixture(scope="module")
def sim(heads):
    """Two cortical sources, off the ico3 inversion grid, nave = 4."""
    coarse, fine = heads
    return cortical_evoked(
        fine, 2, snr=10.0, seed=3, inverse_template=coarse, nave=4, sfreq=100.0
    )


def test_recovers_simulated_sources(sim):
    stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.0)
    assert isinstance(stc, mne.SourceEstimate)
    res = stc.vae_result
    assert res.converged and res.model == "full_vae" and res.n_orient == 1
    # cost history never increases (MM)
    assert np.all(np.diff(res.cost) <= 1e-9 * np.abs(res.cost[:-1]))
    pos, amp = stc_sources(stc, sim.forward)
    err = localization_error(sim.positions, pos, amp)
    # the true sources are off the ico3 grid, whose spacing is about 10 mm
    assert np.all(err < 12.0), err
    assert precision_recall(sim.positions, pos, amp, tol_mm=12.0)[1] == 1.0
    # the cost reported is cost (18) on the whitened arrays
    lf, M = res.info["lead_field"], res.info["M"]
    assert cost_full(M, lf.G, res.weights, 1.0) == pytest.approx(res.cost[-1], rel=1e-8)
    # amplitudes in A·m: the strongest estimate is within 30 % of the truth
    assert amp.max() == pytest.approx(sim.amplitudes.max(), rel=0.3)
    assert 0.5 < res.info["explained_variance"] < 1.0


def test_nave_scaling(sim):
    # gamma is the noise variance of the average: learned, it is close to 1
    stc = apply_vae_inverse(
        sim.evoked, sim.forward, sim.noise_cov, loose=0.0, learn_gamma=True
    )
    assert stc.vae_result.gamma == pytest.approx(1.0, abs=0.1)
    # the same data claimed as single trials: the noise is 4x the covariance's
    ev1 = sim.evoked.copy()
    ev1.nave = 1
    stc1 = apply_vae_inverse(ev1, sim.forward, sim.noise_cov, loose=0.0, learn_gamma=True)
    assert stc1.vae_result.gamma == pytest.approx(0.25, rel=0.1)
    # fixed gamma: gamma = 1 with nave 4 is gamma = 1/4 with nave 1
    a = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.0)
    b = apply_vae_inverse(ev1, sim.forward, sim.noise_cov, loose=0.0, gamma=0.25)
    ra, rb = a.vae_result, b.vae_result
    Ga, Gb = ra.info["lead_field"].G, rb.info["lead_field"].G
    # the gain is normalised the same way; the whitened data differ by sqrt(4)
    np.testing.assert_allclose(Ga, Gb, rtol=1e-10, atol=1e-12 * np.abs(Ga).max())
    np.testing.assert_allclose(ra.info["M"], 2 * rb.info["M"], rtol=1e-10)
    # so a's weights, scaled by 1/4, are as good a minimiser of b's cost (18)
    cost_ab = cost_full(rb.info["M"], Gb, ra.weights / 4, 0.25)
    assert cost_ab == pytest.approx(rb.cost[-1], rel=1e-5)  # up to the stopping rule
    # and the strongest sources (A·m) agree
    amp_a, amp_b = np.linalg.norm(a.data, axis=1), np.linalg.norm(b.data, axis=1)
    np.testing.assert_allclose(np.sort(amp_a)[-2:], np.sort(amp_b)[-2:], rtol=0.02)
    cov = scale_noise_cov(sim.noise_cov, 4)
    np.testing.assert_allclose(cov["data"], sim.noise_cov["data"] / 4)


def test_free_orientation_vector_dipoles_residual(sim):
    kw = dict(loose=1.0, tmin=0.0, tmax=0.2)
    stc, residual = apply_vae_inverse(
        sim.evoked, sim.forward, sim.noise_cov, pick_ori="vector",
        return_residual=True, **kw,
    )
    assert isinstance(stc, mne.VectorSourceEstimate)
    assert stc.data.shape[1] == 3 and stc.times[0] == pytest.approx(0.0)
    assert stc.times[-1] == pytest.approx(0.2)
    res = stc.vae_result
    assert res.n_orient == 3
    # residual = data - prediction: its whitened power matches the reported
    # explained variance
    lf, M = res.info["lead_field"], res.info["M"]
    R = lf.whiten(residual)
    ev = 1 - np.sum(R**2) / np.sum(M**2)
    assert ev == pytest.approx(res.info["explained_variance"], rel=1e-6)
    # the norm estimate is the norm of the vector estimate
    stc_n = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, **kw)
    np.testing.assert_allclose(stc_n.data, np.linalg.norm(stc.data, axis=1), rtol=1e-6)
    dips = apply_vae_inverse(
        sim.evoked, sim.forward, sim.noise_cov, return_as_dipoles=True, **kw
    )
    assert len(dips) == len(stc.vertices[0]) + len(stc.vertices[1])
    assert all(isinstance(d, mne.Dipole) and d.vae_result is dips[0].vae_result
               for d in dips)
    # the strongest dipole is within 12 mm of a true source
    best = max(dips, key=lambda d: np.linalg.norm(d.amplitude))
    d_mm = 1e3 * np.min(np.linalg.norm(sim.positions - best.pos[0], axis=1))
    assert d_mm < 12.0


def test_empty_estimate(sim):
    with pytest.warns(UserWarning, match="No active source"):
        stc, residual = apply_vae_inverse(
            sim.evoked, sim.forward, sim.noise_cov, gamma=1e8, loose=0.0,
            return_residual=True,
        )
    assert stc.data.shape == (0, len(sim.evoked.times))
    np.testing.assert_allclose(residual.data, sim.evoked.data)


def test_warnings_point_at_the_users_line(sim):
    """utils.warn names the caller's line whatever the depth: a warning of
    apply_vae_inverse itself and one from the Newton engine, several calls
    below it (full_vae, the restarts loop, the engine), both name this file
    (and this test's lines)."""
    import inspect

    from vaesource.utils import ConvergenceWarning

    first = inspect.currentframe().f_lineno + 2
    with pytest.warns(UserWarning, match="No active source") as record:
        apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, gamma=1e8,
                          loose=0.0)
    with pytest.warns(ConvergenceWarning) as deep:
        apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.0,
                          max_iter=2, min_evidence=None)
    last = inspect.currentframe().f_lineno
    ours = [w for w in record if "No active source" in str(w.message)]
    ours += [w for w in deep if issubclass(w.category, ConvergenceWarning)]
    assert len(ours) >= 2
    for w in ours:
        assert w.filename == __file__, (w.filename, str(w.message))
        assert first <= w.lineno <= last


@pytest.mark.parametrize("model", ["diag", "ae"])
def test_other_models(sim, model):
    stc = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov, loose=0.0,
                            model=model)
    expected = {"diag": "diag_vae", "ae": "autoencoder"}[model]
    assert stc.vae_result.model == expected
    assert stc.data.shape[0] == len(stc.vae_result.active_set)


def test_bad_input(sim):
    ev, fwd, cov = sim.evoked, sim.forward, sim.noise_cov

    def check(match, *args, **kw):
        with pytest.raises(ValueError, match=match):
            apply_vae_inverse(*args, **kw)

    renamed = ev.copy().rename_channels(lambda name: "X" + name)
    check("no channel in common", renamed, fwd, cov)
    cov_short = mne.pick_channels_cov(cov, include=ev.ch_names[5:], ordered=False)
    check("noise covariance lacks 5", ev, fwd, cov_short)
    all_bad = ev.copy()
    all_bad.info["bads"] = list(ev.ch_names)
    check("are marked bad", all_bad, fwd, cov)
    check("contains no sample", ev, fwd, cov, tmin=1.0, tmax=2.0)
    check("contains no sample", ev, fwd, cov, tmin=0.2, tmax=0.1)
    nan = ev.copy()
    nan.data[3, 5] = np.nan
    check(f"NaN or infinite.*{ev.ch_names[3]}", nan, fwd, cov)
    mri = fwd.copy()
    mri["coord_frame"] = FIFF.FIFFV_COORD_MRI
    check("head coordinates", ev, mri, cov)
    check("'model' parameter", ev, fwd, cov, model="champagne")
    check("learn_gamma", ev, fwd, cov, model="diag", learn_gamma=True)
    check("'gamma' parameter", ev, fwd, cov, gamma=0.0)
    check("pick_ori", ev, fwd, cov, pick_ori="normal")
    # a wrong type is a TypeError (MNE's _validate_type convention)
    for args, match in (
        ((ev, fwd, cov["data"]), "'noise_cov' parameter must be an instance of "
                                 "mne.Covariance, got <class 'numpy.ndarray'>"),
        ((ev.data, fwd, cov), "'evoked' parameter must be an instance of mne.Evoked"),
        ((ev, "fwd.fif", cov), "'forward' parameter must be an instance of "
                               "mne.Forward, got <class 'str'> instead"),
    ):
        with pytest.raises(TypeError, match=match):
            apply_vae_inverse(*args)
    with pytest.raises(TypeError, match="'return_residual' parameter must be an "
                                        "instance of bool, got <class 'int'>"):
        apply_vae_inverse(ev, fwd, cov, return_residual=1)
    with pytest.raises(TypeError, match="'max_iter' parameter must be an instance "
                                        "of int, got <class 'bool'>"):
        apply_vae_inverse(ev, fwd, cov, max_iter=True)
    with pytest.raises(TypeError, match="'gamma' parameter must be an instance "
                                        "of numeric, got <class 'str'>"):
        apply_vae_inverse(ev, fwd, cov, gamma="1")


@pytest.mark.slow
def test_same_solution_as_gamma_map(sim):
    # gamma_map whitens with the single-trial covariance, so alpha = 1 / nave
    # is the problem of gamma = 1; both minimise cost (18) by MacKay updates
    from threadpoolctl import threadpool_limits

    # 102 magnetometers and the sources within 40 mm of the true ones keep
    # gamma_map (thousands of SVDs at its default tolerance) quick
    ev = sim.evoked.copy().pick("mag")
    fwd = sim.forward
    rr = fwd["source_rr"]
    near = np.min(np.linalg.norm(rr[:, None] - sim.positions[None], axis=-1), 1) < 0.04
    n_lh = len(fwd["src"][0]["vertno"])
    verts = [fwd["src"][0]["vertno"][near[:n_lh]], fwd["src"][1]["vertno"][near[n_lh:]]]
    dummy = mne.SourceEstimate(np.zeros((near.sum(), 1)), verts, 0, 1)
    fwd = mne.forward.restrict_forward_to_stc(fwd, dummy, on_missing="ignore")
    # cost (18) is flat near its minimum: a 1e-8 relative change can leave
    # amplitudes ~2 % from the optimum, gamma_map's weight rule ~0.1 %
    stc = apply_vae_inverse(ev, fwd, sim.noise_cov, loose=0.0, tol=1e-10,
                            min_evidence=None)  # the optimum itself
    with threadpool_limits(1, user_api="blas"):
        ref = mne.inverse_sparse.gamma_map(
            ev, fwd, sim.noise_cov, alpha=1.0 / ev.nave, loose=0.0, verbose=False,
        )
    amp = np.linalg.norm(stc.data, axis=1)
    amp_ref = np.linalg.norm(ref.data, axis=1)
    big = np.concatenate(stc.vertices)[amp > 0.05 * amp.max()]
    big_ref = np.concatenate(ref.vertices)[amp_ref > 0.05 * amp_ref.max()]
    np.testing.assert_array_equal(np.sort(big), np.sort(big_ref))
    # same amplitudes up to the two stopping rules (gamma_map stops on a
    # relative change of its weights of 1e-6, ours on cost changes of 1e-8)
    np.testing.assert_allclose(
        np.sort(amp[amp > 0.05 * amp.max()]),
        np.sort(amp_ref[amp_ref > 0.05 * amp_ref.max()]),
        rtol=0.05,
    )
    np.testing.assert_allclose(
        np.sort(amp[amp > 0.2 * amp.max()]),
        np.sort(amp_ref[amp_ref > 0.2 * amp_ref.max()]),
        rtol=0.01,
    )


def test_cortical_simulation(heads, sim):
    coarse, fine = heads
    # sources are off the inversion grid, at fine-grid vertices, well apart
    for hemi in (0, 1):
        v = sim.stc.vertices[hemi]
        assert np.all(np.isin(v, fine.vertices[hemi]))
        assert not np.any(np.isin(v, coarse.vertices[hemi]))
    assert np.linalg.norm(sim.positions[0] - sim.positions[1]) >= 0.03
    assert sim.forward is coarse.fwd and sim.evoked.nave == 4
    # achieved SNR: whitened signal power over noise power on the active
    # samples, with the average's noise (cov / nave)
    clean = mne.apply_forward(
        mne.convert_forward_solution(fine.fwd, surf_ori=True, force_fixed=True,
                                     verbose=False),
        sim.stc, sim.evoked.info, verbose=False,
    )
    W, _, rank = mne.cov.compute_whitener(
        scale_noise_cov(sim.noise_cov, 4), sim.evoked.info, return_rank=True,
        verbose=False,
    )
    p = np.sum((W @ clean.data) ** 2, axis=0)
    on = p >= 0.1 * p.max()
    assert p[on].sum() / (rank * on.sum()) == pytest.approx(10.0, rel=1e-6)
    # the noise has the covariance of the average: whitened variance ~ 1
    noise = W @ (sim.evoked.data - clean.data)
    assert np.mean(noise**2) * W.shape[0] / rank == pytest.approx(1.0, rel=0.1)
    # reproducible
    again = cortical_evoked(fine, 2, snr=10.0, seed=3, inverse_template=coarse,
                            nave=4, sfreq=100.0)
    np.testing.assert_array_equal(again.evoked.data, sim.evoked.data)
    with pytest.raises(ValueError, match="same sensors"):
        eeg = dataclasses.replace(coarse, info=mne.create_info(["EEG 001"], 100.0, "eeg"))
        cortical_evoked(fine, 1, inverse_template=eeg)

"""The prepared operator (issue 19): lean preparation, conditions, epochs.

Checked against independent references: MNE's own preparation of the sparse
solvers' gain (``mxne_inverse._prepare_gain``), the array kernel on MNE's
arrays, cost (18) of the stacked data (conditions of equal ``nave`` and
epochs share one Sigma, so their joint estimate is the estimate of the
concatenated data) and the stationarity of the joint cost with unequal
``nave`` (dense numpy).
"""

from __future__ import annotations

import pickle
import warnings

import mne
import numpy as np
import pytest
from numpy.testing import assert_allclose

from vaesource import (
    VAEOperator,
    apply_vae_inverse,
    apply_vae_operator,
    apply_vae_operator_epochs,
    make_vae_operator,
)
from vaesource.simulation import cortical_evoked
from vaesource.solvers import full_vae
from vaesource.utils import ConvergenceWarning, scale_noise_cov

requires_testing_data = pytest.mark.usefixtures("testing_data")


def _mne_gain(fwd, info, cov, loose, depth=0.8):
    """MNE's sparse-solver preparation (what gamma_map and mixed_norm use)."""
    from mne.inverse_sparse.mxne_inverse import _prepare_gain

    from vaesource.utils import _blas_single_thread

    # one BLAS thread, as the operator is made: LAPACK's eigenvectors (and
    # so a whitener's ill-conditioned directions) depend on the threading
    with mne.utils.use_log_level("error"), _blas_single_thread():
        _, G, gain_info, whitener, sw, _ = _prepare_gain(
            fwd, info, cov, pca=False, depth=depth, loose=loose, rank=None)
    return G, gain_info, whitener, sw


def _assert_same_preparation(op, fwd, info, cov, loose, nave=1):
    """Whitener, gain and source weighting of ``op`` for an average of
    ``nave`` trials against MNE's preparation of ``cov / nave``.

    With ``nave == 1`` (what the operator holds) they are equal to 1e-10.
    For ``nave > 1`` the operator scales its whitener by ``sqrt(nave)``
    (exact) where MNE decomposes ``cov / nave`` again: on an ill-conditioned
    covariance (SSP, rank deficiency) the whitener is determined only to the
    rounding of its smallest eigenvalues, and MNE's own two preparations
    (``cov`` and ``cov / nave``) differ by as much; the operator is checked
    against both, to MNE's own spread.
    """
    G, gain_info, whitener, sw = _mne_gain(fwd, info, scale_noise_cov(cov, nave),
                                           loose)
    lf = op.lead_field_for(nave)
    assert lf.ch_names == gain_info["ch_names"]
    if nave == 1:
        for mine, ref in ((lf.G, G), (lf.whitener, whitener),
                          (lf.source_weighting, sw)):
            assert mine.shape == ref.shape
            assert_allclose(mine, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
        return
    G1, _, whitener1, sw1 = _mne_gain(fwd, info, cov, loose)
    s = np.sqrt(nave)
    # the scaling law, exact against MNE's single-trial preparation
    assert_allclose(lf.whitener, s * whitener1, rtol=1e-12, atol=0)
    assert_allclose(lf.source_weighting, sw1 / s, rtol=1e-12, atol=0)
    assert lf.G is op.lead_field.G
    # against MNE's preparation of cov / nave: within MNE's own spread
    for mine, ref, ref1 in ((lf.G, G, G1), (lf.whitener, whitener, s * whitener1),
                            (lf.source_weighting, sw, sw1 / s)):
        spread = np.linalg.norm(ref - ref1) / np.linalg.norm(ref)
        diff = np.linalg.norm(mine - ref) / np.linalg.norm(ref)
        assert diff <= max(1e-10, 2 * spread), (diff, spread)


@pytest.fixture(scope="module")
def sim(heads):
    coarse, fine = heads
    return cortical_evoked(fine, 2, snr=10.0, seed=11, inverse_template=coarse,
                           nave=4, sfreq=100.0)


@pytest.fixture(scope="module")
def op(sim):
    return make_vae_operator(sim.evoked.info, sim.forward, sim.noise_cov,
                             loose=0.2)


# ------------------------------------------------------------ preparation ---
@requires_testing_data
@pytest.mark.parametrize("cov_name", ["test-cov.fif", "sample_audvis_trunc-cov.fif"])
def test_preparation_equals_mne_meg_eeg_ssp(testing_data, cov_name):
    """MEG + EEG, SSP projectors (rank-deficient covariance), a bad channel,
    free and fixed orientation: MNE's whitener and gain to 1e-10."""
    evoked = mne.read_evokeds(testing_data / "test-ave.fif.gz",
                              condition="Left Auditory", verbose=False)
    evoked.info["bads"] = ["MEG 2443", "EEG 053"]
    cov = mne.read_cov(testing_data / cov_name, verbose=False)
    assert any(p["active"] for p in evoked.info["projs"])
    rng = np.random.default_rng(0)
    rr = rng.normal(size=(30, 3))
    rr *= rng.uniform(0.01, 0.06, (30, 1)) / np.linalg.norm(rr, axis=1, keepdims=True)
    nn = rng.normal(size=(30, 3))
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    src = mne.setup_volume_source_space(
        pos=dict(rr=rr + [0, 0, 0.04], nn=nn), verbose=False)
    sphere = mne.make_sphere_model("auto", "auto", evoked.info, verbose=False)
    fwd = mne.make_forward_solution(evoked.info, None, src, sphere, meg=True,
                                    eeg=True, verbose=False)
    op = make_vae_operator(evoked.info, fwd, cov, loose=1.0)
    types = {mne.channel_type(op.lead_field.info, i)
             for i in range(op.lead_field.n_channels)}
    assert types == {"mag", "grad", "eeg"}
    assert op.lead_field.rank < op.lead_field.n_channels  # SSP: deficient
    _assert_same_preparation(op, fwd, evoked.info, cov, 1.0)
    _assert_same_preparation(op, fwd, evoked.info, cov, 1.0, nave=evoked.nave)


def test_preparation_equals_mne_template(sim, op):
    """The template head: loose, fixed; the average of nave trials."""
    fwd, info, cov = sim.forward, sim.evoked.info, sim.noise_cov
    _assert_same_preparation(op, fwd, info, cov, 0.2)
    _assert_same_preparation(op, fwd, info, cov, 0.2, nave=sim.evoked.nave)
    fixed = make_vae_operator(info, fwd, cov, loose=0.0)
    assert fixed.n_orient == 1
    _assert_same_preparation(fixed, fwd, info, cov, 0.0, nave=3)


def test_preparation_rank_deficient_covariance(sim):
    """A covariance of rank 250 on 306 channels (no projector says so)."""
    info = sim.evoked.info
    rng = np.random.default_rng(1)
    A = rng.normal(size=(len(info.ch_names), 250))
    scale = np.where([mne.channel_type(info, i) == "mag"
                      for i in range(len(info.ch_names))], 1e-13, 1e-11)
    data = (A * scale[:, None]) @ (A * scale[:, None]).T
    cov = mne.Covariance(data, info.ch_names, [], [], 1000, verbose=False)
    op = make_vae_operator(info, sim.forward, cov, loose=0.2)
    assert op.lead_field.rank == 250
    _assert_same_preparation(op, sim.forward, info, cov, 0.2)


def test_operator_estimate_equals_mne_arrays(sim, op):
    """The estimate equals the array kernel run on MNE's prepared arrays."""
    ev = sim.evoked
    G, _, whitener, sw = _mne_gain(sim.forward, ev.info,
                                   scale_noise_cov(sim.noise_cov, ev.nave), 0.2)
    res = full_vae(whitener @ ev.data, G, n_orient=3, min_evidence="auto")
    stc = apply_vae_operator(ev, op)
    cols = res.active_set
    X = (sw[cols, None] * res.X[cols]).reshape(-1, 3, ev.data.shape[1])
    # norms over the orientations (a vector estimate is in head coordinates)
    X = np.linalg.norm(X, axis=1)
    assert_allclose(stc.data, X, rtol=1e-8, atol=1e-8 * np.abs(X).max())
    # and apply_vae_inverse is make + apply: the same to 1e-10
    ref = apply_vae_inverse(ev, sim.forward, sim.noise_cov, loose=0.2)
    assert [list(v) for v in ref.vertices] == [list(v) for v in stc.vertices]
    assert_allclose(stc.data, ref.data, rtol=1e-10, atol=0)


def test_operator_pickles_and_reads(op, sim):
    again = pickle.loads(pickle.dumps(op))
    assert isinstance(again, VAEOperator)
    a = apply_vae_operator(sim.evoked, op)
    b = apply_vae_operator(sim.evoked, again)
    assert_allclose(a.data, b.data, rtol=0, atol=0)
    text = repr(op)
    assert "VAEOperator" in text and "306 channels" in text
    assert "1284 surface locations x 3" in text and "loose=0.2" in text


# ----------------------------------------------------------------- errors ---
def test_bad_input_clear_errors(sim, op):
    ev = sim.evoked
    with pytest.raises(ValueError, match="list of evoked responses is empty"):
        apply_vae_operator([], op)
    with pytest.raises(TypeError, match="operator"):
        apply_vae_operator(ev, sim.forward)
    # an operator made for other channels
    fewer = ev.copy().pick(ev.ch_names[10:])
    with pytest.raises(ValueError, match="made for other channels"):
        apply_vae_operator(fewer, op)
    bad = ev.copy()
    bad.info["bads"] = [ev.ch_names[3]]
    with pytest.raises(ValueError, match="marks 1 channel.*bad"):
        apply_vae_operator(bad, op)
    # other projectors
    proj = mne.Projection(
        data=dict(nrow=1, ncol=3, row_names=None, col_names=ev.ch_names[:3],
                  data=np.ones((1, 3)) / np.sqrt(3)),
        desc="extra-ssp", kind=1, active=False, explained_var=None)
    other = ev.copy().add_proj([proj])
    with pytest.raises(ValueError, match="projectors differ.*extra-ssp"):
        apply_vae_operator(other, op)
    # conditions: sampling rate, channels
    slow = ev.copy().resample(50.0)
    with pytest.raises(ValueError, match="share a sampling rate"):
        apply_vae_operator([ev, slow], op)
    with pytest.raises(ValueError, match="same channels"):
        apply_vae_operator([ev, fewer], op)
    with pytest.raises(ValueError, match="contains no sample"):
        apply_vae_operator([ev, ev], op, tmin=5.0)
    with pytest.raises(ValueError, match="needs model='full'"):
        apply_vae_operator([ev, ev], op, model="diag")
    # epochs with every epoch dropped
    data = np.stack([ev.data, ev.data])
    epochs = mne.EpochsArray(data, ev.info, tmin=ev.times[0], verbose=False)
    epochs.drop([0, 1], verbose=False)
    with pytest.raises(ValueError, match="Every epoch was dropped"):
        apply_vae_operator_epochs(epochs, op)


# ------------------------------------------------------------- conditions ---
def _split(ev, n_parts):
    """Conditions cut from one response (same nave), in time order."""
    cuts = np.array_split(np.arange(len(ev.times)), n_parts)
    return [mne.EvokedArray(ev.data[:, c], ev.info, tmin=ev.times[c[0]],
                            nave=ev.nave, comment=f"part{k}", verbose=False)
            for k, c in enumerate(cuts)]


def test_conditions_equal_nave_are_the_concatenation(sim, op):
    """Equal nave: one Sigma, the joint cost is cost (18) of the stacked
    data, so the joint estimate is the concatenated response's estimate."""
    ev = sim.evoked
    parts = _split(ev, 3)
    stcs = apply_vae_operator(parts, op, pick_ori="vector")
    whole = apply_vae_operator(ev, op, pick_ori="vector")
    assert len(stcs) == 3
    start = 0
    for part, stc in zip(parts, stcs):
        assert [list(v) for v in stc.vertices] == [list(v) for v in whole.vertices]
        n = len(part.times)
        assert_allclose(stc.data, whole.data[..., start:start + n], rtol=1e-5,
                        atol=1e-6 * np.abs(whole.data).max())
        assert stc.tmin == pytest.approx(part.times[0])
        start += n
    # joint evidence (the same table in every condition), own amplitudes
    ev0 = stcs[0].vae_sources.evidence
    for stc in stcs[1:]:
        assert_allclose(stc.vae_sources.evidence, ev0)
    assert_allclose(ev0, whole.vae_sources.evidence, rtol=1e-4)
    amps = [stc.vae_sources.amplitude for stc in stcs]
    assert not np.allclose(amps[0], amps[1], rtol=1e-2, atol=0)
    # apply_vae_inverse takes the list too
    again = apply_vae_inverse(parts, sim.forward, sim.noise_cov, loose=0.2,
                              pick_ori="vector")
    for a, b in zip(again, stcs):
        assert_allclose(a.data, b.data, rtol=1e-10, atol=0)


def test_conditions_unequal_nave_joint_stationary(sim, op):
    """Unequal nave: the returned weights are a stationary point of the joint
    cost sum_c tr(M_c^T S_c^-1 M_c) + n_c log|S_c|, S_c = G W G^T + I / nave_c
    (single-trial whitening), checked with dense numpy."""
    parts = _split(sim.evoked, 2)
    parts[1].nave = 1  # condition 1: one trial; condition 0: four
    stcs = apply_vae_operator(parts, op, min_evidence=None)
    joint = stcs[0].vae_result.info["joint"]
    lf = op.lead_field
    w = joint.weights
    G = lf.G
    rho_num = np.zeros(lf.n_sources)
    rho_den = np.zeros(lf.n_sources)
    nave_ref = max(p.nave for p in parts)
    for part in parts:
        M = np.sqrt(nave_ref) * lf.whitener @ part.data[
            [part.ch_names.index(c) for c in lf.ch_names]]
        S = (G * w) @ G.T + (nave_ref / part.nave) * np.eye(G.shape[0])
        SG = np.linalg.solve(S, G)
        B = SG.T @ M
        rho_num += np.sum(B**2, axis=1).reshape(-1, 3).sum(1)
        rho_den += M.shape[1] * np.sum(G * SG, axis=0).reshape(-1, 3).sum(1)
        # each condition's estimate is its own posterior mean
        stc_res = stcs[parts.index(part)].vae_result
        X = w[:, None] * B
        assert_allclose(stc_res.X, X, atol=1e-8 * np.abs(X).max())
    rho = rho_num / rho_den
    active = w.reshape(-1, 3)[:, 0] > 0
    assert active.sum() >= 2
    assert np.all(rho[~active] <= 1 + 1e-5)
    assert_allclose(rho[active], 1.0, atol=1e-5)
    # the stcs share their vertices
    assert [list(v) for v in stcs[0].vertices] == [list(v) for v in stcs[1].vertices]


# ----------------------------------------------------------------- epochs ---
def _epochs(sim, n_epochs=12, seed=0):
    """Single trials: the simulated response plus single-trial noise."""
    ev = sim.evoked
    rng = np.random.default_rng(seed)
    C = sim.noise_cov.data
    lam, V = np.linalg.eigh(np.diag(C) if C.ndim == 1 else C)
    L = V * np.sqrt(np.maximum(lam, 0.0))
    noise = L @ rng.normal(size=(n_epochs, len(ev.ch_names), len(ev.times)))
    return mne.EpochsArray(ev.data[None] + noise, ev.info, tmin=ev.times[0],
                           verbose=False)


def test_epochs_shared_support_is_the_concatenation(sim, op):
    """All epochs share one Sigma (nave 1 each): the shared estimate is the
    estimate of the concatenated single trials, solved through their summed
    outer product."""
    epochs = _epochs(sim)
    stcs = apply_vae_operator_epochs(epochs, op, pick_ori="vector")
    assert len(stcs) == len(epochs)
    data = epochs.get_data()
    cat = mne.EvokedArray(np.concatenate(list(data), axis=1), epochs.info,
                          tmin=0.0, nave=1, verbose=False)
    whole = apply_vae_operator(cat, op, pick_ori="vector")
    n = data.shape[2]
    for k, stc in enumerate(stcs):
        assert [list(v) for v in stc.vertices] == [list(v) for v in whole.vertices]
        assert_allclose(stc.data, whole.data[..., k * n:(k + 1) * n], rtol=1e-5,
                        atol=1e-6 * np.abs(whole.data).max())
    res = stcs[0].vae_result
    assert res.info["n_times"] == data.shape[0] * n
    assert res.X.shape[1] <= len(epochs.ch_names)  # a thin factor, not the data
    assert_allclose(stcs[0].vae_sources.evidence, whole.vae_sources.evidence,
                    rtol=1e-4)
    # a generator, made as consumed
    gen = apply_vae_operator_epochs(epochs, op, return_generator=True)
    assert not isinstance(gen, list)
    first = next(iter(gen))
    assert_allclose(first.data, np.linalg.norm(stcs[0].data, axis=1), rtol=1e-10)


def test_epochs_one_solve_per_epoch(sim, op):
    epochs = _epochs(sim, n_epochs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stcs = apply_vae_operator_epochs(epochs, op, shared_support=False,
                                         n_jobs=1)
        for k, stc in enumerate(stcs):
            ev = mne.EvokedArray(epochs.get_data()[k], epochs.info,
                                 tmin=epochs.times[0], nave=1, verbose=False)
            ref = apply_vae_operator(ev, op)
            assert [list(v) for v in stc.vertices] == [list(v) for v in ref.vertices]
            assert_allclose(stc.data, ref.data, rtol=1e-10, atol=0)

"""The targets of issue 19: prepared operator, shared support, epochs.

Everything runs in one process, on the template head (306 MEG channels,
ad-hoc diagonal noise), with sources simulated on the ico4 cortex and
inverted on ico3 with loose orientation 0.2 and depth 0.8 (3852 columns):
the sources are never columns of the inversion gain. Every figure is
measured in the same run as the peers it is compared with.

1. Default call. ``vaesource.apply_vae_inverse(evoked, fwd, cov,
   loose=0.2)`` as users make it (evidence selection on) against
   :func:`mne.inverse_sparse.gamma_map` at its defaults (``alpha=1`` on the
   ``nave``-scaled covariance) and :func:`mne.inverse_sparse.mixed_norm`
   (alpha by :func:`vaesource.compare.mxne_noise_alpha`, as
   :func:`vaesource.benchmark.speed.compare_on` sets it), on the simulated
   responses of :func:`vaesource.benchmark.speed.cortical_problems` (1, 2,
   3, 5 sources in turn, SNR 3): median wall times and median ratios, and
   vaesource's time outside the solver (call time minus
   ``stc.vae_result.info["seconds"]``) as a fraction of the solver time.
2. Prepared operator. ``apply_vae_operator(evoked, op)`` on the same
   responses, the operator made once beforehand (its time is printed).
3. Shared support. Three conditions with the same 2 or 3 sources (same
   positions and orientations, each condition its own ERP-like time courses
   and noise draw), SNR 1 per condition: (a) the joint estimate
   ``apply_vae_operator([ev1, ev2, ev3], op)``, (b) each condition alone,
   (c) MxNE's list mode (one support for the stacked data, alpha by the
   same noise rule on the stacked data). Recall, precision (within 15 mm),
   earth mover's distance and localization error, scored per condition
   against the true sources as :mod:`vaesource.benchmark.cortical` scores
   an estimate. Twice: equal ``nave`` (60 each), and unequal (40 / 60 /
   80 trials, the amplitudes set for SNR 1 at 60 trials, so the conditions
   have SNR 0.67 / 1 / 1.33), which exercises the joint cost with one noise
   level per condition.
4. Epochs. 200 single trials x 306 channels x 60 samples (2 sources; the
   average has SNR 3) in an :class:`mne.EpochsArray`:
   ``apply_vae_operator_epochs(epochs, op)`` (one shared support) against
   one evoked solve ``apply_vae_operator(epochs.average(), op)``, its peak
   memory (tracemalloc peak during the call, a separate untimed run)
   against the epochs' data size plus 3 times the gain, and, for reference,
   ``shared_support=False`` (one solve per epoch) on a few epochs.

A summary table of the targets ends the output.

Run::

    python benchmarks/bench_study.py            # full run (about 10 min)
    python benchmarks/bench_study.py --quick    # smoke run (about 1 min)
    python benchmarks/bench_study.py --n-speed 10 --n-shared 30 \
        --n-epochs 200 --blas-threads 1

``--blas-threads 1`` (default) runs every method with one BLAS thread
(vaesource's solvers always do; on a small shared machine threaded BLAS
mostly adds noise to MNE's timings); ``--blas-threads all`` leaves MNE the
machine's default.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings
from contextlib import contextmanager

import numpy as np

LOOSE, DEPTH = 0.2, 0.8
TOL_MM = 15.0  # vaesource.simulation.CorticalSettings.tol_mm (ico3 grid ~10 mm)
SFREQ_SHARED, SFREQ_EPOCHS = 100.0, 200.0
TMIN = -0.05


@contextmanager
def _quiet():
    """No warnings (MNE's current-magnitude, convergence) in the timings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _med(values):
    values = np.asarray(values, float)
    return float(np.nanmedian(values)) if np.any(np.isfinite(values)) else np.nan


def _mxne_alpha(evokeds, fwd, cov_avg):
    """MxNE's alpha as ``compare_on`` sets it, on the stacked whitened data."""
    from vaesource.compare import mxne_noise_alpha
    from vaesource.forward import leadfield_from_forward

    lf = leadfield_from_forward(fwd, evokeds[0], cov_avg, loose=LOOSE,
                                depth=DEPTH, pca=True, verbose=False)
    M = np.hstack([lf.whiten(ev) for ev in evokeds])
    return mxne_noise_alpha(M, lf.G, lf.n_orient)


# ------------------------------------------------------- 1 and 2: speed ---
def speed(n_problems, seed=0):
    """Default call, prepared operator, gamma-MAP and MxNE on the same data."""
    import mne

    from vaesource import apply_vae_inverse, apply_vae_operator, make_vae_operator
    from vaesource.benchmark.speed import _timed, cortical_problems
    from vaesource.utils import scale_noise_cov

    print(f"\n1-2. Speed: {n_problems} simulated responses (1/2/3/5 sources, "
          f"SNR 3, ico4 -> ico3, loose {LOOSE}, 31 samples)")
    sims = cortical_problems(n_problems, "ico3", snr=3.0, seed=seed)
    first = sims[0]
    with _quiet():  # warm-up (imports, caches), untimed
        apply_vae_inverse(first.evoked, first.forward, first.noise_cov,
                          loose=LOOSE, verbose=False)
        op, t_make = _timed(lambda: make_vae_operator(
            first.evoked.info, first.forward, first.noise_cov, loose=LOOSE,
            depth=DEPTH, verbose=False))
    print(f"  operator made once in {1e3 * t_make:.0f} ms: {op!r}")
    rows = []
    for t, sim in enumerate(sims):
        ev, fwd, cov = sim.evoked, sim.forward, sim.noise_cov
        cov_avg = scale_noise_cov(cov, ev.nave)
        with _quiet():
            stc, t_call = _timed(lambda: apply_vae_inverse(
                ev, fwd, cov, loose=LOOSE, verbose=False))
            t_solver = stc.vae_result.info["seconds"]
            stc_op, t_op = _timed(lambda: apply_vae_operator(ev, op, verbose=False))
            _, t_gm = _timed(lambda: mne.inverse_sparse.gamma_map(
                ev, fwd, cov_avg, alpha=1.0, loose=LOOSE, depth=DEPTH,
                verbose=False))
            alpha = _mxne_alpha([ev], fwd, cov_avg)
            _, t_mx = _timed(lambda: mne.inverse_sparse.mixed_norm(
                ev, fwd, cov_avg, alpha=alpha, loose=LOOSE, depth=DEPTH,
                verbose=False))
        n_act = sum(len(v) for v in stc.vertices)
        same = (sum(len(v) for v in stc_op.vertices) == n_act
                and np.allclose(stc_op.data, stc.data, rtol=1e-6, atol=0))
        row = dict(call=t_call, solver=t_solver, outside=t_call - t_solver,
                   op=t_op, op_solver=stc_op.vae_result.info["seconds"],
                   gamma_map=t_gm, mxne=t_mx, same=same)
        rows.append(row)
        print(f"  #{t} ({sim.n_sources} src): apply_vae_inverse "
              f"{1e3 * t_call:6.0f} ms (solver {1e3 * t_solver:5.0f}, outside "
              f"{1e3 * row['outside']:4.0f} = {100 * row['outside'] / t_solver:3.0f} %"
              f", {n_act} active) | apply_vae_operator {1e3 * t_op:6.0f} ms"
              f"{'' if same else ' (estimate differs!)'} | gamma_map "
              f"{1e3 * t_gm:6.0f} ms | mixed_norm {1e3 * t_mx:6.0f} ms "
              f"(alpha {alpha:.1f})")
    col = {k: np.array([r[k] for r in rows], float) for k in rows[0]}
    res = dict(
        call=_med(col["call"]), op=_med(col["op"]),
        gamma_map=_med(col["gamma_map"]), mxne=_med(col["mxne"]),
        outside_frac=_med(col["outside"] / col["solver"]),
        op_outside_frac=_med((col["op"] - col["op_solver"]) / col["op_solver"]),
        gm_over_call=_med(col["gamma_map"] / col["call"]),
        mx_over_call=_med(col["mxne"] / col["call"]),
        gm_over_op=_med(col["gamma_map"] / col["op"]),
        mx_over_op=_med(col["mxne"] / col["op"]),
        make=t_make, all_same=bool(col["same"].all()),
    )
    print(f"  medians: apply_vae_inverse {1e3 * res['call']:.0f} ms, "
          f"apply_vae_operator {1e3 * res['op']:.0f} ms, gamma_map "
          f"{1e3 * res['gamma_map']:.0f} ms, mixed_norm {1e3 * res['mxne']:.0f} ms")
    print(f"  median ratios: gamma_map / apply_vae_inverse "
          f"{res['gm_over_call']:.1f}x, mixed_norm / apply_vae_inverse "
          f"{res['mx_over_call']:.1f}x; gamma_map / apply_vae_operator "
          f"{res['gm_over_op']:.1f}x, mixed_norm / apply_vae_operator "
          f"{res['mx_over_op']:.1f}x")
    print(f"  time outside the solver / solver time (median): "
          f"apply_vae_inverse {100 * res['outside_frac']:.0f} %, "
          f"apply_vae_operator {100 * res['op_outside_frac']:.0f} %; "
          f"operator estimates equal to apply_vae_inverse's: {res['all_same']}")
    return res


# ------------------------------------------------- 3: shared support ---
class _Heads:
    """The simulation and inversion heads and what every draw shares."""

    def __init__(self, sfreq):
        import mne

        from vaesource.forward.template import template

        self.fine, self.coarse = template("ico4"), template("ico3")
        from vaesource import _mne_compat

        self.info = self.fine.info.copy()
        with _mne_compat.unlocked(self.info):
            self.info["sfreq"] = float(sfreq)
            self.info["lowpass"] = min(self.info["lowpass"], sfreq / 2.0)
        self.noise_cov = mne.make_ad_hoc_cov(self.info, verbose=False)
        self.fwd_fixed = mne.convert_forward_solution(
            self.fine.fwd, surf_ori=True, force_fixed=True, use_cps=True,
            verbose=False)
        self.forward = self.coarse.fwd
        self._whiteners = {}

    def whitener(self, nave):
        """Whitener of the noise of an average of ``nave`` trials, its rank."""
        import mne

        from vaesource.utils import scale_noise_cov

        if nave not in self._whiteners:
            W, _, rank = mne.cov.compute_whitener(
                scale_noise_cov(self.noise_cov, nave), self.info,
                return_rank=True, verbose=False)
            self._whiteners[nave] = (W, rank)
        return self._whiteners[nave]

    def sources(self, n_sources, rng):
        """Positions off the inversion grid; returns (vertices, positions)."""
        from vaesource.simulation.cortical import _pick_vertices

        chosen = _pick_vertices(self.fine, self.coarse, n_sources, 0.03, rng)
        order = sorted(chosen, key=lambda c: (c[0], c[1]))  # stc row order
        vertices = [np.array([c[1] for c in order if c[0] == h], int)
                    for h in (0, 1)]
        positions = self.fwd_fixed["source_rr"][[c[2] for c in order]]
        return vertices, positions

    def response(self, vertices, times, snr, snr_nave, rng):
        """Sources with new ERP-like time courses, scaled to ``snr``.

        The SNR is :func:`vaesource.simulation.cortical_evoked`'s: whitened
        signal power over noise power on the samples where the signal
        exceeds 10 % of its peak, for the noise of ``snr_nave`` trials.
        """
        import mne

        from vaesource.simulation.cortical import _waveforms

        n = sum(len(v) for v in vertices)
        stc = mne.SourceEstimate(1e-8 * _waveforms(times, n, rng), vertices,
                                 tmin=times[0], tstep=times[1] - times[0],
                                 subject="fsaverage")
        clean = mne.apply_forward(self.fwd_fixed, stc, self.info, use_cps=True,
                                  verbose=False)
        W, rank = self.whitener(snr_nave)
        power = np.sum((W @ clean.data) ** 2, axis=0)
        active = power >= 0.1 * power.max()
        scale = np.sqrt(snr * rank * active.sum() / power[active].sum())
        return stc * scale, clean.data * scale


def simulate_conditions(heads, n_sources, naves, *, snr=1.0, snr_nave=None,
                        seed=0, tmax=0.25):
    """Conditions sharing their sources, each with its own time courses.

    Returns ``(evokeds, positions, amplitudes)``: one evoked per ``nave``
    (noise of ``noise_cov / nave`` drawn by
    :func:`mne.simulation.simulate_evoked`), the true positions and, per
    condition, the norm of each true time course.
    """
    from vaesource import _mne_compat

    rng = np.random.default_rng(seed)
    snr_nave = int(np.median(naves)) if snr_nave is None else snr_nave
    times = TMIN + np.arange(int(round((tmax - TMIN) * heads.info["sfreq"])) + 1) \
        / heads.info["sfreq"]
    vertices, positions = heads.sources(n_sources, rng)
    evokeds, amplitudes = [], []
    for c, nave in enumerate(naves):
        stc, _ = heads.response(vertices, times, snr, snr_nave, rng)
        ev = _mne_compat.simulate_evoked(
            heads.fwd_fixed, stc, heads.info, heads.noise_cov, nave=nave,
            rng=np.random.default_rng(rng.integers(2**63 - 1)))
        ev.comment = f"condition {c + 1}"
        evokeds.append(ev)
        amplitudes.append(np.linalg.norm(stc.data, axis=1))
    return evokeds, positions, amplitudes


def _score(stc, forward, positions, amplitudes):
    from vaesource.metrics import emd, localization_error, precision_recall, stc_sources

    pos, amp = stc_sources(stc, forward)
    prec, rec = precision_recall(positions, pos, amp, tol_mm=TOL_MM)
    err = localization_error(positions, pos, amp)
    return dict(
        recall=rec, precision=prec, emd=emd(positions, amplitudes, pos, amp),
        loc=float(np.nanmedian(err)) if np.any(np.isfinite(err)) else np.nan,
        empty=int(len(pos) == 0),
    )


METHODS3 = ("joint", "per-condition", "MxNE list")


def shared_support(heads, op, n_problems, naves, seed=100):
    """Joint vs per-condition vs MxNE's list mode on shared sources."""
    import mne

    from vaesource import apply_vae_operator
    from vaesource.utils import scale_noise_cov

    snr_nave = int(np.median(naves))
    print(f"\n3. Shared support: {n_problems} problems x {len(naves)} conditions "
          f"(nave {'/'.join(map(str, naves))}, SNR 1 at {snr_nave} trials), "
          f"2-3 shared sources, ico4 -> ico3, scored per condition "
          f"(tolerance {TOL_MM:g} mm)")
    scores = {m: [] for m in METHODS3}
    seconds = {m: [] for m in METHODS3}
    joint_support = []
    nave_ref = float(np.mean(naves))
    for p in range(n_problems):
        n_sources = 2 + p % 2
        with _quiet():
            evs, positions, amps = simulate_conditions(
                heads, n_sources, naves, snr=1.0, snr_nave=snr_nave,
                seed=seed + p)
            t0 = time.perf_counter()
            joint = apply_vae_operator(evs, op, verbose=False)
            seconds["joint"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            per = [apply_vae_operator(ev, op, verbose=False) for ev in evs]
            seconds["per-condition"].append(time.perf_counter() - t0)
            # MNE whitens every condition with one covariance: that of the
            # mean nave (exact when the naves are equal)
            cov_avg = scale_noise_cov(heads.noise_cov, nave_ref)
            alpha = _mxne_alpha(evs, heads.forward, cov_avg)
            t0 = time.perf_counter()
            mx = mne.inverse_sparse.mixed_norm(
                evs, heads.forward, cov_avg, alpha=alpha, loose=LOOSE,
                depth=DEPTH, verbose=False)
            seconds["MxNE list"].append(time.perf_counter() - t0)
        supports = {tuple(map(tuple, (s.vertices[0], s.vertices[1]))) for s in joint}
        joint_support.append(len(supports) == 1)
        cells = {m: [] for m in METHODS3}
        for c in range(len(evs)):
            for m, est in (("joint", joint[c]), ("per-condition", per[c]),
                           ("MxNE list", mx[c])):
                s = _score(est, heads.forward, positions, amps[c])
                cells[m].append(s)
                scores[m].append(s)
        line = " | ".join(
            f"{m} R {np.mean([s['recall'] for s in cells[m]]):.2f} "
            f"P {np.nanmean([s['precision'] for s in cells[m]] + [np.nan]):.2f} "
            f"EMD {_med([s['emd'] for s in cells[m]]):5.1f}"
            for m in METHODS3)
        print(f"  #{p:2d} ({n_sources} src): {line}")
    return _summarise_shared(scores, seconds, joint_support)


def _summarise_shared(scores, seconds, joint_support):
    out = {}
    n = len(scores["joint"])
    # cells where every method estimated something: the paired EMD
    paired = [k for k in range(n)
              if all(np.isfinite(scores[m][k]["emd"]) for m in METHODS3)]
    print(f"  {n} condition estimates per method; joint estimates with one "
          f"support for all conditions: {sum(joint_support)}/{len(joint_support)}")
    print(f"  {'method':14s} {'recall':>7s} {'precision':>9s} {'EMD med':>8s} "
          f"{'EMD mean':>8s} {'EMD paired':>10s} {'loc err':>8s} {'empty':>6s} "
          f"{'time/problem':>12s}")
    for m in METHODS3:
        s = scores[m]
        r = dict(
            recall=float(np.mean([x["recall"] for x in s])),
            precision=float(np.nanmean([x["precision"] for x in s] + [np.nan])),
            emd=_med([x["emd"] for x in s]),
            emd_mean=float(np.nanmean([x["emd"] for x in s] + [np.nan])),
            emd_paired=_med([s[k]["emd"] for k in paired]),
            loc=_med([x["loc"] for x in s]),
            empty=int(sum(x["empty"] for x in s)),
            seconds=_med(seconds[m]),
        )
        out[m] = r
        print(f"  {m:14s} {r['recall']:7.3f} {r['precision']:9.3f} "
              f"{r['emd']:8.1f} {r['emd_mean']:8.1f} {r['emd_paired']:10.1f} "
              f"{r['loc']:8.1f} {r['empty']:6d} {1e3 * r['seconds']:9.0f} ms")
    j, pc = scores["joint"], scores["per-condition"]
    both = [k for k in range(n) if np.isfinite(j[k]["emd"]) and np.isfinite(pc[k]["emd"])]
    wins = sum(j[k]["emd"] < pc[k]["emd"] - 1e-9 for k in both)
    ties = sum(abs(j[k]["emd"] - pc[k]["emd"]) <= 1e-9 for k in both)
    print(f"  joint vs per-condition EMD, cell by cell: joint lower in {wins}, "
          f"equal in {ties}, higher in {len(both) - wins - ties} of {len(both)} "
          f"(EMD med / mean over each method's non-empty estimates; paired: "
          f"over the {len(paired)} cells all methods estimated)")
    out["one_support"] = all(joint_support)
    return out


# ------------------------------------------------------------- 4: epochs ---
def epochs_bench(heads, n_epochs, n_times=60, n_per_epoch=5, seed=7):
    """Shared-support epochs against one evoked solve; peak memory."""
    import mne

    from vaesource import apply_vae_operator, apply_vae_operator_epochs, make_vae_operator

    print(f"\n4. Epochs: {n_epochs} single trials x {len(heads.info['ch_names'])} "
          f"channels x {n_times} samples ({heads.info['sfreq']:g} Hz), 2 sources "
          f"(the average has SNR 3)")
    rng = np.random.default_rng(seed)
    times = TMIN + np.arange(n_times) / heads.info["sfreq"]
    vertices, positions = heads.sources(2, rng)
    stc, clean = heads.response(vertices, times, 3.0, n_epochs, rng)
    cov = heads.noise_cov
    C = np.diag(cov.data) if cov["diag"] else cov.data
    L = np.linalg.cholesky(C)
    data = clean[None] + np.einsum(
        "ij,ejt->eit", L, rng.standard_normal((n_epochs, len(C), n_times)))
    epochs = mne.EpochsArray(data, heads.info, tmin=TMIN, verbose=False)
    with _quiet():
        op = make_vae_operator(epochs.info, heads.forward, cov, loose=LOOSE,
                               depth=DEPTH, verbose=False)
        avg = epochs.average()
        apply_vae_operator(avg, op, verbose=False)  # warm-up
        t_ep, t_av = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            stcs = apply_vae_operator_epochs(epochs, op, verbose=False)
            t_ep.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            stc_av = apply_vae_operator(epochs.average(), op, verbose=False)
            t_av.append(time.perf_counter() - t0)
        tracemalloc.start()
        apply_vae_operator_epochs(epochs, op, verbose=False)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        few = epochs[:n_per_epoch]
        t0 = time.perf_counter()
        per = apply_vae_operator_epochs(few, op, shared_support=False, verbose=False)
        t_per = (time.perf_counter() - t0) / n_per_epoch
    res_ep = stcs[0].vae_result
    s_ep = _score(stcs[0], heads.forward, positions, np.ones(2))
    s_av = _score(stc_av, heads.forward, positions, np.ones(2))
    s_per = [_score(s, heads.forward, positions, np.ones(2)) for s in per]
    budget = epochs.get_data().nbytes + 3 * op.lead_field.G.nbytes
    res = dict(
        epochs=_med(t_ep), average=_med(t_av), per_epoch=t_per, peak=peak,
        budget=budget, data_bytes=epochs.get_data().nbytes,
        G_bytes=op.lead_field.G.nbytes,
    )
    res["ratio"] = res["epochs"] / res["average"]
    print(f"  apply_vae_operator_epochs (shared support): {1e3 * res['epochs']:.0f} ms "
          f"(median of 3; solver {1e3 * res_ep.info['seconds']:.0f} ms, "
          f"{res_ep.n_iter} it, {sum(len(v) for v in stcs[0].vertices)} active, "
          f"recall {s_ep['recall']:.2f}, precision {s_ep['precision']:.2f}, "
          f"loc err {s_ep['loc']:.1f} mm, {len(stcs)} estimates)")
    print(f"  apply_vae_operator(epochs.average()): {1e3 * res['average']:.0f} ms "
          f"(incl. averaging; {sum(len(v) for v in stc_av.vertices)} active, recall "
          f"{s_av['recall']:.2f}, precision {s_av['precision']:.2f}, loc err "
          f"{s_av['loc']:.1f} mm) -> ratio epochs / average {res['ratio']:.2f}x")
    print(f"  peak memory during the epochs call {peak / 2**20:.1f} MiB vs data "
          f"{res['data_bytes'] / 2**20:.1f} MiB + 3 x G ({res['G_bytes'] / 2**20:.1f}"
          f" MiB) = {budget / 2**20:.1f} MiB: {peak / budget:.2f} of the budget")
    print(f"  shared_support=False on {n_per_epoch} epochs: {1e3 * t_per:.0f} ms per "
          f"epoch ({t_per / res['epochs'] * n_epochs:.0f}x the shared call for all "
          f"{n_epochs}, extrapolated); recall per epoch "
          f"{np.mean([s['recall'] for s in s_per]):.2f}, empty "
          f"{sum(s['empty'] for s in s_per)}/{n_per_epoch}")
    return res


# ------------------------------------------------------------ summary ---
def summary(sp, sh, sh_unequal, ep):
    rows = []
    if sp is not None:
        rows += [
            ("1. apply_vae_inverse: outside solver / solver", "<= 20 %",
             f"{100 * sp['outside_frac']:.0f} %", sp["outside_frac"] <= 0.2),
            ("1. gamma_map / apply_vae_inverse (median)", "report",
             f"{sp['gm_over_call']:.1f}x", None),
            ("1. mixed_norm / apply_vae_inverse (median)", "report",
             f"{sp['mx_over_call']:.1f}x", None),
            ("2. mixed_norm / apply_vae_operator (median)", ">= 5x",
             f"{sp['mx_over_op']:.1f}x", sp["mx_over_op"] >= 5),
            ("2. gamma_map / apply_vae_operator (median)", "report",
             f"{sp['gm_over_op']:.1f}x", None),
        ]
    for label, sh_ in (("", sh), (" unequal nave", sh_unequal)):
        if sh_ is None:
            continue
        j, pc = sh_["joint"], sh_["per-condition"]
        rows += [
            (f"3.{label} recall joint vs per-condition", "joint higher",
             f"{j['recall']:.3f} vs {pc['recall']:.3f}", j["recall"] > pc["recall"]),
            (f"3.{label} EMD (median) joint vs per-condition", "joint lower",
             f"{j['emd']:.1f} vs {pc['emd']:.1f} mm", j["emd"] < pc["emd"]),
            (f"3.{label} EMD (paired median) joint vs per-cond.", "joint lower",
             f"{j['emd_paired']:.1f} vs {pc['emd_paired']:.1f} mm",
             j["emd_paired"] < pc["emd_paired"]),
            (f"3.{label} precision joint vs per-condition", "not lower",
             f"{j['precision']:.3f} vs {pc['precision']:.3f}",
             j["precision"] >= pc["precision"]),
            (f"3.{label} joint vs MxNE list (recall, EMD)", "report",
             f"R {j['recall']:.2f}/{sh_['MxNE list']['recall']:.2f}, EMD "
             f"{j['emd']:.1f}/{sh_['MxNE list']['emd']:.1f}", None),
        ]
    if ep is not None:
        rows += [
            ("4. epochs (shared) / one evoked solve", "<= 2x",
             f"{ep['ratio']:.2f}x", ep["ratio"] <= 2),
            ("4. peak memory / (data + 3 G)", "<= 1",
             f"{ep['peak'] / ep['budget']:.2f}", ep["peak"] <= ep["budget"]),
        ]
    print("\nSummary of the targets of issue 19")
    print(f"  {'target':50s} {'goal':>13s} {'measured':>24s}  met")
    for name, goal, value, ok in rows:
        met = "-" if ok is None else ("yes" if ok else "NO")
        if ok is False and " vs " in value and len(set(
                value.replace(" mm", "").split(" vs "))) == 1:
            met = "NO (tie)"
        print(f"  {name:50s} {goal:>13s} {value:>24s}  {met}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 speed problems, 3 shared-support "
                             "problems, 40 epochs")
    parser.add_argument("--n-speed", type=int, default=None,
                        help="simulated responses for parts 1-2 (default 10)")
    parser.add_argument("--n-shared", type=int, default=None,
                        help="problems per shared-support setting (default 30)")
    parser.add_argument("--n-epochs", type=int, default=None,
                        help="epochs of part 4 (default 200)")
    parser.add_argument("--parts", default="1,3,4",
                        help="parts to run: 1 (= 1 and 2), 3, 4 (default all)")
    parser.add_argument("--blas-threads", choices=("1", "all"), default="1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    quick = args.quick
    n_speed = args.n_speed or (2 if quick else 10)
    n_shared = args.n_shared or (3 if quick else 30)
    n_epochs = args.n_epochs or (40 if quick else 200)
    parts = {p.strip() for p in args.parts.split(",")}
    limit = 1 if args.blas_threads == "1" else None
    t_start = time.perf_counter()
    sp = sh = shu = ep = None
    with threadpool_limits(limit, user_api="blas"):
        if "1" in parts:
            sp = speed(n_speed, seed=args.seed)
        if "3" in parts or "4" in parts:
            from vaesource import make_vae_operator

            heads = _Heads(SFREQ_SHARED)
        if "3" in parts:
            op = make_vae_operator(heads.info, heads.forward, heads.noise_cov,
                                   loose=LOOSE, depth=DEPTH, verbose=False)
            sh = shared_support(heads, op, n_shared, (60, 60, 60),
                                seed=args.seed + 100)
            shu = shared_support(heads, op, n_shared, (40, 60, 80),
                                 seed=args.seed + 100)
        if "4" in parts:
            heads_ep = _Heads(SFREQ_EPOCHS)
            ep = epochs_bench(heads_ep, n_epochs, seed=args.seed + 7)
    rows = summary(sp, sh, shu, ep)
    print(f"\n(total {time.perf_counter() - t_start:.0f} s, BLAS threads "
          f"{args.blas_threads})")
    return rows


if __name__ == "__main__":
    main()

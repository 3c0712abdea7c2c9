"""Tests of the figure-2 sweep, its outputs, parallel backends and CLI."""

import re

import numpy as np
import pytest

from vaesource.benchmark import Fig2Result, run_fig2, run_trial
from vaesource.cli import main

TINY = dict(settings=("unit", "noisy"), r_values=(4, 8), n_trials=2,
            models=("full_vae", "diag_vae", "autoencoder", "group_lasso"),
            problem_kw=dict(n_sensors=20, n_sources=40, n_times=10),
            progress=False)


def _outcomes(result):
    return [(r["setting"], r["r"], r["trial"], r["model"], r["success"], r["n_iter"])
            for r in result.rows]


def test_run_trial_scores_each_model():
    rows = run_trial("unit", 5, 0, seed=1,
                     problem_kw=dict(n_sensors=20, n_sources=40, n_times=10))
    assert [r["model"] for r in rows] == ["full_vae", "diag_vae", "autoencoder",
                                          "group_lasso"]
    # an easy problem (r=5 of d=20): the full VAE recovers it exactly
    assert rows[0]["success"] and rows[0]["n_iter"] > 0
    assert len({r["seed"] for r in rows}) == 1


def test_sweep_is_deterministic_across_jobs(tmp_path):
    seq = run_fig2(**TINY, n_jobs=1)
    par = run_fig2(**TINY, n_jobs=2)
    assert len(seq.rows) == 2 * 2 * 2 * 4
    assert _outcomes(seq) == _outcomes(par)
    rates = seq.success_rates()
    assert set(rates) == {"unit", "noisy"}
    rs, vals, counts = rates["unit"]["full_vae"]
    assert list(rs) == [4, 8] and np.all(counts == 2) and vals.min() == 1.0

    csv = seq.to_csv(tmp_path / "f.csv")
    header = csv.read_text().splitlines()[0]
    assert header == "setting,r,trial,model,success,seconds,n_iter,seed,rank,n_times"
    back = Fig2Result.from_csv(csv)
    assert _outcomes(back) == _outcomes(seq)

    png = tmp_path / "f.png"
    seq.plot(png)
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    assert img.shape[1] > 2 * img.shape[0]  # two panels side by side
    # not blank: the curve colours are there
    red = (img[..., 0] > 0.6) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)
    assert red.sum() > 50


def test_dask_distributed_backend():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        res = run_fig2(**TINY, n_jobs=-1, backend="dask")
    assert _outcomes(res) == _outcomes(run_fig2(**TINY, n_jobs=1))


def test_bad_sweep_arguments():
    with pytest.raises(ValueError, match="'settings'"):
        run_fig2(settings=("square",), progress=False)
    with pytest.raises(ValueError, match="'models'"):
        run_fig2(models=("lasso",), progress=False)
    with pytest.raises(ValueError, match="'n_trials'"):
        run_fig2(n_trials=0, progress=False)


def test_cli_fig2(tmp_path, capsys):
    args = ["bench", "fig2", "--settings", "unit", "--r", "5", "--trials", "2",
            "--models", "full_vae,group_lasso", "--n-jobs", "1", "--no-progress",
            "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "unit:" in out and "full_vae" in out and "fig2.png" in out
    assert re.search(r"5: *\d+ %", out), out  # rates in percent, said so
    assert (tmp_path / "fig2.csv").is_file() and (tmp_path / "fig2.png").is_file()
    rows = Fig2Result.from_csv(tmp_path / "fig2.csv").rows
    assert len(rows) == 4
    # refuses to overwrite
    before = (tmp_path / "fig2.csv").read_bytes()
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "fig2.csv").read_bytes() == before
    assert main(args + ["--overwrite"]) == 0


def test_cli_help_and_errors(capsys):
    for argv, expect in (
        (["--help"], "localize"), (["bench", "--help"], "speed"),
        (["bench", "fig2", "--help"], "--quick"),
        (["bench", "cortical", "--help"], "--snr"),
        (["bench", "speed", "--help"], "--trials"),
        (["demo", "--help"], "--no-render"), (["localize", "--help"], "--compare"),
        (["render", "--help"], "--truth"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert expect in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["localize", "--evoked", "x-ave.fif"])  # --forward, --cov, --out
    assert exc.value.code == 2
    assert "required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["bench", "fig2", "--models", "lasso"])
    assert exc.value.code == 2
    assert "choose from" in capsys.readouterr().err


def test_cli_cortical(tmp_path, capsys, monkeypatch, template_cache):
    monkeypatch.setenv("VAESOURCE_CACHE_DIR", str(template_cache))
    args = ["bench", "cortical", "--quick", "--methods", "full_vae,mxne",
            "--n-jobs", "1", "--no-progress", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "full_vae" in out and "mxne" in out
    csv = (tmp_path / "cortical.csv").read_text().splitlines()
    # header + trials x sources x SNRs x (full VAE, its optimum, MxNE)
    assert len(csv) == 1 + 2 * 2 * 2 * 3
    from vaesource.benchmark.cortical import CorticalResult

    res = CorticalResult.from_csv(tmp_path / "cortical.csv")
    for row in res.select(method="full_vae"):
        (opt,) = res.select(method="full_vae_optimum", seed=row["seed"])
        # the evidence selection only removes sources from the optimum
        assert opt["n_active"] >= row["n_active"] >= 1
    assert (tmp_path / "cortical.png").stat().st_size > 10_000
    assert main(args) == 2  # refuses to overwrite
    with pytest.raises(SystemExit) as exc:
        main(["bench", "cortical", "--snr", "-1"])
    assert exc.value.code == 2


def test_cli_speed(capsys):
    argv = ["bench", "speed", "--trials", "1", "--problems", "paper", "--threads", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # six rows (2 settings x 3 r), each with every model and the MM engine
    rows = [line for line in out.splitlines()
            if re.match(r"\s+(unit|noisy)\s+r=\d+:", line)]
    assert len(rows) == 6
    assert all("group_lasso" in line and "full_vae[mackay]" in line for line in rows)
    trials = [line for line in out.splitlines() if "trial 0:" in line]
    assert len(trials) == 2
    assert all("Newton" in t and "MNE default" in t and "MM / Newton" in t
               for t in trials)
    ratios = re.findall(r"median time ratio MNE / full_vae \(same cost\): "
                        r"([0-9.]+)x", out)
    assert len(ratios) == 2 and all(float(r) > 0 for r in ratios)
    with pytest.raises(SystemExit):
        main(["bench", "speed", "--problems", "paper,bogus"])


def test_gamma_map_trace_recovers_cost_18():
    """The cost read off gamma-MAP's SVDs is cost (18) of its weights: run to
    convergence on a small problem it meets the full VAE's optimum."""
    from vaesource._mne_compat import gamma_map_opt
    from vaesource.benchmark.speed import _GammaMapTrace
    from vaesource.simulation import paper_problem
    from vaesource.solvers import full_vae

    p = paper_problem("noisy", 5, seed=3, n_sensors=30, n_sources=60, n_times=40)
    res = full_vae(p.M, p.G, gamma=p.gamma, kkt_tol=1e-10, tol=1e-14)
    trace = _GammaMapTrace(p.M)
    with trace.record(), pytest.warns(RuntimeWarning, match="Convergence NOT"):
        gamma_map_opt(p.M, p.G, p.gamma, tol=0.0, maxit=20000)
    costs = np.asarray(trace.costs)
    assert costs.size == 20000 and costs[-1] < costs[0]
    assert costs[-1] == pytest.approx(res.cost[-1], rel=1e-7)
    assert costs[-1] >= res.cost[-1] - 1e-9 * abs(res.cost[-1])
    t, k = trace.time_to(res.cost[-1])
    assert t is not None and 0 < t <= trace.seconds and k < costs.size
    assert trace.time_to(res.cost[-1] - 1.0) == (None, None)


def test_cli_errors_name_the_subcommand(capsys):
    """A subcommand's error shows that subcommand's usage, not the top level's;
    render's help names only options that exist."""
    for argv, usage in ((["bench", "fig2", "--badopt"], "usage: vaesource bench fig2"),
                        (["demo", "--badopt"], "usage: vaesource demo")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(usage) and "--badopt" in err
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    assert "--src" not in capsys.readouterr().out


def test_compare_on_times_the_optimum(heads):
    """The speed benchmark compares the engines and gamma-MAP on cost (18)
    itself: the full VAE's estimate there is the optimum, not the
    evidence-selected refit (whose cost is higher)."""
    from vaesource.benchmark.speed import compare_on
    from vaesource.simulation import cortical_evoked

    import mne

    coarse, fine = heads
    sim = cortical_evoked(fine, 1, snr=3.0, seed=2, inverse_template=coarse,
                          sfreq=100.0)
    # 102 magnetometers and the sources within 50 mm of the true one keep
    # gamma-MAP (an SVD per iteration, thousands of iterations) quick
    fwd = sim.forward
    near = np.linalg.norm(fwd["source_rr"] - sim.positions[0], axis=1) < 0.05
    n_lh = len(fwd["src"][0]["vertno"])
    verts = [fwd["src"][0]["vertno"][near[:n_lh]],
             fwd["src"][1]["vertno"][near[n_lh:]]]
    dummy = mne.SourceEstimate(np.zeros((near.sum(), 1)), verts, 0, 1)
    fwd = mne.forward.restrict_forward_to_stc(fwd, dummy, on_missing="ignore")
    out = compare_on(sim.evoked.copy().pick("mag"), fwd, sim.noise_cov,
                     loose=0.0, mxne=False)
    newton, mm = out["newton"], out["mackay"]
    assert newton["kkt"] <= 1e-6
    # the certified optimum is not above the MM engine's end point
    assert newton["cost"] <= mm["cost"] + 1e-6 * abs(mm["cost"])
    # a selected estimate keeps only a few sources; the optimum many more
    assert newton["n_active"] > 5


def test_location_times(heads):
    """The speed benchmark times the default call's regions and location
    bands on the same estimate a user gets."""
    from vaesource.benchmark.speed import location_times
    from vaesource.simulation import cortical_evoked

    coarse, fine = heads
    sim = cortical_evoked(fine, 2, snr=10.0, seed=3, inverse_template=coarse,
                          sfreq=100.0)
    out = location_times(sim.evoked, sim.forward, sim.noise_cov, loose=0.2)
    assert out["n_rows"] >= 1
    assert all(out[key] > 0 for key in ("solve", "regions", "band"))


def test_calibration_benchmark(tmp_path):
    """One trial per setting: a row per true source with the coverages; on
    the grid at SNR 10 the sources are found and their regions hold them;
    the table, the text, the CSV and the figure are written."""
    from vaesource.benchmark.calibration import (
        COLUMNS,
        CalibrationResult,
        run_trial,
    )

    rows = []
    for setting in ("grid", "volume"):
        out = run_trial(setting, 10.0, 2, 0)
        assert len(out) == 2 and all(set(r) == set(COLUMNS) for r in out)
        rows += out
    grid = [r for r in rows if r["setting"] == "grid"]
    assert all(r["detected"] and r["region_covered"] for r in grid)
    for r in rows:
        if r["detected"]:
            assert 0 <= r["amp_cover_location"] <= 1
            assert r["region_size"] >= 1
    res = CalibrationResult(rows)
    table = res.table()
    assert [t["setting"] for t in table] == ["volume", "grid"]
    assert "region" in res.summary()
    res.to_csv(tmp_path / "calibration.csv")
    res.plot(tmp_path / "calibration.png")
    assert (tmp_path / "calibration.png").stat().st_size > 1000

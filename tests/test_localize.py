"""``vaesource localize`` / ``vaesource render`` / ``run_localize``: files in,
MNE-format estimates, dipoles, renders and a report out."""

import json
import os
import sys
import warnings

import numpy as np
import pytest

from vaesource.cli import main
from vaesource.utils import ConvergenceWarning

TMIN, TMAX = 0.05, 0.15


@pytest.fixture(scope="module")
def files(tmp_path_factory, template_cache):
    """A simulated evoked response, its forward and noise covariance on disk
    (ico3 template, MEG), plus a two-condition evoked file."""
    import mne

    from vaesource.datasets import template
    from vaesource.simulation import cortical_evoked

    tmpl = template("ico3", sensors="meg", cache_dir=template_cache)
    sim = cortical_evoked(tmpl, 2, snr=5.0, seed=3)
    d = tmp_path_factory.mktemp("localize-inputs")
    out = dict(evoked=d / "sim-ave.fif", forward=d / "sim-fwd.fif",
               cov=d / "sim-cov.fif", two=d / "two-ave.fif", sim=sim)
    sim.evoked.save(out["evoked"], verbose=False)
    mne.write_forward_solution(out["forward"], sim.forward, verbose=False)
    sim.noise_cov.save(out["cov"], verbose=False)
    other = sim.evoked.copy()
    other.comment = "other"
    mne.write_evokeds(out["two"], [sim.evoked, other], verbose=False)
    return out


def _args(files, out, *extra):
    return ["localize", "--evoked", str(files["evoked"]), "--forward",
            str(files["forward"]), "--cov", str(files["cov"]), "--tmin", str(TMIN),
            "--tmax", str(TMAX), "--out", str(out), *extra]


def _leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".vaesource")]


def test_localize_cli_matches_apply_vae_inverse(files, tmp_path, capsys):
    import mne

    from vaesource import apply_vae_inverse
    from vaesource.metrics import localization_error

    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render")) == 0
    printed = capsys.readouterr().out
    assert "full VAE" in printed and "active location" in printed
    names = sorted(p.name for p in out.iterdir())
    assert names == ["full_vae-dipoles.dip", "full_vae-lh.stc", "full_vae-rh.stc",
                     "summary.json"]
    assert not _leftovers(tmp_path)
    sim = files["sim"]
    stc = mne.read_source_estimate(out / "full_vae-lh.stc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = apply_vae_inverse(sim.evoked, sim.forward, sim.noise_cov,
                                tmin=TMIN, tmax=TMAX)
    assert [list(v) for v in stc.vertices] == [list(v) for v in ref.vertices]
    # .stc stores float32
    np.testing.assert_allclose(stc.data, ref.data, rtol=1e-5,
                               atol=1e-6 * np.abs(ref.data).max())
    assert stc.tmin == pytest.approx(ref.tmin, abs=1e-6)

    # dipoles: MNE reads them back; they are the sources selected by their
    # evidence (fewer than the optimum's active locations), on the true ones
    dip = mne.read_dipole(out / "full_vae-dipoles.dip", verbose=False)
    table = ref.vae_sources
    n_optimum = ref.vae_result.info["optimum"].locations.size
    assert 2 <= len(dip.times) == len(table) == sum(len(v) for v in ref.vertices)
    assert len(dip.times) < n_optimum
    assert np.all(table.evidence >= table.min_evidence)
    # the .dip file holds positions to 0.01 mm
    np.testing.assert_allclose(np.sort(dip.pos, axis=0), np.sort(table.pos, axis=0),
                               atol=1e-5)
    assert np.all((dip.times >= TMIN - 1e-3) & (dip.times <= TMAX + 1e-3))
    err = localization_error(sim.positions, dip.pos, np.abs(dip.amplitude))
    assert np.all(err < 15.0), err

    summary = json.loads((out / "summary.json").read_text())
    assert summary["condition"] == sim.evoked.comment
    row = summary["methods"][0]
    assert row["method"] == "full_vae" and row["converged"] is True
    assert row["n_active"] == sum(len(v) for v in ref.vertices)
    assert 0 < row["explained_variance"] < 1
    assert len(summary["peak_dipoles_mm"]) == len(dip.times)
    # which sources are real: one row per selected source, above the threshold
    assert row["min_evidence"] == pytest.approx(table.min_evidence)
    assert row["n_active_optimum"] == n_optimum
    assert "learned_noise" not in row and "n_restarts" not in row
    rows = row["sources"]
    assert len(rows) == row["n_active"]
    assert all(r["evidence"] >= row["min_evidence"] for r in rows)
    assert all(0.5 < r["probability"] <= 1 for r in rows)
    assert all(len(r["posterior_sd_nAm"]) == 3 and min(r["posterior_sd_nAm"]) > 0
               for r in rows)
    assert sorted(tuple(r["pos_mm"]) for r in rows) == sorted(
        tuple(d["pos"]) for d in summary["peak_dipoles_mm"])
    assert "frequency" not in rows[0]
    printed_line = next(line for line in printed.splitlines()
                        if "full VAE" in line and "selected" in line)
    assert f"{len(rows)} source(s) selected" in printed_line
    assert f"of {n_optimum} active location(s) at the optimum" in printed_line


def test_localize_refuses_to_overwrite(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render", "--model", "diag")) == 0
    stc = out / "diag_vae-lh.stc"
    before = stc.stat().st_mtime_ns
    capsys.readouterr()
    assert main(_args(files, out, "--no-render", "--model", "diag")) == 2
    err = capsys.readouterr().err
    assert "earlier run" in err and "--overwrite" in err
    assert stc.stat().st_mtime_ns == before
    assert main(_args(files, out, "--no-render", "--model", "diag",
                      "--overwrite")) == 0
    assert stc.stat().st_mtime_ns > before
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("change, message", [
    ({"--evoked": "missing-ave.fif"}, "does not exist"),
    ({"--tmin": "5.0", "--tmax": "6.0"}, "contains no sample"),
    ({"--evoked": "two"}, "holds 2 conditions"),
    ({"--evoked": "two", "--condition": "nope"}, "No condition 'nope'"),
    ({"--evoked": "two", "--condition": "7"}, "out of range"),
    ({"--forward": "cov"}, "Could not read a forward"),
    ({"--model": "lasso"}, None),
    ({"--compare": "lasso"}, None),
])
def test_localize_bad_input(files, tmp_path, capsys, change, message):
    args = _args(files, tmp_path / "out", "--no-render")
    for key, val in change.items():
        if val in files:
            val = str(files[val])
        elif key in ("--evoked", "--forward"):
            val = str(tmp_path / val)
        if key in args:
            args[args.index(key) + 1] = val
        else:
            args += [key, val]
    if message is None:  # rejected by argparse
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "invalid choice" in err or "choose from" in err
    else:
        assert main(args) == 2
        assert message in capsys.readouterr().err
    # nothing written, not even the output folder
    assert not (tmp_path / "out").exists()
    assert not _leftovers(tmp_path)


def test_localize_condition_and_channel_mismatch(files, tmp_path, capsys):
    import mne

    out = tmp_path / "out"
    args = _args(files, out, "--no-render")
    args[args.index("--evoked") + 1] = str(files["two"])
    assert main(args + ["--condition", "other"]) == 0
    assert json.loads((out / "summary.json").read_text())["condition"] == "other"

    # an evoked response whose channels the forward does not have
    ev = files["sim"].evoked.copy()
    ev.rename_channels({c: f"X{i:03d}" for i, c in enumerate(ev.ch_names)})
    fname = tmp_path / "renamed-ave.fif"
    ev.save(fname, verbose=False)
    args = _args(files, tmp_path / "out2", "--no-render")
    args[args.index("--evoked") + 1] = str(fname)
    capsys.readouterr()
    assert main(args) == 2
    assert "no channel in common" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()
    with pytest.raises(ValueError, match="no channel in common"):
        from vaesource.localize import run_localize

        run_localize(ev, mne.read_forward_solution(files["forward"], verbose=False),
                     files["cov"], tmp_path / "out3", render=False)


def test_localize_compare_renders_and_report(files, tmp_path, rendering, capsys):
    from PIL import Image

    from vaesource.cli import _build_parser

    # --compare alone means both MNE solvers; gamma-MAP takes a minute here
    # and goes through the same code as MxNE, so the run below uses MxNE
    args = _build_parser().parse_args(_args(files, "x", "--compare"))
    assert args.compare == ["mxne", "gamma_map"]
    out = tmp_path / "out"
    assert main(_args(files, out, "--compare", "mxne")) == 0
    names = {p.name for p in out.iterdir()}
    for m in ("full_vae", "mxne"):
        assert {f"{m}-lh.stc", f"{m}-rh.stc", f"{m}.png"} <= names
    assert {"comparison.png", "report.html", "full_vae-dipoles.dip"} <= names
    summary = json.loads((out / "summary.json").read_text())
    assert [r["method"] for r in summary["methods"]] == ["full_vae", "mxne"]
    for name in ("full_vae.png", "comparison.png"):
        img = np.asarray(Image.open(out / name).convert("RGB"), float)
        # not blank: coloured (red / yellow) source glyphs on the gray cortex
        hue = (img[..., 0] - img[..., 2] > 80) & (img[..., 0] > 150)
        assert hue.sum() > 50, name
    html = (out / "report.html").read_text()
    assert "full VAE" in html and "MxNE" in html

    # render the saved estimates side by side, with the truth
    truth = tmp_path / "truth"
    files["sim"].stc.save(truth, ftype="stc", verbose=False)
    png = tmp_path / "render.png"
    # MxNE's weak sources left out by amplitude: the views facing the
    # sources fit in one row
    argv = ["render", str(out / "full_vae-lh.stc"), str(out / "mxne-lh.stc"),
            "--labels", "VAE,MxNE", "--truth", str(truth) + "-lh.stc",
            "--forward", str(files["forward"]), "--min-fraction", "0.1",
            "--out", str(png)]
    assert main(argv) == 0
    width, height = Image.open(png).size
    assert width > height > 200
    assert main(argv) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".render")]


def test_render_bad_input(files, tmp_path, capsys):
    assert main(["render", str(tmp_path / "none-lh.stc"),
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    stc = tmp_path / "est"
    files["sim"].stc.save(stc, ftype="stc", verbose=False)
    assert main(["render", str(stc) + "-lh.stc", "--out",
                 str(tmp_path / "x.jpg")]) == 2
    assert ".png" in capsys.readouterr().err
    assert main(["render", str(stc) + "-lh.stc", str(stc) + "-rh.stc",
                 "--labels", "one", "--out", str(tmp_path / "x.png")]) == 2
    assert "label" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_localize_volume_real_data(real_problem, testing_data, tmp_path, rendering):
    """The auditory response of the sample subject on a volume grid: a -vl.stc,
    dipoles in both hemispheres, a glass-brain render (in the inner skull of
    the BEM given) and a report."""
    import mne

    from vaesource.localize import run_localize

    result = run_localize(
        real_problem["auditory"], real_problem["fwd"], real_problem["cov"],
        tmp_path / "out", tmin=0.05, tmax=0.15,
        bem=testing_data / "sample-1280-bem-sol.fif",
    )
    assert set(result.files) == {"full_vae-vl.stc", "dipoles", "summary",
                                 "full_vae.png", "report"}
    stc = mne.read_source_estimate(result.files["full_vae-vl.stc"])
    assert isinstance(stc, mne.VolSourceEstimate)
    dip = mne.read_dipole(result.files["dipoles"], verbose=False)
    x = 1e3 * dip.pos[:, 0]
    assert (x < -35).any() and (x > 35).any(), dip.pos
    assert os.path.getsize(result.files["full_vae.png"]) > 10_000

    # the saved estimate renders again from the command line, given its forward
    fwd_fname = tmp_path / "vol-fwd.fif"
    mne.write_forward_solution(fwd_fname, real_problem["fwd"], verbose=False)
    png = tmp_path / "again.png"
    stc_fname = str(result.files["full_vae-vl.stc"])
    assert main(["render", stc_fname, "--forward", str(fwd_fname), "--views",
                 "coronal,axial", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert main(["render", stc_fname, "--forward", str(fwd_fname), "--bem",
                 str(testing_data / "inner_skull.surf"), "--out",
                 str(tmp_path / "skull.png")]) == 0
    assert main(["render", stc_fname, "--out", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_localize_missing_cortex_fails_before_work(files, tmp_path, rendering,
                                                   monkeypatch, capsys):
    """A subject whose surfaces cannot be found is an error up front (not
    after the inverse), unless the renders are skipped."""
    import mne

    monkeypatch.delenv("SUBJECTS_DIR", raising=False)
    fwd = mne.read_forward_solution(files["forward"], verbose=False)
    for s in fwd["src"]:
        s["subject_his_id"] = "bert"
    fname = tmp_path / "bert-fwd.fif"
    mne.write_forward_solution(fname, fwd, verbose=False)
    args = _args(files, tmp_path / "out")
    args[args.index("--forward") + 1] = str(fname)

    def no_inverse(*args, **kwargs):
        raise AssertionError("the inverse ran before the cortex was checked")

    localize_module = sys.modules["vaesource.localize"]
    with monkeypatch.context() as m:
        m.setattr(localize_module, "make_vae_operator", no_inverse)
        assert main(args) == 2
    err = capsys.readouterr().err
    assert "subject 'bert'" in err and "--subjects-dir" in err
    assert not (tmp_path / "out").exists()
    assert main(args + ["--no-render"]) == 0


def test_overwrite_replaces_the_whole_run(files, tmp_path, capsys):
    """A second run replaces the first as a whole: none of the first run's
    files (here MxNE's estimates) stay next to the second's summary."""
    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render", "--compare", "mxne")) == 0
    assert (out / "mxne-lh.stc").is_file()
    assert main(_args(files, out, "--no-render", "--overwrite")) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "full_vae-dipoles.dip", "full_vae-lh.stc", "full_vae-rh.stc", "summary.json"]
    assert not _leftovers(tmp_path)


def test_overwrite_never_deletes_other_files(files, tmp_path, capsys, monkeypatch):
    """A folder holding anything vaesource does not write is never replaced,
    with or without --overwrite; nor is one holding the run's inputs."""
    import shutil

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    for extra in ((), ("--overwrite",)):
        assert main(_args(files, mine, "--no-render", *extra)) == 2
        err = capsys.readouterr().err
        assert "notes.txt" in err and "another folder" in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]

    # a previous run whose folder now also holds the input evoked file
    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render")) == 0
    shutil.copy(files["evoked"], out / "simulated-ave.fif")
    args = _args(files, out, "--no-render", "--overwrite")
    args[args.index("--evoked") + 1] = str(out / "simulated-ave.fif")
    capsys.readouterr()
    assert main(args) == 2
    assert "inside the output folder" in capsys.readouterr().err
    assert (out / "simulated-ave.fif").is_file()
    assert not _leftovers(tmp_path)

    # the current folder itself, even empty, is not replaced
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(_args(files, ".", "--no-render")) == 2
    assert "current folder" in capsys.readouterr().err
    assert here.is_dir() and not list(here.iterdir())


def test_localize_cli_checks_before_work(files, tmp_path, monkeypatch, capsys):
    """An existing output is refused before any input is read, in the
    command line's words; nothing is announced before the inputs pass."""
    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render")) == 0
    capsys.readouterr()
    localize_module = sys.modules["vaesource.localize"]

    def no_read(*args, **kwargs):
        raise AssertionError("an input was read before the output was checked")

    with monkeypatch.context() as m:
        m.setattr(localize_module, "read_evoked", no_read)
        assert main(_args(files, out, "--no-render")) == 2
    captured = capsys.readouterr()
    assert "--overwrite" in captured.err and "overwrite=True" not in captured.err
    assert "localizing" not in captured.out

    args = _args(files, tmp_path / "new", "--no-render")
    args[args.index("--evoked") + 1] = str(tmp_path / "missing-ave.fif")
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and "localizing" not in captured.out


def test_wrong_file_type_error_without_mne_warning(files, tmp_path, capsys):
    args = _args(files, tmp_path / "out", "--no-render")
    args[args.index("--forward") + 1] = str(files["cov"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(args) == 2
    assert not caught, [str(w.message) for w in caught]
    err = capsys.readouterr().err
    assert err.startswith("error: Could not read a forward") and "Warning" not in err


def test_summary_times_and_coordinate_frame(files, tmp_path):
    """summary.json: times without float noise, dipole positions with their
    coordinate frame."""
    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render")) == 0
    summary = json.loads((out / "summary.json").read_text())
    sfreq = files["sim"].evoked.info["sfreq"]
    times = [summary["tmin"]] + [d["time"] for d in summary["peak_dipoles_mm"]]
    for t in times:
        assert t == round(t, 6), t
        assert abs(t * sfreq - round(t * sfreq)) < 1e-3
    assert summary["coord_frame"] == "head"


def test_localize_evidence_options_reach_apply_vae_operator(files, tmp_path, capsys,
                                                           monkeypatch):
    """--min-evidence, --learn-noise, --restarts and --seed reach the full
    VAE; summary.json holds the threshold, the learned noise per channel
    type and how often each source was found."""
    localize_module = sys.modules["vaesource.localize"]
    calls = []
    real = localize_module.apply_vae_operator

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(localize_module, "apply_vae_operator", spy)
    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render", "--min-evidence", "30",
                      "--learn-noise", "type", "--restarts", "2",
                      "--seed", "4")) == 0
    kw = calls[-1]
    assert (kw["min_evidence"], kw["learn_noise"], kw["n_restarts"],
            kw["random_state"]) == (30.0, "type", 2, 4)
    printed = capsys.readouterr().out
    assert "evidence >= 30" in printed and "learned noise (type): grad x" in printed
    row = json.loads((out / "summary.json").read_text())["methods"][0]
    assert row["min_evidence"] == 30.0 and row["n_restarts"] == 2
    assert row["sources"] and all(r["evidence"] >= 30 for r in row["sources"])
    assert all(0 <= r["frequency"] <= 1 for r in row["sources"])
    noise = row["learned_noise"]
    assert noise["mode"] == "type" and set(noise["factors"]) == {"grad", "mag"}
    # the covariance is right for this simulation: factors near 1
    assert all(0.7 < v < 1.4 for v in noise["factors"].values())

    # 'none': the whole optimum, no threshold
    out2 = tmp_path / "out2"
    assert main(_args(files, out2, "--no-render", "--min-evidence", "none")) == 0
    assert calls[-1]["min_evidence"] is None
    row = json.loads((out2 / "summary.json").read_text())["methods"][0]
    assert row["min_evidence"] is None
    assert row["n_active"] == row["n_active_optimum"] == len(row["sources"]) > 2


@pytest.mark.parametrize("extra, message", [
    (["--min-evidence", "-1"], "expected a number >= 0"),
    (["--min-evidence", "many"], "expected a number >= 0"),
    (["--learn-noise", "eeg"], "invalid choice"),
    (["--restarts", "0"], "must be >= 1"),
    (["--color-by", "size"], "invalid choice"),
])
def test_localize_bad_evidence_options(files, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exc:
        main(_args(files, tmp_path / "out", "--no-render", *extra))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_localize_bad_evidence_options(files, tmp_path):
    """Bad values name the parameter, before any work; options of the full
    VAE are refused for the other models."""
    from vaesource.localize import run_localize

    kw = dict(render=False)
    args = (files["evoked"], files["forward"], files["cov"], tmp_path / "out")
    for bad, match in (
        (dict(min_evidence=-1.0), "'min_evidence'.*>= 0"),
        (dict(min_evidence="lots"), "'min_evidence'.*'lots'"),
        (dict(learn_noise="eeg"), "'learn_noise'"),
        (dict(n_restarts=0), "n_restarts"),
        (dict(color_by="size"), "'color_by'"),
        (dict(model="diag", learn_noise="type"), "learn_noise.*model='full'"),
        (dict(model="diag", color_by="evidence"), "color_by.*model='full'"),
    ):
        with pytest.raises(ValueError, match=match):
            run_localize(*args, **kw, **bad)
    assert not (tmp_path / "out").exists()


def test_render_colored_by_evidence_from_summary(files, tmp_path, rendering,
                                                 capsys):
    """vaesource render --color-by evidence reads the evidence of each
    source from localize's summary.json."""
    from PIL import Image

    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render", "--min-evidence", "none")) == 0
    stc = str(out / "full_vae-lh.stc")
    png = tmp_path / "ev.png"
    assert main(["render", stc, "--color-by", "evidence", "--out", str(png)]) == 2
    assert "--summary" in capsys.readouterr().err
    assert main(["render", stc, "--color-by", "evidence", "--summary",
                 str(out / "summary.json"), "--out", str(png)]) == 0
    img = np.asarray(Image.open(png).convert("RGB"), int)
    # viridis glyphs: blue-green-yellow to purple, none of the amplitude
    # map's reds
    red = (img[..., 0] - img[..., 2] > 80) & (img[..., 1] < 120)
    blue = (img[..., 2] - img[..., 0] > 60)
    assert blue.sum() > 50 and red.sum() < 20


# ---------------------------------------------------------------------------
# several conditions and epochs: one shared support
# ---------------------------------------------------------------------------
CONDITIONS = ("aud left", "aud/right", "vis")


@pytest.fixture(scope="module")
def shared_files(files, tmp_path_factory, template_cache):
    """Three conditions of the two simulated sources with their own time
    courses (one -ave.fif file), and 8 single-trial epochs of the first."""
    import mne

    from vaesource.datasets import template

    sim = files["sim"]
    tmpl = template("ico3", sensors="meg", cache_dir=template_cache)
    fwd = mne.convert_forward_solution(tmpl.fwd, surf_ori=True, force_fixed=True,
                                       use_cps=True, verbose=False)
    info = sim.evoked.info
    rng = np.random.default_rng(11)
    cov = sim.noise_cov
    assert cov["diag"]  # the ad hoc covariance: noise drawn per channel
    sd = np.sqrt(cov.data[[cov.ch_names.index(c) for c in info["ch_names"]]])

    def simulate(stc, nave):
        ev = mne.apply_forward(fwd, stc, info, use_cps=True, verbose=False)
        ev.data += sd[:, np.newaxis] / np.sqrt(nave) * rng.standard_normal(
            ev.data.shape)
        ev.nave = nave
        return ev

    evokeds = []
    # the same sources, other weights and a reversed time course
    for name, weights, flip in zip(CONDITIONS, ([1, 1], [1.5, 0.5], [0.6, 1.4]),
                                   (False, True, False)):
        stc = sim.stc.copy()
        stc.data = stc.data * np.array(weights)[:, np.newaxis]
        if flip:
            stc.data = stc.data[:, ::-1].copy()
        ev = simulate(stc, nave=4)
        ev.comment = name
        evokeds.append(ev)
    d = tmp_path_factory.mktemp("shared-inputs")
    out = dict(conditions=d / "three-ave.fif", epochs=d / "sim-epo.fif",
               empty=d / "empty-epo.fif", evokeds=evokeds)
    mne.write_evokeds(out["conditions"], evokeds, verbose=False)
    trials = np.stack([simulate(sim.stc, nave=1).data for _ in range(8)])
    epochs = mne.EpochsArray(trials, info, tmin=sim.evoked.times[0], verbose=False)
    epochs.save(out["epochs"], verbose=False)
    out["epochs_obj"] = epochs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MNE: every epoch dropped
        # its own copies: with MNE 1.8, an EpochsArray rejecting every epoch
        # of the array and info another one was made from empties that
        # one's data too (measured; not with MNE 1.13)
        empty = mne.EpochsArray(trials.copy(), info.copy(),
                                tmin=sim.evoked.times[0],
                                reject=dict(grad=1e-20), verbose=False)
        empty.save(out["empty"], verbose=False)
    return out


def _shared_args(files, shared_files, out, *extra):
    args = _args(files, out, *extra)
    args[args.index("--evoked") + 1] = str(shared_files["conditions"])
    return args


def test_localize_conditions_share_one_support(files, shared_files, tmp_path,
                                               capsys):
    """--condition all: one estimate file set per condition, equal to
    apply_vae_operator on the list; one table of shared sources."""
    import mne

    from vaesource import apply_vae_operator, make_vae_operator

    out = tmp_path / "out"
    assert main(_shared_args(files, shared_files, out, "--condition", "all")) == 0
    printed = capsys.readouterr().out
    assert "one shared support" in printed and "3 conditions" in printed
    stems = ["aud_left-full_vae", "aud_right-full_vae", "vis-full_vae"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{s}{x}" for s in stems for x in ("-lh.stc", "-rh.stc", "-dipoles.dip")]
        + ["summary.json"])
    assert not _leftovers(tmp_path)

    sim, evokeds = files["sim"], shared_files["evokeds"]
    op = make_vae_operator(evokeds[0].info, sim.forward, sim.noise_cov)
    refs = apply_vae_operator(evokeds, op, tmin=TMIN, tmax=TMAX)
    for stem, ref in zip(stems, refs):
        stc = mne.read_source_estimate(out / f"{stem}-lh.stc")
        assert [list(v) for v in stc.vertices] == [list(v) for v in ref.vertices]
        np.testing.assert_allclose(stc.data, ref.data, rtol=1e-5,
                                   atol=1e-6 * np.abs(ref.data).max())
    # one support, found in every condition: the two simulated sources
    assert all([list(v) for v in r.vertices] == [list(v) for v in refs[0].vertices]
               for r in refs)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shared_support"] is True
    assert [c["condition"] for c in summary["conditions"]] == list(CONDITIONS)
    assert [c["stem"] for c in summary["conditions"]] == stems
    assert all(c["nave"] == 4.0 and 0 < c["explained_variance"] < 1
               for c in summary["conditions"])
    row = summary["methods"][0]
    assert row["method"] == "full_vae" and row["converged"] is True
    table = refs[0].vae_sources
    assert row["n_active"] == len(table) == 2
    for r in row["sources"]:
        assert set(r["conditions"]) == set(CONDITIONS)
        assert r["probability"] > 0.95
        assert r["amplitude_nAm"] == max(c["amplitude_nAm"]
                                         for c in r["conditions"].values())
    # joint evidence in the file = the operator's; amplitudes per condition
    np.testing.assert_allclose(sorted(r["evidence"] for r in row["sources"]),
                               sorted(table.evidence), rtol=1e-6)
    for name, ref in zip(CONDITIONS, refs):
        amps = {r["location"]: r["amplitude_nAm"] for r in ref.vae_sources.rows()}
        for r in row["sources"]:
            assert r["conditions"][name]["amplitude_nAm"] == pytest.approx(
                amps[r["location"]], rel=1e-6)
    # the peak dipoles of each condition are on the shared sources
    pos = sorted(tuple(r["pos_mm"]) for r in row["sources"])
    for c in summary["conditions"]:
        assert sorted(tuple(d["pos"]) for d in c["peak_dipoles_mm"]) == pos

    # a comma list of two names: those two, in that order
    out2 = tmp_path / "out2"
    assert main(_shared_args(files, shared_files, out2, "--condition",
                             "vis,aud left")) == 0
    summary = json.loads((out2 / "summary.json").read_text())
    assert [c["condition"] for c in summary["conditions"]] == ["vis", "aud left"]


def test_localize_single_condition_of_many_unchanged(files, shared_files, tmp_path):
    """One condition chosen by name: today's files and summary, no prefix."""
    out = tmp_path / "out"
    assert main(_shared_args(files, shared_files, out, "--condition", "vis",
                             "--no-render")) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "full_vae-dipoles.dip", "full_vae-lh.stc", "full_vae-rh.stc", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["condition"] == "vis" and "shared_support" not in summary
    # 'all' of a file with one condition: that condition, as above
    out2 = tmp_path / "out2"
    assert main(_args(files, out2, "--condition", "all", "--no-render")) == 0
    assert sorted(p.name for p in out2.iterdir()) == sorted(p.name for p in
                                                           out.iterdir())


def test_overwrite_replaces_a_joint_run(files, shared_files, tmp_path, capsys):
    out = tmp_path / "out"
    args = _shared_args(files, shared_files, out, "--condition", "all",
                        "--no-render")
    assert main(args) == 0
    assert main(args + ["--overwrite"]) == 0


def test_localize_epochs_shared_support(files, shared_files, tmp_path, capsys):
    """--epochs: the mean estimate and the shared sources; the epochs'
    own files only with --save-epochs, equal to apply_vae_operator_epochs."""
    import mne

    from vaesource import apply_vae_operator_epochs, make_vae_operator

    out = tmp_path / "out"
    args = _args(files, out, "--no-render")
    args[args.index("--evoked"):args.index("--evoked") + 2] = [
        "--epochs", str(shared_files["epochs"])]
    assert main(args) == 0
    assert "8 epochs (one shared support)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "full_vae-lh.stc", "full_vae-rh.stc", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"]["n_epochs"] == 8 and not summary["epochs"]["saved"]

    sim = files["sim"]
    epochs = shared_files["epochs_obj"].copy().crop(TMIN, TMAX, include_tmax=True)
    op = make_vae_operator(epochs.info, sim.forward, sim.noise_cov)
    refs = apply_vae_operator_epochs(epochs, op)
    row = summary["methods"][0]
    table = refs[0].vae_sources
    assert row["n_active"] == len(row["sources"]) == len(table) == 2
    np.testing.assert_allclose(sorted(r["evidence"] for r in row["sources"]),
                               sorted(table.evidence), rtol=1e-6)
    mean = mne.read_source_estimate(out / "full_vae-lh.stc")
    expected = np.mean([r.data for r in refs], axis=0)
    np.testing.assert_allclose(mean.data, expected, rtol=1e-5,
                               atol=1e-6 * np.abs(expected).max())

    out2 = tmp_path / "out2"
    assert main(args[:args.index("--out") + 1] + [str(out2), "--save-epochs"]) == 0
    names = sorted(p.name for p in out2.iterdir())
    assert names == sorted(
        ["full_vae-lh.stc", "full_vae-rh.stc", "summary.json"]
        + [f"epoch{k}-full_vae{x}" for k in range(8) for x in ("-lh.stc", "-rh.stc")])
    for k in (0, 7):
        stc = mne.read_source_estimate(out2 / f"epoch{k}-full_vae-lh.stc")
        assert [list(v) for v in stc.vertices] == [list(v) for v in refs[k].vertices]
        np.testing.assert_allclose(stc.data, refs[k].data, rtol=1e-5,
                                   atol=1e-6 * np.abs(refs[k].data).max())
    assert json.loads((out2 / "summary.json").read_text())["epochs"]["saved"]
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("extra, message", [
    (["--condition", "vis,nope"], "No condition 'nope'"),
    (["--condition", "vis,vis"], "named twice"),
    (["--condition", "all", "--compare", "mxne"], "cannot be combined"),
    (["--condition", "all", "--model", "diag"], "model='full'"),
    (["--condition", "all", "--learn-noise", "type"], "learn_noise"),
    (["--condition", "all", "--save-epochs"], "needs epochs"),
    (["--epochs", "epochs", "--condition", "vis"], "cannot be combined with epochs"),
    (["--epochs", "empty"], "Every epoch was dropped"),
    (["--epochs", "missing-epo.fif"], "does not exist"),
    (["--epochs", "epochs", "--tmin", "5", "--tmax", "6"], "contains no sample"),
])
def test_localize_shared_bad_input(files, shared_files, tmp_path, capsys, extra,
                                   message):
    """Bad joint requests fail before anything is written."""
    args = _shared_args(files, shared_files, tmp_path / "out", *extra)
    if "--epochs" in extra:
        i = args.index("--evoked")
        del args[i:i + 2]
        k = args.index("--epochs") + 1
        args[k] = str(shared_files.get(args[k], tmp_path / args[k]))
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert not _leftovers(tmp_path)


def test_localize_epochs_and_evoked_exclusive(files, shared_files, tmp_path, capsys):
    args = _args(files, tmp_path / "out", "--epochs", str(shared_files["epochs"]))
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_localize_shared_api(files, shared_files, tmp_path):
    """run_localize takes a list of names and mne.Epochs; empty epochs and
    both inputs are refused before work."""
    from vaesource.localize import run_localize

    sim = files["sim"]
    result = run_localize(shared_files["conditions"], sim.forward, sim.noise_cov,
                          tmp_path / "out", condition=["vis", "aud/right"],
                          tmin=TMIN, tmax=TMAX, render=False)
    assert result.kind == "conditions"
    assert result.conditions == ["vis", "aud/right"]
    assert list(result.estimates) == ["vis-full_vae", "aud_right-full_vae"]
    assert len(result.sources) == 2
    assert "one shared support" in result.summary()
    epochs = shared_files["epochs_obj"]
    with pytest.raises(ValueError, match="not both"):
        run_localize(files["evoked"], sim.forward, sim.noise_cov,
                     tmp_path / "x", epochs=epochs, render=False)
    empty = epochs.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        empty.drop(np.arange(len(empty)), verbose=False)
    with pytest.raises(ValueError, match="Every epoch was dropped"):
        run_localize(None, sim.forward, sim.noise_cov, tmp_path / "x",
                     epochs=empty, render=False)
    assert not (tmp_path / "x").exists()
    result = run_localize(None, sim.forward, sim.noise_cov, tmp_path / "ep",
                          epochs=epochs, tmin=TMIN, tmax=TMAX, render=False)
    assert result.kind == "epochs" and result.n_epochs == 8
    assert "8 epochs, one shared support" in result.summary()
    assert len(epochs.times) > 21  # the caller's epochs are not cropped


def test_summary_location_regions(files, tmp_path):
    """summary.json: each source's 95 % location region (size, radius, its
    locations with their probabilities), consistent with one another and
    with the source's own position."""
    out = tmp_path / "out"
    assert main(_args(files, out, "--no-render")) == 0
    row = json.loads((out / "summary.json").read_text())["methods"][0]
    assert row["sources"]
    for source in row["sources"]:
        region = source["region"]
        assert source["region_size"] == len(region) >= 1
        assert source["merged"] >= 1
        prob = [r["probability"] for r in region]
        assert prob == sorted(prob, reverse=True)  # most probable first
        assert sum(prob) >= 0.95 - 1e-3 and all(0 < p <= 1 for p in prob)
        dist = [np.linalg.norm(np.subtract(r["pos_mm"], source["pos_mm"]))
                for r in region]
        assert max(dist) == pytest.approx(source["region_radius_mm"], abs=0.05)

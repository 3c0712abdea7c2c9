"""The offline demo: simulate on the template head, localize, report."""

import os

import pytest

from vaesource.cli import main
from vaesource.demo import run_demo


def test_demo_finds_sources_and_writes_outputs(tmp_path, template_cache):
    out = tmp_path / "demo"
    res = run_demo(out, n_sources=2, snr=10.0, seed=1, cache_dir=template_cache)
    assert set(res.found) == {"full_vae", "mxne"}
    # two well-separated sources at SNR 10: the full VAE finds both, close by
    assert res.found["full_vae"] == 2
    assert res.loc_error_mm["full_vae"] < 15.0
    for key in ("evoked", "full_vae", "mxne"):
        assert res.files[key].is_file()
    assert (out / "truth-lh.stc").is_file()
    if os.environ.get("VAESOURCE_REQUIRE_RENDERING") == "1":
        assert res.rendered  # CI has off-screen OpenGL: the report must exist
    # the full VAE's estimate holds the sources selected by evidence, fewer
    # than the optimum's active locations
    assert res.n_active["full_vae"] < res.n_optimum
    assert f"(selected of {res.n_optimum} at the optimum)" in res.summary()
    if res.rendered:
        html = res.files["report"].read_text()
        assert html.count("data:image/png") >= 3
        assert res.files["comparison"].stat().st_size > 20_000
        assert "which sources are real: full VAE" in html
        assert "credible band" in html
    assert "2 simulated sources" in res.summary()
    # refuses to overwrite, before computing anything
    with pytest.raises(FileExistsError, match="overwrite"):
        run_demo(out, cache_dir=template_cache)
    # replaces the earlier run as a whole: no render of the first run is left
    # next to the second run's files
    res = run_demo(out, n_sources=2, snr=10.0, seed=1, cache_dir=template_cache,
                   overwrite=True, render=False)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["simulated-ave.fif", "template-fwd.fif", "noise-cov.fif"]
        + [f"{m}-{h}.stc" for m in ("full_vae", "mxne", "truth") for h in ("lh", "rh")])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".vaesource")]


def test_demo_cli(tmp_path, capsys, monkeypatch, template_cache):
    monkeypatch.setenv("VAESOURCE_CACHE_DIR", str(template_cache))
    args = ["demo", "--out", str(tmp_path), "--no-render", "--seed", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "full VAE" in out and "MxNE" in out and "wrote evoked" in out
    assert not (tmp_path / "report.html").exists()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "overwrite=True" not in err
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0


def test_demo_cli_evidence_options(tmp_path, capsys, monkeypatch):
    """--min-evidence, --learn-noise, --restarts, --color-by reach run_demo;
    bad values are refused by the parser."""
    import vaesource.demo as demo_module

    seen = {}

    def fake(out, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(demo_module, "run_demo", fake)
    assert main(["demo", "--out", str(tmp_path / "d"), "--min-evidence", "none",
                 "--learn-noise", "channel", "--restarts", "3", "--color-by",
                 "probability", "--seed", "5"]) == 2
    assert "stop here" in capsys.readouterr().err
    assert (seen["min_evidence"], seen["learn_noise"], seen["n_restarts"],
            seen["color_by"], seen["seed"]) == (None, "channel", 3, "probability", 5)
    assert main(["demo", "--out", str(tmp_path / "d"), "--no-render"]) == 2
    assert (seen["min_evidence"], seen["learn_noise"], seen["n_restarts"],
            seen["color_by"]) == ("auto", None, 1, "amplitude")
    with pytest.raises(SystemExit):
        main(["demo", "--min-evidence", "-3"])
    assert "expected a number >= 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="'color_by'"):
        run_demo(tmp_path / "e", color_by="size")
    assert not (tmp_path / "e").exists()

"""Tests of data_fetch, offline: tiny archives and folders built in tmp_path.

MNE's config and data folder are redirected into tmp_path (``_MNE_FAKE_HOME_DIR``
is how MNE's own tests keep ``~/.mne`` and ``~/mne_data`` untouched), so the
user's configuration is never read or written. Real downloads need a network
and are thin calls into :mod:`mne.datasets`; they are not tested here.
"""

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import data_fetch
from data_fetch import _real
from data_fetch._archive import SAMPLE
from data_fetch._cli import main

import conftest
from conftest import requires_testing_data

# read before the mne_home fixture clears VAESOURCE_TESTING_DATA: the default
# (next to the repository) need not hold the data when the variable names it
TESTING_DATA = conftest.testing_data_path()


@pytest.fixture
def mne_home(tmp_path, monkeypatch):
    """Fresh MNE config and data root; returns the data root."""
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "mne_data"
    root.mkdir()
    monkeypatch.setenv("_MNE_FAKE_HOME_DIR", str(home))
    for key in ("MNE_DATASETS_SAMPLE_PATH", "MNE_DATASETS_TESTING_PATH",
                "SUBJECTS_DIR", "VAESOURCE_TESTING_DATA"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MNE_DATA", str(root))
    monkeypatch.setenv("VAESOURCE_NO_DOWNLOAD", "1")
    monkeypatch.setattr(_real, "_network_reachable", _no_network)
    return root


def _no_network(*args, **kwargs):
    raise AssertionError("the network must not be probed when downloads are off")


def _make_tree(base: Path, top: str, files) -> Path:
    for rel in files:
        f = base / top / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"fif")
    return base / top


def _pack(tree_parent: Path, out: Path) -> Path:
    """Archive every entry of ``tree_parent`` (tar.gz or zip by suffix)."""
    if out.suffix == ".zip":
        with zipfile.ZipFile(out, "w") as zf:
            for f in sorted(tree_parent.rglob("*")):
                zf.write(f, f.relative_to(tree_parent).as_posix())
    else:
        with tarfile.open(out, "w:gz") as tf:
            for entry in sorted(tree_parent.iterdir()):
                tf.add(entry, entry.name)
    return out


def _sample_files():
    return [r if r != "subjects/sample" else "subjects/sample/mri/T1.mgz"
            for r in SAMPLE.required]


@pytest.fixture
def sample_archive(tmp_path):
    def make(suffix=".tar.gz", top="MNE-sample-data", files=None):
        src = tmp_path / f"build-{top}{suffix}"
        _make_tree(src, top, _sample_files() if files is None else files)
        return _pack(src, tmp_path / f"sample{suffix}")

    return make


def _left_behind(root: Path):
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_fetch_sample_from_archive(mne_home, sample_archive, suffix):
    import mne

    archive = sample_archive(suffix)
    folder = data_fetch.fetch_sample(download=False, archive=archive)
    assert folder == mne_home / "MNE-sample-data"
    for rel in SAMPLE.required:
        assert (folder / rel).exists()
    assert _left_behind(mne_home) == ["MNE-sample-data"]  # no temporary folder
    # MNE itself now finds it, without downloading
    assert Path(mne.datasets.sample.data_path(download=False)) == folder
    assert data_fetch.fetch_sample(download=False) == folder
    with pytest.raises(FileExistsError, match="already exists"):
        data_fetch.fetch_sample(download=False, archive=archive)


def test_fetch_testing_from_archive_writes_version(mne_home, tmp_path):
    import mne
    from mne.datasets.config import RELEASES

    want = RELEASES["testing"]
    src = tmp_path / "build"
    _make_tree(src, f"mne-testing-data-{want}",
               ["MEG/sample/x.fif", "subjects/sample/bem/y.fif"])
    archive = _pack(src, tmp_path / "testing.tar.gz")
    # a dataset folder without version.txt counts as outdated, i.e. missing
    folder = data_fetch.fetch_testing(mne_home, download=False, archive=archive)
    assert folder == mne_home / "MNE-testing-data"
    assert (folder / "version.txt").read_text().strip() == want
    assert Path(mne.datasets.testing.data_path(path=mne_home, download=False)) == folder
    assert _left_behind(mne_home) == ["MNE-testing-data"]


def test_fetch_testing_rejects_old_version(mne_home, tmp_path):
    src = tmp_path / "build"
    _make_tree(src, "mne-testing-data-0.1", ["MEG/sample/x.fif", "subjects/sample/a"])
    archive = _pack(src, tmp_path / "old.tar.gz")
    with pytest.raises(ValueError, match="version 0.1"):
        data_fetch.fetch_testing(mne_home, download=False, archive=archive)
    assert _left_behind(mne_home) == []


def test_fetch_without_dataset(mne_home, tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        data_fetch.fetch_sample(download=False)
    with pytest.raises(FileNotFoundError, match="not found"):
        data_fetch.fetch_testing(tmp_path / "elsewhere", download=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data_fetch.fetch_sample(download=False, archive=tmp_path / "missing.tar.gz")


def test_bad_archives_leave_nothing(mne_home, sample_archive, tmp_path):
    wrong_top = sample_archive(top="something-else")
    with pytest.raises(ValueError, match="expected one top-level folder"):
        data_fetch.fetch_sample(download=False, archive=wrong_top)
    incomplete = sample_archive(".zip", files=["MEG/sample/sample_audvis-ave.fif"])
    with pytest.raises(ValueError, match="lacks MEG/sample/sample_audvis-cov.fif"):
        data_fetch.fetch_sample(download=False, archive=incomplete)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive at all")
    with pytest.raises(ValueError, match="Cannot read the archive"):
        data_fetch.fetch_sample(download=False, archive=garbage)
    other = tmp_path / "data.rar"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.tar\.gz"):
        data_fetch.fetch_sample(download=False, archive=other)
    assert _left_behind(mne_home) == []


def _tar_with(tmp_path, name, member):
    out = tmp_path / name
    with tarfile.open(out, "w:gz") as tf:
        ok = tarfile.TarInfo("MNE-sample-data/MEG/sample/sample_audvis-ave.fif")
        ok.size = 3
        tf.addfile(ok, io.BytesIO(b"fif"))
        tf.addfile(member, io.BytesIO(b"bad") if member.isfile() else None)
    return out


def test_archive_path_traversal_refused(mne_home, tmp_path):
    evil = tarfile.TarInfo("MNE-sample-data/../../evil.txt")
    evil.size = 3
    archive = _tar_with(tmp_path, "evil.tar.gz", evil)
    with pytest.raises(ValueError, match="outside the dataset folder"):
        data_fetch.fetch_sample(download=False, archive=archive)
    absolute = tarfile.TarInfo("/tmp/evil.txt")
    absolute.size = 3
    with pytest.raises(ValueError, match="outside the dataset folder"):
        data_fetch.fetch_sample(
            download=False, archive=_tar_with(tmp_path, "abs.tar.gz", absolute))
    link = tarfile.TarInfo("MNE-sample-data/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    with pytest.raises(ValueError, match="not a regular file"):
        data_fetch.fetch_sample(
            download=False, archive=_tar_with(tmp_path, "link.tar.gz", link))
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("../evil.txt", "bad")
    with pytest.raises(ValueError, match="outside the dataset folder"):
        data_fetch.fetch_sample(download=False, archive=zpath)
    assert _left_behind(mne_home) == []
    assert not (tmp_path / "evil.txt").exists()


def test_fetch_fsaverage_offline(mne_home, tmp_path):
    subjects_dir = tmp_path / "subjects"
    with pytest.raises(FileNotFoundError, match="fsaverage is incomplete"):
        data_fetch.fetch_fsaverage(subjects_dir, download=False)
    from data_fetch._fetch import _fsaverage_manifest

    for rel in _fsaverage_manifest():
        (subjects_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (subjects_dir / rel).touch()
    assert data_fetch.fetch_fsaverage(subjects_dir, download=False) == (
        subjects_dir / "fsaverage")


# -- real_data ---------------------------------------------------------------

def _local_testing_folder(tmp_path) -> Path:
    folder = tmp_path / "local-testing"
    _make_tree(tmp_path, "local-testing", _real._LOCAL_FILES.values())
    return folder


def test_real_data_falls_back_to_testing(mne_home, tmp_path, monkeypatch):
    folder = _local_testing_folder(tmp_path)
    monkeypatch.setenv("VAESOURCE_TESTING_DATA", str(folder))
    data = data_fetch.real_data()
    assert data.kind == "testing" and data.path == folder
    assert data.evoked_fname == folder / "test-ave.fif.gz"
    assert data.bem_fname == folder / "sample-1280-bem-sol.fif"
    assert data.fwd_fname is None and data.subjects_dir is None
    assert data.subject == "sample" and "Left Auditory" in data.conditions
    with pytest.raises(AttributeError):
        data.kind = "sample"  # frozen
    # download=True cannot override VAESOURCE_NO_DOWNLOAD=1
    assert data_fetch.real_data(download=True).kind == "testing"


def test_real_data_prefers_sample_on_disk(mne_home, sample_archive, tmp_path,
                                          monkeypatch):
    monkeypatch.setenv("VAESOURCE_TESTING_DATA", str(_local_testing_folder(tmp_path)))
    data_fetch.fetch_sample(download=False, archive=sample_archive())
    data = data_fetch.real_data()
    assert data.kind == "sample"
    assert data.fwd_fname.name == "sample_audvis-meg-oct-6-fwd.fif"
    assert data.subjects_dir == mne_home / "MNE-sample-data" / "subjects"
    assert data.bem_fname is None  # not in the tiny archive


def test_real_data_nothing_available(mne_home, tmp_path, monkeypatch):
    monkeypatch.setenv("VAESOURCE_TESTING_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as err:
        data_fetch.real_data()
    msg = str(err.value)
    assert "VAESOURCE_TESTING_DATA" in msg and "vaesource-fetch sample" in msg
    assert "download: disabled" in msg


def test_real_data_download_false_without_env(mne_home, monkeypatch):
    monkeypatch.delenv("VAESOURCE_NO_DOWNLOAD")
    with pytest.raises(FileNotFoundError, match="download: disabled"):
        data_fetch.real_data(download=False)
    # allowed but unreachable: falls through to the (absent) testing data
    monkeypatch.setattr(_real, "_network_reachable", lambda: False)
    with pytest.raises(FileNotFoundError, match="not reachable"):
        data_fetch.real_data()


def test_real_data_does_not_create_mne_data(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("_MNE_FAKE_HOME_DIR", str(home))
    for key in ("MNE_DATA", "MNE_DATASETS_SAMPLE_PATH", "MNE_DATASETS_TESTING_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VAESOURCE_NO_DOWNLOAD", "1")
    monkeypatch.setenv("VAESOURCE_TESTING_DATA", str(_local_testing_folder(tmp_path)))
    assert data_fetch.real_data().kind == "testing"
    assert not (home / "mne_data").exists()


@requires_testing_data
def test_real_data_reads_testing_evoked(mne_home, monkeypatch):
    monkeypatch.setenv("VAESOURCE_TESTING_DATA", str(TESTING_DATA))
    data = data_fetch.real_data()
    aud = data.read_evoked("auditory")
    assert aud.nave == 9  # 3 + 6 trials
    assert data.read_evoked("Right visual").nave == 6
    with pytest.raises(ValueError, match="'condition' parameter"):
        data.read_evoked("smell")


# -- command line ------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--help"], ["sample", "--help"],
                                  ["testing", "--help"], ["fsaverage", "--help"]])
def test_cli_help(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 0
    assert "usage: vaesource-fetch" in capsys.readouterr().out


def test_cli_install_and_errors(mne_home, sample_archive, tmp_path, capsys):
    archive = sample_archive()
    assert main(["sample", "--path", str(mne_home), "--archive", str(archive)]) == 0
    assert capsys.readouterr().out.strip() == str(mne_home / "MNE-sample-data")
    assert main(["sample", "--no-download"]) == 0
    capsys.readouterr()

    assert main(["testing", "--archive", str(tmp_path / "nope.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not exist" in err
    assert main(["fsaverage", "--path", str(tmp_path / "s"), "--no-download"]) == 2
    assert capsys.readouterr().err.startswith("error: fsaverage is incomplete")
    for argv in (["bogus"], [], ["fsaverage", "--archive", str(archive)]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "error:" in capsys.readouterr().err


def test_python_m_data_fetch(tmp_path):
    env = dict(os.environ, _MNE_FAKE_HOME_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "data_fetch", "testing", "--archive",
                          str(tmp_path / "missing.zip")], capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and out.stdout == ""

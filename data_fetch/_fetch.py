"""Fetch MNE's public datasets through MNE-Python's own functions.

The downloads themselves are thin calls into :mod:`mne.datasets` (which
verifies checksums and records the location in MNE's config); they need a
network and are not exercised by the offline tests. What this module adds is
installing from a local archive and clear errors when a dataset is absent.
"""

from __future__ import annotations

from pathlib import Path

from ._archive import SAMPLE, TESTING, DatasetSpec, data_root, install_archive


def _absent(path) -> bool:
    # MNE returns Path("") (== Path(".")) or "" for a missing dataset
    return str(path) in ("", ".")


def _fetch(spec: DatasetSpec, data_path, path, download, archive) -> Path:
    if archive is not None:
        install_archive(archive, spec, path)
        root = data_root(spec, path)
        found = data_path(path=root, download=False, verbose=False)
    else:
        found = data_path(path=path, download=bool(download), verbose=False)
    if _absent(found):
        where = data_root(spec, path) / spec.folder_name
        why = " (or it is older than this MNE-Python accepts)" if spec.versioned else ""
        raise FileNotFoundError(
            f"The MNE {spec.name} dataset was not found in {str(where)!r}{why}. "
            "Download it with download=True (needs a network), or pass "
            "archive= a local copy of its archive."
        )
    return Path(found)


def fetch_sample(path=None, *, download: bool = True, archive=None) -> Path:
    """Folder of the MNE "sample" dataset (about 1.5 GB).

    Parameters
    ----------
    path : path-like | None
        Data root holding ``MNE-sample-data``; None follows MNE
        (``MNE_DATASETS_SAMPLE_PATH``, then ``MNE_DATA``, then
        ``~/mne_data``).
    download : bool
        Download the dataset with :func:`mne.datasets.sample.data_path` if it
        is not on disk. With False a missing dataset raises.
    archive : path-like | None
        A local ``MNE-sample-data-processed.tar.gz`` (or ``.zip``) downloaded
        elsewhere: it is unpacked into the data root first (nothing is
        downloaded).

    Returns
    -------
    data_path : Path
        The ``MNE-sample-data`` folder.

    Raises
    ------
    FileNotFoundError
        If the dataset is absent and not downloaded, or ``archive`` is missing.
    FileExistsError
        If ``archive`` is given but the dataset folder already exists.
    ValueError
        If ``archive`` is not a valid archive of the sample dataset.
    """
    import mne

    return _fetch(SAMPLE, mne.datasets.sample.data_path, path, download, archive)


def fetch_testing(path=None, *, download: bool = True, archive=None) -> Path:
    """Folder of the MNE testing dataset (about 1 GB).

    Parameters
    ----------
    path : path-like | None
        Data root holding ``MNE-testing-data``; None follows MNE
        (``MNE_DATASETS_TESTING_PATH``, then ``MNE_DATA``, then
        ``~/mne_data``).
    download : bool
        Download the dataset with :func:`mne.datasets.testing.data_path` if
        it is absent or older than this MNE-Python wants. With False a
        missing dataset raises.
    archive : path-like | None
        A local ``mne-testing-data-<version>.tar.gz`` (as GitHub serves it):
        it is unpacked into the data root, with the ``version.txt`` that MNE
        checks.

    Returns
    -------
    data_path : Path
        The ``MNE-testing-data`` folder.

    Raises
    ------
    FileNotFoundError
        If the dataset is absent and not downloaded, or ``archive`` is missing.
    FileExistsError
        If ``archive`` is given but the dataset folder already exists.
    ValueError
        If ``archive`` is not a valid archive of the testing dataset.
    """
    import mne

    return _fetch(TESTING, mne.datasets.testing.data_path, path, download, archive)


def _fsaverage_manifest() -> list[str]:
    """Files MNE's fetch_fsaverage provides, relative to the subjects folder."""
    import mne

    here = Path(mne.datasets.__file__).parent / "_fsaverage"
    names = []
    for manifest, prefix in (("root.txt", ""), ("bem.txt", "fsaverage/")):
        fname = here / manifest
        if fname.is_file():
            names += [prefix + line.strip() for line in fname.read_text().splitlines()
                      if line.strip()]
    return names or ["fsaverage/surf/lh.white", "fsaverage/surf/rh.white",
                     "fsaverage/bem/fsaverage-5120-5120-5120-bem-sol.fif"]


def fetch_fsaverage(subjects_dir=None, *, download: bool = True) -> Path:
    """The FreeSurfer ``fsaverage`` subject with MNE's BEM and parcellations.

    Parameters
    ----------
    subjects_dir : path-like | None
        FreeSurfer subjects folder; None follows
        :func:`mne.datasets.fetch_fsaverage` (``SUBJECTS_DIR``, else
        ``<MNE_DATA>/MNE-fsaverage-data``).
    download : bool
        Download missing files with :func:`mne.datasets.fetch_fsaverage`.
        With False, check that every file it would provide is present and
        raise otherwise.

    Returns
    -------
    fs_dir : Path
        ``subjects_dir / "fsaverage"``.

    Raises
    ------
    FileNotFoundError
        If ``download=False`` and files are missing.
    """
    import mne

    if download:
        return Path(mne.datasets.fetch_fsaverage(subjects_dir, verbose=False))
    if subjects_dir is None:
        subjects_dir = mne.get_config("SUBJECTS_DIR") or (
            data_root(None) / "MNE-fsaverage-data"
        )
    subjects_dir = Path(subjects_dir).expanduser().absolute()
    missing = [n for n in _fsaverage_manifest() if not (subjects_dir / n).exists()]
    if missing:
        raise FileNotFoundError(
            f"fsaverage is incomplete in {str(subjects_dir)!r}: {len(missing)} "
            f"files missing (first: {missing[0]}). Use download=True (needs a "
            "network)."
        )
    return subjects_dir / "fsaverage"

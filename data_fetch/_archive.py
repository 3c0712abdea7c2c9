"""Install a dataset from a local archive where MNE-Python looks for it.

Machines without a network can still use MNE's datasets: the user downloads
the archive elsewhere and :func:`install_archive` unpacks it into
``<root>/<folder_name>`` (for instance ``~/mne_data/MNE-sample-data``), the
folder that ``mne.datasets.<name>.data_path(download=False)`` checks. The
archive is unpacked into a temporary folder next to the target and renamed
into place only once it is complete, so an interrupted or rejected archive
never leaves a half-written dataset behind.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

logger = logging.getLogger("data_fetch")


@dataclass(frozen=True)
class DatasetSpec:
    """Where MNE keeps a dataset and how to recognise a complete copy.

    Attributes
    ----------
    name : str
        MNE's dataset name (``"sample"``, ``"testing"``).
    folder_name : str
        Folder inside the data root (MNE's ``folder_name``).
    config_key : str
        MNE config key holding the data root.
    required : tuple of str
        Paths (relative to the dataset folder) an archive must contain.
    top_folder : str
        Regular expression for the archive's top-level folder.
    versioned : bool
        Whether MNE compares a ``version.txt`` in the folder with the
        version it wants (and treats a copy without one as out of date).
    """

    name: str
    folder_name: str
    config_key: str
    required: tuple
    top_folder: str
    versioned: bool = False


SAMPLE = DatasetSpec(
    name="sample",
    folder_name="MNE-sample-data",
    config_key="MNE_DATASETS_SAMPLE_PATH",
    required=(
        "MEG/sample/sample_audvis-ave.fif",
        "MEG/sample/sample_audvis-cov.fif",
        "MEG/sample/sample_audvis_raw-trans.fif",
        "MEG/sample/sample_audvis-meg-oct-6-fwd.fif",
        "subjects/sample",
    ),
    top_folder=r"MNE-sample-data",
)
# the GitHub release archive's folder is "mne-testing-data-<version>";
# MNE renames it to "MNE-testing-data" after downloading
TESTING = DatasetSpec(
    name="testing",
    folder_name="MNE-testing-data",
    config_key="MNE_DATASETS_TESTING_PATH",
    required=("MEG/sample", "subjects/sample"),
    top_folder=r"(?i:mne-testing-data)(-(?P<version>[0-9][0-9.]*))?",
    versioned=True,
)
SPECS = {spec.name: spec for spec in (SAMPLE, TESTING)}


def _archive_kind(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    raise ValueError(
        f"The 'archive' parameter must name a .tar.gz, .tgz, .tar or .zip file, "
        f"got {str(archive)!r}."
    )


def _check_member(name: str, archive: Path) -> PurePosixPath:
    """Refuse absolute paths and ``..`` components (path traversal)."""
    member = PurePosixPath(name.replace("\\", "/"))
    if member.is_absolute() or ".." in member.parts or re.match(r"^[A-Za-z]:", name):
        raise ValueError(
            f"Refusing to extract {str(archive)!r}: member {name!r} would be "
            "written outside the dataset folder."
        )
    return member


def _extract(archive: Path, dest: Path) -> None:
    """Extract every regular file and folder of ``archive`` under ``dest``."""
    if _archive_kind(archive) == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(info.filename, archive)
                # symbolic links are stored with S_IFLNK in the high bits
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ValueError(
                        f"Refusing to extract {str(archive)!r}: member "
                        f"{info.filename!r} is a symbolic link."
                    )
            zf.extractall(dest)
        return
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            _check_member(m.name, archive)
            if not (m.isfile() or m.isdir()):
                raise ValueError(
                    f"Refusing to extract {str(archive)!r}: member {m.name!r} "
                    "is not a regular file or folder (links and devices are "
                    "not allowed)."
                )
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(dest, members=members, **kwargs)


def _find_dataset_root(tmp: Path, spec: DatasetSpec, archive: Path):
    """The extracted folder holding the dataset, and the version in its name."""
    entries = [p for p in tmp.iterdir() if not p.name.startswith(".")]
    tops = [p for p in entries if p.is_dir() and re.fullmatch(spec.top_folder, p.name)]
    if len(tops) == 1:
        match = re.fullmatch(spec.top_folder, tops[0].name)
        version = match.groupdict().get("version") if match else None
        root = tops[0]
    else:
        raise ValueError(
            f"The archive {str(archive)!r} does not look like the MNE "
            f"{spec.name} dataset: expected one top-level folder named like "
            f"{spec.folder_name!r}, found {sorted(p.name for p in entries)}."
        )
    missing = [rel for rel in spec.required if not (root / rel).exists()]
    if missing:
        raise ValueError(
            f"The archive {str(archive)!r} does not look like the MNE "
            f"{spec.name} dataset: {root.name}/ lacks {', '.join(missing)}."
        )
    return root, version


def _write_version(root: Path, spec: DatasetSpec, version: str | None) -> None:
    """Write the ``version.txt`` MNE compares with the version it wants."""
    from mne.datasets.config import RELEASES

    from vaesource._mne_compat import compare_version

    want = RELEASES.get(spec.name)
    fname = root / "version.txt"
    if fname.is_file():
        have = fname.read_text().strip().splitlines()[0:1]
        version = have[0].strip() if have else version
    if version is None:
        # a repackaged copy without a version: assume it is the one this
        # MNE-Python wants (it cannot check anything else offline)
        logger.info("No dataset version in the archive; assuming %s", want)
        version = want
    if want is not None and compare_version(want, ">", version):
        raise ValueError(
            f"The archive holds version {version} of the MNE {spec.name} dataset "
            f"but this MNE-Python (which treats older copies as missing) needs "
            f"version {want} or newer."
        )
    fname.write_text(f"{version}\n")


def data_root(spec: DatasetSpec | None, path=None) -> Path:
    """The folder that holds MNE's dataset folders (``~/mne_data`` by default).

    Parameters
    ----------
    spec : DatasetSpec | None
        The dataset (None: no dataset-specific config key).
    path : path-like | None
        Explicit root; None follows MNE: the dataset's config key, then
        ``MNE_DATA``, then ``~/mne_data``.

    Returns
    -------
    root : Path
        The root folder (it may not exist yet when given explicitly).
    """
    import mne

    if path is not None:
        return Path(path).expanduser()
    configured = (spec and mne.get_config(spec.config_key)) or mne.get_config(
        "MNE_DATA"
    )
    if configured:
        return Path(configured).expanduser()
    return Path(mne.datasets.default_path(verbose=False))


def install_archive(archive, spec: DatasetSpec, path=None) -> Path:
    """Unpack a local archive of an MNE dataset where MNE looks for it.

    Parameters
    ----------
    archive : path-like
        ``.tar.gz`` / ``.tgz`` / ``.tar`` / ``.zip`` file of the dataset, as
        MNE downloads it (one top-level folder, e.g. ``MNE-sample-data/``).
    spec : DatasetSpec
        The dataset the archive must contain.
    path : path-like | None
        Data root (see :func:`data_root`).

    Returns
    -------
    folder : Path
        ``<root>/<spec.folder_name>``, complete.

    Raises
    ------
    FileNotFoundError
        If ``archive`` does not exist.
    FileExistsError
        If the dataset folder already exists (remove it to replace it).
    ValueError
        If the archive is not a supported format, lacks the dataset's top
        folder or files, is older than MNE-Python requires, or holds members
        that would be written outside the target (path traversal, links).
    """
    archive = Path(archive).expanduser()
    if not archive.is_file():
        raise FileNotFoundError(f"The archive {str(archive)!r} does not exist.")
    _archive_kind(archive)
    root = data_root(spec, path)
    final = root / spec.folder_name
    if final.exists():
        raise FileExistsError(
            f"{str(final)!r} already exists; remove it first to install the "
            f"{spec.name} dataset from {str(archive)!r}."
        )
    root.mkdir(parents=True, exist_ok=True)
    # same file system as the target, so the final rename is atomic
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.folder_name}-partial-", dir=root))
    try:
        try:
            _extract(archive, tmp)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
            raise ValueError(
                f"Cannot read the archive {str(archive)!r}: {err}"
            ) from None
        src, version = _find_dataset_root(tmp, spec, archive)
        if spec.versioned:
            _write_version(src, spec, version)
        os.replace(src, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("Installed the %s dataset in %s", spec.name, final)
    return final

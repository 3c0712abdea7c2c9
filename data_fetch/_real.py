"""The real recordings of MNE's sample subject, wherever they can be found.

:func:`real_data` looks, in order, for the full MNE sample dataset on disk,
then (when allowed and a network is reachable) downloads it, and otherwise
falls back to the small testing recordings of the same subject, so that
tutorials and tests run offline.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._archive import SAMPLE, TESTING

logger = logging.getLogger("data_fetch")

#: Environment variable that forbids downloads when set to "1" (tests, CI).
NO_DOWNLOAD_ENV = "VAESOURCE_NO_DOWNLOAD"
#: Environment variable naming a folder of the small real test recordings.
TESTING_DATA_ENV = "VAESOURCE_TESTING_DATA"

CONDITIONS = ("Left Auditory", "Right Auditory", "Left visual", "Right visual")
_MODALITIES = {
    "auditory": ("Left Auditory", "Right Auditory"),
    "visual": ("Left visual", "Right visual"),
}
# files of the VAESOURCE_TESTING_DATA folder (MNE's io test data + a few
# files of the MNE testing dataset)
_LOCAL_FILES = dict(
    evoked_fname="test-ave.fif.gz",
    cov_fname="test-cov.fif",
    trans_fname="sample_audvis_trunc-trans.fif",
    bem_fname="sample-1280-bem-sol.fif",
)
_TESTING_FILES = dict(
    evoked_fname="MEG/sample/sample_audvis_trunc-ave.fif",
    cov_fname="MEG/sample/sample_audvis_trunc-cov.fif",
    trans_fname="MEG/sample/sample_audvis_trunc-trans.fif",
    bem_fname="subjects/sample/bem/sample-1280-bem-sol.fif",
)
_SAMPLE_FILES = dict(
    evoked_fname="MEG/sample/sample_audvis-ave.fif",
    cov_fname="MEG/sample/sample_audvis-cov.fif",
    trans_fname="MEG/sample/sample_audvis_raw-trans.fif",
    bem_fname="subjects/sample/bem/sample-5120-bem-sol.fif",
    fwd_fname="MEG/sample/sample_audvis-meg-oct-6-fwd.fif",
)
_DOWNLOAD_HOST = ("osf.io", 443)  # where MNE downloads the sample dataset


@dataclass(frozen=True)
class RealData:
    """Files of a real auditory/visual recording of MNE's sample subject.

    Attributes
    ----------
    kind : ``"sample"`` | ``"testing"``
        ``"sample"``: the full MNE sample dataset (cortical surfaces and a
        precomputed oct-6 forward); ``"testing"``: small test recordings of
        the same session (averages of a few trials, no cortical surface),
        for which a volume source space inside the BEM is the usual choice.
    path : Path
        The folder the files were found in.
    source : str
        Where they came from, in words (for messages).
    evoked_fname : Path
        Evoked responses (four conditions, see ``conditions``).
    cov_fname : Path
        Noise covariance of single trials.
    trans_fname : Path
        Head -> MRI transform of the session.
    bem_fname : Path | None
        BEM solution: single-layer 1280 triangles for the testing data,
        ``sample-5120-bem-sol.fif`` for the sample dataset (None if absent).
    fwd_fname : Path | None
        The sample dataset's MEG forward on the oct-6 cortical source space;
        None for the testing data.
    subjects_dir : Path | None
        FreeSurfer subjects folder (None when there is none).
    subject : str
        FreeSurfer subject name, ``"sample"``.
    conditions : tuple of str
        Condition names in ``evoked_fname``.
    """

    kind: Literal["sample", "testing"]
    path: Path
    source: str
    evoked_fname: Path
    cov_fname: Path
    trans_fname: Path
    bem_fname: Path | None = None
    fwd_fname: Path | None = None
    subjects_dir: Path | None = None
    subject: str = "sample"
    conditions: tuple = CONDITIONS

    def read_evoked(self, condition: str = "auditory", *, baseline=(None, 0)):
        """Read one condition, or the nave-weighted mean of a modality.

        Parameters
        ----------
        condition : str
            One of ``conditions``, or ``"auditory"`` / ``"visual"`` for the
            left and right conditions of a modality combined with
            ``weights="nave"`` (the average of all their trials).
        baseline : tuple | None
            Baseline correction, as in :func:`mne.read_evokeds`.

        Returns
        -------
        evoked : mne.Evoked
        """
        import mne

        names = _MODALITIES.get(condition, (condition,))
        for name in names:
            if name not in self.conditions:
                allowed = ", ".join(repr(c) for c in (*self.conditions, *_MODALITIES))
                raise ValueError(
                    f"Invalid value for the 'condition' parameter. Allowed values "
                    f"are {allowed}, but got {condition!r} instead."
                )
        evokeds = [
            mne.read_evokeds(self.evoked_fname, condition=name, baseline=baseline,
                             verbose=False)
            for name in names
        ]
        if len(evokeds) == 1:
            return evokeds[0]
        return mne.combine_evoked(evokeds, weights="nave")


def _downloads_allowed(download) -> bool:
    if os.environ.get(NO_DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes"):
        return False
    return download is None or bool(download)


def _network_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(_DOWNLOAD_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def _complete(folder: Path, files: dict) -> list[str]:
    return [rel for rel in files.values() if not (folder / rel).exists()]


def _from_sample(folder: Path) -> RealData:
    files = {k: folder / v for k, v in _SAMPLE_FILES.items()}
    if not files["bem_fname"].is_file():
        files["bem_fname"] = None
    return RealData(kind="sample", path=folder, source="MNE sample dataset",
                    subjects_dir=folder / "subjects", **files)


def _mne_lookup_would_create_root(spec) -> bool:
    """Whether asking MNE would create ``~/mne_data`` just to look in it."""
    import mne

    if mne.get_config(spec.config_key) or mne.get_config("MNE_DATA"):
        return False
    # MNE's default root (its tests redirect "~" with _MNE_FAKE_HOME_DIR)
    home = Path(os.getenv("_MNE_FAKE_HOME_DIR", "~")).expanduser()
    return not (home / "mne_data").is_dir()


def _sample_on_disk(reasons: list) -> RealData | None:
    import mne

    if _mne_lookup_would_create_root(SAMPLE):
        reasons.append("MNE sample dataset: no MNE data folder")
        return None
    try:
        # update_path=False: looking must not write MNE's config
        folder = mne.datasets.sample.data_path(download=False, update_path=False,
                                               verbose=False)
    except Exception as err:  # a configured path that does not exist, ...
        reasons.append(f"MNE sample dataset: {err}")
        return None
    if str(folder) in ("", "."):
        reasons.append("MNE sample dataset: not on disk")
        return None
    missing = _complete(Path(folder), {k: v for k, v in _SAMPLE_FILES.items()
                                       if k != "bem_fname"})
    if missing:
        reasons.append(f"MNE sample dataset in {folder}: lacks {', '.join(missing)}")
        return None
    return _from_sample(Path(folder))


def _testing_on_disk(reasons: list) -> RealData | None:
    import mne

    env = os.environ.get(TESTING_DATA_ENV)
    if env:
        folder = Path(env).expanduser()
        missing = _complete(folder, _LOCAL_FILES)
        if not missing:
            return RealData(
                kind="testing", path=folder, source=f"${TESTING_DATA_ENV}",
                **{k: folder / v for k, v in _LOCAL_FILES.items()},
            )
        reasons.append(f"${TESTING_DATA_ENV}={env}: lacks {', '.join(missing)}")
    else:
        reasons.append(f"${TESTING_DATA_ENV}: not set")
    if _mne_lookup_would_create_root(TESTING):
        reasons.append("MNE testing dataset: no MNE data folder")
        return None
    try:
        folder = mne.datasets.testing.data_path(download=False, update_path=False,
                                                verbose=False)
    except Exception as err:
        reasons.append(f"MNE testing dataset: {err}")
        return None
    if str(folder) in ("", "."):
        reasons.append("MNE testing dataset: not on disk (or out of date)")
        return None
    folder = Path(folder)
    missing = _complete(folder, _TESTING_FILES)
    if missing:
        reasons.append(f"MNE testing dataset in {folder}: lacks {', '.join(missing)}")
        return None
    return RealData(
        kind="testing", path=folder, source="MNE testing dataset",
        subjects_dir=folder / "subjects",
        **{k: folder / v for k, v in _TESTING_FILES.items()},
    )


def real_data(*, download: bool | None = None) -> RealData:
    """Find (or fetch) real recordings of MNE's sample subject.

    The order is:

    1. the full MNE sample dataset, if it is already on disk (where
       :func:`mne.datasets.sample.data_path` looks);
    2. if downloads are allowed and the download server answers within
       3 s, the sample dataset, downloaded by MNE (about 1.5 GB);
    3. the small testing recordings: the folder named by the environment
       variable ``VAESOURCE_TESTING_DATA`` (``test-ave.fif.gz``,
       ``test-cov.fif``, ``sample_audvis_trunc-trans.fif``,
       ``sample-1280-bem-sol.fif``), else the MNE testing dataset if it is
       on disk.

    Parameters
    ----------
    download : bool | None
        Whether step 2 may download. None (default) allows it unless the
        environment variable ``VAESOURCE_NO_DOWNLOAD=1`` is set, which always
        forbids downloads (tests and CI set it).

    Returns
    -------
    data : RealData
        The file names and what kind of data they are.

    Raises
    ------
    FileNotFoundError
        If none of these is available; the message lists what was tried.
    """
    reasons: list[str] = []
    found = _sample_on_disk(reasons)
    if found is not None:
        return found
    if not _downloads_allowed(download):
        reasons.append("download: disabled (download=False or "
                       f"{NO_DOWNLOAD_ENV}=1)")
    elif not _network_reachable():
        reasons.append(f"download: {_DOWNLOAD_HOST[0]} not reachable")
    else:
        import mne

        # the download itself is MNE's (checksummed, resumable); not tested
        # offline
        logger.info("Downloading the MNE sample dataset (about 1.5 GB) ...")
        folder = mne.datasets.sample.data_path(download=True, verbose=False)
        return _from_sample(Path(folder))
    found = _testing_on_disk(reasons)
    if found is not None:
        logger.info("Using the %s (small testing recordings)", found.source)
        return found
    tried = "\n".join(f"  - {r}" for r in reasons)
    raise FileNotFoundError(
        "No real data of the MNE sample subject found. Tried:\n"
        f"{tried}\n"
        "Download the sample dataset (`vaesource-fetch sample`, needs a network; "
        "or `vaesource-fetch sample --archive MNE-sample-data-processed.tar.gz` "
        "with a copy downloaded elsewhere), or set "
        f"{TESTING_DATA_ENV} to a folder with the small test files."
    )

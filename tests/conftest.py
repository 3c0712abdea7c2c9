"""Shared pytest fixtures: location of the real MEG/EEG test data.

The data (MNE's "sample" subject recordings and head models, see
``../shared/mne-testing-data/README.md``) are found through the
``VAESOURCE_TESTING_DATA`` environment variable, by default
``../shared/mne-testing-data`` next to the repository. Tests that need them
use the ``testing_data`` fixture or the ``requires_testing_data`` marker and
are skipped cleanly when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = _REPO_ROOT.parent / "shared" / "mne-testing-data"


def testing_data_path() -> Path:
    """Folder of the real test data (it may not exist)."""
    return Path(os.environ.get("VAESOURCE_TESTING_DATA", _DEFAULT_DATA))


def has_testing_data() -> bool:
    """Whether the real test data are available."""
    return (testing_data_path() / "test-ave.fif.gz").is_file()


requires_testing_data = pytest.mark.skipif(
    not has_testing_data(),
    reason=f"MNE testing data not found in {testing_data_path()} "
    "(set VAESOURCE_TESTING_DATA)",
)


@pytest.fixture(scope="session")
def testing_data() -> Path:
    """Path of the real MEG/EEG test data; skips the test when absent."""
    if not has_testing_data():
        pytest.skip(
            f"MNE testing data not found in {testing_data_path()} "
            "(set VAESOURCE_TESTING_DATA)"
        )
    return testing_data_path()


@pytest.fixture(scope="session")
def template_cache(tmp_path_factory) -> Path:
    """A fresh cache folder for the template head, shared by the session.

    Tests never touch the user's cache: the first test that needs the
    template builds it here (a few seconds), later ones load it.
    """
    return tmp_path_factory.mktemp("vaesource-cache")


@pytest.fixture(scope="session")
def heads(template_cache):
    """The MEG template heads ``(ico3, ico4)``: inversion and simulation grids."""
    from vaesource.datasets import template

    return (
        template("ico3", sensors="meg", cache_dir=template_cache),
        template("ico4", sensors="meg", cache_dir=template_cache),
    )


@pytest.fixture(scope="session")
def small_template(template_cache):
    """The ico3 template with MEG and EEG (1284 sources, 306 + 86 channels)."""
    from vaesource.datasets import template

    return template("ico3", sensors="meg+eeg", cache_dir=template_cache)


@pytest.fixture(scope="session")
def rendering():
    """Off-screen OpenGL for the 3-D renders: skip the test without it, or
    fail when ``VAESOURCE_REQUIRE_RENDERING=1`` (as in CI)."""
    from vaesource.viz._scene import _rendering_available

    ok, why = _rendering_available()
    if not ok:
        if os.environ.get("VAESOURCE_REQUIRE_RENDERING") == "1":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="session")
def real_problem(testing_data):
    """MNE's sample subject: a 7 mm volume grid inside the inner skull and a
    single-layer BEM forward of the 306 MEG channels (built once per session,
    under a minute). The left and right conditions of each modality are
    averaged (nave 9 and 12: the test file's averages hold only 3 to 6 trials
    each)."""
    import mne

    bem = mne.read_bem_solution(testing_data / "sample-1280-bem-sol.fif", verbose=False)
    src = mne.setup_volume_source_space(None, pos=7.0, bem=bem, verbose=False)
    evokeds = mne.read_evokeds(
        testing_data / "test-ave.fif.gz", baseline=(None, 0), verbose=False
    )
    evokeds = [ev.pick("meg") for ev in evokeds]
    fwd = mne.make_forward_solution(
        evokeds[0].info, testing_data / "sample_audvis_trunc-trans.fif", src, bem,
        meg=True, eeg=False, verbose=False,
    )
    cov = mne.read_cov(testing_data / "test-cov.fif", verbose=False)
    aud = mne.combine_evoked(evokeds[:2], weights="nave")
    vis = mne.combine_evoked(evokeds[2:], weights="nave")
    return dict(fwd=fwd, cov=cov, auditory=aud, visual=vis)

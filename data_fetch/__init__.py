"""Download, or install from a local archive, the public MNE datasets.

``data_fetch`` goes through MNE-Python's own dataset functions
(:mod:`mne.datasets`), so the data land where MNE and its tutorials expect
them. Offline machines can install an archive downloaded elsewhere
(``archive=``). :func:`real_data` finds real recordings of MNE's sample
subject for tutorials and tests, falling back to small local test files.

Command line: ``vaesource-fetch {sample,testing,fsaverage}`` (or
``python -m data_fetch ...``).
"""

from ._archive import install_archive
from ._fetch import fetch_fsaverage, fetch_sample, fetch_testing
from ._real import RealData, real_data

__all__ = [
    "RealData",
    "fetch_fsaverage",
    "fetch_sample",
    "fetch_testing",
    "install_archive",
    "real_data",
]

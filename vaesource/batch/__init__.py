"""A study: many subjects localized as one batch, here or on a Dask cluster.

:func:`run_batch` is what ``vaesource batch`` runs. Its subjects come from
a manifest (:func:`read_manifest`) or a BIDS derivatives tree written by
MNE-BIDS-Pipeline (:func:`find_bids_subjects`); each is one task that
reads its own files and writes ``OUT/<subject>/`` as ``vaesource localize``
does, on joblib workers or an existing Dask cluster. ``OUT/batch.json``
records each subject's status and the hash of its inputs, so a rerun skips
what is done; the group step (``group.py``) then reads the subjects'
folders.

- ``_inputs.py``: the subjects (manifest, BIDS discovery);
- ``_task.py``: one subject's task, what a worker runs;
- ``_run.py``: the batch: backends, ``batch.json``, resuming.
"""

from ._inputs import Subject, find_bids_subjects, read_manifest
from ._run import BATCH_FILE, BatchResult, run_batch

__all__ = [
    "BatchResult",
    "Subject",
    "find_bids_subjects",
    "read_manifest",
    "run_batch",
]

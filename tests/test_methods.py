"""The registry of methods: one name per method, read by every consumer."""

import sys

import mne.inverse_sparse
import pytest

from vaesource import _methods, solvers
from vaesource._methods import (
    ALIASES,
    COMPARED,
    METHODS,
    PAPER_MODELS,
    VAE_MODELS,
    canonical,
    labels,
)


def test_registry_solvers_exist():
    for m in METHODS.values():
        home = mne.inverse_sparse if m.kind == "mne" else solvers
        assert callable(getattr(home, m.solver)), m.name
        assert m.ours == (m.kind != "mne")
        assert (m.model is not None) == (m.kind == "vae")


def test_registry_names():
    # the names written in fig2.csv and cortical.csv
    assert PAPER_MODELS == ("full_vae", "diag_vae", "autoencoder", "group_lasso")
    assert COMPARED == ("full_vae", "diag_vae", "autoencoder", "gamma_map",
                        "mxne", "irmxne")
    assert VAE_MODELS == {"full": "full_vae", "diag": "diag_vae",
                          "ae": "autoencoder"}
    assert canonical("ae") == "autoencoder" and canonical("mxne") == "mxne"
    assert set(ALIASES.values()) <= set(METHODS)
    assert not set(ALIASES) & set(METHODS)
    assert labels("bench_label")["gamma_map"] == "gamma-MAP (MNE)"


@pytest.mark.parametrize("module, names", [
    ("vaesource.inverse", ("MODELS",)),
    ("vaesource.compare", ("METHODS",)),
    ("vaesource.localize", ("VAE_METHODS", "PEERS", "LABELS")),
    ("vaesource.benchmark.fig2", ("MODELS", "MODEL_LABELS")),
    ("vaesource.benchmark.cortical", ("METHODS", "METHOD_LABELS")),
    ("vaesource.benchmark.speed", ("MODELS",)),
    ("vaesource.demo", ("METHODS", "LABELS")),
])
def test_consumers_use_registry_names(module, names):
    __import__(module)
    mod = sys.modules[module]
    for name in names:
        value = getattr(mod, name)
        keys = value.values() if name in ("VAE_METHODS",) else value
        for key in keys:
            if module == "vaesource.inverse":
                assert key in VAE_MODELS
            elif key != "full_vae_optimum":
                assert key in METHODS, (module, name, key)


def test_labels_by_context():
    from vaesource.benchmark.cortical import METHOD_LABELS
    from vaesource.benchmark.fig2 import MODEL_LABELS
    from vaesource.localize import LABELS

    assert MODEL_LABELS["autoencoder"] == "autoencoder (h = log)"
    assert MODEL_LABELS["full_vae"] == "full-covariance VAE"
    assert METHOD_LABELS["mxne"] == "MxNE (MNE)"
    assert LABELS["mxne"] == "MxNE"
    assert _methods.METHODS["group_lasso"].short == "GL"

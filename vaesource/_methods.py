"""The one registry of localization methods: names, labels, solvers.

Every consumer (the inverse, :func:`vaesource.compare.compare`, the commands,
the benchmarks, the figures) reads its method names and labels here; a new
method is added here first. The name of a method is the same everywhere in
code and in the files the benchmarks write (``fig2.csv``, ``cortical.csv``).

``"ae"`` is the short spelling of the autoencoder as a *model option*
(``apply_vae_inverse(model="ae")``, ``vaesource localize --model ae``), like
``"full"`` and ``"diag"``; as a method name it is an accepted alias of
``"autoencoder"`` (:func:`canonical`).

This module imports nothing from vaesource: it sits at the lowest layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Method:
    """One localization method.

    Attributes
    ----------
    name : str
        The method's one name in code and in the benchmarks' CSV files.
    label : str
        Label in logs, reports and the commands' figures.
    figure_label : str
        Label in the paper's figure 2 (:mod:`vaesource.benchmark.fig2`).
    bench_label : str
        Label in the cortical benchmark's figure, where MNE's solvers are
        marked as such.
    short : str
        Abbreviation in tables.
    kind : ``"vae"`` | ``"baseline"`` | ``"mne"``
        One of our VAE models, the paper's group-lasso baseline (ours too) or
        a peer solver of MNE-Python.
    solver : str
        The kernel: a function of :mod:`vaesource.solvers`, or of
        :mod:`mne.inverse_sparse` for MNE's peers.
    model : str | None
        The ``model`` option of :func:`vaesource.apply_vae_inverse` that runs
        it (VAE models only).
    """

    name: str
    label: str
    figure_label: str
    bench_label: str
    short: str
    kind: Literal["vae", "baseline", "mne"]
    solver: str
    model: str | None = None

    @property
    def ours(self) -> bool:
        """True for vaesource's own methods, False for MNE's peers."""
        return self.kind != "mne"


_REGISTRY = (
    Method("full_vae", "full VAE", "full-covariance VAE", "full VAE", "full",
           "vae", "full_vae", "full"),
    Method("diag_vae", "diagonal VAE", "diagonal VAE", "diagonal VAE", "diag",
           "vae", "diag_vae", "diag"),
    Method("autoencoder", "autoencoder", "autoencoder (h = log)", "autoencoder",
           "AE", "vae", "autoencoder", "ae"),
    Method("group_lasso", "group lasso", "group lasso", "group lasso", "GL",
           "baseline", "group_lasso"),
    Method("gamma_map", "gamma-MAP", "gamma-MAP", "gamma-MAP (MNE)", "gamma-MAP",
           "mne", "gamma_map"),
    Method("mxne", "MxNE", "MxNE", "MxNE (MNE)", "MxNE", "mne", "mixed_norm"),
    Method("irmxne", "irMxNE", "irMxNE", "irMxNE (MNE)", "irMxNE", "mne",
           "mixed_norm"),
)

#: Every method by name, in the order of the paper's figure 2 then MNE's.
METHODS = {m.name: m for m in _REGISTRY}
#: Other spellings accepted for a method name.
ALIASES = {"ae": "autoencoder"}
#: The paper's four models, in the order of its figure 2.
PAPER_MODELS = tuple(m.name for m in _REGISTRY if m.kind in ("vae", "baseline"))
#: What :func:`vaesource.compare.compare` runs on MNE objects: our VAE
#: models and MNE's peers.
COMPARED = tuple(m.name for m in _REGISTRY if m.kind in ("vae", "mne"))
#: ``apply_vae_inverse``'s ``model`` option -> method name.
VAE_MODELS = {m.model: m.name for m in _REGISTRY if m.model is not None}


def canonical(name):
    """The method's one name for ``name`` or one of its aliases (else ``name``)."""
    return ALIASES.get(name, name) if isinstance(name, str) else name


def labels(field="label"):
    """``{name: label}`` for every method, with the labels of ``field``."""
    return {m.name: getattr(m, field) for m in _REGISTRY}

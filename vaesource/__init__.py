"""vaesource: sparse MEG/EEG source localization with full-covariance VAEs.

- :func:`apply_vae_inverse`: the VAE inverse on MNE objects (like
  ``mne.inverse_sparse.gamma_map``); :func:`compare` runs it next to MxNE,
  irMxNE and gamma-MAP.
- :func:`make_vae_operator`, :func:`apply_vae_operator`,
  :func:`apply_vae_operator_epochs`: prepare once, then localize evoked
  responses, conditions with one shared support, or epochs.
- :func:`credible_interval` and :mod:`vaesource.evidence`: which sources
  are real (evidence, inclusion probability and posterior uncertainty of
  each source of a full-VAE estimate).
- :mod:`vaesource.solvers`: array-level solvers on ``(M, G)``.
- :mod:`vaesource.forward`, :mod:`vaesource.datasets`: lead fields, the
  Sarvas sphere model and the offline template head.
- :mod:`vaesource.simulation`, :mod:`vaesource.metrics`,
  :mod:`vaesource.benchmark`, :mod:`vaesource.viz`.
"""

__version__ = "0.1.0.dev0"

from .compare import compare
from .evidence import credible_interval
from .inverse import (
    VAEOperator,
    apply_vae_inverse,
    apply_vae_operator,
    apply_vae_operator_epochs,
    make_vae_operator,
)

__all__ = [
    "VAEOperator",
    "apply_vae_inverse",
    "apply_vae_operator",
    "apply_vae_operator_epochs",
    "compare",
    "credible_interval",
    "make_vae_operator",
    "__version__",
]

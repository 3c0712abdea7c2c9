"""vaesource: sparse MEG/EEG source localization with full-covariance VAEs.

- :func:`apply_vae_inverse`: the VAE inverse on MNE objects (like
  ``mne.inverse_sparse.gamma_map``); :func:`compare` runs it next to MxNE,
  irMxNE and gamma-MAP.
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
from .inverse import apply_vae_inverse

__all__ = ["apply_vae_inverse", "compare", "credible_interval", "__version__"]

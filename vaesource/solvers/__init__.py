"""Array-level solvers on ``(M, G)``: no MNE objects here.

All of them estimate a row-sparse ``X`` (n_sources, n_times) from data
``M`` (n_sensors, n_times) and a gain / dictionary ``G`` (n_sensors,
n_sources) and return a :class:`SolverResult`.
"""

from ._common import alpha_max
from ._result import SolverResult, VAEParameters
from ._select import auto_min_evidence, inclusion_probability
from .autoencoder import autoencoder
from .energy import ae_energy, cost_diag, cost_full, vae_energy
from .group_lasso import group_lasso
from .joint import joint_full_vae
from .vae import diag_vae, full_vae

__all__ = [
    "SolverResult",
    "VAEParameters",
    "ae_energy",
    "alpha_max",
    "auto_min_evidence",
    "autoencoder",
    "cost_diag",
    "cost_full",
    "diag_vae",
    "full_vae",
    "group_lasso",
    "inclusion_probability",
    "joint_full_vae",
    "vae_energy",
]

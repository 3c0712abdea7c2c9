"""Array-level solvers on ``(M, G)``: no MNE objects here.

All of them estimate a row-sparse ``X`` (n_sources, n_times) from data
``M`` (n_sensors, n_times) and a gain / dictionary ``G`` (n_sensors,
n_sources) and return a :class:`SolverResult`.
"""

from ._common import alpha_max
from ._result import SolverResult, VAEParameters

__all__ = ["SolverResult", "VAEParameters", "alpha_max"]

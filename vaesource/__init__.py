"""vaesource: sparse MEG/EEG source localization with full-covariance VAEs.

The array-level solvers live in :mod:`vaesource.solvers`; simulated problems
(including the paper's benchmark) in :mod:`vaesource.simulation`.
"""

__version__ = "0.1.0.dev0"

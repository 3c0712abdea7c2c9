"""Simulated data with a known truth.

- :mod:`~vaesource.simulation.paper`: the paper's simultaneous sparse
  approximation problems (:func:`paper_problem`, figure 2), on arrays;
- :mod:`~vaesource.simulation.cortical`: evoked responses of sparse cortical
  dipoles on the template head (:func:`cortical_evoked`), as MNE objects.
"""

from .cortical import CorticalSettings, CorticalSimulation, cortical_evoked
from .paper import NOISELESS_GAMMA, SETTINGS, PaperProblem, paper_problem

__all__ = ["PaperProblem", "paper_problem", "CorticalSettings", "CorticalSimulation",
           "cortical_evoked"]

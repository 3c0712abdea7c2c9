"""Figures: cortex and glass-brain renders (pyvista), curves (matplotlib), reports.

The 3-D renders are made off screen and return the pyvista ``Plotter``
(never shown; :func:`as_figure` turns one into a matplotlib figure to
show); the matplotlib functions return the figure. Both accept ``fname``
to write a PNG.
"""

from ._scene import as_figure, world_to_pixel
from .brain import plot_comparison, plot_sources
from .curves import plot_success_curves
from .diagnostics import plot_convergence, plot_localization_errors
from .evidence import plot_evidence
from .report import make_report
from .timecourses import plot_time_courses
from .volume import plot_volume_sources

__all__ = [
    "as_figure",
    "make_report",
    "plot_comparison",
    "plot_convergence",
    "plot_evidence",
    "plot_localization_errors",
    "plot_sources",
    "plot_success_curves",
    "plot_time_courses",
    "plot_volume_sources",
    "world_to_pixel",
]

"""Figures: recovery curves (matplotlib); cortex renders follow."""

from .curves import plot_success_curves

__all__ = ["plot_success_curves"]

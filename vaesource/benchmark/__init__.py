"""Benchmarks: the paper's figure 2 sweep (more follow)."""

from .fig2 import MODELS, PAPER_R, QUICK_R, Fig2Result, run_fig2, run_trial

__all__ = ["MODELS", "PAPER_R", "QUICK_R", "Fig2Result", "run_fig2", "run_trial"]

"""Matplotlib figures of benchmark outcomes."""

from __future__ import annotations

import numpy as np

from .._docs import fill_doc
from .._methods import labels
from ..utils import _pyplot

_LABELS = labels("figure_label")
# Curves that coincide (the diagonal VAE and the autoencoder often do) must
# stay visible: each model has its own dash pattern and marker, and a large
# hollow marker under a small filled one shows both.
_STYLE = {
    "full_vae": dict(color="#c0392b", marker="o", ms=4, ls="-", lw=1.8,
                     label=_LABELS["full_vae"]),
    "diag_vae": dict(color="#5dade2", marker="s", ms=7.5, ls="-", lw=3.2,
                     mfc="none", mec="#1f618d", mew=1.3, label=_LABELS["diag_vae"]),
    "autoencoder": dict(color="#6c3483", marker="^", ms=4, ls=(0, (3, 1.5)),
                        lw=1.4, label=_LABELS["autoencoder"]),
    "group_lasso": dict(color="#7f8c8d", marker="D", ms=4, ls=(0, (1, 1.5)),
                        lw=1.6, label=_LABELS["group_lasso"]),
}
_TITLES = {
    "unit": "(a) unit-norm rows",
    "jeffreys": "(b) Jeffreys-scaled rows",
    "meg": "(c) MEG lead field",
    "noisy": "(d) unit rows, 20 dB noise",
}


@fill_doc
def plot_success_curves(rates, fname=None, *, n_sensors=100):
    """Success rate against the number of non-zero rows, one panel per setting.

    Parameters
    ----------
    rates : dict
        ``rates[setting][model] = (r_values, success_rates, n_trials)`` as
        returned by :meth:`vaesource.benchmark.Fig2Result.success_rates`.
    %(figure_fname)s
    n_sensors : int
        Drawn as the limit ``r = d`` of any algorithm (a dotted line,
        labelled).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    plt = _pyplot(fname)

    settings = list(rates)
    fig, axes = plt.subplots(
        1, len(settings), figsize=(3.6 * len(settings) + 0.4, 3.6), sharey=True,
        squeeze=False, layout="constrained",
    )
    for ax, setting in zip(axes[0], settings):
        for model, (rs, vals, counts) in rates[setting].items():
            style = dict(ms=4, lw=1.6)
            style.update(_STYLE.get(model, dict(label=model)))
            ax.plot(rs, 100 * np.asarray(vals), **style)
        ax.axvline(n_sensors, color="0.45", lw=0.9, ls=":")
        ax.text(n_sensors - 1.5, 50, "r = d", rotation=90, ha="right",
                va="center", fontsize=8, color="0.35")
        ax.set_title(_TITLES.get(setting, setting), fontsize=10)
        n = min(int(np.min(c)) for (_, _, c) in rates[setting].values())
        ax.set_xlabel(f"non-zero rows r  ({n} trials / point)")
        ax.set_ylim(-3, 103)
        ax.set_xlim(0, n_sensors + 3)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("success rate (%)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels),
               fontsize=8, frameon=False)
    if fname is not None:
        fig.savefig(fname, dpi=150)
        plt.close(fig)
    return fig

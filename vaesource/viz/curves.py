"""Matplotlib figures of benchmark outcomes."""

from __future__ import annotations

import numpy as np

_STYLE = {
    "full_vae": dict(color="#c0392b", marker="o", label="full-covariance VAE"),
    "diag_vae": dict(color="#2471a3", marker="s", label="diagonal VAE"),
    "autoencoder": dict(color="#7d3c98", marker="^", label="autoencoder (h = log)"),
    "group_lasso": dict(color="#7f8c8d", marker="D", label="group lasso"),
}
_TITLES = {
    "unit": "(a) unit-norm rows",
    "jeffreys": "(b) Jeffreys-scaled rows",
    "meg": "(c) MEG lead field",
    "noisy": "(d) unit rows, 20 dB noise",
}


def plot_success_curves(rates, fname=None, *, n_sensors=100):
    """Success rate against the number of non-zero rows, one panel per setting.

    Parameters
    ----------
    rates : dict
        ``rates[setting][model] = (r_values, success_rates, n_trials)`` as
        returned by :meth:`vaesource.benchmark.Fig2Result.success_rates`.
    fname : path-like | None
        Write the figure there (PNG at 150 dpi) and close it.
    n_sensors : int
        Drawn as the limit ``r = d`` of any algorithm.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib

    if fname is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    settings = list(rates)
    fig, axes = plt.subplots(
        1, len(settings), figsize=(3.6 * len(settings) + 0.4, 3.6), sharey=True,
        squeeze=False, layout="constrained",
    )
    for ax, setting in zip(axes[0], settings):
        for model, (rs, vals, counts) in rates[setting].items():
            style = _STYLE.get(model, dict(label=model))
            ax.plot(rs, 100 * np.asarray(vals), ms=4, lw=1.6, **style)
        ax.axvline(n_sensors, color="0.6", lw=0.8, ls=":")
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

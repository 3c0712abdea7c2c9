"""Matplotlib figures of solver behaviour and benchmark errors.

:func:`plot_convergence` shows how a solver's objective and weights evolve
(from a :class:`vaesource.solvers.SolverResult`); :func:`plot_localization_errors`
summarises the cortical benchmark's localization errors as box plots.
"""

from __future__ import annotations

import numpy as np

from .._docs import fill_doc
from ..solvers import SolverResult
from ..utils import _pyplot, _validate_type
from .curves import _STYLE

_ROW_KEYS = ("method", "snr", "n_sources", "loc_error_mm")


def _as_results(results):
    if isinstance(results, dict):
        items = list(results.items())
    elif isinstance(results, (list, tuple)):
        items = [(getattr(r, "model", str(k)), r) for k, r in enumerate(results)]
    else:
        items = [(getattr(results, "model", "solver"), results)]
    for name, res in items:
        if not (hasattr(res, "cost") and hasattr(res, "weights")):
            # anything with .cost and .weights is drawn; else a TypeError
            _validate_type(
                res, SolverResult, "result",
                "a SolverResult (with .cost and .weights), or a dict / list of "
                f"them (at {name!r})",
            )
    return items


def _color(name, k):
    import matplotlib.pyplot as plt

    if name in _STYLE:
        return _STYLE[name]["color"]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return colors[k % len(colors)]


@fill_doc
def plot_convergence(result, *, fname=None):
    """Cost and weight traces of one or several solver runs.

    Parameters
    ----------
    result : SolverResult | dict | list
        A :class:`vaesource.solvers.SolverResult` or ``{name: result}``.
        Uses ``result.cost`` (objective before the first and after each
        iteration) and ``result.weights``; a weight history in
        ``result.info["weights_history"]`` (shape ``(n_iter + 1,
        n_sources)``) is drawn as traces when present.
    %(figure_fname)s

    Returns
    -------
    fig : matplotlib.figure.Figure
        Left: ``cost - min(cost)`` against the iteration (log scale; a
        monotone MM solver decreases it to 0). Right: the weights, sorted,
        on a log scale (the active set stands out), or their histories.
    """
    items = _as_results(result)
    plt = _pyplot(fname)
    fig, (ax_c, ax_w) = plt.subplots(1, 2, figsize=(9.0, 3.4), layout="constrained")
    for k, (name, res) in enumerate(items):
        color = _color(name, k)
        cost = np.asarray(res.cost, float).ravel()
        finite = np.isfinite(cost)
        status = "converged" if getattr(res, "converged", True) else "not converged"
        label = f"{name} ({getattr(res, 'n_iter', len(cost) - 1)} it., {status})"
        if finite.any():
            gap = cost - cost[finite].min()
            floor = max(1e-12 * max(abs(cost[finite]).max(), 1.0), 1e-300)
            it = np.arange(len(cost))
            ax_c.semilogy(it[finite], np.maximum(gap[finite], floor), color=color,
                          lw=1.5, label=label)
        history = getattr(res, "info", {}).get("weights_history")
        weights = np.asarray(res.weights, float).ravel()
        if history is not None:
            history = np.asarray(history, float)
            top = np.argsort(-history[-1])[:20]
            ax_w.semilogy(np.maximum(history[:, top], 1e-300), color=color, lw=0.8,
                          alpha=0.7)
            ax_w.set_xlabel("iteration")
        else:
            w = np.sort(weights)[::-1]
            n_active = int(np.sum(w > 0))
            ax_w.semilogy(np.arange(1, n_active + 1), w[:n_active], color=color,
                          marker=".", ms=3, lw=1.0,
                          label=f"{name}: {n_active} of {w.size} non-zero")
            ax_w.set_xlabel("rank")
            ax_w.xaxis.get_major_locator().set_params(integer=True)
    ax_c.set_xlabel("iteration")
    ax_c.set_ylabel("cost − min cost")
    ax_c.set_title("objective", fontsize=10)
    ax_c.grid(alpha=0.3, which="both")
    ax_c.legend(fontsize=7, frameon=False)
    ax_w.set_ylabel("weight w (source variance)")
    ax_w.set_title("weights", fontsize=10)
    ax_w.grid(alpha=0.3, which="both")
    if ax_w.get_legend_handles_labels()[0]:
        ax_w.legend(fontsize=7, frameon=False)
    if fname is not None:
        fig.savefig(fname, dpi=150)
        plt.close(fig)
    return fig


@fill_doc
def plot_localization_errors(rows, *, metric: str = "loc_error_mm", fname=None):
    """Box plots of localization errors: per method, SNR and number of sources.

    Parameters
    ----------
    rows : list of dict
        One per trial, with keys ``method``, ``snr`` (dB), ``n_sources`` and
        ``metric`` (default ``loc_error_mm``). Non-finite errors are left
        out and counted in the panel.
    metric : str
        Key of the value to plot.
    %(figure_fname)s

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel per number of sources; along x the SNRs, one box per
        method (colours in the legend).
    """
    rows = list(rows)
    if not rows:
        raise ValueError("The 'rows' parameter must hold at least one row.")
    keys = ("method", "snr", "n_sources", metric)
    for i, row in enumerate(rows):
        missing = [k for k in keys if k not in row]
        if missing:
            raise ValueError(
                f"Each row must have the keys {list(keys)}; row {i} lacks {missing}."
            )
    methods = list(dict.fromkeys(r["method"] for r in rows))
    snrs = sorted({float(r["snr"]) for r in rows})
    n_sources = sorted({int(r["n_sources"]) for r in rows})
    plt = _pyplot(fname)
    fig, axes = plt.subplots(
        1, len(n_sources),
        figsize=(0.6 + len(n_sources) * (0.9 + 0.3 * len(snrs) * len(methods)), 3.6),
        sharey=True, squeeze=False, layout="constrained",
    )
    width = 0.8 / len(methods)
    for ax, n_src in zip(axes[0], n_sources):
        n_dropped = 0
        for m, method in enumerate(methods):
            data, pos = [], []
            for s, snr in enumerate(snrs):
                vals = np.array([float(r[metric]) for r in rows
                                 if r["method"] == method and float(r["snr"]) == snr
                                 and int(r["n_sources"]) == n_src], float)
                n_dropped += int(np.sum(~np.isfinite(vals)))
                vals = vals[np.isfinite(vals)]
                if vals.size:
                    data.append(vals)
                    pos.append(s - 0.4 + width * (m + 0.5))
            if not data:
                continue
            color = _color(method, m)
            ax.boxplot(
                data, positions=pos, widths=0.85 * width, patch_artist=True,
                manage_ticks=False, showfliers=True,
                boxprops=dict(facecolor=color, alpha=0.55, edgecolor=color),
                medianprops=dict(color="black", lw=1.2),
                whiskerprops=dict(color=color), capprops=dict(color=color),
                flierprops=dict(marker=".", markersize=3, markeredgecolor=color),
            )
            ax.plot([], [], color=color, lw=6, alpha=0.55,
                    label=_STYLE.get(method, {}).get("label", method))
        ax.set_xticks(range(len(snrs)))
        ax.set_xticklabels([f"{s:g}" for s in snrs])
        ax.set_xlim(-0.6, len(snrs) - 0.4)
        ax.set_xlabel("SNR (dB)")
        ax.set_title(f"{n_src} source{'s' if n_src != 1 else ''}", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
        if n_dropped:
            ax.text(0.02, 0.97, f"{n_dropped} non-finite left out",
                    transform=ax.transAxes, fontsize=7, va="top", color="0.4")
    label = "localization error (mm)" if metric == "loc_error_mm" else metric
    axes[0, 0].set_ylabel(label)
    axes[0, 0].set_ylim(bottom=0)
    legend = {}
    for ax in axes[0]:
        for handle, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, handle)
    handles, labels = list(legend.values()), list(legend)
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels),
               fontsize=8, frameon=False)
    if fname is not None:
        fig.savefig(fname, dpi=150)
        plt.close(fig)
    return fig

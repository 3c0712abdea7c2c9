"""Matplotlib figure of the time courses of an estimate's active sources."""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._render import _units


def _pyplot(fname, ax=None):
    import matplotlib

    if fname is not None and ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _source_labels(stc):
    """One label per row of ``stc.data``: hemisphere (or space) and vertex."""
    import mne

    if isinstance(stc, (mne.SourceEstimate, mne.VectorSourceEstimate)):
        spaces = ("lh", "rh")
    else:
        spaces = [f"v{k}" if len(stc.vertices) > 1 else "vox" for k in
                  range(len(stc.vertices))]
    return [f"{s} {v}" for s, verts in zip(spaces, stc.vertices) for v in verts]


def plot_time_courses(
    stc,
    *,
    truth=None,
    n_max: int = 10,
    units: Literal["auto", "nAm", "Am", "a.u."] = "auto",
    title: str | None = None,
    ax=None,
    fname=None,
):
    """Time courses of the active sources of an estimate.

    Parameters
    ----------
    stc : mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate
        The estimate. Vector estimates are shown as amplitudes (norm over
        orientations); fixed-orientation ones keep their sign.
    truth : mne.SourceEstimate | None
        Drawn dashed: sources it shares with ``stc`` in the same colour,
        the others in gray.
    n_max : int
        At most this many sources, the strongest first (by peak).
    units : ``"auto"`` | ``"nAm"`` | ``"Am"`` | ``"a.u."``
        Units of the y axis.
    title : str | None
        Axes title.
    ax : matplotlib.axes.Axes | None
        Draw into these axes (the figure is then not closed).
    fname : path-like | None
        Save the figure there (150 dpi) and close it.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from .brain import _stc_magnitude

    if int(n_max) < 1:
        raise ValueError(f"The 'n_max' parameter must be >= 1, got {n_max!r}.")
    plt = _pyplot(fname, ax)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    else:
        fig = ax.figure

    def traces(s):
        data = np.asarray(s.data)
        return _stc_magnitude(s) if data.ndim == 3 else data

    data = traces(stc)
    peaks = np.abs(data).max(axis=1) if data.size else np.zeros(len(data))
    t_data = traces(truth) if truth is not None else None
    t_peak = np.abs(t_data).max() if t_data is not None and t_data.size else 0.0
    label, factor = _units(max(peaks.max(initial=0.0), t_peak), units)
    labels = _source_labels(stc)
    order = [i for i in np.argsort(-peaks) if peaks[i] > 0][: int(n_max)]
    times_ms = 1e3 * np.asarray(stc.times)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color_of = {}
    for k, i in enumerate(order):
        color_of[labels[i]] = colors[k % len(colors)]
        ax.plot(times_ms, factor * data[i], color=color_of[labels[i]], lw=1.6,
                label=labels[i])
    if truth is not None:
        t_labels = _source_labels(truth)
        t_times = 1e3 * np.asarray(truth.times)
        for i in np.flatnonzero(np.abs(t_data).max(axis=1) > 0):
            color = color_of.get(t_labels[i], "0.45")
            ax.plot(t_times, factor * t_data[i], color=color, lw=1.2, ls="--")
        ax.plot([], [], color="0.3", lw=1.2, ls="--", label="truth (dashed; gray: missed)")
    n_active = int(np.sum(peaks > 0))
    if not order:
        ax.text(0.5, 0.5, "no active source", transform=ax.transAxes,
                ha="center", va="center", color="#a00000")
    elif n_active > len(order):
        ax.text(0.99, 0.02, f"{len(order)} strongest of {n_active} active",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
                color="0.4")
    ax.axhline(0, color="0.7", lw=0.6)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"amplitude ({label})")
    ax.set_title(title or f"active sources ({n_active})", fontsize=10)
    if order or truth is not None:
        ax.legend(fontsize=7, ncol=2 if len(order) > 5 else 1, frameon=False,
                  loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3)
    if fname is not None:
        fig.savefig(fname, dpi=150)
        if own:
            plt.close(fig)
    return fig

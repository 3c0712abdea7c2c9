"""Matplotlib figure of the time courses of an estimate's active sources,
with their credible bands (full VAE) and the ground truth drawn alike."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .._docs import fill_doc
from ..utils import _pyplot
from ._scene import _units


def _source_labels(stc):
    """One label per row of ``stc.data``: hemisphere (or space) and vertex."""
    import mne

    if isinstance(stc, (mne.SourceEstimate, mne.VectorSourceEstimate)):
        spaces = ("lh", "rh")
    else:
        spaces = [f"v{k}" if len(stc.vertices) > 1 else "vox" for k in
                  range(len(stc.vertices))]
    return [f"{s} {v}" for s, verts in zip(spaces, stc.vertices) for v in verts]


def _match(truth_verts, est_verts, est_peaks, positions, match_mm):
    """For each true source, the index of the drawn estimated source that
    stands for it: the strongest within ``match_mm`` (the same vertex without
    positions), or None."""
    out = []
    for t in truth_verts:
        if positions is None:
            near = [j for j, e in enumerate(est_verts) if e == t]
        else:
            p = _position(positions, t)
            near = [j for j, e in enumerate(est_verts)
                    if 1e3 * np.linalg.norm(p - _position(positions, e)) <= match_mm]
        out.append(max(near, key=lambda j: est_peaks[j]) if near else None)
    return out


def _position(positions, space_vertex):
    space, vertex = space_vertex
    return np.asarray(positions[space], float)[vertex]


def _space_vertices(stc):
    """(space, vertex) of each row of ``stc.data``; spaces "lh", "rh" or an index."""
    import mne

    if isinstance(stc, (mne.SourceEstimate, mne.VectorSourceEstimate)):
        spaces = ("lh", "rh")
    else:
        spaces = range(len(stc.vertices))
    return [(s, int(v)) for s, verts in zip(spaces, stc.vertices) for v in verts]


def _bands(stc, band, level, signed):
    """(lower, upper) arrays of the drawn traces' credible band, or None."""
    has_posterior = (getattr(stc, "vae_sources", None) is not None
                     and getattr(stc, "vae_result", None) is not None)
    vector = np.asarray(stc.data).ndim == 3
    if band is None:
        band = has_posterior and not vector
    if not band:
        return None
    if vector:
        raise ValueError("band=True needs a norm or fixed-orientation estimate; "
                         "the band of a vector estimate's norm is not drawn.")
    from ..evidence import credible_interval

    lo, hi = (np.asarray(s.data) for s in credible_interval(stc, level))
    if signed or not (np.asarray(stc.data) < 0).any():
        return lo, hi
    # |x| over the interval [lo, hi]
    straddles = (lo < 0) & (hi > 0)
    return (np.where(straddles, 0.0, np.minimum(np.abs(lo), np.abs(hi))),
            np.maximum(np.abs(lo), np.abs(hi)))


def _is_signed(stc):
    """Whether an estimate carries a sign: fixed orientation, some negative
    value (MNE's free- and loose-orientation estimates hold norms)."""
    data = np.asarray(stc.data)
    return data.ndim == 2 and bool((data < 0).any())


@fill_doc
def plot_time_courses(
    stc,
    *,
    truth=None,
    positions=None,
    match_mm: float = 15.0,
    signed: bool | None = None,
    n_max: int = 10,
    band: bool | None = None,
    level: float = 0.95,
    units: Literal["auto", "nAm", "Am", "a.u."] = "auto",
    title: str | None = None,
    ax=None,
    fname=None,
):
    """Time courses of the active sources of an estimate.

    Parameters
    ----------
    stc : mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate
        The estimate.
    truth : mne.SourceEstimate | None
        Drawn dashed, the same way as the estimate (see ``signed``): a true
        source with drawn estimated ones within ``match_mm`` in the colour
        of the strongest of them, the others in gray.
    positions : dict | None
        Positions (m) of the vertices, ``{"lh": array (n_vertices, 3), "rh":
        ...}`` (a surface's vertex coordinates; for volume estimates keys
        are the source-space indices), to pair true and estimated sources
        by distance; None pairs only identical vertices.
    match_mm : float
        Distance within which an estimated source counts as the true one
        (as :func:`vaesource.metrics.precision_recall` counts it found).
    signed : bool | None
        Draw signed time courses (fixed orientation: the current along the
        source's orientation) or amplitudes (absolute value, the norm over
        orientations for vector estimates). None: signed when the estimate
        carries a sign (fixed orientation with a negative value), else
        amplitudes, since MNE's free- and loose-orientation estimates hold
        norms. The truth is always drawn the same way as the estimate.
    n_max : int
        At most this many sources, the strongest first (by peak).
    band : bool | None
        Shade each source's pointwise credible band
        (:func:`vaesource.credible_interval`), in its colour. None: when
        the estimate carries a posterior (a full-VAE estimate of
        :func:`vaesource.apply_vae_inverse`, not a vector one). For
        amplitudes of a fixed-orientation estimate the band is the image
        of the signed band under the absolute value.
    level : float
        Posterior probability inside the band.
    units : ``"auto"`` | ``"nAm"`` | ``"Am"`` | ``"a.u."``
        Units of the y axis.
    %(figure_title)s
    %(figure_ax)s
    %(figure_fname)s

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from ._estimates import _stc_magnitude

    if int(n_max) < 1:
        raise ValueError(f"The 'n_max' parameter must be >= 1, got {n_max!r}.")
    if signed is None:
        signed = _is_signed(stc)
    elif signed and np.asarray(stc.data).ndim == 3:
        raise ValueError("signed=True needs a fixed-orientation estimate; project "
                         "a vector estimate first (stc.project('normal', src)).")
    plt = _pyplot(fname, ax)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    else:
        fig = ax.figure

    def traces(s):
        data = np.asarray(s.data)
        if data.ndim == 3:
            return _stc_magnitude(s)
        return data if signed else np.abs(data)

    data = traces(stc)
    peaks = np.abs(data).max(axis=1) if data.size else np.zeros(len(data))
    bands = _bands(stc, band, level, signed)
    t_data = traces(truth) if truth is not None else None
    t_peak = np.abs(t_data).max() if t_data is not None and t_data.size else 0.0
    label, factor = _units(max(peaks.max(initial=0.0), t_peak), units)
    labels = _source_labels(stc)
    verts = _space_vertices(stc)
    order = [i for i in np.argsort(-peaks) if peaks[i] > 0][: int(n_max)]
    times_ms = 1e3 * np.asarray(stc.times)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, i in enumerate(order):
        ax.plot(times_ms, factor * data[i], color=colors[k % len(colors)], lw=1.6,
                label=labels[i])
        if bands is not None:
            ax.fill_between(times_ms, factor * bands[0][i], factor * bands[1][i],
                            color=colors[k % len(colors)], alpha=0.2, lw=0,
                            gid="credible-band")
    if bands is not None and order:
        # one legend entry for all bands
        ax.fill_between([], [], [], color="0.5", alpha=0.3,
                        label=f"{100 * level:g} % credible band")
    if truth is not None:
        t_times = 1e3 * np.asarray(truth.times)
        t_rows = np.flatnonzero(np.abs(t_data).max(axis=1) > 0)
        t_verts = _space_vertices(truth)
        pairs = _match([t_verts[i] for i in t_rows], [verts[i] for i in order],
                       [peaks[i] for i in order], positions, match_mm)
        for i, j in zip(t_rows, pairs):
            color = "0.45" if j is None else colors[j % len(colors)]
            ax.plot(t_times, factor * t_data[i], color=color, lw=1.2, ls="--")
        n_missed = sum(j is None for j in pairs)
        within = (f"within {match_mm:g} mm" if positions is not None
                  else "at the same vertex")
        parts = []
        if n_missed < len(pairs):
            parts.append("coloured as its estimate")
        if n_missed:
            parts.append(f"gray: no estimate {within}")
        text = f"truth (dashed{', ' if parts else ''}{'; '.join(parts)})"
        ax.plot([], [], color="0.3", lw=1.2, ls="--", label=text)
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
    ax.set_ylabel(f"{'signed amplitude' if signed else 'amplitude'} ({label})")
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

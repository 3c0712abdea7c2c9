"""Which sources are real: the evidence of an optimum's sources, and a table.

:func:`plot_evidence` draws, for every active location of the optimum of
cost (18), its evidence against its peak amplitude, with the selection
threshold: the sources a full-VAE estimate keeps are those above the line,
whatever their amplitude. :func:`source_table_html` writes the selected
sources' table for the HTML report.
"""

from __future__ import annotations

import html

import numpy as np

from .._docs import fill_doc
from ._scene import _units

# evidence below this is drawn at the bottom of the log axis (a location the
# data do not need at all)
_EVIDENCE_FLOOR = 1e-2


def _optimum_sources(result):
    """(evidence, peak amplitude in A·m, selected mask) of the optimum's
    active locations."""
    optimum = result.info.get("optimum", result)
    lf = result.info["lead_field"]
    k = optimum.n_orient
    cols = np.asarray(optimum.active_set, int)
    locs = optimum.locations
    X = (optimum.X[cols] * lf.source_weighting[cols, None]).reshape(
        locs.size, k, optimum.X.shape[1])
    amp = np.linalg.norm(X, axis=1).max(axis=1) if locs.size else np.zeros(0)
    selected = np.isin(locs, result.locations)
    return np.asarray(optimum.evidence, float), amp, selected


@fill_doc
def plot_evidence(
    stc,
    *,
    show_fraction: float | None = 0.1,
    units="auto",
    title: str | None = None,
    ax=None,
    fname=None,
):
    """Evidence against amplitude of every active location of the optimum.

    At a finite noise level the optimum of cost (18) keeps, besides the
    sources the data need, weak ones that fit noise. Each location's
    evidence (the rise of cost (18) when it alone is removed, twice the log
    Bayes factor of keeping it) separates them: the selected sources of a
    full-VAE estimate (``min_evidence``, the horizontal line) are drawn in
    colour, the dropped ones in gray.

    Parameters
    ----------
    stc : mne.SourceEstimate | mne.VolSourceEstimate | list of mne.Dipole
        A full-VAE estimate of :func:`vaesource.apply_vae_inverse` (its
        ``vae_result`` holds the unselected optimum in
        ``info["optimum"]``), or its dipoles.
    show_fraction : float | None
        Also draw a vertical line at this fraction of the peak amplitude
        (the fixed display cut of earlier releases, for comparison); None
        for none.
    units : ``"auto"`` | ``"nAm"`` | ``"Am"`` | ``"a.u."``
        Units of the amplitude axis.
    %(figure_title)s
    %(figure_ax)s
    %(figure_fname)s

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from ..utils import _pyplot

    if isinstance(stc, list):
        stc = stc[0] if stc else None
    result = getattr(stc, "vae_result", None)
    if result is None or result.model != "full_vae":
        raise ValueError(
            "The 'stc' parameter must be a full-VAE estimate of "
            "vaesource.apply_vae_inverse (model='full'), which carries the "
            "evidence of its sources."
        )
    evidence, amp, selected = _optimum_sources(result)
    selection = result.info.get("selection")
    threshold = None if selection is None else float(selection["min_evidence"])
    plt = _pyplot(fname, ax)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5.6, 3.6), layout="constrained")
    else:
        fig = ax.figure
    label, factor = _units(amp.max(initial=0.0), units)
    x = factor * amp
    y = np.maximum(evidence, _EVIDENCE_FLOOR)
    if threshold is not None:
        kept = dict(color="C0", label=f"selected ({int(selected.sum())})",
                    zorder=3)
        dropped = dict(color="0.6", label=f"dropped ({int((~selected).sum())})",
                       zorder=2)
    else:
        kept = dict(color="C0", label=f"active ({evidence.size})", zorder=3)
        dropped = kept
    for mask, style in ((selected, kept), (~selected, dropped)):
        if mask.any():
            ax.scatter(x[mask], y[mask], s=22, edgecolors="none", **style)
    if threshold is not None and threshold > 0:
        ax.axhline(threshold, color="#c03000", lw=1.2, ls="--",
                   label=f"min_evidence = {threshold:.3g}")
    if show_fraction is not None and x.size:
        ax.axvline(show_fraction * x.max(), color="0.3", lw=0.9, ls=":",
                   label=f"{100 * show_fraction:g} % of the peak amplitude")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if (evidence < _EVIDENCE_FLOOR).any():
        ax.text(0.99, 0.02, f"evidence < {_EVIDENCE_FLOOR:g} drawn at the bottom",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
                color="0.4")
    ax.set_xlabel(f"peak amplitude ({label})")
    ax.set_ylabel("evidence (2 log Bayes factor)")
    n = evidence.size
    ax.set_title(title or f"the {n} active location(s) of the optimum of cost (18)",
                 fontsize=10)
    if n:
        ax.legend(fontsize=7, frameon=False, loc="best")
    else:
        ax.text(0.5, 0.5, "no active source", transform=ax.transAxes,
                ha="center", va="center", color="#a00000")
    ax.grid(alpha=0.3, which="both")
    if fname is not None:
        fig.savefig(fname, dpi=150)
        if own:
            plt.close(fig)
    return fig


def source_table_html(table, max_rows=50, *, bands=None, truth=None):
    """The selected sources of a :class:`vaesource.evidence.SourceTable` as
    an HTML table (strongest evidence first).

    Parameters
    ----------
    table : vaesource.evidence.SourceTable
        The sources.
    max_rows : int
        Most sources listed.
    bands : dict | None
        ``{location: (value, lower, upper)}`` in nAm: each source's
        amplitude at its peak and its credible band there, including the
        uncertainty of where the source is
        (:func:`vaesource.credible_interval` with ``location=True``).
    truth : dict | None
        ``{location: amplitude}`` in nAm: the true amplitude, at the
        estimate's peak, of the true source each estimated source stands
        for (a simulation's; locations without one are left out).

    Returns
    -------
    html : str
    """
    rows = table.rows()
    restarts = table.frequency is not None
    regions = bool(rows) and "region_size" in rows[0]
    # sources split over neighbouring locations (SourceTable.source)
    vertex_of = {r["location"]: f"{r['hemi']} {r['vertex']}" for r in rows}
    parts = {}
    for r in rows:
        if r.get("source", r["location"]) != r["location"]:
            parts.setdefault(r["source"], []).append(vertex_of[r["location"]])
    split = bool(parts)
    head = (["hemi", "vertex", "x, y, z (mm, head)", "peak (nAm)", "evidence",
             "P(real)", "posterior sd (nAm)"]
            + (["region (locations)", "region radius (mm)"] if regions else [])
            + (["peak nAm [95 % band with location]"] if bands is not None else [])
            + (["truth (nAm)"] if truth is not None else [])
            + (["one source with"] if split else [])
            + (["found in restarts"] if restarts else []))
    cells = []
    for row in rows[:max_rows]:
        sd = float(np.sqrt(np.sum(np.square(row["posterior_sd_nAm"]))))
        line = [row["hemi"], str(row["vertex"]),
                ", ".join(f"{v:.1f}" for v in row["pos_mm"]),
                f"{row['amplitude_nAm']:.2f}", f"{row['evidence']:.1f}",
                f"{row['probability']:.3f}", f"{sd:.2f}"]
        if regions:
            line += [str(row["region_size"]), f"{row['region_radius_mm']:.1f}"]
        if bands is not None:
            band = bands.get(row["location"])
            line.append("" if band is None else
                        f"{band[0]:.2f} [{band[1]:.2f}, {band[2]:.2f}]")
        if truth is not None:
            value = truth.get(row["location"])
            line.append("" if value is None else f"{value:.2f}")
        if split:
            head_loc = row.get("source", row["location"])
            line.append(f"part of {vertex_of.get(head_loc, head_loc)}"
                        if head_loc != row["location"] else
                        ", ".join(parts.get(row["location"], [])))
        if restarts:
            line.append(f"{100 * row['frequency']:.0f} %")
        cells.append(line)
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line)
                   + "</tr>" for line in cells)
    sel = ("every active location of the optimum (no selection)"
           if table.min_evidence is None else
           f"the sources whose evidence reaches min_evidence = "
           f"{table.min_evidence:.3g}")
    more = (f"<p>... and {len(rows) - max_rows} more.</p>"
            if len(rows) > max_rows else "")
    return (
        f"<p>{len(rows)} source(s): {html.escape(sel)}, out of "
        f"{table.n_locations} candidate locations. Evidence: the rise of cost "
        "(18) when the source alone is removed (twice the log Bayes factor of "
        "keeping it); P(real): its posterior probability of being active; "
        "posterior sd: the posterior standard deviation of its amplitude "
        "(norm over orientations), the same at every time sample"
        + ("; region: the locations holding 95 % of the posterior of where "
           "the source is, and the largest distance from the source to one "
           "of them" if regions else "")
        + ("; band with location: the amplitude at the source's peak and its "
           "95 % credible band there, over where the source may be (wider "
           "than the posterior sd alone says when the source lies between "
           "locations)" if bands is not None else "")
        + ("; truth: the amplitude of the true source it stands for, at the "
           "same time" if truth is not None else "")
        + ("; one source with: locations that one source between them "
           "explains as well, up to what a second source must earn (a source "
           "split over the grid; each row's band is its own part's)"
           if split else "")
        + ("; found in restarts: the fraction of random restarts whose "
           "optimum holds it" if restarts else "")
        + ".</p>"
        f'<table class="table table-sm table-striped"><thead><tr>{th}</tr>'
        f"</thead><tbody>{body}</tbody></table>{more}"
    )

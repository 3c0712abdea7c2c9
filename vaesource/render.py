"""Render saved source estimates: what ``vaesource render`` runs."""

from __future__ import annotations

import json
from pathlib import Path

from ._stc import keep_strong
from .utils import _atomic_write


def _read_stc(fname, subject):
    import mne

    path = Path(fname).expanduser()
    candidates = [path] + [path.with_name(path.name + suf)
                           for suf in ("-lh.stc", "-vl.stc")]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise ValueError(f"The source estimate file {str(path)!r} does not exist.")
    try:
        return mne.read_source_estimate(found, subject=subject)
    except Exception as err:  # MNE raises several types on a non-stc file
        raise ValueError(f"Could not read a source estimate from {found}: "
                         f"{err}") from None


def render_files(stc_fnames, out, *, labels=None, truth=None, subject=None,
                 subjects_dir=None, forward=None, bem=None, surface="inflated",
                 views=None, time=None, min_fraction=0.0, color_by="amplitude",
                 summary=None, title=None):
    """Render saved source estimates to a PNG.

    Parameters
    ----------
    stc_fnames : list of path-like
        Source estimate files (``-lh.stc``, ``-rh.stc``, ``-vl.stc``, or the
        stem without the suffix). Several cortical estimates are drawn side
        by side (:func:`vaesource.viz.plot_comparison`).
    out : path-like
        PNG file to write (written to a temporary name, then renamed).
    labels : list of str | None
        Titles, one per estimate (default: the file stems).
    truth : path-like | None
        Ground-truth estimate, drawn as rings / markers.
    subject, subjects_dir : str | None, path-like | None
        FreeSurfer subject for cortical renders (default: the estimate's
        subject, else fsaverage, which renders on the built-in template
        without a subjects folder).
    forward : path-like | None
        Forward solution of the estimates: its source space checks the
        vertices, and volume estimates need it (positions and the MRI ->
        head transform).
    bem : path-like | None
        Volume estimates: BEM file or FreeSurfer surface whose inner skull
        is the glass (default: the subject's in ``subjects_dir``, else a
        smooth outline of the source grid; see
        :func:`vaesource.viz.volume.volume_glass`).
    surface : ``"inflated"`` | ``"white"`` | ``"pial"``
        Cortical surface.
    views : tuple of str | None
        Views (default: lateral, medial, dorsal for one cortical estimate,
        the views facing the sources for several; the three orthogonal
        views in a glass brain).
    time : float | None
        Time (s) to show; None shows each source at its peak.
    min_fraction : float
        Leave out sources below this fraction of the strongest (default 0:
        draw all). The full VAE's estimates written by ``vaesource
        localize`` hold only the sources selected by their evidence, so
        they need no cut; a cut by amplitude is for other estimates (e.g.
        the unselected optimum, or another solver's).
    color_by : ``"amplitude"`` | ``"evidence"`` | ``"probability"``
        Colour of the sources (their size is the amplitude): evidence and
        probability come from ``summary`` and need one estimate.
    summary : path-like | None
        The ``summary.json`` of the ``vaesource localize`` run that wrote
        the estimate: its per-source table gives the evidence and
        probability for ``color_by``.
    title : str | None
        Figure title.
    """
    import mne

    from ._inputs import _read
    from .viz import plot_comparison, plot_sources, plot_volume_sources
    from .viz.volume import volume_glass
    from .viz._scene import _rendering_available

    from .utils import _check_option
    from .viz._scene import COLOR_BY

    if not 0 <= min_fraction < 1:
        raise ValueError(f"min_fraction must be in [0, 1), got {min_fraction!r}.")
    _check_option("color_by", color_by, COLOR_BY)
    if color_by != "amplitude" and summary is None:
        raise ValueError(
            f"color_by={color_by!r} needs the evidence of each source: pass the "
            "summary.json of the vaesource localize run (--summary)."
        )
    if color_by != "amplitude" and len(list(stc_fnames)) != 1:
        raise ValueError(
            f"color_by={color_by!r} renders one estimate at a time, got "
            f"{len(list(stc_fnames))}."
        )
    out = Path(out).expanduser()
    if out.suffix.lower() != ".png":
        raise ValueError(f"The output must be a .png file, got {str(out)!r}.")
    stc_fnames = list(stc_fnames)
    if labels is None:
        labels = [_stem(f) for f in stc_fnames]
    if len(labels) != len(stc_fnames):
        raise ValueError(f"Got {len(labels)} label(s) for {len(stc_fnames)} "
                         "estimate(s).")
    if len(set(labels)) != len(labels):
        raise ValueError(f"The labels must be distinct, got {labels}.")
    stcs = [_read_stc(f, subject) for f in stc_fnames]
    sources = None
    if color_by != "amplitude":
        sources = _summary_sources(summary, _stem(stc_fnames[0]))
    truth_stc = None if truth is None else _read_stc(truth, subject)
    fwd = None if forward is None else _read(forward, "forward")
    volume = [isinstance(s, mne.VolSourceEstimate) for s in stcs]
    if any(volume) and not all(volume):
        raise ValueError("Cannot mix cortical and volume estimates in one render.")
    ok, why = _rendering_available()
    if not ok:
        raise RuntimeError(f"Cannot render: {why}")
    stcs = [keep_strong(s, min_fraction) if min_fraction > 0 else s for s in stcs]

    def write(tmp):
        if all(volume):
            if fwd is None:
                raise ValueError("Volume estimates need their forward solution "
                                 "(--forward) for positions and the MRI -> head "
                                 "transform.")
            if len(stcs) > 1:
                raise ValueError("Volume estimates render one at a time; got "
                                 f"{len(stcs)}.")
            src = fwd["src"]
            glass = volume_glass(fwd, bem=bem, subjects_dir=subjects_dir)
            kw = dict(views=views) if views else {}
            plotter = plot_volume_sources(
                stcs[0], src, surface=(glass.rr, glass.tris), glass_name=glass.name,
                trans=fwd["mri_head_t"], time=time, truth=truth_stc,
                title=title or labels[0], fname=tmp, color_by=color_by,
                sources=sources, **kw,
            )
        else:
            subj = subject or stcs[0].subject or "fsaverage"
            kw = dict(surface=surface, time=time, truth=truth_stc, subject=subj,
                      subjects_dir=subjects_dir,
                      src=None if fwd is None else fwd["src"], title=title)
            if views:
                kw["views"] = views
            if len(stcs) == 1:
                kw["title"] = title or labels[0]
                plotter = plot_sources(stcs[0], fname=tmp, color_by=color_by,
                                       sources=sources, **kw)
            else:
                plotter = plot_comparison(dict(zip(labels, stcs)), fname=tmp, **kw)
        plotter.close()

    return _atomic_write(out, write, suffix=".png")


def _summary_sources(fname, method):
    """The per-source rows of a localize ``summary.json``: those of
    ``method`` (the estimate's file stem, e.g. ``full_vae``) when it has
    them, else of the one method that has."""
    path = Path(fname).expanduser()
    if not path.is_file():
        raise ValueError(f"The summary file {str(path)!r} does not exist.")
    try:
        summary = json.loads(path.read_text())
        rows = {row["method"]: row["sources"] for row in summary["methods"]
                if "sources" in row}
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a summary.json of vaesource localize "
                         f"({err}).") from None
    if method in rows:
        return rows[method]
    if len(rows) != 1:
        raise ValueError(f"{path} holds no per-source table for {method!r} "
                         "(only the full VAE's estimates carry evidence).")
    return next(iter(rows.values()))


def _stem(fname):
    name = Path(fname).name
    for suf in ("-lh.stc", "-rh.stc", "-vl.stc", ".stc"):
        if name.endswith(suf):
            return name[: -len(suf)]
    return name

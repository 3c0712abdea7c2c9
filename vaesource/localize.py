"""Localize an evoked response from MNE files: estimates, dipoles, renders.

:func:`run_localize` is what ``vaesource localize`` runs: it reads an
evoked response, a forward solution and a noise covariance (files or MNE
objects), runs :func:`vaesource.apply_vae_inverse` (and, on request, MNE's
MxNE and gamma-MAP on the same whitened data through
:func:`vaesource.compare`), and writes the estimates in MNE's formats, the
active sources as dipoles, PNG renders and an HTML report. Every input is
checked before anything is computed, and all outputs are written to a
temporary folder first and moved into place at the end, so a failure never
leaves half the outputs behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._stc import keep_strong
from .utils import ConvergenceWarning, _check_option, _check_positive, logger

VAE_METHODS = {"full": "full_vae", "diag": "diag_vae", "ae": "ae"}
PEERS = ("mxne", "gamma_map")
LABELS = {"full_vae": "full VAE", "diag_vae": "diagonal VAE", "ae": "autoencoder",
          "mxne": "MxNE", "gamma_map": "gamma-MAP"}
# renders leave out sources weaker than this fraction of the strongest (the
# files keep them all): at a finite noise level the VAE keeps many tiny
# noise-fitting weights that would hide the sources that matter
DISPLAY_FRACTION = 0.1


@dataclass
class LocalizeResult:
    """What :func:`run_localize` computed and wrote.

    Attributes
    ----------
    condition : str
        The evoked response localized (its comment).
    estimates : dict
        ``{method: source estimate}`` (all active sources).
    dipoles : list of mne.Dipole
        The VAE's active locations, one time-varying dipole each.
    rows : list of ComparisonRow
        Per method: time, active locations, explained variance.
    files : dict
        ``{name: path}`` of the written files.
    rendered : bool
        Whether renders and the report were made.
    wall_time : float
        Seconds for the whole run.
    """

    condition: str
    estimates: dict
    dipoles: list
    rows: list
    files: dict = field(default_factory=dict)
    rendered: bool = False
    wall_time: float = 0.0

    def summary(self) -> str:
        """One line per method: active locations, explained variance, time."""
        lines = [f"{self.condition!r}:"]
        for row in self.rows:
            lines.append(
                f"  {LABELS.get(row.method, row.method)}: {row.n_active} active "
                f"location(s), explained variance {100 * row.explained_variance:.1f} %,"
                f" {row.seconds:.1f} s"
            )
        return "\n".join(lines)


def read_evoked(evoked, condition=None):
    """One :class:`mne.Evoked` from a file, choosing the condition.

    Parameters
    ----------
    evoked : path-like | mne.Evoked
        An ``-ave.fif`` file or an evoked response.
    condition : str | int | None
        Comment (name) or index of the condition; None when the file holds
        only one.

    Returns
    -------
    evoked : mne.Evoked
    """
    import mne

    if isinstance(evoked, mne.Evoked):
        if condition is not None:
            raise ValueError("The 'condition' parameter needs an evoked file, "
                             "not an mne.Evoked.")
        return evoked
    fname = _existing(evoked, "evoked")
    try:
        evokeds = mne.read_evokeds(fname, verbose=False)
    except Exception as err:  # MNE raises several types on a non-evoked file
        raise ValueError(f"Could not read evoked data from {fname}: {err}") from None
    names = [ev.comment for ev in evokeds]
    if condition is None:
        if len(evokeds) > 1:
            raise ValueError(
                f"{fname} holds {len(evokeds)} conditions ("
                + ", ".join(repr(n) for n in names)
                + "); choose one with condition= (--condition NAME or index)."
            )
        return evokeds[0]
    if isinstance(condition, str) and condition.strip().lstrip("-").isdigit():
        condition = int(condition)
    if isinstance(condition, (int, np.integer)) and not isinstance(condition, bool):
        if not -len(evokeds) <= condition < len(evokeds):
            raise ValueError(
                f"Condition index {condition} out of range: {fname} holds "
                f"{len(evokeds)} condition(s)."
            )
        return evokeds[condition]
    if condition not in names:
        raise ValueError(
            f"No condition {condition!r} in {fname}; it holds "
            + ", ".join(repr(n) for n in names) + "."
        )
    return evokeds[names.index(condition)]


def _existing(fname, what):
    path = Path(fname).expanduser()
    if not path.is_file():
        raise ValueError(f"The {what} file {str(path)!r} does not exist.")
    return path


def _read(obj, kind):
    """An MNE object given as itself or as a file (``kind``: "forward" or
    "cov"), with errors that name the file."""
    import mne

    cls, reader, what = {
        "forward": (mne.Forward, mne.read_forward_solution, "forward solution"),
        "cov": (mne.Covariance, mne.read_cov, "noise covariance"),
    }[kind]
    if isinstance(obj, cls):
        return obj
    fname = _existing(obj, what)
    try:
        return reader(fname, verbose=False)
    except Exception as err:  # MNE raises several types on a wrong file
        raise ValueError(f"Could not read a {what} from {fname}: {err}") from None


def _kind(forward):
    """``"surface"`` or ``"volume"`` (volume and discrete source spaces)."""
    kinds = {s["type"] for s in forward["src"]}
    if kinds == {"surf"}:
        if len(forward["src"]) != 2:
            raise ValueError("Surface source spaces must have two hemispheres; "
                             f"this forward has {len(forward['src'])}.")
        return "surface"
    if kinds <= {"vol", "discrete"}:
        return "volume"
    raise ValueError(f"Unsupported (mixed) source space types: {sorted(kinds)}.")


def _targets(out, methods, kind, render):
    """{name: path} of every file the run will write."""
    suffixes = ("-lh.stc", "-rh.stc") if kind == "surface" else ("-vl.stc",)
    files = {}
    for m in methods:
        for suf in suffixes:
            files[f"{m}{suf}"] = out / f"{m}{suf}"
    files["dipoles"] = out / f"{methods[0]}-dipoles.dip"
    files["summary"] = out / "summary.json"
    if render:
        for m in methods:
            files[f"{m}.png"] = out / f"{m}.png"
        if len(methods) > 1 and kind == "surface":
            files["comparison.png"] = out / "comparison.png"
        files["report"] = out / "report.html"
    return files


def peak_dipoles(dipoles, min_fraction=0.0):
    """One :class:`mne.Dipole` holding each dipole at its peak amplitude.

    Parameters
    ----------
    dipoles : list of mne.Dipole
        Time-varying dipoles (one per active location), e.g. from
        ``apply_vae_inverse(..., return_as_dipoles=True)``.
    min_fraction : float
        Leave out dipoles whose peak is below this fraction of the
        strongest peak.

    Returns
    -------
    dipole : mne.Dipole | None
        Entry ``k`` is dipole ``k`` at the time of its largest amplitude,
        ordered by that time (None for an empty list). Written as a
        ``.dip`` file it opens in MNE (:func:`mne.read_dipole`) and
        ``mne.viz.plot_dipole_locations``.
    """
    import mne

    if not dipoles:
        return None
    peaks = [int(np.argmax(np.abs(d.amplitude))) for d in dipoles]
    top = max(abs(d.amplitude[k]) for d, k in zip(dipoles, peaks))
    keep = [abs(d.amplitude[k]) >= min_fraction * top for d, k in zip(dipoles, peaks)]
    dipoles = [d for d, ok in zip(dipoles, keep) if ok]
    peaks = [k for k, ok in zip(peaks, keep) if ok]
    order = np.argsort([d.times[k] for d, k in zip(dipoles, peaks)], kind="stable")
    pick = [(dipoles[i], peaks[i]) for i in order]
    return mne.Dipole(
        times=np.array([d.times[k] for d, k in pick]),
        pos=np.array([d.pos[k] for d, k in pick]),
        amplitude=np.array([d.amplitude[k] for d, k in pick]),
        ori=np.array([d.ori[k] for d, k in pick]),
        gof=np.array([d.gof[k] for d, k in pick]),
        name="vaesource peak dipoles",
    )


def run_localize(
    evoked,
    forward,
    noise_cov,
    out_dir,
    *,
    condition=None,
    tmin: float | None = None,
    tmax: float | None = None,
    model: str = "full",
    compare: bool = False,
    gamma: float = 1.0,
    loose="auto",
    depth: float | None = 0.8,
    subjects_dir=None,
    render: bool = True,
    overwrite: bool = False,
    verbose=None,
) -> LocalizeResult:
    """Localize an evoked response and write estimates, dipoles and renders.

    Parameters
    ----------
    evoked : path-like | mne.Evoked
        Evoked response (``-ave.fif``).
    forward : path-like | mne.Forward
        Forward solution (``-fwd.fif``), surface or volume source space.
    noise_cov : path-like | mne.Covariance
        Single-trial noise covariance (``-cov.fif``); divided by ``nave``.
    out_dir : path-like
        Output folder (created).
    condition : str | int | None
        Condition of a multi-condition evoked file (name or index).
    tmin, tmax : float | None
        Time window (s).
    model : ``"full"`` | ``"diag"`` | ``"ae"``
        VAE model of :func:`vaesource.apply_vae_inverse`.
    compare : bool | sequence of str
        Also run MNE's solvers on the same whitened data
        (:func:`vaesource.compare`): True for MxNE and gamma-MAP, or a
        subset of ``("mxne", "gamma_map")``.
    gamma : float
        Noise variance of the whitened data (1: the noise of this average).
    loose, depth
        Orientation and depth priors, as in MNE's inverse solvers.
    subjects_dir : path-like | None
        FreeSurfer subjects folder holding the forward's subject, for
        cortical renders (fsaverage renders on the embedded template
        without one).
    render : bool
        Make PNG renders and the HTML report (skipped with a warning when
        off-screen OpenGL is unavailable).
    overwrite : bool
        Replace existing outputs; otherwise refuse before computing.
    verbose : bool | str | int | None
        Log level.

    Returns
    -------
    result : LocalizeResult

    Notes
    -----
    Files written to ``out_dir``, with ``<m>`` each method (``full_vae``,
    ``mxne``, ``gamma_map``, ...): ``<m>-lh.stc`` / ``<m>-rh.stc`` (surface)
    or ``<m>-vl.stc`` (volume) with every active source; ``<vae>-dipoles.dip``
    with each active location of the VAE at its peak
    (:func:`peak_dipoles`); ``summary.json`` (per method: time, active
    locations, explained variance, iterations; the peak dipoles in mm and
    nAm); with renders, ``<m>.png``, ``comparison.png`` (surface, with
    ``compare``) and ``report.html`` (renders, time courses, solver
    convergence). The dipoles, the summary and the renders leave out
    sources below 10 % of the strongest (at a finite noise level the VAE
    keeps many tiny noise-fitting weights); the ``.stc`` files and
    ``result.dipoles`` keep them all.
    """
    from .compare import compare as run_compare
    from .inverse import _check_inputs, result_to_dipoles

    t0 = time.perf_counter()
    _check_option("model", model, tuple(VAE_METHODS))
    gamma = _check_positive("gamma", gamma)
    evoked = read_evoked(evoked, condition)
    forward = _read(forward, "forward")
    noise_cov = _read(noise_cov, "cov")
    # channel, time-window and finiteness checks before any work
    _check_inputs(evoked, forward, noise_cov, tmin, tmax)
    kind = _kind(forward)
    if isinstance(compare, (bool, np.bool_)):
        peers = list(PEERS) if compare else []
    else:
        peers = list(dict.fromkeys(compare))
        for m in peers:
            _check_option("compare", m, PEERS)
    methods = [VAE_METHODS[model]] + peers

    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"The output {str(out)!r} exists and is not a folder.")
    rendering = False
    if render:
        from .viz._render import _rendering_available

        rendering, why = _rendering_available()
        if not rendering:
            logger.warning("No renders or report: %s", why)
    if rendering and kind == "surface":
        _check_surfaces(forward["src"], subjects_dir)
    targets = _targets(out, methods, kind, rendering)
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{', '.join(existing)} already exist; pass overwrite=True "
            "(--overwrite) to replace them."
        )

    logger.info("Localizing %r with %s", evoked.comment,
                ", ".join(LABELS[m] for m in methods))
    with warnings.catch_warnings():
        warnings.simplefilter("always", ConvergenceWarning)
        comp = run_compare(
            evoked, forward, noise_cov, methods=methods, loose=loose,
            depth=depth, tmin=tmin, tmax=tmax, gamma=gamma, verbose=verbose,
        )
    estimates = {row.method: row.estimate for row in comp.rows}
    vae = estimates[methods[0]]
    dipoles = []
    if getattr(vae, "vae_result", None) is not None:
        dipoles = result_to_dipoles(vae.vae_result, vae.tmin, vae.tstep)

    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".vaesource-localize-", dir=out.parent))
    try:
        _write_all(stage, targets, estimates, dipoles, comp, forward, evoked,
                   kind, subjects_dir, rendering)
        out.mkdir(exist_ok=True)
        # the stage started empty: what is in it is what was written
        files = {name: path for name, path in targets.items()
                 if (stage / path.name).exists()}
        for path in files.values():
            os.replace(stage / path.name, path)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return LocalizeResult(
        condition=str(evoked.comment), estimates=estimates, dipoles=dipoles,
        rows=list(comp.rows), files=files, rendered=rendering,
        wall_time=time.perf_counter() - t0,
    )


def _write_all(stage, targets, estimates, dipoles, comp, forward, evoked, kind,
               subjects_dir, rendering):
    """Write every output (named as in ``targets``) into ``stage``."""
    for m, stc in estimates.items():
        stc.save(stage / m, ftype="stc", overwrite=True, verbose=False)
    peaks = peak_dipoles(dipoles, DISPLAY_FRACTION)
    if peaks is not None:
        peaks.save(stage / targets["dipoles"].name, overwrite=True, verbose=False)
    summary = _summary(comp, evoked, forward, peaks)
    (stage / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if rendering:
        _render_all(stage, targets, estimates, forward, kind, subjects_dir)


def _summary(comp, evoked, forward, peaks):
    rows = []
    for row in comp.rows:
        entry = dict(method=row.method, seconds=row.seconds,
                     n_active=int(row.n_active),
                     explained_variance=float(row.explained_variance))
        result = getattr(row.estimate, "vae_result", None)
        if result is not None:
            entry.update(n_iter=int(result.n_iter), converged=bool(result.converged),
                         gamma=float(result.gamma))
        rows.append(entry)
    out = dict(condition=str(evoked.comment), nave=float(evoked.nave),
               tmin=float(comp.rows[0].estimate.tmin),
               n_sources=int(forward["nsource"]), methods=rows)
    if peaks is not None:
        out["peak_dipoles_mm"] = [
            dict(time=float(t), pos=[round(1e3 * float(v), 2) for v in p],
                 amplitude_nAm=float(1e9 * a))
            for t, p, a in zip(peaks.times, peaks.pos, peaks.amplitude)
        ]
    return out


def _render_all(stage, targets, estimates, forward, kind, subjects_dir):
    from .viz import make_report, plot_comparison, plot_sources, plot_volume_sources

    shown = {LABELS.get(m, m): keep_strong(stc, DISPLAY_FRACTION)
             for m, stc in estimates.items()}
    results = {LABELS.get(m, m): stc.vae_result for m, stc in estimates.items()
               if getattr(stc, "vae_result", None) is not None}
    src = forward["src"]
    if kind == "surface":
        subject = src[0].get("subject_his_id") or None
        kw = dict(subject=subject, subjects_dir=subjects_dir, src=src)
        for m, (label, stc_shown) in zip(estimates, shown.items()):
            plot_sources(stc_shown, title=label, fname=stage / f"{m}.png",
                         **kw).close()
        if "comparison.png" in targets:
            plot_comparison(shown, views=("lateral", "medial"),
                            fname=stage / "comparison.png", **kw).close()
        make_report(stage / "report.html", stcs=shown, results=results or None,
                    title="vaesource localize", overwrite=True, **kw)
    else:
        glass = _hull(src, forward["mri_head_t"])
        vol_kw = dict(surface=glass, trans=forward["mri_head_t"])
        for m, (label, stc_shown) in zip(estimates, shown.items()):
            plot_volume_sources(stc_shown, src, title=label,
                                fname=stage / f"{m}.png", **vol_kw).close()
        first = next(iter(shown))
        make_report(stage / "report.html", volume=(shown[first], src, vol_kw),
                    results=results or None, title="vaesource localize",
                    overwrite=True)


def _check_surfaces(src, subjects_dir):
    """Fail before any work when the cortex to render on is not there."""
    from .viz.brain import HEMIS, _resolve_surfaces

    subject = src[0].get("subject_his_id") or None
    try:
        surfaces, _ = _resolve_surfaces(None, "inflated", subject, subjects_dir,
                                        None)
        for hemi, s in zip(HEMIS, src):
            n_vert = len(surfaces[hemi][0])
            if s["np"] != n_vert:
                raise ValueError(
                    f"its {hemi} source space has {s['np']} vertices but the "
                    f"{hemi} surface found has {n_vert}"
                )
    except ValueError as err:
        raise ValueError(
            f"Cannot render on the cortex of subject {subject!r}: {err} Pass "
            "the FreeSurfer subjects folder (subjects_dir=, --subjects-dir) "
            "or skip the renders (render=False, --no-render)."
        ) from None


def _hull(src, mri_head_t):
    """Convex hull of the source positions (head frame, m): the glass."""
    from scipy.spatial import ConvexHull

    from .viz.volume import _head_transform, _positions

    offsets = np.cumsum([0] + [s["np"] for s in src[:-1]])
    used = np.concatenate([off + s["vertno"] for off, s in zip(offsets, src)])
    rr = _positions(src, used, _head_transform(src, mri_head_t, None))
    hull = ConvexHull(rr)
    # make the triangles consistently oriented outward
    tris = hull.simplices.copy()
    centre = rr.mean(axis=0)
    normals = np.cross(rr[tris[:, 1]] - rr[tris[:, 0]], rr[tris[:, 2]] - rr[tris[:, 0]])
    flip = np.einsum("ij,ij->i", normals, rr[tris[:, 0]] - centre) < 0
    tris[flip] = tris[flip][:, ::-1]
    return rr, tris

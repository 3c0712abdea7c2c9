"""Localize an evoked response from MNE files: estimates, dipoles, renders.

:func:`run_localize` is what ``vaesource localize`` runs: it reads an
evoked response, a forward solution and a noise covariance (files or MNE
objects), runs :func:`vaesource.apply_vae_inverse` (and, on request, MNE's
MxNE and gamma-MAP on the same whitened data through
:func:`vaesource.compare`), and writes the estimates in MNE's formats, the
sources the full VAE selects by their evidence as dipoles, a per-source
table (evidence, posterior probability, posterior standard deviation) in
``summary.json``, PNG renders and an HTML report. Every input is
checked before anything is computed (the output folder first), and the
outputs are written to a stage folder that then replaces the output folder
as a whole (:mod:`vaesource._output`): a failure never leaves half the
outputs behind, and a folder never mixes two runs.

Several conditions of one evoked file (``condition="all"`` or a list of
names) are localized jointly, with one shared support
(:func:`vaesource.apply_vae_operator` on the list), and epochs
(``epochs=``) with one support shared by every epoch
(:func:`vaesource.apply_vae_operator_epochs`); the full VAE's operator
(:func:`vaesource.make_vae_operator`) is made once per run.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._docs import fill_doc
from ._methods import VAE_MODELS, labels
from ._inputs import _existing, _quietly, _read
from ._output import check_output_folder, staged_folder
from .inverse import (
    LEARN_NOISE,
    _parse_min_evidence,
    apply_vae_operator,
    apply_vae_operator_epochs,
    make_vae_operator,
)
from .utils import (
    ConvergenceWarning,
    _blas_single_thread,
    _check_int,
    _check_option,
    _check_positive,
    logger,
)

#: ``--model`` -> the method run: ``"full"``, ``"diag"``, ``"ae"``.
VAE_METHODS = VAE_MODELS
#: MNE's solvers that ``--compare`` adds, in the order they are run.
PEERS = ("mxne", "gamma_map")
LABELS = labels()


@dataclass
class LocalizeResult:
    """What :func:`run_localize` computed and wrote.

    Attributes
    ----------
    condition : str
        The evoked response localized (its comment).
    estimates : dict
        ``{method: source estimate}``: the full VAE's selected sources
        (``stc.vae_sources`` holds their evidence and uncertainty, the
        unselected optimum is ``stc.vae_result.info["optimum"]``), the
        other methods' active sources.
    dipoles : list of mne.Dipole
        The VAE's sources (those selected by evidence), one time-varying
        dipole each; each full-VAE dipole carries its row of the source
        table as ``dip.vae_source``.
    rows : list of ComparisonRow
        Per method: time, active locations, explained variance.
    files : dict
        ``{name: path}`` of the written files.
    rendered : bool
        Whether renders and the report were made.
    wall_time : float
        Seconds for the whole run.
    learn_noise : str | None
        The noise-learning mode of the full VAE (None: the covariance as
        given).
    kind : ``"evoked"`` | ``"conditions"`` | ``"epochs"``
        What was localized: one evoked response, several conditions with
        one shared support (``estimates`` then has one entry per condition,
        keyed by its file stem ``<condition>-full_vae``, and ``rows`` one
        row per condition) or epochs with one shared support
        (``estimates["full_vae"]`` is the mean of the epochs' estimates).
    conditions : list of str
        The conditions localized, in the order of the file.
    n_epochs : int | None
        Number of epochs localized (``kind="epochs"``).
    """

    condition: str
    estimates: dict
    dipoles: list
    rows: list
    files: dict = field(default_factory=dict)
    rendered: bool = False
    wall_time: float = 0.0
    learn_noise: str | None = None
    kind: str = "evoked"
    conditions: list = field(default_factory=list)
    n_epochs: int | None = None

    @property
    def sources(self):
        """The full VAE's :class:`vaesource.evidence.SourceTable` (None for
        the other models)."""
        vae = next(iter(self.estimates.values()), None)
        return getattr(vae, "vae_sources", None)

    def summary(self) -> str:
        """One line per method: sources (selected by evidence for the full
        VAE), explained variance, time."""
        if self.kind != "evoked":
            return self._shared_summary()
        lines = [f"{self.condition!r}:"]
        for row in self.rows:
            result = getattr(row.estimate, "vae_result", None)
            what = f"{row.n_active} active location(s)"
            if result is not None and "selection" in result.info:
                n_opt = result.info["optimum"].locations.size
                thr = result.info["selection"]["min_evidence"]
                what = (f"{row.n_active} source(s) selected (evidence >= "
                        f"{thr:.3g}) of {n_opt} active location(s) at the optimum")
            lines.append(
                f"  {LABELS.get(row.method, row.method)}: {what}, explained "
                f"variance {100 * row.explained_variance:.1f} %, {row.seconds:.1f} s"
            )
            noise = _noise_summary(result, self.learn_noise)
            if noise is not None:
                lines.append(f"    learned noise ({noise['mode']}): "
                             + _noise_text(noise))
        return "\n".join(lines)

    def _shared_summary(self):
        """The shared sources of a joint run, then one line per condition."""
        stc = next(iter(self.estimates.values()))
        joint = stc.vae_result.info.get("joint", stc.vae_result)
        table = stc.vae_sources
        n_opt = joint.info["optimum"].locations.size
        if self.kind == "epochs":
            head = f"{self.n_epochs} epochs"
        else:
            head = f"{len(self.conditions)} conditions (" + ", ".join(
                repr(c) for c in self.conditions) + ")"
        thr = ("none" if table.min_evidence is None
               else f"{table.min_evidence:.3g}")
        lines = [
            f"{head}, one shared support: {len(table)} source(s) selected "
            f"(joint evidence >= {thr}) of {n_opt} active "
            f"location(s) at the optimum, {joint.n_iter} iterations, "
            f"{self.rows[0].seconds:.1f} s"
        ]
        for row in self.rows:
            lines.append(f"  {row.method}: explained variance "
                         f"{100 * row.explained_variance:.1f} %")
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
        evokeds = _quietly(mne.read_evokeds, fname)
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


def read_conditions(evoked, condition):
    """The conditions of an evoked file to localize jointly.

    Parameters
    ----------
    evoked : path-like
        An ``-ave.fif`` file.
    condition : ``"all"`` | str | sequence of str
        ``"all"``, a comma-separated list of condition names (comments) or
        a sequence of names. A name of the file is taken whole, even if it
        holds a comma.

    Returns
    -------
    evokeds : list of mne.Evoked
        The conditions, in the order given (``"all"``: of the file).
    """
    import mne

    fname = _existing(evoked, "evoked")
    try:
        evokeds = _quietly(mne.read_evokeds, fname)
    except Exception as err:  # MNE raises several types on a non-evoked file
        raise ValueError(f"Could not read evoked data from {fname}: {err}") from None
    names = [ev.comment for ev in evokeds]
    if isinstance(condition, str):
        if condition in names:
            wanted = [condition]
        elif condition.strip().lower() == "all":
            wanted = names
        else:
            wanted = [c.strip() for c in condition.split(",") if c.strip()]
    else:
        wanted = [str(c) for c in condition]
    unknown = [c for c in wanted if c not in names]
    if unknown:
        raise ValueError(
            f"No condition {', '.join(repr(c) for c in unknown)} in {fname}; "
            "it holds " + ", ".join(repr(n) for n in names) + "."
        )
    if len(set(wanted)) < len(wanted):
        raise ValueError(f"A condition is named twice in {condition!r}.")
    if len(set(names)) < len(names):
        raise ValueError(
            f"{fname} holds several conditions with the same name ("
            + ", ".join(repr(n) for n in names) + "): they cannot be told "
            "apart by name. Rename them (evoked.comment)."
        )
    stems = [_condition_stem(c) for c in wanted]
    if len(set(stems)) < len(stems):
        raise ValueError(
            "Conditions " + ", ".join(repr(c) for c in wanted) + " give the "
            "same file names (" + ", ".join(stems) + "); rename them "
            "(evoked.comment) to localize them together."
        )
    return [evokeds[names.index(c)] for c in wanted]


def _condition_stem(name):
    """A condition's name as a file-name prefix: letters, digits, ``_``,
    ``.`` and ``+`` kept, every other run of characters one ``_``."""
    import re

    stem = re.sub(r"[^A-Za-z0-9_.+]+", "_", str(name)).strip("_.")
    return stem or "condition"


def read_epochs(epochs):
    """:class:`mne.Epochs` from a file (or as given), bad epochs dropped.

    Parameters
    ----------
    epochs : path-like | mne.BaseEpochs
        An ``-epo.fif`` file or epochs.

    Returns
    -------
    epochs : mne.BaseEpochs
        At least one epoch (ValueError when every epoch was dropped).
    """
    import mne

    if isinstance(epochs, mne.BaseEpochs):
        epochs = epochs.copy()
    else:
        fname = _existing(epochs, "epochs")
        try:
            with warnings.catch_warnings():
                # MNE warns on a file whose epochs were all dropped: our error
                # below says it
                warnings.filterwarnings("ignore", message=".*object is empty")
                epochs = _quietly(mne.read_epochs, fname)
        except Exception as err:  # as for evoked files
            raise ValueError(
                f"Could not read epochs from {fname}: {err}") from None
    epochs.drop_bad(verbose=False)
    if len(epochs) == 0:
        raise ValueError(
            "Every epoch was dropped (no epoch left to localize); check the "
            "rejection thresholds (epochs.drop_log)."
        )
    return epochs


def _is_joint(condition):
    """Whether ``condition`` asks for several conditions (before reading)."""
    if condition is None or isinstance(condition, (int, np.integer)):
        return False
    if isinstance(condition, str):
        return condition.strip().lower() == "all" or "," in condition
    return True


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


@fill_doc
def run_localize(
    evoked,
    forward,
    noise_cov,
    out_dir,
    *,
    condition=None,
    epochs=None,
    save_epochs: bool = False,
    tmin: float | None = None,
    tmax: float | None = None,
    model: str = "full",
    compare: bool = False,
    gamma: float = 1.0,
    min_evidence="auto",
    learn_noise: str | None = None,
    n_restarts: int = 1,
    random_state=None,
    loose="auto",
    depth: float | None = 0.8,
    subjects_dir=None,
    bem=None,
    views=None,
    color_by: str = "amplitude",
    render: bool = True,
    overwrite: bool = False,
    verbose=None,
) -> LocalizeResult:
    """Localize an evoked response and write estimates, dipoles and renders.

    Parameters
    ----------
    evoked : path-like | mne.Evoked | None
        Evoked response (``-ave.fif``); None with ``epochs``.
    forward : path-like | mne.Forward
        Forward solution (``-fwd.fif``), surface or volume source space.
    noise_cov : path-like | mne.Covariance
        Single-trial noise covariance (``-cov.fif``); divided by ``nave``.
    out_dir : path-like
        Output folder: new, empty, or holding a previous run (see
        ``overwrite``).
    condition : str | int | sequence of str | None
        Condition of a multi-condition evoked file (name or index); or
        several, localized jointly with one shared support: ``"all"``, a
        comma-separated list or a sequence of names (see Notes).
    epochs : path-like | mne.Epochs | None
        Epochs (``-epo.fif``) to localize instead of an evoked response,
        with one support shared by every epoch (bad epochs dropped; see
        Notes).
    save_epochs : bool
        With ``epochs``: also write each epoch's estimate.
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
    min_evidence : float | ``"auto"`` | None
        Full VAE: keep the sources whose evidence (the rise of cost (18)
        when the source alone is removed) reaches this value (see
        :func:`vaesource.apply_vae_inverse`); ``"auto"`` (default) keeps a
        source when its posterior probability of being real reaches 0.95
        (:func:`vaesource.solvers.auto_min_evidence`).
        None (or ``"none"``) keeps the whole optimum of cost (18), weak
        noise-fitting sources included. Every output (estimates, dipoles,
        summary, renders) shows the selected sources.
    learn_noise : None | ``"scalar"`` | ``"type"`` | ``"channel"``
        Full VAE: learn the noise level (one factor, one per channel type,
        or one per channel) instead of trusting the covariance; the learned
        factors are written to ``summary.json``.
    n_restarts : int
        Full VAE: runs from random starts (the first from the default); the
        summary says how often each source appeared.
    random_state : int | None
        Seed of the random starts.
    %(loose)s
    %(depth)s
    subjects_dir : path-like | None
        FreeSurfer subjects folder holding the forward's subject, for
        cortical renders (fsaverage renders on the embedded template
        without one); for volume renders, the subject's
        ``bem/inner_skull.surf`` is the glass.
    bem : path-like | None
        For volume renders: a BEM file (``-bem.fif``, ``-bem-sol.fif``) or
        FreeSurfer surface whose inner skull is drawn around the sources
        (default: the subject's from ``subjects_dir``, else a smooth outline
        of the source grid). See :func:`vaesource.viz.volume.volume_glass`.
    views : str | sequence of str | None
        Views of the renders: cortex ``"lateral"``, ``"medial"``,
        ``"dorsal"``, ``"ventral"``, ``"anterior"``, ``"posterior"``;
        volume ``"sagittal"``, ``"coronal"``, ``"axial"``. Default: the
        views facing the sources (the legend says so); the three orthogonal
        views of a volume.
    color_by : ``"amplitude"`` | ``"evidence"`` | ``"probability"``
        Colour of the full VAE's sources in its render and the report: peak
        amplitude, evidence (log scale) or posterior probability of being
        real; the size always follows the amplitude. The other methods'
        renders and ``comparison.png`` are coloured by amplitude (they carry
        no evidence).
    render : bool
        Make PNG renders and the HTML report (skipped with a warning when
        off-screen OpenGL is unavailable).
    overwrite : bool
        Replace a previous run in ``out_dir``; otherwise refuse before
        reading anything. A run replaces its folder as a whole (written to
        a stage folder next to it, then swapped in), so it never holds two
        runs' files; a folder holding anything vaesource does not write is
        never replaced, nor one holding the inputs.
    %(verbose)s

    Returns
    -------
    result : LocalizeResult

    Notes
    -----
    Files written to ``out_dir``, with ``<m>`` each method (``full_vae``,
    ``mxne``, ``gamma_map``, ...): ``<m>-lh.stc`` / ``<m>-rh.stc`` (surface)
    or ``<m>-vl.stc`` (volume) with the estimate; ``<vae>-dipoles.dip``
    with each source of the VAE at its peak (:func:`peak_dipoles`);
    ``summary.json`` (per method: time, active locations, explained
    variance, iterations; for the full VAE the selection threshold, the
    number of active locations at the unselected optimum, the learned
    noise, and ``sources``: one row per selected source with its position
    (mm, head frame), peak amplitude (nAm), evidence, posterior probability
    of being real, posterior standard deviation per orientation (nAm) and,
    with restarts, the fraction of restarts that found it; the peak
    dipoles: time in s, position in mm in the frame named by
    ``coord_frame``, MNE's head frame, amplitude in nAm); with renders,
    ``<m>.png``, ``comparison.png`` (surface, with ``compare``) and
    ``report.html`` (renders, "which sources are real": the source table,
    the evidence of every source of the optimum against the threshold, time
    courses with 95 % credible bands; solver convergence).

    Several conditions (``condition="all"`` or a list) are localized by
    :func:`vaesource.apply_vae_operator` on the list: one support, the
    evidence of each source joint, each condition's own time courses. Each
    condition gets ``<c>-full_vae-lh.stc`` / ``-rh.stc`` (or ``-vl.stc``)
    and ``<c>-full_vae-dipoles.dip``, ``<c>`` its name with every run of
    characters other than letters, digits, ``_``, ``.`` and ``+`` replaced
    by ``_``; ``summary.json`` lists the conditions (name, file stem,
    ``nave``, explained variance) and, under ``methods``, the shared
    sources (joint evidence and probability; ``conditions``: each
    condition's peak amplitude and posterior sd; ``amplitude_nAm`` the
    largest of them).

    Epochs are localized by :func:`vaesource.apply_vae_operator_epochs`
    with a shared support: ``full_vae-lh.stc`` / ``-rh.stc`` (or
    ``-vl.stc``) hold the mean of the epochs' estimates, with
    ``save_epochs`` each epoch's in ``epoch<k>-full_vae-lh.stc`` ... (``k``
    its index among the epochs kept, zero-padded); ``summary.json`` holds
    the number of epochs, their indices in the file (``selection``) and the
    shared sources (amplitudes of the mean estimate).

    These joint runs take the full VAE only (no ``compare``, no
    ``learn_noise``) and make no renders or report.

    At a finite noise level the optimum of cost (18) also holds many weak
    sources that fit noise; the evidence selection (``min_evidence``)
    removes them on principle, where earlier releases hid sources below
    10 % of the strongest in the renders only.
    """
    job = _prepare(
        evoked, forward, noise_cov, out_dir, condition=condition,
        epochs=epochs, save_epochs=save_epochs, tmin=tmin,
        tmax=tmax, model=model, compare=compare, gamma=gamma,
        min_evidence=min_evidence, learn_noise=learn_noise,
        n_restarts=n_restarts, random_state=random_state, loose=loose,
        depth=depth, subjects_dir=subjects_dir, bem=bem, views=views,
        color_by=color_by, render=render, overwrite=overwrite, verbose=verbose,
    )
    return _execute(job)


@dataclass
class _Job:
    """A checked localize run: inputs read, output folder and renders vetted."""

    evoked: object
    forward: object
    noise_cov: object
    out: Path
    methods: list
    kind: str
    rendering: bool
    options: dict
    t0: float
    shared: str | None = None
    evokeds: list = field(default_factory=list)
    epochs: object = None
    save_epochs: bool = False


def _input_paths(*objs):
    return [o for o in objs if isinstance(o, (str, os.PathLike))]


def _prepare(evoked, forward, noise_cov, out_dir, *, condition, tmin, tmax, model,
             compare, gamma, loose, depth, subjects_dir, bem, views, render,
             overwrite, verbose, min_evidence="auto", learn_noise=None,
             n_restarts=1, random_state=None, color_by="amplitude",
             epochs=None, save_epochs=False):
    """Every check of :func:`run_localize`, cheapest first, before any work."""
    import mne

    from .inverse import _check_inputs
    from .inverse._apply import _check_evokeds
    from .viz._scene import COLOR_BY

    t0 = time.perf_counter()
    _check_option("model", model, tuple(VAE_METHODS))
    gamma = _check_positive("gamma", gamma)
    min_evidence = _parse_min_evidence(min_evidence)
    _check_option("learn_noise", learn_noise, (None,) + LEARN_NOISE)
    n_restarts = _check_int("n_restarts", n_restarts, min_value=1)
    _check_option("color_by", color_by, COLOR_BY)
    if model != "full":
        full_only = [name for name, val, default in (
            ("min_evidence", min_evidence, "auto"), ("learn_noise", learn_noise, None),
            ("n_restarts", n_restarts, 1), ("color_by", color_by, "amplitude"),
        ) if val != default and not (name == "min_evidence" and val is None)]
        if full_only:
            raise ValueError(
                f"{', '.join(full_only)} need the evidence of the full VAE "
                f"(model='full'), got model={model!r}."
            )
    vae_kw = {}
    if model == "full":
        vae_kw = dict(min_evidence=min_evidence, learn_noise=learn_noise,
                      n_restarts=n_restarts, random_state=random_state)
    if isinstance(compare, (bool, np.bool_)):
        peers = list(PEERS) if compare else []
    else:
        peers = list(dict.fromkeys(compare))
        for m in peers:
            _check_option("compare", m, PEERS)
    methods = [VAE_METHODS[model]] + peers
    if not isinstance(save_epochs, (bool, np.bool_)):
        raise TypeError(f"save_epochs must be a bool, got {save_epochs!r}.")
    shared = _check_shared(evoked, epochs, condition, model, peers, learn_noise,
                           save_epochs)
    # the output folder first: refusing it must not wait for the inputs
    out = check_output_folder(
        out_dir, overwrite=overwrite,
        inputs=_input_paths(evoked, epochs, forward, noise_cov, bem))
    evokeds = []
    if shared == "epochs":
        epochs = read_epochs(epochs)
        evoked = None
    elif shared == "conditions":
        if isinstance(evoked, mne.Evoked):
            raise ValueError("Several conditions need an evoked file, not an "
                             "mne.Evoked; give a list of them to "
                             "vaesource.apply_vae_operator instead.")
        evokeds = read_conditions(evoked, condition)
        evoked = evokeds[0]
        if len(evokeds) == 1:  # "all" of a file with one condition
            shared, evokeds = None, []
    else:
        evoked = read_evoked(evoked, condition)
    forward = _read(forward, "forward")
    noise_cov = _read(noise_cov, "cov")
    # channel, time-window and finiteness checks before any work
    if shared == "epochs":
        epochs = _check_epochs(epochs, forward, noise_cov, tmin, tmax)
    else:
        for ev in evokeds or [evoked]:
            _check_inputs(ev, forward, noise_cov, tmin, tmax)
        if evokeds:
            _check_evokeds(evokeds, tmin, tmax)
    if shared is not None and render:
        # the renders and the report show one estimate per method
        logger.warning("No renders or report for several conditions or "
                       "epochs: the estimates and summary.json only.")
        render = False
    kind = _kind(forward)
    if views is not None:
        views = _check_views(views, kind)
    rendering = False
    if render:
        from .viz._scene import _rendering_available

        rendering, why = _rendering_available()
        if not rendering:
            logger.warning("No renders or report: %s", why)
    glass = None
    if rendering and kind == "surface":
        _check_surfaces(forward["src"], subjects_dir)
    elif rendering:
        from .viz.volume import volume_glass

        glass = volume_glass(forward, bem=bem, subjects_dir=subjects_dir)
    options = dict(tmin=tmin, tmax=tmax, gamma=gamma, loose=loose, depth=depth,
                   subjects_dir=subjects_dir, views=views, glass=glass,
                   vae_kw=vae_kw, learn_noise=learn_noise, color_by=color_by,
                   verbose=verbose)
    return _Job(evoked=evoked, forward=forward, noise_cov=noise_cov, out=out,
                methods=methods, kind=kind, rendering=rendering, options=options,
                t0=t0, shared=shared, evokeds=evokeds, epochs=epochs,
                save_epochs=bool(save_epochs))


def _check_shared(evoked, epochs, condition, model, peers, learn_noise,
                  save_epochs):
    """What a run localizes: None (one evoked response), ``"conditions"``
    or ``"epochs"``; the options a shared support cannot take refused."""
    if epochs is not None:
        if evoked is not None:
            raise ValueError("Give an evoked response or epochs, not both "
                             "(--evoked or --epochs).")
        if condition is not None:
            raise ValueError("condition (--condition) chooses conditions of an "
                             "evoked file; it cannot be combined with epochs "
                             "(--epochs).")
        shared = "epochs"
    else:
        if evoked is None:
            raise ValueError("Nothing to localize: give an evoked response "
                             "(--evoked) or epochs (--epochs).")
        if save_epochs:
            raise ValueError("save_epochs (--save-epochs) writes the estimate of "
                             "each epoch: it needs epochs (--epochs).")
        shared = "conditions" if _is_joint(condition) else None
    if shared is not None:
        what = ("epochs (--epochs)" if shared == "epochs"
                else f"several conditions (--condition {condition})")
        if model != "full":
            raise ValueError(f"{what} share one support through the full VAE's "
                             f"evidence: they need model='full', got "
                             f"model={model!r}.")
        if peers:
            raise ValueError(f"compare (--compare) runs MNE's solvers on one "
                             f"evoked response; it cannot be combined with "
                             f"{what}.")
        if learn_noise is not None:
            raise ValueError(f"learn_noise (--learn-noise) is available for one "
                             f"evoked response, not for {what}: their noise "
                             "is the covariance / nave.")
    return shared


def _check_epochs(epochs, forward, noise_cov, tmin, tmax):
    """The channel, time-window and finiteness checks of epochs; the epochs
    cropped to the window."""
    from .inverse import _check_inputs

    # the average carries the epochs' channels, bads and times
    _check_inputs(epochs.average(picks="all"), forward, noise_cov, tmin, tmax)
    if tmin is not None or tmax is not None:
        epochs.crop(tmin, tmax, include_tmax=True)
    data = epochs.get_data(picks="data")
    if not np.all(np.isfinite(data)):
        raise ValueError("The epochs contain NaN or infinite values; mark the "
                         "channels bad or drop those epochs.")
    return epochs


def _execute(job):
    """Run a checked job: the inverse(s), then every output, staged."""
    if job.shared is not None:
        return _execute_shared(job)
    from .compare import Comparison
    from .compare import compare as run_compare
    from .inverse import result_to_dipoles

    opt = job.options
    logger.info("Localizing %r with %s", job.evoked.comment,
                ", ".join(LABELS[m] for m in job.methods))
    comp = Comparison()
    with warnings.catch_warnings():
        warnings.simplefilter("always", ConvergenceWarning)
        comp.rows.append(_vae_row(job))
        peers = job.methods[1:]
        if peers:
            comp.rows += run_compare(
                job.evoked, job.forward, job.noise_cov, methods=peers,
                loose=opt["loose"], depth=opt["depth"], tmin=opt["tmin"],
                tmax=opt["tmax"], gamma=opt["gamma"], verbose=opt["verbose"],
            ).rows
    estimates = {row.method: row.estimate for row in comp.rows}
    vae = estimates[job.methods[0]]
    dipoles = []
    if getattr(vae, "vae_result", None) is not None:
        dipoles = result_to_dipoles(vae.vae_result, vae.tmin, vae.tstep)

    targets = _targets(job.out, job.methods, job.kind, job.rendering)
    with staged_folder(job.out) as stage:
        _write_all(stage, targets, estimates, dipoles, comp, job)
        # the stage started empty: what is in it is what was written
        files = {name: path for name, path in targets.items()
                 if (stage / path.name).exists()}
    return LocalizeResult(
        condition=str(job.evoked.comment), estimates=estimates, dipoles=dipoles,
        rows=list(comp.rows), files=files, rendered=job.rendering,
        wall_time=time.perf_counter() - job.t0, learn_noise=opt["learn_noise"],
        conditions=[str(job.evoked.comment)],
    )


def _operator(job, info):
    """The full VAE's operator of the job's forward and covariance (made once
    per run)."""
    opt = job.options
    return make_vae_operator(info, job.forward, job.noise_cov, loose=opt["loose"],
                             depth=opt["depth"], verbose=opt["verbose"])


def _vae_row(job):
    """The VAE model's estimate (operator made once, then applied), as a row
    of :class:`vaesource.compare.Comparison`."""
    from .compare import ComparisonRow

    opt = job.options
    method = job.methods[0]
    # the model option ("full") of the method run ("full_vae")
    model = next(k for k, v in VAE_METHODS.items() if v == method)
    t0 = time.perf_counter()
    # threaded BLAS on sensor-by-sensor matrices is slower (compare's note)
    with _blas_single_thread():
        operator = _operator(job, job.evoked.info)
        stc = apply_vae_operator(
            job.evoked, operator, model=model,
            gamma=opt["gamma"], tmin=opt["tmin"], tmax=opt["tmax"],
            verbose=opt["verbose"], **opt["vae_kw"],
        )
    result = stc.vae_result
    return ComparisonRow(
        method=method, estimate=stc, seconds=time.perf_counter() - t0,
        explained_variance=float(result.info["explained_variance"]),
        n_active=int(sum(len(v) for v in stc.vertices)),
        params=dict(gamma=opt["gamma"], n_iter=result.n_iter,
                    converged=result.converged),
    )


def _vae_options(job):
    """The full VAE's options of a joint run (no noise learning there)."""
    opt = job.options
    kw = {k: v for k, v in opt["vae_kw"].items() if k != "learn_noise"}
    return dict(gamma=opt["gamma"], verbose=opt["verbose"], **kw)


def _execute_shared(job):
    """Several conditions, or epochs, with one shared support."""
    from .compare import ComparisonRow
    from .inverse import result_to_dipoles

    opt = job.options
    method = job.methods[0]
    suffixes = _suffixes(job.kind)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("always", ConvergenceWarning)
        with _blas_single_thread():
            if job.shared == "conditions":
                operator = _operator(job, job.evokeds[0].info)
                stcs = apply_vae_operator(job.evokeds, operator, tmin=opt["tmin"],
                                          tmax=opt["tmax"], **_vae_options(job))
            else:
                operator = _operator(job, job.epochs.info)
                stcs = apply_vae_operator_epochs(
                    job.epochs, operator, shared_support=True,
                    return_generator=True, **_vae_options(job))
                stcs = _mean_and_epochs(stcs, job.save_epochs)
        seconds = time.perf_counter() - t0
    estimates, rows, dipoles, files = {}, [], [], {}
    if job.shared == "conditions":
        names = [str(ev.comment) for ev in job.evokeds]
        for name, stc in zip(names, stcs):
            stem = f"{_condition_stem(name)}-{method}"
            estimates[stem] = stc
            result = stc.vae_result
            rows.append(ComparisonRow(
                method=stem, estimate=stc, seconds=seconds,
                explained_variance=float(result.info["explained_variance"]),
                n_active=int(sum(len(v) for v in stc.vertices)),
                params=dict(condition=name)))
            dipoles.append(result_to_dipoles(result, stc.tmin, stc.tstep))
        per_epoch = []
    else:
        names = []
        mean, per_epoch = stcs
        estimates[method] = mean
        rows.append(ComparisonRow(
            method=method, estimate=mean, seconds=seconds,
            explained_variance=float(mean.vae_result.info["explained_variance"]),
            n_active=int(sum(len(v) for v in mean.vertices)), params={}))
    width = len(str(max(len(per_epoch) - 1, 0)))
    epoch_stems = [f"epoch{k:0{width}d}-{method}" for k in range(len(per_epoch))]
    for stem in list(estimates) + epoch_stems:
        for suf in suffixes:
            files[f"{stem}{suf}"] = job.out / f"{stem}{suf}"
    if job.shared == "conditions":
        for stem in estimates:
            files[f"{stem}-dipoles"] = job.out / f"{stem}-dipoles.dip"
    files["summary"] = job.out / "summary.json"
    with staged_folder(job.out) as stage:
        for stem, stc in list(estimates.items()) + list(zip(epoch_stems, per_epoch)):
            stc.save(stage / stem, ftype="stc", overwrite=True, verbose=False)
        peaks = [peak_dipoles(d) for d in dipoles]
        for stem, p in zip(estimates, peaks):
            if p is not None:
                p.save(stage / f"{stem}-dipoles.dip", overwrite=True,
                       verbose=False)
        summary = _shared_summary(job, estimates, rows, names, peaks)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        files = {name: path for name, path in files.items()
                 if (stage / path.name).exists()}
    return LocalizeResult(
        condition=", ".join(names) if names else "epochs",
        estimates=estimates, dipoles=[d for ds in dipoles for d in ds],
        rows=rows, files=files, rendered=False,
        wall_time=time.perf_counter() - job.t0, kind=job.shared,
        conditions=names,
        n_epochs=len(job.epochs) if job.shared == "epochs" else None,
    )


def _mean_and_epochs(stcs, keep):
    """The mean of the epochs' estimates (all on the shared vertices), and
    the estimates themselves if ``keep``."""
    kept, total, n = [], None, 0
    for stc in stcs:
        total = stc.data.copy() if total is None else total + stc.data
        n += 1
        if keep:
            kept.append(stc)
        last = stc
    mean = last.copy()
    mean.data = total / n
    mean.vae_result = last.vae_result
    mean.vae_sources = last.vae_sources
    return mean, kept


def _suffixes(kind):
    return ("-lh.stc", "-rh.stc") if kind == "surface" else ("-vl.stc",)


def _shared_summary(job, estimates, rows, names, peaks):
    """summary.json of a joint run: the shared sources, then what each
    condition (or the epochs) adds."""
    stcs = list(estimates.values())
    first = stcs[0]
    joint = first.vae_result.info.get("joint", first.vae_result)
    table = first.vae_sources
    optimum = joint.info.get("optimum", joint)
    shared = table.rows()
    if job.shared == "conditions":
        per = {name: {r["location"]: r for r in stc.vae_sources.rows()}
               for name, stc in zip(names, stcs)}
        for row in shared:
            loc = row["location"]
            row["conditions"] = {
                name: dict(amplitude_nAm=per[name][loc]["amplitude_nAm"],
                           posterior_sd_nAm=per[name][loc]["posterior_sd_nAm"])
                for name in names}
            # the strongest condition's, for readers of one amplitude per source
            row["amplitude_nAm"] = max(c["amplitude_nAm"]
                                       for c in row["conditions"].values())
    entry = dict(
        method=job.methods[0], seconds=round(float(rows[0].seconds), 3),
        n_active=int(sum(len(v) for v in first.vertices)),
        n_iter=int(joint.n_iter), converged=bool(joint.converged),
        gamma=float(joint.gamma), min_evidence=table.min_evidence,
        n_active_optimum=int(optimum.locations.size),
        n_locations=int(table.n_locations),
    )
    restarts = joint.info.get("restarts")
    if restarts is not None:
        entry["n_restarts"] = int(len(restarts["costs"]))
    entry["coord_frame"] = "head"
    entry["sources"] = shared
    out = dict(shared_support=True, tmin=_time(first.tmin))
    if job.shared == "conditions":
        out["conditions"] = [
            dict(condition=name, stem=stem, nave=float(ev.nave),
                 tmin=_time(stc.tmin), n_active=int(row.n_active),
                 explained_variance=round(float(row.explained_variance), 6),
                 peak_dipoles_mm=_peak_rows(p))
            for name, stem, ev, stc, row, p in zip(
                names, estimates, job.evokeds, stcs, rows, peaks)]
        sfreq = job.evokeds[0].info["sfreq"]
    else:
        epochs = job.epochs
        out["epochs"] = dict(
            n_epochs=int(len(epochs)), n_dropped=int(sum(
                bool(log) for log in epochs.drop_log)),
            selection=[int(k) for k in epochs.selection],
            saved=bool(job.save_epochs), n_times=int(len(epochs.times)))
        entry["explained_variance"] = round(float(rows[0].explained_variance), 6)
        sfreq = epochs.info["sfreq"]
    out.update(sfreq=float(sfreq), n_sources=int(job.forward["nsource"]),
               methods=[entry])
    return out


def _peak_rows(peaks):
    """The peak dipoles, JSON-ready (head frame, mm, nAm)."""
    if peaks is None:
        return []
    return [dict(time=_time(t), pos=[round(1e3 * float(v), 2) for v in p],
                 amplitude_nAm=round(float(1e9 * a), 3))
            for t, p, a in zip(peaks.times, peaks.pos, peaks.amplitude)]


def _write_all(stage, targets, estimates, dipoles, comp, job):
    """Write every output (named as in ``targets``) into ``stage``."""
    for m, stc in estimates.items():
        stc.save(stage / m, ftype="stc", overwrite=True, verbose=False)
    peaks = peak_dipoles(dipoles)
    if peaks is not None:
        peaks.save(stage / targets["dipoles"].name, overwrite=True, verbose=False)
    summary = _summary(comp, job.evoked, job.forward, peaks,
                       job.options["learn_noise"])
    (stage / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if job.rendering:
        _render_all(stage, targets, estimates, job)


def _time(t):
    """A sample time for people: to the microsecond, no float noise, no -0."""
    return round(float(t), 6) + 0.0


def _summary(comp, evoked, forward, peaks, learn_noise=None):
    rows = []
    for row in comp.rows:
        entry = dict(method=row.method, seconds=round(float(row.seconds), 3),
                     n_active=int(row.n_active),
                     explained_variance=round(float(row.explained_variance), 6))
        result = getattr(row.estimate, "vae_result", None)
        if result is not None:
            entry.update(n_iter=int(result.n_iter), converged=bool(result.converged),
                         gamma=float(result.gamma))
        table = getattr(row.estimate, "vae_sources", None)
        if table is not None:
            # which sources are real: the selection and one row per source
            optimum = result.info.get("optimum", result)
            entry.update(
                min_evidence=table.min_evidence,
                n_active_optimum=int(optimum.locations.size),
                n_locations=int(table.n_locations),
            )
            restarts = result.info.get("restarts")
            if restarts is not None:
                entry["n_restarts"] = int(len(restarts["costs"]))
            noise = _noise_summary(result, learn_noise)
            if noise is not None:
                entry["learned_noise"] = noise
            entry["coord_frame"] = "head"
            entry["sources"] = table.rows()
        rows.append(entry)
    out = dict(condition=str(evoked.comment), nave=float(evoked.nave),
               tmin=_time(comp.rows[0].estimate.tmin),
               sfreq=float(evoked.info["sfreq"]),
               n_sources=int(forward["nsource"]), methods=rows)
    if peaks is not None:
        # MNE's head frame (x to the right ear, y to the nasion, z up), as in
        # the .dip file and mne.read_dipole
        out["coord_frame"] = "head"
        out["peak_dipoles_mm"] = [
            dict(time=_time(t), pos=[round(1e3 * float(v), 2) for v in p],
                 amplitude_nAm=round(float(1e9 * a), 3))
            for t, p, a in zip(peaks.times, peaks.pos, peaks.amplitude)
        ]
    return out


def _render_all(stage, targets, estimates, job):
    from .viz import make_report, plot_comparison, plot_sources, plot_volume_sources

    # the full VAE's estimate holds the sources selected by evidence: nothing
    # is hidden by amplitude any more
    shown = {LABELS.get(m, m): stc for m, stc in estimates.items()}
    color_by = job.options["color_by"]

    def colour(stc):
        return color_by if getattr(stc, "vae_sources", None) is not None else "amplitude"

    results = {LABELS.get(m, m): stc.vae_result for m, stc in estimates.items()
               if getattr(stc, "vae_result", None) is not None}
    src = job.forward["src"]
    views = job.options["views"]
    if job.kind == "surface":
        subject = src[0].get("subject_his_id") or None
        kw = dict(subject=subject, subjects_dir=job.options["subjects_dir"], src=src)
        views = views or "auto"
        for m, (label, stc_shown) in zip(estimates, shown.items()):
            plot_sources(stc_shown, title=label, fname=stage / f"{m}.png",
                         views=views, color_by=colour(stc_shown), **kw).close()
        if "comparison.png" in targets:
            plot_comparison(shown, views=views, fname=stage / "comparison.png",
                            **kw).close()
        make_report(stage / "report.html", stcs=shown, results=results or None,
                    title="vaesource localize", overwrite=True, views=views,
                    color_by=color_by, **kw)
    else:
        glass = job.options["glass"]
        vol_kw = dict(surface=(glass.rr, glass.tris), glass_name=glass.name,
                      trans=job.forward["mri_head_t"])
        if views:
            vol_kw["views"] = views
        for m, (label, stc_shown) in zip(estimates, shown.items()):
            plot_volume_sources(stc_shown, src, title=label,
                                fname=stage / f"{m}.png", color_by=colour(stc_shown),
                                **vol_kw).close()
        first = next(iter(shown))
        make_report(stage / "report.html",
                    volume=(shown[first], src,
                            dict(vol_kw, color_by=colour(shown[first]))),
                    results=results or None, title="vaesource localize",
                    overwrite=True)


def _noise_summary(result, mode):
    """The learned noise of a full-VAE result, JSON-ready (None if not learned).

    Factors multiply the noise covariance as given (divided by nave): 1
    means the covariance was right, 2 that the noise was twice as strong.
    """
    if result is None or mode is None:
        return None
    if mode == "scalar":
        return dict(mode="scalar", factor=float(result.gamma))
    noise = result.info.get("noise_var")
    if noise is None:
        return None
    if mode == "type":
        return dict(mode="type", factors={str(k): float(v) for k, v in noise.items()})
    names = result.info["lead_field"].ch_names
    values = np.asarray(noise, float)
    return dict(mode="channel", median=float(np.median(values)),
                min=float(values.min()), max=float(values.max()),
                factors={str(c): float(v) for c, v in zip(names, values)})


def _noise_text(noise):
    if noise["mode"] == "scalar":
        return f"{noise['factor']:.3g} x the noise covariance"
    if noise["mode"] == "type":
        return ", ".join(f"{k} x {v:.3g}" for k, v in noise["factors"].items())
    return (f"median x {noise['median']:.3g} ({noise['min']:.3g} to "
            f"{noise['max']:.3g}) over {len(noise['factors'])} channels")


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


def _check_views(views, kind):
    """Views of the renders of a surface or volume run (a string may name
    several, comma-separated)."""
    from .viz._views import VIEWS
    from .viz._views import _check_views as check
    from .viz.volume import VOLUME_VIEWS

    if isinstance(views, str):
        views = tuple(v.strip() for v in views.split(",") if v.strip())
    return check(views, "both", VIEWS if kind == "surface" else VOLUME_VIEWS)

"""Shared parameter documentation: one ``docdict``, filled by ``fill_doc``.

As MNE does (``mne/utils/docs.py``): a parameter that several public
functions take with the same meaning is documented once here, and each
docstring names it as ``%(name)s`` on a line of its own, at the indentation
of its "Parameters" entries. :func:`fill_doc` replaces the line by the entry,
indented to match, so ``help(f)`` and the Sphinx pages read complete numpydoc
sections. A parameter whose meaning differs between functions keeps its own
text in each of them.
"""

from __future__ import annotations

import re

docdict: dict[str, str] = {}

# ----------------------------------------------------------------- general
docdict["verbose"] = """
verbose : bool | str | int | None
    Log level for this call (``True`` is ``"info"``, ``False``
    ``"warning"``, or a level name such as ``"debug"``); None keeps the
    current level."""

# ---------------------------------------------------- MNE objects -> gains
docdict["loose"] = """
loose : float | ``"auto"``
    Weight of the tangential orientations: 0 is fixed (normal to the
    cortex), 1 free, in between loose; ``"auto"`` is 0.2 for surface
    source spaces and 1 otherwise (MNE's default)."""

docdict["depth"] = """
depth : float | dict | None
    Depth-weighting exponent (MNE's sparse-solver defaults, e.g. 0.8), a
    dict of MNE depth options, or None for no depth weighting."""

docdict["rank"] = """
rank : dict | ``"info"`` | ``"full"`` | None
    Rank of the noise covariance, as in MNE (None: estimated)."""

# ------------------------------------------------------ the array solvers
docdict["n_orient"] = """
n_orient : int
    Number of consecutive columns of ``G`` sharing one weight (3 for free
    orientation dipoles, like MNE's ``xyz_same_gamma=True``)."""

docdict["max_iter"] = """
max_iter : int
    Maximum number of iterations."""

docdict["tol"] = """
tol : float
    Largest relative change of the cost in the last step,
    ``|L_k - L_{k-1}| / |L_k|``, at convergence (the
    majorisation-minimisation engines stop on it alone)."""

docdict["kkt_tol"] = """
kkt_tol : float
    Largest stationarity violation at convergence (full VAE, ``"newton"``
    engine only): ``|rho_i - 1|`` on active locations, ``rho_i - 1`` on
    inactive ones and ``|rho_gamma - 1|`` for a learned ``gamma``, all
    checked by a final pass over every location.
    ``result.info["kkt_violation"]`` reports it for every engine."""

docdict["prune_tol"] = """
prune_tol : float
    A location whose variance ``w_i ||G_i||_F^2`` falls below
    ``prune_tol * gamma`` no longer shapes ``Sigma``: it is set to zero
    and removed from later iterations. A threshold relative to
    ``max(w)`` instead would cut true sources whose variances span many
    decades."""

docdict["weights_init"] = """
weights_init : array, shape (n_locations,) | None
    Initial weights (finite, >= 0, one per location). Default: equal
    weights matching the data power, on every location."""

docdict["random_state"] = """
random_state : int | numpy.random.Generator | None
    Seed of the random starts."""

# ------------------------------------------------- the renders (viz.brain,
# viz.volume): keywords of plot_sources that the other renders share
# ------------------------------------------------ the inverse on MNE objects
docdict["inv_model"] = """
model : ``"full"`` | ``"diag"`` | ``"ae"``
    Full-covariance VAE (:func:`vaesource.solvers.full_vae`), diagonal
    VAE (:func:`vaesource.solvers.diag_vae`) or deterministic
    autoencoder (:func:`vaesource.solvers.autoencoder`).
    A list of conditions, and epochs with a shared support, need
    ``"full"`` (they share a support through cost (18))."""

docdict["inv_gamma"] = """
gamma : float
    Noise variance of the whitened data (decoder variance). 1 means "the
    noise level of this average under ``noise_cov``"; larger values give
    sparser estimates. The initial value when ``learn_gamma=True``."""

docdict["inv_learn_gamma"] = """
learn_gamma : bool
    Estimate ``gamma`` from the data (``model="full"`` only); the same
    as ``learn_noise="scalar"``. One evoked response only."""

docdict["pick_ori"] = """
pick_ori : None | ``"vector"``
    ``"vector"`` returns a :class:`mne.VectorSourceEstimate` (free or
    loose orientation only); None returns the norm over orientations."""

docdict["return_residual"] = """
return_residual : bool
    Also return the residual ``evoked - G X`` (channels used only)."""

docdict["return_as_dipoles"] = """
return_as_dipoles : bool
    Return a list of :class:`mne.Dipole`, one per active location."""

docdict["inv_tmin_tmax"] = """
tmin, tmax : float | None
    Time window (s) of the data used; None for the first / last sample."""

docdict["inv_update"] = """
update : ``"newton"`` | ``"mackay"`` | ``"convex"`` | ``"em"`` | ``"mm"``
    Engine of the full VAE (see :func:`vaesource.solvers.full_vae`):
    the working-set Newton engine (default, stops on a certificate of
    stationarity) or the MM updates of earlier releases. The diagonal VAE
    and the autoencoder have the Newton engine too (``"newton"``) and one
    MM engine each, which ``"mm"`` or any of the full VAE's MM values
    selects."""

docdict["inv_min_evidence"] = """
min_evidence : float | ``"auto"`` | None
    Full VAE: keep the active locations whose evidence (the rise of cost
    (18) when the location alone is removed, twice the log Bayes factor
    of keeping it) reaches this value, minimising cost (18) again on the
    rest (see :func:`vaesource.solvers.full_vae`). ``"auto"`` (default)
    is ``2 log(19 n_locations)``: a location is kept when its posterior
    probability of being active is at least 0.95 under a prior of one
    active location among ``n_locations``
    (:func:`vaesource.solvers.auto_min_evidence`). On the cortical
    benchmark (``vaesource bench cortical``) the weak sources the
    optimum keeps to fit noise have evidence below 3 (90 % of them)
    while those that explain a simulated source mostly reach 10 to
    10^4; the ones above the threshold that lie away from a true source
    are its split parts on a grid that does not hold it (measured 17-30
    mm away). See "Which sources are real, and calibration" in the
    documentation (``doc/evidence.md``). None returns the optimum of
    cost (18) itself; with a threshold the optimum stays available as
    ``stc.vae_result.info["optimum"]``. Ignored (must be ``"auto"`` or
    None) for the diagonal VAE and the autoencoder."""

docdict["inv_learn_noise"] = """
learn_noise : None | ``"scalar"`` | ``"type"`` | ``"channel"``
    Full VAE: learn the noise level instead of trusting ``noise_cov``:
    one factor for all channels (``"scalar"``, as ``learn_gamma``), one
    per channel type (``"type"``: magnetometers, gradiometers, EEG) or
    one per channel (``"channel"``), by Champagne's heteroscedastic
    noise learning (:func:`vaesource.solvers.full_vae` with
    ``noise_groups``). The factors scale the whitened noise of each
    channel; they are exact per channel type when the covariance has no
    cross-type terms (as MNE's estimates between MEG and EEG), and per
    channel when it is diagonal. The learned factors are in
    ``stc.vae_result.info["noise_var"]`` (``{type: factor}`` or one per
    channel, in the order of ``info["lead_field"].ch_names``).
    One evoked response only."""

docdict["inv_n_restarts"] = """
n_restarts : int
    Full VAE: number of runs, the first from the default start and the
    others from random starts; the lowest cost (18) is kept and
    ``stc.vae_sources.frequency`` says how often each source appeared
    (theorem 4.1: under its conditions every minimum agrees)."""

docdict["inv_merge_split"] = """
merge_split : bool
    Full VAE with ``min_evidence``: test each pair of selected sources whose
    neighbourhoods (20 mm) overlap as one source split over the grid (both
    removed, one source at the best location near them); when cost (18)
    rises by less than ``min_evidence``, the pair is merged and cost (18)
    minimised again on the new support (``vae_result.info["merges"]``;
    ``vae_sources.merged`` counts the locations each source stands for).
    Off by default: on simulated cortical responses it raised precision at
    SNR 10 but lowered recall and raised the earth mover's distance at SNR
    1 (see the documentation's page on which sources are real)."""


docdict["render_surfaces"] = """
surfaces : None | Template | dict
    None renders the embedded template's cortex (unless ``subject`` is
    given); a :class:`vaesource.datasets.Template`; or a dict
    ``{"lh": (rr, tris), "rh": (rr, tris)}`` (or ``Template.surfaces``)."""

docdict["render_surface"] = """
surface : ``"inflated"`` | ``"white"`` | ``"pial"``
    Which surface to draw on. Sources sit on that surface at their
    vertices, pushed outward along the normal."""

docdict["render_hemi"] = """
hemi : ``"both"`` | ``"lh"`` | ``"rh"``
    Hemispheres to draw."""

docdict["render_time"] = """
time : float | None
    Time (s) at which to show amplitudes; None shows each source at its
    own peak."""

docdict["render_subject"] = """
subject, subjects_dir : str | None, path-like | None
    Read ``{lh,rh}.<surface>`` and ``curv`` (or ``sulc``) of a FreeSurfer
    subject with nibabel, when ``surfaces`` is None
    (``subjects_dir`` defaults to ``$SUBJECTS_DIR``). ``"fsaverage"``
    without a subjects folder renders on the template (fsaverage5 vertex
    numbers are fsaverage's first 10242)."""

docdict["render_curvature"] = """
curvature : dict | None
    ``{hemi: array}``; positive values are shaded dark (sulci), smoothly
    (a soft step of the curvature, lightly smoothed on the mesh).
    Default: the template's sulcal depth or the subject's curvature."""

docdict["render_src"] = """
src : mne.SourceSpaces | None
    If given, checked against the surfaces and the estimate."""

docdict["render_color_by"] = """
color_by : ``"amplitude"`` | ``"evidence"`` | ``"probability"``
    What the colour of the spheres shows (their size is always the
    amplitude): the amplitude, the evidence of each source (twice the
    log Bayes factor of keeping it, on a log scale) or its posterior
    probability of being real. The last two need a full-VAE estimate of
    :func:`vaesource.apply_vae_inverse` (``stc.vae_sources``) or
    ``sources``."""

docdict["render_cmap"] = """
cmap : str | matplotlib colormap | None
    Colour map; default ``"autumn_r"`` (yellow to red) for amplitudes,
    ``"viridis"`` (dark to yellow) for evidence and probability."""

docdict["render_clim"] = """
clim : (float, float) | None
    Colour limits in colour-bar units; default ``(0, peak)`` for
    amplitudes, whole decades around the evidence, (0, 1) for
    probabilities."""

docdict["render_regions"] = """
regions : bool
    Draw each source's 95 % location region (where the source may be,
    from ``stc.vae_sources.regions`` of a full-VAE estimate) in the
    source's colour, translucent, more opaque where the source is more
    probable, and on the cortex fainter for a source less likely to be
    real (none for a source of P(real) below 0.06, which would fill an
    unselected optimum's render with the wide regions of the sources that
    fit noise): on the cortex, the surface around the region's locations is
    tinted; in a volume, each location is a small sphere. Estimates without
    location regions are drawn without them."""

docdict["render_threshold"] = """
threshold : float
    Sources with amplitude (A·m) at or below it are not drawn."""

docdict["render_units"] = """
units : ``"auto"`` | ``"nAm"`` | ``"Am"`` | ``"a.u."``
    Colour-bar units; ``"auto"`` uses nAm for MNE-scale currents."""

docdict["render_title"] = """
title : str | None
    Figure title, in bold at the head of the legend (the colour bar is
    labelled with its quantity and unit)."""

docdict["render_size"] = """
size : (int, int) | None
    Image width and height in pixels (default depends on the views)."""

docdict["render_fname"] = """
fname : path-like | None
    Write a PNG screenshot there."""

# ------------------------------------------------- matplotlib figures
docdict["figure_title"] = """
title : str | None
    Axes title."""

docdict["figure_ax"] = """
ax : matplotlib.axes.Axes | None
    Draw into these axes (the figure is then not closed)."""

docdict["figure_fname"] = """
fname : path-like | None
    Save the figure there (150 dpi; the format from the extension) and
    close it."""

# ------------------------------------------ the figure-2 benchmark sweeps
docdict["fig2_settings"] = """
settings : sequence of str
    Panels to run among ``"unit"``, ``"jeffreys"``, ``"meg"``,
    ``"noisy"``."""

docdict["fig2_r_values"] = """
r_values : sequence of int
    Numbers of non-zero rows, each ``>= 1``."""

docdict["fig2_n_trials"] = """
n_trials : int
    Trials per (setting, r); the paper uses 100."""

docdict["fig2_models"] = """
models : sequence of str
    Among ``"full_vae"``, ``"diag_vae"``, ``"autoencoder"``,
    ``"group_lasso"``. All models see the same problems."""

docdict["fig2_seed"] = """
seed : int
    Master seed; trial seeds derive from it, so results do not depend on
    ``n_jobs`` or the backend."""

docdict["n_jobs"] = """
n_jobs : int
    Parallel jobs (joblib; -1 for all cores)."""

docdict["backend"] = """
backend : str | None
    joblib backend, e.g. ``"loky"`` (default), ``"threading"`` or
    ``"dask"`` (with a ``distributed.Client`` already created)."""

docdict["progress"] = """
progress : bool
    Show a tqdm progress bar."""

docdict = {key: value.strip("\n") for key, value in docdict.items()}

_PLACEHOLDER = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", re.MULTILINE)


def fill_doc(func):
    """Fill the ``%(name)s`` lines of a docstring from :data:`docdict`.

    Each placeholder stands alone on its line; the entry replaces it,
    every line indented by the placeholder's indentation. An unknown name
    raises a KeyError when the module is imported, so a typo cannot reach
    the documentation. Returns ``func`` (or class) itself.
    """
    doc = func.__doc__
    if not doc:  # python -OO
        return func

    def entry(match):
        indent, name = match.groups()
        try:
            text = docdict[name]
        except KeyError:
            raise KeyError(
                f"No docdict entry {name!r} for the docstring of "
                f"{getattr(func, '__qualname__', func)!r}."
            ) from None
        return "\n".join(indent + line if line else line
                         for line in text.splitlines())

    func.__doc__ = _PLACEHOLDER.sub(entry, doc)
    return func

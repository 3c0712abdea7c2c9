"""Steps 2 and 3 of the inverse: solve, and make the estimate.

:func:`apply_vae_operator` whitens evoked responses with a prepared
:class:`~vaesource.inverse.VAEOperator` (``_prepare_data``), runs an array
kernel of :mod:`vaesource.solvers` (``_solve``; several conditions in one
joint minimisation, ``_apply_conditions``) and packs the row-sparse
estimate (``_make_estimate``). :func:`apply_vae_inverse` makes the operator
first, as :func:`mne.inverse_sparse.gamma_map` prepares its gain.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from .._docs import fill_doc
from .. import _mne_compat
from .._methods import METHODS, VAE_MODELS
from ..metrics import explained_variance
from ..utils import (
    _blas_single_thread,
    _check_int,
    _check_option,
    _check_positive,
    _validate_type,
    logger,
    scale_noise_cov,
    use_log_level,
    warn,
)
from ._operator import (
    VAEOperator,
    _check_forward_and_channels,
    check_data_matches,
    make_vae_operator,
)

#: The ``model`` options: ``"full"``, ``"diag"``, ``"ae"`` (the autoencoder).
MODELS = tuple(VAE_MODELS)
#: The ``learn_noise`` options (None learns nothing).
LEARN_NOISE = ("scalar", "type", "channel")


@fill_doc
def apply_vae_inverse(
    evoked,
    forward,
    noise_cov,
    *,
    model: Literal["full", "diag", "ae"] = "full",
    gamma: float = 1.0,
    learn_gamma: bool = False,
    loose: float | Literal["auto"] = "auto",
    depth: float | dict | None = 0.8,
    pick_ori: Literal["vector"] | None = None,
    return_residual: bool = False,
    return_as_dipoles: bool = False,
    rank: dict | Literal["info", "full"] | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    update: Literal["newton", "mackay", "convex", "em", "mm"] = "newton",
    tol: float = 1e-8,
    kkt_tol: float = 1e-6,
    max_iter: int = 2000,
    min_evidence: float | Literal["auto"] | None = "auto",
    learn_noise: Literal["scalar", "type", "channel"] | None = None,
    n_restarts: int = 1,
    random_state=None,
    merge_split: bool = False,
    verbose: bool | str | int | None = None,
):
    """Sparse source estimate of an evoked response with a linear VAE.

    The whitened model is ``M = G X + E`` with ``E`` white noise of variance
    ``gamma``; the full-covariance VAE minimises cost (18) of the paper,
    ``tr[M M^T Sigma^-1] + n log|Sigma|`` with ``Sigma = G diag(w) G^T +
    gamma I``, over the source variances ``w`` (one per location, shared by
    its 3 orientations for free / loose orientation, like MNE's
    ``xyz_same_gamma=True``), and returns ``X = diag(w) G^T Sigma^-1 M``,
    zero outside the active locations.

    It is :func:`vaesource.make_vae_operator` followed by
    :func:`vaesource.apply_vae_operator`: to localize several responses
    with one forward model and covariance, make the operator once.

    Parameters
    ----------
    evoked : mne.Evoked | list of mne.Evoked
        The evoked response (an average of ``evoked.nave`` trials), or
        several conditions localized with one shared support (see
        :func:`vaesource.apply_vae_operator`).
    forward : mne.Forward
        Forward solution in head coordinates, with free orientation when
        ``loose > 0`` or ``pick_ori="vector"``.
    noise_cov : mne.Covariance
        Noise covariance of single trials (as :func:`mne.compute_covariance`
        returns it). It is divided by ``evoked.nave`` before whitening, as
        :func:`mne.minimum_norm.apply_inverse` does, so that after whitening
        the noise of the average has unit variance.
    %(inv_model)s
    %(inv_gamma)s
    %(inv_learn_gamma)s
    %(loose)s
    %(depth)s
    %(pick_ori)s
    %(return_residual)s
    %(return_as_dipoles)s
    %(rank)s
    %(inv_tmin_tmax)s
    %(inv_update)s
    %(tol)s
    %(kkt_tol)s
    %(max_iter)s
    %(inv_min_evidence)s
    %(inv_learn_noise)s
    %(inv_n_restarts)s
    %(random_state)s
    %(inv_merge_split)s
    %(verbose)s

    Returns
    -------
    stc : mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate | list of mne.Dipole
        Source time courses (A·m) of the active locations. The solver's
        :class:`vaesource.solvers.SolverResult` (cost history, iterations,
        convergence, final ``gamma``, VAE parameters; ``result.X`` is the
        weighted, whitened-problem estimate) is attached as the attribute
        ``vae_result`` of the source estimate, or of each dipole, and, for
        the full VAE, a :class:`vaesource.evidence.SourceTable` (evidence,
        inclusion probability and posterior standard deviation of each
        source) as ``vae_sources`` (each dipole gets its row as
        ``vae_source``, a dict); :func:`vaesource.credible_interval` gives
        credible bands of the time courses. The solver result's
        ``info`` dict also holds ``"explained_variance"`` (fraction of
        ``||M||_F^2`` explained), ``"seconds"`` (solver wall time),
        ``"lead_field"`` (the :class:`vaesource.forward.LeadField`) and
        ``"M"`` (the whitened data). An empty estimate (no active source)
        is returned, with a warning, when the whole data is explained as
        noise (then the dipole list is empty and carries no result).
    residual : mne.Evoked
        The residual, only if ``return_residual=True``.

    Raises
    ------
    TypeError
        For an argument of a wrong type (e.g. a file name as ``forward``, a
        str or a bool as a number), naming the parameter.
    ValueError
        For inconsistent inputs: no channel in common between the evoked
        data and the forward, channels missing from the noise covariance,
        all channels bad, an empty time window, non-finite data or a forward
        not in head coordinates; or a value out of range.

    See Also
    --------
    vaesource.make_vae_operator : prepare once, apply many times.
    mne.inverse_sparse.gamma_map : the same cost (18) minimised by MNE.
    vaesource.compare.compare : run MNE's sparse solvers side by side.

    Notes
    -----
    :func:`mne.inverse_sparse.gamma_map` and
    :func:`mne.inverse_sparse.mixed_norm` whiten with the covariance as given
    (single trials) and ignore ``nave``; ``gamma_map(..., alpha=1 / nave)``
    is therefore the same problem as ``apply_vae_inverse(..., gamma=1)``.
    """

    import mne

    opts = _check_options(
        model=model, gamma=gamma, learn_gamma=learn_gamma, pick_ori=pick_ori,
        return_residual=return_residual, return_as_dipoles=return_as_dipoles,
        update=update, tol=tol, kkt_tol=kkt_tol, max_iter=max_iter,
        min_evidence=min_evidence, learn_noise=learn_noise,
        n_restarts=n_restarts, random_state=random_state,
        merge_split=merge_split,
    )
    _validate_type(forward, mne.Forward, "forward")
    _validate_type(noise_cov, mne.Covariance, "noise_cov")
    # one BLAS thread: the factorisations are at most n_channels square
    # (measured up to 50x slower multi-threaded on 2 shared cores)
    with use_log_level(verbose), _blas_single_thread():
        # the data's own checks come before any work
        evokeds = _check_evokeds(evoked, tmin, tmax)
        operator = make_vae_operator(
            evokeds[0].info, forward, noise_cov, loose=loose, depth=depth,
            rank=rank, verbose=verbose,
        )
        return _apply(evoked, evokeds, operator, tmin, tmax, opts)


@fill_doc
def apply_vae_operator(
    evoked,
    operator,
    *,
    model: Literal["full", "diag", "ae"] = "full",
    gamma: float = 1.0,
    learn_gamma: bool = False,
    pick_ori: Literal["vector"] | None = None,
    return_residual: bool = False,
    return_as_dipoles: bool = False,
    tmin: float | None = None,
    tmax: float | None = None,
    update: Literal["newton", "mackay", "convex", "em", "mm"] = "newton",
    tol: float = 1e-8,
    kkt_tol: float = 1e-6,
    max_iter: int = 2000,
    min_evidence: float | Literal["auto"] | None = "auto",
    learn_noise: Literal["scalar", "type", "channel"] | None = None,
    n_restarts: int = 1,
    random_state=None,
    merge_split: bool = False,
    verbose: bool | str | int | None = None,
):
    """Localize evoked responses with a prepared operator.

    The same estimate as :func:`vaesource.apply_vae_inverse` with the
    forward and covariance the operator was made from, without preparing
    them again.

    With a list of evoked responses (conditions), the conditions share one
    support: one minimisation of the joint cost over the source variances
    ``w`` that all conditions share. Condition ``c`` (an average of
    ``nave_c`` trials, ``n_c`` samples, data ``M_c`` whitened by the
    single-trial covariance) has noise ``gamma / nave_c``, so the joint
    cost is::

        sum_c [ tr(M_c^T Sigma_c^-1 M_c) + n_c log|Sigma_c| ],
        Sigma_c = G diag(w) G^T + (gamma / nave_c) I

    which is cost (18) of the stacked data when all ``nave_c`` are equal.
    The evidence of each source, its probability and the selection
    (``min_evidence``) are joint; the time courses ``X_c = diag(w) G^T
    Sigma_c^-1 M_c`` and their credible bands are each condition's own.
    Time windows may differ between conditions; channels and sampling
    rates must match.

    Parameters
    ----------
    evoked : mne.Evoked | list of mne.Evoked
        One evoked response, or several conditions to localize with one
        shared support.
    operator : VAEOperator
        From :func:`vaesource.make_vae_operator` (made for these channels
        and projectors).
    %(inv_model)s
    %(inv_gamma)s
    %(inv_learn_gamma)s
    %(pick_ori)s
    %(return_residual)s
    %(return_as_dipoles)s
    %(inv_tmin_tmax)s
    %(inv_update)s
    %(tol)s
    %(kkt_tol)s
    %(max_iter)s
    %(inv_min_evidence)s
    %(inv_learn_noise)s
    %(inv_n_restarts)s
    %(random_state)s
    %(inv_merge_split)s
    %(verbose)s

    Returns
    -------
    stc : mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate | list of mne.Dipole | list
        As :func:`vaesource.apply_vae_inverse` returns it; for a list of
        conditions, a list with one estimate per condition (all on the
        same vertices). Each carries its condition's ``vae_result``
        (``info["joint"]`` is the joint solver result) and a
        ``vae_sources`` table whose evidence and probabilities are joint
        and whose amplitudes and posterior spreads are the condition's.
    residual : mne.Evoked | list of mne.Evoked
        Only if ``return_residual=True``.

    Raises
    ------
    TypeError
        For an argument of a wrong type.
    ValueError
        For an empty list, conditions with different channels or sampling
        rates, an evoked response lacking channels of the operator or with
        other projectors, an empty time window or non-finite data; all
        before any work.

    See Also
    --------
    vaesource.make_vae_operator, vaesource.apply_vae_operator_epochs
    """
    opts = _check_options(
        model=model, gamma=gamma, learn_gamma=learn_gamma, pick_ori=pick_ori,
        return_residual=return_residual, return_as_dipoles=return_as_dipoles,
        update=update, tol=tol, kkt_tol=kkt_tol, max_iter=max_iter,
        min_evidence=min_evidence, learn_noise=learn_noise,
        n_restarts=n_restarts, random_state=random_state,
        merge_split=merge_split,
    )
    _validate_type(operator, VAEOperator, "operator")
    with use_log_level(verbose), _blas_single_thread():
        evokeds = _check_evokeds(evoked, tmin, tmax)
        return _apply(evoked, evokeds, operator, tmin, tmax, opts)


# ---------------------------------------------------------------------------
# the steps: check, prepare the data, solve, make the estimate
# ---------------------------------------------------------------------------
def _check_options(*, model, gamma, learn_gamma, pick_ori, return_residual,
                   return_as_dipoles, update, tol, kkt_tol, max_iter,
                   min_evidence, learn_noise, n_restarts, random_state,
                   merge_split=False):
    """Validate the solver options; return them as a dict."""
    _check_option("model", model, MODELS)
    _check_option("learn_noise", learn_noise, (None,) + LEARN_NOISE)
    n_restarts = _check_int("n_restarts", n_restarts, min_value=1)
    if model != "full":
        if min_evidence not in (None, "auto"):
            raise ValueError(
                "min_evidence selects sources by the evidence of cost (18), "
                f"which only model='full' has; got model={model!r}."
            )
        min_evidence = None
        if learn_noise is not None or n_restarts > 1:
            raise ValueError(
                "learn_noise and n_restarts are only available with "
                f"model='full', got model={model!r}."
            )
    else:
        # validated before any work (the solver resolves "auto")
        from ..solvers.vae import _check_min_evidence

        _check_min_evidence(min_evidence, 2)
        if learn_gamma and learn_noise not in (None, "scalar"):
            raise ValueError(
                f"learn_gamma=True learns one noise level; it cannot be combined "
                f"with learn_noise={learn_noise!r}."
            )
    _check_option("pick_ori", pick_ori, (None, "vector"))
    gamma = _check_positive("gamma", gamma)
    tol = _check_positive("tol", tol, allow_zero=True)
    kkt_tol = _check_positive("kkt_tol", kkt_tol, allow_zero=True)
    max_iter = _check_int("max_iter", max_iter, min_value=1)
    for name, val in (
        ("learn_gamma", learn_gamma),
        ("return_residual", return_residual),
        ("return_as_dipoles", return_as_dipoles),
        ("merge_split", merge_split),
    ):
        _validate_type(val, bool, name)
    if learn_gamma and model != "full":
        raise ValueError(
            "learn_gamma=True is only available with model='full', got "
            f"model={model!r}."
        )
    _check_option("update", update, ("newton", "mackay", "convex", "em")
                  + (() if model == "full" else ("mm",)))
    if model != "full" and update not in ("newton", "mm"):
        logger.info("model=%r has one MM engine: update=%r runs it", model,
                    update)
    return dict(
        model=model, gamma=gamma, learn_gamma=bool(learn_gamma),
        pick_ori=pick_ori, return_residual=return_residual,
        return_as_dipoles=return_as_dipoles, update=update, tol=tol,
        kkt_tol=kkt_tol, max_iter=max_iter, min_evidence=min_evidence,
        learn_noise=learn_noise, n_restarts=n_restarts,
        random_state=random_state, merge_split=merge_split,
    )


def _check_evokeds(evoked, tmin, tmax):
    """The evoked response(s) as a list, checked (before any work)."""
    import mne

    if isinstance(evoked, (list, tuple)):
        if len(evoked) == 0:
            raise ValueError(
                "The list of evoked responses is empty: give one mne.Evoked "
                "or a non-empty list of conditions."
            )
        evokeds = list(evoked)
    else:
        evokeds = [evoked]
    for k, ev in enumerate(evokeds):
        _validate_type(ev, mne.Evoked, "evoked" if len(evokeds) == 1 else f"evoked[{k}]")
        nave = ev.nave
        if not (np.isfinite(nave) and nave > 0):
            raise ValueError(f"evoked.nave must be a positive number, got {nave!r}.")
        _time_mask(ev, tmin, tmax)
    first = evokeds[0]
    for k, ev in enumerate(evokeds[1:], 1):
        if ev.info["sfreq"] != first.info["sfreq"]:
            raise ValueError(
                f"The conditions must share a sampling rate: evoked[0] has "
                f"{first.info['sfreq']:g} Hz, evoked[{k}] {ev.info['sfreq']:g} Hz."
            )
        if ev.ch_names != first.ch_names or set(ev.info["bads"]) != set(
                first.info["bads"]):
            diff = sorted(set(ev.ch_names) ^ set(first.ch_names))
            raise ValueError(
                f"The conditions must have the same channels (and bad "
                f"channels): evoked[{k}] differs from evoked[0]"
                + (f" in {len(diff)} channel(s), e.g. {diff[:5]}." if diff else
                   " in the order of its channels or in its bad channels.")
            )
    return evokeds


def _time_mask(evoked, tmin, tmax):
    """The samples of the window; ValueError if it holds none."""
    times = evoked.times
    lo = times[0] if tmin is None else tmin
    hi = times[-1] if tmax is None else tmax
    half = 0.5 / evoked.info["sfreq"]  # crop's rounding tolerance
    mask = (times >= lo - half) & (times <= hi + half)
    if lo > hi or not np.any(mask):
        raise ValueError(
            f"The time window tmin={tmin!r}, tmax={tmax!r} contains no sample "
            f"of the evoked data ({times[0]:.3f} to {times[-1]:.3f} s)."
        )
    return mask


def _prepare_data(evoked, operator, tmin, tmax, nave=None):
    """Crop and whiten one evoked response for the operator.

    Returns ``(evoked, lead_field, M)``: the cropped evoked, the lead field
    of the average (of ``nave`` trials, default ``evoked.nave``) and the
    whitened data.
    """
    picks = check_data_matches(evoked, operator, "evoked")
    # EEG needs the average reference projector, as in MNE's solvers
    _mne_compat.check_reference(evoked)
    mask = _time_mask(evoked, tmin, tmax)
    cropped = evoked.copy()
    if not mask.all():
        # MNE's crop decides the samples, so the estimate's times are its
        cropped.crop(tmin, tmax, include_tmax=True)
    data = cropped.data[picks]
    if not np.all(np.isfinite(data)):
        names = operator.ch_names
        bad_ch = [names[i] for i in np.flatnonzero(~np.all(np.isfinite(data), 1))]
        raise ValueError(
            f"The evoked data contain NaN or infinite values in {len(bad_ch)} "
            f"channel(s) used, e.g. {bad_ch[:5]}; mark them bad or interpolate."
        )
    nave = evoked.nave if nave is None else nave
    logger.info("Whitening with the noise covariance / nave (nave = %g)", nave)
    lf = operator.lead_field_for(nave)
    M = lf.whitener @ data
    if not np.all(np.isfinite(M)):
        raise ValueError(
            "The whitened data contain non-finite values; check the noise "
            "covariance (it may be singular on the channels used)."
        )
    return cropped, lf, M


def _apply(evoked, evokeds, operator, tmin, tmax, opts):
    """Steps 2 and 3 for one evoked response or a list of conditions."""
    _mne_compat.check_ori(opts["pick_ori"], operator.lead_field.forward)
    if isinstance(evoked, (list, tuple)):
        return _apply_conditions(evokeds, operator, tmin, tmax, opts)
    ev, lf, M = _prepare_data(evokeds[0], operator, tmin, tmax)
    result = _solve(M, lf, opts)
    return _make_estimate(result, lf, M, ev, opts)


def _solve(M, lf, opts):
    """Step 2: the array kernel on the whitened problem."""
    from .. import solvers

    model, learn_noise = opts["model"], opts["learn_noise"]
    kw = dict(gamma=opts["gamma"], n_orient=lf.n_orient,
              max_iter=opts["max_iter"], tol=opts["tol"])
    M_s, G_s = M, lf.G
    if model != "full":  # their Newton engine, or their one MM engine
        kw.update(update="newton" if opts["update"] == "newton" else "mm",
                  kkt_tol=opts["kkt_tol"])
    else:
        kw.update(update=opts["update"], kkt_tol=opts["kkt_tol"],
                  learn_gamma=opts["learn_gamma"] or learn_noise == "scalar",
                  min_evidence=opts["min_evidence"],
                  n_restarts=opts["n_restarts"],
                  random_state=opts["random_state"])
        if opts["min_evidence"] is not None and opts["merge_split"]:
            from ..evidence import SourceNeighbors

            kw["neighbors"] = SourceNeighbors(lf.source_rr)
        if learn_noise in ("type", "channel"):
            M_s, G_s, noise_kw = _noise_problem(lf, M, learn_noise)
            kw.update(noise_kw)
    solver = getattr(solvers, METHODS[VAE_MODELS[model]].solver)
    t0 = time.perf_counter()
    result = solver(M_s, G_s, **kw)
    seconds = time.perf_counter() - t0
    if learn_noise in ("type", "channel"):
        _name_noise(result, lf, learn_noise)
        result.info["noise_basis"] = kw["noise_basis"]
    _describe(result, lf, M, seconds)
    return result


def _describe(result, lf, M, seconds):
    """Record the fit in ``result.info`` and log it; warn when empty."""
    active_set = np.asarray(result.active_set, dtype=int)
    M_est = lf.G[:, active_set] @ result.X[active_set]
    ev = explained_variance(M, M_est)
    result.info.update(explained_variance=ev, seconds=seconds, lead_field=lf, M=M)
    logger.info(
        "%s: %d active location(s) of %d, %d iterations (%s), "
        "explained variance %.1f %%, %.2f s",
        result.model, active_set.size // lf.n_orient, lf.n_sources,
        result.n_iter, "converged" if result.converged else "not converged",
        100 * ev, seconds,
    )
    optimum = result.info.get("optimum", result)
    if optimum.active_set.size == 0:
        warn(
            f"No active source: gamma={result.gamma:.3g} explains the whole "
            "data as noise; the estimate is empty.",
        )


def _make_estimate(result, lf, M, evoked, opts, table=None):
    """Step 3: the source estimate (or dipoles) of a solved problem."""
    active_set = np.asarray(result.active_set, dtype=int)
    X = lf.unweight(result.X)[active_set]
    residual = None
    if opts["return_residual"]:
        residual = _mne_compat.compute_residual(
            lf.forward, evoked, X, active_set, lf.info
        )
    tmin = evoked.times[0]
    tstep = 1.0 / evoked.info["sfreq"]
    if opts["return_as_dipoles"]:
        out = result_to_dipoles(result, tmin, tstep)
    else:
        out = _mne_compat.make_sparse_stc(
            X, active_set, lf.forward, tmin, tstep, pick_ori=opts["pick_ori"]
        )
        out.vae_result = result
        out.vae_sources = None
        if opts["model"] == "full":
            from ..evidence import source_table

            out.vae_sources = source_table(result) if table is None else table
    if opts["return_residual"]:
        return out, residual
    return out


def _apply_conditions(evokeds, operator, tmin, tmax, opts):
    """Conditions with one shared support: one joint minimisation."""
    from ..solvers import joint_full_vae

    if opts["model"] != "full":
        raise ValueError(
            "Conditions share a support through cost (18), the full VAE's: "
            f"a list of evoked responses needs model='full', got "
            f"model={opts['model']!r}."
        )
    if opts["learn_gamma"] or opts["learn_noise"] is not None:
        raise ValueError(
            "learn_gamma and learn_noise are available for one evoked "
            "response; with a list of conditions the noise level of each is "
            "gamma / nave."
        )
    # every condition whitened as an average of nave_ref trials, so that
    # they share the gain and the source weighting; condition c then has
    # noise gamma * nave_ref / nave_c
    nave_ref = max(ev.nave for ev in evokeds)
    prepared = [_prepare_data(ev, operator, tmin, tmax, nave=nave_ref)
                for ev in evokeds]
    lf = prepared[0][1]
    Ms = [M for _, _, M in prepared]
    t0 = time.perf_counter()
    joint = joint_full_vae(
        Ms, lf.G, gamma=opts["gamma"],
        noise_scales=[nave_ref / ev.nave for ev in evokeds],
        n_orient=lf.n_orient, update=opts["update"], max_iter=opts["max_iter"],
        tol=opts["tol"], kkt_tol=opts["kkt_tol"],
        min_evidence=opts["min_evidence"], n_restarts=opts["n_restarts"],
        random_state=opts["random_state"],
    )
    seconds = time.perf_counter() - t0
    _describe(joint, lf, np.hstack(Ms), seconds)
    for (ev, _, M), res in zip(prepared, joint.info["responses"]):
        res.info.update(
            seconds=seconds, lead_field=lf, M=M, joint=joint,
            explained_variance=explained_variance(
                M, lf.G[:, res.active_set] @ res.X[res.active_set]),
        )
        for key in ("selection", "restarts"):
            if key in joint.info:
                res.info[key] = joint.info[key]
    # every response's data are in place: the location posterior is joint
    outs = [_make_estimate(res, lf, M, ev, opts)
            for (ev, _, M), res in zip(prepared, joint.info["responses"])]
    if opts["return_residual"]:
        return [o[0] for o in outs], [o[1] for o in outs]
    return outs


def result_to_dipoles(result, tmin, tstep):
    """Dipoles (one per active location) of a solved whitened problem.

    Parameters
    ----------
    result : SolverResult
        The ``vae_result`` of an estimate of :func:`apply_vae_inverse`
        (its ``info`` holds the lead field and the whitened data).
    tmin : float
        Time of the first sample (s).
    tstep : float
        Sampling interval (s).

    Returns
    -------
    dipoles : list of mne.Dipole
        One time-varying dipole per active location, as
        ``apply_vae_inverse(..., return_as_dipoles=True)`` returns them
        (positions in head coordinates, amplitudes in A·m, goodness of fit
        split among the dipoles as MNE's sparse solvers do); each carries
        ``result`` as ``vae_result``.
    """
    lf = result.info["lead_field"]
    active_set = np.asarray(result.active_set, dtype=int)
    X = lf.unweight(result.X)[active_set]
    sw = lf.source_weighting[active_set].copy()
    sw[sw == 0] = 1.0
    gain_active = lf.G[:, active_set] / sw
    dipoles = _mne_compat.make_dipoles_sparse(
        X, active_set, lf.forward, tmin, tstep, result.info["M"], gain_active
    )
    rows = None
    if result.model == "full_vae":
        from ..evidence import source_table

        table = source_table(result)
        rows = {r["location"]: r for r in table.rows()}
    for dip, loc in zip(dipoles, result.locations):
        dip.vae_result = result
        if rows is not None:
            dip.vae_source = rows[int(loc)]
    return dipoles


def _noise_problem(lf, M, learn_noise):
    """Data, gain and noise columns for per-type / per-channel noise.

    The whitener maps the channels onto its range (of dimension the noise
    rank); the noise of channel ``k`` in the whitened space is along the
    projection of ``e_k`` there, so the problem is written in an orthonormal
    basis ``U`` of that range: ``U^T M``, ``U^T G``, noise columns ``U^T``.
    """
    import mne

    U, s, _ = np.linalg.svd(lf.whitener, full_matrices=False)
    r = int(np.sum(s > s[0] * max(lf.whitener.shape) * np.finfo(float).eps))
    U = U[:, :r]
    if learn_noise == "channel":
        groups = np.arange(lf.n_channels)
    else:
        types = [mne.channel_type(lf.info, i) for i in range(lf.n_channels)]
        names = sorted(set(types))
        groups = np.array([names.index(t) for t in types])
    return U.T @ M, U.T @ lf.G, dict(noise_groups=groups, noise_basis=U.T)


def _name_noise(result, lf, learn_noise):
    """Label the learned noise factors by channel type (or keep per channel)."""
    import mne

    for res in (result, result.info.get("optimum")):
        if res is None or "noise_var" not in res.info:
            continue
        if learn_noise == "type":
            types = sorted({mne.channel_type(lf.info, i)
                            for i in range(lf.n_channels)})
            res.info["noise_var"] = {
                t: float(v) for t, v in zip(types, res.info["noise_var"])}


def _check_inputs(evoked, forward, noise_cov, tmin, tmax):
    """Validate the MNE objects; return the cropped evoked and scaled cov.

    The checks of :func:`apply_vae_inverse` for the back-ends that run
    other solvers on the same inputs (``compare``, ``localize``):
    everything is checked before any work, so that a bad input raises a
    TypeError (a wrong type) or a ValueError naming the problem and nothing
    is computed.
    """
    import mne

    _validate_type(forward, mne.Forward, "forward")
    _validate_type(noise_cov, mne.Covariance, "noise_cov")
    evoked = _check_evokeds(evoked, tmin, tmax)[0]
    _check_forward_and_channels(evoked.info, forward, noise_cov)
    fwd_names = set(forward["sol"]["row_names"])
    bads = set(evoked.info["bads"]) | set(noise_cov["bads"])
    data_picks = mne.pick_types(
        evoked.info, meg=True, eeg=True, seeg=True, ecog=True, dbs=True,
        exclude=(),
    )
    good = [evoked.ch_names[p] for p in data_picks
            if evoked.ch_names[p] in fwd_names and evoked.ch_names[p] not in bads]
    evoked = evoked.copy().crop(tmin, tmax, include_tmax=True)
    data = evoked.data[[evoked.ch_names.index(c) for c in good]]
    if not np.all(np.isfinite(data)):
        bad_ch = [good[i] for i in np.flatnonzero(~np.all(np.isfinite(data), 1))]
        raise ValueError(
            f"The evoked data contain NaN or infinite values in {len(bad_ch)} "
            f"channel(s) used, e.g. {bad_ch[:5]}; mark them bad or interpolate."
        )
    nave = evoked.nave
    logger.info("Scaling the noise covariance by 1 / nave (nave = %g)", nave)
    return evoked, scale_noise_cov(noise_cov, nave)


def _parse_min_evidence(min_evidence):
    """``min_evidence`` as given to the commands' back-ends or the command line.

    Parameters
    ----------
    min_evidence : float | str | None
        A number >= 0 (or its text), ``"auto"``, or None / ``"none"``.

    Returns
    -------
    min_evidence : float | ``"auto"`` | None
    """
    if isinstance(min_evidence, str):
        text = min_evidence.strip().lower()
        if text in ("auto", "none"):
            return None if text == "none" else "auto"
        try:
            min_evidence = float(text)
        except ValueError:
            raise ValueError(
                "Invalid value for the 'min_evidence' parameter. Allowed values "
                "are a number >= 0, 'auto' and 'none', but got "
                f"{min_evidence!r} instead."
            ) from None
    from ..solvers.vae import _check_min_evidence

    # numbers are checked as full_vae checks them (TypeError for a wrong type)
    return _check_min_evidence(min_evidence, 2)

"""VAE source localization on MNE objects (evoked, forward, noise covariance).

:func:`apply_vae_inverse` is to the array solvers of :mod:`vaesource.solvers`
what :func:`mne.inverse_sparse.gamma_map` is to its ``_gamma_map_opt``
kernel: it whitens the data and the gain with the noise covariance
(projections, bad channels, rank), applies the orientation and depth priors
(:func:`vaesource.forward.leadfield_from_forward`, the same preparation as
MNE's sparse solvers), runs a kernel and packs the row-sparse estimate into
a :class:`mne.SourceEstimate`, :class:`mne.VectorSourceEstimate`,
:class:`mne.VolSourceEstimate` or a list of :class:`mne.Dipole`.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from ._docs import fill_doc
from . import _mne_compat
from ._methods import METHODS, VAE_MODELS
from .metrics import explained_variance
from .utils import (
    _check_int,
    _check_option,
    _check_positive,
    _validate_type,
    logger,
    scale_noise_cov,
    use_log_level,
    warn,
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
    update: Literal["newton", "mackay", "convex", "em"] = "newton",
    tol: float = 1e-8,
    kkt_tol: float = 1e-6,
    max_iter: int = 2000,
    min_evidence: float | Literal["auto"] | None = "auto",
    learn_noise: Literal["scalar", "type", "channel"] | None = None,
    n_restarts: int = 1,
    random_state=None,
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

    Parameters
    ----------
    evoked : mne.Evoked
        The evoked response (an average of ``evoked.nave`` trials).
    forward : mne.Forward
        Forward solution in head coordinates, with free orientation when
        ``loose > 0`` or ``pick_ori="vector"``.
    noise_cov : mne.Covariance
        Noise covariance of single trials (as :func:`mne.compute_covariance`
        returns it). It is divided by ``evoked.nave`` before whitening, as
        :func:`mne.minimum_norm.apply_inverse` does, so that after whitening
        the noise of the average has unit variance.
    model : ``"full"`` | ``"diag"`` | ``"ae"``
        Full-covariance VAE (:func:`vaesource.solvers.full_vae`), diagonal
        VAE (:func:`vaesource.solvers.diag_vae`) or deterministic
        autoencoder (:func:`vaesource.solvers.autoencoder`).
    gamma : float
        Noise variance of the whitened data (decoder variance). 1 means "the
        noise level of this average under ``noise_cov``"; larger values give
        sparser estimates. The initial value when ``learn_gamma=True``.
    learn_gamma : bool
        Estimate ``gamma`` from the data (``model="full"`` only); the same
        as ``learn_noise="scalar"``.
    %(loose)s
    %(depth)s
    pick_ori : None | ``"vector"``
        ``"vector"`` returns a :class:`mne.VectorSourceEstimate` (free or
        loose orientation only); None returns the norm over orientations.
    return_residual : bool
        Also return the residual ``evoked - G X`` (channels used only).
    return_as_dipoles : bool
        Return a list of :class:`mne.Dipole`, one per active location.
    %(rank)s
    tmin, tmax : float | None
        Time window (s) of the data used; None for the first / last sample.
    update : ``"newton"`` | ``"mackay"`` | ``"convex"`` | ``"em"``
        Engine of the full VAE (see :func:`vaesource.solvers.full_vae`):
        the working-set Newton engine (default, stops on a certificate of
        stationarity) or the MM updates of earlier releases.
    %(tol)s
    %(kkt_tol)s
    %(max_iter)s
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
        mm away). See the README's "Which sources are real". None returns
        the optimum of cost (18)
        itself; with a threshold the optimum stays available as
        ``stc.vae_result.info["optimum"]``. Ignored (must be ``"auto"`` or
        None) for the diagonal VAE and the autoencoder.
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
    n_restarts : int
        Full VAE: number of runs, the first from the default start and the
        others from random starts; the lowest cost (18) is kept and
        ``stc.vae_sources.frequency`` says how often each source appeared
        (theorem 4.1: under its conditions every minimum agrees).
    %(random_state)s
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
    mne.inverse_sparse.gamma_map : the same cost (18) minimised by MNE.
    vaesource.compare.compare : run MNE's sparse solvers side by side.

    Notes
    -----
    :func:`mne.inverse_sparse.gamma_map` and
    :func:`mne.inverse_sparse.mixed_norm` whiten with the covariance as given
    (single trials) and ignore ``nave``; ``gamma_map(..., alpha=1 / nave)``
    is therefore the same problem as ``apply_vae_inverse(..., gamma=1)``.
    """
    from . import solvers
    from .forward import leadfield_from_forward

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
        from .solvers.vae import _check_min_evidence

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
    ):
        _validate_type(val, bool, name)
    if learn_gamma and model != "full":
        raise ValueError(
            "learn_gamma=True is only available with model='full', got "
            f"model={model!r}."
        )
    if model != "full" and update != "newton":
        logger.info("The 'update' parameter is ignored for model=%r", model)

    with use_log_level(verbose):
        evoked, noise_cov = _check_inputs(evoked, forward, noise_cov, tmin, tmax)
        # EEG needs the average reference projector, as in MNE's solvers
        _mne_compat.check_reference(evoked)
        lf = leadfield_from_forward(
            forward, evoked, noise_cov, loose=loose, depth=depth, rank=rank,
            verbose=verbose,
        )
        _mne_compat.check_ori(pick_ori, lf.forward)
        M = lf.whiten(evoked)
        if not np.all(np.isfinite(M)):
            raise ValueError(
                "The whitened data contain non-finite values; check the noise "
                "covariance (it may be singular on the channels used)."
            )

        kw = dict(gamma=gamma, n_orient=lf.n_orient, max_iter=max_iter, tol=tol)
        M_s, G_s = M, lf.G
        if model == "full":
            kw.update(update=update, learn_gamma=bool(learn_gamma)
                      or learn_noise == "scalar", kkt_tol=kkt_tol,
                      min_evidence=min_evidence, n_restarts=n_restarts,
                      random_state=random_state)
            if learn_noise in ("type", "channel"):
                M_s, G_s, noise_kw = _noise_problem(lf, M, learn_noise)
                kw.update(noise_kw)
        solver = getattr(solvers, METHODS[VAE_MODELS[model]].solver)
        t0 = time.perf_counter()
        result = solver(M_s, G_s, **kw)
        seconds = time.perf_counter() - t0
        if learn_noise in ("type", "channel"):
            _name_noise(result, lf, learn_noise)

        active_set = np.asarray(result.active_set, dtype=int)
        X_w = result.X[active_set]
        M_est = lf.G[:, active_set] @ X_w
        ev = explained_variance(M, M_est)
        result.info.update(
            explained_variance=ev, seconds=seconds, lead_field=lf, M=M
        )
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
        X = lf.unweight(result.X)[active_set]

        residual = None
        if return_residual:
            residual = _mne_compat.compute_residual(
                lf.forward, evoked, X, active_set, lf.info
            )

        tmin_ = evoked.times[0]
        tstep = 1.0 / evoked.info["sfreq"]
        if return_as_dipoles:
            out = result_to_dipoles(result, tmin_, tstep)
        else:
            out = _mne_compat.make_sparse_stc(
                X, active_set, lf.forward, tmin_, tstep, pick_ori=pick_ori
            )
            out.vae_result = result
            out.vae_sources = None
            if model == "full":
                from .evidence import source_table

                out.vae_sources = source_table(result)
    if return_residual:
        return out, residual
    return out


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
        from .evidence import source_table

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

    Everything is checked before any work, so that a bad input raises a
    TypeError (a wrong type) or a ValueError naming the problem and nothing
    is computed.
    """
    import mne
    from mne.io.constants import FIFF

    _validate_type(evoked, mne.Evoked, "evoked")
    _validate_type(forward, mne.Forward, "forward")
    _validate_type(noise_cov, mne.Covariance, "noise_cov")
    if forward["coord_frame"] != FIFF.FIFFV_COORD_HEAD:
        frame = _mne_compat.frame_name(forward["coord_frame"])
        raise ValueError(
            "The forward solution must be in head coordinates, but its "
            f"coordinate frame is {frame!r}. Compute it with "
            "mne.make_forward_solution (which works in head coordinates)."
        )
    fwd_names = set(forward["sol"]["row_names"])
    data_picks = mne.pick_types(
        evoked.info, meg=True, eeg=True, seeg=True, ecog=True, dbs=True,
        exclude=(),
    )
    data_names = [evoked.ch_names[p] for p in data_picks]
    common = [c for c in data_names if c in fwd_names]
    if not common:
        raise ValueError(
            "The evoked data and the forward solution have no channel in "
            f"common (evoked: {data_names[:3]}..., forward: "
            f"{forward['sol']['row_names'][:3]}...)."
        )
    bads = set(evoked.info["bads"]) | set(noise_cov["bads"])
    if all(c in bads for c in common):
        raise ValueError(
            f"All {len(common)} channels shared by the evoked data and the "
            "forward solution are marked bad (in evoked.info['bads'] or "
            "noise_cov['bads'])."
        )
    nave = evoked.nave
    if not (np.isfinite(nave) and nave > 0):
        raise ValueError(f"evoked.nave must be a positive number, got {nave!r}.")

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
    evoked = evoked.copy().crop(tmin, tmax, include_tmax=True)
    good = [c for c in common if c not in bads]
    sel = [evoked.ch_names.index(c) for c in good]
    data = evoked.data[sel]
    if not np.all(np.isfinite(data)):
        bad_ch = [good[i] for i in np.flatnonzero(~np.all(np.isfinite(data), 1))]
        raise ValueError(
            f"The evoked data contain NaN or infinite values in {len(bad_ch)} "
            f"channel(s) used, e.g. {bad_ch[:5]}; mark them bad or interpolate."
        )
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
    from .solvers.vae import _check_min_evidence

    # numbers are checked as full_vae checks them (TypeError for a wrong type)
    return _check_min_evidence(min_evidence, 2)

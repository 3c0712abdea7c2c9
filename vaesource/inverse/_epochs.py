"""Epochs: one support shared by every epoch, or one solve per epoch."""

from __future__ import annotations

import time
from typing import Literal

import numpy as np

from .._docs import fill_doc
from .. import _mne_compat
from ..utils import _blas_single_thread, _validate_type, logger, use_log_level
from ._apply import _check_options, _describe, _make_estimate, apply_vae_operator
from ._operator import VAEOperator, check_data_matches


@fill_doc
def apply_vae_operator_epochs(
    epochs,
    operator,
    *,
    shared_support: bool = True,
    return_generator: bool = False,
    n_jobs: int | None = 1,
    model: Literal["full", "diag", "ae"] = "full",
    gamma: float = 1.0,
    pick_ori: Literal["vector"] | None = None,
    update: Literal["newton", "mackay", "convex", "em"] = "newton",
    tol: float = 1e-8,
    kkt_tol: float = 1e-6,
    max_iter: int = 2000,
    min_evidence: float | Literal["auto"] | None = "auto",
    n_restarts: int = 1,
    random_state=None,
    verbose: bool | str | int | None = None,
):
    """Localize every epoch with a prepared operator.

    With ``shared_support=True`` (default) the epochs share the source
    variances ``w``: one minimisation of cost (18) over all of them. Each
    epoch is a single trial (noise ``gamma`` after whitening by the
    single-trial covariance), so the joint cost is cost (18) with ``M M^T =
    sum_e M_e M_e^T`` and ``n`` the total number of samples: the solver
    sees one ``n_channels x n_channels`` matrix and a count, never the
    ``n_channels x (n_epochs n_times)`` data (DESIGN section 9), and 200
    epochs cost about one evoked response. Each epoch's time courses are
    then the posterior mean ``X_e = diag(w) G^T Sigma^-1 M_e``. With
    ``shared_support=False`` every epoch is localized alone
    (:func:`vaesource.apply_vae_operator` on it, through joblib).

    Parameters
    ----------
    epochs : mne.Epochs
        The epochs (projectors applied as :meth:`mne.Epochs.get_data`
        gives them; dropped epochs are skipped).
    operator : VAEOperator
        From :func:`vaesource.make_vae_operator` with ``epochs.info``.
    shared_support : bool
        One support for all epochs (default), or one solve per epoch.
    return_generator : bool
        Return a generator of estimates, made as they are consumed (as
        :func:`mne.minimum_norm.apply_inverse_epochs` does), instead of a
        list.
    %(n_jobs)s
    %(inv_model)s
    %(inv_gamma)s
    %(pick_ori)s
    %(inv_update)s
    %(tol)s
    %(kkt_tol)s
    %(max_iter)s
    %(inv_min_evidence)s
    %(inv_n_restarts)s
    %(random_state)s
    %(verbose)s

    Returns
    -------
    stcs : list | generator of mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate
        One estimate per epoch. With a shared support all are on the same
        vertices and carry the same ``vae_result`` (the joint solver result:
        its ``X`` is the estimate on the thin factor of ``sum_e M_e M_e^T``
        and ``info["n_times"]`` the total sample count) and ``vae_sources``
        (the shared sources: joint evidence and probability, amplitudes of
        the average of the epochs' estimates).

    Raises
    ------
    TypeError
        For an argument of a wrong type.
    ValueError
        When every epoch was dropped, the epochs lack channels of the
        operator or carry other projectors, or the data are not finite;
        before any work.

    See Also
    --------
    vaesource.apply_vae_operator, mne.minimum_norm.apply_inverse_epochs
    """
    import mne

    _validate_type(epochs, mne.BaseEpochs, "epochs")
    _validate_type(operator, VAEOperator, "operator")
    _validate_type(shared_support, bool, "shared_support")
    _validate_type(return_generator, bool, "return_generator")
    opts = _check_options(
        model=model, gamma=gamma, learn_gamma=False, pick_ori=pick_ori,
        return_residual=False, return_as_dipoles=False, update=update, tol=tol,
        kkt_tol=kkt_tol, max_iter=max_iter, min_evidence=min_evidence,
        learn_noise=None, n_restarts=n_restarts, random_state=random_state,
    )
    with use_log_level(verbose), _blas_single_thread():
        if not epochs.preload:
            epochs.drop_bad()
        if len(epochs) == 0:
            raise ValueError(
                "Every epoch was dropped (len(epochs) == 0): there is nothing "
                "to localize. Check the rejection thresholds (epochs.drop_log)."
            )
        picks = check_data_matches(epochs, operator, "epochs")
        _mne_compat.check_reference(epochs)
        _mne_compat.check_ori(pick_ori, operator.lead_field.forward)
        if not shared_support:
            stcs = _per_epoch(epochs, operator, opts, n_jobs, verbose)
        else:
            if model != "full":
                raise ValueError(
                    "A shared support is found through cost (18), the full "
                    f"VAE's: shared_support=True needs model='full', got "
                    f"model={model!r}."
                )
            result, lf = _shared_solve(epochs, operator, picks, opts)
            stcs = _shared_estimates(epochs, picks, result, lf, opts)
        if return_generator:
            return stcs
        return list(stcs)


def _epoch_data(epochs, picks):
    """The epochs' data on ``picks``, one epoch at a time."""
    if epochs.preload:
        data = epochs.get_data(copy=False)  # a view: no second copy
        for k in range(len(epochs)):
            yield data[k][picks]
    else:
        for epoch in epochs:
            yield epoch[picks]


def _shared_solve(epochs, operator, picks, opts):
    """One minimisation over all epochs through ``sum_e M_e M_e^T``."""
    from ..solvers import full_vae

    lf = operator.lead_field  # single trials: nave 1
    n_ch = len(picks)
    S = np.zeros((n_ch, n_ch))
    total = 0.0
    n_total = n_epochs = 0
    for data in _epoch_data(epochs, picks):
        if not np.all(np.isfinite(data)):
            raise ValueError(
                f"Epoch {n_epochs} contains NaN or infinite values on the "
                "channels used; mark them bad or drop the epoch."
            )
        S += data @ data.T
        total = total + data
        n_total += data.shape[1]
        n_epochs += 1
    MMt = lf.whitener @ S @ lf.whitener.T
    MMt = 0.5 * (MMt + MMt.T)
    lam, U = np.linalg.eigh(MMt)
    keep = lam > lam.max(initial=0.0) * MMt.shape[0] * np.finfo(float).eps
    Q = U[:, keep] * np.sqrt(lam[keep])
    logger.info(
        "%d epochs x %d samples: one solve on a %d x %d factor of their summed "
        "outer product", n_epochs, n_total // max(n_epochs, 1), *Q.shape,
    )
    t0 = time.perf_counter()
    result = full_vae(
        Q, lf.G, gamma=opts["gamma"], n_orient=lf.n_orient,
        update=opts["update"], max_iter=opts["max_iter"], tol=opts["tol"],
        kkt_tol=opts["kkt_tol"], min_evidence=opts["min_evidence"],
        n_restarts=opts["n_restarts"], random_state=opts["random_state"],
        n_times=n_total,
    )
    _describe(result, lf, Q, time.perf_counter() - t0)
    result.info["n_epochs"] = n_epochs
    result.info["mean_data"] = total / n_epochs
    return result, lf


def _shared_estimates(epochs, picks, result, lf, opts):
    """Each epoch's posterior mean on the shared support (a generator)."""
    import dataclasses

    from ..evidence import source_table

    cols = np.asarray(result.active_set, int)
    # X_e[cols] = diag(w_x) W_z M_e (W_z = diag(w_x) G^T Sigma^-1 on cols)
    op = result.params.w_x[cols, np.newaxis] * result.params.W_z_active
    op = op @ lf.whitener
    mean = result.info.pop("mean_data")
    # the shared table: joint evidence, amplitudes of the mean estimate
    X_mean = np.zeros((result.X.shape[0], mean.shape[1]))
    X_mean[cols] = op @ mean
    shown = dataclasses.replace(result, X=X_mean)
    # the evidence of all the epochs (X_mean alone would stand for one)
    shown._cache["evidence"] = result.evidence
    table = source_table(shown)
    tmin = epochs.times[0]
    tstep = 1.0 / epochs.info["sfreq"]
    for data in _epoch_data(epochs, picks):
        X_e = lf.source_weighting[cols, np.newaxis] * (op @ data)
        stc = _mne_compat.make_sparse_stc(
            X_e, cols, lf.forward, tmin, tstep, pick_ori=opts["pick_ori"]
        )
        stc.vae_result = result
        stc.vae_sources = table
        yield stc


def _per_epoch(epochs, operator, opts, n_jobs, verbose):
    """One solve per epoch (joblib); a generator of estimates."""
    from joblib import Parallel, delayed

    import mne

    kw = {k: opts[k] for k in (
        "model", "gamma", "pick_ori", "update", "tol", "kkt_tol", "max_iter",
        "min_evidence", "n_restarts", "random_state")}
    info, tmin = epochs.info, epochs.times[0]

    def one(data):
        ev = mne.EvokedArray(data, info, tmin=tmin, nave=1, verbose=False)
        return apply_vae_operator(ev, operator, verbose=False, **kw)

    picks = np.arange(len(epochs.ch_names))
    return Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(one)(data) for data in _epoch_data(epochs, picks))

"""Run the VAE inverses and MNE's sparse solvers on the same problem.

:func:`compare` localizes one evoked response with every requested method
under the same preparation (channels, whitening with ``noise_cov / nave``,
rank, orientation and depth priors, time window) and collects estimates,
wall times and explained variances in a :class:`Comparison`.

Settings, chosen to be fair and documented:

- ``full_vae`` / ``diag_vae`` / ``autoencoder``: :func:`vaesource.apply_vae_inverse`
  with ``gamma=1`` (the noise level of the average).
- ``gamma_map``: :func:`mne.inverse_sparse.gamma_map` with ``alpha=1`` on the
  same ``nave``-scaled covariance, i.e. the same cost (18) as ``full_vae``
  (``xyz_same_gamma=True``, MacKay updates), at MNE's default tolerance.
- ``mxne`` / ``irmxne``: :func:`mne.inverse_sparse.mixed_norm` (irMxNE with
  ``n_mxne_iter=10``, as in MNE's examples), with ``alpha`` by default set
  by the "noise" rule: the percentage of ``alpha_max`` at which data made of
  whitened noise alone would give an empty estimate (the median over 20
  draws of ``max_i ||G_i^T E||_F``, ``E`` white with unit variance): the
  universal-threshold idea of Donoho & Johnstone, tied to the known noise
  level like ``gamma=1`` is, and costing one matrix product per draw
  (MNE's ``alpha="sure"`` runs 30 MxNE fits). A number is used as the
  percentage directly; ``"sure"`` is passed on to MNE.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ._docs import fill_doc
from ._methods import COMPARED, canonical
from ._methods import METHODS as _REGISTRY
from .inverse import _check_inputs, apply_vae_inverse
from .metrics import explained_variance
from .utils import _blas_single_thread, _check_option, logger, use_log_level

#: The methods :func:`compare` runs (``"ae"`` is accepted for ``"autoencoder"``).
METHODS = COMPARED


@dataclass(repr=False)
class ComparisonRow:
    """One method's outcome.

    Attributes
    ----------
    method : str
        Name in :data:`METHODS`.
    estimate : mne.SourceEstimate | mne.VectorSourceEstimate | mne.VolSourceEstimate
        The source estimate (A·m).
    seconds : float
        Wall time of the call (preparation included, as a user sees it).
    explained_variance : float
        ``1 - ||W r||^2 / ||W m||^2`` with ``r`` the residual and ``W`` the
        common whitener, over the channels used.
    n_active : int
        Number of active source locations.
    params : dict
        Method-specific settings used (e.g. MxNE's ``alpha`` in percent).
    """

    method: str
    estimate: object
    seconds: float
    explained_variance: float
    n_active: int
    params: dict = field(default_factory=dict)


@dataclass(repr=False)
class Comparison:
    """The outcome of :func:`compare`, one row per method.

    Attributes
    ----------
    rows : list of ComparisonRow
    """

    rows: list = field(default_factory=list)

    def __getitem__(self, method) -> ComparisonRow:
        for row in self.rows:
            if row.method == canonical(method):
                return row
        raise KeyError(method)

    @property
    def methods(self) -> list:
        """Methods in the order they ran."""
        return [row.method for row in self.rows]

    def summary(self) -> str:
        """Text table: method, active locations, explained variance, seconds."""
        lines = [f"{'method':10s} {'active':>6s} {'expl. var':>9s} {'seconds':>8s}"]
        for r in self.rows:
            lines.append(
                f"{r.method:10s} {r.n_active:6d} {100 * r.explained_variance:8.1f}% "
                f"{r.seconds:8.2f}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Comparison | {', '.join(self.methods)}>"


def mxne_noise_alpha(M, G, n_orient, *, n_draws: int = 20, seed=0) -> float:
    """MxNE ``alpha`` (percent of ``alpha_max``) at which noise alone is zeroed.

    Parameters
    ----------
    M : array, shape (n_sensors, n_times)
        Whitened data (unit-variance noise).
    G : array, shape (n_sensors, n_sources * n_orient)
        Whitened, weighted gain (as MNE's ``mixed_norm`` prepares it).
    n_orient : int
        Columns per location.
    n_draws : int
        Number of noise draws; the median is used.
    seed : int | None
        Seed of the noise draws.

    Returns
    -------
    alpha : float
        Percentage in ``[1, 99]`` (clipped; 99 means the data are not
        distinguishable from noise at this level).
    """
    from .solvers import alpha_max

    rng = np.random.default_rng(seed)
    draws = [alpha_max(rng.standard_normal(M.shape), G, n_orient)
             for _ in range(n_draws)]
    return float(np.clip(100.0 * np.median(draws) / alpha_max(M, G, n_orient),
                         1.0, 99.0))


@fill_doc
def compare(
    evoked,
    forward,
    noise_cov,
    methods=("full_vae", "diag_vae", "gamma_map", "mxne", "irmxne"),
    *,
    loose: float | Literal["auto"] = "auto",
    depth: float | None = 0.8,
    rank=None,
    tmin: float | None = None,
    tmax: float | None = None,
    gamma: float = 1.0,
    mxne_alpha: float | Literal["noise", "sure"] = "noise",
    n_mxne_iter: int = 10,
    vae_kw: dict | None = None,
    gamma_map_kw: dict | None = None,
    mxne_kw: dict | None = None,
    verbose: bool | str | int | None = None,
) -> Comparison:
    """Localize one evoked response with several sparse methods.

    Parameters
    ----------
    evoked : mne.Evoked
        Evoked response.
    forward : mne.Forward
        Forward solution (head coordinates).
    noise_cov : mne.Covariance
        Single-trial noise covariance; every method gets ``noise_cov /
        evoked.nave``.
    methods : sequence of str
        Among ``"full_vae"``, ``"diag_vae"``, ``"autoencoder"`` (or its
        alias ``"ae"``), ``"gamma_map"``, ``"mxne"``, ``"irmxne"``.
    %(loose)s
    %(depth)s
    %(rank)s
    tmin, tmax : float | None
        Time window shared by all methods.
    gamma : float
        Noise variance for the VAE models and ``alpha`` of ``gamma_map``.
    mxne_alpha : float | ``"noise"`` | ``"sure"``
        MxNE / irMxNE regularisation: percent of ``alpha_max``, the "noise"
        rule (:func:`mxne_noise_alpha`) or MNE's SURE.
    n_mxne_iter : int
        Reweighting iterations of irMxNE.
    vae_kw, gamma_map_kw, mxne_kw : dict | None
        Extra arguments of :func:`vaesource.apply_vae_inverse`,
        :func:`mne.inverse_sparse.gamma_map` and
        :func:`mne.inverse_sparse.mixed_norm`.
    %(verbose)s

    Returns
    -------
    comparison : Comparison
        One :class:`ComparisonRow` per method, in the order requested.
    """
    import mne

    from .forward import leadfield_from_forward

    methods = [canonical(m) for m in methods]
    if not methods:
        raise ValueError("The 'methods' parameter must not be empty.")
    for m in methods:
        _check_option("methods", m, METHODS)
    if not (mxne_alpha in ("noise", "sure") or (
        np.isscalar(mxne_alpha) and 0 < float(mxne_alpha) < 100
    )):
        raise ValueError(
            "The 'mxne_alpha' parameter must be 'noise', 'sure' or a percentage "
            f"in (0, 100), got {mxne_alpha!r}."
        )
    # MNE's solvers, like ours, factorise sensor-by-sensor matrices many
    # times: threaded BLAS on those was measured 10-50x slower on 2 cores
    with use_log_level(verbose), _blas_single_thread():
        # one validation and crop for all methods; every method then sees the
        # same data, channels and nave-scaled covariance
        ev, cov = _check_inputs(evoked, forward, noise_cov, tmin, tmax)
        lf = leadfield_from_forward(
            forward, ev, cov, loose=loose, depth=depth, rank=rank, verbose=False
        )
        M = lf.whiten(ev)
        common = dict(loose=loose, depth=depth, rank=rank)
        out = Comparison()
        for method in methods:
            params = {}
            t0 = time.perf_counter()
            model = _REGISTRY[method].model
            if model is not None:
                # the evoked's nave is applied inside apply_vae_inverse
                stc, res = apply_vae_inverse(
                    ev, forward, noise_cov, model=model,
                    gamma=gamma, return_residual=True, verbose=False,
                    **common, **(vae_kw or {}),
                )
                params = dict(gamma=gamma, n_iter=stc.vae_result.n_iter,
                              converged=stc.vae_result.converged)
            elif method == "gamma_map":
                params = dict(alpha=gamma, **(gamma_map_kw or {}))
                stc, res = mne.inverse_sparse.gamma_map(
                    ev, forward, cov, return_residual=True, verbose=False,
                    **common, **params,
                )
            else:
                n_iter = n_mxne_iter if method == "irmxne" else 1
                alpha = mxne_alpha
                if alpha == "noise":
                    alpha = mxne_noise_alpha(M, lf.G, lf.n_orient)
                params = dict(alpha=alpha, n_mxne_iter=n_iter, **(mxne_kw or {}))
                with warnings.catch_warnings():
                    # MNE warns about its own convergence; it is recorded as is
                    warnings.simplefilter("ignore", RuntimeWarning)
                    stc, res = mne.inverse_sparse.mixed_norm(
                        ev, forward, cov, return_residual=True, verbose=False,
                        **common, **params,
                    )
            seconds = time.perf_counter() - t0
            R = lf.whiten(res) if res is not None else M
            ev_ = explained_variance(M, M - R)
            n_active = int(sum(len(v) for v in stc.vertices))
            logger.info(
                "%s: %d active, explained variance %.1f %%, %.2f s",
                method, n_active, 100 * ev_, seconds,
            )
            out.rows.append(ComparisonRow(
                method=method, estimate=stc, seconds=seconds,
                explained_variance=ev_, n_active=n_active, params=params,
            ))
    return out


__all__ = ["Comparison", "ComparisonRow", "compare", "mxne_noise_alpha"]

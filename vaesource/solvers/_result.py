"""The result object shared by all array-level solvers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(repr=False)
class VAEParameters:
    """Encoder and decoder parameters of a linear VAE or AE (paper eq. 5, 8).

    The decoder mean is ``G @ diag(w_x) @ z`` with variance ``gamma * I``;
    the encoder mean is ``W_z @ x`` and, for the VAEs, its covariance is
    ``Sigma_z = S @ S.T``. Columns outside ``active_set`` have ``w_x = 0``, a
    zero row in ``W_z`` and the prior (identity) in ``Sigma_z``, so only the
    active blocks are stored; :attr:`W_z` and :meth:`full_S` expand them.

    Attributes
    ----------
    w_x : array, shape (n_sources,)
        Decoder weights (the non-negative member of the sign class of
        section 4.6 of the paper).
    gamma : float
        Decoder variance.
    active_set : array of int, shape (n_active,)
        Columns with ``w_x > 0``.
    W_z_active : array, shape (n_active, n_sensors)
        Rows of the encoder mean matrix on the active set.
    kind : "full" | "diag" | "ae"
        Full-covariance VAE, diagonal-covariance VAE or deterministic AE
        (no encoder covariance).
    s : array, shape (n_sources,) | None
        Encoder standard deviations of the diagonal-covariance VAE.
    G_active : array, shape (n_sensors, n_active) | None
        Gain columns of the active set, kept to form ``S`` on demand.
    """

    w_x: np.ndarray
    gamma: float
    active_set: np.ndarray
    W_z_active: np.ndarray
    kind: str = "full"
    s: np.ndarray | None = None
    G_active: np.ndarray | None = None

    @property
    def n_sources(self):
        return self.w_x.shape[0]

    @property
    def W_z(self):
        """Dense encoder mean matrix, shape (n_sources, n_sensors)."""
        W_z = np.zeros((self.n_sources, self.W_z_active.shape[1]))
        W_z[self.active_set] = self.W_z_active
        return W_z

    @property
    def S_active(self):
        """Symmetric encoder covariance factor on the active set (full VAE).

        ``S S^T = (diag(w_x) G^T G diag(w_x) / gamma + I)^-1`` (appendix C.1),
        computed from the eigendecomposition of ``diag(w_x) G^T G diag(w_x)``
        so that it stays accurate when ``gamma -> 0``.
        """
        if self.kind != "full":
            return None
        D = self.w_x[self.active_set]
        K = (self.G_active * D).T @ (self.G_active * D)
        mu, V = np.linalg.eigh(K)
        mu = np.maximum(mu, 0.0)
        return (V * np.sqrt(self.gamma / (self.gamma + mu))) @ V.T

    def full_S(self):
        """Dense encoder covariance factor ``S``, shape (n_sources, n_sources).

        ``diag(s)`` for the diagonal-covariance VAE; None for the AE.
        """
        if self.kind == "ae":
            return None
        if self.kind == "diag":
            return np.diag(self.s)
        S = np.eye(self.n_sources)
        idx = self.active_set
        S[np.ix_(idx, idx)] = self.S_active
        return S

    def __repr__(self):
        return (
            f"<VAEParameters | {self.kind}, {self.active_set.size}/"
            f"{self.n_sources} active, gamma={self.gamma:.3g}>"
        )


@dataclass(repr=False)
class SolverResult:
    """What an array-level solver returns.

    Attributes
    ----------
    X : array, shape (n_sources, n_times)
        Estimated source time courses (row-sparse).
    weights : array, shape (n_sources,)
        Source variances ``w = w_x ** 2`` (one value per column; columns of
        one location share it when ``n_orient > 1``). For the group lasso,
        the weights of its variational (IRLS) form, ``||X_i||_F``.
    active_set : array of int, shape (n_active,)
        Indices of columns with non-zero weight.
    cost : array, shape (n_iter + 1,)
        Objective value before the first and after each iteration (the
        model's own objective; see each solver's docstring). After an
        evidence selection (``info["selection"]``), the history of the last
        refit only, while ``n_iter`` counts every iteration.
    n_iter : int
        Number of iterations run.
    converged : bool
        Whether the stopping criterion was met before ``max_iter``.
    gamma : float | None
        Decoder (noise) variance used at the end (learned or fixed).
    model : str
        ``"full_vae"``, ``"diag_vae"``, ``"autoencoder"`` or ``"group_lasso"``.
    n_orient : int
        Number of columns per location.
    params : VAEParameters | None
        Encoder / decoder parameters (VAE and AE models).
    info : dict
        Solver-specific diagnostics (update rule, duality gap, ...).
    """

    X: np.ndarray
    weights: np.ndarray
    active_set: np.ndarray
    cost: np.ndarray
    n_iter: int
    converged: bool
    gamma: float | None
    model: str
    n_orient: int = 1
    params: VAEParameters | None = None
    info: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, init=False, compare=False)

    @property
    def locations(self):
        """Indices of the active locations, shape (n_active_locations,)."""
        return np.asarray(self.active_set[:: self.n_orient], int) // self.n_orient

    def _factors(self):
        """``R_i = I - w_i K_i`` on the active locations (full VAE only)."""
        if "R" not in self._cache:
            from ._evidence import posterior_factors

            p = self.params
            if "responses" in self.info and p is None:
                raise ValueError(
                    "The responses of a joint solve with different noise "
                    "levels each have their own posterior: use "
                    "result.info['responses'][c].posterior_cov."
                )
            if self.model != "full_vae" or p is None or p.G_active is None:
                raise ValueError(
                    "Evidence and posterior covariance are defined for cost (18), "
                    f"the full VAE; this result is from {self.model!r}."
                )
            self._cache["R"] = posterior_factors(
                p.G_active, self.weights[self.active_set], p.gamma, self.n_orient
            )
        return self._cache["R"]

    @property
    def evidence(self):
        """Evidence of each active location, shape (n_active_locations,).

        The rise of cost (18) when the location alone is removed (its weight
        set to 0, the others kept): ``2 log`` of the Bayes factor of "this
        location is active" against "it is not", computed in closed form by
        a rank-``n_orient`` update of ``Sigma^-1``
        (:mod:`vaesource.solvers._evidence`). Large for a source the data
        need; near 0 for a weak source fitting noise. Full VAE only.

        The ``n`` of cost (18) is ``info["n_times"]`` (the samples the data
        stand for; ``X.shape[1]`` when absent). Results of
        :func:`~vaesource.solvers.joint_full_vae` carry the joint evidence
        in ``info["evidence"]``, which is returned as it is.
        """
        if "evidence" in self.info:
            return self.info["evidence"]
        if "evidence" not in self._cache:
            from ._evidence import evidence_from_factors

            k = self.n_orient
            self._cache["evidence"] = evidence_from_factors(
                self._factors(), self.X[self.active_set],
                self.weights[self.active_set[::k]],
                self.info.get("n_times", self.X.shape[1]),
            )
        return self._cache["evidence"]

    @property
    def posterior_cov(self):
        """Posterior covariance of each active location's sources.

        Shape (n_active_locations, n_orient, n_orient): the block ``W_i -
        W_i G_i^T Sigma^-1 G_i W_i`` of the encoder covariance of appendix
        C.1 scaled by the weights (``diag(w_x) S S^T diag(w_x)``), in the
        units of ``X`` and the same at every time sample. Inactive
        locations have a zero posterior. Full VAE only.
        """
        k = self.n_orient
        w = self.weights[self.active_set[::k]]
        return w[:, None, None] * self._factors()

    def credible_interval(self, level=0.95):
        """Pointwise credible interval of the active rows of ``X``.

        Parameters
        ----------
        level : float
            Posterior probability inside the interval, in (0, 1).

        Returns
        -------
        lower, upper : array, shape (n_active_cols, n_times)
            ``X[active_set] -/+ z sd`` with ``sd`` the posterior standard
            deviation of each column and ``z`` the normal quantile.
        """
        from scipy.stats import norm

        level = float(level)
        if not 0 < level < 1:
            raise ValueError(f"The 'level' parameter must be in (0, 1), got {level}.")
        sd = np.sqrt(np.maximum(
            np.diagonal(self.posterior_cov, axis1=1, axis2=2).ravel(), 0.0))
        z = norm.ppf(0.5 + level / 2)
        X = self.X[self.active_set]
        return X - z * sd[:, None], X + z * sd[:, None]

    @property
    def row_norms(self):
        """Euclidean norm of each location's time courses, (n_locations,)."""
        X = self.X.reshape(-1, self.n_orient * self.X.shape[1])
        return np.linalg.norm(X, axis=1)

    def __repr__(self):
        status = "converged" if self.converged else "not converged"
        if self.n_orient > 1:  # weights and active_set are per column
            k = self.n_orient
            active = (f"{self.active_set.size // k} active location(s) of "
                      f"{self.weights.size // k} ({k} orientations each)")
        else:
            active = f"{self.active_set.size} active of {self.weights.size}"
        return (f"<SolverResult | {self.model}, {active}, {self.n_iter} "
                f"iterations, {status}>")

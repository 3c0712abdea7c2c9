"""The paper's simultaneous sparse approximation problems (figure 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..utils import _check_int, _check_option, _check_positive, _check_random_state

SETTINGS = ("unit", "jeffreys", "meg", "noisy")
NOISELESS_GAMMA = 1e-10


@dataclass(repr=False)
class PaperProblem:
    """One draw of the paper's simultaneous sparse approximation problem.

    Attributes
    ----------
    M : array, shape (n_sensors, n_times)
        Observed data ``G @ X`` (+ noise for ``"noisy"``).
    G : array, shape (n_sensors, n_sources)
        Dictionary with unit-norm columns.
    X : array, shape (n_sources, n_times)
        True row-sparse sources.
    support : array of int, shape (r,)
        Sorted indices of the non-zero rows of ``X``.
    noise_var : float
        Variance of the added noise (0.0 when noiseless).
    setting : str
        ``"unit"``, ``"jeffreys"``, ``"meg"`` or ``"noisy"``.
    seed : int | None
        Seed the problem was drawn with.
    """

    M: np.ndarray
    G: np.ndarray
    X: np.ndarray
    support: np.ndarray
    noise_var: float
    setting: str
    seed: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def r(self):
        return self.support.size

    @property
    def noiseless(self):
        return self.noise_var == 0.0

    @property
    def gamma(self):
        """Decoder variance the paper uses for the VAE / AE models.

        1e-10 (the ``gamma -> 0`` limit) when noiseless, else the true noise
        variance.
        """
        return NOISELESS_GAMMA if self.noiseless else self.noise_var

    @property
    def group_lasso_alpha(self):
        """Group-lasso penalty in MNE's ``0.5 ||M - G X||^2 + alpha ||X||_21``.

        Noisy: the paper sets its lambda (in ``||M - G X||^2 + lambda
        ||X||_21``) to the square root of the noise variance, so ``alpha =
        sqrt(noise_var) / 2``. Noiseless: the equality-constrained problem
        is approximated with ``alpha = 1e-6 * alpha_max``.
        """
        from ..solvers import alpha_max

        if self.noiseless:
            return 1e-6 * alpha_max(self.M, self.G)
        return 0.5 * np.sqrt(self.noise_var)

    def success(self, X_hat):
        """The paper's success criterion for an estimate.

        The ``r`` largest estimated rows (by l2 norm) are exactly the true
        support and, when noiseless, ``||X_hat - X||_F <= 1e-3 ||X||_F``.

        Parameters
        ----------
        X_hat : array, shape (n_sources, n_times)
            The estimate.

        Returns
        -------
        success : bool
        """
        X_hat = np.asarray(X_hat)
        if X_hat.shape != self.X.shape:
            raise ValueError(
                f"X_hat must have shape {self.X.shape}, got {X_hat.shape}."
            )
        norms = np.linalg.norm(X_hat, axis=1)
        top = np.sort(np.argsort(-norms, kind="stable")[: self.r])
        if not np.array_equal(top, self.support):
            return False
        if self.noiseless:
            err = np.linalg.norm(X_hat - self.X)
            return bool(err <= 1e-3 * np.linalg.norm(self.X))
        return True

    def __repr__(self):
        return (
            f"<PaperProblem | {self.setting}, r={self.r}, "
            f"{self.G.shape[0]} x {self.G.shape[1]}, n_times={self.M.shape[1]}>"
        )


def paper_problem(
    setting: Literal["unit", "jeffreys", "meg", "noisy"],
    r,
    *,
    seed=None,
    n_sensors=100,
    n_sources=200,
    n_times=50,
    rank=5,
    a=0.01,
    snr_db=20.0,
) -> PaperProblem:
    """Draw one problem of the paper's benchmark (section 5.1, appendix A).

    - Dictionary: i.i.d. standard normal entries, each column scaled to unit
      l2 norm (``"meg"``: a Sarvas-model MEG lead field from
      :func:`vaesource.forward.meg_dictionary`, columns unit norm).
    - Support: ``r`` rows at uniformly random indices. Their block is
      ``A @ B`` with ``A`` (r x rank) and ``B`` (rank x n_times) standard
      normal (correlated rows), each row then scaled to unit l2 norm.
    - ``"jeffreys"``: rows further scaled by ``nu_i`` drawn log-uniformly
      on ``[a, 1/a]`` (the approximate Jeffreys prior of appendix A).
    - ``"noisy"``: ``"unit"`` plus white Gaussian noise scaled to exactly
      ``snr_db`` (``10 log10 ||G X||_F^2 / ||E||_F^2``).

    Parameters
    ----------
    setting : "unit" | "jeffreys" | "meg" | "noisy"
        Which panel of the paper's figure 2.
    r : int
        Number of non-zero rows, ``0 <= r <= n_sources``.
    seed : int | numpy.random.Generator | None
        Random seed.
    n_sensors, n_sources, n_times, rank : int
        Problem size (paper: 100, 200, 50, 5).
    a : float
        Range parameter of the Jeffreys scaling, ``0 < a < 1``.
    snr_db : float
        Signal-to-noise ratio of the ``"noisy"`` setting.

    Returns
    -------
    problem : PaperProblem
    """
    _check_option("setting", setting, SETTINGS)
    n_sensors = _check_int("n_sensors", n_sensors, min_value=1)
    n_sources = _check_int("n_sources", n_sources, min_value=1)
    n_times = _check_int("n_times", n_times, min_value=1)
    rank = _check_int("rank", rank, min_value=1)
    r = _check_int("r", r, min_value=0)
    if r > n_sources:
        raise ValueError(
            f"The 'r' parameter must be <= n_sources ({n_sources}), got {r}."
        )
    a = _check_positive("a", a)
    if a >= 1:
        raise ValueError(f"The 'a' parameter must be in (0, 1), got {a}.")
    snr_db = float(snr_db)
    rng = _check_random_state(seed)

    if setting == "meg":
        from ..forward import meg_dictionary

        G = meg_dictionary(n_sensors, n_sources, seed=rng)
    else:
        G = rng.standard_normal((n_sensors, n_sources))
    G = G / np.linalg.norm(G, axis=0)

    support = np.sort(rng.choice(n_sources, size=r, replace=False))
    X = np.zeros((n_sources, n_times))
    if r:
        block = rng.standard_normal((r, rank)) @ rng.standard_normal((rank, n_times))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        if setting == "jeffreys":
            nu = np.exp(rng.uniform(np.log(a), -np.log(a), size=r))
            block *= nu[:, None]
        X[support] = block
    M = G @ X
    noise_var = 0.0
    if setting == "noisy" and r:
        E = rng.standard_normal(M.shape)
        E *= np.linalg.norm(M) / (np.linalg.norm(E) * 10 ** (snr_db / 20))
        noise_var = float(np.sum(E**2) / E.size)
        M = M + E
    return PaperProblem(
        M=M, G=G, X=X, support=support, noise_var=noise_var, setting=setting,
        seed=seed if isinstance(seed, (int, np.integer)) else None,
    )


__all__ = ["PaperProblem", "paper_problem"]

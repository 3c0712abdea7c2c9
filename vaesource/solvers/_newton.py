"""Working-set projected-Newton engine for cost (18) (``update="newton"``).

Cost (18) with the encoder optimised away (appendix C.1) is::

    L(w) = tr[Q^T Sigma^-1 Q] + n log|Sigma|,   Sigma = G diag(w) G^T + gamma I

over one weight ``w_i >= 0`` per location (``n_orient`` columns ``G_i``).
With ``K_ij = G_i^T Sigma^-1 G_j`` and ``B_i = G_i^T Sigma^-1 Q``:

- gradient ``g_i = n tr(K_ii) - ||B_i||_F^2``; the MacKay ratio
  ``rho_i = ||B_i||_F^2 / (n tr K_ii)`` is 1 where ``g_i = 0``;
- Hessian ``H_ij = 2 tr(B_i^T K_ij B_j) - n ||K_ij||_F^2``.

Why this engine. The MM fixed-point updates (MacKay, convex bounding, EM;
:mod:`._mm`) converge linearly: on real MEG problems hundreds of iterations
over thousands of columns, most of them spent while weights that belong at
zero decay geometrically (measured: 283-444 iterations on the 7 mm volume of
MNE's sample subject). Tried before this one and measured too slow: a
working set with MacKay or L-BFGS-B inner solves (about 800 inner
iterations either way), and a projected Newton tail without exact
identification of the zeros (stalled 5e-5 above the optimum). This engine

1. works on a small *working set* of locations and grows it from a full
   pass over the source space (the MacKay ratio of every location; celer and
   MNE's MxNE grow working sets the same way): the locations with ``rho_i >
   1``, the most violating first, at least twice as many as are active,
   enter at a common fraction of their single-location optima (Newton from
   ``w_i = 0`` would undershoot those by a factor ``2 rho_i - 1``). Only a
   handful of passes touch all columns (5-10 on the problems measured);
2. on the working set, takes MacKay steps while they lower the cost by more
   than 1e-3 (relative; they are cheap and prune fast far from the
   optimum), then *projected Newton* steps (Bertsekas 1982) on the exact
   Hessian above. Each Newton step minimises the quadratic model subject to
   ``w >= 0`` (the locations whose step crosses zero are fixed there and the
   others' step recomputed), so the weights that belong at zero leave in
   one step, exactly, and the others converge quadratically; weights that
   explain less than 1e-3 of their own whitened power and are pushed to
   zero are sent there (Bertsekas' epsilon-active set);
3. accepts only steps that lower the cost: Levenberg-Marquardt damping
   (``H + lam diag|H|``) grows until a step does, and a MacKay /
   convex-bounding step (which cannot raise the cost) is the last resort.
   Solves on the working set are inexact (to a tenth of the last pass's
   violation) until the working set is complete;
4. stops on a *certificate*: a full pass whose largest stationarity
   violation (``|rho_i - 1|`` on active locations, ``rho_i - 1`` on inactive
   ones, ``|rho_gamma - 1|`` for a learned noise) is below ``kkt_tol``, with
   the relative cost change of the last step below ``tol``.

Many responses with different noise levels (DESIGN section 9) share the
weights: ``Sigma_c = G diag(w) G^T + gamma s_c I`` and the cost is the sum
of the responses' costs (18). :class:`_JointProblem` and
:class:`_JointSigma` make the engine see them as one problem: the cost,
the gradient ``sum_c n_c tr(K_ic) - sum_c ||B_ic||_F^2``, the MacKay ratio
``sum_c ||B_ic||_F^2 / sum_c n_c tr(K_ic)`` and the Hessian ``sum_c K_c o
(2 B_c B_c^T - n_c K_c)`` are sums over the responses, each with its own
factorisation of ``Sigma_c`` (sharing the QR basis of the active columns).

The diagonal VAE (cost (50)) and the autoencoder (eq. 8, ``h = log``) share
the data term ``tr[Q^T Sigma^-1 Q]`` and replace ``n log|Sigma|`` by a
concave penalty that is a sum over locations (:class:`_Separable`): its
derivative replaces ``n z_i`` in the MacKay ratio and its Hessian is a
diagonal added to the data term's ``2 K o (B B^T)``. Their bad local minima
make the path matter, so the engine follows theirs: every location starts
active, the MM phase takes their MM engine's own update, and weights
decaying fast (``rho_i < 1/2``) keep taking it inside the Newton steps
(figure 2's success rates of both engines agree; see
:func:`vaesource.solvers.diag_vae`).

A learned ``gamma`` is minimised exactly (a one-dimensional problem on the
eigenvalues of ``G_A W G_A^T``) between certified solves over the weights,
until the noise, seen as ``n_sensors`` identity columns, is stationary too.

The constants below were chosen on the template cortical problems and the
real 7 mm volume (``vaesource bench speed``); none of them changes the point
reached, only how fast (the certificate decides when to stop).

``Sigma`` is factorised on the span of the active columns when there are few
of them or when ``gamma`` is negligible (exact in the ``gamma -> 0`` limit),
otherwise as the dense ``n_sensors x n_sensors`` matrix. Nothing of size
``n_sources x n_sources`` is ever formed: the largest matrices are the
Hessian of the free working-set locations and chunks of the whitened gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.linalg import blas, lapack

from ..utils import ConvergenceWarning, logger, warn
from ._common import _expand, _group_sum
from ._mm import _cho_factor, _cho_solve, _chol, _cols, _tri

# A location whose weight explains less than this fraction of its own
# whitened power and whose gradient pushes it to zero is sent to zero
# (Bertsekas' epsilon-active set): a full Newton step through a nearly
# vanished weight is badly scaled.
_BIND_FRACTION = 1e-3
# ... and so is one of cost (18) whose MacKay ratio is below this. Near
# r = n_sensors, with gamma -> 0, a weight heading to zero keeps w_i z_i near
# one (its column is needed for the span until it goes) and each Newton step
# only divided it by about ten, 130 steps on some of the paper's problems;
# the step that zeroes it is accepted only if it lowers the cost. Measured on
# figure 2's problems (5 per r and setting): the same costs and outcomes,
# 7 % less time (25-30 % at r = 90-95).
_BIND_RHO = 0.1
# Locations added per pass: this many times the active ones (1x: 11 passes
# on the 7 mm volume, 2x: 9; 3x was no faster).
_GROWTH = 2.0
# Backtracking of the common entry fraction (1, 1/4, 1/16, ...).
_ENTRY_TRIES = 6
# Separable penalties: weights whose MacKay ratio is below this take the MM
# step inside a Newton step (see _newton_step).
_FOLLOW = 0.5
# Re-solves of the bounded Newton model, and damping increases per step.
_QP_ROUNDS = 10
_LM_TRIES = 8
# MacKay steps while they lower the cost by more than this (relative):
# 1e-3 and 1e-2 gave the same times on the volume and the paper's problems
# (Newton alone needed 150-220 iterations on the noiseless ones).
_MM_PHASE = 1e-3
# Inexact working-set solves: to this fraction of the last pass's violation
# (0.03-0.3 gave the same passes and iterations).
_INNER_FRACTION = 0.1
# Columns of the full pass whitened at once (bounds the memory to one chunk).
_CHUNK = 4096
# Selection passes in single precision (half the time of a pass) while the
# last pass's violation is above this; the certificate is always a pass in
# double precision. Float32 rounds the MacKay ratios to about 1e-6 on the
# real volume, but up to 1e-2 with an ill-conditioned Sigma: a single pass
# after which nothing moves hands over to passes in double.
_SINGLE_ABOVE = 1e-2


# ---------------------------------------------------------------------------
# The penalty next to the data term tr[Q^T Sigma^-1 Q]
# ---------------------------------------------------------------------------
class _LogDet:
    """``n log|Sigma|``: cost (18) of the full-covariance VAE.

    Its derivative in ``w_i`` is ``n tr(K_ii) = n z_i``, and its Hessian
    ``-n ||K_ij||_F^2`` is dense (the Sigma classes add it).
    """

    logdet = True

    def value(self, prob, sig, w):
        return prob.n_times * sig.logdet

    def grad(self, prob, locs, w_locs, z):
        return prob.n_times * z

    def mm_steps(self, prob, locs, w_locs, rho, a2):
        # MacKay's step, then the convex-bounding one (never raises the cost)
        yield w_locs * rho
        yield w_locs * np.sqrt(rho)

    def entry(self, prob, locs, rho, z):
        # the single-location optimum (exact with one column per location)
        return (rho - 1.0) / z


class _Separable:
    """A penalty that is a sum over locations, so its Hessian is diagonal.

    - ``kind="diag"``: ``n sum_j log(gamma + w_j ||g_j||^2)`` over columns,
      cost (50) of the diagonal-covariance VAE with the encoder means
      optimised away;
    - ``kind="log"``: ``sum_i log(w_i / n + eps)`` over locations, eq. (8)
      of the autoencoder with ``h = log`` (appendix D).

    Both are concave: ``w_i = 0`` can be a local minimum (the bad minima of
    section 4.4), and the autoencoder's derivative ``1 / (w_i + n eps)`` at
    zero is so large that no location ever enters again.
    """

    logdet = False

    def __init__(self, kind, gamma, eps=0.0):
        self.kind, self.gamma, self.eps = kind, gamma, eps

    def _cols(self, prob, locs, w_locs):
        c = prob.col_norms2[prob.cols(locs)]
        w = np.zeros(c.size) if w_locs is None else _expand(w_locs, prob.n_orient)
        return c, self.gamma + w * c

    def value(self, prob, sig, w):
        if self.kind == "diag":
            wc = _expand(w, prob.n_orient) * prob.col_norms2
            return prob.n_times * float(np.sum(np.log(self.gamma + wc)))
        return float(np.sum(np.log(w / prob.n_times + self.eps)))

    def grad(self, prob, locs, w_locs, z):
        if self.kind == "diag":
            c, d = self._cols(prob, locs, w_locs)
            return prob.n_times * _group_sum(c / d, prob.n_orient)
        w_locs = np.zeros(locs.size) if w_locs is None else w_locs
        with np.errstate(over="ignore", divide="ignore"):  # inf: never enters
            return 1.0 / (w_locs + prob.n_times * self.eps)

    def hess(self, prob, locs, w_locs):
        if self.kind == "diag":
            c, d = self._cols(prob, locs, w_locs)
            return -prob.n_times * _group_sum((c / d) ** 2, prob.n_orient)
        return -1.0 / (w_locs + prob.n_times * self.eps) ** 2

    def mm_steps(self, prob, locs, w_locs, rho, a2):
        # only the MM engine's own update: a MacKay-type step ``w rho`` for
        # the diagonal VAE was 2x faster on cortical problems but led to
        # other minima, higher in 405 of 500 figure-2 trials on Jeffreys-
        # scaled rows (success 28 points lower at r = 20)
        yield self.mm_update(prob, w_locs, rho, a2)

    def mm_update(self, prob, w_locs, rho, a2):
        """The MM engine's own update (it cannot raise the cost)."""
        if self.kind == "diag":
            # convex bounding: w sqrt(||X_i||^2 / (n sum_j c_j / (gamma + w c_j)))
            return w_locs * np.sqrt(rho)
        # exact minimisation of ||X_i||^2 / w + log(w / n + eps)
        u2 = w_locs**2 * a2
        n_eps = prob.n_times * self.eps
        return 0.5 * (u2 + np.sqrt(u2**2 + 4.0 * u2 * n_eps))

    def entry(self, prob, locs, rho, z):
        """Single-location optimum of cost (50) from ``w_i = 0``.

        A location of ``o`` columns is taken as ``o`` equal columns (norm
        ``c``, ``k = z / o``, ``b^2 = ||B_i||^2 / o``); the derivative of
        ``-w b^2 / (1 + w k) + n log(gamma + w c)`` vanishes at the positive
        root of ``n c k^2 w^2 + (2 n c k - b^2 c) w + n c - b^2 gamma``.
        """
        if self.kind != "diag":  # never reached: rho < 1 at w = 0
            return np.zeros(locs.size)
        o, n, g = prob.n_orient, prob.n_times, self.gamma
        c = prob.loc_norms2[locs] / o
        k = z / o
        b2 = rho * n * c / g  # rho = b^2 gamma / (n c) at w = 0
        qa, qb, qc = n * c * k**2, 2 * n * c * k - b2 * c, n * c - b2 * g
        disc = np.sqrt(np.maximum(qb**2 - 4 * qa * qc, 0.0))
        return np.maximum((-qb + disc) / (2 * qa), 0.0)


# ---------------------------------------------------------------------------
# Sigma and the quantities every step needs
# ---------------------------------------------------------------------------
class _OneSigma:
    """What the factorisations of one ``Sigma`` share."""

    def hessian(self, G_F, T_F, B_F, n_times, n_orient):
        """Hessian of cost (18) on the free locations (columns ``G_F``,
        their whitened block ``T_F`` and ``B_F = G_F^T Sigma^-1 Q``)."""
        return _hessian(self.gram(G_F, T_F), B_F, n_times, n_orient)


class _DenseSigma(_OneSigma):
    """``Sigma = G_A W G_A^T + gamma I`` through its Cholesky factor ``L``."""

    def __init__(self, G_A, w_cols, gamma, Q):
        m = G_A.shape[0]
        # lower triangle of G_A W G_A^T; the transpose of the C-ordered
        # scaled columns is their Fortran-ordered copy (saves one copy of
        # the columns, a third of the syrk's time with thousands of them)
        Gs = G_A * np.sqrt(w_cols)
        S = (blas.dsyrk(1.0, Gs.T, lower=1, trans=1) if G_A.shape[1]
             else np.zeros((m, m)))
        S.flat[:: m + 1] += gamma
        self.L = _chol(S, "Sigma = G diag(w) G^T + gamma I")
        # LAPACK directly: the scipy wrappers' checks cost as much as the
        # solve on the paper's 100 x 100 problems
        self.TQ = lapack.dtrtrs(self.L, Q, lower=1)[0]
        self.data = float(np.sum(self.TQ**2))  # tr[Q^T Sigma^-1 Q]
        self.logdet = 2.0 * float(np.sum(np.log(np.diag(self.L))))
        self._Linv = None
        self._single = None

    @property
    def Linv(self):
        # explicit L^-1: whitening by a triangular product is faster than
        # by TRSM
        if self._Linv is None:
            # by TRSM on the identity, not LAPACK's dtrtri: in the noiseless
            # limit (gamma = 1e-10, Sigma's condition near 1e10) dtrtri's
            # rounding left a paper problem (README's jeffreys r = 60, drawn
            # with one BLAS thread) uncertified, stalled at a violation of 1
            self._Linv = _tri(self.L, np.eye(self.L.shape[0]))
        return self._Linv

    def whiten(self, G_C):
        """``L^-1 G_C`` by TRMM (half the flops of a GEMM with ``L^-1``):
        ``(G_C^T L^-T)^T``, so that C-ordered columns are not copied."""
        if G_C.shape[1] == 0:
            return self.Linv @ G_C
        return blas.dtrmm(1.0, self.Linv, G_C.T, side=1, lower=1,
                          trans_a=1).T

    def stats(self, G_C, norms2=None):
        """``(z, A, T)``: ``z = diag(G_C^T Sigma^-1 G_C)``, ``A = G_C^T
        Sigma^-1 Q`` and the whitened columns ``T = L^-1 G_C``."""
        T = self.whiten(G_C)
        return np.einsum("ij,ij->j", T, T), T.T @ self.TQ, T

    def gram(self, G_C, T=None):
        """``G_C^T Sigma^-1 G_C``."""
        T = self.whiten(G_C) if T is None else T
        return T.T @ T

    def stats_single(self, G_C, norms2=None):
        """``(z, A)`` of :meth:`stats` in single precision (``G_C`` float32):
        for the selection passes only, never for a certificate."""
        if self._single is None:
            self._single = (self.Linv.astype(np.float32),
                            self.TQ.astype(np.float32))
        Linv, TQ = self._single
        T = blas.strmm(1.0, Linv, G_C.T, side=1, lower=1, trans_a=1).T
        return np.einsum("ij,ij->j", T, T), T.T @ TQ

    def solve(self, M):
        """``Sigma^-1 M``."""
        return self.Linv.T @ (self.Linv @ M)

    solve_span = solve


class _SpanSigma(_OneSigma):
    """``Sigma`` on the span of ``p <= n_sensors`` active columns.

    With the thin QR ``G_A = U R``, ``Sigma`` acts as ``R W R^T + gamma I``
    on ``span(U)`` and as ``gamma I`` on its complement: O(p^3) work, and
    no ``1 / gamma`` multiplies a rounding error of the span, which keeps
    the ``gamma -> 0`` limit accurate.
    """

    def __init__(self, basis, w_cols, gamma, exact):
        self.exact = exact  # gamma negligible: form the residuals explicitly
        U, R, UQ, Q_res = basis
        p = R.shape[0]
        self.U, self.gamma, self.m = U, gamma, U.shape[0]
        Rs = np.asfortranarray(R * np.sqrt(w_cols))
        S = blas.dsyrk(1.0, Rs, lower=1)
        S.flat[:: p + 1] += gamma
        self.L = _chol(S, "R diag(w) R^T + gamma I")
        self.Linv = _tri(self.L, np.eye(p))
        TQ_span = self.Linv @ UQ
        self._Q_res = Q_res
        self.data = float(np.sum(Q_res**2)) / gamma + float(np.sum(TQ_span**2))
        self.logdet = (self.m - p) * np.log(gamma) + 2.0 * float(
            np.sum(np.log(np.diag(self.L)))
        )
        self._TQ_span = TQ_span
        self._single = None

    def stats_single(self, G_C, norms2):
        """``(z, A)`` of :meth:`stats` in single precision (``G_C`` float32),
        the residual's norms as ``||G_c||^2 - ||P_c||^2``: for the selection
        passes only, never for a certificate."""
        if self._single is None:
            self._single = tuple(a.astype(np.float32) for a in (
                self.U, self.Linv, self._TQ_span, self._Q_res))
        U, Linv, TQ, Q_res = self._single
        P = U.T @ G_C
        TP = Linv @ P
        z = np.einsum("ij,ij->j", TP, TP) + np.maximum(
            norms2 - np.einsum("ij,ij->j", P, P), 0.0) / self.gamma
        return z, TP.T @ TQ + (G_C.T @ Q_res) / self.gamma

    def stats(self, G_C, norms2=None, split=None):
        """As :meth:`_DenseSigma.stats` (``T`` is the split ``(L^-1 P, R)``).

        The span part goes through the ``p x p`` factor, the complement
        through ``1 / gamma``. The residual ``R = G_C - U P`` is formed
        explicitly only when ``gamma`` is negligible; otherwise its norms are
        ``||G_c||^2 - ||P_c||^2`` and ``R^T Q_res = G_C^T Q_res`` (``Q_res``
        is orthogonal to the span), which saves two thirds of the work.
        ``split`` is :meth:`split` of these columns, when computed already
        (responses sharing the basis share it).
        """
        if split is None:
            split = self.split(G_C, norms2, self._Q_res, self.exact)
        P, P2, R, R2, CtQ = split
        TP = self.Linv @ P
        z = np.einsum("ij,ij->j", TP, TP)
        A = TP.T @ self._TQ_span + CtQ / self.gamma
        if R is not None:
            z += R2 / self.gamma
        else:
            z += np.maximum(norms2 - P2, 0.0) / self.gamma
        return z, A, (TP, P, R)

    def split(self, G_C, norms2, Q_res, exact):
        """What :meth:`stats` needs of the basis alone: ``(P, ||P_c||^2, R,
        ||R_c||^2, C^T Q_res)`` with ``C`` the residual ``R`` when it is
        formed, else ``G_C``."""
        P = self.U.T @ G_C
        if exact or norms2 is None:
            R = G_C - self.U @ P
            return P, None, R, np.einsum("ij,ij->j", R, R), R.T @ Q_res
        return P, np.einsum("ij,ij->j", P, P), None, None, G_C.T @ Q_res

    def gram(self, G_C, T=None):
        TP, P, R = self.stats(G_C)[2] if T is None else T
        K = TP.T @ TP
        if R is None:
            return K + (G_C.T @ G_C - P.T @ P) / self.gamma
        return K + (R.T @ R) / self.gamma

    def solve(self, M):
        UM = self.U.T @ M
        span = self.U @ (self.Linv.T @ (self.Linv @ UM))
        return span + (M - self.U @ UM) / self.gamma

    def solve_span(self, G_A):
        """``Sigma^-1 G_A`` for columns in the span (their residual, pure
        rounding, must not be amplified by ``1 / gamma``)."""
        return self.U @ (self.Linv.T @ (self.Linv @ (self.U.T @ G_A)))


class _NoiseSigma(_OneSigma):
    """``Sigma = gamma I`` (no active location)."""

    def __init__(self, gamma, Q, m):
        self.gamma, self.m, self.Q = gamma, m, Q
        self.data = float(np.sum(Q**2)) / gamma
        self.logdet = m * np.log(gamma)
        self.Linv = np.eye(m) / np.sqrt(gamma)
        self.TQ = Q / np.sqrt(gamma)

    def stats(self, G_C, norms2=None):
        z = norms2 if norms2 is not None else np.einsum("ij,ij->j", G_C, G_C)
        return z / self.gamma, (G_C.T @ self.Q) / self.gamma, G_C / np.sqrt(self.gamma)

    def gram(self, G_C, T=None):
        return (G_C.T @ G_C) / self.gamma

    def solve(self, M):
        return M / self.gamma

    solve_span = solve


class _JointSigma:
    """The ``Sigma_c`` of many responses, seen by the engine as one.

    ``data + n_times * logdet`` is the joint cost (``logdet`` is the
    sample-weighted mean of the ``log|Sigma_c|``); :meth:`stats` returns
    ``z_i = sum_c n_c tr(K_ic) / n`` and ``A = [A_1, ..., A_C]`` side by
    side, so that ``||A_i||^2 / (n z_i)`` is the joint MacKay ratio and
    ``n z_i - ||A_i||^2`` the joint gradient.
    """

    def __init__(self, sigs, n_each, widths):
        self.sigs, self.n_each, self.widths = sigs, n_each, widths
        edges = np.cumsum([0] + list(widths))
        self._parts = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
        # one QR basis for all: project the columns on it once
        self._span = all(isinstance(s, _SpanSigma) and s.U is sigs[0].U
                         for s in sigs)
        self.n_times = float(np.sum(n_each))
        self.terms = np.array([s.data + n * s.logdet for s, n in zip(sigs, n_each)])
        self.data = float(sum(s.data for s in sigs))
        self.logdet = float(sum(n * s.logdet for s, n in zip(sigs, n_each))
                            ) / self.n_times

    def stats(self, G_C, norms2=None):
        if self._span:
            Q_res = np.hstack([s._Q_res for s in self.sigs])
            P, P2, R, R2, CtQ = self.sigs[0].split(
                G_C, norms2, Q_res, any(s.exact for s in self.sigs))
            out = [s.stats(G_C, norms2, (P, P2, R, R2, CtQ[:, part]))
                   for s, part in zip(self.sigs, self._parts)]
        else:
            out = [s.stats(G_C, norms2) for s in self.sigs]
        z = sum(n * o[0] for n, o in zip(self.n_each, out)) / self.n_times
        return z, np.hstack([o[1] for o in out]), [o[2] for o in out]

    def hessian(self, G_F, T_F, B_F, n_times, n_orient):
        H = 0.0
        start = 0
        for sig, T_c, n_c, k_c in zip(self.sigs, T_F, self.n_each, self.widths):
            H = H + sig.hessian(G_F, T_c, B_F[:, start:start + k_c], n_c, n_orient)
            start += k_c
        return H


@dataclass
class _Problem:
    """The arrays of one solve and the cache of the active columns' basis."""

    G: np.ndarray
    Q: np.ndarray
    n_times: int
    n_orient: int
    # the penalty next to tr[Q^T Sigma^-1 Q]: n log|Sigma| (cost (18)) when
    # None, else a _Separable one (cost (50), eq. 8)
    penalty: object = None

    # smallest noise level relative to gamma (pruning compares with it)
    noise_floor = 1.0

    def __post_init__(self):
        self.n_sensors = self.G.shape[0]
        self.col_norms2 = np.sum(self.G**2, axis=0)
        self.loc_norms2 = _group_sum(self.col_norms2, self.n_orient)
        self._basis_key = None
        self._G_single = None
        if self.penalty is None:
            self.penalty = _LogDet()

    def single(self, sig):
        """Whether a selection pass at ``sig`` can run in single precision."""
        return isinstance(sig, (_DenseSigma, _SpanSigma)) and not getattr(
            sig, "exact", False)

    @property
    def G_single(self):
        """The gain in single precision (half its memory), made once."""
        if self._G_single is None:
            self._G_single = self.G.astype(np.float32)
        return self._G_single

    def cost(self, sig, w):
        """The cost at the weights ``w`` from a factorisation of Sigma."""
        return sig.data + self.penalty.value(self, sig, w)

    def cols(self, locs):
        return _cols(locs, self.n_orient)

    def sigma(self, w, gamma):
        """Factorise Sigma at the weights ``w`` (all locations)."""
        active = np.flatnonzero(w)
        cols = self.cols(active)
        return self._factor(cols, _expand(w[active], self.n_orient), gamma)

    def _factor(self, cols, w_cols, gamma, part=slice(None)):
        """Factorise ``G_A W G_A^T + gamma I`` with the data columns
        ``part`` of ``Q``."""
        p, m = cols.size, self.n_sensors
        Q = self.Q[:, part]
        if p == 0:
            return _NoiseSigma(gamma, Q, m)
        # the span form costs O(m p^2) per new active set and O(p^3) per
        # step; it pays when p is small, and is needed when gamma is
        # negligible next to the sources (then the dense Sigma is
        # numerically singular)
        tiny = p and gamma < 1e-8 * float(np.max(w_cols * self.col_norms2[cols]))
        if p <= m and (p <= 0.5 * m or tiny):
            basis = self._basis(cols)
            if basis is not None:
                U, R, UQ, Q_res = basis
                return _SpanSigma((U, R, UQ[:, part], Q_res[:, part]), w_cols,
                                  gamma, exact=bool(tiny))
        if 4 * p > 3 * self.G.shape[1]:
            # most columns active (the start of the separable penalties):
            # all of G with zero weights elsewhere, the same sum without a
            # copy of the active columns
            w_all = np.zeros(self.G.shape[1])
            w_all[cols] = w_cols
            return _DenseSigma(self.G, w_all, gamma, Q)
        return _DenseSigma(self.G[:, _as_slice(cols)], w_cols, gamma, Q)

    def _basis(self, cols):
        key = cols.tobytes()
        if key != self._basis_key:
            U, R = linalg.qr(self.G[:, cols], mode="economic", check_finite=False)
            d = np.abs(np.diag(R))
            if d.min() <= 1e-10 * d.max():  # dependent columns: use dense
                self._basis_key, self._basis_val = key, None
            else:
                UQ = U.T @ self.Q
                self._basis_val = (U, R, UQ, self.Q - U @ UQ)
                self._basis_key = key
        return self._basis_val


class _JointProblem(_Problem):
    """Responses ``c`` with data factors ``Q_c`` (side by side in ``Q``),
    ``n_c`` samples and noise ``gamma * scales[c]``; ``n_times`` is the total.
    """

    def __init__(self, G, Qs, n_each, scales, n_orient):
        super().__init__(G, np.hstack(Qs), float(np.sum(n_each)), n_orient)
        self.n_each = np.asarray(n_each, float)
        self.scales = np.asarray(scales, float)
        self.widths = [Q_c.shape[1] for Q_c in Qs]
        edges = np.cumsum([0] + self.widths)
        self.parts = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
        self.noise_floor = float(self.scales.min())

    def sigma(self, w, gamma):
        active = np.flatnonzero(w)
        cols = self.cols(active)
        w_cols = _expand(w[active], self.n_orient)
        sigs = [self._factor(cols, w_cols, gamma * s, part)
                for s, part in zip(self.scales, self.parts)]
        return _JointSigma(sigs, self.n_each, self.widths)


def _take(T, cols):
    """Columns of the whitened block returned by ``stats`` (an array, the
    ``(L^-1 P, P, R)`` split of :class:`_SpanSigma`, or a list of either,
    one per response, from :class:`_JointSigma`)."""
    if isinstance(T, np.ndarray):
        return T[:, cols]
    if isinstance(T, list):
        return [_take(t, cols) for t in T]
    return tuple(None if t is None else t[:, cols] for t in T)


def _cost(sig, n_times):
    """Cost (18) from a factorisation of Sigma."""
    return sig.data + n_times * sig.logdet


def _ratios(prob, sig, locs, w=None, single=False):
    """``(rho, z)`` of the given locations, in chunks of columns (a full pass).

    ``z_i = tr(K_ii)`` and ``rho_i = ||B_i||_F^2 / p_i`` with ``p_i`` the
    penalty's derivative (``n z_i`` for cost (18)); ``w`` are the weights
    of all locations (None: zero). ``single``: in single precision (a
    selection pass, see :meth:`_Problem.single`).
    """
    o, n = prob.n_orient, prob.n_times
    rho, z = np.empty(locs.size), np.empty(locs.size)
    # a chunk's temporaries are (n_sensors + width of the data) per column:
    # a wide thin factor (many responses, e.g. epochs: as many columns as
    # sensors) takes narrower chunks, so a pass stays within about one
    # gain of memory; evoked data (a few dozen columns) keep _CHUNK
    m = prob.n_sensors
    step = max(1, min(_CHUNK, _CHUNK * m // max(m, 4 * prob.Q.shape[1])) // o)
    # consecutive locations (usually all of them): their columns as a
    # slice, a view of G that the products read in place (a fancy index
    # copies 10 MB per chunk of the 7 mm volume)
    run = locs.size > 0 and locs[-1] - locs[0] + 1 == locs.size
    for start in range(0, locs.size, step):
        sl = slice(start, start + step)
        if run:
            first = int(locs[sl][0]) * o
            cols = slice(first, first + locs[sl].size * o)
        else:
            cols = prob.cols(locs[sl])
        if single:
            z_c, A = sig.stats_single(prob.G_single[:, cols],
                                      prob.col_norms2[cols])
            z[sl] = _group_sum(z_c.astype(float), o)
            a2 = _group_sum(np.sum(A.astype(float) ** 2, axis=1), o)
        else:
            z[sl], a2 = _loc_stats(prob, sig, cols)[:2]
        w_sl = None if w is None else w[locs[sl]]
        rho[sl] = a2 / prob.penalty.grad(prob, locs[sl], w_sl, z[sl])
    return rho, z


def _loc_stats(prob, sig, cols):
    """Per location ``z_i = tr(K_ii)`` and ``||B_i||_F^2``, with ``B`` and the
    whitened columns (for the Hessian)."""
    cols = _as_slice(cols)
    z, B, T = sig.stats(prob.G[:, cols], prob.col_norms2[cols])
    o = prob.n_orient
    return _group_sum(z, o), _group_sum(np.sum(B**2, axis=1), o), B, T


def _as_slice(cols):
    """Sorted column indices as a slice when they are consecutive (a view
    of G instead of a copy)."""
    if isinstance(cols, np.ndarray) and cols.size and \
            cols[-1] - cols[0] + 1 == cols.size:
        return slice(int(cols[0]), int(cols[-1]) + 1)
    return cols


def _data_norms(prob, sig, locs):
    """``||B_i||_F^2 = ||G_i^T Sigma^-1 Q||_F^2`` of the given locations."""
    cols = prob.cols(locs)
    SQ = sig.solve(prob.Q)
    # all columns at once when most are wanted (no copy of G)
    A = (prob.G.T @ SQ)[cols] if 4 * cols.size > prob.G.shape[1] else \
        prob.G[:, cols].T @ SQ
    return _group_sum(np.sum(A**2, axis=1), prob.n_orient)


def _violation(rho, active):
    """Stationarity violation per location (0 at a KKT point of (18))."""
    return np.where(active, np.abs(rho - 1.0), np.maximum(rho - 1.0, 0.0))


# ---------------------------------------------------------------------------
# One Newton step on the working set
# ---------------------------------------------------------------------------
def _hessian(K, B_F, n_times, n_orient):
    """Hessian of cost (18) on the free locations (see the module docstring),
    from ``K = G_F^T Sigma^-1 G_F`` and ``B_F = G_F^T Sigma^-1 Q``."""
    E = K * (2.0 * (B_F @ B_F.T) - n_times * K)
    if n_orient == 1:
        return E
    m = E.shape[0] // n_orient
    return E.reshape(m, n_orient, m, n_orient).sum(axis=(1, 3))


def _newton_direction(H, g, lam):
    """``-(H + lam D)^-1 g`` with ``D = diag|H|``; the damping grows until
    the matrix is positive definite. Returns ``(d, lam used)``."""
    scale = np.abs(np.diag(H)).copy()
    scale[scale == 0] = 1.0
    for _ in range(40):
        try:
            c = _cho_factor(H + lam * np.diag(scale))
        except linalg.LinAlgError:
            lam = max(10.0 * lam, 1e-6)
            if lam > 1e12:
                break
            continue
        return -_cho_solve(c, g), lam
    return None, lam


def _bounded_newton(H, g, w, lam):
    """Step ``d`` minimising the damped Newton model subject to ``w + d >= 0``.

    The locations whose step crosses zero are fixed there and the step of
    the others recomputed (their model gradient includes the fixed ones'
    move), until no more cross: the weights that belong at zero all leave in
    one step instead of one line search at a time.
    """
    d = np.zeros_like(w)
    fixed = np.zeros(w.size, bool)
    for _ in range(_QP_ROUNDS):
        F = np.flatnonzero(~fixed)
        Z = np.flatnonzero(fixed)
        d[Z] = -w[Z]
        if F.size == 0:
            return d
        dF, lam = _newton_direction(
            H[np.ix_(F, F)], g[F] + H[np.ix_(F, Z)] @ d[Z], lam)
        if dF is None:
            return None
        d[F] = dF
        cross = F[w[F] + dF < 0]
        if cross.size == 0:
            break
        fixed[cross] = True
    return d


@dataclass
class _State:
    """The iterate: weights of all locations, noise and cost history."""

    w: np.ndarray
    gamma: float
    sig: object
    cost: list
    n_attempts: int = 0
    n_newton: int = 0
    n_mm: int = 0
    n_evals: int = 0
    damping: float = 0.0
    last_change: float = 0.0  # of the last accepted step
    # the last pass: largest rho_i over inactive locations, |rho_i - 1| over
    # active ones
    parts: tuple = (float("nan"), float("nan"))

    @property
    def f(self):
        return self.cost[-1]

    def accept(self, w, gamma, sig, f):
        """Move to a point of lower cost (one iteration)."""
        self.last_change = abs(self.f - f) / max(abs(f), np.finfo(float).tiny)
        self.w, self.gamma, self.sig = w, gamma, sig
        self.cost.append(f)


def _prune(prob, w, gamma, prune_tol):
    """Zero the weights whose variance is negligible next to the noise."""
    w[w * prob.loc_norms2 <= prune_tol * gamma * prob.noise_floor] = 0.0
    return w


def _try(prob, st, w, gamma, prune_tol):
    """Cost at a trial point: ``(f, sig, w)``."""
    w = _prune(prob, w, gamma, prune_tol)
    sig = prob.sigma(w, gamma)
    st.n_evals += 1
    return prob.cost(sig, w), sig, w


def _newton_step(prob, st, W, T, B, rho, z, pg, prune_tol, max_cols):
    """One projected-Newton step on the working set ``W``; False if none.

    ``pg`` is the penalty's derivative on ``W`` (the gradient is ``pg (1 -
    rho)``)."""
    o = prob.n_orient
    w_W = st.w[W]
    active = w_W > 0
    g = pg * (1.0 - rho)
    # epsilon-active set: nearly vanished weights pushed to zero go there
    bind = active & (g > 0) & (w_W * z / o < _BIND_FRACTION)
    if prob.penalty.logdet:
        bind |= active & (rho < _BIND_RHO)
    target = np.zeros(W.size)
    if not prob.penalty.logdet:
        # a concave separable penalty pulls a decaying weight down ever
        # harder (log w): its Newton model is poor there and took one step
        # per tenth of a decade, while the MM step shrinks it
        # geometrically (the autoencoder's quadratically). Such weights take
        # the MM step, the others the Newton step.
        follow = active & ~bind & (rho < _FOLLOW)
        if follow.any():
            target[follow] = prob.penalty.mm_update(
                prob, w_W[follow], rho[follow], rho[follow] * pg[follow])
            bind = bind | follow
    damping = st.damping
    moved = _newton_try(prob, st, W, T, B, rho, z, g, bind, prune_tol, max_cols,
                        target)
    if moved is None and bind.any():
        st.damping = damping
        # a small weight can still have its optimum above zero (a positive
        # evidence): zeroing it then raises the cost whatever the damping;
        # measured on warm starts from another noise level (2000 MM steps
        # without this retry)
        moved = _newton_try(prob, st, W, T, B, rho, z, g, np.zeros_like(bind),
                            prune_tol, max_cols)
    return moved


def _newton_try(prob, st, W, T, B, rho, z, g, bind, prune_tol, max_cols,
                target=None):
    """The Newton step with the locations ``bind`` set to ``target`` (zero
    by default)."""
    o, n = prob.n_orient, prob.n_times
    w_W = st.w[W]
    active = w_W > 0
    free = np.flatnonzero(active & ~bind)
    if free.size * o > max_cols:
        return None  # too many free locations for a dense Hessian
    # inactive locations whose gradient pulls them in, the strongest first,
    # as many as the Hessian holds
    enter = np.flatnonzero(~active & (rho > 1.0))
    enter = enter[np.argsort(-rho[enter])][: max_cols // o - free.size]
    free = np.sort(np.concatenate([free, enter]))
    if free.size == 0 and not bind.any():
        return False
    fc = _cols(free, o)
    pen = prob.penalty
    H = st.sig.hessian(prob.G[:, _cols(W[free], o)], _take(T, fc), B[fc],
                       n if pen.logdet else 0.0, o)
    g_F, w_F = g[free], w_W[free]
    if not pen.logdet:  # a separable penalty adds its diagonal
        H.flat[:: free.size + 1] += pen.hess(prob, W[free], w_F)
    # Levenberg-Marquardt: the damping grows after a step that does not lower
    # the cost and shrinks after one that does
    lam = st.damping
    for _ in range(_LM_TRIES):
        d = np.zeros(W.size)
        dF = _bounded_newton(H, g_F, w_F, lam)
        if dF is None:
            return None
        d[free] = dF
        d[bind] = (0.0 if target is None else target[bind]) - w_W[bind]
        w = st.w.copy()
        w[W] = np.maximum(w_W + d, 0.0)
        f, sig, w = _try(prob, st, w, st.gamma, prune_tol)
        if f <= st.f:
            st.accept(w, st.gamma, sig, f)
            st.n_newton += 1
            st.damping = 0.0 if lam <= 1e-3 else lam / 10.0
            return True
        if abs(float(g_F @ dF)) < 1e-15 * abs(st.f):
            break  # no decrease left above rounding
        lam = min(max(10.0 * lam, 1e-3), 1e8)
    st.damping = lam
    return None


def _mm_step(prob, st, W, rho, a2, prune_tol):
    """The penalty's MM steps in turn (cost (18): MacKay's ``w rho``, then
    the convex-bounding ``w sqrt(rho)``, which cannot raise the cost); the
    first that does not raise the cost is taken."""
    for w_new in prob.penalty.mm_steps(prob, W, st.w[W], rho, a2):
        w = st.w.copy()
        w[W] = w_new
        f, sig, w = _try(prob, st, w, st.gamma, prune_tol)
        if f <= st.f:
            st.accept(w, st.gamma, sig, f)
            st.n_mm += 1
            return True
    return False


def _enter(prob, st, locs, w_single, prune_tol):
    """Bring locations in at a common fraction of their single-location optima.

    ``(rho_i - 1) / z_i`` is where cost (18) is lowest when location ``i``
    alone enters (exact with one column per location). Newton from ``w_i =
    0`` undershoots it by about ``2 rho_i - 1``; entering together they
    overshoot, hence the backtracking on a common fraction.
    """
    if locs.size == 0:
        return
    st.n_attempts += 1
    t = 1.0
    for _ in range(_ENTRY_TRIES):
        w = st.w.copy()
        w[locs] = t * w_single
        f, sig, w = _try(prob, st, w, st.gamma, prune_tol)
        if f < st.f:
            st.accept(w, st.gamma, sig, f)
            return
        t *= 0.25


def _best_gamma(prob, st):
    """Exact minimiser of cost (18) over gamma at the current weights.

    With ``G_A W G_A^T = V diag(lam) V^T`` and ``c = ||V^T Q||^2`` (rows),
    ``L(gamma) = sum c_j / (lam_j + gamma) + n sum log(lam_j + gamma)``,
    whose derivative in ``log gamma`` is bisected.
    """
    active = np.flatnonzero(st.w)
    G_A = prob.G[:, prob.cols(active)] * np.sqrt(
        _expand(st.w[active], prob.n_orient))
    lam, V = np.linalg.eigh(G_A @ G_A.T)
    lam = np.maximum(lam, 0.0)
    c = np.sum((V.T @ prob.Q) ** 2, axis=1)
    n = prob.n_times

    def slope(log_g):  # dL / dlog(gamma)
        g = np.exp(log_g)
        return g * np.sum(-c / (lam + g) ** 2 + n / (lam + g))

    lo = hi = np.log(st.gamma)
    while slope(lo) > 0 and lo > -700:
        lo -= 2.0
    while slope(hi) < 0 and hi < 700:
        hi += 2.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
    return float(np.exp(0.5 * (lo + hi)))


def _update_gamma(prob, st, prune_tol):
    gamma = _best_gamma(prob, st)
    f, sig, w = _try(prob, st, st.w.copy(), gamma, prune_tol)
    if f <= st.f:
        st.accept(w, gamma, sig, f)


def _gamma_violation(prob, sig, gamma):
    """``|rho_gamma - 1|``: the noise seen as ``n_sensors`` identity columns."""
    SQ = sig.solve(prob.Q)
    tr_inv = float(np.sum(sig.Linv**2))
    if isinstance(sig, _SpanSigma):
        tr_inv += (prob.n_sensors - sig.Linv.shape[0]) / gamma
    return abs(float(np.sum(SQ**2)) / prob.n_times / tr_inv - 1.0)


def _inner(prob, st, W, *, tol, inner_tol, prune_tol, max_iter, max_cols):
    """Converge on the working set ``W``; returns the number of steps."""
    o = prob.n_orient
    n_steps = 0
    # MacKay steps are cheaper than Newton's and prune fast far from the
    # optimum; Newton takes over once they slow down
    mm_phase = True
    while st.n_attempts < max_iter:
        separable = not prob.penalty.logdet
        if separable:
            # a separable penalty's pruned locations stay out until the next
            # pass (the autoencoder's for good): only the active ones are
            # worth a column of the stats
            W = W[st.w[W] > 0]
        if separable and mm_phase:
            # its MM steps need only ||B_i||^2: G_W^T (Sigma^-1 Q) costs a
            # tenth of the whitened columns while most locations are active
            a2, z, B, T = _data_norms(prob, st.sig, W), None, None, None
        else:
            z, a2, B, T = _loc_stats(prob, st.sig, _cols(W, o))
        pg = prob.penalty.grad(prob, W, st.w[W], z)
        rho = a2 / pg
        viol = _violation(rho, st.w[W] > 0)
        if viol.max(initial=0.0) <= inner_tol and st.last_change <= tol:
            break
        st.n_attempts += 1
        f0 = st.f
        if mm_phase:
            moved = _mm_step(prob, st, W, rho, a2, prune_tol)
            mm_phase = moved and f0 - st.f > _MM_PHASE * abs(st.f)
            if not moved:
                continue  # Newton next
        else:
            moved = _newton_step(prob, st, W, T, B, rho, z, pg, prune_tol,
                                 max_cols)
            if moved is False:
                st.last_change = 0.0
                break  # nothing free: stationary on W
            if moved is None and not _mm_step(prob, st, W, rho, a2,
                                              prune_tol):
                # neither Newton nor MM lowers the cost above rounding: the
                # cost no longer changes
                st.last_change = 0.0
                break
        n_steps += 1
    return n_steps


def _start(prob, gamma, usable, max_cols):
    """Starting weights: equal weights matching the data power.

    On small problems every location starts there (as the MM updates do);
    on large ones only the ``n_sensors / 2`` columns whose locations explain
    the data best at ``Sigma = gamma I`` (largest MacKay ratio), so that the
    working set starts small. The separable penalties (cost (50), eq. 8)
    always start on every location, as their MM engine does: their bad
    local minima make the minimum reached depend on the start.
    """
    o = prob.n_orient
    w = np.zeros(prob.loc_norms2.size)
    locs = np.flatnonzero(usable)
    n_passes = 0
    if locs.size * o > 2 * max_cols and prob.penalty.logdet:
        n_passes = 1
        rho, _ = _ratios(prob, prob.sigma(w, gamma), locs)
        keep = rho > 1.0
        locs = locs[keep][np.argsort(-rho[keep])[: max(1, prob.n_sensors // (2 * o))]]
    data_power = float(np.sum(prob.Q**2)) / prob.n_times
    if locs.size and data_power > 0:
        w[locs] = data_power / float(np.sum(prob.loc_norms2[locs]))
    return w, n_passes


def _solve_weights(prob, st, *, tol, kkt_tol, prune_tol, max_iter, max_cols,
                   name):
    """Minimise over the weights at fixed gamma: full passes (the certificate
    and the locations that want in) alternate with solves on a working set.

    Returns ``(kkt, converged, n_passes, n_added)``.
    """
    usable_locs = np.flatnonzero(prob.loc_norms2 > 0)
    n_grow = max(1, prob.n_sensors // (2 * prob.n_orient))  # fewest added
    n_passes = n_added = 0
    if np.all(st.w[usable_locs] > 0):
        # every location starts in the working set (small problems, the
        # separable penalties): a first pass would only say so; solve to
        # kkt_tol at once
        _inner(prob, st, usable_locs, tol=tol, inner_tol=kkt_tol,
               prune_tol=prune_tol, max_iter=max_iter, max_cols=max_cols)
    # selection passes in single precision on large problems, while far
    # from stationary; the certificate is a pass in double precision. Not
    # for the separable penalties: which locations a pass lets in decides
    # which of their minima is reached
    large = prob.penalty.logdet and usable_locs.size * prob.n_orient > 2 * max_cols
    kkt = np.inf
    while True:
        single = (large and kkt > max(_SINGLE_ABOVE, kkt_tol)
                  and prob.single(st.sig))
        kkt, rho, z = _certificate(prob, st.sig, st.w, st.gamma, single=single)
        n_passes += 1
        if single and (kkt <= max(_SINGLE_ABOVE, kkt_tol)
                       or st.n_attempts >= max_iter):
            # close to stationary (or stopping): the pass that may certify,
            # and the violation reported, in double
            kkt, rho, z = _certificate(prob, st.sig, st.w, st.gamma)
            n_passes += 1
            single = False
        st.parts = _parts(rho, st.w[usable_locs] > 0)
        if kkt <= kkt_tol and st.last_change <= tol:
            return kkt, True, n_passes, n_added
        if st.n_attempts >= max_iter:
            return kkt, False, n_passes, n_added
        active = st.w[usable_locs] > 0
        wants_in = np.flatnonzero(~active & (rho > 1.0 + kkt_tol))
        wants_in = wants_in[np.argsort(-rho[wants_in])]
        wants_in = wants_in[: max(n_grow, int(_GROWTH * active.sum()))]
        grow = usable_locs[wants_in]
        before = (len(st.cost), st.f)
        _enter(prob, st, grow,
               prob.penalty.entry(prob, grow, rho[wants_in], z[wants_in]),
               prune_tol)
        n_added += grow.size
        W = np.union1d(usable_locs[active], grow)
        # inexact solves while the working set is far from complete
        n_steps = _inner(
            prob, st, W, tol=tol, inner_tol=max(kkt_tol, _INNER_FRACTION * kkt),
            prune_tol=prune_tol, max_iter=max_iter, max_cols=max_cols,
        )
        logger.debug(
            "%s: pass %d, %d in working set (%d new), %d active, cost %.10g, "
            "KKT %.2e, %d steps", name, n_passes, W.size, grow.size,
            np.count_nonzero(st.w), st.f, kkt, n_steps,
        )
        if (len(st.cost), st.f) == before:
            if single:
                # the violations of a single-precision pass can be its own
                # rounding (an ill-conditioned Sigma: measured 1e-2 on a
                # template problem); only passes in double from here
                large = False
                continue
            # no descent left above rounding: cannot certify. The separable
            # penalties stop there as their MM engine does (on the cost
            # change alone): with weights of 1e8 times the noise (the
            # autoencoder's, on real data) the rounding of the cost hides
            # violations of 1e-5, whose descent would be about 1e-14 of it
            return kkt, not prob.penalty.logdet, n_passes, n_added


def _newton_solve(M, G, Q, *, n_orient, gamma, learn_gamma, max_iter, tol,
                  kkt_tol, prune_tol, weights_init, name, n_times=None,
                  penalty=None):
    """Minimise cost (18); returns the same dict as :func:`._mm._mm_solve`.

    ``n_times`` is the ``n`` of cost (18) (default ``M.shape[1]``; more when
    ``M`` is a thin factor standing for many responses). ``penalty``: a
    :class:`_Separable` penalty instead of ``n log|Sigma|`` (cost (50) of the
    diagonal VAE, eq. 8 of the autoencoder; fixed ``gamma``).

    With ``learn_gamma``, exact minimisations over ``gamma``
    (:func:`_best_gamma`) alternate with certified solves over the weights
    until both are stationary: a joint Newton step on ``(w, gamma)`` was
    measured to stall on problems where noise-fitting weights and ``gamma``
    trade off (8 of 10 random problems not certified).
    """
    prob = _Problem(G, Q, M.shape[1] if n_times is None else n_times,
                    n_orient, penalty)
    st, kkt, converged, n_passes, n_added = _minimise(
        prob, gamma=gamma, learn_gamma=learn_gamma, max_iter=max_iter, tol=tol,
        kkt_tol=kkt_tol, prune_tol=prune_tol, weights_init=weights_init,
        name=name,
    )
    active = np.flatnonzero(st.w)
    cols = prob.cols(active)
    w_cols = _expand(st.w[active], n_orient)
    X = np.zeros((G.shape[1], M.shape[1]))
    if active.size:
        SinvG = st.sig.solve_span(G[:, cols])
        X[cols] = w_cols[:, None] * (SinvG.T @ M)
    else:
        SinvG = np.zeros((prob.n_sensors, 0))
    return dict(
        X=X, w=st.w, cols=cols, w_cols=w_cols, G_A=G[:, cols], SinvG=SinvG,
        gamma=st.gamma, **_report(st, kkt, converged, n_passes, n_added),
    )


def _report(st, kkt, converged, n_passes, n_added):
    """The history and certificate of a solve."""
    return dict(
        cost=np.asarray(st.cost), n_iter=len(st.cost) - 1,
        converged=converged, n_rejected=0, n_added=n_added,
        kkt_violation=kkt, max_rho_inactive=st.parts[0],
        max_active_violation=st.parts[1], rel_change=st.last_change,
        n_passes=n_passes, n_newton=st.n_newton, n_mm=st.n_mm, n_evals=st.n_evals,
    )


def _joint_newton_solve(Ms, G, Qs, *, n_each, scales, n_orient, gamma,
                        max_iter, tol, kkt_tol, prune_tol, weights_init, name):
    """Minimise the joint cost of responses with noise ``gamma * scales[c]``
    (see :class:`_JointProblem`).

    Returns the dict of :func:`_newton_solve` without ``X`` and ``SinvG``,
    with per response ``X_c`` (``"Xs"``), ``Sigma_c^-1 G_A`` (``"SinvGs"``)
    and its term of the joint cost (``"terms"``).
    """
    prob = _JointProblem(G, Qs, n_each, scales, n_orient)
    st, kkt, converged, n_passes, n_added = _minimise(
        prob, gamma=gamma, learn_gamma=False, max_iter=max_iter, tol=tol,
        kkt_tol=kkt_tol, prune_tol=prune_tol, weights_init=weights_init,
        name=name,
    )
    active = np.flatnonzero(st.w)
    cols = prob.cols(active)
    w_cols = _expand(st.w[active], n_orient)
    Xs, SinvGs = [], []
    for sig, M in zip(st.sig.sigs, Ms):
        X = np.zeros((G.shape[1], M.shape[1]))
        if active.size:
            SinvG = sig.solve_span(G[:, cols])
            X[cols] = w_cols[:, None] * (SinvG.T @ M)
        else:
            SinvG = np.zeros((prob.n_sensors, 0))
        Xs.append(X)
        SinvGs.append(SinvG)
    return dict(
        Xs=Xs, SinvGs=SinvGs, terms=st.sig.terms, w=st.w, cols=cols,
        w_cols=w_cols, G_A=G[:, cols], gamma=st.gamma,
        **_report(st, kkt, converged, n_passes, n_added),
    )


def _minimise(prob, *, gamma, learn_gamma, max_iter, tol, kkt_tol, prune_tol,
              weights_init, name):
    """The engine on a problem: ``(state, kkt, converged, n_passes,
    n_added)``."""
    usable = prob.loc_norms2 > 0
    # the Hessian of the free locations stays below this many columns
    max_cols = max(4 * prob.n_sensors, 512)

    n_passes = 0
    if weights_init is None:
        w, n_passes = _start(prob, gamma, usable, max_cols)
    else:
        w = np.where(usable, weights_init, 0.0)
    w = _prune(prob, w, gamma, prune_tol)
    sig = prob.sigma(w, gamma)
    st = _State(w=w, gamma=gamma, sig=sig, cost=[prob.cost(sig, w)])
    n_added = 0
    while True:
        kkt, converged, passes, added = _solve_weights(
            prob, st, tol=tol, kkt_tol=kkt_tol, prune_tol=prune_tol,
            max_iter=max_iter, max_cols=max_cols, name=name,
        )
        n_passes, n_added = n_passes + passes, n_added + added
        if not learn_gamma:
            break
        kkt = max(kkt, _gamma_violation(prob, st.sig, st.gamma))
        converged = converged and kkt <= kkt_tol
        if converged or st.n_attempts >= max_iter:
            break
        before = st.f
        st.n_attempts += 1
        _update_gamma(prob, st, prune_tol)
        logger.debug("%s: gamma %.6g, cost %.10g", name, st.gamma, st.f)
        if st.f == before:
            break  # gamma is optimal already: the weights cannot be certified

    if not converged:
        warn(
            f"{name} did not reach a certified stationary point after "
            f"{len(st.cost) - 1} iterations: largest stationarity violation "
            f"{kkt:.2e} (kkt_tol {kkt_tol:.2e}), relative cost change "
            f"{st.last_change:.2e} (tol {tol:.2e}).",
            ConvergenceWarning,
        )
    return st, kkt, converged, n_passes, n_added





def _certificate(prob, sig, w, gamma, learn_gamma=False, single=False):
    """Largest stationarity violation over all locations (one full pass;
    ``single``: a selection pass in single precision, not a certificate)."""
    locs = np.flatnonzero(prob.loc_norms2 > 0)
    rho, z = _ratios(prob, sig, locs, w, single)
    viol = _violation(rho, w[locs] > 0)
    kkt = float(viol.max(initial=0.0))
    if learn_gamma:
        kkt = max(kkt, _gamma_violation(prob, sig, gamma))
    return kkt, rho, z


def _parts(rho, active):
    """(largest rho over inactive locations, largest |rho - 1| over active)."""
    return (float(rho[~active].max(initial=0.0)),
            float(np.abs(rho[active] - 1.0).max(initial=0.0)))


def _kkt_violation(G, Q, n_times, n_orient, w, gamma, learn_gamma=False):
    """The certificate of any weights (used for the MM engines' results):
    ``(largest violation, largest rho inactive, largest |rho - 1| active)``."""
    prob = _Problem(G, Q, n_times, n_orient)
    kkt, rho, _ = _certificate(prob, prob.sigma(w, gamma), w, gamma, learn_gamma)
    usable = prob.loc_norms2 > 0
    return (kkt, *_parts(rho, w[usable] > 0))

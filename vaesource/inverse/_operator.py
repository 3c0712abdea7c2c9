"""The prepared inverse: what the solve needs from the forward and covariance.

A :class:`VAEOperator` is to :func:`vaesource.apply_vae_operator` what MNE's
inverse operator is to :func:`mne.minimum_norm.apply_inverse`: it is made
once per forward model and noise covariance and applied to any number of
evoked responses, conditions or epochs recorded with the same channels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._docs import fill_doc
from .. import _mne_compat
from ..utils import _blas_single_thread, _validate_type, logger, use_log_level


@dataclass(frozen=True, repr=False)
class VAEOperator:
    """A prepared VAE inverse (forward model and noise covariance).

    Made by :func:`make_vae_operator`; applied by
    :func:`vaesource.apply_vae_operator` and
    :func:`vaesource.apply_vae_operator_epochs`. It holds no data and is
    picklable, so it can be sent to the workers of a cluster.

    Attributes
    ----------
    lead_field : vaesource.forward.LeadField
        The whitened, orientation-constrained, depth-weighted gain with
        the noise covariance of single trials (as given): its ``whitener``,
        ``G``, ``source_weighting``, channels, source space and the forward
        and info restricted to the channels used. The gain ``G`` does not
        depend on the number of averaged trials (MNE's preparation scales
        it to ``||G||_F^2 = rank``); the whitener of an average of ``nave``
        trials is ``sqrt(nave)`` times this one (:meth:`lead_field_for`).
    loose : float | dict
        Orientation prior, as given.
    depth : float | dict | None
        Depth weighting, as given.
    rank : dict | str | None
        Rank of the noise covariance, as given.
    projs : list of mne.Projection
        The SSP projectors of the measurement info the operator was made
        for; an evoked response must carry the same ones.
    """

    lead_field: object
    loose: object
    depth: object
    rank: object
    projs: list

    @property
    def ch_names(self) -> list:
        """Channels used, in the order of the whitener's columns."""
        return self.lead_field.ch_names

    @property
    def n_orient(self) -> int:
        """Orientations per location: 1 (fixed) or 3 (free / loose)."""
        return self.lead_field.n_orient

    @property
    def n_sources(self) -> int:
        """Number of source locations."""
        return self.lead_field.n_sources

    def lead_field_for(self, nave):
        """The lead field of an average of ``nave`` trials.

        Parameters
        ----------
        nave : float
            Number of averaged trials (> 0).

        Returns
        -------
        lead_field : vaesource.forward.LeadField
            The same gain; the whitener scaled by ``sqrt(nave)`` and the
            source weighting by ``1 / sqrt(nave)`` (the noise covariance of
            the average is ``noise_cov / nave``), so that the whitened
            noise of the average has unit variance, exactly as preparing
            ``noise_cov / nave`` gives (MNE's preparation, to rounding).
        """
        if nave == 1:
            return self.lead_field
        s = float(np.sqrt(nave))
        lf = self.lead_field
        return dataclasses.replace(
            lf, whitener=lf.whitener * s, source_weighting=lf.source_weighting / s,
        )

    def __repr__(self) -> str:
        lf = self.lead_field
        import mne

        types = {}
        for i in range(lf.n_channels):
            kind = mne.channel_type(lf.info, i)
            types[kind] = types.get(kind, 0) + 1
        chans = ", ".join(f"{n} {k}" for k, n in sorted(types.items()))
        kind = {1: "fixed", 3: "free/loose"}[lf.n_orient]
        src = lf.forward["src"].kind
        depth = "none" if self.depth is None else self.depth
        return (
            f"<VAEOperator | {lf.n_channels} channels ({chans}), noise rank "
            f"{lf.rank}, {lf.n_sources} {src} locations x {lf.n_orient} "
            f"({kind} orientation, loose={self.loose!r}), depth={depth!r}, "
            f"{len(self.projs)} projector(s)>"
        )


@fill_doc
def make_vae_operator(
    info,
    forward,
    noise_cov,
    *,
    loose: float | Literal["auto"] = "auto",
    depth: float | dict | None = 0.8,
    rank: dict | Literal["info", "full"] | None = None,
    verbose: bool | str | int | None = None,
) -> VAEOperator:
    """Prepare the VAE inverse of a forward model and a noise covariance.

    Everything the solve needs that depends only on the forward and the
    covariance is computed here, once: the channels used (the good data
    channels of ``info`` that the forward models), the whitener with the
    SSP projectors and the rank of the covariance, the orientation and
    depth priors and the whitened, depth-weighted gain. This is the
    preparation of MNE's sparse solvers (``mixed_norm``, ``gamma_map``),
    computed with one eigendecomposition of the covariance.

    Parameters
    ----------
    info : mne.Info | mne.Evoked | mne.Epochs
        Measurement info of the data to localize (or an object with one):
        its channels, bad channels and projectors.
    forward : mne.Forward
        Forward solution in head coordinates, with free orientation when
        ``loose > 0``.
    noise_cov : mne.Covariance
        Noise covariance of single trials (as :func:`mne.compute_covariance`
        returns it). Each evoked response is whitened with ``noise_cov /
        nave``, its own number of averaged trials.
    %(loose)s
    %(depth)s
    %(rank)s
    %(verbose)s

    Returns
    -------
    operator : VAEOperator
        Picklable; apply it with :func:`vaesource.apply_vae_operator` or
        :func:`vaesource.apply_vae_operator_epochs`.

    Raises
    ------
    TypeError
        For an argument of a wrong type.
    ValueError
        For a forward not in head coordinates, no channel in common between
        the info and the forward, every shared channel bad, or channels
        missing from the forward or the covariance.

    See Also
    --------
    vaesource.apply_vae_operator, vaesource.apply_vae_inverse
    """
    import mne

    from ..forward import leadfield_from_forward

    if not isinstance(info, mne.Info):
        _validate_type(getattr(info, "info", None), mne.Info, "info",
                       "an mne.Info or have an 'info' attribute")
        info = info.info
    _validate_type(forward, mne.Forward, "forward")
    _validate_type(noise_cov, mne.Covariance, "noise_cov")
    with use_log_level(verbose), _blas_single_thread():
        _check_forward_and_channels(info, forward, noise_cov)
        lf = leadfield_from_forward(
            forward, info, noise_cov, loose=loose, depth=depth, rank=rank,
            verbose=verbose,
        )
        logger.info("Prepared %r", lf)
    return VAEOperator(
        lead_field=lf, loose=loose, depth=depth, rank=rank,
        projs=list(lf.info["projs"]),
    )


def _check_forward_and_channels(info, forward, noise_cov):
    """The checks of the forward and the channels, with clear messages."""
    import mne
    from mne.io.constants import FIFF

    if forward["coord_frame"] != FIFF.FIFFV_COORD_HEAD:
        frame = _mne_compat.frame_name(forward["coord_frame"])
        raise ValueError(
            "The forward solution must be in head coordinates, but its "
            f"coordinate frame is {frame!r}. Compute it with "
            "mne.make_forward_solution (which works in head coordinates)."
        )
    fwd_names = set(forward["sol"]["row_names"])
    data_picks = mne.pick_types(
        info, meg=True, eeg=True, seeg=True, ecog=True, dbs=True, exclude=(),
    )
    data_names = [info["ch_names"][p] for p in data_picks]
    common = [c for c in data_names if c in fwd_names]
    if not common:
        raise ValueError(
            "The evoked data and the forward solution have no channel in "
            f"common (evoked: {data_names[:3]}..., forward: "
            f"{forward['sol']['row_names'][:3]}...)."
        )
    bads = set(info["bads"]) | set(noise_cov["bads"])
    if all(c in bads for c in common):
        raise ValueError(
            f"All {len(common)} channels shared by the evoked data and the "
            "forward solution are marked bad (in evoked.info['bads'] or "
            "noise_cov['bads'])."
        )


def check_data_matches(inst, operator, what="evoked"):
    """Raise if ``inst`` lacks a channel of ``operator`` or its projectors differ.

    Parameters
    ----------
    inst : mne.Evoked | mne.Epochs
        The data.
    operator : VAEOperator
        The operator it is applied with.
    what : str
        Name of the data in the messages.

    Returns
    -------
    picks : list of int
        Indices of the operator's channels in ``inst``, in its order.
    """
    ch_names = operator.ch_names
    index = {c: i for i, c in enumerate(inst.ch_names)}
    missing = [c for c in ch_names if c not in index]
    if missing:
        raise ValueError(
            f"The {what} lacks {len(missing)} channel(s) of the operator, e.g. "
            f"{missing[:5]}: the operator was made for other channels. Make "
            f"it with this {what}'s info (vaesource.make_vae_operator)."
        )
    bad = [c for c in ch_names if c in set(inst.info["bads"])]
    if bad:
        raise ValueError(
            f"The {what} marks {len(bad)} channel(s) bad that the operator "
            f"uses, e.g. {bad[:5]}. Make the operator with this {what}'s "
            "info (vaesource.make_vae_operator)."
        )
    mine = _proj_keys(inst.info["projs"], ch_names)
    theirs = _proj_keys(operator.projs, ch_names)
    if mine != theirs:
        only_data = sorted(d for d, _ in mine - theirs)
        only_op = sorted(d for d, _ in theirs - mine)
        raise ValueError(
            f"The {what}'s SSP projectors differ from the operator's: "
            f"only in the {what}: {only_data or 'none'}; only in the "
            f"operator: {only_op or 'none'}. Make the operator with this "
            f"{what}'s info (vaesource.make_vae_operator)."
        )
    return [index[c] for c in ch_names]


def _proj_keys(projs, ch_names):
    """Each projector as (description, its vectors on ``ch_names``, rounded)."""
    keys = set()
    for p in projs:
        data = p["data"]
        names = list(data["col_names"])
        sel = [names.index(c) for c in ch_names if c in names]
        vec = np.round(np.asarray(data["data"])[:, sel], 10)
        keys.add((p["desc"], vec.tobytes()))
    return keys

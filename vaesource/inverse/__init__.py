"""VAE source localization on MNE objects (evoked, forward, noise covariance).

The inverse is made in MNE's three steps:

1. **prepare** (:func:`make_vae_operator`): everything that depends only on
   the forward model and the noise covariance, computed once: the whitener
   (projections, bad channels, rank), the orientation and depth priors and
   the whitened, depth-weighted gain (the preparation of MNE's sparse
   solvers), held by a picklable :class:`VAEOperator`;
2. **solve** (:func:`apply_vae_operator`): whiten one evoked response, or
   several conditions sharing one support, and minimise cost (18) with an
   array kernel of :mod:`vaesource.solvers`;
3. **make the estimate**: pack the row-sparse solution into a
   :class:`mne.SourceEstimate`, :class:`mne.VectorSourceEstimate`,
   :class:`mne.VolSourceEstimate` or a list of :class:`mne.Dipole`.

:func:`apply_vae_inverse` is steps 1-3 in one call, as
:func:`mne.inverse_sparse.gamma_map` is; :func:`apply_vae_operator_epochs`
localizes epochs, with one support shared by all of them or one per epoch.
"""

from ..utils import scale_noise_cov
from ._apply import (
    LEARN_NOISE,
    MODELS,
    _check_inputs,
    _parse_min_evidence,
    apply_vae_inverse,
    apply_vae_operator,
    result_to_dipoles,
)
from ._epochs import apply_vae_operator_epochs
from ._operator import VAEOperator, make_vae_operator

# the public names (also in vaesource's namespace); the others are
# importable from here for the commands' back-ends
__all__ = [
    "VAEOperator",
    "apply_vae_inverse",
    "apply_vae_operator",
    "apply_vae_operator_epochs",
    "make_vae_operator",
]

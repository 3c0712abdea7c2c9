"""Forward models: the built-in Sarvas MEG sphere model and lead fields.

- :func:`sarvas_field`: vectorised Sarvas (1987) field of current dipoles in
  a spherically symmetric conductor, for point magnetometers and real coils
  (:func:`meg_coils` gives MNE's coil integration points for an info);
- :func:`make_sphere_forward`: an :class:`mne.Forward` for the MEG channels of
  an :class:`mne.Info` built with it (a fast drop-in for
  :func:`mne.make_forward_solution` with a MEG sphere model);
- :func:`leadfield_from_forward`: the whitened, depth-weighted gain matrix of
  an :class:`mne.Forward`, with what is needed to map it back
  (:class:`LeadField`);
- :func:`meg_dictionary`: the 100 x 200 MEG lead field of the paper's ``meg``
  benchmark setting, on the embedded template head
  (:func:`vaesource.datasets.template`).
"""

from .dictionary import DictionaryGeometry, meg_dictionary
from .leadfield import LeadField, leadfield_from_forward
from .sarvas import MEGCoils, coil_gain, make_sphere_forward, meg_coils, sarvas_field

__all__ = [
    "DictionaryGeometry",
    "LeadField",
    "MEGCoils",
    "coil_gain",
    "leadfield_from_forward",
    "make_sphere_forward",
    "meg_coils",
    "meg_dictionary",
    "sarvas_field",
]

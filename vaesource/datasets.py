"""Offline datasets: the embedded template head.

:func:`template` assembles an MEG/EEG head model entirely from files shipped
inside installed packages (nilearn's fsaverage5 cortex, MNE-Python's
fsaverage head frame, VectorView helmet, coil definitions and EEG montage; see
:mod:`vaesource.forward.template`, where it is built and cached), so examples,
tutorials and benchmarks run without a network or a FreeSurfer subject. The
result is cached on disk and loads in well under a second afterwards.
"""

from .forward.template import Template, cache_path, template

__all__ = ["Template", "cache_path", "template"]

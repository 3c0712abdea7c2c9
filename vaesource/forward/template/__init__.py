"""The embedded template head: fsaverage5 cortex in a VectorView helmet.

One home for the template: ``_geometry`` computes its pieces (surfaces,
source spaces, sensors, sphere model, forward) from files shipped inside
installed packages; ``_head`` assembles them into a :class:`Template` and
caches it on disk (:func:`cache_path`). :mod:`vaesource.datasets` is the
public door to the same names.
"""

from ._head import Template, cache_path, template

__all__ = ["Template", "cache_path", "template"]

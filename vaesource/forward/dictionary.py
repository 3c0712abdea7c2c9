"""The MEG lead-field dictionary of the paper's ``meg`` benchmark setting.

Section 5.1 / appendix A of the paper replace the Gaussian dictionary by a
d = 100 sensors x kappa = 200 sources MEG lead field computed with Sarvas'
spherical model, whose columns are strongly correlated because neighbouring
sources project similar fields. :func:`meg_dictionary` builds it from the
embedded template head (:func:`vaesource.datasets.template`):

- sensors: the first ``n_sensors`` sites of the template's VectorView-like
  helmet (farthest-point order, so 100 sites cover the whole helmet evenly),
  each a VectorView magnetometer (coil ``VV_MAG_T3``, MNE's accurate
  integration) with the helmet's outward normal;
- sources: ``n_sources`` of the 5124 ico4 vertices of the fsaverage5 white
  surface, spread evenly over both hemispheres by farthest-point sampling
  (from the top-most vertex, or from a random vertex when ``seed`` is given),
  as current dipoles normal to the cortex;
- field: the built-in Sarvas model centred on the template's sphere; each
  column is scaled to unit l2 norm.

With these defaults the columns have a mutual coherence of about 0.98 and
every column has a neighbour with |correlation| of about 0.9 on average
(Gaussian dictionaries of the same size: 0.4 and 0.3), while the matrix keeps
full rank (condition number ~3e3). Sources in one contiguous cortical patch
would make it numerically rank-deficient (condition number ~1e10), i.e. a
problem no method can solve.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from ..utils import _check_int, _check_random_state, logger
from .sarvas import meg_coils, sarvas_field

# Bump when the geometry choices change.
_DICT_VERSION = 1
_SPACING = "ico4"
_MAX_SITES = 304  # vertices of MNE's VectorView helmet surface


@dataclass(frozen=True)
class DictionaryGeometry:
    """Where the rows and columns of :func:`meg_dictionary` come from.

    Attributes
    ----------
    source_index : array of int, shape (n_sources,)
        Index of each column's source among the template's ico4 sources
        (left hemisphere first; vertex ``source_index`` for lh, ``2562 +``
        vertex for rh).
    source_rr, source_nn : array, shape (n_sources, 3)
        Dipole positions (m) and orientations (cortical normals), head
        coordinates.
    sensor_rr, sensor_nn : array, shape (n_sensors, 3)
        Magnetometer centres (m) and normals, head coordinates.
    column_norms : array, shape (n_sources,)
        Norm of each column before scaling (T per A·m).
    origin : array, shape (3,)
        Centre of the sphere model (m).
    """

    source_index: np.ndarray
    source_rr: np.ndarray
    source_nn: np.ndarray
    sensor_rr: np.ndarray
    sensor_nn: np.ndarray
    column_norms: np.ndarray
    origin: np.ndarray


def meg_dictionary(
    n_sensors: int = 100,
    n_sources: int = 200,
    *,
    seed: int | np.random.Generator | None = None,
    cache_dir: str | os.PathLike | None = None,
    return_geometry: bool = False,
):
    """MEG lead field with unit-norm, strongly correlated columns.

    Parameters
    ----------
    n_sensors : int
        Number of magnetometers (rows), 1 to 304.
    n_sources : int
        Number of cortical dipoles (columns), 1 to 5124.
    seed : int | numpy.random.Generator | None
        None gives the fixed, documented dictionary (sources sampled from the
        top-most cortical vertex); otherwise the farthest-point sampling
        starts at a random vertex, giving a different but equally spread set
        of sources.
    cache_dir : path-like | None
        Cache folder of the template (see :func:`vaesource.datasets.template`).
    return_geometry : bool
        Also return the positions behind rows and columns.

    Returns
    -------
    G : array, shape (n_sensors, n_sources)
        Lead field, each column scaled to unit l2 norm.
    geometry : DictionaryGeometry
        Only if ``return_geometry`` is True.

    Notes
    -----
    The first call in a process loads (or builds, once) the template and its
    coil geometry; later calls only evaluate the Sarvas field for the chosen
    dipoles and take a few milliseconds. Results for integer or None seeds are
    memoised.
    """
    n_sensors = _check_int("n_sensors", n_sensors, min_value=1)
    n_sources = _check_int("n_sources", n_sources, min_value=1)
    if n_sensors > _MAX_SITES:
        raise ValueError(
            f"The 'n_sensors' parameter must be <= {_MAX_SITES} (vertices of the "
            f"VectorView helmet), got {n_sensors}."
        )
    if seed is None or isinstance(seed, (int, np.integer)):
        G, geometry = _cached_dictionary(
            n_sensors, n_sources, None if seed is None else int(seed), _key(cache_dir)
        )
        G = G.copy()
    else:
        G, geometry = _compute_dictionary(n_sensors, n_sources, seed, cache_dir)
    return (G, geometry) if return_geometry else G


def _key(cache_dir):
    return None if cache_dir is None else str(cache_dir)


@functools.lru_cache(maxsize=64)
def _cached_dictionary(n_sensors, n_sources, seed, cache_dir):
    G, geometry = _compute_dictionary(n_sensors, n_sources, seed, cache_dir)
    G.setflags(write=False)
    return G, geometry


def _compute_dictionary(n_sensors, n_sources, seed, cache_dir):
    from .template._geometry import _farthest_point_order

    geo = _geometry(_key(cache_dir))
    n_cand = len(geo["src_rr"])
    if n_sources > n_cand:
        raise ValueError(
            f"The 'n_sources' parameter must be <= {n_cand} (ico4 cortical "
            f"sources of the template), got {n_sources}."
        )
    if seed is None:
        start = int(np.argmax(geo["src_rr"][:, 2]))
    else:
        start = int(_check_random_state(seed).integers(n_cand))
    idx = _farthest_point_order(geo["src_rr"], n_sources, start)
    G = _candidate_gain(n_sensors, _key(cache_dir))[:, idx]
    norms = np.linalg.norm(G, axis=0)
    G /= norms
    geometry = DictionaryGeometry(
        source_index=idx,
        source_rr=geo["src_rr"][idx],
        source_nn=geo["src_nn"][idx],
        sensor_rr=geo["site_rr"][:n_sensors],
        sensor_nn=geo["site_nn"][:n_sensors],
        column_norms=norms,
        origin=geo["origin"],
    )
    return G, geometry


@functools.lru_cache(maxsize=4)
def _candidate_gain(n_sensors, cache_dir):
    """Sarvas gain of every candidate dipole (0.15 s once per process; a
    draw then takes its columns: each column is computed on its own, so they
    are the same to the last bit as a draw's own evaluation)."""
    geo = _geometry(cache_dir)
    in_use = geo["coil_index"] < n_sensors
    G = sarvas_field(
        geo["src_rr"],
        geo["src_nn"],
        geo["coil_rr"][in_use],
        geo["coil_nn"][in_use],
        origin=geo["origin"],
        coil_weights=geo["coil_weights"][in_use],
        coil_index=geo["coil_index"][in_use],
        n_coils=n_sensors,
    )
    G.setflags(write=False)
    return G


@functools.lru_cache(maxsize=4)
def _geometry(cache_dir):
    """Candidate sources and magnetometer coils, from a small cache file."""
    import mne

    from ..utils import _atomic_write
    from .template import _geometry as tgeo
    from .template import cache_path, template

    fname = cache_path(cache_dir) / (
        f"meg-dictionary-v{_DICT_VERSION}-mne{mne.__version__}.npz"
    )
    if fname.is_file():
        try:
            with np.load(fname) as npz:
                return {key: npz[key] for key in npz.files}
        except Exception as exc:  # corrupt file: rebuild
            logger.warning("Rebuilding %s (%s)", fname, exc)
    tmpl = template(_SPACING, sensors="meg", cache_dir=cache_dir)
    info = tmpl.info
    # magnetometers on all helmet sites (the template uses the first 102)
    meg = tgeo.make_meg_info(info["dev_head_t"], n_sites=_MAX_SITES)
    meg = mne.pick_info(meg, mne.pick_types(meg, meg="mag"))
    coils = meg_coils(meg)
    site_rr = np.array([ch["loc"][:3] for ch in meg["chs"]])
    site_nn = np.array([ch["loc"][9:12] for ch in meg["chs"]])
    dev_head = info["dev_head_t"]["trans"]
    geo = dict(
        src_rr=tmpl.source_rr,
        src_nn=tmpl.source_nn,
        origin=np.asarray(tmpl.sphere["r0"], float),
        coil_rr=coils.rr,
        coil_nn=coils.nn,
        coil_weights=coils.weights,
        coil_index=coils.index,
        site_rr=mne.transforms.apply_trans(dev_head, site_rr),
        site_nn=site_nn @ dev_head[:3, :3].T,
    )

    def write(tmp):
        with open(tmp, "wb") as fid:
            np.savez(fid, **geo)

    try:
        _atomic_write(fname, write)
    except OSError as exc:
        logger.warning("Could not cache %s (%s)", fname, exc)
    return geo

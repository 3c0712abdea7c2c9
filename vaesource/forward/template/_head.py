"""The template head: assembled from its geometry and cached on disk.

:func:`template` assembles an MEG/EEG head model entirely from files shipped
inside installed packages (nilearn's fsaverage5 cortex, MNE-Python's
fsaverage head frame, VectorView helmet, coil definitions and EEG montage;
the pieces are computed by ``_geometry``), so examples, tutorials and
benchmarks run without a network or a FreeSurfer subject. The result is
cached on disk and loads in well under a second afterwards.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..._docs import fill_doc
from ... import _mne_compat
from ...utils import _atomic_write, _check_option, logger, use_log_level
from . import _geometry as geo
from ._geometry import HEMIS, SPACINGS

# Bump when what is cached changes (geometry choices, file layout).
_CACHE_VERSION = 1
_SENSORS = ("meg", "eeg", "meg+eeg")
_SURFACE_KINDS = ("white", "pial", "inflated")


@dataclass(repr=False)
class Template:
    """The embedded template head: fsaverage5 cortex in a VectorView helmet.

    All coordinates are in the MNE head frame of fsaverage, in metres.

    Attributes
    ----------
    spacing : str
        Source spacing (``"ico3"``, ``"ico4"`` or ``"ico5"``).
    sensors : str
        ``"meg"``, ``"eeg"`` or ``"meg+eeg"``.
    info : mne.Info
        Channels: for MEG, 102 sites on MNE's VectorView helmet, each with a
        magnetometer and two orthogonal planar gradiometers (306 channels,
        VectorView coil definitions); for EEG, the 86 10-10 electrodes of
        ``standard_1020`` on the scalp of the sphere model, with an inactive
        average-reference projector.
    src : mne.SourceSpaces
        Two surface source spaces (lh, rh) on the white surface, in head
        coordinates (the same object as ``fwd["src"]``); vertex numbers are
        fsaverage's, so source estimates on it are valid ``"fsaverage"``
        source estimates.
    fwd : mne.Forward
        Free-orientation forward: MEG by the built-in Sarvas model, EEG by
        MNE's four-shell sphere model.
    sphere : mne.bem.ConductorModel
        The sphere model (centre fitted to fsaverage's inner skull).
    trans : mne.transforms.Transform
        fsaverage head -> MRI transform (MNE's ``fsaverage-trans.fif``).
    surfaces : dict
        ``surfaces[kind][hemi] = (rr, tris)`` for kind in ``"white"``,
        ``"pial"``, ``"inflated"`` (whole fsaverage5 meshes, 10242 vertices
        per hemisphere; the inflated one is for pictures only).
    sulc : dict
        ``sulc[hemi]``: sulcal depth per fsaverage5 vertex, for shading.
    scalp, inner_skull, helmet : tuple of (rr, tris)
        Surfaces for pictures (MNE's fsaverage scalp and inner skull, the
        VectorView helmet placed with ``info["dev_head_t"]``).
    """

    spacing: str
    sensors: str
    info: object
    src: object
    fwd: object
    sphere: object
    trans: object
    surfaces: dict
    sulc: dict
    scalp: tuple
    inner_skull: tuple
    helmet: tuple

    def __repr__(self) -> str:
        n_meg = self.fwd["info"].get_channel_types().count("mag")
        n_meg += self.fwd["info"].get_channel_types().count("grad")
        n_eeg = self.fwd["info"].get_channel_types().count("eeg")
        return (
            f"<Template | fsaverage5 {self.spacing}: {self.n_sources} sources, "
            f"{n_meg} MEG + {n_eeg} EEG channels>"
        )

    @property
    def vertices(self) -> list:
        """Source vertices per hemisphere, for :class:`mne.SourceEstimate`."""
        return [np.asarray(s["vertno"]) for s in self.src]

    @property
    def n_sources(self) -> int:
        """Number of source locations."""
        return int(sum(s["nuse"] for s in self.src))

    @property
    def source_rr(self) -> np.ndarray:
        """Source positions, shape (n_sources, 3), head coordinates (m)."""
        return np.concatenate([s["rr"][s["vertno"]] for s in self.src])

    @property
    def source_nn(self) -> np.ndarray:
        """Cortical normals at the sources, shape (n_sources, 3)."""
        return np.concatenate([s["nn"][s["vertno"]] for s in self.src])


def cache_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder where vaesource caches the template head.

    Parameters
    ----------
    cache_dir : path-like | None
        Explicit folder; None uses ``$VAESOURCE_CACHE_DIR`` if set, else the
        user's cache folder (``platformdirs.user_cache_dir("vaesource")``,
        e.g. ``~/.cache/vaesource`` on Linux).

    Returns
    -------
    path : pathlib.Path
    """
    if cache_dir is None:
        cache_dir = os.environ.get("VAESOURCE_CACHE_DIR")
    if cache_dir is None:
        try:
            from platformdirs import user_cache_dir

            cache_dir = user_cache_dir("vaesource", appauthor=False)
        except ImportError:
            cache_dir = Path.home() / ".cache" / "vaesource"
    return Path(cache_dir).expanduser()


@fill_doc
def template(
    spacing: Literal["ico3", "ico4", "ico5"] = "ico4",
    *,
    sensors: Literal["meg", "eeg", "meg+eeg"] = "meg",
    cache_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    verbose: bool | str | int | None = None,
) -> Template:
    """Load (building and caching on first use) the embedded template head.

    The fsaverage5 cortex of nilearn's package data, placed in fsaverage's
    MNE head frame, in a whole-head VectorView-like MEG helmet and/or a 10-10
    EEG cap, with a sphere head model and its forward solution. Nothing is
    downloaded.

    Parameters
    ----------
    spacing : ``"ico3"`` | ``"ico4"`` | ``"ico5"``
        Cortical source spacing: 1284, 5124 or 20484 sources (both
        hemispheres), the first vertices of fsaverage's icosahedral order.
    sensors : ``"meg"`` | ``"eeg"`` | ``"meg+eeg"``
        Sensor arrays to include (see :class:`Template`).
    cache_dir : path-like | None
        Cache folder (see :func:`cache_path`).
    overwrite : bool
        Rebuild and overwrite the cached files.
    %(verbose)s

    Returns
    -------
    template : Template
        The head model.

    Notes
    -----
    Building takes a few seconds (most of it reading nilearn's GIFTI files
    and, with EEG, MNE's sphere-model EEG forward); cached files are written
    atomically (to a temporary file in the same folder, then renamed), so
    concurrent processes never read half-written files.
    """
    _check_option("spacing", spacing, tuple(SPACINGS))
    _check_option("sensors", sensors, _SENSORS)
    with use_log_level(verbose, quiet_mne=True):
        folder = cache_path(cache_dir)
        files = _cache_files(folder, spacing, sensors)
        if not overwrite and all(f.is_file() for f in files.values()):
            try:
                t0 = time.perf_counter()
                tmpl = _load(files, spacing, sensors)
                logger.info(
                    "Loaded template %s/%s from %s in %.2f s",
                    spacing,
                    sensors,
                    folder,
                    time.perf_counter() - t0,
                )
                return tmpl
            except Exception as exc:  # a corrupt or foreign file: rebuild
                logger.warning("Rebuilding the template cache (%s)", exc)
        t0 = time.perf_counter()
        tmpl, geometry = _build(spacing, sensors)
        logger.info(
            "Built template %s/%s in %.1f s", spacing, sensors, time.perf_counter() - t0
        )
        try:
            _save(tmpl, geometry, files)
        except OSError as exc:  # read-only home etc.: still usable
            logger.warning("Could not cache the template in %s (%s)", folder, exc)
        else:
            # FIF stores forwards and source spaces in single precision: hand
            # out what later calls will read, so results do not depend on
            # whether the cache existed
            tmpl = _load(files, spacing, sensors)
    return tmpl


def _cache_files(folder: Path, spacing: str, sensors: str) -> dict:
    import mne

    tag = f"v{_CACHE_VERSION}-mne{mne.__version__}"
    stem = f"template-{spacing}-{sensors.replace('+', '')}-{tag}"
    return dict(
        fwd=folder / f"{stem}-fwd.fif",
        info=folder / f"{stem}-info.fif",
        geometry=folder / f"geometry-{tag}.npz",
    )


def _build(spacing: str, sensors: str):
    """Assemble the template from package data."""
    import mne

    trans = geo.fsaverage_trans()
    mri_head = np.linalg.inv(trans["trans"])
    surfaces_mri, sulc = geo.read_fsaverage5(_SURFACE_KINDS + ("sphere",))
    src = geo.make_template_src(surfaces_mri["white"], surfaces_mri["sphere"], spacing)
    # the sphere must hold every white-surface vertex, whatever the spacing,
    # so that all spacings share one head model
    white_head = np.concatenate(
        [
            mne.transforms.apply_trans(mri_head, surfaces_mri["white"][h][0])
            for h in HEMIS
        ]
    )
    r0, head_radius, fit = geo.fit_template_sphere(white_head, trans)
    logger.info(
        "Sphere: centre %s mm, radius %.1f mm (inner skull fit %.1f mm, scalp %.1f mm)",
        np.round(1e3 * r0, 1).tolist(),
        1e3 * head_radius,
        1e3 * fit["inner_skull_radius"],
        1e3 * fit["scalp_radius"],
    )
    dev_head_t = geo.helmet_dev_head_t(trans)
    infos = []
    if "meg" in sensors:
        infos.append(geo.make_meg_info(dev_head_t))
    if "eeg" in sensors:
        infos.append(geo.make_eeg_info(r0, head_radius))
    info = geo.merge_infos(*infos) if len(infos) == 2 else infos[0]
    fwd, sphere = geo.make_template_forward(info, src, trans, r0, head_radius)

    geometry = {}
    for kind in _SURFACE_KINDS:
        for hemi in HEMIS:
            rr, tris = surfaces_mri[kind][hemi]
            geometry[f"{kind}_{hemi}_rr"] = mne.transforms.apply_trans(mri_head, rr)
            geometry[f"{kind}_{hemi}_tris"] = tris
    for hemi in HEMIS:
        geometry[f"sulc_{hemi}"] = sulc[hemi]
    fs_dir = geo._mne_data_dir() / "fsaverage"
    for name, fname in (
        ("scalp", "fsaverage-head.fif"),
        ("inner_skull", "fsaverage-inner_skull-bem.fif"),
    ):
        surf = geo._read_bem_surface(fs_dir / fname)
        geometry[f"{name}_rr"] = mne.transforms.apply_trans(mri_head, surf["rr"])
        geometry[f"{name}_tris"] = surf["tris"]
    helmet_rr, _, helmet_tris = geo.read_helmet()
    geometry["helmet_rr"] = mne.transforms.apply_trans(dev_head_t, helmet_rr)
    geometry["helmet_tris"] = helmet_tris
    geometry["sphere_r0"] = r0
    geometry["sphere_radius"] = np.array(head_radius)
    geometry["trans"] = trans["trans"]
    return _assemble(spacing, sensors, info, fwd, geometry), geometry


def _assemble(spacing, sensors, info, fwd, geometry) -> Template:
    import mne

    def pair(name):
        return (geometry[f"{name}_rr"], geometry[f"{name}_tris"])

    sphere = mne.make_sphere_model(
        r0=geometry["sphere_r0"],
        head_radius=float(geometry["sphere_radius"]),
        verbose=False,
    )
    return Template(
        spacing=spacing,
        sensors=sensors,
        info=info,
        src=fwd["src"],
        fwd=fwd,
        sphere=sphere,
        trans=mne.transforms.Transform("head", "mri", geometry["trans"]),
        surfaces={
            kind: {hemi: pair(f"{kind}_{hemi}") for hemi in HEMIS}
            for kind in _SURFACE_KINDS
        },
        sulc={hemi: geometry[f"sulc_{hemi}"] for hemi in HEMIS},
        scalp=pair("scalp"),
        inner_skull=pair("inner_skull"),
        helmet=pair("helmet"),
    )


def _save(tmpl: Template, geometry: dict, files: dict) -> None:
    import mne

    def write_npz(tmp):
        with open(tmp, "wb") as fid:
            np.savez(fid, **geometry)

    _atomic_write(files["geometry"], write_npz)
    _atomic_write(
        files["info"], lambda tmp: _mne_compat.write_info(tmp, tmpl.info)
    )
    _atomic_write(
        files["fwd"],
        lambda tmp: mne.write_forward_solution(
            tmp, tmpl.fwd, overwrite=True, verbose=False
        ),
    )


def _load(files: dict, spacing: str, sensors: str) -> Template:
    import mne

    with np.load(files["geometry"]) as npz:
        geometry = {key: npz[key] for key in npz.files}
    info = mne.io.read_info(files["info"], verbose=False)
    fwd = mne.read_forward_solution(files["fwd"], verbose=False)
    return _assemble(spacing, sensors, info, fwd, geometry)


__all__ = ["Template", "cache_path", "template"]

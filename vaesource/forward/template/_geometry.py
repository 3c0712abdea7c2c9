"""Geometry of the embedded template head (fsaverage5 in a VectorView helmet).

Everything here is built from files that ship inside installed packages, so
it works offline:

- cortex: the fsaverage5 surfaces in nilearn's package data (white, pial,
  inflated, sphere and sulcal depth; 10242 vertices per hemisphere, FreeSurfer
  surface RAS in mm). fsaverage vertex numbering is icosahedral, so the first
  ``10 * 4**k + 2`` vertices are an ico-k subdivision and source estimates on
  them are valid ``fsaverage`` source estimates;
- head frame: ``fsaverage-trans.fif`` (head -> MRI), the scalp
  (``fsaverage-head.fif``) and inner skull (``fsaverage-inner_skull-bem.fif``)
  of MNE-Python's package data;
- MEG: sensor sites on MNE's VectorView helmet surface
  (``mne/data/helmets/306m.fif.gz``, which runs through the real VectorView
  sensor positions), each with one magnetometer and two orthogonal planar
  gradiometers using MNE's VectorView coil definitions;
- EEG: the 10-10 positions of MNE's ``standard_1020`` montage (named
  ``colin27_1020`` since MNE 1.13), in fsaverage coordinates.

:mod:`vaesource.forward.template` assembles and caches these pieces; this
module only computes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import _mne_compat
from ...utils import logger

HEMIS = ("lh", "rh")
_NILEARN_HEMI = {"lh": "left", "rh": "right"}
SPACINGS = {"ico3": 3, "ico4": 4, "ico5": 5}
# VectorView has 102 sensor sites; 306m.fif.gz has 304 vertices to pick from.
N_MEG_SITES = 102
# Old 10-20 names duplicating 10-10 positions (T3 = T7, ...) and reference
# sites (earlobes, mastoids) are left out of the EEG array.
_EEG_EXCLUDE = ("T3", "T4", "T5", "T6", "A1", "A2", "M1", "M2")
# Relative radii of MNE's default four-shell EEG sphere (brain, CSF, skull,
# scalp); the brain shell must contain every cortical source.
_BRAIN_RELATIVE_RADIUS = 0.90


def _mne_data_dir() -> Path:
    import mne

    return Path(mne.__file__).parent / "data"


def fsaverage_trans():
    """The head -> MRI transform of fsaverage shipped with MNE-Python."""
    import mne

    return mne.read_trans(_mne_data_dir() / "fsaverage" / "fsaverage-trans.fif")


def _read_bem_surface(fname):
    import mne

    return mne.read_bem_surfaces(fname, verbose=False)[0]


def read_fsaverage5(kinds=("white", "pial", "inflated", "sphere")):
    """Read the fsaverage5 surfaces shipped in nilearn's package data.

    Parameters
    ----------
    kinds : tuple of str
        Surfaces to read among ``"white"``, ``"pial"``, ``"inflated"`` and
        ``"sphere"``.

    Returns
    -------
    surfaces : dict
        ``surfaces[kind][hemi] = (rr, tris)`` with ``rr`` (10242, 3) in metres
        (FreeSurfer surface RAS, i.e. fsaverage MRI coordinates) and ``tris``
        (20480, 3) int.
    sulc : dict
        ``sulc[hemi]``: sulcal depth (10242,), for shading pictures.
    """
    import nibabel as nib
    from nilearn.datasets import fetch_surf_fsaverage

    # fsaverage5 is package data of nilearn: this reads local files only
    # (other meshes would be downloaded, hence the fixed "fsaverage5").
    files = fetch_surf_fsaverage("fsaverage5")
    names = dict(white="white", pial="pial", inflated="infl", sphere="sphere")
    surfaces = {}
    for kind in kinds:
        surfaces[kind] = {}
        for hemi in HEMIS:
            gii = nib.load(files[f"{names[kind]}_{_NILEARN_HEMI[hemi]}"])
            rr = np.asarray(gii.darrays[0].data, np.float64) / 1000.0
            tris = np.asarray(gii.darrays[1].data, np.int64)
            surfaces[kind][hemi] = (rr, tris)
    sulc = {
        hemi: np.asarray(
            nib.load(files[f"sulc_{_NILEARN_HEMI[hemi]}"]).darrays[0].data, float
        )
        for hemi in HEMIS
    }
    return surfaces, sulc


def ico_use_tris(grade: int, sphere_rr: np.ndarray) -> np.ndarray:
    """Triangles of the ico-``grade`` subdivision in fsaverage vertex numbers.

    MNE's icosahedra and fsaverage share vertex positions but not their
    order, so each MNE ico vertex is mapped to the nearest fsaverage sphere
    vertex, exactly as :func:`mne.setup_source_space` does.

    Parameters
    ----------
    grade : int
        Icosahedron subdivision (3, 4 or 5).
    sphere_rr : array, shape (n_vertices, 3)
        fsaverage sphere surface of one hemisphere.

    Returns
    -------
    use_tris : array of int, shape (20 * 4**grade, 3)
        Triangles whose vertices are all below ``10 * 4**grade + 2``.
    """
    from scipy.spatial import cKDTree

    n_use = 10 * 4**grade + 2
    ico = _mne_compat.get_ico_surface(grade)
    sph = sphere_rr / np.linalg.norm(sphere_rr, axis=1, keepdims=True)
    ico_rr = ico["rr"] / np.linalg.norm(ico["rr"], axis=1, keepdims=True)
    dist, mmap = cKDTree(sph).query(ico_rr)
    if len(np.unique(mmap)) != n_use or mmap.max() >= n_use or dist.max() > 1e-3:
        raise RuntimeError(
            f"The fsaverage5 sphere does not contain the ico-{grade} vertices in "
            "icosahedral order; the nilearn data may have changed."
        )
    return mmap[ico["tris"]].astype(np.int64)


def make_template_src(white, sphere, spacing: str = "ico4"):
    """Surface source space on the fsaverage5 white surface.

    Equivalent to ``mne.setup_source_space("fsaverage", spacing=spacing,
    surface="white")`` on the full fsaverage (the vertices used are the same
    icosahedral ones), but from the fsaverage5 surfaces, so that the whole
    white surface is kept for pictures.

    Parameters
    ----------
    white, sphere : dict
        ``{hemi: (rr, tris)}`` white and sphere surfaces (metres, MRI).
    spacing : ``"ico3"`` | ``"ico4"`` | ``"ico5"``
        Source spacing (642, 2562 or 10242 sources per hemisphere).

    Returns
    -------
    src : mne.SourceSpaces
        Two surface source spaces (lh, rh) in MRI coordinates, subject
        ``"fsaverage"``, with the white-surface normals as source normals.
    """
    import mne
    from mne.io.constants import FIFF
    from mne.surface import complete_surface_info

    grade = SPACINGS[spacing]
    n_use = 10 * 4**grade + 2
    spaces = []
    for hemi, s_id in zip(
        HEMIS,
        (FIFF.FIFFV_MNE_SURF_LEFT_HEMI, FIFF.FIFFV_MNE_SURF_RIGHT_HEMI),
        strict=True,
    ):
        rr, tris = white[hemi]
        surf = dict(
            rr=rr.copy(), tris=tris.astype(np.int32), np=len(rr), ntri=len(tris)
        )
        complete_surface_info(surf, copy=False, verbose=False)
        inuse = np.zeros(len(rr), np.int32)
        inuse[:n_use] = 1
        use_tris = ico_use_tris(grade, sphere[hemi][0]).astype(np.int32)
        surf.update(
            inuse=inuse,
            nuse=n_use,
            vertno=np.arange(n_use),
            use_tris=use_tris,
            nuse_tri=len(use_tris),
            subject_his_id="fsaverage",
            dist=None,
            dist_limit=None,
            nearest=None,
            nearest_dist=None,
            pinfo=None,
            patch_inds=None,
            type="surf",
            id=s_id,
            coord_frame=FIFF.FIFFV_COORD_MRI,
        )
        for key in ("tri_area", "tri_cent", "tri_nn", "neighbor_tri"):
            surf.pop(key, None)
        spaces.append(surf)
    return mne.SourceSpaces(spaces, dict(working_dir="", command_line="vaesource"))


def fit_template_sphere(src_rr_head: np.ndarray, trans):
    """Sphere model of the template head, in head coordinates.

    The centre is the centre of the sphere fitted to MNE's fsaverage inner
    skull (standard for MEG). The radius is the larger of the median
    distance from that centre to the upper scalp and the radius making MNE's
    brain shell (90 % of it) contain every cortical source with 0.5 mm to
    spare, so that MNE's EEG sphere model keeps all sources.

    Parameters
    ----------
    src_rr_head : array, shape (n, 3)
        Positions of all candidate sources (head coordinates, m).
    trans : mne.transforms.Transform
        fsaverage head -> MRI transform.

    Returns
    -------
    r0 : array, shape (3,)
        Centre (m, head coordinates).
    head_radius : float
        Outer radius (m).
    info : dict
        The fitted inner-skull radius and scalp radius, for the record.
    """
    import mne

    mri_head = np.linalg.inv(trans["trans"])
    fs_dir = _mne_data_dir() / "fsaverage"
    inner = _read_bem_surface(fs_dir / "fsaverage-inner_skull-bem.fif")
    scalp = _read_bem_surface(fs_dir / "fsaverage-head.fif")
    inner_rr = mne.transforms.apply_trans(mri_head, inner["rr"])
    scalp_rr = mne.transforms.apply_trans(mri_head, scalp["rr"])
    inner_radius, r0 = _mne_compat.fit_sphere(inner_rr)
    # the face and neck are far from any sphere: use the scalp above the
    # lowest inner-skull level only
    upper = scalp_rr[scalp_rr[:, 2] > r0[2] - inner_radius / 4]
    scalp_radius = float(np.median(np.linalg.norm(upper - r0, axis=1)))
    max_src = float(np.linalg.norm(src_rr_head - r0, axis=1).max())
    head_radius = max(scalp_radius, (max_src + 5e-4) / _BRAIN_RELATIVE_RADIUS)
    return (
        np.asarray(r0, float),
        float(head_radius),
        dict(inner_skull_radius=float(inner_radius), scalp_radius=scalp_radius),
    )


def _farthest_point_order(rr: np.ndarray, n: int, start: int) -> np.ndarray:
    """Greedy farthest-point sampling; every prefix is itself well spread."""
    # the coordinates as three contiguous rows: each step is a few vector
    # operations (the same sums, in the same order, as np.linalg.norm's)
    xyz = np.ascontiguousarray(np.asarray(rr, float).T)

    def dist_to(i):
        d = xyz - xyz[:, i : i + 1]
        d *= d
        return np.sqrt(d[0] + d[1] + d[2])

    order = [start]
    dist = dist_to(start)
    for _ in range(n - 1):
        nxt = int(np.argmax(dist))
        order.append(nxt)
        np.minimum(dist, dist_to(nxt), out=dist)
    return np.array(order)


def read_helmet():
    """MNE's VectorView helmet surface (device coordinates, m).

    Returns
    -------
    rr : array, shape (304, 3)
    nn : array, shape (304, 3)
        Outward unit normals.
    tris : array, shape (568, 3)
    """
    surf = _read_bem_surface(_mne_data_dir() / "helmets" / "306m.fif.gz")
    nn = surf["nn"] / np.linalg.norm(surf["nn"], axis=1, keepdims=True)
    return surf["rr"].astype(float), nn, surf["tris"]


def helmet_sites(n_sites: int = N_MEG_SITES):
    """Sensor sites spread over the VectorView helmet (device coordinates).

    Sites are helmet vertices chosen by farthest-point sampling from the top
    vertex, so the first ``k`` sites of a larger set are the ``k``-site set.

    Parameters
    ----------
    n_sites : int
        Number of sites (at most 304).

    Returns
    -------
    rr : array, shape (n_sites, 3)
        Positions (m).
    nn : array, shape (n_sites, 3)
        Outward normals of the helmet, i.e. the coil normals.
    """
    rr, nn, _ = read_helmet()
    if not 1 <= n_sites <= len(rr):
        raise ValueError(
            f"The number of MEG sites must be between 1 and {len(rr)} (the "
            f"helmet vertices), got {n_sites}."
        )
    order = _farthest_point_order(rr, n_sites, int(np.argmax(rr[:, 2])))
    return rr[order], nn[order]


def _coil_frames(nn: np.ndarray) -> np.ndarray:
    """Right-handed coil frames (ex, ey, ez) with ez the given normal."""
    ref = np.where(
        np.abs(nn[:, [0]]) < 0.9, np.array([[1.0, 0.0, 0.0]]), [[0.0, 1.0, 0.0]]
    )
    ex = ref - np.sum(ref * nn, axis=1, keepdims=True) * nn
    ex /= np.linalg.norm(ex, axis=1, keepdims=True)
    ey = np.cross(nn, ex)
    return np.stack([ex, ey, nn], axis=1)


def helmet_dev_head_t(trans):
    """Device -> head transform placing the fsaverage head in the helmet.

    A pure translation that makes the centre of the sphere fitted to the
    helmet coincide with the centre of the sphere fitted to the upper
    fsaverage scalp: the head sits centred in the helmet, about 2 cm from the
    closest sensor, as in a typical VectorView recording.
    """
    import mne

    helmet_rr, _, _ = read_helmet()
    _, helmet_center = _mne_compat.fit_sphere(helmet_rr)
    scalp = _read_bem_surface(_mne_data_dir() / "fsaverage" / "fsaverage-head.fif")
    scalp_rr = mne.transforms.apply_trans(np.linalg.inv(trans["trans"]), scalp["rr"])
    _, head_center = _mne_compat.fit_sphere(scalp_rr[scalp_rr[:, 2] > 0])
    mat = np.eye(4)
    mat[:3, 3] = head_center - helmet_center
    return mne.transforms.Transform("meg", "head", mat)


def make_meg_info(dev_head_t, n_sites: int = N_MEG_SITES, *, sfreq: float = 1000.0):
    """Info of the template's VectorView-like whole-head MEG array.

    Each site carries, as a real VectorView sensor element does, one
    magnetometer (``MEG xxx1``, coil ``VV_MAG_T3``, 25.8 mm square loop) and
    two orthogonal planar gradiometers (``MEG xxx2`` and ``MEG xxx3``, coil
    ``VV_PLANAR_T1``, 16.8 mm baseline), all with the helmet's outward normal.

    Parameters
    ----------
    dev_head_t : mne.transforms.Transform
        Device -> head transform.
    n_sites : int
        Number of sites (102 by default: 306 channels).
    sfreq : float
        Sampling frequency of the info (Hz).

    Returns
    -------
    info : mne.Info
    """
    import mne
    from mne.io.constants import FIFF

    rr, nn = helmet_sites(n_sites)
    frames = _coil_frames(nn)
    names, types, locs, coils = [], [], [], []
    for k, (r, (ex, ey, ez)) in enumerate(zip(rr, frames, strict=True), start=1):
        # VectorView order per site: two gradiometers, then the magnetometer
        for suffix, kind, axes, coil in (
            ("2", "grad", (ex, ey), FIFF.FIFFV_COIL_VV_PLANAR_T1),
            ("3", "grad", (ey, -ex), FIFF.FIFFV_COIL_VV_PLANAR_T1),
            ("1", "mag", (ex, ey), FIFF.FIFFV_COIL_VV_MAG_T3),
        ):
            names.append(f"MEG {k:03d}{suffix}")
            types.append(kind)
            locs.append(np.r_[r, axes[0], axes[1], ez])
            coils.append(coil)
    info = mne.create_info(names, sfreq, types)
    for ch, loc, coil in zip(info["chs"], locs, coils, strict=True):
        ch["loc"][:12] = loc
        ch["coil_type"] = coil
        ch["coord_frame"] = FIFF.FIFFV_COORD_DEVICE
    with _mne_compat.unlocked(info):
        info["dev_head_t"] = dev_head_t
    return info


def eeg_montage():
    """MNE's ``standard_1020`` montage (``colin27_1020`` since MNE 1.13)."""
    import mne

    name = (
        "colin27_1020"
        if "colin27_1020" in mne.channels.get_builtin_montages()
        else "standard_1020"
    )
    return mne.channels.make_standard_montage(name)


def make_eeg_info(r0, radius, *, sfreq: float = 1000.0):
    """Info of the template's EEG array on the sphere model's scalp.

    The 10-10 positions of ``standard_1020`` (86 electrodes once the old
    duplicate names and the reference sites are left out) are moved radially
    onto the outer sphere of the EEG model, where the sphere-model potential
    is meant to be evaluated; an (inactive) average-reference projector is
    added.

    Parameters
    ----------
    r0 : array, shape (3,)
        Sphere centre (head coordinates, m).
    radius : float
        Outer sphere radius (m).
    sfreq : float
        Sampling frequency (Hz).

    Returns
    -------
    info : mne.Info
    """
    import mne

    montage = eeg_montage()
    names = [c for c in montage.ch_names if c not in _EEG_EXCLUDE]
    info = mne.create_info(names, sfreq, "eeg")
    info.set_montage(montage, on_missing="ignore", verbose=False)
    for ch in info["chs"]:
        pos = ch["loc"][:3] - r0
        ch["loc"][:3] = r0 + radius * pos / np.linalg.norm(pos)
    # keep the digitisation consistent with the channel positions
    with _mne_compat.unlocked(info):
        for dig in info["dig"] or []:
            if dig["kind"] == mne.io.constants.FIFF.FIFFV_POINT_EEG:
                pos = dig["r"] - r0
                dig["r"] = r0 + radius * pos / np.linalg.norm(pos)
    # public way to build the average-reference projector: through an Evoked
    evoked = mne.EvokedArray(np.zeros((len(names), 1)), info, verbose=False)
    evoked.set_eeg_reference("average", projection=True, verbose=False)
    return evoked.info


def merge_infos(meg_info, eeg_info):
    """One info with the MEG channels, then the EEG channels."""
    import mne

    info = mne.create_info(
        meg_info["ch_names"] + eeg_info["ch_names"],
        meg_info["sfreq"],
        meg_info.get_channel_types() + eeg_info.get_channel_types(),
    )
    with _mne_compat.unlocked(info):
        all_chs = meg_info["chs"] + eeg_info["chs"]
        for ch, src_ch in zip(info["chs"], all_chs, strict=True):
            ch.update(
                loc=src_ch["loc"].copy(),
                coil_type=src_ch["coil_type"],
                coord_frame=src_ch["coord_frame"],
                unit=src_ch["unit"],
            )
        info["dev_head_t"] = meg_info["dev_head_t"]
        info["dig"] = eeg_info["dig"]
        info["projs"] = list(eeg_info["projs"])
    _mne_compat.check_info_consistency(info)
    return info


def make_template_forward(info, src, trans, r0, head_radius):
    """Free-orientation forward of the template (MEG: Sarvas, EEG: MNE).

    MEG channels use :func:`vaesource.forward.make_sphere_forward` (the
    Sarvas field, independent of the shells); EEG channels use MNE's
    four-shell sphere model (Berg-Scherg approximation) centred at ``r0``.

    Returns
    -------
    fwd : mne.Forward
        In head coordinates, channels in the order of ``info``.
    sphere : mne.bem.ConductorModel
        The sphere model used (``r0``, ``head_radius``).
    """
    import mne

    from ..sarvas import _make_sphere_forward

    sphere = mne.make_sphere_model(r0=r0, head_radius=head_radius, verbose=False)
    fwd = _make_sphere_forward(info, src, origin=r0, trans=trans, eeg_sphere=sphere)
    logger.info("Template forward: %s", fwd)
    return fwd, sphere

"""Calibration of the location regions and of the amplitude bands.

Each trial simulates sparse sources, localizes them with the default full
VAE (:func:`vaesource.apply_vae_inverse`) and asks, for every true source
the estimate found (a selected source within ``tol_mm``):

- does its 95 % location region (:func:`vaesource.evidence.location_regions`)
  hold the truth: the grid location nearest to the true position (the cell
  the truth lies in), or one within half the grid spacing of it?
- which fraction of the samples where the true amplitude is at least half
  its peak lie in the 95 % band of :func:`vaesource.credible_interval`, with
  (``location=True``) and without the location's uncertainty?
- how large is the region (locations, radius in mm)?

Settings (:data:`SETTINGS`):

- ``"cortex"``: normal dipoles on the ico4 template cortex, off the ico3
  inversion grid (loose 0.2, depth 0.8), as the cortical benchmark;
- ``"cortex_free"``: the same with a free orientation (loose 1);
- ``"volume"``: dipoles of random orientation at random positions inside
  the template cortex, inverted on a 10 mm volume grid (free orientation);
- ``"grid"``: dipoles on the ico3 grid itself with its normals (the model
  holds: the bands must cover 95 % of the time).
"""

from __future__ import annotations

import csv
import functools
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..utils import _check_int, _pyplot, logger
from . import _sweep

SETTINGS = ("cortex", "volume", "grid", "cortex_free")
SNRS = (3.0, 10.0)
N_SOURCES = (1, 2, 3)
LEVEL = 0.95
COLUMNS = (
    "setting", "snr", "seed", "n_sources", "source", "detected", "dist_mm",
    "region_covered", "region_size", "region_radius_mm", "amp_cover_location",
    "amp_cover_source", "amp_cover_grid", "grid_spacing_mm", "radial_cos",
)
#: A true source is found when a selected source lies within this (mm).
TOL_MM = 15.0


@functools.lru_cache(maxsize=2)
def _heads():
    from ..forward.template import template

    return template("ico4", sensors="meg"), template("ico3", sensors="meg")


@functools.lru_cache(maxsize=1)
def _volume_grid(spacing=0.01):
    """A regular grid inside the template cortex's hull and its forward."""
    _, coarse = _heads()
    hull, mri = _hull(coarse)
    lo, hi = mri.min(0), mri.max(0)
    axes = [np.arange(a, b, spacing) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    grid = grid[hull.find_simplex(grid) >= 0]
    return _discrete_forward(coarse, grid)


def _hull(head):
    import mne
    from scipy.spatial import Delaunay

    mri = mne.transforms.apply_trans(head.trans, head.fwd["source_rr"])
    return Delaunay(mri), mri


def _discrete_forward(head, rr_mri):
    import mne

    src = mne.setup_volume_source_space(
        subject=None, pos=dict(rr=rr_mri, nn=np.tile([0.0, 0.0, 1.0], (len(rr_mri), 1))),
        verbose=False)
    # MEG in a sphere depends on its centre alone: a shell-less sphere (MNE
    # 1.8 rejects the template's shells, whose outer radius reaches sensors)
    sphere = mne.make_sphere_model(r0=np.asarray(head.sphere["r0"]),
                                   head_radius=None, verbose=False)
    return mne.make_forward_solution(head.info, head.trans, src, sphere,
                                     meg=True, eeg=False, verbose=False)


def _volume_sim(n_sources, snr, rng):
    """Random dipoles inside the cortex's hull, off the 10 mm grid."""
    import mne

    from .. import _mne_compat
    from ..simulation.cortical import _waveforms

    _, coarse = _heads()
    fwd = _volume_grid()
    grid_mri = mne.transforms.apply_trans(coarse.trans, fwd["source_rr"])
    spacing = 0.01
    while True:  # grid points moved anywhere in their cell, 30 mm apart
        picked = []
        for idx in rng.permutation(len(grid_mri)):
            p = grid_mri[idx] + spacing * (rng.random(3) - 0.5)
            if all(np.linalg.norm(p - q) >= 0.03 for q in picked):
                picked.append(p)
                if len(picked) == n_sources:
                    break
        try:
            true_fwd = _discrete_forward(coarse, np.array(picked))
        except RuntimeError:  # a point left the sphere's inner layer
            continue
        if true_fwd["nsource"] == n_sources:
            break
    info = coarse.info.copy()
    with _mne_compat.unlocked(info):
        info["sfreq"] = 100.0
        info["lowpass"] = min(info["lowpass"], 50.0)
    times = -0.05 + np.arange(31) / 100.0
    ori = rng.standard_normal((n_sources, 3))
    ori /= np.linalg.norm(ori, axis=1, keepdims=True)
    wav = 1e-8 * _waveforms(times, n_sources, rng)
    gain = true_fwd["sol"]["data"].reshape(len(info["ch_names"]), n_sources, 3)
    clean = np.einsum("csd,sd,st->ct", gain, ori, wav)
    cov = mne.make_ad_hoc_cov(info, verbose=False)
    W, _, rank = mne.cov.compute_whitener(cov, info, return_rank=True, verbose=False)
    power = np.sum((W @ clean) ** 2, axis=0)
    active = power >= 0.1 * power.max()
    scale = np.sqrt(snr * rank * active.sum() / power[active].sum())
    wav = wav * scale
    noise = np.linalg.pinv(W) @ rng.standard_normal((W.shape[0], times.size))
    evoked = mne.EvokedArray(clean * scale + noise, info, tmin=times[0], nave=1,
                             verbose=False)
    # positions and the forward's x, y, z (hence ``ori``) in head coordinates
    pos = true_fwd["source_rr"]
    return evoked, fwd, cov, pos, np.abs(wav), ori


def _cortex_sim(n_sources, snr, rng, on_grid):
    from ..simulation import cortical_evoked

    fine, coarse = _heads()
    sim = cortical_evoked(
        coarse if on_grid else fine, n_sources, snr=snr, seed=rng,
        inverse_template=None if on_grid else coarse, sfreq=100.0,
    )
    return (sim.evoked, sim.forward, sim.noise_cov, sim.positions,
            np.abs(sim.stc.data), sim.orientations)


def run_trial(setting, snr, n_sources, trial, seed=0, merge_split=False):
    """Simulate one problem, localize it, score each true source.

    Parameters
    ----------
    setting : str
        One of :data:`SETTINGS`.
    snr : float
        Whitened SNR of the simulation.
    n_sources : int
        Number of true sources.
    trial : int
        Trial number (with the other arguments, it names the trial's seed).
    seed : int
        Base seed.
    merge_split : bool
        Localize with ``merge_split`` (:func:`vaesource.apply_vae_inverse`).

    Returns
    -------
    rows : list of dict
        One row per true source with the columns of :data:`COLUMNS`.
    """
    from scipy.spatial import cKDTree
    from threadpoolctl import threadpool_limits

    from ..evidence import credible_interval
    from ..inverse import apply_vae_inverse
    from ..utils import ConvergenceWarning

    s = _sweep.trial_seed(seed, SETTINGS.index(setting), int(round(100 * snr)),
                          n_sources, trial)
    rng = np.random.default_rng(s)
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings(
            "ignore", message="The maximum current magnitude", category=RuntimeWarning
        )
        if setting == "volume":
            evoked, fwd, cov, pos, true_amp, ori = _volume_sim(n_sources, snr, rng)
            loose = 1.0
        else:
            evoked, fwd, cov, pos, true_amp, ori = _cortex_sim(
                n_sources, snr, rng, on_grid=setting == "grid")
            loose = 1.0 if setting == "cortex_free" else 0.2
        stc = apply_vae_inverse(evoked, fwd, cov, loose=loose,
                                merge_split=merge_split, verbose=False)
        table = stc.vae_sources
        band_loc = credible_interval(stc, LEVEL, location=True)
        band_src = credible_interval(stc, LEVEL, location=True, merged=True)
        band_grid = credible_interval(stc, LEVEL)
    rr = fwd["source_rr"]
    tree = cKDTree(rr)
    spacing = float(np.median(tree.query(rr, 2)[0][:, 1]))
    regions = table.regions if len(table) else []
    # how radial each source is (MEG sees only the rest, in a sphere)
    r0 = np.asarray(_heads()[1].sphere["r0"])
    radial = (pos - r0) / np.linalg.norm(pos - r0, axis=1, keepdims=True)
    radial_cos = np.abs(np.sum(radial * ori, axis=1))
    rows = []
    for i, p in enumerate(pos):
        row = dict(setting=setting, snr=snr, seed=s, n_sources=n_sources,
                   source=i, detected=False, dist_mm=np.nan,
                   region_covered=False, region_size=0,
                   region_radius_mm=np.nan, amp_cover_location=np.nan,
                   amp_cover_source=np.nan, amp_cover_grid=np.nan,
                   radial_cos=float(radial_cos[i]), grid_spacing_mm=1e3 * spacing)
        if len(table):
            d = np.linalg.norm(table.pos - p, axis=1)
            j = int(np.argmin(d))
            row["dist_mm"] = 1e3 * float(d[j])
            if 1e3 * d[j] <= TOL_MM:
                row["detected"] = True
                r_pos, _ = regions[j]
                d_nearest = tree.query(p)[0]
                d_region = np.min(np.linalg.norm(r_pos - p, axis=1))
                # the truth's cell (its nearest location, ties within 0.1 mm)
                # or a location within half the grid spacing
                row["region_covered"] = bool(
                    d_region <= max(0.5 * spacing, d_nearest + 1e-4))
                row["region_size"] = int(table.region_size[j])
                row["region_radius_mm"] = float(table.region_radius_mm[j])
                amp = true_amp[i]
                act = amp >= 0.5 * amp.max()
                head = int(table.source[j])
                for key, (lo, hi), r in (("amp_cover_location", band_loc, j),
                                         ("amp_cover_source", band_src, head),
                                         ("amp_cover_grid", band_grid, j)):
                    lo_, hi_ = _row(lo, r), _row(hi, r)
                    row[key] = float(np.mean(
                        (lo_[act] <= amp[act]) & (amp[act] <= hi_[act])))
        rows.append(row)
    return rows


def _mean(values):
    values = [float(v) for v in values]
    return float(np.mean(values)) if values else np.nan


def _median(values):
    values = [float(v) for v in values]
    return float(np.median(values)) if values else np.nan


def _row(stc, j):
    data = stc.data[j]
    return np.linalg.norm(data, axis=0) if data.ndim == 2 else data


@dataclass
class CalibrationResult:
    """Rows of the calibration benchmark.

    Attributes
    ----------
    rows : list of dict
        One per true source, with the columns of :data:`COLUMNS`.
    """

    rows: list = field(default_factory=list)

    def to_csv(self, fname):
        """Write the rows to a CSV file.

        Parameters
        ----------
        fname : path-like
            The file to write.
        """
        _sweep.write_csv(fname, self.rows, COLUMNS)

    def table(self):
        """Per setting and SNR: sources, detected, region coverage, amplitude
        coverage (location / whole source / grid), median region size and
        radius.

        Returns
        -------
        table : list of dict
        """
        out = []
        keys = sorted({(r["setting"], r["snr"]) for r in self.rows},
                      key=lambda k: (SETTINGS.index(k[0]), k[1]))
        for setting, snr in keys:
            rows = [r for r in self.rows if r["setting"] == setting and r["snr"] == snr]
            det = [r for r in rows if r["detected"]]
            out.append(dict(
                setting=setting, snr=snr, n=len(rows), detected=len(det),
                region=_mean(r["region_covered"] for r in det),
                amp_location=_mean(r["amp_cover_location"] for r in det),
                amp_source=_mean(r["amp_cover_source"] for r in det),
                amp_grid=_mean(r["amp_cover_grid"] for r in det),
                amp_tangential=_mean(r["amp_cover_location"] for r in det
                                     if r["radial_cos"] < 0.5),
                size=_median(r["region_size"] for r in det),
                radius=_median(r["region_radius_mm"] for r in det),
                spacing=rows[0]["grid_spacing_mm"],
            ))
        return out

    def plot(self, fname=None):
        """Coverage against SNR per setting: location regions, amplitude
        bands with the location and on the grid alone (95 % asked).

        Parameters
        ----------
        fname : path-like | None
            Write the figure to this PNG file (and close it).

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        plt = _pyplot(fname)
        table = self.table()
        settings = [s for s in SETTINGS if any(t["setting"] == s for t in table)]
        panels = (("region", "location region holds the truth"),
                  ("amp_location", "amplitude band (with location)"),
                  ("amp_grid", "amplitude band (grid only)"))
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
        for ax, (key, title) in zip(axes, panels):
            for setting in settings:
                rows = [t for t in table if t["setting"] == setting]
                ax.plot([t["snr"] for t in rows], [t[key] for t in rows], "o-",
                        label=setting)
            ax.axhline(LEVEL, color="0.5", ls="--", lw=1)
            snrs = sorted({t["snr"] for t in table})
            ax.set_xscale("log")
            ax.set_xticks(snrs, [f"{v:g}" for v in snrs])
            ax.minorticks_off()
            ax.set_xlabel("SNR")
            ax.set_title(title, fontsize=10)
            ax.set_ylim(-0.02, 1.02)
        axes[0].set_ylabel("coverage (95 % asked)")
        axes[0].legend(fontsize=8, loc="lower left")
        fig.tight_layout()
        if fname is not None:
            fig.savefig(fname, dpi=100)
            plt.close(fig)
        return fig

    def summary(self):
        """The table as text.

        Returns
        -------
        text : str
        """
        lines = [
            f"{'setting':<12s} {'SNR':>5s} {'found':>9s} {'region':>7s} "
            f"{'band+loc':>8s} {'source':>7s} {'grid':>6s} {'size':>5s} "
            f"{'radius':>7s} {'grid':>6s} {'tang.':>6s}",
            f"{'':<12s} {'':>5s} {'':>9s} {'covers':>7s} {'covers':>8s} "
            f"{'band':>7s} {'band':>6s} {'(loc)':>5s} {'(mm)':>7s} {'(mm)':>6s} "
            f"{'band':>6s}",
        ]
        for t in self.table():
            lines.append(
                f"{t['setting']:<12s} {t['snr']:5g} {t['detected']:4d}/{t['n']:<4d} "
                f"{t['region']:7.3f} {t['amp_location']:8.3f} "
                f"{t['amp_source']:7.3f} {t['amp_grid']:6.3f} "
                f"{t['size']:5.1f} {t['radius']:7.1f} {t['spacing']:6.1f} "
                f"{t['amp_tangential']:6.3f}")
        return "\n".join(lines)


def run_calibration(settings=("cortex", "volume", "grid"), snrs=SNRS,
                    n_sources=N_SOURCES, n_trials=10, seed=0, merge_split=False,
                    n_jobs=1, backend=None, progress=True):
    """Run the calibration benchmark.

    Parameters
    ----------
    settings : tuple of str
        Among :data:`SETTINGS`.
    snrs : tuple of float
        Whitened SNRs (as :func:`vaesource.simulation.cortical_evoked`).
    n_sources : tuple of int
        Numbers of true sources.
    n_trials : int
        Trials per setting, SNR and number of sources.
    seed : int
        Base seed.
    merge_split : bool
        Localize with ``merge_split`` (:func:`vaesource.apply_vae_inverse`).
    n_jobs : int
        Parallel jobs (joblib).
    backend : str | None
        joblib backend.
    progress : bool
        Show a progress bar.

    Returns
    -------
    result : CalibrationResult
    """
    for s in settings:
        if s not in SETTINGS:
            raise ValueError(f"Unknown setting {s!r}; choose among {SETTINGS}.")
    n_trials = _check_int("n_trials", n_trials, min_value=1)
    tasks = [(s, float(snr), int(k), t, seed, merge_split) for s in settings
             for snr in snrs for k in n_sources for t in range(n_trials)]
    logger.info("calibration: %d trials", len(tasks))
    rows = _sweep.run_trials(run_trial, tasks, n_jobs=n_jobs, backend=backend,
                             progress=progress, desc="calibration")
    rows.sort(key=lambda r: (SETTINGS.index(r["setting"]), r["snr"],
                             r["n_sources"], r["seed"], r["source"]))
    return CalibrationResult(rows)


__all__ = ["CalibrationResult", "run_calibration", "run_trial"]

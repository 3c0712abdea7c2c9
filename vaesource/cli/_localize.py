"""``vaesource localize``: its options and its run."""

from __future__ import annotations

from pathlib import Path

from ._flags import FOLDER_RULE, add_evidence_flags, add_output_flags, print_written
from ._types import _str_list


def add_parser(subparsers):
    """Add the ``localize`` command.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The commands of ``vaesource``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The command's parser; it runs :func:`run`.
    """
    from .._methods import VAE_MODELS
    from ..localize import PEERS
    from ..viz.brain import VIEWS as CORTEX_VIEWS
    from ..viz.volume import VOLUME_VIEWS

    localize = subparsers.add_parser(
        "localize",
        help="localize an evoked response from MNE files (VAE, optionally vs "
        "MxNE and gamma-MAP)",
        description="Localize an evoked response with the full-covariance VAE "
        "(or the diagonal VAE / autoencoder) from MNE files, as "
        "mne.inverse_sparse.gamma_map would from the same objects. Writes to "
        "--out: the source estimates in MNE's .stc format, the VAE's sources "
        "as dipoles at their peaks (<method>-dipoles.dip, for "
        "mne.read_dipole), summary.json (per method: time, sources, "
        "explained variance; for the full VAE one row per source with its "
        "position, evidence, posterior probability of being real, "
        "posterior sd and, with --restarts, how often it was found; the "
        "learned noise with --learn-noise), PNG renders and report.html "
        "(with a 'which sources are real' section). At a finite noise level "
        "the optimum of cost (18) also keeps weak sources that fit noise: "
        "the full VAE keeps only the sources whose evidence reaches "
        "--min-evidence (every output shows these). Several conditions "
        "(--condition all, or a list) or epochs (--epochs) share one "
        "support: one joint minimisation, the evidence of each source joint, "
        "each condition's (epoch's) own time courses; such runs make no "
        "renders or report. With --compare, MNE's "
        "MxNE and gamma-MAP run on the same whitened data. Volume estimates "
        "are drawn inside the inner skull of --bem or of the subject in "
        "--subjects-dir, else inside a smooth outline of the source grid.",
        epilog="examples (on the demo's outputs): vaesource localize --evoked "
        "vaesource-demo/simulated-ave.fif --forward "
        "vaesource-demo/template-fwd.fif --cov vaesource-demo/noise-cov.fif "
        "--compare --out vaesource-localize; the same with --learn-noise type "
        "--restarts 5 --color-by evidence; --min-evidence none keeps the "
        "whole optimum; --condition all (or --condition aud_l,aud_r) for the "
        "conditions of an -ave.fif file on one shared support; --epochs "
        "sub-epo.fif --save-epochs for epochs. " + FOLDER_RULE,
    )
    data = localize.add_mutually_exclusive_group(required=True)
    data.add_argument("--evoked", type=Path, default=None,
                      help="evoked response file (-ave.fif)")
    data.add_argument("--epochs", type=Path, default=None,
                      help="epochs file (-epo.fif) instead of --evoked: every "
                      "epoch kept is localized with one support shared by "
                      "all (full VAE only); writes full_vae-lh.stc/-rh.stc "
                      "(or -vl.stc), the mean of the epochs' estimates, and "
                      "summary.json with the shared sources and the number "
                      "of epochs")
    localize.add_argument("--condition", default=None, metavar="CONDITION",
                          help="condition name or index, for files with "
                          "several; or 'all' or a comma-separated list of "
                          "names: those conditions are localized jointly, "
                          "with one shared support (full VAE only), into "
                          "<condition>-full_vae-lh.stc/-rh.stc and "
                          "<condition>-full_vae-dipoles.dip each, and a "
                          "summary.json listing the shared sources (joint "
                          "evidence and probability, each condition's "
                          "amplitude)")
    localize.add_argument("--save-epochs", action="store_true",
                          help="with --epochs: also write each epoch's "
                          "estimate, epoch<k>-full_vae-lh.stc/-rh.stc (k: "
                          "its index among the epochs kept)")
    localize.add_argument("--forward", type=Path, required=True,
                          help="forward solution (-fwd.fif), surface or volume")
    localize.add_argument("--cov", type=Path, required=True,
                          help="single-trial noise covariance (-cov.fif); "
                          "divided by the evoked's nave (epochs: used "
                          "as given, each epoch being one trial)")
    localize.add_argument("--tmin", type=float, default=None,
                          help="start of the time window (s; default: first sample)")
    localize.add_argument("--tmax", type=float, default=None,
                          help="end of the time window (s; default: last sample)")
    localize.add_argument("--model", choices=tuple(VAE_MODELS), default="full",
                          help="full-covariance VAE (default), diagonal VAE or "
                          "autoencoder")
    localize.add_argument("--compare", nargs="?", const="mxne,gamma_map",
                          default=None, type=_str_list(PEERS), metavar="METHODS",
                          help="also run MNE's solvers on the same whitened data: "
                          "mxne, gamma_map or both (default when given without "
                          "a value: mxne,gamma_map; gamma-MAP can take minutes "
                          "on large source spaces)")
    localize.add_argument("--gamma", type=float, default=1.0,
                          help="noise variance of the whitened data (default 1: "
                          "the noise of this average; larger is sparser)")
    localize.add_argument("--loose", default="auto",
                          help="orientation prior in [0, 1] (0 fixed, 1 free) or "
                          "'auto' (default: 0.2 surface, 1 volume)")
    localize.add_argument("--depth", type=float, default=0.8,
                          help="depth-weighting exponent (default 0.8)")
    localize.add_argument("--subjects-dir", type=Path, default=None,
                          help="FreeSurfer subjects folder for the renders: "
                          "the subject's cortex, or for volume estimates its "
                          "bem/inner_skull.surf (default $SUBJECTS_DIR; "
                          "fsaverage renders on the built-in template without "
                          "one)")
    localize.add_argument("--bem", type=Path, default=None,
                          help="volume estimates: BEM file (-bem.fif, "
                          "-bem-sol.fif) or FreeSurfer surface whose inner "
                          "skull is drawn around the sources")
    localize.add_argument("--views", default=None, metavar="VIEWS",
                          help="comma-separated views of the renders (cortex: "
                          f"{', '.join(CORTEX_VIEWS)}; volume: "
                          f"{', '.join(VOLUME_VIEWS)}); default: the views "
                          "facing the sources, all three for a volume")
    localize.add_argument("--out", type=Path, required=True,
                          help="output folder (see below)")
    add_evidence_flags(localize, seed_help="seed them with --seed")
    localize.add_argument("--seed", type=int, default=None,
                          help="seed of the random starts of --restarts "
                          "(default: unseeded)")
    add_output_flags(localize)
    localize.set_defaults(run=run)
    return localize


def run(args):
    """Check the inputs, announce the work, localize and print what was written.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource localize``.

    Returns
    -------
    code : int
        The exit code, 0.
    """
    from ..localize import LABELS, _execute, _prepare

    loose = args.loose
    if loose != "auto":
        try:
            loose = float(loose)
        except ValueError:
            raise ValueError(f"--loose must be a number in [0, 1] or 'auto', got "
                             f"{loose!r}") from None
    # run_localize in two steps, to announce the work once the inputs passed
    job = _prepare(
        args.evoked, args.forward, args.cov, args.out,
        condition=args.condition, epochs=args.epochs,
        save_epochs=args.save_epochs, tmin=args.tmin, tmax=args.tmax,
        model=args.model, compare=args.compare or False, gamma=args.gamma,
        loose=loose, depth=args.depth, subjects_dir=args.subjects_dir,
        bem=args.bem, views=args.views, render=not args.no_render,
        overwrite=args.overwrite, verbose=None, min_evidence=args.min_evidence,
        learn_noise=args.learn_noise, n_restarts=args.restarts,
        random_state=args.seed, color_by=args.color_by,
    )
    methods = ", ".join(LABELS[m] for m in job.methods)
    if job.shared == "epochs":
        what = f"{len(job.epochs)} epochs (one shared support)"
    elif job.shared == "conditions":
        what = (", ".join(repr(str(ev.comment)) for ev in job.evokeds)
                + " (one shared support)")
    else:
        what = repr(str(job.evoked.comment))
    print(f"localizing {what} with {methods} ...", flush=True)
    result = _execute(job)
    if job.shared is None:
        print_written(result, args)
    else:
        for name, path in result.files.items():
            print(f"wrote {name}: {path}")
    print(result.summary())
    print(f"total {result.wall_time:.1f} s")
    return 0

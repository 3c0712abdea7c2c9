"""``vaesource render``: its options and its run."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(subparsers):
    """Add the ``render`` command.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The commands of ``vaesource``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The command's parser; it runs :func:`run`.
    """
    render = subparsers.add_parser(
        "render",
        help="render saved source estimates (.stc) on the cortex or in a glass brain",
        description="Render one or more saved source estimates to a PNG: "
        "several estimates are drawn side by side with the same cameras and "
        "colour scale. Cortical estimates render on the subject's FreeSurfer "
        "surfaces (--subject, --subjects-dir), or on the built-in template "
        "for fsaverage; volume estimates need their forward solution "
        "(--forward: source space and MRI -> head transform) and render in a "
        "glass brain: the inner skull of --bem or of the subject in "
        "--subjects-dir, else a smooth outline of the source grid.",
        epilog="examples: vaesource render vaesource-demo/full_vae-lh.stc "
        "vaesource-demo/mxne-lh.stc --truth vaesource-demo/truth-lh.stc "
        "--out comparison.png; vaesource render "
        "vaesource-localize/full_vae-lh.stc --summary "
        "vaesource-localize/summary.json --color-by evidence --out "
        "evidence.png",
    )
    render.add_argument("stc", type=Path, nargs="+",
                        help="source estimate file(s) (-lh.stc, -rh.stc or -vl.stc)")
    render.add_argument("--labels", default=None,
                        help="comma-separated titles, one per estimate "
                        "(default: file names)")
    render.add_argument("--truth", type=Path, default=None,
                        help="ground-truth estimate, drawn as rings (cortex)")
    render.add_argument("--subject", default=None,
                        help="FreeSurfer subject (default: the estimate's, "
                        "else fsaverage)")
    render.add_argument("--subjects-dir", type=Path, default=None,
                        help="FreeSurfer subjects folder (default $SUBJECTS_DIR)")
    render.add_argument("--forward", type=Path, default=None,
                        help="forward solution whose source space the estimates "
                        "use (checks the vertices; needed for volume estimates)")
    render.add_argument("--bem", type=Path, default=None,
                        help="volume estimates: BEM file or FreeSurfer surface "
                        "whose inner skull is drawn around the sources")
    render.add_argument("--surface", choices=("inflated", "white", "pial"),
                        default="inflated", help="cortical surface (default inflated)")
    render.add_argument("--views", default=None,
                        help="comma-separated views (cortex: lateral, medial, "
                        "dorsal, ventral, anterior, posterior; volume: sagittal, "
                        "coronal, axial); default: lateral, medial, dorsal for "
                        "one cortical estimate, the views facing the sources "
                        "for several, all three for a volume")
    render.add_argument("--time", type=float, default=None,
                        help="time (s) to show; default: each source at its peak")
    render.add_argument("--min-fraction", type=float, default=0.0,
                        help="leave out sources below this fraction of the "
                        "strongest (default 0: draw all). The full VAE's "
                        ".stc files written by localize and demo hold only "
                        "the sources selected by their evidence and need no "
                        "cut; this is for other estimates")
    render.add_argument("--color-by", choices=("amplitude", "evidence",
                                               "probability"),
                        default="amplitude",
                        help="colour of the sources (their size is the "
                        "amplitude): peak amplitude (default), evidence (log "
                        "scale) or posterior probability of being real; the "
                        "last two read the per-source table of --summary and "
                        "render one estimate")
    render.add_argument("--summary", type=Path, default=None,
                        help="summary.json of the vaesource localize run "
                        "that wrote the estimate (for --color-by evidence or "
                        "probability)")
    render.add_argument("--title", default=None, help="figure title")
    render.add_argument("--out", type=Path, required=True, help="output PNG file")
    render.add_argument("--overwrite", action="store_true",
                        help="replace an existing PNG")
    render.set_defaults(run=run)
    return render


def run(args):
    """Render the estimates to the PNG, unless it exists without --overwrite.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of ``vaesource render``.

    Returns
    -------
    code : int
        The exit code: 0, or 2 if the PNG exists already.
    """
    from ..render import render_files

    if args.out.exists() and not args.overwrite:
        print(f"error: {args.out} already exists; use --overwrite to replace",
              file=sys.stderr)
        return 2
    labels = None
    if args.labels is not None:
        labels = [v.strip() for v in args.labels.split(",")]
    views = None
    if args.views is not None:
        views = tuple(v.strip() for v in args.views.split(",") if v.strip())
    render_files(
        args.stc, args.out, labels=labels, truth=args.truth, subject=args.subject,
        subjects_dir=args.subjects_dir, forward=args.forward, bem=args.bem,
        surface=args.surface, views=views, time=args.time,
        min_fraction=args.min_fraction, color_by=args.color_by,
        summary=args.summary, title=args.title,
    )
    print(f"wrote {args.out}")
    return 0

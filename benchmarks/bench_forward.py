"""Benchmark the built-in Sarvas forward model and the template head cache.

Prints:

1. the time of :func:`vaesource.forward.make_sphere_forward` against
   :func:`mne.make_forward_solution` with the same MEG-only sphere model, on
   the template's 306-channel VectorView-like array and its cortical source
   space, with the largest relative difference between the two gains;
2. the first build of :func:`vaesource.datasets.template` (in a fresh
   process and an empty cache folder, imports included) and its cached load;
3. the time of :func:`vaesource.forward.meg_dictionary` once cached.

Timings are the best of ``--repeat`` runs after a warm-up run.

Usage::

    python benchmarks/bench_forward.py [--spacing ico4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time


def _best_time(func, repeat):
    func()  # warm-up: imports, coil definitions, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _in_fresh_process(code):
    """Run ``code`` in a new interpreter; return its wall time in seconds."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacing", default="ico4", choices=("ico3", "ico4", "ico5"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import mne
    import numpy as np

    from vaesource.datasets import template
    from vaesource.forward import make_sphere_forward, meg_dictionary

    mne.set_log_level("warning")
    with tempfile.TemporaryDirectory(prefix="vaesource-bench-") as cache:
        # -- 2. template build (cold, separate process) and cached load ----
        build_code = (
            "from vaesource.datasets import template; "
            f"template({args.spacing!r}, sensors='meg', cache_dir={cache!r})"
        )
        t_build = _in_fresh_process(build_code)
        t_load_process = _in_fresh_process(build_code)
        t_load, tmpl = _best_time(
            lambda: template(args.spacing, sensors="meg", cache_dir=cache),
            args.repeat,
        )

        # -- 1. Sarvas vs MNE on the template's MEG array --------------------
        info = tmpl.info
        src = tmpl.src  # head coordinates: no transform needed
        r0 = tmpl.sphere["r0"]
        sphere = mne.make_sphere_model(r0=r0, head_radius=None, verbose=False)
        t_ours, fwd = _best_time(
            lambda: make_sphere_forward(info, src, origin=r0), args.repeat
        )
        t_mne, fwd_mne = _best_time(
            lambda: mne.make_forward_solution(info, None, src, sphere, verbose=False),
            max(1, args.repeat - 1),
        )
        G, G_mne = fwd["sol"]["data"], fwd_mne["sol"]["data"]
        rel_err = np.abs(G - G_mne).max() / np.abs(G_mne).max()

        # -- 3. the benchmark dictionary --------------------------------------
        meg_dictionary(cache_dir=cache)  # builds its small geometry file
        from vaesource.forward import dictionary as dictionary_module

        def fresh_dictionary():
            dictionary_module._geometry.cache_clear()
            dictionary_module._cached_dictionary.cache_clear()
            return meg_dictionary(cache_dir=cache)

        t_dict_cold, _ = _best_time(fresh_dictionary, args.repeat)
        t_dict_memo, _ = _best_time(
            lambda: meg_dictionary(cache_dir=cache), args.repeat
        )

    n_src, n_ch = fwd["nsource"], fwd["nchan"]
    print(f"Template MEG array: {n_ch} channels, {args.spacing}: {n_src} sources")
    print(f"  vaesource.make_sphere_forward : {t_ours:7.3f} s")
    print(f"  mne.make_forward_solution     : {t_mne:7.3f} s")
    print(f"  speed-up                      : {t_mne / t_ours:7.1f} x (target >= 5)")
    print(f"  max |G - G_mne| / max |G_mne| : {rel_err:.1e}")
    print(f"Template {args.spacing}/meg")
    print(f"  first build, fresh process    : {t_build:7.2f} s (target < 20)")
    print(
        f"  cached load, fresh process    : {t_load_process:7.2f} s (imports included)"
    )
    print(f"  cached load, in process       : {t_load:7.3f} s (target < 1)")
    print("meg_dictionary(100, 200)")
    print(f"  first call in a process       : {t_dict_cold:7.3f} s (target < 0.2)")
    print(f"  memoised call                 : {t_dict_memo * 1e6:7.1f} us")


if __name__ == "__main__":
    main()

"""Solver speed on the paper's problems, and full_vae against MNE's gamma-MAP.

Run:  python benchmarks/bench_solvers.py [--trials 20]
Same as ``vaesource bench speed``; see :mod:`vaesource.benchmark.speed` for
what it prints and how the comparison with MNE is made fair.
"""

import argparse

from vaesource.benchmark.speed import run_speed

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    run_speed(parser.parse_args().trials)

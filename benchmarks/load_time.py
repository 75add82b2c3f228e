"""How long ``nn.load`` takes as a model grows: the load must stay linear in its size.

For each size an MLP is saved once, then loaded ``--reps`` times; the table
shows the file size, the median load time (parse, validation and building the
model) and the time per parameter, which stays flat when loading is linear.
The goal: well under a second for 162,001 parameters.

    python benchmarks/load_time.py            # the table (about half a minute)
    python benchmarks/load_time.py --reps 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

# The repository's own packages, when run from a checkout without installing.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nn import MLP, load, save

# nin, nouts: 1,051 / 41,001 / 162,001 parameters (the last two from the report
# of a quadratic loader: 7.7 s and 115 s before the fix).
SIZES = [(2, [30, 30, 1]), (2, [200, 200, 1]), (2, [400, 400, 1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="loads per size (median shown)")
    args = parser.parse_args()
    print("| parameters | file size | load (median) | per parameter |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for nin, nouts in SIZES:
            model = MLP(nin, nouts, seed=0)
            path = os.path.join(folder, "model.json")
            save(model, path)
            times = []
            for _ in range(args.reps):
                start = time.perf_counter()
                again = load(path)
                times.append(time.perf_counter() - start)
            if again.state_dict() != model.state_dict():
                raise SystemExit(f"load_time: the loaded MLP({nin}, {nouts}) differs")
            n = model.num_parameters()
            t = statistics.median(times)
            size = os.path.getsize(path) / 1e6
            print(f"| {n:,} | {size:.1f} MB | {t:.3f} s | {1e6 * t / n:.1f} µs |")


if __name__ == "__main__":
    main()

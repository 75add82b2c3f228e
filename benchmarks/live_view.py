"""What the live view costs: micrograd's demo trained with and without ``LiveView``.

Run from the repository root::

    python benchmarks/live_view.py            # 3 interleaved runs of each, medians
    python benchmarks/live_view.py --reps 5

The run is micrograd's demo (MLP 2-16-16-1 on 100 moons points, hinge loss +
1e-4 * sum p^2, SGD lr 1.0 -> 0.1, 100 full-batch epochs), once plain and
once with ``LiveView(data)`` redrawing the curves and a 24 x 24 decision
boundary.  The view is handed a display handle that keeps each picture (as a
notebook would receive it), so the drawing is timed in full.  The target: the
live run takes at most 20% longer than the plain one.  Times are the process's
CPU time (``time.process_time``): on a shared machine, wall-clock time mostly
measures the neighbours.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nn import MLP, SGD, LinearLR, fit, moons  # noqa: E402
from nn.live import LiveView  # noqa: E402

TARGET = 0.20


class Keep:
    """A display handle that keeps what it is given, as a notebook front end would."""

    def __init__(self) -> None:
        self.pictures = []

    def update(self, picture) -> None:
        self.pictures.append(picture._repr_mimebundle_())


def train(live: bool, epochs: int) -> tuple[float, LiveView | None]:
    data = moons(100, noise=0.1)
    model = MLP(2, [16, 16, 1], seed=0)
    opt = SGD(model.parameters(), lr=1.0)
    handle = Keep()
    view = LiveView(data, display=lambda picture, display_id: handle) if live else None
    gc.collect()
    start = time.process_time()
    fit(
        model,
        data,
        loss="hinge",
        l2=1e-4,
        optimizer=opt,
        epochs=epochs,
        lr_schedule=LinearLR(opt, total_iters=epochs),
        callbacks=[view] if view else [],
        verbose=False,
    )
    return time.process_time() - start, view


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    plain, live, drawn, redraws = [], [], [], []
    for _ in range(args.reps):  # interleaved, so both see the same machine load
        plain.append(train(False, args.epochs)[0])
        seconds, view = train(True, args.epochs)
        live.append(seconds)
        drawn.append(view.seconds)
        redraws.append(view.redraws)
    p, q = statistics.median(plain), statistics.median(live)
    overhead = (q - p) / p
    print(f"micrograd's demo, {args.epochs} epochs, median of {args.reps} interleaved runs")
    print(f"  fit alone:           {p:.3f} s CPU  (runs: {', '.join(f'{t:.2f}' for t in plain)})")
    print(f"  fit with LiveView:   {q:.3f} s CPU  (runs: {', '.join(f'{t:.2f}' for t in live)})")
    print(
        f"  pictures:            {statistics.median(redraws):.0f}, "
        f"{statistics.median(drawn):.3f} s of drawing (wall clock, as LiveView counts it)"
    )
    print(f"  overhead:            {100 * overhead:.1f}%  (target <= {100 * TARGET:.0f}%)")
    return 0 if overhead <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

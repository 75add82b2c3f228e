"""tapegrad against micrograd 0.1.0 (and hand-written code, PyTorch scalars): tables and a plot.

Run from the repository root, after ``pip install micrograd==0.1.0``::

    python benchmarks/run.py                 # prints the markdown table
    python benchmarks/run.py --out bench.md  # and writes it to a file
    python benchmarks/run.py --quick         # fewer repetitions, a rough table

What is timed (all engines in one process, interleaved, medians, garbage
collector on as in a real training loop; a full collection runs untimed
before each block so that no engine pays for another's garbage):

- micrograd's demo step: MLP 2-16-16-1 (337 parameters) on 100 two-moons
  points, hinge loss mean(relu(1 - y * score)) + 1e-4 * sum(p^2), forward,
  backward, SGD with lr = 1 - 0.9 k / 100, graph teardown included.  Before
  timing, and again at the trained weights after it, every engine's loss and
  337 gradients are checked against micrograd's at the same weights (1e-9).
  tapegrad's eager engine runs it twice: on micrograd's demo code as written
  (Python's ``sum`` over the per-sample losses, ``sum(p*p for p in params)``)
  and with ``nn.functional.hinge`` and ``l2_penalty``.
- the same loop of 10 steps in a fresh Python process per engine (model
  building and tape compilation included, imports excluded);
- a 20,000-op chain x = x * w + 0.01 (forward and backward);
- bytes per node (tracemalloc) and the deepest chain backward handles;
- scaling: the demo network widened (hidden sizes 4 to 64) and fed more
  samples (100 to 1,000), time per step for every mode (micrograd where a
  step takes a few seconds at most), bytes per node of the eager graph; the
  table and a plot (``benchmarks/scaling.png``).

PyTorch, when installed, is timed in a subprocess of its own against a
micrograd run in that same process: importing torch adds ~170,000 objects
that the garbage collector then walks in every engine's loop, which is not
the heap of someone training with micrograd or tapegrad.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]  # this checkout's autograd and nn, and handwritten.py

import handwritten  # noqa: E402

import nn  # noqa: E402
from autograd import Value, topological_order  # noqa: E402
from autograd.compile import trace  # noqa: E402
from autograd.files import write_atomic  # noqa: E402
from nn import functional as F  # noqa: E402
from nn.compiled_loss import compile_loss  # noqa: E402

SIZES = [2, 16, 16, 1]
ALPHA = 1e-4
TOLERANCE = 1e-9

try:
    import micrograd.engine as mg_engine
    import micrograd.nn as mg_nn
except ImportError:  # pragma: no cover - the benchmark's one requirement
    sys.exit("benchmarks need micrograd 0.1.0: pip install micrograd==0.1.0")


def have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def moons():
    """micrograd's demo data: 100 two-moons points, noise 0.1, labels -1/+1 (as floats)."""
    data = nn.moons(100, noise=0.1, seed=0).signed()
    return [[float(a) for a in row] for row in data.X], [float(v) for v in data.y]


def micrograd_weights(seed: int = 1337, sizes=SIZES) -> list[float]:
    """The initial weights of micrograd's MLP(sizes) (2, [16, 16, 1]) after random.seed(seed)."""
    import random

    random.seed(seed)
    return [p.data for p in mg_nn.MLP(sizes[0], list(sizes[1:])).parameters()]


def lr_at(k: int) -> float:
    return 1.0 - 0.9 * k / 100


# The engines: each builds from a flat weight list and runs steps ------------------------------


class Micrograd:
    name = "micrograd 0.1.0"

    def __init__(self, weights, X, Y, sizes=SIZES):
        self.model = mg_nn.MLP(sizes[0], list(sizes[1:]))
        self.params = self.model.parameters()
        for p, w in zip(self.params, weights):
            p.data = w
        self.X, self.Y = X, Y

    def loss(self):
        # micrograd's demo, as written in its notebook.
        inputs = [list(map(mg_engine.Value, row)) for row in self.X]
        scores = list(map(self.model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(self.Y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in self.params)
        return data_loss + reg_loss

    def loss_and_grads(self):
        total = self.loss()
        self.model.zero_grad()
        total.backward()
        return total.data, [p.grad for p in self.params]

    def step(self, k):
        total = self.loss()
        self.model.zero_grad()
        total.backward()
        lr = lr_at(k)
        for p in self.params:
            p.data -= lr * p.grad
        return total.data

    def weights(self):
        return [p.data for p in self.params]


class EagerMicrogradCode:
    """micrograd's demo code as written, with tapegrad's imports: what a learner brings."""

    name = "tapegrad eager, micrograd's demo code"

    def __init__(self, weights, X, Y, sizes=SIZES):
        self.model = nn.MLP(sizes[0], list(sizes[1:]))
        self.params = self.model.parameters()
        for p, w in zip(self.params, weights):
            p.data = w
        self.X, self.Y = X, Y

    def loss(self):
        # Line for line the loss of micrograd's demo notebook (Value from tapegrad).
        inputs = [list(map(Value, xrow)) for xrow in self.X]
        scores = list(map(self.model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(self.Y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum(p * p for p in self.model.parameters())
        return data_loss + reg_loss

    def loss_and_grads(self):
        total = self.loss()
        self.model.zero_grad()
        total.backward()
        return total.data, [p.grad for p in self.params]

    def step(self, k):
        total = self.loss()
        self.model.zero_grad()
        total.backward()
        learning_rate = lr_at(k)
        for p in self.model.parameters():
            p.data -= learning_rate * p.grad
        return total.data

    def weights(self):
        return [p.data for p in self.params]


class Eager:
    name = "tapegrad eager, nn.functional"

    def __init__(self, weights, X, Y, sizes=SIZES):
        self.model = nn.MLP(sizes[0], list(sizes[1:]))
        self.params = self.model.parameters()
        for p, w in zip(self.params, weights):
            p.data = w
        self.X, self.Y = X, Y
        self.opt = nn.SGD(self.params, lr=1.0)

    def loss(self):
        scores = [self.model([Value(a) for a in row]) for row in self.X]
        return F.hinge(scores, self.Y) + ALPHA * F.l2_penalty(self.params)

    def loss_and_grads(self):
        total = self.loss()
        self.opt.zero_grad()
        total.backward()
        return total.data, [p.grad for p in self.params]

    def step(self, k):
        total = self.loss()
        self.opt.zero_grad()
        total.backward()
        self.opt.lr = lr_at(k)
        self.opt.step()
        return total.data

    def weights(self):
        return [p.data for p in self.params]


class Compiled(Eager):
    """A one-sample tape looped over the data (``compile_loss``) plus a tape for the penalty."""

    name = "tapegrad compiled tape"
    batch = False

    def __init__(self, weights, X, Y, sizes=SIZES):
        super().__init__(weights, X, Y, sizes)
        start = time.perf_counter()
        self.sample = compile_loss(
            self.model, lambda score, y: (1 + -y * score).relu(), X[0], Y[0], targets="input"
        )
        self.penalty = trace(
            lambda: ALPHA * nn.functional.l2_penalty(self.params), params=self.params
        )
        if self.batch:
            import numpy as np

            self.X, self.Y = np.array(X), np.array(Y)  # once, as a loader would
        self.build_seconds = time.perf_counter() - start

    def loss_and_grads(self):
        self.opt.zero_grad()
        data_loss = self.sample.sum_over(self.X, self.Y, scale=1.0 / len(self.Y), batch=self.batch)
        reg, grads = self.penalty()
        for p, g in zip(self.params, grads):
            p.grad += g
        return data_loss + reg, [p.grad for p in self.params]

    def step(self, k):
        total, _ = self.loss_and_grads()
        self.opt.lr = lr_at(k)
        self.opt.step()
        return total


class Batch(Compiled):
    name = "tapegrad batch replay (numpy)"
    batch = True


class Matrix:
    """The same two tapes lowered to matrices (``autograd.matrix.lower``): one product per layer.

    The weights live in one numpy array between steps, as they do for the
    hand-written numpy step it is compared with: the replay reads them from
    there and the SGD update is one vector operation.
    """

    name = "tapegrad matrix lowering (numpy)"

    def __init__(self, weights, X, Y, sizes=SIZES):
        import numpy as np

        from autograd.matrix import lower

        start = time.perf_counter()
        model = nn.MLP(sizes[0], list(sizes[1:]))
        params = model.parameters()
        for p, w in zip(params, weights):
            p.data = w

        def hinge(x, y):
            return (1 + -y * model(x)).relu()

        def penalty():
            return ALPHA * F.l2_penalty(params)

        self.loss_tape = lower(trace(hinge, X[0], Y[0], params=params))
        self.penalty = lower(trace(penalty, params=params))
        self.w = np.array(weights, dtype=np.float64)
        self.X, self.Y = np.array(X), np.array(Y)  # once, as a loader would
        self.scale = 1.0 / len(Y)
        self.build_seconds = time.perf_counter() - start

    def _loss_and_grads(self):
        value, grads = self.loss_tape(self.X, self.Y, params=self.w)
        reg, reg_grads = self.penalty(params=self.w)
        return value * self.scale + reg, grads * self.scale + reg_grads

    def loss_and_grads(self):
        total, grads = self._loss_and_grads()
        return total, grads.tolist()

    def step(self, k):
        total, grads = self._loss_and_grads()
        self.w -= lr_at(k) * grads
        return total

    def weights(self):
        return self.w.tolist()


class Handwritten:
    name = "hand-written pure Python"

    def __init__(self, weights, X, Y, sizes=SIZES):
        self.flat = list(weights)
        self.sizes = list(sizes)
        self.X, self.Y = X, Y

    def loss_and_grads(self):
        return handwritten.loss_and_grads(self.flat, self.sizes, self.X, self.Y, ALPHA)

    def step(self, k):
        return handwritten.step(self.flat, self.sizes, self.X, self.Y, lr_at(k), ALPHA)

    def weights(self):
        return list(self.flat)


class HandwrittenNumpy:
    name = "hand-written numpy (matrices)"

    def __init__(self, weights, X, Y, sizes=SIZES):
        import numpy as np

        self.flat = np.array(weights, dtype=np.float64)
        self.sizes = list(sizes)
        self.X, self.Y = np.array(X), np.array(Y)

    def loss_and_grads(self):
        loss, grads = handwritten.numpy_loss_and_grads(self.flat, self.sizes, self.X, self.Y)
        return float(loss), grads.tolist()

    def step(self, k):
        return handwritten.numpy_step(self.flat, self.sizes, self.X, self.Y, lr_at(k), ALPHA)

    def weights(self):
        return self.flat.tolist()


class TorchScalars:
    """micrograd's demo with every number a 0-d float64 torch tensor: PyTorch as a scalar engine."""

    name = "PyTorch scalar tensors"

    def __init__(self, weights, X, Y):
        import torch

        self.torch = torch
        self.params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
        self.layers = handwritten.split(weights, SIZES)
        self.X, self.Y = X, Y

    def loss(self):
        torch = self.torch
        total = torch.tensor(0.0, dtype=torch.float64)
        last = len(self.layers) - 1
        for row, y in zip(self.X, self.Y):
            h = [torch.tensor(a, dtype=torch.float64) for a in row]
            for li, layer in enumerate(self.layers):
                z = []
                for ws, b in layer:
                    s = self.params[b]
                    for i, hi in zip(ws, h):
                        s = s + self.params[i] * hi
                    z.append(s)
                h = z if li == last else [torch.relu(v) for v in z]
            total = total + torch.relu(1 - y * h[0])
        reg = sum(p * p for p in self.params)
        return total * (1.0 / len(self.Y)) + ALPHA * reg

    def loss_and_grads(self):
        for p in self.params:
            p.grad = None
        total = self.loss()
        total.backward()
        return total.item(), [p.grad.item() for p in self.params]

    def step(self, k):
        value, _ = self.loss_and_grads()
        with self.torch.no_grad():
            for p in self.params:
                p -= lr_at(k) * p.grad
        return value

    def weights(self):
        return [p.item() for p in self.params]


ENGINES = {
    "micrograd": Micrograd,
    "eager_mg": EagerMicrogradCode,
    "eager": Eager,
    "compiled": Compiled,
    "batch": Batch,
    "matrix": Matrix,
    "handwritten": Handwritten,
    "numpy": HandwrittenNumpy,
    "torch": TorchScalars,
}
NUMPY_ENGINES = ("batch", "matrix", "numpy")


def check_against_micrograd(engines: dict, weights, X, Y, when: str) -> float:
    """Every engine's loss and 337 gradients at ``weights`` against micrograd's (1e-9)."""
    ref_loss, ref_grads = Micrograd(weights, X, Y).loss_and_grads()
    worst = 0.0
    for cls in engines.values():
        loss, grads = cls(weights, X, Y).loss_and_grads()
        if len(grads) != 337:
            sys.exit(f"check ({when}): {cls.name} returned {len(grads)} gradients, not 337")
        diffs = [abs(loss - ref_loss)] + [abs(a - b) for a, b in zip(grads, ref_grads)]
        scale = [max(1.0, abs(ref_loss))] + [max(1.0, abs(b)) for b in ref_grads]
        err = max(d / s for d, s in zip(diffs, scale))
        if not err <= TOLERANCE:
            sys.exit(f"check ({when}): {cls.name} differs from micrograd by {err:.3g} > 1e-9")
        worst = max(worst, err)
    return worst


# Timings --------------------------------------------------------------------------------------


def time_block(engine, steps: int) -> float:
    """Seconds per step over ``steps`` steps (k = 0, 1, ...), after an untimed full collection."""
    gc.collect()
    start = time.perf_counter()
    for k in range(steps):
        engine.step(k)
    return (time.perf_counter() - start) / steps


def demo_step(engines: dict, weights, X, Y, reps: int) -> dict:
    """Median seconds per step for each engine, blocks interleaved, each from the same weights."""
    steps = {"micrograd": 2, "torch": 2, "eager": 10, "eager_mg": 10, "matrix": 100, "numpy": 100}
    times: dict = {key: [] for key in engines}
    for rep in range(reps):
        keys = list(engines)
        keys = keys[rep % len(keys) :] + keys[: rep % len(keys)]  # rotate who goes first
        for key in keys:
            engine = engines[key](weights, X, Y)
            times[key].append(time_block(engine, steps.get(key, 30)))
    return {key: statistics.median(ts) for key, ts in times.items()}


def fresh_loop(key: str, steps: int) -> dict:
    """In this (fresh) process: build the engine and run ``steps`` steps; seconds and loss."""
    X, Y = moons()
    weights = micrograd_weights()
    imports = {
        "batch": ["numpy", "autograd.batch"],
        "matrix": ["numpy", "autograd.matrix"],
        "numpy": ["numpy"],
        "torch": ["torch"],
    }
    # Imports are not part of the loop: nn loads its modules on first use, so load them now.
    for module in ["nn.layers", "nn.module", "nn.optim", *imports.get(key, [])]:
        __import__(module)
    if key in ("compiled", "batch", "matrix"):
        __import__("autograd.compile")
    start = time.perf_counter()
    engine = ENGINES[key](weights, X, Y)
    for k in range(steps):
        loss = engine.step(k)
    return {"seconds": time.perf_counter() - start, "loss": loss}


CHAIN_OPS = 20_000


class recursion_limit:
    """Run a block with another recursion limit (micrograd's topological sort recurses)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __enter__(self):
        self.saved = sys.getrecursionlimit()
        sys.setrecursionlimit(self.limit)

    def __exit__(self, *exc):
        sys.setrecursionlimit(self.saved)


def chain_micrograd():
    x, w = mg_engine.Value(0.5), mg_engine.Value(0.9)
    for _ in range(CHAIN_OPS // 2):
        x = x * w + 0.01
    with recursion_limit(4 * CHAIN_OPS):
        x.backward()
    return x.data, w.grad


def chain_eager():
    x, w = Value(0.5), Value(0.9)
    for _ in range(CHAIN_OPS // 2):
        x = x * w + 0.01
    x.backward()
    return x.data, w.grad


def chain_handwritten():
    xs, x, w = [], 0.5, 0.9
    for _ in range(CHAIN_OPS // 2):
        xs.append(x)
        x = x * w + 0.01
    g, gw = 1.0, 0.0
    for xk in reversed(xs):
        gw += g * xk
        g *= w
    return x, gw


def chain_torch():
    import torch

    x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(CHAIN_OPS // 2):
        y = y * w + 0.01
    y.backward()
    return y.item(), w.grad.item()


def chain_benchmark(reps: int, keys) -> dict:
    """Median seconds for forward + backward of the chain; the tape's build time too."""
    w = Value(0.9)

    def chain(x):
        for _ in range(CHAIN_OPS // 2):
            x = x * w + 0.01
        return x

    start = time.perf_counter()
    tape = trace(chain, 0.5, params=[w])
    build = time.perf_counter() - start
    every = {
        "micrograd": chain_micrograd,
        "eager": chain_eager,
        "compiled": lambda: tape(0.5),
        "handwritten": chain_handwritten,
        "torch": chain_torch,
    }
    runs = {key: every[key] for key in keys if key in every}
    ref = chain_handwritten()
    for key, run in runs.items():
        value, grad = run()
        grad = grad[0] if isinstance(grad, list) else grad
        if abs(value - ref[0]) > 1e-9 or abs(grad - ref[1]) > 1e-9 * max(1.0, abs(ref[1])):
            sys.exit(f"chain: {key} gives {value}, {grad}; by hand {ref}")
    times: dict = {key: [] for key in runs}
    for _ in range(reps):
        for key, run in runs.items():
            gc.collect()
            start = time.perf_counter()
            run()
            gc.collect(0)  # teardown of this run's graph counts (micrograd's needs the collector)
            times[key].append(time.perf_counter() - start)
    result = {key: statistics.median(ts) for key, ts in times.items()}
    result["build"] = build
    return result


# Memory and depth -----------------------------------------------------------------------------


def micrograd_nodes(root) -> int:
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(v._prev)
    return len(seen)


def bytes_per_node() -> dict:
    """tracemalloc's count of bytes held by a graph after forward and backward, per node."""
    X, Y = moons()
    weights = micrograd_weights()
    result = {}

    def measure(build, count):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        root = build()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        return held / count(root)

    def tg_chain():
        x, w = Value(0.5), Value(0.9)
        for _ in range(50_000):
            x = x * w + 0.01
        x.backward()
        return x

    def mg_chain():
        x, w = mg_engine.Value(0.5), mg_engine.Value(0.9)
        for _ in range(50_000):
            x = x * w + 0.01
        with recursion_limit(400_000):
            x.backward()
        return x

    result["chain", "eager"] = measure(tg_chain, lambda r: len(topological_order(r)))
    result["chain", "micrograd"] = measure(mg_chain, micrograd_nodes)
    eager, mg = Eager(weights, X, Y), Micrograd(weights, X, Y)

    def demo(engine):
        def build():
            total = engine.loss()
            total.backward()
            return total

        return build

    result["demo", "eager"] = measure(demo(eager), lambda r: len(topological_order(r)))
    result["demo", "micrograd"] = measure(demo(mg), micrograd_nodes)
    gc.collect()
    return result


def deepest_chain(limit: int) -> dict:
    """The eager engine on a ``limit``-deep chain, and where micrograd's recursion gives up."""
    x = Value(0.5)
    start = time.perf_counter()
    for _ in range(limit):
        x = -x
    x.backward()
    eager_seconds = time.perf_counter() - start
    del x

    def micrograd_ok(depth: int) -> bool:
        x = mg_engine.Value(0.5)
        for _ in range(depth):
            x = x.relu()
        try:
            with recursion_limit(1000):  # Python's default
                x.backward()
        except RecursionError:
            return False
        return True

    lo, hi = 1, 10_000
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if micrograd_ok(mid) else (lo, mid)
    gc.collect()
    return {"eager": limit, "eager_seconds": eager_seconds, "micrograd": lo}


# The table ------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms" if seconds < 0.1 else f"{seconds * 1e3:.0f} ms"
    return f"{seconds * 1e6:.0f} µs"


def ratio(ref: float, t: float | None) -> str:
    return "–" if t is None else f"{ref / t:,.0f}×" if ref / t >= 10 else f"{ref / t:.1f}×"


def table(r: dict) -> str:
    """The markdown report: timings with ratios, memory and depth, the targets."""
    demo, fresh, chain = r["demo"], r["fresh"], r["chain"]
    # Each engine is compared with the micrograd run of its own process.
    ref = {key: (demo["micrograd"], chain["micrograd"]) for key in demo}
    if "torch" in r:
        t = r["torch"]
        demo["torch"], chain["torch"] = t["demo"]["torch"], t["chain"]["torch"]
        ref["torch"] = (t["demo"]["micrograd"], t["chain"]["micrograd"])
    versions = "".join(
        f", {name} {r[key]}"
        for name, key in (("numpy", "numpy_version"), ("torch", "torch_version"))
        if r.get(key)
    )
    lines = [
        f"### Benchmarks ({r['date']})",
        "",
        f"Machine: {r['machine']}; micrograd 0.1.0{versions}.",
        "",
        "micrograd's demo step: MLP 2-16-16-1 (337 parameters), 100 two-moons points, "
        "hinge loss + 1e-4·Σp², forward + backward + SGD, graph teardown included; "
        f"median of {r['reps']} interleaved runs with the garbage collector on. "
        "Before and after timing, every engine's loss and 337 gradients matched micrograd's "
        f"at the same weights (largest difference {r['check']:.1e}; tolerance 1e-9). "
        "Fresh process: build the model (and compile the tape) and run 10 steps in a new "
        f"Python process, median of {r['fresh_reps']}.",
        "",
        "| engine | demo step | vs micrograd | fresh process, 10 steps | vs micrograd "
        f"| {CHAIN_OPS:,}-op chain | vs micrograd |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    mg_fresh = fresh["micrograd"]["seconds"]
    for key in r["engines"]:
        d, c = demo.get(key), chain.get(key)
        f = fresh.get(key, {}).get("seconds")
        note = " ¹" if key == "torch" else ""
        lines.append(
            f"| {ENGINES[key].name}{note} | {fmt_time(d)} | {ratio(ref[key][0], d)} "
            f"| {fmt_time(f) if f else '–'} | {ratio(mg_fresh, f)} "
            f"| {fmt_time(c) if c else '–'} | {ratio(ref[key][1], c) if c else '–'} |"
        )
    if "torch" in r:
        lines += [
            "",
            "¹ timed in a process of its own against micrograd in that process "
            f"(micrograd there: {fmt_time(ref['torch'][0])} per step), so that importing "
            "torch does not enlarge the heap the garbage collector walks for the others.",
        ]
    mem, depth = r["memory"], r["depth"]
    lines += [
        "",
        "| memory and depth | micrograd 0.1.0 | tapegrad |",
        "|---|---:|---:|",
        f"| bytes per node, 150,000-node chain after backward | "
        f"{mem['chain', 'micrograd']:.0f} | {mem['chain', 'eager']:.0f} |",
        f"| bytes per node, demo loss graph after backward | "
        f"{mem['demo', 'micrograd']:.0f} | {mem['demo', 'eager']:.0f} |",
        f"| deepest chain backward handles | {depth['micrograd']:,} "
        f"(RecursionError beyond, default limit) | {depth['eager']:,} tested "
        f"({depth['eager_seconds']:.1f} s) |",
        f"| tape build (trace + compile): demo one-sample tape + penalty tape | – | "
        f"{fmt_time(r['build'])} |",
        f"| tape build: {CHAIN_OPS:,}-op chain | – | {fmt_time(chain['build'])} |",
        "",
    ]
    mg = demo["micrograd"]
    mg_code = mg / demo["eager_mg"]
    mg_code_fresh = mg_fresh / fresh["eager_mg"]["seconds"]
    eager_fresh = mg_fresh / fresh["eager"]["seconds"]
    hand = demo["compiled"] / demo["handwritten"]
    checks = [
        (f"eager on micrograd's demo code ≥ 20× micrograd: {mg_code:,.1f}×", mg_code >= 20),
        (
            f"eager on micrograd's demo code, fresh 10-step loop ≥ 30×: {mg_code_fresh:,.0f}×",
            mg_code_fresh >= 30,
        ),
        (
            f"eager with nn.functional ≥ 20× micrograd: {mg / demo['eager']:,.0f}×",
            mg / demo["eager"] >= 20,
        ),
        (
            f"eager with nn.functional, fresh 10-step loop ≥ 30×: {eager_fresh:,.0f}×",
            eager_fresh >= 30,
        ),
        (f"≤ 200 bytes per node: {mem['chain', 'eager']:.0f}", mem["chain", "eager"] <= 200),
        (f"1,000,000-deep chains: {depth['eager']:,} tested", depth["eager"] >= 1_000_000),
        (
            f"compiled demo step ≥ 150× micrograd: {mg / demo['compiled']:,.0f}×",
            mg / demo["compiled"] >= 150,
        ),
        (f"compiled within 1.5× of hand-written Python: {hand:.2f}×", hand <= 1.5),
        (f"tape build under 100 ms: {fmt_time(r['build'])}", r["build"] < 0.1),
    ]
    if "batch" in demo:
        got = mg / demo["batch"]
        checks.append((f"batch replay demo step ≥ 400× micrograd: {got:,.0f}×", got >= 400))
    if "matrix" in demo:
        got = mg / demo["matrix"]
        near = demo["matrix"] / demo["numpy"]
        checks += [
            (f"matrix lowering demo step ≥ 2,000× micrograd: {got:,.0f}×", got >= 2000),
            (f"matrix lowering within 3× of hand-written numpy: {near:.2f}×", near <= 3),
        ]
    lines += ["The targets we hold ourselves to:", ""]
    lines += [f"- {what} {'✓' if ok else '✗'}" for what, ok in checks]
    return "\n".join(lines) + "\n"


# Scaling -------------------------------------------------------------------------------------

SCALING = [(4, 100), (8, 100), (16, 100), (32, 100), (64, 100), (16, 300), (16, 1000)]
SCALING_MODES = ["micrograd", "eager_mg", "eager", "compiled", "batch", "matrix", "numpy"]
MICROGRAD_BUDGET = 5.0  # seconds per step beyond which micrograd is not run


def n_params(sizes) -> int:
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def scaling(modes, demo_micrograd: float, budget: float = 0.4) -> list[dict]:
    """Seconds per step of each mode on wider networks and more samples, and eager bytes/node.

    Each mode runs one untimed step, then as many steps as fit in about ``budget``
    seconds (at least one; the median of three such blocks for fast modes);
    micrograd runs one step, and only where its step is expected to take at
    most MICROGRAD_BUDGET seconds (estimated from the demo step: cost grows with
    parameters times samples).
    """
    rows = []
    for hidden, n in SCALING:
        sizes = [2, hidden, hidden, 1]
        data = nn.moons(n, noise=0.1, seed=0).signed()
        X = [[float(a) for a in row] for row in data.X]
        Y = [float(v) for v in data.y]
        weights = micrograd_weights(sizes=sizes)
        row = {"hidden": hidden, "samples": n, "params": n_params(sizes), "seconds": {}}
        guess = demo_micrograd * (n_params(sizes) / n_params(SIZES)) * (n / 100)
        for key in modes:
            if key == "micrograd" and guess > MICROGRAD_BUDGET:
                continue
            engine = ENGINES[key](weights, X, Y, sizes)
            gc.collect()
            with recursion_limit(100_000):  # micrograd's recursive sort, on deeper graphs
                start = time.perf_counter()
                engine.step(0)
                first = time.perf_counter() - start
                steps = max(1, min(100, int(budget / max(first, 1e-6))))
                if key == "micrograd":
                    row["seconds"][key] = first
                else:  # fast modes: the median of 3 blocks, against the machine's noise
                    blocks = 3 if first < 0.05 else 1
                    row["seconds"][key] = statistics.median(
                        time_block(engine, steps) for _ in range(blocks)
                    )
            del engine
        eager = Eager(weights, X, Y, sizes)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        total = eager.loss()
        total.backward()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        row["nodes"] = len(topological_order(total))
        row["bytes_per_node"] = held / row["nodes"]
        del total, eager
        rows.append(row)
    return rows


SHORT = {
    "micrograd": "micrograd",
    "eager_mg": "eager (micrograd's code)",
    "eager": "eager (nn.functional)",
    "compiled": "compiled tape",
    "batch": "batch replay",
    "matrix": "matrix lowering",
    "numpy": "hand-written numpy",
}


def scaling_table(rows, modes) -> str:
    lines = [
        "Scaling: time per step (forward + backward + SGD) of MLP 2-h-h-1 on n two-moons points, "
        "median of 3 timed blocks per cell (1 for slow modes; micrograd: one step, and only "
        "where a step takes a few seconds at most). "
        "Bytes per node: the eager loss graph after backward (tracemalloc).",
        "",
        "| h | n | params | eager nodes | bytes/node | "
        + " | ".join(SHORT[k] for k in modes)
        + " |",
        "|---:|---:|---:|---:|---:|" + "---:|" * len(modes),
    ]
    for row in rows:
        cells = [fmt_time(row["seconds"][k]) if k in row["seconds"] else "–" for k in modes]
        lines.append(
            f"| {row['hidden']} | {row['samples']:,} | {row['params']:,} | {row['nodes']:,} "
            f"| {row['bytes_per_node']:.0f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def scaling_plot(rows, modes, path: str) -> None:
    """Two log-log panels: time per step against hidden width, and against samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    panels = [
        (axes[0], [r for r in rows if r["samples"] == 100], "hidden", "hidden size h (n = 100)"),
        (axes[1], [r for r in rows if r["hidden"] == 16], "samples", "samples n (h = 16)"),
    ]
    for ax, subset, key, label in panels:
        subset = sorted(subset, key=lambda r: r[key])
        for mode in modes:
            pts = [(r[key], r["seconds"][mode]) for r in subset if mode in r["seconds"]]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", label=SHORT[mode])
        ax.set_xscale("log", base=2 if key == "hidden" else 10)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_xticks(sorted({r[key] for r in subset}))
        ax.set_xticklabels([f"{r[key]:,}" for r in sorted(subset, key=lambda r: r[key])])
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("seconds per step")
    axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("Cost of one training step of MLP 2-h-h-1 (hinge + L2, SGD)")
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def torch_part(reps: int) -> dict:
    """PyTorch scalar tensors against micrograd, both timed in this process."""
    X, Y = moons()
    weights = micrograd_weights()
    engines = {"micrograd": Micrograd, "torch": TorchScalars}
    worst = check_against_micrograd(engines, weights, X, Y, "initial weights")
    demo = demo_step(engines, weights, X, Y, reps)
    chain = chain_benchmark(reps, list(engines))
    return {
        "demo": demo,
        "chain": chain,
        "check": worst,
        "version": __import__("torch").__version__,
    }


def in_subprocess(*args: str) -> dict:
    """Run this script with ``args`` in a new process; its last line of output is JSON."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT, env=env
    )
    if out.returncode != 0:
        sys.exit(f"benchmark subprocess {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write the markdown table to this file")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per timing (median)")
    parser.add_argument("--quick", action="store_true", help="2 repetitions: a rough table")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--depth", type=int, default=1_000_000, help="eager chain depth to test")
    parser.add_argument("--no-scaling", action="store_true", help="leave out the scaling table")
    parser.add_argument(
        "--plot",
        default=os.path.join(HERE, "scaling.png"),
        help="where to save the scaling plot (default benchmarks/scaling.png)",
    )
    parser.add_argument("--fresh", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--torch-part", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error(f"--reps must be >= 1, got {args.reps}")
    if args.depth < 1:
        parser.error(f"--depth must be >= 1, got {args.depth}")
    reps = 2 if args.quick else args.reps
    if args.fresh:
        print(json.dumps(fresh_loop(args.fresh, args.steps)))
        return 0
    if args.torch_part:
        print(json.dumps(torch_part(reps)))
        return 0

    engines = {key: cls for key, cls in ENGINES.items() if key != "torch"}
    if not have("numpy"):
        for key in NUMPY_ENGINES:
            del engines[key]
    with_torch = not args.no_torch and have("torch")
    X, Y = moons()
    weights = micrograd_weights()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log("checking every engine against micrograd ...")
    worst = check_against_micrograd(engines, weights, X, Y, "initial weights")
    log("timing the demo step ...")
    demo = demo_step(engines, weights, X, Y, reps)
    trained = Micrograd(weights, X, Y)
    for k in range(20):
        trained.step(k)
    worst = max(worst, check_against_micrograd(engines, trained.weights(), X, Y, "trained"))
    build = statistics.median(Compiled(weights, X, Y).build_seconds for _ in range(5))
    log(f"{CHAIN_OPS:,}-op chain ...")
    chain = chain_benchmark(reps, list(engines))
    log("memory ...")
    memory = bytes_per_node()
    log("depth ...")
    depth = deepest_chain(args.depth)
    fresh_reps = 1 if args.quick else 3
    keys = list(engines) + (["torch"] if with_torch else [])
    log("fresh processes ...")
    fresh: dict = {key: [] for key in keys}
    for _ in range(fresh_reps):
        for key in keys:
            fresh[key].append(in_subprocess("--fresh", key, "--steps", "10"))
    fresh = {
        key: {"seconds": statistics.median(x["seconds"] for x in rs)} for key, rs in fresh.items()
    }

    results = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "reps": reps,
        "fresh_reps": fresh_reps,
        "engines": keys,
        "demo": demo,
        "fresh": fresh,
        "chain": chain,
        "memory": memory,
        "depth": depth,
        "build": build,
        "check": worst,
        "numpy_version": __import__("numpy").__version__ if "batch" in engines else None,
    }
    if with_torch:
        log("PyTorch scalar tensors, in a process of their own ...")
        results["torch"] = in_subprocess("--torch-part", "--reps", str(reps))
        results["torch_version"] = results["torch"]["version"]
        results["check"] = max(worst, results["torch"]["check"])
    text = table(results)
    if not args.no_scaling:
        log("scaling ...")
        modes = [k for k in SCALING_MODES if k in engines]
        rows = scaling(modes, demo["micrograd"])
        text += "\n" + scaling_table(rows, modes)
        if have("matplotlib"):
            scaling_plot(rows, modes, args.plot)
            text += f"\n![scaling]({os.path.relpath(args.plot, ROOT)})\n"
    print(text)
    if args.out:
        write_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Toy datasets for classification, splits and mini-batches, in pure Python.

Every generator takes a ``seed`` and draws only from ``random.Random(seed).random()``,
the one method whose sequence Python promises to keep the same across versions
and machines; Gaussian noise and shuffling are built on it here.  So the same
seed gives the same points everywhere, with no numpy needed.

Labels are class indices 0..k-1.  ``Dataset.signed()`` maps binary labels to
-1/+1 for micrograd's hinge loss.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

DATASETS = ("moons", "circles", "spiral", "xor", "blobs")


# What the training functions accept as data: a Dataset, or an (X, y) pair of sequences.
DataLike: TypeAlias = "Dataset | tuple[Sequence[Sequence[float]], Sequence[Any]] | list[Any]"


@dataclass(frozen=True)
class Dataset:
    """Points ``X`` (a list of feature lists) with labels ``y`` (one per point)."""

    X: list[list[float]]
    y: list
    name: str = ""
    n_classes: int = field(default=0)

    def __post_init__(self) -> None:
        if len(self.X) != len(self.y):
            raise ValueError(f"Dataset: {len(self.X)} points but {len(self.y)} labels")
        widths = {len(row) for row in self.X}
        if len(widths) > 1:
            raise ValueError(f"Dataset: points have different numbers of features: {widths}")
        if not self.n_classes:
            labels = {int(v) for v in self.y if float(v).is_integer() and v >= 0}
            object.__setattr__(self, "n_classes", max(labels) + 1 if labels else 0)

    def __len__(self) -> int:
        return len(self.y)

    def __iter__(self) -> Iterator[tuple[list[float], object]]:
        return iter(zip(self.X, self.y, strict=True))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.subset(range(len(self))[index])
        return self.X[index], self.y[index]

    @property
    def n_features(self) -> int:
        """Number of features per point."""
        return len(self.X[0]) if self.X else 0

    def subset(self, indices: Iterable[int]) -> Dataset:
        """A new Dataset with the points at ``indices``, in that order."""
        idx = list(indices)
        return Dataset(
            [self.X[i] for i in idx], [self.y[i] for i in idx], self.name, self.n_classes
        )

    def signed(self) -> Dataset:
        """Binary labels 0/1 mapped to -1/+1 (micrograd's convention for the hinge loss)."""
        if any(v not in (0, 1) for v in self.y):
            raise ValueError(f"signed(): labels must be 0 or 1, got {sorted(set(self.y))!r}")
        return Dataset(self.X, [2 * v - 1 for v in self.y], self.name, self.n_classes)


def as_dataset(data: DataLike) -> Dataset:
    """A Dataset from a Dataset or an ``(X, y)`` pair."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
        return Dataset([list(row) for row in X], list(y))
    raise TypeError(f"expected a Dataset or an (X, y) pair, got {type(data).__name__}")


# Randomness built on random() alone --------------------------------------------------------


def _rng(seed) -> random.Random:
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a random.Random, got {seed!r}")
    return random.Random(seed)


def _gauss(rng: random.Random) -> float:
    """A standard normal sample by Box-Muller: sqrt(-2 log u1) cos(2 pi u2)."""
    u1 = 1.0 - rng.random()  # in (0, 1], so log(u1) is finite
    u2 = rng.random()
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _shuffled(n: int, rng: random.Random) -> list[int]:
    """A permutation of range(n) by Fisher-Yates."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def _linspace(start: float, stop: float, n: int, endpoint: bool = True) -> list[float]:
    if n == 1:
        return [start]
    steps = n - 1 if endpoint else n
    return [start + (stop - start) * i / steps for i in range(n)]


def _check_n(n, least: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < least:
        raise ValueError(f"n must be an int >= {least}, got {n!r}")
    return n


def _check_noise(noise) -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    return float(noise)


def _finish(name, points, labels, noise, rng, n_classes) -> Dataset:
    """Add Gaussian noise to every coordinate, then shuffle the points."""
    X = [[c + noise * _gauss(rng) for c in p] for p in points]
    order = _shuffled(len(X), rng)
    return Dataset([X[i] for i in order], [labels[i] for i in order], name, n_classes)


# Generators ----------------------------------------------------------------------------------


def moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles (as sklearn's make_moons): labels 0 (upper), 1 (lower).

    Upper moon: (cos t, sin t); lower moon: (1 - cos t, 0.5 - sin t); t in [0, pi].
    """
    n, noise, rng = _check_n(n, 2), _check_noise(noise), _rng(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    points = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_upper)]
    points += [[1.0 - math.cos(t), 0.5 - math.sin(t)] for t in _linspace(0.0, math.pi, n_lower)]
    return _finish("moons", points, [0] * n_upper + [1] * n_lower, noise, rng, 2)


def circles(n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> Dataset:
    """A circle of radius ``factor`` (label 1) inside the unit circle (label 0)."""
    n, noise, rng = _check_n(n, 2), _check_noise(noise), _rng(seed)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor!r}")
    n_outer = n // 2
    n_inner = n - n_outer
    points = [[math.cos(t), math.sin(t)] for t in _linspace(0, 2 * math.pi, n_outer, False)]
    points += [
        [factor * math.cos(t), factor * math.sin(t)]
        for t in _linspace(0, 2 * math.pi, n_inner, False)
    ]
    return _finish("circles", points, [0] * n_outer + [1] * n_inner, noise, rng, 2)


def spiral(n: int = 150, classes: int = 3, noise: float = 0.2, seed: int = 0) -> Dataset:
    """``classes`` interleaved spiral arms (CS231n's spiral), ``n`` points in all.

    Arm j: radius r in [0, 1], angle 4 j + 4 r plus noise on the angle;
    point (r sin a, r cos a).  Labels 0..classes-1.
    """
    n, noise, rng = _check_n(n, 2), _check_noise(noise), _rng(seed)
    classes = _check_classes(classes)
    points, labels = [], []
    for j in range(classes):
        count = n // classes + (j < n % classes)
        for r in _linspace(0.0, 1.0, count) if count else []:
            a = 4.0 * j + 4.0 * r + noise * _gauss(rng)
            points.append([r * math.sin(a), r * math.cos(a)])
            labels.append(j)
    # The noise is already on the angle, so no extra noise on the coordinates.
    return _finish("spiral", points, labels, 0.0, rng, classes)


def xor(n: int = 100, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Points in the square [-1, 1]^2 kept 0.1 from the axes; label 1 where x * y < 0."""
    n, noise, rng = _check_n(n), _check_noise(noise), _rng(seed)
    points, labels = [], []
    for _ in range(n):
        x = 0.1 + 0.9 * rng.random()
        y = 0.1 + 0.9 * rng.random()
        x, y = (x if rng.random() < 0.5 else -x), (y if rng.random() < 0.5 else -y)
        points.append([x, y])
        labels.append(int(x * y < 0))
    return _finish("xor", points, labels, noise, rng, 2)


def blobs(n: int = 100, classes: int = 3, noise: float = 0.3, seed: int = 0) -> Dataset:
    """``classes`` Gaussian blobs (std ``noise``) centred evenly on a circle of radius 1.5."""
    n, noise, rng = _check_n(n, 2), _check_noise(noise), _rng(seed)
    classes = _check_classes(classes)
    points, labels = [], []
    for j in range(classes):
        a = 2 * math.pi * j / classes
        centre = [1.5 * math.cos(a), 1.5 * math.sin(a)]
        count = n // classes + (j < n % classes)
        points += [list(centre) for _ in range(count)]
        labels += [j] * count
    return _finish("blobs", points, labels, noise, rng, classes)


def _check_classes(classes) -> int:
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an int >= 2, got {classes!r}")
    return classes


def make(name: str, **kwargs) -> Dataset:
    """The generator called ``name`` (one of DATASETS) with the given keyword arguments."""
    generators: dict[str, Callable[..., Dataset]] = {
        "moons": moons,
        "circles": circles,
        "spiral": spiral,
        "xor": xor,
        "blobs": blobs,
    }
    if name not in generators:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return generators[name](**kwargs)


# Splits and batches ------------------------------------------------------------------------


def train_val_split(
    data: DataLike, val_fraction: float = 0.2, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """Shuffle, then hold out round(val_fraction * n) points for validation: (train, val)."""
    data = as_dataset(data)
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not 0 < val_fraction < 1
    ):
        raise ValueError(f"train_val_split: val_fraction must be in (0, 1), got {val_fraction!r}")
    n_val = round(val_fraction * len(data))
    if not 0 < n_val < len(data):
        raise ValueError(
            f"train_val_split: val_fraction={val_fraction} of {len(data)} points leaves "
            f"{n_val} for validation and {len(data) - n_val} for training; both need one"
        )
    order = _shuffled(len(data), _rng(seed))
    return data.subset(order[n_val:]), data.subset(order[:n_val])


def batches(
    data: DataLike,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int | random.Random = 0,
) -> Iterator[Dataset]:
    """Mini-batches of ``batch_size`` points (the last may be smaller); None is one full batch.

    ``seed`` may be a ``random.Random`` to draw a new order on every call (one per epoch).
    """
    data = as_dataset(data)
    n = len(data)
    if batch_size is None:
        batch_size = n
    elif isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batches: batch_size must be a positive int or None, got {batch_size!r}")
    order = _shuffled(n, _rng(seed)) if shuffle else list(range(n))
    for start in range(0, n, batch_size):
        yield data.subset(order[start : start + batch_size])

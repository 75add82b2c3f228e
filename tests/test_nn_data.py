"""nn.data: the generators' geometry, determinism, splits and batches."""

from __future__ import annotations

import math
import random

import pytest

from nn import Dataset, batches, blobs, circles, moons, spiral, train_val_split, xor
from nn.data import as_dataset, make

GENERATORS = {"moons": moons, "circles": circles, "spiral": spiral, "xor": xor, "blobs": blobs}


class OnlyRandom(random.Random):
    """A generator that allows random() alone: the one method Python keeps stable forever."""

    def __getattribute__(self, name):
        if name in (
            "gauss",
            "normalvariate",
            "shuffle",
            "uniform",
            "choice",
            "sample",
            "randint",
            "randrange",
            "getrandbits",
            "choices",
        ):
            raise AssertionError(f"the generator used random.{name}, whose output may change")
        return super().__getattribute__(name)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_data_and_only_random_is_used(name):
    make_data = GENERATORS[name]
    a, b = make_data(seed=5), make_data(seed=5)
    assert a.X == b.X and a.y == b.y
    assert make_data(seed=6).X != a.X
    # Same numbers from a generator that only allows random(): nothing else is drawn.
    c = make_data(seed=OnlyRandom(5))
    assert c.X == a.X and c.y == a.y


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_shapes_and_labels(name):
    data = GENERATORS[name](n=60, seed=1)
    assert isinstance(data, Dataset) and data.name == name
    assert len(data) == len(data.X) == len(data.y) == 60
    assert data.n_features == 2
    assert all(isinstance(c, float) for row in data.X for c in row)
    assert set(data.y) == set(range(data.n_classes))


def test_moons_without_noise_lie_on_the_two_arcs():
    data = moons(n=51, noise=0.0, seed=0)
    for (x, y), label in zip(data.X, data.y, strict=True):
        if label == 0:  # upper arc: unit circle around (0, 0), y >= 0
            assert math.hypot(x, y) == pytest.approx(1.0) and y >= -1e-12
        else:  # lower arc: unit circle around (1, 0.5), y <= 0.5
            assert math.hypot(x - 1.0, y - 0.5) == pytest.approx(1.0) and y <= 0.5 + 1e-12
    assert data.y.count(0) == 25 and data.y.count(1) == 26


def test_moons_noise_has_the_requested_spread():
    noisy = moons(n=2000, noise=0.1, seed=3)
    # Distances to the arc's circle spread like the N(0, 0.1^2) noise on each coordinate.
    diffs = []
    for (x, y), label in zip(noisy.X, noisy.y, strict=True):
        centre = (0.0, 0.0) if label == 0 else (1.0, 0.5)
        diffs.append(math.hypot(x - centre[0], y - centre[1]) - 1.0)
    std = math.sqrt(sum(d * d for d in diffs) / len(diffs))
    assert 0.07 < std < 0.13
    assert abs(sum(diffs) / len(diffs)) < 0.02


def test_circles_radii():
    data = circles(n=40, noise=0.0, factor=0.3, seed=0)
    for (x, y), label in zip(data.X, data.y, strict=True):
        assert math.hypot(x, y) == pytest.approx(0.3 if label == 1 else 1.0)


def test_spiral_has_k_arms_within_the_unit_disc():
    data = spiral(n=100, classes=4, noise=0.0, seed=0)
    assert data.n_classes == 4
    assert sorted(data.y.count(k) for k in range(4)) == [25, 25, 25, 25]
    assert all(math.hypot(x, y) <= 1.0 + 1e-12 for x, y in data.X)
    assert spiral(n=10, classes=3).y.count(0) == 4  # the remainder goes to the first arms


def test_xor_labels_follow_the_signs():
    data = xor(n=200, noise=0.0, seed=2)
    for (x, y), label in zip(data.X, data.y, strict=True):
        assert abs(x) >= 0.1 and abs(y) >= 0.1
        assert label == (1 if x * y < 0 else 0)
    assert 60 < sum(data.y) < 140


def test_blobs_cluster_around_their_centres():
    data = blobs(n=300, classes=3, noise=0.1, seed=0)
    for k in range(3):
        pts = [p for p, label in zip(data.X, data.y, strict=True) if label == k]
        cx = sum(p[0] for p in pts) / len(pts)
        cy = sum(p[1] for p in pts) / len(pts)
        angle = 2 * math.pi * k / 3
        assert cx == pytest.approx(1.5 * math.cos(angle), abs=0.05)
        assert cy == pytest.approx(1.5 * math.sin(angle), abs=0.05)


def test_signed_labels_for_the_hinge_loss():
    data = moons(n=10, seed=0)
    signed = data.signed()
    assert signed.y == [2 * v - 1 for v in data.y] and signed.X == data.X
    with pytest.raises(ValueError, match="0 or 1"):
        spiral(n=9, classes=3).signed()


def test_dataset_indexing_and_validation():
    data = moons(n=10, seed=0)
    assert data[0] == (data.X[0], data.y[0])
    part = data[2:5]
    assert isinstance(part, Dataset) and data.X[2:5] == part.X and data.y[2:5] == part.y
    assert list(data)[3] == (data.X[3], data.y[3])
    assert as_dataset((data.X, data.y)).X == data.X
    with pytest.raises(ValueError, match="3 points but 2 labels"):
        Dataset([[0.0], [1.0], [2.0]], [0, 1])
    with pytest.raises(TypeError, match="Dataset or an"):
        as_dataset("moons")


def test_train_val_split_is_a_seeded_partition():
    data = moons(n=50, seed=0)
    train, val = train_val_split(data, 0.2, seed=1)
    assert len(train) == 40 and len(val) == 10
    rows = sorted(map(tuple, train.X + val.X))
    assert rows == sorted(map(tuple, data.X))
    again, _ = train_val_split(data, 0.2, seed=1)
    other, _ = train_val_split(data, 0.2, seed=2)
    assert again.X == train.X and other.X != train.X


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, 0.001])
def test_train_val_split_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(moons(n=20), fraction)


def test_batches_cover_every_point_once_per_epoch():
    data = moons(n=23, seed=0)
    parts = list(batches(data, 5, shuffle=True, seed=0))
    assert [len(b) for b in parts] == [5, 5, 5, 5, 3]
    rows = sorted(tuple(x) for b in parts for x in b.X)
    assert rows == sorted(map(tuple, data.X))
    assert data.X[:5] != parts[0].X  # shuffled
    (whole,) = batches(data, None, shuffle=False)
    assert whole.X == data.X
    rng = random.Random(0)
    first = [b.X for b in batches(data, 5, seed=rng)]
    second = [b.X for b in batches(data, 5, seed=rng)]
    assert first != second  # a Random gives a new order each epoch


def test_generator_errors():
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        moons(n=1)
    with pytest.raises(ValueError, match="noise must be a number >= 0"):
        circles(noise=-0.1)
    with pytest.raises(ValueError, match="classes must be an int >= 2"):
        spiral(classes=1)
    with pytest.raises(ValueError, match="factor"):
        circles(factor=1.5)
    with pytest.raises(ValueError, match="unknown dataset 'swiss'"):
        make("swiss")
    with pytest.raises(ValueError, match="batch_size"):
        list(batches(moons(n=4), 0))

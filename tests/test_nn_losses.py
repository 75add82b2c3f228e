"""nn.functional: losses by hand and by finite differences; activations; accuracy."""

from __future__ import annotations

import math

import pytest

from autograd import Value, gradcheck
from nn import functional as F


def values(*xs):
    return [Value(x) for x in xs]


def grads_of(loss, xs):
    loss.backward()
    return [x.grad for x in xs]


# Hand-computed values and gradients ------------------------------------------------------------


def test_mse_value_and_gradient():
    preds = values(1.0, 2.0)
    loss = F.mse(preds, [0.0, 4.0])
    assert loss.data == pytest.approx((1.0**2 + 2.0**2) / 2)
    # d/dp_i = 2 (p_i - y_i) / n
    assert grads_of(loss, preds) == pytest.approx([1.0, -2.0])


def test_hinge_is_micrograds_max_margin():
    scores = values(0.5, -2.0, 3.0, 2.0)
    loss = F.hinge(scores, [1, 1, -1, 1])
    # relu(1 - 0.5) + relu(1 + 2) + relu(1 + 3) + relu(1 - 2), over 4
    assert loss.data == pytest.approx((0.5 + 3.0 + 4.0 + 0.0) / 4)
    # -y/n where the margin is violated, 0 where it is met
    assert grads_of(loss, scores) == pytest.approx([-0.25, -0.25, 0.25, 0.0])


def test_hinge_rejects_zero_one_labels_with_a_hint():
    with pytest.raises(ValueError, match=r"-1 or \+1.*2\*y - 1"):
        F.hinge(values(0.5), [0])


def test_bce_with_logits_value_and_gradient():
    z = values(0.0, 2.0, -1.0)
    y = [1.0, 0.0, 0.25]
    loss = F.bce_with_logits(z, y)

    def bce(zi, yi):
        s = 1 / (1 + math.exp(-zi))
        return -(yi * math.log(s) + (1 - yi) * math.log(1 - s))

    expected = sum(bce(zi.data, yi) for zi, yi in zip(z, y, strict=True)) / 3
    assert loss.data == pytest.approx(expected, rel=1e-12)
    assert math.log(2) / 3 < expected  # first term alone is log 2 / 3
    sig = [1 / (1 + math.exp(-zi.data)) for zi in z]
    # d/dz_i = (sigmoid(z_i) - y_i) / n
    assert grads_of(loss, z) == pytest.approx([(s - yi) / 3 for s, yi in zip(sig, y, strict=True)])


def test_cross_entropy_value_and_gradient():
    z = values(1.0, 2.0, 3.0)
    loss = F.cross_entropy(z, 0)
    total = math.e + math.e**2 + math.e**3
    assert loss.data == pytest.approx(math.log(total) - 1.0, rel=1e-12)
    soft = [math.e**k / total for k in (1, 2, 3)]
    # d/dz_i = softmax_i - [i == target]
    assert grads_of(loss, z) == pytest.approx([soft[0] - 1, soft[1], soft[2]], rel=1e-12)


def test_cross_entropy_batch_is_the_mean():
    a, b = values(1.0, 2.0, 3.0), values(0.0, 0.0, 0.0)
    batch = F.cross_entropy([a, b], [2, 1])
    one = F.cross_entropy(values(1.0, 2.0, 3.0), 2).data
    two = math.log(3.0)
    assert batch.data == pytest.approx((one + two) / 2, rel=1e-12)


def test_l2_penalty_value_and_gradient():
    ps = values(1.0, -2.0, 3.0)
    pen = F.l2_penalty(ps)
    assert pen.data == 14.0
    assert grads_of(pen, ps) == [2.0, -4.0, 6.0]


# Stability at extreme logits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logits", "target", "loss", "grads"),
    [
        ([1000.0, -1000.0], 0, 0.0, [0.0, 0.0]),
        ([1000.0, -1000.0], 1, 2000.0, [1.0, -1.0]),
        ([-1000.0, 1000.0], 1, 0.0, [0.0, 0.0]),
        ([1000.0, 1000.0], 0, math.log(2), [-0.5, 0.5]),
        ([-1000.0, -1000.0, -1000.0], 2, math.log(3), [1 / 3, 1 / 3, -2 / 3]),
    ],
)
def test_cross_entropy_is_stable_at_plus_minus_1e3(logits, target, loss, grads):
    z = values(*logits)
    out = F.cross_entropy(z, target)
    assert out.data == pytest.approx(loss, abs=1e-12)
    assert grads_of(out, z) == pytest.approx(grads, abs=1e-12)


@pytest.mark.parametrize(
    ("z", "y", "loss", "grad"),
    [
        (1000.0, 1.0, 0.0, 0.0),
        (1000.0, 0.0, 1000.0, 1.0),
        (-1000.0, 0.0, 0.0, 0.0),
        (-1000.0, 1.0, 1000.0, -1.0),
    ],
)
def test_bce_with_logits_is_stable_at_plus_minus_1e3(z, y, loss, grad):
    zv = Value(z)
    out = F.bce_with_logits([zv], [y])
    assert out.data == pytest.approx(loss, abs=1e-12)
    out.backward()
    assert zv.grad == pytest.approx(grad, abs=1e-12)


def test_softmax_sums_to_one_and_is_stable():
    probs = F.softmax(values(1000.0, 999.0, -1000.0))
    assert sum(p.data for p in probs) == pytest.approx(1.0)
    assert probs[0].data == pytest.approx(1 / (1 + math.exp(-1)))
    assert probs[2].data == 0.0


# Finite differences ---------------------------------------------------------------------------


def test_losses_match_finite_differences():
    gradcheck(lambda a, b, c: F.mse([a, b, c], [0.3, -1.0, 2.0]), [0.1, 0.7, -0.4])
    gradcheck(lambda a, b, c: F.hinge([a, b, c], [1, -1, 1]), [0.2, -0.6, 1.7])
    gradcheck(lambda a, b, c: F.bce_with_logits([a, b, c], [1, 0, 0.3]), [0.4, -2.5, 3.1])
    gradcheck(lambda a, b, c: F.cross_entropy([a, b, c], 1), [0.4, -2.5, 3.1])
    gradcheck(lambda a, b, c, d: F.cross_entropy([[a, b], [c, d]], [0, 1]), [0.3, -0.2, 1.5, 0.9])
    gradcheck(lambda a, b: F.l2_penalty([a, b]), [0.5, -1.5])
    gradcheck(lambda a, b, c: F.softmax([a, b, c])[1], [0.4, -2.5, 3.1])


def test_cross_entropy_finite_differences_near_1e3():
    # Differences of size eps on top of 1000 lose digits, so a looser tolerance.
    gradcheck(lambda a, b: F.cross_entropy([a, b], 0), [1000.0, 999.0], eps=1e-4, atol=1e-6)


# Activations and accuracy --------------------------------------------------------------------


def test_activations_on_a_value_and_on_a_list():
    assert F.relu(Value(-2.0)).data == 0.0
    assert [v.data for v in F.relu(values(-1.0, 3.0))] == [0.0, 3.0]
    assert F.tanh([Value(0.5)])[0].data == pytest.approx(math.tanh(0.5))
    assert F.sigmoid(Value(0.0)).data == 0.5
    assert [v.data for v in F.leaky_relu(values(-2.0, 2.0), 0.1)] == [-0.2, 2.0]
    assert F.relu([1.0])[0].data == 1.0  # numbers are accepted
    with pytest.raises(TypeError, match="activation"):
        F.relu("x")


def test_accuracy_binary_and_multiclass():
    # Labels 0/1 and -1/+1 both work with scores split at 0.
    assert F.accuracy([0.3, -0.2, 0.1], [1, 0, 0]) == pytest.approx(2 / 3)
    assert F.accuracy(values(0.3, -0.2), [1, -1]) == 1.0
    assert F.accuracy([0.4, 0.6], [0, 1], threshold=0.5) == 1.0
    logits = [values(0.1, 2.0, -1.0), values(3.0, 0.0, 0.0)]
    assert F.accuracy(logits, [1, 2]) == 0.5
    assert F.predict_class(values(0.1, 2.0, -1.0)) == 1


def test_loss_input_errors():
    with pytest.raises(ValueError, match="2 outputs but 1 targets"):
        F.mse(values(1.0, 2.0), [1.0])
    with pytest.raises(ValueError, match="empty batch"):
        F.mse([], [])
    with pytest.raises(ValueError, match="use cross_entropy"):
        F.hinge([values(1.0, 2.0)], [1])
    with pytest.raises(ValueError, match=r"targets must be in \[0, 1\]"):
        F.bce_with_logits(values(0.0), [2.0])
    with pytest.raises(ValueError, match=r"class index in 0\.\.2"):
        F.cross_entropy(values(1.0, 2.0, 3.0), 3)
    with pytest.raises(ValueError, match="class index"):
        F.cross_entropy(values(1.0, 2.0), 1.0)
    with pytest.raises(ValueError, match="at least 2 class scores"):
        F.cross_entropy(Value(1.0), 0)
    with pytest.raises(TypeError, match="target must be a number"):
        F.mse(values(1.0), ["1"])

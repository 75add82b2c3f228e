"""Activations, losses and metrics on Values, lists of Values and plain numbers.

Each loss takes the model's outputs for a batch and the targets, and returns
one Value: the mean over the batch, written as ``sum(terms) * (1 / n)`` as
micrograd's demo does, so the numbers can be compared with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from autograd import Value

# Activations ---------------------------------------------------------------------------


def _map(f, x):
    if isinstance(x, (list, tuple)):
        return [f(_value(v, "activation")) for v in x]
    return f(_value(x, "activation"))


def relu(x):
    """max(x, 0) of a Value or of each Value in a list."""
    return _map(Value.relu, x)


def tanh(x):
    """tanh(x) of a Value or of each Value in a list."""
    return _map(Value.tanh, x)


def sigmoid(x):
    """1 / (1 + e^-x) of a Value or of each Value in a list."""
    return _map(Value.sigmoid, x)


def leaky_relu(x, slope: float = 0.01):
    """x if x > 0 else slope * x, of a Value or of each Value in a list."""
    return _map(lambda v: v.leaky_relu(slope), x)


def softmax(logits: Sequence) -> list[Value]:
    """softmax(z)_i = e^(z_i - m) / sum_j e^(z_j - m), with m = max(z) so no exp overflows."""
    zs = [_value(z, "softmax") for z in logits]
    if not zs:
        raise ValueError("softmax: needs at least one logit, got an empty list")
    m = _shift(zs)
    es = [(z - m).exp() for z in zs]
    total = _sum(es)
    return [e / total for e in es]


# Helpers -------------------------------------------------------------------------------


def _value(x, op: str) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return Value(x)
    raise TypeError(f"{op}: expected a Value or a number, got {type(x).__name__} {x!r}")


def _number(x, op: str, what: str) -> float:
    if isinstance(x, Value):
        return x.data
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    raise TypeError(f"{op}: each {what} must be a number, got {type(x).__name__} {x!r}")


def _shift(zs: list) -> float:
    """max_j z_j as a plain number: subtracted before exp() so that every e^(z_j - m) <= 1.

    Any constant m gives the same log-sum-exp and the same derivatives, so the
    read is declared safe for ``autograd.compile.trace``, which then freezes the
    m of the recorded sample into the tape.  The caveat is numerical: a frozen m
    is only as good as the recorded one while a replay's largest logit stays
    within a few hundred of it.  Far above, exp() overflows and the replay
    raises OverflowError (``fit(compile=True)`` then trains eagerly); more than
    about 700 below, the exps underflow to subnormals and lose digits, or to 0
    and log raises.
    """
    # Imported here: nn does not load the compiler unless something uses it.
    from autograd.compile import allow_reads

    with allow_reads():
        return max(z.data for z in zs)


def _sum(values: list) -> Value:
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _mean(terms: list) -> Value:
    """sum(terms) * (1 / n), written like micrograd's demo."""
    return _sum(terms) * (1.0 / len(terms))


def _pairs(op: str, outputs, targets) -> tuple[list, list]:
    """The two lists of a batch, checked to be non-empty and of equal length."""
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    tgts = list(targets) if isinstance(targets, (list, tuple)) else [targets]
    if len(outs) != len(tgts):
        raise ValueError(f"{op}: {len(outs)} outputs but {len(tgts)} targets")
    if not outs:
        raise ValueError(f"{op}: needs at least one output, got an empty batch")
    return outs, tgts


def _scalar_output(op: str, out) -> Value:
    if isinstance(out, (list, tuple)):
        raise ValueError(
            f"{op}: expects one score per sample, got a list of {len(out)} outputs "
            "(use cross_entropy for several classes)"
        )
    return _value(out, op)


# Losses --------------------------------------------------------------------------------


def mse(outputs, targets) -> Value:
    """Mean squared error: (1/n) sum_i (y_hat_i - y_i)^2."""
    outs, tgts = _pairs("mse", outputs, targets)
    terms = []
    for out, t in zip(outs, tgts, strict=True):
        diff = _scalar_output("mse", out) - _number(t, "mse", "target")
        terms.append(diff * diff)
    return _mean(terms)


def hinge(scores, targets) -> Value:
    """micrograd's max-margin loss: (1/n) sum_i max(0, 1 - y_i s_i), targets y_i in {-1, +1}."""
    outs, tgts = _pairs("hinge", scores, targets)
    terms = []
    for out, t in zip(outs, tgts, strict=True):
        y = _number(t, "hinge", "target")
        if y not in (-1.0, 1.0):
            raise ValueError(
                f"hinge: targets must be -1 or +1, got {t!r} (map labels 0/1 with 2*y - 1)"
            )
        terms.append((1 + -y * _scalar_output("hinge", out)).relu())
    return _mean(terms)


def bce_with_logits(logits, targets) -> Value:
    """Binary cross-entropy on logits z: (1/n) sum_i softplus(z_i) - y_i z_i, y_i in [0, 1].

    Equal to -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], but stable for
    any finite z because softplus never overflows.
    """
    outs, tgts = _pairs("bce_with_logits", logits, targets)
    terms = []
    for out, t in zip(outs, tgts, strict=True):
        y = _number(t, "bce_with_logits", "target")
        if not 0.0 <= y <= 1.0:
            raise ValueError(f"bce_with_logits: targets must be in [0, 1], got {t!r}")
        z = _scalar_output("bce_with_logits", out)
        terms.append(z.softplus() - y * z)
    return _mean(terms)


def _class_index(op: str, target, k: int) -> int:
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < k:
        raise ValueError(f"{op}: target must be a class index in 0..{k - 1}, got {target!r}")
    return target


def _one_cross_entropy(logits, target) -> Value:
    """-log softmax(z)_t = logsumexp(z) - z_t, with logsumexp(z) = m + log sum_j e^(z_j - m)."""
    if not isinstance(logits, (list, tuple)) or len(logits) < 2:
        raise ValueError(
            f"cross_entropy: logits must be a list of at least 2 class scores, got {logits!r}"
        )
    zs = [_value(z, "cross_entropy") for z in logits]
    t = _class_index("cross_entropy", target, len(zs))
    # m is a plain number: subtracting it changes no derivative, and keeps every exp <= 1.
    m = _shift(zs)
    lse = _sum([(z - m).exp() for z in zs]).log() + m
    return lse - zs[t]


def cross_entropy(logits, targets) -> Value:
    """Softmax cross-entropy: logsumexp(z) - z_t, stable for logits of any size.

    ``cross_entropy([z0, z1, z2], t)`` is one sample with class index ``t``;
    ``cross_entropy([[...], [...]], [t0, t1])`` is the mean over a batch.
    """
    if not isinstance(targets, (list, tuple)):
        return _one_cross_entropy(logits, targets)
    outs, tgts = _pairs("cross_entropy", logits, targets)
    return _mean([_one_cross_entropy(z, t) for z, t in zip(outs, tgts, strict=True)])


def l2_penalty(params) -> Value:
    """sum_p p^2 over the parameters (multiply by alpha: micrograd uses 1e-4 * sum p*p)."""
    ps = [_value(p, "l2_penalty") for p in params]
    if not ps:
        raise ValueError("l2_penalty: got no parameters")
    return _sum([p * p for p in ps])


# Metrics -------------------------------------------------------------------------------


def predict_class(output, threshold: float = 0.0) -> int:
    """The predicted class: argmax of a list of scores, or 1 if one score > threshold else 0."""
    if isinstance(output, (list, tuple)):
        scores = [_number(v, "predict_class", "output") for v in output]
        return max(range(len(scores)), key=scores.__getitem__)
    return int(_number(output, "predict_class", "output") > threshold)


def accuracy(outputs, targets, threshold: float = 0.0) -> float:
    """Fraction of samples classified right, in [0, 1].

    Several scores per sample: right when the argmax equals the class index.
    One score per sample: right when (score > threshold) == (target > threshold),
    so labels 0/1 and -1/+1 both work with logits and threshold 0.
    """
    outs, tgts = _pairs("accuracy", outputs, targets)
    right = 0
    for out, t in zip(outs, tgts, strict=True):
        if isinstance(out, (list, tuple)):
            right += predict_class(out) == t
        else:
            y = _number(t, "accuracy", "target")
            right += (_number(out, "accuracy", "output") > threshold) == (y > threshold)
    return right / len(outs)

"""nn.optim: one step of each optimizer by hand, schedules, bad hyper-parameters, torch parity."""

from __future__ import annotations

import math

import pytest

from autograd import Value
from nn import MLP, SGD, Adam, AdamW, CosineLR, LinearLR, StepLR
from nn import functional as F


def param(data: float, grad: float) -> Value:
    p = Value(data)
    p.grad = grad
    return p


def run_steps(opt_cls, grads, start=2.0, **kw):
    """Apply one step per gradient in ``grads`` to a single parameter; its data after each."""
    p = Value(start)
    opt = opt_cls([p], **kw)
    seen = []
    for g in grads:
        opt.zero_grad()
        p.grad = g
        opt.step()
        seen.append(p.data)
    return seen


# SGD ----------------------------------------------------------------------------------------------


def test_sgd_plain_step():
    p, q = param(2.0, 0.5), param(-1.0, -3.0)
    SGD([p, q], lr=0.1).step()
    assert p.data == pytest.approx(2.0 - 0.1 * 0.5)
    assert q.data == pytest.approx(-1.0 + 0.1 * 3.0)


def test_sgd_weight_decay_adds_wd_times_p_to_the_gradient():
    assert run_steps(SGD, [0.5], lr=0.1, weight_decay=0.1) == pytest.approx([2.0 - 0.1 * 0.7])


def test_sgd_momentum_two_steps():
    # b1 = g = 0.5 -> p = 2 - 0.05;  b2 = 0.9 * 0.5 + 0.5 = 0.95 -> p = 1.95 - 0.095
    assert run_steps(SGD, [0.5, 0.5], lr=0.1, momentum=0.9) == pytest.approx([1.95, 1.855])


def test_sgd_nesterov_two_steps():
    # step 1: b = 0.5, g = 0.5 + 0.9 * 0.5 = 0.95;  step 2: b = 0.95, g = 0.5 + 0.9 * 0.95 = 1.355
    assert run_steps(SGD, [0.5, 0.5], lr=0.1, momentum=0.9, nesterov=True) == pytest.approx(
        [2.0 - 0.095, 2.0 - 0.095 - 0.1355]
    )


def test_zero_grad_and_lr_is_settable():
    p = param(1.0, 5.0)
    opt = SGD([p], lr=0.5)
    opt.zero_grad()
    assert p.grad == 0.0
    opt.lr = 0.25
    p.grad = 1.0
    opt.step()
    assert p.data == 0.75
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.lr = -1.0


# Adam and AdamW -----------------------------------------------------------------------------------


def adam_by_hand(grads, p=2.0, lr=0.1, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False):
    """The textbook algorithm (Kingma & Ba), written independently of the implementation."""
    m = v = 0.0
    seen = []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p - lr * wd * p
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        seen.append(p)
    return seen


def test_adam_first_step_moves_by_about_lr():
    (after,) = run_steps(Adam, [0.5], lr=0.1)
    # m_hat = 0.5, v_hat = 0.25: the step is lr * 0.5 / (0.5 + eps)
    assert after == pytest.approx(2.0 - 0.1 * 0.5 / (0.5 + 1e-8), rel=1e-14)


def test_adam_three_steps_match_hand_computation():
    grads = [0.5, -1.0, 0.25]
    assert run_steps(Adam, grads, lr=0.1) == pytest.approx(adam_by_hand(grads), rel=1e-12)


def test_adam_weight_decay_is_l2_and_adamw_is_decoupled():
    grads = [0.5, -1.0, 0.25]
    adam = run_steps(Adam, grads, lr=0.1, weight_decay=0.1)
    adamw = run_steps(AdamW, grads, lr=0.1, weight_decay=0.1)
    assert adam == pytest.approx(adam_by_hand(grads, wd=0.1), rel=1e-12)
    assert adamw == pytest.approx(adam_by_hand(grads, wd=0.1, decoupled=True), rel=1e-12)
    assert adam != pytest.approx(adamw)


def test_adamw_default_weight_decay_is_torchs():
    assert AdamW([Value(1.0)]).weight_decay == 0.01
    assert Adam([Value(1.0)]).weight_decay == 0.0


# Bad hyper-parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda ps: SGD(ps, lr=-0.1), "SGD: lr must be >= 0, got -0.1"),
        (lambda ps: SGD(ps, lr=math.nan), "lr must be finite"),
        (lambda ps: SGD(ps, lr=0.1, momentum=1.0), r"momentum must be in \[0, 1\), got 1.0"),
        (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "momentum"),
        (lambda ps: SGD(ps, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "weight_decay must be >= 0"),
        (lambda ps: Adam(ps, betas=(1.0, 0.999)), r"betas\[0\] must be in \[0, 1\)"),
        (lambda ps: Adam(ps, betas=(0.9, -0.1)), r"betas\[1\]"),
        (lambda ps: Adam(ps, betas=0.9), "betas must be a pair"),
        (lambda ps: Adam(ps, eps=-1e-8), "eps must be >= 0"),
        (lambda ps: AdamW(ps, weight_decay=-0.01), "AdamW: weight_decay"),
        (lambda ps: SGD([], lr=0.1), "empty parameter list"),
        (lambda ps: SGD(ps + ps, lr=0.1), "appears twice"),
    ],
)
def test_bad_hyper_parameters_raise_value_error_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make([Value(1.0)])


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="lr must be a number"):
        SGD([Value(1.0)], lr="0.1")
    with pytest.raises(TypeError, match="parameters must be Values"):
        SGD([1.0], lr=0.1)
    with pytest.raises(TypeError, match="nesterov"):
        SGD([Value(1.0)], lr=0.1, momentum=0.9, nesterov=1)


# Schedules ----------------------------------------------------------------------------------------


def lrs(schedule, n):
    seen = [schedule.optimizer.lr]
    for _ in range(n - 1):
        schedule.step()
        seen.append(schedule.optimizer.lr)
    return seen


def test_linear_lr_reproduces_micrograds_demo_exactly():
    opt = SGD([Value(0.0)], lr=1.0)
    assert lrs(LinearLR(opt, total_iters=100), 100) == [1.0 - 0.9 * k / 100 for k in range(100)]


def test_step_lr():
    opt = SGD([Value(0.0)], lr=1.0)
    assert lrs(StepLR(opt, step_size=2, gamma=0.5), 6) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_cosine_lr_goes_from_base_to_min_and_stays():
    opt = SGD([Value(0.0)], lr=1.0)
    seen = lrs(CosineLR(opt, total_iters=4, min_lr=0.2), 7)
    half = [0.2 + 0.8 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(5)]
    assert seen == pytest.approx([*half, 0.2, 0.2])
    assert seen[2] == pytest.approx(0.6)


def test_schedule_errors():
    opt = SGD([Value(0.0)], lr=1.0)
    with pytest.raises(ValueError, match="step_size must be a positive int"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="total_iters"):
        CosineLR(opt, total_iters=-3)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        LinearLR("sgd")


# PyTorch parity (skipped without torch) -----------------------------------------------------------


def torch_copy(model, torch):
    """A torch.nn.Sequential in float64 with the same weights as our MLP."""
    layers = []
    for i, layer in enumerate(model.layers):
        lin = torch.nn.Linear(layer.nin, layer.nout, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(
                torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
            )
            lin.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
        layers.append(lin)
        if i < len(model.layers) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def flat_torch(net):
    """torch parameters in our order: per neuron its weights then its bias."""
    out = []
    for lin in net:
        if hasattr(lin, "weight"):
            for j in range(lin.out_features):
                out += [*lin.weight[j].tolist(), lin.bias[j].item()]
    return out


def flat_torch_grads(net):
    out = []
    for lin in net:
        if hasattr(lin, "weight"):
            for j in range(lin.out_features):
                out += [*lin.weight.grad[j].tolist(), lin.bias.grad[j].item()]
    return out


X = [[0.5, -1.0], [1.5, 0.3], [-0.7, 0.8], [0.1, 0.1], [2.0, -0.5], [-1.2, -0.9]]
Y = [1, -1, 1, -1, 1, -1]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda ps: SGD(ps, lr=0.1), lambda t, ps: t.optim.SGD(ps, lr=0.1)),
        (
            lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
            lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        ),
        (
            lambda ps: Adam(ps, lr=0.01, weight_decay=1e-3),
            lambda t, ps: t.optim.Adam(ps, lr=0.01, weight_decay=1e-3),
        ),
        (
            lambda ps: AdamW(ps, lr=0.01, betas=(0.8, 0.99)),
            lambda t, ps: t.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.99)),
        ),
    ],
    ids=["sgd", "sgd-nesterov-wd", "adam-wd", "adamw"],
)
def test_mlp_forward_backward_and_steps_match_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    model = MLP(2, [5, 4, 1], seed=3)
    net = torch_copy(model, torch)
    assert flat_torch(net) == [p.data for p in model.parameters()]
    opt, topt = ours(model.parameters()), theirs(torch, net.parameters())
    xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(Y, dtype=torch.float64)
    for _ in range(3):
        scores = [model(x) for x in X]
        loss = F.hinge(scores, Y) + 1e-4 * F.l2_penalty(model.parameters())
        tscores = net(xt).squeeze(1)
        tloss = torch.relu(1 - yt * tscores).mean() + 1e-4 * sum(
            (p * p).sum() for p in net.parameters()
        )
        assert [s.data for s in scores] == pytest.approx(tscores.tolist(), rel=1e-12, abs=1e-15)
        assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
        opt.zero_grad()
        topt.zero_grad()
        loss.backward()
        tloss.backward()
        grads = [p.grad for p in model.parameters()]
        assert grads == pytest.approx(flat_torch_grads(net), rel=1e-10, abs=1e-14)
        opt.step()
        topt.step()
        assert [p.data for p in model.parameters()] == pytest.approx(
            flat_torch(net), rel=1e-10, abs=1e-14
        )


def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    pairs = [
        (
            lambda o: LinearLR(o, total_iters=10, start_factor=1.0, end_factor=0.1),
            lambda o: torch.optim.lr_scheduler.LinearLR(
                o, start_factor=1.0, end_factor=0.1, total_iters=10
            ),
        ),
        (
            lambda o: StepLR(o, step_size=3, gamma=0.5),
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        ),
        (
            lambda o: CosineLR(o, total_iters=10, min_lr=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
        ),
    ]
    for ours, theirs in pairs:
        opt = SGD([Value(0.0)], lr=0.5)
        topt = torch.optim.SGD([p], lr=0.5)
        sched, tsched = ours(opt), theirs(topt)
        for _ in range(10):
            assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
            sched.step()
            topt.step()
            tsched.step()

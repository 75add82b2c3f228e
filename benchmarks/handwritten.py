"""micrograd's demo step written by hand: the speed references for compiled tapes.

An MLP with ReLU hidden layers and a linear output, the hinge loss
mean(relu(1 - y * score)) + alpha * sum(p^2), forward and backward, no
autograd at all: in plain Python for each sample with lists and loops
(``loss_and_grads``, the reference for scalar tapes), and with numpy matrix
products over the whole batch (``numpy_loss_and_grads``, the reference for
the matrix lowering).  Parameters are one flat list or array in micrograd's
order (layer by layer, neuron by neuron, weights then bias), so the numbers
can be compared with every engine.
"""

from __future__ import annotations

from itertools import pairwise


def split(flat: list[float], sizes: list[int]) -> list[list[tuple[list[float], int]]]:
    """Where each neuron's weights and bias sit in the flat list: [[(weight slots, bias slot)]]."""
    layers, k = [], 0
    for nin, nout in pairwise(sizes):
        layer = []
        for _ in range(nout):
            layer.append((list(range(k, k + nin)), k + nin))
            k += nin + 1
        layers.append(layer)
    if k != len(flat):
        raise ValueError(f"split: {len(flat)} parameters for sizes {sizes} (needs {k})")
    return layers


def loss_and_grads(flat: list[float], sizes: list[int], X, Y, alpha: float = 1e-4):
    """The demo loss and d loss / d p for every parameter p, by the chain rule by hand."""
    layers = [[([flat[i] for i in ws], flat[b]) for ws, b in layer] for layer in split(flat, sizes)]
    grads = [[([0.0] * len(w), [0.0]) for w, _ in layer] for layer in layers]
    last = len(layers) - 1
    n = len(X)
    data_loss = 0.0
    for x, y in zip(X, Y):
        # Forward: keep each layer's input and pre-activation for the backward pass.
        inputs, zs = [], []
        h = x
        for li, layer in enumerate(layers):
            z = []
            for w, b in layer:
                s = b
                for wi, hi in zip(w, h):
                    s += wi * hi
                z.append(s)
            inputs.append(h)
            zs.append(z)
            h = z if li == last else [v if v > 0 else 0.0 for v in z]
        margin = 1.0 - y * h[0]
        if margin <= 0.0:
            continue  # relu(margin) = 0: no loss, no gradient from this sample
        data_loss += margin
        # Backward: d loss_i / d score = -y, then layer by layer.
        upstream = [-y]
        for li in range(last, -1, -1):
            if li != last:
                upstream = [u if z > 0 else 0.0 for u, z in zip(upstream, zs[li])]
            h = inputs[li]
            down = [0.0] * len(h)
            for (w, _), (gw, gb), u in zip(layers[li], grads[li], upstream):
                if u == 0.0:
                    continue
                gb[0] += u
                for j, hj in enumerate(h):
                    gw[j] += u * hj
                    down[j] += u * w[j]
            upstream = down
    scale = 1.0 / n
    reg = alpha * sum(p * p for p in flat)
    out = [0.0] * len(flat)
    for layer, glayer in zip(split(flat, sizes), grads):
        for (ws, b), (gw, gb) in zip(layer, glayer):
            for i, g in zip(ws, gw):
                out[i] = g * scale + 2.0 * alpha * flat[i]
            out[b] = gb[0] * scale + 2.0 * alpha * flat[b]
    return data_loss * scale + reg, out


def step(flat: list[float], sizes: list[int], X, Y, lr: float, alpha: float = 1e-4) -> float:
    """One SGD step in place; returns the loss before it."""
    loss, grads = loss_and_grads(flat, sizes, X, Y, alpha)
    for i, g in enumerate(grads):
        flat[i] -= lr * g
    return loss


def numpy_loss_and_grads(flat, sizes: list[int], X, Y, alpha: float = 1e-4):
    """The same loss and gradients with numpy: X is (n, sizes[0]), Y (n,), flat a float array.

    Each layer's parameters are one (nout, nin + 1) block of ``flat``: weights, then the bias.
    """
    import numpy as np

    blocks, k = [], 0
    for nin, nout in pairwise(sizes):
        blocks.append(flat[k : k + nout * (nin + 1)].reshape(nout, nin + 1))
        k += nout * (nin + 1)
    last = len(blocks) - 1
    inputs, zs, h = [], [], X
    for li, block in enumerate(blocks):
        inputs.append(h)
        z = h @ block[:, :-1].T + block[:, -1]
        zs.append(z)
        h = z if li == last else np.maximum(z, 0.0)
    n = len(Y)
    margin = 1.0 - Y * h[:, 0]
    data_loss = np.maximum(margin, 0.0).sum() / n
    # d loss / d score = -y / n where the margin is positive (relu'(0) = 0, as the engines).
    up = np.where(margin > 0.0, -Y / n, 0.0)[:, None]
    grads = []
    for li in range(last, -1, -1):
        if li != last:
            up = up * (zs[li] > 0.0)
        g = np.empty_like(blocks[li])
        g[:, :-1] = up.T @ inputs[li]
        g[:, -1] = up.sum(0)
        grads.append(g.ravel())
        up = up @ blocks[li][:, :-1]
    return data_loss + alpha * (flat @ flat), np.concatenate(grads[::-1]) + 2.0 * alpha * flat


def numpy_step(flat, sizes: list[int], X, Y, lr: float, alpha: float = 1e-4) -> float:
    """One SGD step of the numpy version, in place on the array ``flat``."""
    loss, grads = numpy_loss_and_grads(flat, sizes, X, Y, alpha)
    flat -= lr * grads
    return loss

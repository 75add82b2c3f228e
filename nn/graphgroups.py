"""Which box of a graph picture each Value belongs in: a neuron's, inside its layer's.

``autograd.viz`` draws boxes for any grouping it is given (``groups=``) and
knows nothing of neurons or layers; this module reads a model's parameter
names ('layers.0.neurons.3.w.1') and its graph to say which Values make up
each neuron.  ``Module.graph_groups(root)`` calls it, so
``draw_dot(loss, module=model)`` boxes the picture by neuron and layer.
"""

from __future__ import annotations

from collections import Counter

from autograd import Value, topological_order


def owner_of(name: str) -> str:
    """'layers.0.neurons.3.w.1' -> 'layers.0.neurons.3': the module that holds the parameter."""
    parts = name.split(".")
    while parts and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts[:-1])


def graph_groups(module, root: Value) -> dict:
    """{Value: neuron path} for each parameter and the computation of the neuron that owns it.

    A neuron's box holds act(b + sum_i w_i x_i) and nothing else.  A node joins
    neuron N when it
    - weighs: uses parameters of N (of no other neuron) together with a value from
      outside N, an input or a previous layer's output: w * x, linear(w, x, b);
    - gathers: adds partial results of N, each used only here, to parameters of N
      or to a constant 0 (where Python's sum() starts): b + w*x, s + w*x;
    - activates: one single-operand op on a partial result of N used only there;
      the activation closes N (what uses it, like the next layer, is outside).
    A use of parameters that meets no input, such as p * p in an L2 penalty or
    p ** 2 in a weight norm, is about the parameters, not the neuron's output: it,
    and everything built on it, stays outside the box.  Parameters named without
    an owner ('w.0', 'b' of a lone neuron) belong to the module itself, boxed
    under its class name.
    """
    home = type(module).__name__
    named = dict((p, name) for name, p in module.named_parameters())
    owner = {p: owner_of(name) or home for p, name in named.items()}
    order = topological_order(root)
    uses = Counter(p for v in order for p in v.parents)
    partial: dict = {}  # an open partial result of a neuron (not yet activated) -> the neuron

    for node in order:
        if node.is_leaf:
            continue
        by_params = {owner[p] for p in node.parents if p in named}
        neurons = by_params or {partial[p] for p in node.parents if p in partial}
        if len(neurons) != 1:
            continue
        (n,) = neurons
        own = [p for p in node.parents if partial.get(p) == n and uses[p] == 1]
        outside = [p for p in node.parents if owner.get(p) != n]
        if len(node.parents) == 1:
            if own:  # activates
                owner[node] = n
        elif node.op == "add":
            if own and all(p.op == "const" and p.data == 0 for p in outside):  # gathers
                owner[node] = partial[node] = n
        elif by_params and outside:  # weighs
            owner[node] = partial[node] = n
    return owner

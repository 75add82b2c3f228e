"""The README's example (micrograd's expression), shared by the picture and step tests."""

from autograd import Value


def readme_graph(backward: bool = True):
    """Build the README expression with a, b and g labelled; returns (a, b, g).

    Its known numbers: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773.
    """
    a = Value(-4.0, label="a")
    b = Value(2.0, label="b")
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.label = "g"
    if backward:
        g.backward()
    return a, b, g

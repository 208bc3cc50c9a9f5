"""Gradient checking: compare a hand-derived backward with centered finite differences.

Seed 003 (梯度检验). For a scalar function J(θ) the centered difference

    dJ/dθ_i ≈ (J(θ + ε e_i) − J(θ − ε e_i)) / (2ε)

has error O(ε²) (the one-sided difference has O(ε)). The analytic gradient g and the
numerical one g̃ are compared with the relative difference

    difference = ‖g − g̃‖₂ / (‖g‖₂ + ‖g̃‖₂)

which is < 1e-7 for a correct backward in float64, ~1e-3 or larger for a wrong one. float32
cannot do this: with ε = 1e-6 the difference J(θ+ε) − J(θ−ε) is below float32 resolution.
Random layers (dropout) must draw the *same* mask on every evaluation, otherwise J is not
a function of θ at all; :func:`check_module` restores every generator before each call.

Tutorial: tutorials/15_gradient_checking.py.
"""
import copy

import numpy as np

__all__ = ["numerical_gradient", "relative_difference", "check_module", "GradCheckReport"]


def numerical_gradient(f, x, eps=1e-6):
    """Centered-difference gradient of the scalar function ``f`` at ``x``.

    ``f`` is called as ``f(x)`` while ``x`` (a float ndarray, perturbed *in place*) holds
    ``x_i ± eps``; every element is restored afterwards, even if ``f`` raises.
    Returns an array shaped like ``x`` (float64 if ``x`` is float64).
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"numerical_gradient needs a float ndarray to perturb in place, got {type(x).__name__}")
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        try:
            x[idx] = old + eps
            f_plus = float(f(x))
            x[idx] = old - eps
            f_minus = float(f(x))
        finally:
            x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_difference(a, b) -> float:
    """‖a − b‖₂ / (‖a‖₂ + ‖b‖₂), and 0.0 when both are zero (the documents' formula)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_difference: shapes differ, {a.shape} vs {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    if denom == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / denom)


class GradCheckReport:
    """Result of :func:`check_module`.

    ``differences``: {tensor name: relative difference}; ``max_difference``; ``passed``;
    ``worst``: (tensor name, index, analytic value, numeric value) of the largest error.
    """

    def __init__(self, module_name, differences, details, threshold):
        self.module_name = module_name
        self.differences = differences
        self.threshold = threshold
        self._details = details
        self.max_difference = max(differences.values()) if differences else 0.0
        self.passed = bool(self.max_difference < threshold)
        self.worst = None
        if differences:
            name = max(differences, key=differences.get)
            analytic, numeric = details[name]
            err = np.abs(analytic - numeric)
            idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
            self.worst = (name, tuple(int(i) for i in idx),
                          float(analytic[idx]) if err.size else 0.0,
                          float(numeric[idx]) if err.size else 0.0)

    def gradients(self, name):
        """(analytic, numeric) arrays for one checked tensor."""
        return self._details[name]

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"gradient check of {self.module_name}: {verdict} "
                 f"(max difference {self.max_difference:.3e}, threshold {self.threshold:.0e})"]
        for name, d in self.differences.items():
            mark = "ok " if d < self.threshold else "BAD"
            lines.append(f"  {mark} {name:<24} difference {d:.3e}")
        if self.worst is not None and not self.passed:
            name, idx, a, n = self.worst
            lines.append(f"  worst element: {name}{list(idx)} analytic {a:.10g} vs numeric {n:.10g}")
        return "\n".join(lines)

    __repr__ = __str__


def _generators(module):
    """Every numpy Generator a module tree (or minidl's global state) may draw from."""
    import minidl.random as mrandom

    gens = {id(mrandom.default_rng()): mrandom.default_rng()}
    for m in module.modules():
        for value in vars(m).values():
            if isinstance(value, np.random.Generator):
                gens[id(value)] = value
    return list(gens.values())


def check_module(module, x, eps=1e-6, rng=None, threshold=1e-7):
    """Check a module's backward against centered differences, in float64.

    Works on a deep copy of ``module`` cast to float64 (the caller's module is untouched)
    and a float64 copy of ``x``. With a random upstream gradient ``g`` (from ``rng``) the
    scalar J(x, θ) = Σ forward(x) ⊙ g is differenced with respect to the input and to every
    parameter; ``backward(g)`` must give the same numbers. Generators the module draws from
    are reset before every evaluation so dropout masks stay fixed. Returns a
    :class:`GradCheckReport`.
    """
    from minidl.nn.module import Module

    if not isinstance(module, Module):
        raise TypeError(f"check_module expects a minidl.nn.Module, got {type(module).__name__}")
    rng = np.random.default_rng(0) if rng is None else rng
    model = copy.deepcopy(module).to(np.float64)
    x = np.array(x, dtype=np.float64, copy=True)
    generators = _generators(model)
    states = [g.bit_generator.state for g in generators]

    def restore():
        for g, s in zip(generators, states):
            g.bit_generator.state = s

    restore()
    y = model(x)
    if not isinstance(y, np.ndarray):
        raise TypeError(f"check_module: {type(module).__name__}.forward returned {type(y).__name__}, not an ndarray")
    g = rng.standard_normal(y.shape)

    def objective(_=None):
        restore()
        out = model(x)
        return float(np.sum(out * g))

    # analytic
    model.zero_grad()
    restore()
    model(x)
    dx = np.asarray(model.backward(g.copy()), dtype=np.float64)
    analytic = {"input": dx}
    for name, p in model.named_parameters():
        analytic[name] = p.grad.astype(np.float64).copy()

    # numeric
    details, differences = {}, {}
    numeric_x = numerical_gradient(objective, x, eps)
    details["input"] = (analytic["input"], numeric_x)
    for name, p in model.named_parameters():
        details[name] = (analytic[name], numerical_gradient(objective, p.data, eps))
    for name, (a, n) in details.items():
        if a.shape != n.shape:
            raise ValueError(f"check_module: backward gave {name} gradient of shape {a.shape}, expected {n.shape}")
        differences[name] = relative_difference(a, n)
    restore()
    return GradCheckReport(type(module).__name__, differences, details, threshold)

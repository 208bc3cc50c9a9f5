"""Gradient checking: compare a hand-derived backward with centered finite differences.

Seed 003 (梯度检验). For a scalar function J(θ) the centered difference::

    dJ/dθ_i ≈ (J(θ + ε e_i) − J(θ − ε e_i)) / (2ε)

has error O(ε²) (the one-sided difference has O(ε)). The analytic gradient g and the
numerical one g̃ are compared with the relative difference::

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
    Returns a float64 array shaped like ``x``::

        grad[i] = (f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps)

    (for f(x) = x³ this is 3x² + eps², exact up to rounding: the error is O(eps²)).
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
        values = list(differences.values())
        if any(np.isnan(v) for v in values):
            self.max_difference = float("nan")          # a nan gradient never passes
        else:
            self.max_difference = max(values) if values else 0.0
        self.passed = bool(self.max_difference < threshold)
        self.worst = None
        if differences:
            name = max(differences, key=lambda k: np.inf if np.isnan(differences[k]) else differences[k])
            analytic, numeric = details[name]
            err = np.abs(analytic - numeric)
            if err.size:
                flat = int(np.argmax(np.where(np.isnan(err), np.inf, err)))
                idx = tuple(int(i) for i in np.unravel_index(flat, err.shape))
                self.worst = (name, idx, float(analytic[idx]), float(numeric[idx]))
            else:
                self.worst = (name, (), 0.0, 0.0)

    def gradients(self, name):
        """(analytic, numeric) arrays for one checked tensor."""
        return self._details[name]

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"gradient check of {self.module_name}: {verdict} "
                 f"(max difference {self.max_difference:.3e}, threshold {self.threshold:.0e})"]
        width = max([len(n) for n in self.differences] + [8])
        for name, d in self.differences.items():
            mark = "ok " if d < self.threshold else "BAD"
            lines.append(f"  {mark} {name:<{width}} difference {d:.3e}")
        if self.worst is not None:
            name, idx, a, n = self.worst
            label = "worst element" if not self.passed else "largest difference at"
            lines.append(f"  {label}: {name}{list(idx)} analytic {a:.10g} vs numeric {n:.10g}")
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


def _noise_floor(scale, eps, size):
    """‖numeric gradient‖₂ that float64 rounding alone can produce.

    J is a sum whose terms add up to ``scale`` = Σ|out ⊙ g| in magnitude; each evaluation
    is exact to about ``u·scale`` (u = 2.2e-16), so each difference quotient carries noise
    of about ``u·scale/ε``; a safety factor of 16 and √size for the norm.
    """
    return 16.0 * np.finfo(np.float64).eps * max(scale, 1.0) / eps * np.sqrt(max(size, 1))


def check_module(module, x, eps=1e-6, rng=None, threshold=1e-7):
    """Check a module's backward against centered differences, in float64.

    Works on a deep copy of ``module`` cast to float64 (the caller's module is untouched)
    and a float64 copy of ``x``. With a random upstream gradient ``g`` (drawn from ``rng``: a
    Generator or an int seed; default seed 0) the scalar::

        J(x, θ) = Σ forward(x) ⊙ g          so that  dJ/d forward(x) = g

    is differenced with respect to every element of the input and of every parameter, and
    ``backward(g)`` must give the same numbers: the report holds one relative difference
    ‖grad − gradapprox‖₂ / (‖grad‖₂ + ‖gradapprox‖₂) per tensor ("input", "0.weight", ...).

    Randomness is frozen: every numpy Generator stored on a module of the tree, minidl's
    global generator and NumPy's legacy global state are reset to the same state before each
    of the 1 + 2·(number of elements) evaluations, so dropout draws the same mask each time
    (without this J would not even be a function). Their states are restored at the end.

    When both gradients of a tensor are below float64 rounding noise (e.g. the bias of a
    Linear layer followed by BatchNorm, whose exact gradient is 0) their difference is
    reported as 0, like the "both zero" case of :func:`relative_difference`.

    Returns a :class:`GradCheckReport` (``.passed``, ``.max_difference``, ``.differences``,
    ``.worst``, ``str()``).
    """
    from minidl.nn.module import Module

    if not isinstance(module, Module):
        raise TypeError(f"check_module expects a minidl.nn.Module, got {type(module).__name__}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(0 if rng is None else int(rng))
    elif not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")
    name = type(module).__name__
    model = copy.deepcopy(module).to(np.float64)
    x = np.array(x, dtype=np.float64, copy=True, order="C")
    generators = _generators(model)
    states = [g.bit_generator.state for g in generators]
    legacy_state = np.random.get_state()

    def restore():
        for g, s in zip(generators, states):
            g.bit_generator.state = s
        np.random.set_state(legacy_state)

    try:
        restore()
        y = model(x)
        if not isinstance(y, np.ndarray):
            raise TypeError(f"check_module: {name}.forward returned {type(y).__name__}, not an ndarray")
        g = rng.standard_normal(y.shape)
        scale = float(np.sum(np.abs(y * g)))

        def objective(_=None):
            restore()
            return float(np.sum(model(x) * g))

        # analytic: one forward (same randomness) and the hand-written backward
        model.zero_grad()
        restore()
        model(x)
        dx = model.backward(g.copy())
        if dx is None:
            raise TypeError(f"check_module: {name}.backward returned None instead of the input gradient")
        # copy: a backward that (wrongly) returns an internal buffer must not change under us
        analytic = {"input": np.array(dx, dtype=np.float64, copy=True)}
        for pname, p in model.named_parameters():
            analytic[pname] = np.array(p.grad, dtype=np.float64, copy=True)

        # numeric: centered differences of J, element by element
        targets = [("input", x)] + [(pname, p.data) for pname, p in model.named_parameters()]
        details, differences = {}, {}
        for tname, array in targets:
            a = analytic[tname]
            if a.shape != array.shape:
                raise ValueError(f"check_module: {name}.backward gave the {tname} gradient shape {a.shape}, "
                                 f"expected {array.shape}")
            n = numerical_gradient(objective, array, eps)
            details[tname] = (a, n)
            floor = _noise_floor(scale, eps, array.size)
            if np.linalg.norm(a) <= floor and np.linalg.norm(n) <= floor:
                differences[tname] = 0.0
            else:
                differences[tname] = relative_difference(a, n)
    finally:
        restore()
    return GradCheckReport(name, differences, details, threshold)

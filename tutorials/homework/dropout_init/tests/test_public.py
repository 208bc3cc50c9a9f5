"""Public tests of the dropout / He homework (shipped to students in the handout).

Every random draw is reproduced on the trusted side from the same seed: the handout fixes the
draw protocol (``mask = rng.random(x.shape) >= p``), so exact-mask checks are possible. Data
the student must not predict (``dout`` drawn after a call that saw ``rng``) comes from
``trusted_rng``. Every test first requires a non-trivial answer, so a submission that returns
zeros, None or its input earns nothing for "shapes match" or "inputs unchanged".
"""
import numpy as np
import pytest

from minidl.grading import G

P_VALUES = (0.2, 0.5, 0.8)


def reference_mask(seed_rng_state, shape, p):
    """The mask a correct dropout_forward draws from a Generator in ``seed_rng_state``."""
    rng = np.random.default_rng()
    rng.bit_generator.state = seed_rng_state
    return rng.random(shape) >= p


def forward(student, x, p, training, rng):
    """``student.dropout_forward(...)``, required to return ``(out, cache)`` with ``out`` an
    array shaped like ``x``: the gate every dropout test starts with."""
    result = student.dropout_forward(x, p, training, rng)
    G.require_true(isinstance(result, tuple) and len(result) == 2,
                   f"dropout_forward must return a tuple (out, cache), got {G.describe(result)}",
                   name="returns (out, cache)")
    G.require_shape(result[0], x.shape, name="out shape")
    return result


def require_drops_and_keeps(out, name="out"):
    G.require_true(np.any(out != 0) and np.any(out == 0),
                   f"in training mode {name} must keep some units and drop others "
                   f"({'all zero' if not np.any(out != 0) else 'nothing dropped'})", name="drops and keeps")


@G.test(1, number="1.1", name="interface: (out, cache) with x's shape and dtype",
        hint="return a tuple (out, cache); out has x's shape and dtype")
def test_interface(student, rng):
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((4, 7)) + 3.0).astype(dtype)
        out, _ = forward(student, x, 0.5, True, rng)
        require_drops_and_keeps(out)
        G.check_shape(out, x.shape, name=f"{np.dtype(dtype).name} shape")
        G.check_dtype(out, dtype, name=f"{np.dtype(dtype).name} dtype")


@G.test(2, number="1.2", name="eval mode is the identity and draws nothing",
        hint="with training=False return a copy of x and do not call rng")
def test_eval_identity(student, rng):
    x = rng.standard_normal((8, 16))
    before = rng.bit_generator.state
    out, _ = forward(student, x.copy(), 0.5, False, rng)
    G.require_equal(out, x, name="out == x")
    G.check_true(rng.bit_generator.state == before, "rng was used in eval mode (its state changed)",
                 name="rng untouched")


@G.test(2, number="1.3", name="kept units are scaled by 1/(1-p) (exact mask)",
        hint="mask = rng.random(x.shape) >= p; out = x * mask / (1 - p)")
def test_scaling_exact_mask(student, rng):
    x = rng.standard_normal((64, 100)).astype(np.float32)
    state = rng.bit_generator.state                  # the stream position the student draws from
    out, _ = forward(student, x.copy(), 0.3, True, rng)
    mask = reference_mask(state, x.shape, 0.3)
    G.check_close(out, (x * mask / np.float32(0.7)).astype(np.float32), name="out")


@pytest.mark.parametrize("p", P_VALUES)
@G.test(1, number="1.4", name="drop rate within 6 sigma", tags=("statistical",),
        hint="the fraction of dropped units must be p, not 1 - p")
def test_drop_rate(student, rng, p):
    out, _ = forward(student, np.ones((100, 100)), p, True, rng)
    G.check_fraction(out == 0, p, name=f"fraction dropped at p={p}")


@G.test(2, number="1.5", name="backward reuses the forward mask",
        hint="dx = dout * mask / (1 - p), with the mask that forward saved in the cache")
def test_backward_uses_mask(student, rng, trusted_rng):
    x = np.ones((32, 50))
    out, cache = forward(student, x, 0.4, True, rng)
    require_drops_and_keeps(out)
    kept = out != 0
    dout = trusted_rng.standard_normal(x.shape)
    dx = student.dropout_backward(dout.copy(), cache)
    if not G.check_close(dx, dout * kept / 0.6, name="dx") and isinstance(dx, np.ndarray) \
            and dx.shape == dout.shape:
        # name the classic bug (weight 0: a diagnosis, not a second penalty)
        if np.allclose(dx, dout * kept):
            why = "dx = dout * mask: the mask is right, the 1/(1 - p) scale is missing"
        elif np.allclose(dx, dout / 0.6) or np.allclose(dx, dout):
            why = "dx keeps every unit: apply the mask of the forward pass"
        elif not np.array_equal(dx != 0, kept):
            why = "dx drops other units than the forward pass did: reuse the mask from the cache, do not draw a new one"
        else:
            why = "the kept units have the wrong scale: it is 1/(1 - p), with p the drop probability"
        G.check_true(False, why, name="diagnosis", weight=0)


@G.test(2, number="1.6", name="He init: mean 0 and std sqrt(2/fan_in)", tags=("statistical",),
        hint="fan_in is w.shape[1] for a (fan_out, fan_in) weight")
def test_he_normal_statistics(student, rng):
    w = np.zeros((512, 256))
    student.he_normal_(w, rng)
    std = np.sqrt(2.0 / 256)
    G.require_true(np.count_nonzero(w) > w.size // 2, "w was not filled in place", name="filled in place")
    G.check_mean(w, 0.0, std=std, name="mean", weight=1)
    G.check_std(w, std, mean=0.0, kurtosis=3.0, name="std", weight=3)

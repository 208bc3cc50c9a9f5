"""Dropout kernels: the compiled mask is bit-identical to the twin's for the same Generator
state, the Generator ends in the same state, outputs are bit-identical, and the threshold
arithmetic reproduces numpy's float32 draw exactly."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BIT_GENERATORS = [np.random.PCG64, np.random.MT19937, np.random.Philox, np.random.SFC64, np.random.PCG64DXSM]

shapes = st.lists(st.integers(0, 40), min_size=1, max_size=3).map(tuple)
keep_probs = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.8, 0.1]), st.floats(1e-6, 1.0))  # 1/q finite in float32


def same_state(a, b):
    """Generator states are nested dicts that may hold arrays (MT19937)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def run_forward(fn, x, keep, scale, gen):
    out = np.full_like(x, np.nan)
    mask = np.full(x.shape, 7, dtype=np.uint8)     # every byte must be written (0 or 1)
    fn(x, out, mask, keep, scale, gen)
    return out, mask


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from([np.float32, np.float64]), keep=keep_probs,
       bitgen=st.sampled_from(BIT_GENERATORS), seed=st.integers(0, 2**32 - 1), pre_draw=st.integers(0, 3))
def test_mask_and_generator_state_identical_to_twin(kernel_pair, shape, dtype, keep, bitgen, seed, pre_draw):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    scale = 1.0 / keep if keep > 0 else 0.0
    results = []
    for fn in kernel_pair("dropout_forward"):
        gen = np.random.Generator(bitgen(seed))
        gen.random(pre_draw, dtype=np.float32)   # odd counts leave a buffered 32-bit half
        out, mask = run_forward(fn, x, keep, scale, gen)
        results.append((out, mask, gen.bit_generator.state, gen.random(5)))
    (out_r, mask_r, state_r, next_r), (out_c, mask_c, state_c, next_c) = results
    assert set(np.unique(mask_c)) <= {0, 1}
    assert np.array_equal(mask_c, mask_r)
    assert same_state(state_c, state_r)
    assert np.array_equal(next_c, next_r)
    # bitwise equal outputs (NaN-free input, so a view comparison is exact)
    assert np.array_equal(out_c.view(np.uint8), out_r.view(np.uint8))


def test_twin_mask_is_numpys_float32_draw():
    """The twin's definition, written out: u = rng.random(float32), mask = u < float32(q)."""
    from minidl._kernels import implementations

    ref, _ = implementations("dropout_forward")
    x = np.ones(1000, np.float32)
    out, mask = run_forward(ref, x, 0.3, 1 / 0.3, np.random.default_rng(3))
    u = np.random.default_rng(3).random(1000, dtype=np.float32)
    assert np.array_equal(mask.astype(bool), u < np.float32(0.3))
    np.testing.assert_array_equal(out, np.where(u < np.float32(0.3), np.float32(1 / 0.3), 0).astype(np.float32))


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.9, 1 / 3, 0.999999, 2.0**-24, 1 - 2.0**-24])
def test_integer_threshold_equals_float_comparison(keep):
    """(k >> 8) · 2⁻²⁴ < float32(q)  ⇔  (k >> 8) < ceil(float32(q) · 2²⁴), checked around the edge."""
    q = np.float32(keep)
    threshold = math.ceil(float(q) * 2**24)
    for k in range(max(threshold - 3, 0), min(threshold + 3, 2**24)):
        assert (np.float32(k) * np.float32(2.0**-24) < q) == (k < threshold)


def test_large_mask_identical_and_fast_path_reported(kernel_pair):
    """A big PCG64 draw (the default Generator) exercises the inline 4-lane path."""
    from minidl._kernels import dropout as compiled

    assert compiled.inline_pcg64_enabled() in (True, False)
    x = np.ones((257, 1031), np.float32)
    results = []
    for fn in kernel_pair("dropout_forward"):
        gen = np.random.default_rng(2024)
        results.append((run_forward(fn, x, 0.7, 1 / 0.7, gen)[1], gen.bit_generator.state))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from([np.float32, np.float64]), scale=st.floats(0.0, 10.0),
       seed=st.integers(0, 2**16))
def test_backward_matches_twin_and_formula(kernel_pair, shape, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(shape).astype(dtype)
    mask = (rng.random(shape) < 0.5).astype(np.uint8)
    outs = []
    for fn in kernel_pair("dropout_backward"):
        out = np.full_like(g, np.nan)
        fn(g, mask, scale, out)
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], np.where(mask == 1, g * dtype(scale), 0).astype(dtype))


def test_compiled_kernel_rejects_bad_arguments(kernel_pair):
    _, comp = kernel_pair("dropout_forward")
    x = np.ones((3, 4), np.float32)
    gen = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"dropout_forward: out has shape \(4, 3\), x has \(3, 4\)"):
        comp(x, np.empty((4, 3), np.float32), np.empty((3, 4), np.uint8), 0.5, 2.0, gen)
    with pytest.raises(ValueError, match="read-only"):
        comp(x, np.empty((3, 4), np.float32), _read_only(np.empty((3, 4), np.uint8)), 0.5, 2.0, gen)
    with pytest.raises(TypeError, match="x must be a numpy array"):
        comp([[1.0] * 4] * 3, np.empty((3, 4), np.float32), np.empty((3, 4), np.uint8), 0.5, 2.0, gen)
    with pytest.raises(ValueError, match="dtype"):
        comp(x, np.empty((3, 4), np.float64), np.empty((3, 4), np.uint8), 0.5, 2.0, gen)
    with pytest.raises(ValueError, match="mask"):
        comp(x, np.empty((3, 4), np.float32), np.empty((3, 4), np.float32), 0.5, 2.0, gen)
    with pytest.raises(ValueError, match="keep_prob"):
        comp(x, np.empty((3, 4), np.float32), np.empty((3, 4), np.uint8), 1.5, 2.0, gen)
    with pytest.raises(TypeError, match="Generator"):
        comp(x, np.empty((3, 4), np.float32), np.empty((3, 4), np.uint8), 0.5, 2.0, np.random.RandomState(0))
    with pytest.raises(ValueError, match="C-contiguous"):
        comp(np.ones((4, 3), np.float32).T, np.empty((3, 4), np.float32), np.empty((3, 4), np.uint8), 0.5, 2.0, gen)


def _read_only(a):
    a.flags.writeable = False
    return a


def test_compiled_backward_rejects_bad_arguments(kernel_pair):
    """The shared checks (_validation.pxi) name the kernel; nothing is read out of bounds."""
    _, comp = kernel_pair("dropout_backward")
    g = np.ones((3, 4), np.float32)
    mask = np.ones((3, 4), np.uint8)
    with pytest.raises(ValueError, match="dropout_backward: mask has shape"):
        comp(g, np.ones((3, 3), np.uint8), 2.0, np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="dropout_backward: grad_input has dtype float64"):
        comp(g, mask, 2.0, np.empty((3, 4), np.float64))
    with pytest.raises(ValueError, match="dropout_backward: grad_input is read-only"):
        comp(g, mask, 2.0, _read_only(np.empty((3, 4), np.float32)))
    with pytest.raises(TypeError, match="dropout_backward: mask must be a numpy array"):
        comp(g, None, 2.0, np.empty((3, 4), np.float32))
    comp(g, _read_only(mask.copy()), 2.0, out := np.empty((3, 4), np.float32))   # a read-only mask is fine
    np.testing.assert_array_equal(out, np.full((3, 4), 2.0, np.float32))


# -- native/pcg64_mask.h reads NumPy's private PCG64 state ------------------------------------
@pytest.mark.parametrize("pre_draw", [0, 1, 2, 5])
def test_pcg64_state_layout(pre_draw):
    """The header's struct must be NumPy's pcg64_state. If NumPy changes the layout, this fails
    loudly (the kernels themselves only fall back to the slower generic path)."""
    dropout = pytest.importorskip("minidl._kernels.dropout")
    gen = np.random.Generator(np.random.PCG64(12345))
    gen.random(pre_draw, dtype=np.float32)          # odd counts leave a buffered 32-bit half
    as_read = dropout._pcg64_state_as_read(gen.bit_generator)
    if as_read is None:
        pytest.skip("no unsigned __int128 on this compiler: the inline path is not built")
    assert as_read == gen.bit_generator.state, (
        "NumPy's PCG64 state layout differs from minidl/_kernels/native/pcg64_mask.h: "
        "update md_pcg64_state_t (numpy/random/src/pcg64/pcg64.h)")
    assert dropout.inline_pcg64_enabled(), "the inline PCG64 self-test failed although the layout matches"

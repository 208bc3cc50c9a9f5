"""Optimizer update kernels: compiled vs NumPy twin on random shapes, float32 and float64,
every instruction-set variant of the update loops (native/optim_update.h) on odd sizes,
and shape/dtype errors raised by the compiled kernels instead of reading out of bounds."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
shapes = st.lists(st.integers(1, 9), min_size=0, max_size=3).map(tuple)
dtypes = st.sampled_from([np.float32, np.float64])
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}

# kernel name -> (number of state arrays, function building its scalar arguments from a draw)
CASES = {
    "sgd_update": (0, lambda d: (d(st.floats(0, 1)), d(st.sampled_from([0.0, 0.1])))),
    "sgd_momentum_update": (1, lambda d: (d(st.floats(0, 1)), d(st.floats(0, 0.99)),
                                          d(st.sampled_from([0.0, 0.1])), d(st.booleans()))),
    "adam_update": (2, lambda d: (d(st.floats(1e-4, 0.1)), d(st.floats(0, 0.99)), d(st.floats(0.5, 0.999)),
                                  1e-8, d(st.sampled_from([0.0, 0.1])), d(st.integers(1, 50)), d(st.booleans()))),
    "rmsprop_update": (1, lambda d: (d(st.floats(1e-4, 0.1)), d(st.floats(0.5, 0.99)), 1e-8,
                                     d(st.sampled_from([0.0, 0.1])))),
    "rmsprop_momentum_update": (2, lambda d: (d(st.floats(1e-4, 0.1)), d(st.floats(0.5, 0.99)), 1e-8,
                                              d(st.sampled_from([0.0, 0.1])), d(st.floats(0.01, 0.9)))),
    "adagrad_update": (1, lambda d: (d(st.floats(1e-4, 0.1)), 1e-10, d(st.sampled_from([0.0, 0.1])))),
    "rprop_update": (2, lambda d: (d(st.floats(0.1, 0.9)), d(st.floats(1.1, 2.0)), 1e-4, 0.05)),
}

FIXED_SCALARS = {
    "sgd_update": (0.1, 0.0),
    "sgd_momentum_update": (0.1, 0.9, 0.0, False),
    "adam_update": (0.001, 0.9, 0.999, 1e-8, 0.0, 1, False),
    "rmsprop_update": (0.01, 0.99, 1e-8, 0.0),
    "rmsprop_momentum_update": (0.01, 0.99, 1e-8, 0.0, 0.9),
    "adagrad_update": (0.01, 1e-10, 0.0),
    "rprop_update": (0.5, 1.2, 1e-6, 50.0),
}


def _state(name, rng, shape, dtype):
    n_state = CASES[name][0]
    if name == "rprop_update":     # prev gradient (any sign, some zeros), positive step sizes
        prev = rng.standard_normal(shape) * (rng.random(shape) > 0.2)
        return [np.array(prev, dtype=dtype), np.array(rng.uniform(1e-5, 0.1, shape), dtype=dtype)]
    # second moments / sums must be non-negative; buffers may be anything
    return [np.array(np.abs(rng.standard_normal(shape)), dtype=dtype) for _ in range(n_state)]


@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data(), shape=shapes, dtype=dtypes, seed=st.integers(0, 2**32 - 1))
def test_compiled_matches_twin(kernel_pair, name, data, shape, dtype, seed):
    ref, comp = kernel_pair(name)
    rng = np.random.default_rng(seed)
    param = np.array(rng.standard_normal(shape), dtype=dtype)
    grad = np.array(rng.standard_normal(shape), dtype=dtype)
    state = _state(name, rng, shape, dtype)
    scalars = CASES[name][1](data.draw)
    ref_arrays = [param.copy(), grad.copy()] + [s.copy() for s in state]
    comp_arrays = [param.copy(), grad.copy()] + [s.copy() for s in state]
    assert ref(*ref_arrays, *scalars) is None
    assert comp(*comp_arrays, *scalars) is None
    np.testing.assert_array_equal(comp_arrays[1], grad)          # the gradient is only read
    for r, c in zip(ref_arrays, comp_arrays):
        assert c.dtype == dtype
        np.testing.assert_allclose(c, r, **TOL[dtype])


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_rejects_mismatched_arrays(kernel_pair, name):
    _, comp = kernel_pair(name)
    n_state = CASES[name][0]
    scalars = FIXED_SCALARS[name]

    def arrays(n=6, dtype=np.float64):
        return [np.ones(n, dtype) for _ in range(2 + n_state)]

    bad_size = arrays()
    bad_size[1] = np.ones(5)
    with pytest.raises(ValueError, match=name):
        comp(*bad_size, *scalars)
    bad_dtype = arrays()
    bad_dtype[-1] = np.ones(6, np.float32)
    with pytest.raises(ValueError, match=name):
        comp(*bad_dtype, *scalars)
    with pytest.raises(ValueError, match=name):
        comp(*arrays(dtype=np.int64), *scalars)
    strided = arrays()
    strided[0] = np.ones(12)[::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        comp(*strided, *scalars)
    with pytest.raises(TypeError):
        comp(*([None] + arrays()[1:]), *scalars)


def test_worked_sgd_momentum_values(kernel_pair):
    # θ = 1, ∇ = 2, b = 3, η = 0.1, μ = 0.5, λ = 0.25: g = 2.25, b = 3.75, θ = 0.625;
    # nesterov: d = 2.25 + 0.5·3.75 = 4.125, θ = 0.5875
    for fn in kernel_pair("sgd_momentum_update"):
        for nesterov, expected in ((False, 0.625), (True, 0.5875)):
            p, g, b = np.array([1.0]), np.array([2.0]), np.array([3.0])
            fn(p, g, b, 0.1, 0.5, 0.25, nesterov)
            assert b[0] == pytest.approx(3.75, abs=1e-15)
            assert p[0] == pytest.approx(expected, abs=1e-15)


def test_compiled_updates_flush_subnormal_state_to_zero_and_restore_the_fpu(kernel_pair):
    """A decaying momentum buffer must not crawl through the (100x slower) subnormal range:
    the compiled kernel flushes results below the smallest normal float to 0. The twin keeps
    them; the difference is below float32's smallest normal number. Afterwards NumPy's own
    arithmetic must produce subnormals again (the FPU flag is restored)."""
    ref, comp = kernel_pair("sgd_momentum_update")
    tiny = np.finfo(np.float32).tiny
    param = np.ones(64, dtype=np.float32)
    grad = np.zeros(64, dtype=np.float32)
    buf = np.full(64, tiny * 1.01, dtype=np.float32)         # 0.9 * buf is subnormal
    p_ref, b_ref = param.copy(), buf.copy()
    ref(p_ref, grad, b_ref, 0.01, 0.9, 0.0, False)
    comp(param, grad, buf, 0.01, 0.9, 0.0, False)
    assert np.all((b_ref > 0) & (b_ref < tiny))              # the twin keeps the subnormal
    assert np.all(buf == 0.0)                                 # the kernel flushed it
    np.testing.assert_allclose(buf, b_ref, rtol=0, atol=tiny)
    np.testing.assert_array_equal(param, p_ref)
    half = np.float32(tiny) * np.float32(0.5)
    assert 0.0 < half < tiny                                  # flush-to-zero was switched off again


# -- every instruction-set variant (native/optim_update.h) against the twin ------------------
ISA_SCALARS = {       # one tuple per loop variant the kernel has (weight decay, nesterov, ...)
    "sgd_update": [(0.1, 0.0), (0.1, 0.05)],
    "sgd_momentum_update": [(0.1, 0.9, wd, nesterov) for wd in (0.0, 0.05) for nesterov in (False, True)],
    "adam_update": [(0.01, 0.9, 0.999, 1e-8, wd, 3, decoupled) for wd in (0.0, 0.05) for decoupled in (False, True)],
    "rmsprop_update": [(0.01, 0.9, 1e-8, 0.0), (0.01, 0.9, 1e-8, 0.05)],
    "rmsprop_momentum_update": [(0.01, 0.9, 1e-8, 0.0, 0.5), (0.01, 0.9, 1e-8, 0.05, 0.5)],
    "adagrad_update": [(0.01, 1e-10, 0.0), (0.01, 1e-10, 0.05)],
    "rprop_update": [(0.5, 1.2, 1e-4, 0.05)],
}
# vector-width edges (4/8 floats, 2/4 doubles, unrolled) and a 2-D weight
ODD_SHAPES = [(1,), (3,), (7,), (8,), (9,), (15,), (17,), (33,), (63,), (65,), (257,), (5, 37)]
OPTIM_MODULES = ("sgd", "adam", "rmsprop", "adagrad", "rprop")


@pytest.fixture(params=["avx2", "generic"])
def optim_isa(request, kernel_pair):
    kernel_pair("sgd_update")
    import importlib

    modules = [importlib.import_module(f"minidl._kernels.{m}") for m in OPTIM_MODULES]
    before = modules[0].optim_isa()
    if any(m.optim_set_isa(request.param) != request.param for m in modules):
        for m in modules:
            m.optim_set_isa(before)
        pytest.skip(f"CPU has no {request.param}")
    yield request.param
    for m in modules:
        m.optim_set_isa(before)


def _misaligned_copy(a):
    """``a``'s values in a C-contiguous array starting one element past an allocation."""
    out = np.empty(a.size + 1, a.dtype)[1:].reshape(a.shape)
    out[...] = a
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_isa_matches_twin_on_odd_sizes(kernel_pair, optim_isa, name, dtype):
    ref, comp = kernel_pair(name)
    rng = np.random.default_rng(len(name))
    for shape in ODD_SHAPES:
        grad = rng.standard_normal(shape)
        grad[rng.random(shape) < 0.1] = 0                     # Rprop: sign(0) = 0, no move
        arrays = [rng.standard_normal(shape), grad] + _state(name, rng, shape, np.float64)
        arrays = [np.array(a, dtype=dtype) for a in arrays]
        for scalars in ISA_SCALARS[name]:
            expected = [a.copy() for a in arrays]
            ref(*expected, *scalars)
            for place in (np.copy, _misaligned_copy):
                got = [place(a) for a in arrays]
                comp(*got, *scalars)
                for g, e in zip(got, expected):
                    np.testing.assert_allclose(g, e, **TOL[dtype], err_msg=f"{optim_isa} {shape} {scalars}")


def test_rprop_nan_gradient_moves_nothing_on_every_isa(kernel_pair, optim_isa):
    """A NaN gradient leaves θ and Δ as they were (no sign, no move) on every variant."""
    _, comp = kernel_pair("rprop_update")
    for dtype in (np.float32, np.float64):
        param, step = np.ones(11, dtype), np.full(11, 0.01, dtype)
        grad, prev = np.full(11, np.nan, dtype), np.ones(11, dtype)
        comp(param, grad, prev, step, 0.5, 1.2, 1e-6, 50.0)
        np.testing.assert_array_equal(param, 1.0)
        np.testing.assert_array_equal(step, dtype(0.01))
        assert np.isnan(prev).all()


def test_optim_isa_cap_from_environment(kernel_pair):
    kernel_pair("rprop_update")
    code = "from minidl._kernels import rprop, sgd; print(rprop.optim_isa(), sgd.optim_isa())"
    env = dict(os.environ, MINIDL_OPTIM_ISA="generic")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["generic", "generic"]
    from minidl._kernels import rprop

    with pytest.raises(ValueError, match="unknown instruction set"):
        rprop.optim_set_isa("sse9")


def test_portable_c_build_of_the_update_loops(tmp_path):
    """native/optim_update.h as MSVC and other architectures build it (MD_PORTABLE_C: only the
    plain-C loops, no dispatch) gives the twin's Adam and Rprop steps."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    native = os.path.join(os.path.dirname(__import__("minidl").__file__), "_kernels", "native")
    src = tmp_path / "t.c"
    src.write_text(r"""
#include <stdio.h>
#include "optim_update.h"
int main(void) {
    float p[5] = {1, -2, 3, -4, 5}, g[5] = {0.5f, -1, 0, 2, -3}, m[5] = {0}, v[5] = {0};
    double q[5] = {1, -2, 3, -4, 5}, h[5] = {0.5, -1, 0, 2, -3}, prev[5] = {1, 1, -1, -1, 0}, d[5];
    md_rule r = {0};
    r.beta1 = 0.9; r.beta2 = 0.999; r.epsilon = 1e-8; r.step_size = 0.01 / (1 - 0.9);
    r.bias_correction2_sqrt = 0.03162277660168379; r.decay_factor = 1;
    md_adam_f32(p, g, m, v, 5, &r);
    for (int i = 0; i < 5; i++) d[i] = 0.01;
    r.eta_minus = 0.5; r.eta_plus = 1.2; r.step_min = 1e-6; r.step_max = 50;
    md_rprop_f64(q, h, prev, d, 5, &r);
    for (int i = 0; i < 5; i++) printf("%.9g %.17g\n", p[i], q[i]);
    return md_optim_isa() != MD_ISA_GENERIC;
}
""")
    exe = tmp_path / "t"
    subprocess.run([cc, "-O2", "-DMD_PORTABLE_C", f"-I{native}", str(src), "-o", str(exe), "-lm"], check=True)
    rows = np.array([line.split() for line in subprocess.run([str(exe)], capture_output=True, text=True,
                                                             check=True).stdout.split("\n") if line], float)
    from minidl._kernels.reference.adam import adam_update
    from minidl._kernels.reference.rprop import rprop_update

    p, g = np.array([1, -2, 3, -4, 5], np.float32), np.array([0.5, -1, 0, 2, -3], np.float32)
    adam_update(p, g, np.zeros(5, np.float32), np.zeros(5, np.float32), 0.01, 0.9, 0.999, 1e-8, 0.0, 1, False)
    q = np.array([1.0, -2, 3, -4, 5])
    rprop_update(q, np.array([0.5, -1, 0, 2, -3]), np.array([1.0, 1, -1, -1, 0]), np.full(5, 0.01),
                 0.5, 1.2, 1e-6, 50.0)
    np.testing.assert_allclose(rows[:, 0], p, rtol=1e-6)
    np.testing.assert_allclose(rows[:, 1], q, rtol=1e-14)

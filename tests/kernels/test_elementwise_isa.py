"""The AVX-512 / AVX2 / baseline variants of native/elementwise.h (batch norm, layer norm)
against the NumPy twins, on every variant this CPU has, both dtypes, sizes with tails (lanes
of 32, blocks of 1024 values, 4-row sweeps, 128-row blocks); dropout bit for bit with the
twin; the results of these and of the activation kernels do not depend on the thread count;
the MINIDL_ELEMENTWISE_ISA cap; the portable-C build."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from minidl import _kernels

batchnorm = pytest.importorskip("minidl._kernels.batchnorm")
layernorm = pytest.importorskip("minidl._kernels.layernorm")
dropout = pytest.importorskip("minidl._kernels.dropout")
_pool = pytest.importorskip("minidl._kernels._pool")

MODULES = (batchnorm, layernorm)
TOL = {np.float32: 1e-4, np.float64: 1e-10}
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ISAS = ("generic", "avx2", "avx512")


@pytest.fixture(params=ISAS)
def isa(request):
    """Every module's loops set to one variant (skipped if the CPU lacks it)."""
    before = [m.elementwise_isa() for m in MODULES]
    if any(m._set_elementwise_isa(request.param) != request.param for m in MODULES):
        for m, b in zip(MODULES, before):
            m._set_elementwise_isa(b)
        pytest.skip(f"this CPU has no {request.param}")
    yield request.param
    for m, b in zip(MODULES, before):
        m._set_elementwise_isa(b)


@pytest.fixture
def parallel():
    """Every call large enough for the pool (so small test arrays run on several threads)."""
    before_threads, before_min = _pool.get_num_threads(), _pool._set_min_parallel(0)
    yield
    _pool.set_num_threads(before_threads)
    _pool._set_min_parallel(before_min)


def close(a, b, dtype):
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def data(shape, dtype, seed, offset=3.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + offset).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    return rng, x, g


def batchnorm_step(fwd, bwd, x, g, w, b):
    n, c, s = x.shape
    out, mean, istd = np.empty_like(x), np.empty(c, x.dtype), np.empty(c, x.dtype)
    rm, rv = np.zeros(c, x.dtype), np.ones(c, x.dtype)
    fwd(x, w, b, 1e-5, out, mean, istd, rm, rv, 0.1)
    gi, gw, gb = np.empty_like(x), np.empty(c, x.dtype), np.empty(c, x.dtype)
    bwd(g, x, mean, istd, w, True, gi, gw, gb)
    return out, mean, istd, rm, rv, gi, gw, gb


def layernorm_step(fwd, bwd, x, g, w, b):
    m, d = x.shape
    out, mean, istd = np.empty_like(x), np.empty(m, x.dtype), np.empty(m, x.dtype)
    fwd(x, w, b, 1e-5, out, mean, istd)
    gi, gw, gb = np.empty_like(x), np.empty(d, x.dtype), np.empty(d, x.dtype)
    bwd(g, x, mean, istd, w, gi, gw, gb)
    return out, mean, istd, gi, gw, gb


def pairs(name_fwd, name_bwd):
    (rf, cf), (rb, cb) = _kernels.implementations(name_fwd), _kernels.implementations(name_bwd)
    return (rf, rb), (cf, cb)


# -- every variant against the twin -------------------------------------------------------------
@SETTINGS
@given(n=st.integers(2, 140), c=st.integers(1, 70), s=st.sampled_from([1, 1, 3, 37, 1031]),
       dtype=st.sampled_from([np.float32, np.float64]), affine=st.booleans(), seed=st.integers(0, 2**16))
def test_batchnorm_matches_twin(isa, n, c, s, dtype, affine, seed):
    if s > 1:
        n = min(n, 9)
    rng, x, g = data((n, c, s), dtype, seed)
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    (ref, comp) = pairs("batchnorm_forward_train", "batchnorm_backward")
    for got, want in zip(batchnorm_step(*comp, x, g, w, b), batchnorm_step(*ref, x, g, w, b)):
        close(got, want, dtype)
    rm, rv = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    outs = []
    for fn in _kernels.implementations("batchnorm_forward_eval"):
        outs.append(np.empty_like(x))
        fn(x, w, b, rm, rv, 1e-5, outs[-1])
    close(outs[1], outs[0], dtype)


@SETTINGS
@given(m=st.integers(1, 300), d=st.sampled_from([1, 5, 31, 32, 33, 100, 1023, 1025, 2100]),
       dtype=st.sampled_from([np.float32, np.float64]), with_weight=st.booleans(), with_bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_layernorm_matches_twin(isa, m, d, dtype, with_weight, with_bias, seed):
    m = min(m, max(1, 40000 // d))
    rng, x, g = data((m, d), dtype, seed)
    w = rng.standard_normal(d).astype(dtype) if with_weight else None
    b = rng.standard_normal(d).astype(dtype) if with_bias else None
    (ref, comp) = pairs("layernorm_forward", "layernorm_backward")
    for got, want in zip(layernorm_step(*comp, x, g, w, b), layernorm_step(*ref, x, g, w, b)):
        close(got, want, dtype)


@SETTINGS
@given(n=st.integers(0, 70000), dtype=st.sampled_from([np.float32, np.float64]),
       scale=st.floats(0.0, 4.0), seed=st.integers(0, 2**16))
def test_dropout_matches_twin_bit_for_bit(parallel, n, dtype, scale, seed):
    rng, x, g = data((n,), dtype, seed, offset=0.0)
    g[:: 97] = np.nan
    g[1:: 89] = -0.0
    results = []
    for fwd, bwd in zip(*[_kernels.implementations(k) for k in ("dropout_forward", "dropout_backward")]):
        out, mask, gi = np.empty_like(x), np.empty(n, np.uint8), np.empty_like(g)
        gen = np.random.default_rng(seed)
        fwd(x, out, mask, 0.7, scale, gen)
        bwd(g, mask, scale, gi)
        results.append((out, mask, gi, gen.bit_generator.state))
    (o0, m0, g0, s0), (o1, m1, g1, s1) = results
    np.testing.assert_array_equal(m1, m0)
    assert s1 == s0
    np.testing.assert_array_equal(o1, o0)
    np.testing.assert_array_equal(g1, g0)
    np.testing.assert_array_equal(np.signbit(g1), np.signbit(g0))
    counts = np.random.default_rng(seed).integers(0, 4, n).astype(np.uint8)   # any uint8 mask: g · m · s
    outs = []
    for bwd in _kernels.implementations("dropout_backward"):
        outs.append(np.empty_like(g))
        bwd(g, counts, -scale, outs[-1])
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(np.signbit(outs[1]), np.signbit(outs[0]))


# -- no result depends on the thread count -----------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_identical_on_1_2_and_3_threads(isa, parallel, dtype):
    _, x1, g1 = data((517, 67, 1), dtype, 1)
    _, x2, g2 = data((6, 5, 1031), dtype, 2)
    _, xl, gl = data((700, 45), dtype, 3)
    _, xd, gd = data((300001,), dtype, 4)
    mask = (np.random.default_rng(5).random(xd.shape) < 0.5).astype(np.uint8)
    w1, w2, wl = (np.linspace(0.5, 2, k).astype(dtype) for k in (67, 5, 45))
    bn = [k[1] for k in (_kernels.implementations("batchnorm_forward_train"),
                         _kernels.implementations("batchnorm_backward"))]
    ln = [k[1] for k in (_kernels.implementations("layernorm_forward"),
                         _kernels.implementations("layernorm_backward"))]
    runs = []
    for threads in (1, 2, 3):
        _pool.set_num_threads(threads)
        gi = np.empty_like(gd)
        dropout.dropout_backward(gd, mask, 2.0, gi)
        eval_out = np.empty_like(x1)
        batchnorm.batchnorm_forward_eval(x1, w1, w1, w1, w1 + 1, 1e-5, eval_out)
        runs.append(batchnorm_step(*bn, x1, g1, w1, w1) + batchnorm_step(*bn, x2, g2, w2, None)
                    + layernorm_step(*ln, xl, gl, wl, wl) + (gi, eval_out))
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_activations_identical_on_1_and_2_threads(parallel):
    activations = pytest.importorskip("minidl._kernels.activations")
    _, x, g = data((3, 70001), np.float32, 6, offset=0.0)
    x[0, ::101] = np.nan
    runs = []
    for threads in (1, 2):
        _pool.set_num_threads(threads)
        outs = [np.empty_like(x) for _ in range(4)]
        activations.relu_forward(x, outs[0])
        activations.leaky_relu_backward(g, x, 0.1, outs[1])
        activations.sigmoid_forward(x, outs[2])
        activations.gelu_backward(g, x, outs[3])
        runs.append(outs)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    ref = [np.empty_like(x) for _ in range(2)]
    ref_relu, ref_sigmoid = (_kernels.implementations(k)[0] for k in ("relu_forward", "sigmoid_forward"))
    ref_relu(x, ref[0])
    ref_sigmoid(x, ref[1])
    np.testing.assert_array_equal(runs[1][0], ref[0])
    np.testing.assert_allclose(runs[1][2], ref[1], rtol=1e-6, atol=1e-7)


def test_pool_thread_count_is_checked():
    with pytest.raises(ValueError, match="count must be an int from 1 to 64"):
        _pool.set_num_threads(0)
    with pytest.raises(ValueError):
        _pool.set_num_threads(2.0)


# -- the cap, and the portable build -------------------------------------------------------------
def test_environment_caps_the_instruction_set_and_sets_the_threads():
    code = ("from minidl._kernels import batchnorm, layernorm, _pool; "
            "print(batchnorm.elementwise_isa(), layernorm.elementwise_isa(), _pool.get_num_threads())")
    env = dict(os.environ, MINIDL_ELEMENTWISE_ISA="generic", MINIDL_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["generic", "generic", "3"]


def test_portable_c_build_of_the_header(tmp_path):
    """native/elementwise.h as a compiler without GCC's extensions builds it (MD_PORTABLE_C:
    only the plain-C variant): exact on small integers."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    header = os.path.join(os.path.dirname(batchnorm.__file__), "native", "elementwise.h")
    if not os.path.exists(header):
        pytest.skip("an installed wheel without the C headers")
    src = tmp_path / "portable.c"
    src.write_text(f'''
#include <stdio.h>
#include "{header}"
int main(void) {{
    enum {{ N = 2100 }};
    static float x[N], y[N], part[2];
    static unsigned char m[N];
    double t = 0, t2 = 0;
    const md_ew_ops_f32 *ops = md_ew_ops_f32_get();
    for (int i = 0; i < N; i++) {{ x[i] = (float)(i % 7) - 3; m[i] = (unsigned char)(i % 3 == 0); }}
    ops->moments(x, 1.0f, N, &t, &t2);
    md_ew_mask_run_f32(x, m, y, N, 2.0f);
    ops->col_sums(x, x, x, x, 1, 5, 1, part, part + 1);
    double s = 0;
    for (int i = 0; i < N; i++) s += y[i];
    printf("%s %g %g %g %g %g\\n", md_ew_isa_name(), t, t2, s, part[0], part[1]);
    return 0;
}}
''')
    exe = tmp_path / "portable"
    subprocess.run([cc, "-O1", "-DMD_PORTABLE_C", str(src), "-o", str(exe)], check=True)
    words = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    x = (np.arange(2100) % 7 - 3).astype(np.float64)
    keep = np.arange(2100) % 3 == 0
    x5 = x[:5] - x[0]
    assert words[0] == "generic"
    assert [float(v) for v in words[1:]] == [(x - 1).sum(), ((x - 1) ** 2).sum(), (2 * x[keep]).sum(),
                                             x5.sum(), (x5 ** 2).sum()]

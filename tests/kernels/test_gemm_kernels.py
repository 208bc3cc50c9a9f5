"""GEMM kernel (minidl/_kernels/gemm.pyx, native/gemm.h) vs its NumPy twin and float64 matmul:
every transpose combination, shapes around the register-tile and cache-block edges, overwrite
vs accumulate, each instruction-set variant the CPU has, and bad arguments rejected."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# sizes straddling the tiles (MR 4/6/12, NR 4/8/16/32) and KC = 256 / MC = 132
sizes = st.sampled_from([1, 2, 5, 6, 7, 12, 13, 16, 17, 31, 33, 64, 133, 257])


@pytest.fixture(params=["avx512", "avx2", "generic"])
def gemm_isa(request, kernel_pair):
    kernel_pair("gemm")
    from minidl._kernels import gemm

    before = gemm.gemm_isa()
    if gemm.gemm_set_isa(request.param) != request.param:
        gemm.gemm_set_isa(before)
        pytest.skip(f"CPU has no {request.param}")
    yield request.param
    gemm.gemm_set_isa(before)


def operands(rng, m, n, k, trans_a, trans_b, dtype):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    expected = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)
    return a, b, expected


def close(actual, expected, dtype, k):
    tol = TOL[dtype] * max(1.0, np.sqrt(k))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


@SETTINGS
@given(m=sizes, n=sizes, k=sizes, trans_a=st.booleans(), trans_b=st.booleans(), accumulate=st.booleans(),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_gemm_matches_twin_and_matmul(kernel_pair, gemm_isa, m, n, k, trans_a, trans_b, accumulate, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b, expected = operands(rng, m, n, k, trans_a, trans_b, dtype)
    start = rng.standard_normal((m, n)).astype(dtype)
    outs = []
    for fn in kernel_pair("gemm"):
        # overwrite must write every element: start from NaN
        out = start.copy() if accumulate else np.full((m, n), np.nan, dtype)
        fn(a, b, out, trans_a, trans_b, accumulate)
        outs.append(out)
    want = expected + start if accumulate else expected
    close(outs[1], want, dtype, k)
    close(outs[0], want, dtype, k)


def test_large_inner_dimension_crosses_cache_blocks(kernel_pair, gemm_isa):
    # k > KC (256) and m > MC (132): several packed blocks summed into C
    rng = np.random.default_rng(1)
    a, b, expected = operands(rng, 300, 70, 600, False, True, np.float64)
    _, comp = kernel_pair("gemm")
    out = np.empty((300, 70))
    comp(a, b, out, False, True, False)
    close(out, expected, np.float64, 600)


def test_worked_example(kernel_pair):
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[5.0, 6.0], [7.0, 8.0]], np.float32)
    for fn in kernel_pair("gemm"):
        out = np.zeros((2, 2), np.float32)
        fn(a, b, out, False, False, False)
        np.testing.assert_array_equal(out, [[19, 22], [43, 50]])
        fn(a, b, out, True, True, True)          # += aᵀ bᵀ = (b a)ᵀ
        np.testing.assert_array_equal(out, [[19 + 23, 22 + 31], [43 + 34, 50 + 46]])


def test_empty_inner_dimension_writes_zeros(kernel_pair):
    for fn in kernel_pair("gemm"):
        out = np.full((3, 4), np.nan, np.float32)
        fn(np.empty((3, 0), np.float32), np.empty((0, 4), np.float32), out, False, False, False)
        np.testing.assert_array_equal(out, 0)


@pytest.mark.parametrize("which", ["compiled", "twin"])
def test_bad_arguments_raise(kernel_pair, which):
    fn = dict(zip(("twin", "compiled"), kernel_pair("gemm")))[which]
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="gemm kernel"):
        fn(a, b, np.empty((3, 6), np.float32), False, False, False)
    with pytest.raises(ValueError, match="gemm kernel"):
        fn(a, b, np.empty((3, 5), np.float32), True, False, False)
    square = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        fn(square, np.ones((4, 4), np.float32), square, False, False, False)
    if which == "compiled":
        with pytest.raises((ValueError, TypeError)):
            fn(a, b.astype(np.float64), np.empty((3, 5), np.float32), False, False, False)
        with pytest.raises((ValueError, TypeError)):
            fn(np.ones((4, 3), np.float32).T, b, np.empty((3, 5), np.float32), False, False, False)


def test_isa_cap_from_environment(kernel_pair):
    kernel_pair("gemm")
    code = "from minidl._kernels import gemm; print(gemm.gemm_isa())"
    env = dict(os.environ, MINIDL_GEMM_ISA="generic")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "generic"


def test_portable_c_build_of_the_header(tmp_path):
    """native/gemm.h built as a compiler without GCC's extensions would (MG_PORTABLE_C: plain
    scalar C, what MSVC and unknown architectures get) computes the same product."""
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    header = os.path.join(os.path.dirname(__import__("minidl").__file__), "_kernels", "native", "gemm.h")
    if not os.path.exists(header):
        pytest.skip("an installed wheel without the C headers (they are in the sdist and the repository)")
    src = tmp_path / "portable.c"
    src.write_text(f'''
#include <stdio.h>
#include "{header}"
int main(void) {{
    enum {{ M = 37, N = 29, K = 300 }};
    static float a[K * M], b[N * K], c[M * N];
    double err = 0;
    for (int i = 0; i < M * K; i++) a[i] = (float)((i * 7) % 13) - 6;
    for (int i = 0; i < K * N; i++) b[i] = (float)((i * 5) % 11) - 5;
    /* c = aᵀ·bᵀ with a stored (K, M) and b stored (N, K): the strided packing paths */
    if (mg_sgemm(M, N, K, a, 1, M, b, 1, K, c, N, 0)) return 2;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {{
            double s = 0;
            for (int p = 0; p < K; p++) s += (double)a[p * M + i] * b[j * K + p];
            double d = s - c[i * N + j];
            if (d < 0) d = -d;
            if (d > err) err = d;
        }}
    printf("%s %g\\n", mg_isa_name(), err);
    return 0;
}}
''')
    exe = tmp_path / "portable"
    subprocess.run([cc, "-O1", "-DMG_PORTABLE_C", str(src), "-o", str(exe)], check=True)
    isa, err = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert isa == "generic"
    assert float(err) == 0.0      # small integers: every partial sum is exact in float

"""im2col / col2im: compiled kernel vs NumPy twin, worked examples, the adjoint identity."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st


DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


geometry = st.tuples(
    st.integers(1, 3), st.integers(1, 3),        # N, C
    st.integers(1, 9), st.integers(1, 9),        # H, W
    st.integers(1, 4), st.integers(1, 4),        # kh, kw
    st.integers(1, 3), st.integers(1, 3),        # sh, sw
    st.integers(0, 2), st.integers(0, 2),        # ph, pw
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(geometry=geometry, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_im2col_and_col2im_match_twin(kernel_pair, geometry, dtype, seed):
    n, c, h, w, kh, kw, sh, sw, ph, pw = geometry
    h_out, w_out = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    assume(h_out >= 1 and w_out >= 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    ref, comp = kernel_pair("conv_im2col")
    cols_ref = np.empty((n, c * kh * kw, h_out * w_out), dtype)
    cols_comp = np.full_like(cols_ref, np.nan)          # every element must be written
    ref(x, kh, kw, sh, sw, ph, pw, cols_ref)
    comp(x, kh, kw, sh, sw, ph, pw, cols_comp)
    np.testing.assert_array_equal(cols_comp, cols_ref)

    ref, comp = kernel_pair("conv_col2im")
    cols = rng.standard_normal(cols_ref.shape).astype(dtype)
    dx_ref, dx_comp = np.empty_like(x), np.full_like(x, np.nan)
    ref(cols, kh, kw, sh, sw, ph, pw, dx_ref)
    comp(cols, kh, kw, sh, sw, ph, pw, dx_comp)
    np.testing.assert_allclose(dx_comp, dx_ref, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_im2col_worked_example(kernel_pair, twin):
    # x = [[1 2 3], [4 5 6], [7 8 9]], 2×2 kernel, stride 1, no padding: the four windows
    # [1 2 4 5], [2 3 5 6], [4 5 7 8], [5 6 8 9] become the four columns.
    fn = kernel_pair("conv_im2col")[twin == "compiled"]
    x = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    cols = np.empty((1, 4, 4))
    fn(x, 2, 2, 1, 1, 0, 0, cols)
    expected = np.array([[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]], dtype=float).T
    np.testing.assert_array_equal(cols[0], expected)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_im2col_padding_and_stride_worked_example(kernel_pair, twin):
    # 2×2 image [[1 2], [3 4]], 2×2 kernel, stride 2, padding 1 → a 2×2 grid of windows on
    # the zero-padded 4×4 image; each window holds exactly one pixel, at its far corner.
    fn = kernel_pair("conv_im2col")[twin == "compiled"]
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    cols = np.empty((1, 4, 4))
    fn(x, 2, 2, 2, 2, 1, 1, cols)
    expected = np.array([[0, 0, 0, 1], [0, 0, 2, 0], [0, 3, 0, 0], [4, 0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(cols[0].T, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_col2im_is_the_adjoint_of_im2col(kernel_pair, twin, dtype, rng):
    # <im2col(x), c> = <x, col2im(c)> for every x, c: col2im is im2colᵀ (what backward needs).
    im2col, col2im = (kernel_pair(k)[twin == "compiled"] for k in ("conv_im2col", "conv_col2im"))
    n, c, h, w, kh, kw, sh, sw, ph, pw = 2, 3, 7, 6, 3, 2, 2, 1, 1, 2
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    cols = np.empty((n, c * kh * kw, out_size(h, kh, sh, ph) * out_size(w, kw, sw, pw)), dtype)
    im2col(x, kh, kw, sh, sw, ph, pw, cols)
    probe = rng.standard_normal(cols.shape).astype(dtype)
    dx = np.empty_like(x)
    col2im(probe, kh, kw, sh, sw, ph, pw, dx)
    lhs, rhs = float(np.sum(cols.astype(float) * probe)), float(np.sum(x.astype(float) * dx))
    assert lhs == pytest.approx(rhs, rel=1e-4 if dtype == np.float32 else 1e-12)


def test_compiled_kernels_reject_inconsistent_shapes(kernel_pair):
    _, im2col = kernel_pair("conv_im2col")
    _, col2im = kernel_pair("conv_col2im")
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match="cols"):
        im2col(x, 3, 3, 1, 1, 0, 0, np.zeros((1, 18, 4)))
    with pytest.raises(ValueError, match="empty output"):
        im2col(x, 7, 7, 1, 1, 0, 0, np.zeros((1, 98, 1)))
    with pytest.raises(ValueError):
        col2im(np.zeros((1, 18, 9)), 3, 3, 1, 1, -1, 0, x)
    with pytest.raises(ValueError):
        im2col(x.astype(np.float32), 3, 3, 1, 1, 0, 0, np.zeros((1, 18, 9)))   # mixed dtypes


# ---- stride-1 direct convolution: conv2d_forward / conv2d_backward ----------------------

def _conv_module():
    from minidl._kernels import conv
    return conv


@pytest.fixture
def conv_threads(kernel_pair):
    kernel_pair("conv2d_forward")
    conv = _conv_module()
    before = conv.get_num_threads()
    yield conv
    conv.set_num_threads(before)


@pytest.fixture(params=["avx512", "avx2", "generic"])
def conv_isa(request, kernel_pair):
    """Run a test on one instruction-set variant of the compiled direct kernels (each one this
    CPU supports; the others are skipped), restoring the automatic choice afterwards."""
    kernel_pair("conv2d_forward")
    conv = _conv_module()
    before = conv.conv_isa()
    if conv._conv_set_isa(request.param) != request.param:
        conv._conv_set_isa(before)
        pytest.skip(f"this CPU does not support {request.param}")
    yield request.param
    conv._conv_set_isa(before)


def _run_direct(fns, x, weight, bias, stride, padding, g, with_bias_grad=True):
    forward, backward = fns
    (sh, sw), (ph, pw) = stride, padding
    n, o = x.shape[0], weight.shape[0]
    h_out, w_out = out_size(x.shape[2], weight.shape[2], sh, ph), out_size(x.shape[3], weight.shape[3], sw, pw)
    y = np.full((n, o, h_out, w_out), np.nan, x.dtype)        # NaN: every element must be written
    forward(x, weight, bias, sh, sw, ph, pw, y)
    dx, dw = np.full_like(x, np.nan), np.full_like(weight, np.nan)
    db = np.full(o, np.nan, x.dtype) if with_bias_grad else None
    backward(x, weight, g, sh, sw, ph, pw, dx, dw, db)
    return y, dx, dw, db


direct_geometry = st.tuples(
    st.integers(1, 4), st.integers(1, 5), st.integers(1, 10),   # N, C, O
    st.integers(1, 10), st.integers(1, 10),                     # H, W
    st.integers(1, 4), st.integers(1, 4),                       # kh, kw
    st.integers(1, 3), st.integers(1, 3),                       # sh, sw (> 1: the polyphase path)
    st.integers(0, 4), st.integers(0, 4),                       # ph, pw (> k − 1 too)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(geometry=direct_geometry, dtype=st.sampled_from(DTYPES), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_direct_convolution_matches_twin(kernel_pair, conv_isa, geometry, dtype, bias, seed):
    n, c, o, h, w, kh, kw, sh, sw, ph, pw = geometry
    assume(h + 2 * ph >= kh and w + 2 * pw >= kw)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((o, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    g = rng.standard_normal((n, o, out_size(h, kh, sh, ph), out_size(w, kw, sw, pw))).astype(dtype)
    pairs = [kernel_pair(k) for k in ("conv2d_forward", "conv2d_backward")]
    expected = _run_direct([p[0] for p in pairs], x, weight, b, (sh, sw), (ph, pw), g)
    got = _run_direct([p[1] for p in pairs], x, weight, b, (sh, sw), (ph, pw), g)
    for name, e, a in zip(("y", "dx", "dW", "db"), expected, got):
        scale = max(1.0, float(np.abs(e).max()))
        np.testing.assert_allclose(a, e, rtol=TOL[dtype], atol=TOL[dtype] * scale, err_msg=name)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_direct_convolution_worked_example(kernel_pair, twin):
    # x = [[1 2 3], [4 5 6], [7 8 9]], one 2×2 filter [[1 0], [0 −1]] (x[i, j] − x[i+1, j+1])
    # and bias 10, no padding: every window gives 1 − 5 = −4 etc. → all −4 + 10 = 6.
    forward, backward = (kernel_pair(k)[twin == "compiled"] for k in ("conv2d_forward", "conv2d_backward"))
    x = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    weight = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    y = np.empty((1, 1, 2, 2))
    forward(x, weight, np.array([10.0]), 1, 1, 0, 0, y)
    np.testing.assert_array_equal(y, np.full((1, 1, 2, 2), 6.0))
    # Upstream gradient of ones: dW[u, v] = sum of the pixels each tap sees, db = 4, and dx
    # counts +1 for each window a pixel is the top-left of, −1 for each it is bottom-right of.
    dx, dw, db = np.empty_like(x), np.empty_like(weight), np.empty(1)
    backward(x, weight, np.ones((1, 1, 2, 2)), 1, 1, 0, 0, dx, dw, db)
    np.testing.assert_array_equal(dw[0, 0], [[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]])
    np.testing.assert_array_equal(db, [4.0])
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])


def test_direct_convolution_keeps_images_independent(kernel_pair, conv_isa):
    # Groups of images run on different threads and the padded-width layout computes (and discards)
    # columns that read a neighbouring row or channel: a NaN in image 0 must not reach image 1.
    _, forward = kernel_pair("conv2d_forward")
    _, backward = kernel_pair("conv2d_backward")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 9, 9)).astype(np.float32)
    weight = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    clean_y = np.empty((4, 5, 9, 9), np.float32)
    forward(x, weight, None, 1, 1, 1, 1, clean_y)
    x[0, 2, 8, 8] = np.nan
    y = np.empty_like(clean_y)
    forward(x, weight, None, 1, 1, 1, 1, y)
    np.testing.assert_array_equal(y[1:], clean_y[1:])
    assert np.isnan(y[0]).sum() == 5 * 4      # the 2×2 output pixels whose window holds it, per filter
    g = rng.standard_normal(y.shape).astype(np.float32)
    g[2, 1, 0, 0] = np.inf
    dx, dw = np.empty_like(x), np.empty_like(weight)
    backward(np.nan_to_num(x), weight, g, 1, 1, 1, 1, dx, dw, None)
    assert np.all(np.isfinite(dx[[0, 1, 3]])) and not np.all(np.isfinite(dx[2]))


def test_inf_or_nan_in_x_reaches_only_the_taps_that_see_it(kernel_pair, conv_isa):
    # The padded-width layout holds real pixels at positions no output uses: a dW summing over
    # them would turn 0·inf into NaN for taps that never see the pixel. dW sums over the output
    # positions only, the (tap, position) pairs of im2col, so it matches the twin.
    ref, comp = kernel_pair("conv2d_backward")
    rng = np.random.default_rng(5)
    for n, bad in [(1, np.inf), (5, np.nan), (5, -np.inf)]:
        x = rng.standard_normal((n, 2, 6, 6))
        x[n - 1, 1, 5, 5] = bad
        weight = rng.standard_normal((3, 2, 3, 3))
        g = rng.standard_normal((n, 3, 4, 4))
        grads = []
        for fn in (ref, comp):
            outs = (np.empty_like(x), np.empty_like(weight), np.empty(3))
            fn(x, weight, g, 1, 1, 0, 0, *outs)
            grads.append(outs)
        for a, b in zip(grads[1], grads[0]):
            np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
            np.testing.assert_allclose(a[np.isfinite(b)], b[np.isfinite(b)], rtol=1e-10, atol=1e-10)
        assert np.isfinite(grads[1][1]).sum() == 3 * 2 * 9 - 3      # only tap (c=1, 2, 2) of each filter


def test_direct_convolution_is_deterministic(kernel_pair, conv_threads):
    # Threads pick up work dynamically, but dW / db are summed per fixed slot of images and the
    # slots added in order: for a given thread count the same call gives the same bits.
    conv_threads.set_num_threads(3)
    _, forward = kernel_pair("conv2d_forward")
    _, backward = kernel_pair("conv2d_backward")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 4, 12, 10)).astype(np.float32)
    weight = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    g = rng.standard_normal((7, 6, 12, 10)).astype(np.float32)
    runs = []
    for _ in range(2):
        outs = (np.empty_like(x), np.empty_like(weight), np.empty(6, np.float32))
        backward(x, weight, g, 1, 1, 1, 1, *outs)
        runs.append(outs)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
@pytest.mark.parametrize("stride, channels, k", [(1, 3, 3), (2, 1, 3), (2, 8, 3), (2, 8, 2)])
def test_backward_without_grad_x_gives_the_same_parameter_gradients(kernel_pair, twin, stride, channels, k):
    # direct; polyphase (few channels); polyphase (kernel > stride); im2col + GEMM
    _, backward = (kernel_pair(k)[twin == "compiled"] for k in ("conv2d_forward", "conv2d_backward"))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, channels, 9, 9))
    weight = rng.standard_normal((4, channels, k, k))
    h_out = out_size(9, k, stride, 1)
    g = rng.standard_normal((3, 4, h_out, h_out))
    full = (np.empty_like(x), np.empty_like(weight), np.empty(4))
    backward(x, weight, g, stride, stride, 1, 1, *full)
    dw, db = np.full_like(weight, np.nan), np.full(4, np.nan)
    backward(x, weight, g, stride, stride, 1, 1, None, dw, db)
    np.testing.assert_allclose(dw, full[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, full[2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_direct_convolution_rejects_bad_arguments(kernel_pair, twin):
    forward, backward = (kernel_pair(k)[twin == "compiled"] for k in ("conv2d_forward", "conv2d_backward"))
    x, weight = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3))
    y, g = np.zeros((2, 4, 5, 5)), np.zeros((2, 4, 5, 5))
    bad_calls = [
        (forward, (x, np.zeros((4, 2, 3, 3)), None, 1, 1, 1, 1, y), "channels"),       # C mismatch
        (forward, (x, weight, np.zeros(3), 1, 1, 1, 1, y), "bias"),                    # bias size
        (forward, (x, weight, None, 1, 1, 1, 1, np.zeros((2, 4, 3, 3))), "out"),       # out shape
        (forward, (x, weight, None, 2, 1, 1, 1, y), "out"),                            # strided shape
        (forward, (x.astype(np.float32), weight, None, 1, 1, 1, 1, y), "float"),       # mixed dtypes
        (forward, (x, weight, None, 1, 1, -1, 0, y), "padding"),
        (forward, (x, weight, None, 0, 1, 1, 1, y), "stride"),
        (forward, (np.zeros((2, 3, 1, 1)), weight, None, 1, 1, 0, 0, y), "smaller"),
        (forward, (x, np.zeros((4, 3, 0, 3)), None, 1, 1, 1, 1, y), "empty"),        # a 0×3 kernel
        (forward, (np.zeros((0, 3, 5, 5)), weight, None, 1, 1, 1, 1, y[:0]), "empty"),
        (backward, (x, weight, g[:1], 1, 1, 1, 1, np.zeros_like(x), np.zeros_like(weight), None), "grad_out"),
        (backward, (x, weight, g, 1, 1, 1, 1, np.zeros_like(x), np.zeros((4, 3, 3, 2)), None), "grad_w"),
    ]
    for fn, args, match in bad_calls:
        with pytest.raises(ValueError, match=match):
            fn(*args)


def test_compiled_direct_convolution_rejects_unsafe_buffers(kernel_pair):
    _, forward = kernel_pair("conv2d_forward")
    _, backward = kernel_pair("conv2d_backward")
    x, weight = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match="C-contiguous"):
        forward(np.zeros((2, 3, 5, 10))[..., ::2], weight, None, 1, 1, 1, 1, np.zeros((2, 4, 5, 5)))
    read_only = np.zeros((2, 4, 5, 5))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        forward(x, weight, None, 1, 1, 1, 1, read_only)
    with pytest.raises(ValueError, match="grad_bias"):
        backward(x, weight, np.zeros((2, 4, 5, 5)), 1, 1, 1, 1, np.zeros_like(x), np.zeros_like(weight), np.zeros(3))


def test_instruction_set_can_be_capped_by_environment():
    import subprocess
    import sys
    code = "from minidl._kernels import conv; print(conv.conv_isa())"
    pytest.importorskip("minidl._kernels.conv")
    env = dict(__import__("os").environ, MINIDL_CONV_ISA="generic")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "generic"


# ---- the thread pool behind the direct kernels (minidl/_kernels/threadpool.h) ------------

def _conv_case(seed=3, n=9):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4, 10, 9)).astype(np.float32)
    weight = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    g = rng.standard_normal((n, 6, 10, 9)).astype(np.float32)
    return x, weight, g


def _direct(conv, x, weight, g):
    y = np.empty(g.shape, np.float32)
    conv.conv2d_forward(x, weight, None, 1, 1, 1, 1, y)
    outs = (np.empty_like(x), np.empty_like(weight), np.empty(weight.shape[0], np.float32))
    conv.conv2d_backward(x, weight, g, 1, 1, 1, 1, *outs)
    return (y,) + outs


def test_thread_count_changes_only_rounding(conv_threads):
    x, weight, g = _conv_case()
    results = {}
    for count in (1, 2, 3):
        conv_threads.set_num_threads(count)
        assert conv_threads.get_num_threads() == count
        results[count] = _direct(conv_threads, x, weight, g)
    for count in (2, 3):
        for a, b in zip(results[count], results[1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="count"):
        conv_threads.set_num_threads(0)


def test_kernels_run_concurrently_from_python_threads(conv_threads):
    # The kernels release the GIL; a second caller while the pool is busy runs on its own thread.
    import threading
    conv_threads.set_num_threads(2)
    cases = [_conv_case(seed, n=16) for seed in range(4)]
    expected = [_direct(conv_threads, *case) for case in cases]
    got = [None] * len(cases)

    def work(i):
        for _ in range(5):
            got[i] = _direct(conv_threads, *cases[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for want, have in zip(expected, got):
        for a, b in zip(have, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_pool_works_in_a_forked_child(conv_threads):
    # The pool's threads do not survive fork(); the child must start its own, not hang.
    import os
    conv_threads.set_num_threads(2)
    x, weight, g = _conv_case()
    expected = _direct(conv_threads, x, weight, g)       # the parent's pool is running now
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                        # child
        try:
            got = _direct(conv_threads, x, weight, g)
            ok = all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(got, expected))
            os.write(write_end, b"ok" if ok else b"bad")
        finally:
            os._exit(0)
    os.close(write_end)
    import select
    ready, _, _ = select.select([read_end], [], [], 60)
    answer = os.read(read_end, 8) if ready else b"timeout"
    os.close(read_end)
    if not ready:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    assert answer == b"ok"


@pytest.mark.parametrize("value, expected", [("3", "3"), ("3000000000", "64"), ("lots", None)])
def test_thread_count_from_environment(value, expected):
    import os
    import subprocess
    import sys
    pytest.importorskip("minidl._kernels.conv")
    code = "from minidl._kernels import conv; print(conv.get_num_threads())"
    env = dict(os.environ, MINIDL_NUM_THREADS=value)
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    if expected is None:          # not a number: ignored, the CPU count is used
        expected = str(min(64, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()))
    assert out.stdout.strip() == expected

"""Compiled activation kernels. Formulas: the layers' docstrings (minidl/nn/activation.py,
minidl/nn/softmax.py); twin: reference/activations.py, same names and signatures.

Design.
* Elementwise kernels see their arrays as one flat run of ``size`` elements (any shape, the
  same in and out). Each body is one fused float/double loop with NumPy's ufunc-loop
  signature ``(a, b, out, n, param)`` (a = x or dy, b = the saved x or y, param = the
  negative slope), and one helper, ``_map``, validates and picks the dtype for all of them.
  They take ndarrays, not typed memoryviews: at N = 1 a memoryview of a fresh 256-float
  output costs ~400 ns to acquire, twice what the whole ReLU call costs (measured).
* Softmax and log-softmax work on the rows of a 2-D (R, C) array: typed memoryview bodies.
* Arrays of 2^17 values or more are split into fixed blocks of 65536 run on _pool.pyx's
  threads (memory-bound loops; the blocks do not depend on the thread count, and every
  value is computed alone, so the results do not either).
* One pass over memory per call: the backward formulas are fused into a single loop instead
  of NumPy's chain of temporaries. Where the cost is a transcendental function (exp in
  sigmoid and softmax, tanh) the kernel calls NumPy's SIMD ufunc in place on the out buffer
  between its own loops. GELU's erf is evaluated in double for both dtypes, as the twin does.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport exp, expf, erf, log, sqrt

include "_validation.pxi"
from minidl._kernels._pool cimport run_tasks, threads_for

__all__ = [
    "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward",
    "gelu_forward", "gelu_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward",
]

cdef double SQRT_HALF = sqrt(0.5)
cdef double INV_SQRT_2PI = 1.0 / sqrt(2.0 * 3.141592653589793)


# -- the elementwise dispatch: validate, then one fused body per dtype --------------------------
ctypedef void (*_loop_f32)(const float*, const float*, float*, Py_ssize_t, float) noexcept nogil
ctypedef void (*_loop_f64)(const double*, const double*, double*, Py_ssize_t, double) noexcept nogil


cdef int _map(str kernel, _loop_f32 f32, _loop_f64 f64, object a, str a_name, object b, str b_name,
              double param, object out, str out_name) except -1:
    """out = loop(a, b, param) elementwise; a, b (None with b_name ""), out: one float dtype
    and shape."""
    cdef int t = _check_float(kernel, a, a_name, -1, False)
    if b_name:              # a named second input is required: the loop would read it
        _check_like(kernel, b, b_name, a, a_name, False)
    elif b is not None:
        raise ValueError(f"{kernel}: unexpected second input")
    _check_like(kernel, out, out_name, a, a_name, True)
    cdef _Map job
    job.f32 = f32 if t == cnp.NPY_FLOAT32 else NULL
    job.f64 = f64
    job.a, job.b, job.out = _data(a), _data(b), _data(out)
    job.n, job.param = cnp.PyArray_SIZE(<cnp.ndarray>a), param
    cdef Py_ssize_t n_blocks = (job.n + <Py_ssize_t>MAP_BLOCK - 1) // <Py_ssize_t>MAP_BLOCK
    with nogil:
        run_tasks(_map_block, &job, n_blocks, threads_for(2 * job.n, n_blocks))
    return 0


cdef enum:
    MAP_BLOCK = 65536          # values per parallel block


ctypedef struct _Map:          # one elementwise call: the loop of its dtype (f32, or f64 if NULL)
    _loop_f32 f32
    _loop_f64 f64
    const void* a
    const void* b
    void* out
    Py_ssize_t n
    double param


cdef void _map_block(void* ctx, Py_ssize_t item, int worker) noexcept nogil:
    cdef const _Map* m = <const _Map*>ctx
    cdef Py_ssize_t start = item * <Py_ssize_t>MAP_BLOCK
    cdef Py_ssize_t k = min(<Py_ssize_t>MAP_BLOCK, m.n - start)
    if m.f32 != NULL:
        m.f32(<const float*>m.a + start, NULL if m.b == NULL else <const float*>m.b + start,
              <float*>m.out + start, k, <float>m.param)
    else:
        m.f64(<const double*>m.a + start, NULL if m.b == NULL else <const double*>m.b + start,
              <double*>m.out + start, k, m.param)


# -- elementwise bodies (a, b, out, n, param) -------------------------------------------------
cdef void _relu(const floating* x, const floating* unused, floating* y, Py_ssize_t n,
                floating param) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v, zero = 0
    for i in range(n):
        v = x[i]
        # `not (v <= 0)` keeps NaN as NaN, like np.maximum
        y[i] = v if not (v <= zero) else zero


cdef void _relu_grad(const floating* dy, const floating* y, floating* dx, Py_ssize_t n,
                     floating param) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, zero = 0
    for i in range(n):
        g = dy[i]               # unconditional load: lets the compiler use a vector select
        dx[i] = g if y[i] > zero else zero


cdef void _leaky(const floating* x, const floating* unused, floating* y, Py_ssize_t n,
                 floating slope) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v, zero = 0
    for i in range(n):
        v = x[i]
        y[i] = v if v > zero else v * slope


cdef void _leaky_grad(const floating* dy, const floating* x, floating* dx, Py_ssize_t n,
                      floating slope) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, zero = 0
    for i in range(n):
        g = dy[i]
        dx[i] = g if x[i] > zero else g * slope


cdef void _neg_abs(const floating* x, const floating* unused, floating* y, Py_ssize_t n,
                   floating param) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v, zero = 0
    for i in range(n):
        v = x[i]
        y[i] = -v if v >= zero else v


cdef void _sigmoid_from_exp(const floating* x, const floating* e_in, floating* y, Py_ssize_t n,
                            floating param) noexcept nogil:
    """e_in (= y) holds e = exp(−|x|): σ(x) = 1/(1+e) for x ≥ 0, e/(1+e) for x < 0."""
    cdef Py_ssize_t i
    cdef floating e, r
    cdef floating one = 1, zero = 0      # typed constants keep float32 arithmetic in float32
    for i in range(n):
        e = e_in[i]
        r = one / (one + e)
        y[i] = r if x[i] >= zero else e * r


cdef void _sigmoid_grad(const floating* dy, const floating* y, floating* dx, Py_ssize_t n,
                        floating param) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating one = 1
    for i in range(n):
        dx[i] = dy[i] * y[i] * (one - y[i])


cdef void _tanh_grad(const floating* dy, const floating* y, floating* dx, Py_ssize_t n,
                     floating param) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating one = 1
    for i in range(n):
        dx[i] = dy[i] * (one - y[i] * y[i])


cdef void _gelu(const floating* x, const floating* unused, floating* y, Py_ssize_t n,
                floating param) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        y[i] = <floating>(v * (0.5 * (1.0 + erf(v * SQRT_HALF))))


cdef void _gelu_grad(const floating* dy, const floating* x, floating* dx, Py_ssize_t n,
                     floating param) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v, cdf, pdf
    for i in range(n):
        v = x[i]
        cdf = 0.5 * (1.0 + erf(v * SQRT_HALF))
        pdf = exp(-0.5 * v * v) * INV_SQRT_2PI
        dx[i] = <floating>(dy[i] * (cdf + v * pdf))


# -- row bodies (softmax family): typed memoryviews --------------------------------------------
cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


cdef inline floating _row_max(const floating[::1] row) noexcept nogil:
    cdef floating m = row[0]
    cdef Py_ssize_t j
    for j in range(1, row.shape[0]):
        if row[j] > m:
            m = row[j]
    return m


cdef void _shift_rows(const floating[:, ::1] x, floating[:, ::1] y) noexcept nogil:
    """y = x − (row maximum of x)."""
    cdef Py_ssize_t r, j
    cdef floating m
    for r in range(x.shape[0]):
        m = _row_max(x[r])
        for j in range(x.shape[1]):
            y[r, j] = x[r, j] - m


cdef void _normalize_rows(floating[:, ::1] y) noexcept nogil:
    """y /= (row sum of y), the sum in double."""
    cdef Py_ssize_t r, j
    cdef double s
    cdef floating inv
    for r in range(y.shape[0]):
        s = 0
        for j in range(y.shape[1]):
            s += y[r, j]
        inv = <floating>(1.0 / s)
        for j in range(y.shape[1]):
            y[r, j] = y[r, j] * inv


cdef void _log_softmax_rows(const floating[:, ::1] x, floating[:, ::1] y) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef floating m, log_s
    cdef double s
    for r in range(x.shape[0]):
        m = _row_max(x[r])
        s = 0
        for j in range(x.shape[1]):
            s += _exp(x[r, j] - m)
        log_s = <floating>log(s)
        for j in range(x.shape[1]):
            y[r, j] = (x[r, j] - m) - log_s


cdef void _softmax_grad_rows(const floating[:, ::1] dy, const floating[:, ::1] y,
                             floating[:, ::1] dx) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef double dot
    cdef floating d
    for r in range(y.shape[0]):
        dot = 0
        for j in range(y.shape[1]):
            dot += dy[r, j] * y[r, j]
        d = <floating>dot
        for j in range(y.shape[1]):
            dx[r, j] = y[r, j] * (dy[r, j] - d)


# -- public kernels ----------------------------------------------------------------------------
def relu_forward(x, out):
    """out = max(x, 0) (NaN stays NaN)."""
    _map("relu_forward", _relu[float], _relu[double], x, "x", None, "", 0, out, "out")


def relu_backward(grad_output, out, grad_input):
    """grad_input = grad_output where the forward output ``out`` > 0, else 0."""
    _map("relu_backward", _relu_grad[float], _relu_grad[double], grad_output, "grad_output",
         out, "out", 0, grad_input, "grad_input")


def leaky_relu_forward(x, double negative_slope, out):
    """out = x where x > 0, else negative_slope · x."""
    _map("leaky_relu_forward", _leaky[float], _leaky[double], x, "x", None, "", negative_slope,
         out, "out")


def leaky_relu_backward(grad_output, x, double negative_slope, grad_input):
    """grad_input = grad_output · (1 where x > 0, else negative_slope)."""
    _map("leaky_relu_backward", _leaky_grad[float], _leaky_grad[double], grad_output, "grad_output",
         x, "x", negative_slope, grad_input, "grad_input")


def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(−x)), computed without overflow: with e = exp(−|x|),
    σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0."""
    _map("sigmoid_forward", _neg_abs[float], _neg_abs[double], x, "x", None, "", 0, out, "out")
    # exp is the costly part: NumPy's vectorised exp beats a scalar libm loop several times.
    np.exp(out, out=out)
    _map("sigmoid_forward", _sigmoid_from_exp[float], _sigmoid_from_exp[double], x, "x",
         out, "out", 0, out, "out")


def sigmoid_backward(grad_output, out, grad_input):
    """grad_input = grad_output · y (1 − y), y = the forward output."""
    _map("sigmoid_backward", _sigmoid_grad[float], _sigmoid_grad[double], grad_output,
         "grad_output", out, "out", 0, grad_input, "grad_input")


def tanh_forward(x, out):
    """out = tanh(x)."""
    _check_float("tanh_forward", x, "x", -1, False)
    _check_like("tanh_forward", out, "out", x, "x", True)
    # NumPy's tanh is vectorised (SIMD); a scalar libm loop is ~40x slower.
    np.tanh(x, out=out)


def tanh_backward(grad_output, out, grad_input):
    """grad_input = grad_output · (1 − y²), y = the forward output."""
    _map("tanh_backward", _tanh_grad[float], _tanh_grad[double], grad_output, "grad_output",
         out, "out", 0, grad_input, "grad_input")


def gelu_forward(x, out):
    """out = x · Φ(x) = ½ x (1 + erf(x / √2))."""
    _map("gelu_forward", _gelu[float], _gelu[double], x, "x", None, "", 0, out, "out")


def gelu_backward(grad_output, x, grad_input):
    """grad_input = grad_output · (Φ(x) + x φ(x)), φ(x) = exp(−x²/2) / √(2π)."""
    _map("gelu_backward", _gelu_grad[float], _gelu_grad[double], grad_output, "grad_output",
         x, "x", 0, grad_input, "grad_input")


cdef int _check_rows(str kernel, object a, str a_name, object out, str out_name) except -1:
    """a (R, C) float32/float64, out of a's shape and dtype, C-contiguous, out writeable: a
    clear error naming the kernel before Cython's memoryview dispatch sees them."""
    _check_float(kernel, a, a_name, 2, False)
    _check_like(kernel, out, out_name, a, a_name, True)
    return 0


def softmax_forward(x, out):
    """Row-wise softmax of x (R, C) into out (R, C), shifted by the row maximum."""
    _check_rows("softmax_forward", x, "x", out, "out")
    if x.shape[1] != 0:
        _softmax(x, out)


def softmax_backward(grad_output, out, grad_input):
    """grad_input = y ⊙ (dy − Σ_k dy_k y_k) per row, y = the forward output (R, C)."""
    _check_rows("softmax_backward", out, "out", grad_input, "grad_input")
    _check_like("softmax_backward", grad_output, "grad_output", out, "out", False)
    _softmax_grad(grad_output, out, grad_input)


def log_softmax_forward(x, out):
    """Row-wise log-softmax: out = x − m − log Σ exp(x − m), m = row maximum."""
    _check_rows("log_softmax_forward", x, "x", out, "out")
    if x.shape[1] != 0:
        _log_softmax(x, out)


# The row kernels on checked arrays: fused typed-memoryview entry points (Cython picks the
# dtype), the loops without the GIL.
def _softmax(const floating[:, ::1] x not None, floating[:, ::1] out not None):
    with nogil:
        _shift_rows(x, out)
    np.exp(out.base, out=out.base)    # NumPy's vectorised exp, in place on the checked array
    with nogil:
        _normalize_rows(out)


def _softmax_grad(const floating[:, ::1] grad_output not None, const floating[:, ::1] out not None,
                  floating[:, ::1] grad_input not None):
    with nogil:
        _softmax_grad_rows(grad_output, out, grad_input)


def _log_softmax(const floating[:, ::1] x not None, floating[:, ::1] out not None):
    with nogil:
        _log_softmax_rows(x, out)

"""Compiled activation kernels (twin: reference/activations.py, which has the formulas).

Elementwise kernels see their arrays as flat buffers of ``size`` elements (any shape, same
shape in and out); softmax works on the rows of a 2-D (R, C) array. One pass over memory
per call: the backward formulas are fused into a single loop instead of NumPy's chain of
temporaries. Where the cost is a transcendental function (exp in sigmoid and softmax, tanh)
the kernel calls NumPy's SIMD ufunc in place on the out buffer between its own loops. GELU's erf is evaluated in double precision for both dtypes, as the twin does.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport exp, expf, erf, log, sqrt

cnp.import_array()

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


# -- argument checks: a kernel never reads or writes out of bounds ---------------------------
include "_validation.pxi"


cdef int _check_triple(str kernel, cnp.ndarray dy, cnp.ndarray saved, cnp.ndarray dx, str saved_name) except -1:
    cdef int t = _check_pair(kernel, saved, dx, saved_name, "grad_input")
    _check_pair(kernel, dy, dx, "grad_output", "grad_input")
    return t


cdef int _check_rows(str kernel, cnp.ndarray a) except -1:
    if cnp.PyArray_NDIM(a) != 2:
        raise ValueError(f"{kernel}: expected a 2-D (rows, classes) array, got shape {(<object>a).shape}")
    return 0



# -- elementwise loops -----------------------------------------------------------------------
cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


cdef void _relu(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v, zero = 0
    for i in range(n):
        v = x[i]
        # `not (v <= 0)` keeps NaN as NaN, like np.maximum
        y[i] = v if not (v <= zero) else zero


cdef void _relu_grad(const floating* dy, const floating* y, floating* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, zero = 0
    for i in range(n):
        g = dy[i]               # unconditional load: lets the compiler use a vector select
        dx[i] = g if y[i] > zero else zero


cdef void _leaky(const floating* x, floating a, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v, zero = 0
    for i in range(n):
        v = x[i]
        y[i] = v if v > zero else v * a


cdef void _leaky_grad(const floating* dy, const floating* x, floating a, floating* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, zero = 0
    for i in range(n):
        g = dy[i]
        dx[i] = g if x[i] > zero else g * a


cdef void _neg_abs(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    cdef floating zero = 0
    for i in range(n):
        v = x[i]
        y[i] = -v if v >= zero else v


cdef void _sigmoid_from_exp(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """y holds e = exp(−|x|) on entry: σ(x) = 1/(1+e) for x ≥ 0, e/(1+e) for x < 0."""
    cdef Py_ssize_t i
    cdef floating e, r, v
    cdef floating one = 1, zero = 0      # typed constants keep float32 arithmetic in float32
    for i in range(n):
        e = y[i]
        v = x[i]
        r = one / (one + e)
        y[i] = r if v >= zero else e * r


cdef void _sigmoid_grad(const floating* dy, const floating* y, floating* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating one = 1
    for i in range(n):
        dx[i] = dy[i] * y[i] * (one - y[i])


cdef void _tanh_grad(const floating* dy, const floating* y, floating* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating one = 1
    for i in range(n):
        dx[i] = dy[i] * (one - y[i] * y[i])


cdef void _gelu(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        y[i] = <floating>(v * (0.5 * (1.0 + erf(v * SQRT_HALF))))


cdef void _gelu_grad(const floating* dy, const floating* x, floating* dx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v, cdf, pdf
    for i in range(n):
        v = x[i]
        cdf = 0.5 * (1.0 + erf(v * SQRT_HALF))
        pdf = exp(-0.5 * v * v) * INV_SQRT_2PI
        dx[i] = <floating>(dy[i] * (cdf + v * pdf))


cdef void _log_softmax(const floating* x, floating* y, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef const floating* xr
    cdef floating* yr
    cdef floating m, log_s
    cdef double s
    for r in range(rows):
        xr = x + r * cols
        yr = y + r * cols
        m = xr[0]
        for j in range(1, cols):
            if xr[j] > m:
                m = xr[j]
        s = 0
        for j in range(cols):
            s += _exp(xr[j] - m)
        log_s = <floating>log(s)
        for j in range(cols):
            yr[j] = (xr[j] - m) - log_s


cdef void _shift_rows(const floating* x, floating* y, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """y = x − (row maximum of x)."""
    cdef Py_ssize_t r, j
    cdef const floating* xr
    cdef floating m
    for r in range(rows):
        xr = x + r * cols
        m = xr[0]
        for j in range(1, cols):
            if xr[j] > m:
                m = xr[j]
        for j in range(cols):
            y[r * cols + j] = xr[j] - m


cdef void _normalize_rows(floating* y, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """y /= (row sum of y)."""
    cdef Py_ssize_t r, j
    cdef floating* yr
    cdef double s
    cdef floating inv
    for r in range(rows):
        yr = y + r * cols
        s = 0
        for j in range(cols):
            s += yr[j]
        inv = <floating>(1.0 / s)
        for j in range(cols):
            yr[j] = yr[j] * inv


cdef void _softmax_grad(const floating* dy, const floating* y, floating* dx, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    cdef Py_ssize_t r, j, o
    cdef double dot
    cdef floating d
    for r in range(rows):
        o = r * cols
        dot = 0
        for j in range(cols):
            dot += dy[o + j] * y[o + j]
        d = <floating>dot
        for j in range(cols):
            dx[o + j] = y[o + j] * (dy[o + j] - d)


# -- public kernels ----------------------------------------------------------------------------
def relu_forward(cnp.ndarray x not None, cnp.ndarray out not None):
    """out = max(x, 0) (NaN stays NaN)."""
    cdef int t = _check_pair("relu_forward", x, out, "x", "out")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void* px = _data(x)
    cdef void* py = _data(out)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _relu(<const float*>px, <float*>py, n)
        else:
            _relu(<const double*>px, <double*>py, n)


def relu_backward(cnp.ndarray grad_output not None, cnp.ndarray out not None, cnp.ndarray grad_input not None):
    """grad_input = grad_output where the forward output ``out`` > 0, else 0."""
    cdef int t = _check_triple("relu_backward", grad_output, out, grad_input, "out")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    cdef void* pdy = _data(grad_output)
    cdef void* py = _data(out)
    cdef void* pdx = _data(grad_input)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _relu_grad(<const float*>pdy, <const float*>py, <float*>pdx, n)
        else:
            _relu_grad(<const double*>pdy, <const double*>py, <double*>pdx, n)


def leaky_relu_forward(cnp.ndarray x not None, double negative_slope, cnp.ndarray out not None):
    """out = x where x > 0, else negative_slope · x."""
    cdef int t = _check_pair("leaky_relu_forward", x, out, "x", "out")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void* px = _data(x)
    cdef void* py = _data(out)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _leaky(<const float*>px, <float>negative_slope, <float*>py, n)
        else:
            _leaky(<const double*>px, negative_slope, <double*>py, n)


def leaky_relu_backward(cnp.ndarray grad_output not None, cnp.ndarray x not None, double negative_slope,
                        cnp.ndarray grad_input not None):
    """grad_input = grad_output · (1 where x > 0, else negative_slope)."""
    cdef int t = _check_triple("leaky_relu_backward", grad_output, x, grad_input, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void* pdy = _data(grad_output)
    cdef void* px = _data(x)
    cdef void* pdx = _data(grad_input)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _leaky_grad(<const float*>pdy, <const float*>px, <float>negative_slope, <float*>pdx, n)
        else:
            _leaky_grad(<const double*>pdy, <const double*>px, negative_slope, <double*>pdx, n)


def sigmoid_forward(cnp.ndarray x not None, cnp.ndarray out not None):
    """out = 1 / (1 + exp(−x)), computed without overflow: with e = exp(−|x|),
    σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0."""
    cdef int t = _check_pair("sigmoid_forward", x, out, "x", "out")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void* px = _data(x)
    cdef void* py = _data(out)
    # exp is the costly part: NumPy's vectorised exp beats a scalar libm loop several times.
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _neg_abs(<const float*>px, <float*>py, n)
        else:
            _neg_abs(<const double*>px, <double*>py, n)
    np.exp(out, out=out)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _sigmoid_from_exp(<const float*>px, <float*>py, n)
        else:
            _sigmoid_from_exp(<const double*>px, <double*>py, n)


def sigmoid_backward(cnp.ndarray grad_output not None, cnp.ndarray out not None, cnp.ndarray grad_input not None):
    """grad_input = grad_output · y (1 − y), y = the forward output."""
    cdef int t = _check_triple("sigmoid_backward", grad_output, out, grad_input, "out")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    cdef void* pdy = _data(grad_output)
    cdef void* py = _data(out)
    cdef void* pdx = _data(grad_input)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _sigmoid_grad(<const float*>pdy, <const float*>py, <float*>pdx, n)
        else:
            _sigmoid_grad(<const double*>pdy, <const double*>py, <double*>pdx, n)


def tanh_forward(cnp.ndarray x not None, cnp.ndarray out not None):
    """out = tanh(x)."""
    _check_pair("tanh_forward", x, out, "x", "out")
    # NumPy's tanh is vectorised (SIMD); a scalar libm loop is ~40x slower.
    np.tanh(x, out=out)


def tanh_backward(cnp.ndarray grad_output not None, cnp.ndarray out not None, cnp.ndarray grad_input not None):
    """grad_input = grad_output · (1 − y²), y = the forward output."""
    cdef int t = _check_triple("tanh_backward", grad_output, out, grad_input, "out")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    cdef void* pdy = _data(grad_output)
    cdef void* py = _data(out)
    cdef void* pdx = _data(grad_input)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _tanh_grad(<const float*>pdy, <const float*>py, <float*>pdx, n)
        else:
            _tanh_grad(<const double*>pdy, <const double*>py, <double*>pdx, n)


def gelu_forward(cnp.ndarray x not None, cnp.ndarray out not None):
    """out = x · Φ(x) = ½ x (1 + erf(x / √2))."""
    cdef int t = _check_pair("gelu_forward", x, out, "x", "out")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void* px = _data(x)
    cdef void* py = _data(out)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _gelu(<const float*>px, <float*>py, n)
        else:
            _gelu(<const double*>px, <double*>py, n)


def gelu_backward(cnp.ndarray grad_output not None, cnp.ndarray x not None, cnp.ndarray grad_input not None):
    """grad_input = grad_output · (Φ(x) + x φ(x)), φ(x) = exp(−x²/2) / √(2π)."""
    cdef int t = _check_triple("gelu_backward", grad_output, x, grad_input, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void* pdy = _data(grad_output)
    cdef void* px = _data(x)
    cdef void* pdx = _data(grad_input)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _gelu_grad(<const float*>pdy, <const float*>px, <float*>pdx, n)
        else:
            _gelu_grad(<const double*>pdy, <const double*>px, <double*>pdx, n)


def softmax_forward(cnp.ndarray x not None, cnp.ndarray out not None):
    """Row-wise softmax of x (R, C) into out (R, C), shifted by the row maximum."""
    cdef int t = _check_pair("softmax_forward", x, out, "x", "out")
    _check_rows("softmax_forward", x)
    cdef Py_ssize_t rows = cnp.PyArray_DIM(x, 0), cols = cnp.PyArray_DIM(x, 1)
    if cols == 0:
        return
    cdef void* px = _data(x)
    cdef void* py = _data(out)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _shift_rows(<const float*>px, <float*>py, rows, cols)
        else:
            _shift_rows(<const double*>px, <double*>py, rows, cols)
    np.exp(out, out=out)    # NumPy's vectorised exp, in place
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _normalize_rows(<float*>py, rows, cols)
        else:
            _normalize_rows(<double*>py, rows, cols)


def softmax_backward(cnp.ndarray grad_output not None, cnp.ndarray out not None, cnp.ndarray grad_input not None):
    """grad_input = y ⊙ (dy − Σ_k dy_k y_k) per row, y = the forward output (R, C)."""
    cdef int t = _check_triple("softmax_backward", grad_output, out, grad_input, "out")
    _check_rows("softmax_backward", out)
    cdef Py_ssize_t rows = cnp.PyArray_DIM(out, 0), cols = cnp.PyArray_DIM(out, 1)
    cdef void* pdy = _data(grad_output)
    cdef void* py = _data(out)
    cdef void* pdx = _data(grad_input)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _softmax_grad(<const float*>pdy, <const float*>py, <float*>pdx, rows, cols)
        else:
            _softmax_grad(<const double*>pdy, <const double*>py, <double*>pdx, rows, cols)


def log_softmax_forward(cnp.ndarray x not None, cnp.ndarray out not None):
    """Row-wise log-softmax: out = x − m − log Σ exp(x − m), m = row maximum."""
    cdef int t = _check_pair("log_softmax_forward", x, out, "x", "out")
    _check_rows("log_softmax_forward", x)
    cdef Py_ssize_t rows = cnp.PyArray_DIM(x, 0), cols = cnp.PyArray_DIM(x, 1)
    if cols == 0:
        return
    cdef void* px = _data(x)
    cdef void* py = _data(out)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _log_softmax(<const float*>px, <float*>py, rows, cols)
        else:
            _log_softmax(<const double*>px, <double*>py, rows, cols)

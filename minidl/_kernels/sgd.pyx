"""Compiled SGD update kernels: one pass over each parameter's memory (read θ, ∇, b; write
θ, b). Same names, signatures and docstrings as the NumPy twins in
``minidl/_kernels/reference/sgd.py``, which state the rule:

    g = ∇ + λ·θ;   b ← μ·b + g;   θ ← θ − η·(g + μ·b if nesterov else b)
"""
from cython cimport floating

include "_optim_common.pxi"


cdef void _sgd(floating* param, const floating* grad, Py_ssize_t n,
               floating lr, floating weight_decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g
    if weight_decay != 0:
        for i in range(n):
            g = grad[i] + weight_decay * param[i]
            param[i] = param[i] - lr * g
    else:
        for i in range(n):
            param[i] = param[i] - lr * grad[i]


cdef void _sgd_momentum(floating* param, const floating* grad, floating* buf, Py_ssize_t n,
                        floating lr, floating momentum, floating weight_decay,
                        bint nesterov) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, b
    # Four specialised loops (no branch inside the hot loop, so the compiler vectorises).
    if weight_decay == 0 and not nesterov:
        for i in range(n):
            b = momentum * buf[i] + grad[i]
            buf[i] = b
            param[i] = param[i] - lr * b
    elif weight_decay == 0:
        for i in range(n):
            g = grad[i]
            b = momentum * buf[i] + g
            buf[i] = b
            param[i] = param[i] - lr * (g + momentum * b)
    elif not nesterov:
        for i in range(n):
            g = grad[i] + weight_decay * param[i]
            b = momentum * buf[i] + g
            buf[i] = b
            param[i] = param[i] - lr * b
    else:
        for i in range(n):
            g = grad[i] + weight_decay * param[i]
            b = momentum * buf[i] + g
            buf[i] = b
            param[i] = param[i] - lr * (g + momentum * b)


def sgd_update(cnp.ndarray param not None, cnp.ndarray grad not None,
               double learning_rate, double weight_decay):
    """Plain SGD step, in place: θ ← θ − η·(∇ + λ·θ). Returns None.

    param, grad: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef int typenum = _check_param("sgd_update", param)
    _check_like("sgd_update", "grad", param, grad, False)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef unsigned int csr = minidl_ftz_begin()
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            _sgd[float](<float*>cnp.PyArray_DATA(param), <const float*>cnp.PyArray_DATA(grad), n,
                        <float>learning_rate, <float>weight_decay)
    else:
        with nogil:
            _sgd[double](<double*>cnp.PyArray_DATA(param), <const double*>cnp.PyArray_DATA(grad), n,
                         learning_rate, weight_decay)
    minidl_ftz_end(csr)


def sgd_momentum_update(cnp.ndarray param not None, cnp.ndarray grad not None,
                        cnp.ndarray momentum_buffer not None, double learning_rate,
                        double momentum, double weight_decay, bint nesterov):
    """SGD step with momentum, in place (updates ``param`` and ``momentum_buffer``). Returns None.

        g = ∇ + λ·θ;   b ← μ·b + g;   θ ← θ − η·(g + μ·b if nesterov else b)

    param, grad, momentum_buffer: same shape and dtype (float32/float64), C-contiguous.
    """
    cdef int typenum = _check_param("sgd_momentum_update", param)
    _check_like("sgd_momentum_update", "grad", param, grad, False)
    _check_like("sgd_momentum_update", "momentum_buffer", param, momentum_buffer, True)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef unsigned int csr = minidl_ftz_begin()
    if typenum == cnp.NPY_FLOAT32:
        with nogil:
            _sgd_momentum[float](<float*>cnp.PyArray_DATA(param), <const float*>cnp.PyArray_DATA(grad),
                                 <float*>cnp.PyArray_DATA(momentum_buffer), n, <float>learning_rate,
                                 <float>momentum, <float>weight_decay, nesterov)
    else:
        with nogil:
            _sgd_momentum[double](<double*>cnp.PyArray_DATA(param), <const double*>cnp.PyArray_DATA(grad),
                                  <double*>cnp.PyArray_DATA(momentum_buffer), n, learning_rate,
                                  momentum, weight_decay, nesterov)
    minidl_ftz_end(csr)

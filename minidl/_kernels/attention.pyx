"""Compiled attention core of multi-head self-attention (twin: reference/attention.py).

qkv (N, T, 3E) = [Q | K | V] from the in-projection, h heads of d = E / h columns each. For
each (sample, head) pair, without the GIL and without copying Q, K, V out of qkv (the GEMMs
read them through their row stride 3E):

    S = Q Kᵀ · scale  →  P = softmax(S) row by row, while the T × T block is in cache
    out[:, :, head] = P V                       (written straight into the concat layout)
    backward: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − Σ dP ⊙ P) · scale, dQ = dS K, dK = dSᵀ Q
              written straight into grad_qkv's [dQ | dK | dV] layout

The products use minidl's packed GEMM (native/gemm.h); exp for float is native/softmax_math.h's
vectorisable Cephes expf. weights (N, h, T, T) receives P (the backward reads it). mask: None
or boolean (N, h, T, T), True = may attend (each row must have one True: the layer checks).
"""
import numpy as np
from cython cimport floating
from libc.stdlib cimport malloc, free

include "_gemm.pxi"

cdef extern from "native/softmax_math.h" nogil:
    void md_softmax_rows_f32(float *s, Py_ssize_t rows, Py_ssize_t cols, float scale, const unsigned char *mask)
    void md_softmax_rows_f64(double *s, Py_ssize_t rows, Py_ssize_t cols, double scale, const unsigned char *mask)


cdef inline void _softmax_rows(floating *s, Py_ssize_t rows, Py_ssize_t cols, floating scale,
                               const unsigned char *mask) noexcept nogil:
    """s[r, :] = softmax(s[r, :] · scale) over the entries the mask allows (others 0)."""
    if floating is float:
        md_softmax_rows_f32(s, rows, cols, scale, mask)
    else:
        md_softmax_rows_f64(s, rows, cols, scale, mask)


cdef _check(const floating[:, :, ::1] qkv, Py_ssize_t heads, Py_ssize_t n, Py_ssize_t steps, Py_ssize_t e, str name):
    if heads < 1 or qkv.shape[2] % 3 or (qkv.shape[2] // 3) % heads or n != qkv.shape[0] \
            or steps != qkv.shape[1] or e != qkv.shape[2] // 3:
        raise ValueError(f"attention kernel: qkv ({qkv.shape[0]}, {qkv.shape[1]}, {qkv.shape[2]}) with {heads} "
                         f"heads does not fit {name} ({n}, {steps}, {e})")


def attention_forward(const floating[:, :, ::1] qkv, Py_ssize_t heads, double scale, mask,
                      floating[:, :, ::1] out, floating[:, :, :, ::1] weights):
    """out (N, T, E) = the heads' attention outputs; weights (N, h, T, T) = P."""
    cdef Py_ssize_t n = out.shape[0], steps = out.shape[1], e = out.shape[2]
    _check(qkv, heads, n, steps, e, "out")
    if not (weights.shape[0] == n and weights.shape[1] == heads and weights.shape[2] == steps
            and weights.shape[3] == steps):
        raise ValueError(f"attention kernel: weights must have shape ({n}, {heads}, {steps}, {steps})")
    cdef const unsigned char[:, :, :, ::1] m
    cdef const unsigned char *mp = NULL
    if mask is not None:
        arr = np.ascontiguousarray(mask)
        if arr.dtype != np.bool_ or arr.shape != (n, heads, steps, steps):
            raise ValueError(f"attention kernel: mask must be boolean ({n}, {heads}, {steps}, {steps}), "
                             f"got {arr.dtype} {arr.shape}")
        m = arr.view(np.uint8)
        if m.size:
            mp = &m[0, 0, 0, 0]
    if n == 0 or steps == 0 or e == 0:
        return
    cdef Py_ssize_t d = e // heads, ld = 3 * e, tt = steps * steps, i, hh
    cdef const floating *base
    cdef floating *p
    cdef floating sc = scale
    cdef int status = 0
    with nogil:
        for i in range(n):
            for hh in range(heads):
                base = &qkv[i, 0, hh * d]
                p = &weights[i, hh, 0, 0]
                # S = Q Kᵀ (Kᵀ: element (p, j) = K[j, p], rows of K 3E apart)
                status |= _gemm(steps, steps, d, base, ld, 1, base + e, 1, ld, p, steps, 0)
                _softmax_rows(p, steps, steps, sc, mp + (i * heads + hh) * tt if mp != NULL else NULL)
                status |= _gemm(steps, d, steps, p, steps, 1, base + 2 * e, ld, 1, &out[i, 0, hh * d], e, 0)
    if status:
        raise MemoryError("attention kernel: could not allocate GEMM buffers")


def attention_backward(const floating[:, :, ::1] grad_output, const floating[:, :, ::1] qkv,
                       const floating[:, :, :, ::1] weights, Py_ssize_t heads, double scale,
                       floating[:, :, ::1] grad_qkv):
    """grad_qkv (N, T, 3E) = dL/d(qkv) given grad_output (N, T, E) and the forward's weights."""
    cdef Py_ssize_t n = grad_output.shape[0], steps = grad_output.shape[1], e = grad_output.shape[2]
    _check(qkv, heads, n, steps, e, "grad_output")
    if not (weights.shape[0] == n and weights.shape[1] == heads and weights.shape[2] == steps
            and weights.shape[3] == steps):
        raise ValueError(f"attention kernel: weights must have shape ({n}, {heads}, {steps}, {steps})")
    if not (grad_qkv.shape[0] == n and grad_qkv.shape[1] == steps and grad_qkv.shape[2] == 3 * e):
        raise ValueError(f"attention kernel: grad_qkv must have shape ({n}, {steps}, {3 * e})")
    if n == 0 or steps == 0 or e == 0:
        return
    cdef Py_ssize_t d = e // heads, ld = 3 * e, i, hh, r, j
    cdef const floating *base
    cdef const floating *p
    cdef const floating *dout
    cdef floating *g
    cdef floating *ds = <floating *>malloc(steps * steps * sizeof(floating))
    cdef floating *row
    cdef const floating *prow
    cdef floating dot, sc = scale
    cdef int status = 0
    if ds == NULL:
        raise MemoryError("attention kernel: could not allocate the backward buffer")
    try:
        with nogil:
            for i in range(n):
                for hh in range(heads):
                    base = &qkv[i, 0, hh * d]
                    p = &weights[i, hh, 0, 0]
                    dout = &grad_output[i, 0, hh * d]
                    g = &grad_qkv[i, 0, hh * d]
                    # dV = Pᵀ dO
                    status |= _gemm(steps, d, steps, p, 1, steps, dout, e, 1, g + 2 * e, ld, 0)
                    # dP = dO Vᵀ
                    status |= _gemm(steps, steps, d, dout, e, 1, base + 2 * e, 1, ld, ds, steps, 0)
                    # dS = P ⊙ (dP − Σ_j dP ⊙ P) · scale
                    for r in range(steps):
                        row = ds + r * steps
                        prow = p + r * steps
                        dot = 0
                        for j in range(steps):
                            dot = dot + row[j] * prow[j]
                        for j in range(steps):
                            row[j] = prow[j] * (row[j] - dot) * sc
                    # dQ = dS K, dK = dSᵀ Q
                    status |= _gemm(steps, d, steps, ds, steps, 1, base + e, ld, 1, g, ld, 0)
                    status |= _gemm(steps, d, steps, ds, 1, steps, base, ld, 1, g + e, ld, 0)
    finally:
        free(ds)
    if status:
        raise MemoryError("attention kernel: could not allocate GEMM buffers")

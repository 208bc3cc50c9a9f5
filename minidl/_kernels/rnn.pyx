"""Compiled Elman RNN (twin: reference/rnn.py): the whole forward over time and the whole
backward through time, each one call without the GIL.

Shapes (batch first): x (N, T, I), w_ih (H, I), w_hh (H, H), bias (H,) = b_ih + b_hh or
None, h0 (N, H) or None (zeros), out (N, T, H) with out[:, t] = h_{t+1}.

    forward    out = x W_ihᵀ (+ b)          one GEMM over all N·T rows
               for t: out[:, t] = φ(out[:, t] + h_{t−1} W_hhᵀ)      GEMM into a strided row block
    backward   for t = T−1 … 0: da_t = (dH_t + dh) ⊙ φ'(h_t),  dh = da_t W_hh
               dW_ih = da ᵀx (one GEMM over N·T rows), dW_hh = Σ_t da_tᵀ h_{t−1}, db = Σ da,
               dx = da W_ih (one GEMM)

The products go to minidl's packed GEMM (native/gemm.h, runtime ISA dispatch), called from C
with the strides of the time slices, so the per-step loop has no Python in it; tanh for float
is native/rnn_math.h's vectorisable rational approximation (max error 3.4e-7).
"""
from cython cimport floating
from libc.stdlib cimport malloc, free
from libc.string cimport memset, memcpy

include "_gemm.pxi"

cdef extern from "native/rnn_math.h" nogil:
    void md_rnn_phi_f32(float *v, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld, int relu)
    void md_rnn_phi_f64(double *v, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld, int relu)


cdef floating *_pack_weights(const floating *w, Py_ssize_t hid, bint transpose) noexcept nogil:
    """The (H, H) recurrent weights (transposed or not) packed once for every time step's GEMM;
    NULL when out of memory. Free with free()."""
    cdef floating *bpre
    if floating is float:
        bpre = <float *>malloc(mg_spacked_b_size(hid, hid) * sizeof(float))
        if bpre != NULL:
            mg_spack_b(hid, hid, w, 1 if transpose else hid, hid if transpose else 1, bpre)
    else:
        bpre = <double *>malloc(mg_dpacked_b_size(hid, hid) * sizeof(double))
        if bpre != NULL:
            mg_dpack_b(hid, hid, w, 1 if transpose else hid, hid if transpose else 1, bpre)
    return bpre


cdef inline int _gemm_packed(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a, Py_ssize_t ars,
                             const floating *bpre, floating *c, Py_ssize_t ldc, int accumulate) noexcept nogil:
    if floating is float:
        return mg_sgemm_packed(m, n, k, a, ars, 1, bpre, c, ldc, accumulate)
    else:
        return mg_dgemm_packed(m, n, k, a, ars, 1, bpre, c, ldc, accumulate)


cdef inline void _phi(floating *v, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld, int relu) noexcept nogil:
    if floating is float:
        md_rnn_phi_f32(v, rows, cols, ld, relu)
    else:
        md_rnn_phi_f64(v, rows, cols, ld, relu)


cdef _bad(str what):
    raise ValueError(f"rnn kernel: {what}")


cdef _check_shapes(const floating[:, :, ::1] x, const floating[:, ::1] w_ih, const floating[:, ::1] w_hh,
                   const floating[:, :, ::1] out):
    """x (N, T, I), w_ih (H, I), w_hh (H, H), out (N, T, H) must agree."""
    cdef Py_ssize_t n = x.shape[0], steps = x.shape[1], ni = x.shape[2], hid = w_hh.shape[0]
    if not (w_ih.shape[0] == hid and w_ih.shape[1] == ni and w_hh.shape[1] == hid):
        _bad(f"weights w_ih ({w_ih.shape[0]}, {w_ih.shape[1]}), w_hh ({w_hh.shape[0]}, {w_hh.shape[1]}) "
             f"do not fit x ({n}, {steps}, {ni})")
    if not (out.shape[0] == n and out.shape[1] == steps and out.shape[2] == hid):
        _bad(f"out has shape ({out.shape[0]}, {out.shape[1]}, {out.shape[2]}), expected ({n}, {steps}, {hid})")


def rnn_forward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih, const floating[:, ::1] w_hh,
                const floating[::1] bias, const floating[:, ::1] h0, floating[:, :, ::1] out, bint relu):
    """out (N, T, H) = the hidden states h_1 … h_T of an Elman RNN over x (N, T, I)."""
    cdef Py_ssize_t n = x.shape[0], steps = x.shape[1], ni = x.shape[2], hid = w_hh.shape[0]
    _check_shapes(x, w_ih, w_hh, out)
    if bias is not None and bias.shape[0] != hid:
        _bad(f"bias has shape ({bias.shape[0]},), expected ({hid},)")
    if h0 is not None and not (h0.shape[0] == n and h0.shape[1] == hid):
        _bad(f"h0 has shape ({h0.shape[0]}, {h0.shape[1]}), expected ({n}, {hid})")
    if n == 0 or steps == 0 or hid == 0:
        return
    cdef Py_ssize_t t, i, j, ldo = steps * hid
    cdef floating *o = &out[0, 0, 0]
    cdef const floating *b = &bias[0] if bias is not None else NULL
    cdef const floating *h = &h0[0, 0] if h0 is not None else NULL
    cdef Py_ssize_t ldh = hid
    cdef int status = 0
    cdef floating *w_packed = NULL
    with nogil:
        w_packed = _pack_weights(&w_hh[0, 0], hid, True)        # W_hhᵀ, packed once for all steps
        if w_packed == NULL:
            status = 1
    if status:
        raise MemoryError("rnn kernel: could not allocate the packed weights")
    with nogil:
        status |= _gemm(n * steps, hid, ni, &x[0, 0, 0] if ni else <floating*>NULL, ni, 1,
                        &w_ih[0, 0] if ni else <floating*>NULL, 1, ni, o, hid, 0)
        if b != NULL:
            for i in range(n * steps):
                for j in range(hid):
                    o[i * hid + j] += b[j]
        for t in range(steps):
            if h != NULL:        # out[:, t] += h_{t-1} W_hhᵀ; rows of out[:, t] are T·H apart
                status |= _gemm_packed(n, hid, hid, h, ldh, w_packed, o + t * hid, ldo, 1)
            _phi(o + t * hid, n, hid, ldo, relu)
            h = o + t * hid
            ldh = ldo
        free(w_packed)
    if status:
        raise MemoryError("rnn kernel: could not allocate GEMM buffers")


def rnn_backward(const floating[:, :, ::1] grad_output, const floating[:, :, ::1] x,
                 const floating[:, ::1] w_ih, const floating[:, ::1] w_hh, const floating[:, ::1] h0,
                 const floating[:, :, ::1] out, floating[:, :, ::1] grad_x, floating[:, ::1] grad_w_ih,
                 floating[:, ::1] grad_w_hh, floating[::1] grad_bias, floating[:, ::1] grad_h0, bint relu):
    """Backpropagation through time for :func:`rnn_forward`; gradients are overwritten,
    grad_x, grad_bias and grad_h0 may be None (not computed)."""
    cdef Py_ssize_t n = x.shape[0], steps = x.shape[1], ni = x.shape[2], hid = w_hh.shape[0]
    _check_shapes(x, w_ih, w_hh, out)
    if not (grad_output.shape[0] == n and grad_output.shape[1] == steps and grad_output.shape[2] == hid):
        _bad(f"grad_output has shape ({grad_output.shape[0]}, {grad_output.shape[1]}, {grad_output.shape[2]}), "
             f"expected ({n}, {steps}, {hid})")
    if grad_x is not None and not (grad_x.shape[0] == n and grad_x.shape[1] == steps and grad_x.shape[2] == ni):
        _bad(f"grad_x must have shape ({n}, {steps}, {ni})")
    if not (grad_w_ih.shape[0] == hid and grad_w_ih.shape[1] == ni):
        _bad(f"grad_w_ih must have shape ({hid}, {ni})")
    if not (grad_w_hh.shape[0] == hid and grad_w_hh.shape[1] == hid):
        _bad(f"grad_w_hh must have shape ({hid}, {hid})")
    if grad_bias is not None and grad_bias.shape[0] != hid:
        _bad(f"grad_bias must have shape ({hid},)")
    if h0 is not None and not (h0.shape[0] == n and h0.shape[1] == hid):
        _bad(f"h0 must have shape ({n}, {hid})")
    if grad_h0 is not None and not (grad_h0.shape[0] == n and grad_h0.shape[1] == hid):
        _bad(f"grad_h0 must have shape ({n}, {hid})")
    cdef Py_ssize_t t, i, j, r, rows = n * steps, ldo = steps * hid
    cdef floating *da = NULL
    cdef floating *dh = NULL
    cdef floating *gx = &grad_x[0, 0, 0] if grad_x is not None and rows * ni else NULL
    cdef floating *gb = &grad_bias[0] if grad_bias is not None and hid else NULL
    cdef floating *gh0 = &grad_h0[0, 0] if grad_h0 is not None and n * hid else NULL
    cdef const floating *h0p = &h0[0, 0] if h0 is not None and n * hid else NULL
    cdef const floating *o
    cdef const floating *g
    cdef floating *d
    cdef floating hv
    cdef int status = 0
    if rows == 0 or hid == 0:
        with nogil:
            if hid * ni:
                memset(&grad_w_ih[0, 0], 0, hid * ni * sizeof(floating))
            if hid:
                memset(&grad_w_hh[0, 0], 0, hid * hid * sizeof(floating))
            if gb != NULL:
                memset(gb, 0, hid * sizeof(floating))
            if gh0 != NULL:
                memset(gh0, 0, n * hid * sizeof(floating))
            if gx != NULL:
                memset(gx, 0, rows * ni * sizeof(floating))
        return
    cdef floating *w_packed = NULL
    da = <floating *>malloc(rows * hid * sizeof(floating))
    dh = <floating *>malloc(n * hid * sizeof(floating))
    with nogil:
        w_packed = _pack_weights(&w_hh[0, 0], hid, False)       # W_hh, packed once for all steps
    if da == NULL or dh == NULL or w_packed == NULL:
        free(da)
        free(dh)
        free(w_packed)
        raise MemoryError("rnn kernel: could not allocate the backward buffers")
    try:
        with nogil:
            memset(dh, 0, n * hid * sizeof(floating))
            for t in range(steps - 1, -1, -1):
                for i in range(n):
                    r = i * ldo + t * hid
                    o = &out[0, 0, 0] + r
                    g = &grad_output[0, 0, 0] + r
                    d = da + r
                    for j in range(hid):
                        hv = o[j]
                        if relu:
                            d[j] = (g[j] + dh[i * hid + j]) if hv > 0 else 0
                        else:
                            d[j] = (g[j] + dh[i * hid + j]) * (1 - hv * hv)
                # dh = da_t W_hh: rows of da_t are T·H apart
                status |= _gemm_packed(n, hid, hid, da + t * hid, ldo, w_packed, dh, hid, 0)
            if gh0 != NULL:
                memcpy(gh0, dh, n * hid * sizeof(floating))
            if ni:
                # dW_ih = daᵀ x over all N·T rows (same row order in both)
                status |= _gemm(hid, ni, rows, da, 1, hid, &x[0, 0, 0], ni, 1, &grad_w_ih[0, 0], ni, 0)
            # dW_hh = Σ_{t ≥ 1} da_tᵀ h_{t−1} (+ da_0ᵀ h0): per sample, rows t = 1 … T−1 of da[n]
            # against rows 0 … T−2 of out[n]
            memset(&grad_w_hh[0, 0], 0, hid * hid * sizeof(floating))
            if steps > 1:
                for i in range(n):
                    status |= _gemm(hid, hid, steps - 1, da + i * ldo + hid, 1, hid,
                                    &out[0, 0, 0] + i * ldo, hid, 1, &grad_w_hh[0, 0], hid, 1)
            if h0p != NULL:
                status |= _gemm(hid, hid, n, da, 1, ldo, h0p, hid, 1, &grad_w_hh[0, 0], hid, 1)
            if gb != NULL:
                memset(gb, 0, hid * sizeof(floating))
                for r in range(rows):
                    for j in range(hid):
                        gb[j] += da[r * hid + j]
            if gx != NULL:
                status |= _gemm(rows, ni, hid, da, hid, 1, &w_ih[0, 0], ni, 1, gx, ni, 0)
    finally:
        free(da)
        free(dh)
        free(w_packed)
    if status:
        raise MemoryError("rnn kernel: could not allocate GEMM buffers")

"""Compiled dropout kernels (twin: reference/dropout.py).

    mask = (u < float32(q)),  u = rng.random(shape, dtype=float32),  q = keep_prob
    out  = x · mask · scale        scale = 1/q (inverted dropout) or 1 (traditional)
    dx   = dy · mask · scale

Bit-identical masks. numpy draws a float32 uniform as ``(next_uint32 >> 8) · 2⁻²⁴`` (24
random bits, exact in float32). So ``u < q`` holds exactly when the integer
``next_uint32 >> 8`` is below ``threshold = ceil(q · 2²⁴)`` (q · 2²⁴ is exact in double
because q is a float32). This kernel takes the Generator's ``bitgen_t`` from its capsule,
holds the Generator's lock and consumes the same ``next_uint32`` stream as
``rng.random(..., dtype=float32)`` would: same mask, same Generator state afterwards.

Speed. Calling ``next_uint32`` through the function pointer costs ~1.5 ns per element,
bound by PCG64's serial 128-bit multiply. For the default bit generator (``PCG64``) the
stream is reproduced inline instead: the LCG ``s ← M·s + c`` is run as four independent
lanes ``s ← M⁴·s + c₄`` (the same sequence, four steps apart), which removes the serial
dependency, and each 64-bit output supplies two 32-bit draws exactly as numpy's
``pcg64_next32`` buffers them (low half first, high half kept in ``uinteger``). The inline
path relies on numpy's internal PCG64 state layout, so it is enabled only if a self-test
at import shows it reproduces the generic path draw for draw and state for state; any
other bit generator (MT19937, Philox, SFC64) uses the generic path.
"""
import numpy as np
cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_GetPointer
from cython cimport floating
from libc.math cimport ceil
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from numpy.random cimport bitgen_t

cnp.import_array()

__all__ = ["dropout_forward", "dropout_backward"]

cdef extern from *:
    """
    #if defined(__SIZEOF_INT128__)
    #define MDL_HAVE_INT128 1
    typedef struct { __uint128_t state; __uint128_t inc; } mdl_pcg128_t;
    typedef struct { mdl_pcg128_t *pcg_state; int has_uint32; uint32_t uinteger; } mdl_pcg64_state_t;
    #define MDL_PCG_MULT ((((__uint128_t)2549297995355413924ULL) << 64) + 4865540595714422341ULL)

    /* PCG64 XSL-RR output function (numpy's pcg_output_xsl_rr_128_64). */
    static inline uint64_t mdl_pcg_output(__uint128_t s) {
        uint64_t v = ((uint64_t)(s >> 64)) ^ (uint64_t)s;
        unsigned int rot = (unsigned int)(s >> 122);
        return (v >> rot) | (v << ((-rot) & 63));
    }

    /* One 64-bit draw = two 32-bit draws, low half first (numpy's pcg64_next32). */
    static inline void mdl_emit_pair(unsigned char *m, uint64_t r, uint32_t thr) {
        m[0] = (((uint32_t)r) >> 8) < thr;
        m[1] = (((uint32_t)(r >> 32)) >> 8) < thr;
    }

    /* mask[i] = (next_uint32 >> 8) < thr for i < n, consuming the PCG64 stream exactly as
       n calls of numpy's pcg64_next32 would (including its one-value buffer). */
    static void mdl_pcg64_mask(void *st, unsigned char *mask, Py_ssize_t n, uint32_t thr) {
        mdl_pcg64_state_t *s = (mdl_pcg64_state_t *)st;
        const __uint128_t mult = MDL_PCG_MULT;
        __uint128_t state, inc, a2, c2, a4, c4, l0, l1, l2, l3;
        Py_ssize_t i = 0, pairs, p = 0;
        uint64_t r = 0;
        if (n <= 0) return;
        if (s->has_uint32) {
            mask[0] = (s->uinteger >> 8) < thr;
            s->has_uint32 = 0;
            i = 1;
        }
        state = s->pcg_state->state;
        inc = s->pcg_state->inc;
        pairs = (n - i) / 2;
        if (pairs >= 8) {
            a2 = mult * mult;  c2 = mult * inc + inc;     /* two steps:  s -> a2 s + c2 */
            a4 = a2 * a2;      c4 = a2 * c2 + c2;         /* four steps: s -> a4 s + c4 */
            l0 = mult * state + inc;
            l1 = mult * l0 + inc;
            l2 = mult * l1 + inc;
            l3 = mult * l2 + inc;
            for (; p + 4 <= pairs; p += 4) {
                unsigned char *m = mask + i + 2 * p;
                mdl_emit_pair(m, mdl_pcg_output(l0), thr);
                mdl_emit_pair(m + 2, mdl_pcg_output(l1), thr);
                mdl_emit_pair(m + 4, mdl_pcg_output(l2), thr);
                mdl_emit_pair(m + 6, mdl_pcg_output(l3), thr);
                state = l3;
                l0 = a4 * l0 + c4;
                l1 = a4 * l1 + c4;
                l2 = a4 * l2 + c4;
                l3 = a4 * l3 + c4;
            }
            r = mdl_pcg_output(state);
        }
        for (; p < pairs; p++) {
            state = mult * state + inc;
            r = mdl_pcg_output(state);
            mdl_emit_pair(mask + i + 2 * p, r, thr);
        }
        if ((n - i) & 1) {
            state = mult * state + inc;
            r = mdl_pcg_output(state);
            mask[n - 1] = (((uint32_t)r) >> 8) < thr;
            s->has_uint32 = 1;
            s->uinteger = (uint32_t)(r >> 32);
        } else if (pairs > 0) {
            s->uinteger = (uint32_t)(r >> 32);   /* numpy leaves the last high half here */
        }
        s->pcg_state->state = state;
    }
    #else
    #define MDL_HAVE_INT128 0
    static void mdl_pcg64_mask(void *st, unsigned char *mask, Py_ssize_t n, uint32_t thr) {}
    #endif
    """
    int MDL_HAVE_INT128
    void mdl_pcg64_mask(void *st, uint8_t *mask, Py_ssize_t n, uint32_t thr) noexcept nogil

# Elements per block: the mask block is drawn, then applied while it is still in L1.
cdef enum:
    CHUNK = 8192

cdef bint _pcg64_inline_ok = False


cdef void _generic_mask(bitgen_t *bitgen, uint8_t *mask, Py_ssize_t n, uint32_t threshold) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        mask[i] = (bitgen.next_uint32(bitgen.state) >> 8) < threshold


cdef void _apply_mask(const floating *x, const uint8_t *mask, floating *out, Py_ssize_t n,
                      floating scale) noexcept nogil:
    # x · (mask · scale) rounds exactly like the twin's (x · mask) · scale, NaN and -0 included.
    cdef Py_ssize_t i
    cdef floating zero = 0
    for i in range(n):
        out[i] = x[i] * (scale if mask[i] else zero)


cdef void _draw_and_apply(bitgen_t *bitgen, bint inline_pcg64, const floating *x, floating *out,
                          uint8_t *mask, Py_ssize_t n, uint32_t threshold, floating scale) noexcept nogil:
    cdef Py_ssize_t start = 0, m
    while start < n:
        m = min(<Py_ssize_t>CHUNK, n - start)
        if inline_pcg64:
            mdl_pcg64_mask(bitgen.state, mask + start, m, threshold)
        else:
            _generic_mask(bitgen, mask + start, m, threshold)
        _apply_mask(x + start, mask + start, out + start, m, scale)
        start += m


cdef int _check_pair(cnp.ndarray a, cnp.ndarray b, str a_name, str b_name, bint b_writeable) except -1:
    """a and b: same float dtype, same shape, C-contiguous; b writeable."""
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise ValueError(f"dropout kernel: {a_name} must be float32 or float64, got {a.dtype}")
    if cnp.PyArray_TYPE(b) != t:
        raise ValueError(f"dropout kernel: {b_name} has dtype {b.dtype}, expected {a.dtype}")
    _check_shape(a, b, a_name, b_name)
    if not (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_IS_C_CONTIGUOUS(b)):
        raise ValueError(f"dropout kernel: {a_name} and {b_name} must be C-contiguous")
    if b_writeable and not cnp.PyArray_ISWRITEABLE(b):
        raise ValueError(f"dropout kernel: {b_name} is read-only")
    return 0


cdef int _check_shape(cnp.ndarray a, cnp.ndarray b, str a_name, str b_name) except -1:
    if (<object>a).shape != (<object>b).shape:
        raise ValueError(f"dropout kernel: {a_name} {(<object>a).shape} and {b_name} "
                         f"{(<object>b).shape} must have the same shape")
    return 0


cdef int _check_mask(cnp.ndarray mask, cnp.ndarray x, bint writeable) except -1:
    cdef int t = cnp.PyArray_TYPE(mask)
    if t != cnp.NPY_UINT8 and t != cnp.NPY_BOOL:
        raise ValueError(f"dropout kernel: mask must be uint8 (or bool), got {mask.dtype}")
    _check_shape(x, mask, "x", "mask")
    if not cnp.PyArray_IS_C_CONTIGUOUS(mask):
        raise ValueError("dropout kernel: mask must be C-contiguous")
    if writeable and not cnp.PyArray_ISWRITEABLE(mask):
        raise ValueError("dropout kernel: mask is read-only")
    return 0


def dropout_forward(cnp.ndarray x, cnp.ndarray out, cnp.ndarray mask, double keep_prob, double scale, rng):
    """Draw ``mask`` (uint8, shape of x) from ``rng`` with P(1) = keep_prob and write
    out = x · mask · scale. ``rng`` is a numpy.random.Generator; returns None."""
    _check_pair(x, out, "x", "out", True)
    _check_mask(mask, x, True)
    if not (0.0 <= keep_prob <= 1.0):
        raise ValueError(f"dropout kernel: keep_prob must be in [0, 1], got {keep_prob}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"dropout kernel: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    cdef uint32_t threshold = <uint32_t>ceil(<double>(<float>keep_prob) * 16777216.0)
    bit_generator = rng.bit_generator
    cdef bitgen_t *bitgen = <bitgen_t *>PyCapsule_GetPointer(bit_generator.capsule, "BitGenerator")
    cdef bint inline_pcg64 = _pcg64_inline_ok and type(bit_generator) is np.random.PCG64
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef uint8_t *m = <uint8_t *>cnp.PyArray_DATA(mask)
    with bit_generator.lock:
        if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32:
            with nogil:
                _draw_and_apply[float](bitgen, inline_pcg64, <float *>cnp.PyArray_DATA(x),
                                       <float *>cnp.PyArray_DATA(out), m, n, threshold, <float>scale)
        else:
            with nogil:
                _draw_and_apply[double](bitgen, inline_pcg64, <double *>cnp.PyArray_DATA(x),
                                        <double *>cnp.PyArray_DATA(out), m, n, threshold, scale)


def dropout_backward(cnp.ndarray grad_output, cnp.ndarray mask, double scale, cnp.ndarray grad_input):
    """grad_input = grad_output · mask · scale (the mask drawn by dropout_forward)."""
    _check_pair(grad_output, grad_input, "grad_output", "grad_input", True)
    _check_mask(mask, grad_output, False)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(grad_output)
    cdef uint8_t *m = <uint8_t *>cnp.PyArray_DATA(mask)
    if cnp.PyArray_TYPE(grad_output) == cnp.NPY_FLOAT32:
        with nogil:
            _apply_mask[float](<float *>cnp.PyArray_DATA(grad_output), m,
                               <float *>cnp.PyArray_DATA(grad_input), n, <float>scale)
    else:
        with nogil:
            _apply_mask[double](<double *>cnp.PyArray_DATA(grad_output), m,
                                <double *>cnp.PyArray_DATA(grad_input), n, scale)


cdef void _fill_mask(bitgen_t *bitgen, bint inline_pcg64, uint8_t *mask, Py_ssize_t n,
                     uint32_t threshold) noexcept nogil:
    if inline_pcg64:
        mdl_pcg64_mask(bitgen.state, mask, n, threshold)
    else:
        _generic_mask(bitgen, mask, n, threshold)


def _self_test_inline_pcg64():
    """True if the inline PCG64 path reproduces numpy's own draws and final state."""
    if not MDL_HAVE_INT128:
        return False
    cdef bitgen_t *bitgen
    cdef cnp.ndarray fast, slow
    cdef uint32_t threshold = 1 << 23
    for seed, n, skip in ((0, 0, 0), (1, 1, 1), (2, 7, 0), (3, 16, 1), (4, 17, 0), (5, 40, 1),
                          (6, 41, 0), (7, 1000, 1), (8, 1001, 0)):
        results = []
        for inline in (True, False):
            gen = np.random.Generator(np.random.PCG64(seed))
            if skip:
                gen.random(1, dtype=np.float32)          # leaves a buffered 32-bit half
            buf = np.zeros(n, dtype=np.uint8)
            bitgen = <bitgen_t *>PyCapsule_GetPointer(gen.bit_generator.capsule, "BitGenerator")
            _fill_mask(bitgen, inline, <uint8_t *>cnp.PyArray_DATA(buf), n, threshold)
            results.append((buf, gen.bit_generator.state, gen.random(3, dtype=np.float32)))
        (a, sa, na), (b, sb, nb) = results
        if not (np.array_equal(a, b) and sa == sb and np.array_equal(na, nb)):
            return False
    return True


_pcg64_inline_ok = _self_test_inline_pcg64()


def inline_pcg64_enabled():
    """Whether masks drawn from a PCG64 Generator use the inline (fast) path."""
    return bool(_pcg64_inline_ok)

"""Compiled dropout kernels. Formula: the layer's docstring (minidl/nn/dropout.py); twin:
reference/dropout.py, same names and signatures.

Design.
* Bit-identical masks. NumPy draws a float32 uniform as ``(next_uint32 >> 8) · 2⁻²⁴`` (24
  random bits, exact in float32), so ``u < q`` holds exactly when the integer
  ``next_uint32 >> 8`` is below ``threshold = ceil(q · 2²⁴)`` (q · 2²⁴ is exact in double
  because q is a float32). The kernel takes the Generator's ``bitgen_t`` from its capsule,
  holds the Generator's lock and consumes the same ``next_uint32`` stream as
  ``rng.random(..., dtype=float32)`` would: same mask, same Generator state afterwards.
* Speed. Calling ``next_uint32`` through the function pointer costs ~1.5 ns per element,
  bound by PCG64's serial 128-bit multiply. For the default bit generator (PCG64) the stream
  is reproduced inline, four LCG lanes at a time: native/pcg64_mask.h, which reads NumPy's
  private PCG64 state layout. It is used only if a self-test at import reproduces the
  generic path draw for draw and state for state (and tests/kernels/test_dropout_kernels.py
  fails loudly if the layout changes); other bit generators use the generic path.
* One fused body, ``_dropout``, draws a block of the mask (or reads the given one) and
  applies it while it is still in L1; forward and backward both go through ``_run``, the
  only place that picks the dtype. The arrays are flat runs of any shape; ndarrays rather
  than typed memoryviews, which would cost more than a small layer's whole call.
* The apply loop is native/elementwise.h's ``md_ew_mask_run``, the twin's (x · mask) · scale
  (the baseline build: measured, its AVX2/AVX-512 builds were no faster). The backward (no
  mask to draw) splits large arrays into fixed blocks run on _pool.pyx's threads: it is
  bound by memory bandwidth, which one core of a 2-core machine does not saturate. The
  forward stays on one thread: its blocks must consume the Generator's stream in order.
"""
import numpy as np
cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_GetPointer
from cython cimport floating
from libc.math cimport ceil
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from numpy.random cimport bitgen_t

include "_validation.pxi"
from minidl._kernels._pool cimport run_tasks, threads_for

__all__ = ["dropout_forward", "dropout_backward"]

cdef extern from "native/elementwise.h" nogil:
    void md_ew_mask_run_f32(const float *x, const uint8_t *mask, float *out, Py_ssize_t n, float scale)
    void md_ew_mask_run_f64(const double *x, const uint8_t *mask, double *out, Py_ssize_t n, double scale)

cdef extern from "native/pcg64_mask.h" nogil:
    int MD_HAVE_INT128
    void md_pcg64_mask(void *state, uint8_t *mask, Py_ssize_t n, uint32_t threshold)
    void md_pcg64_read(void *state, uint64_t words[4], int *has_uint32, uint32_t *uinteger)

# Elements per block: the mask block is drawn, then applied while it is still in L1.
cdef enum:
    CHUNK = 8192
    APPLY_BLOCK = 65536     # backward: elements per parallel block

cdef enum _Mask:
    GIVEN = 0           # backward: the mask is an input
    DRAW_GENERIC = 1    # next_uint32 through the bit generator's function pointer
    DRAW_PCG64 = 2      # native/pcg64_mask.h

cdef bint _pcg64_inline_ok = False


cdef void _draw(bitgen_t *bitgen, _Mask how, uint8_t *mask, Py_ssize_t n, uint32_t threshold) noexcept nogil:
    cdef Py_ssize_t i
    if how == DRAW_PCG64:
        md_pcg64_mask(bitgen.state, mask, n, threshold)
    elif how == DRAW_GENERIC:
        for i in range(n):
            mask[i] = (bitgen.next_uint32(bitgen.state) >> 8) < threshold


cdef inline void _mask_run(const floating *x, const uint8_t *mask, floating *out, Py_ssize_t n,
                           floating scale) noexcept nogil:
    if floating is float:
        md_ew_mask_run_f32(x, mask, out, n, scale)
    else:
        md_ew_mask_run_f64(x, mask, out, n, scale)


cdef void _dropout(bitgen_t *bitgen, _Mask how, uint32_t threshold, const floating *x, uint8_t *mask,
                   floating *out, Py_ssize_t n, floating scale) noexcept nogil:
    """out = x · mask · scale, block by block, drawing each block of the mask first unless given."""
    cdef Py_ssize_t start = 0, m
    while start < n:
        m = min(<Py_ssize_t>CHUNK, n - start)
        _draw(bitgen, how, mask + start, m, threshold)
        _mask_run(x + start, mask + start, out + start, m, scale)
        start += m


ctypedef struct _Apply:         # a backward call, split into blocks of APPLY_BLOCK elements
    const void *x
    const uint8_t *mask
    void *out
    Py_ssize_t n
    double scale
    bint f32


cdef void _apply_block(void *ctx, Py_ssize_t item, int worker) noexcept nogil:
    cdef const _Apply *a = <const _Apply *>ctx
    cdef Py_ssize_t start = item * <Py_ssize_t>APPLY_BLOCK
    cdef Py_ssize_t m = min(<Py_ssize_t>APPLY_BLOCK, a.n - start)
    if a.f32:
        _mask_run(<const float *>a.x + start, a.mask + start, <float *>a.out + start, m, <float>a.scale)
    else:
        _mask_run(<const double *>a.x + start, a.mask + start, <double *>a.out + start, m, a.scale)


cdef int _run(str kernel, object x, str x_name, object mask, object out, str out_name, double scale,
              bitgen_t *bitgen, _Mask how, uint32_t threshold) except -1:
    """Validate x, mask (uint8 or bool, x's shape), out; run _dropout on x's dtype."""
    cdef int t = _check_float(kernel, x, x_name, -1, False)
    _check_like(kernel, out, out_name, x, x_name, True)
    _array(kernel, mask, "mask")
    if cnp.PyArray_TYPE(mask) != cnp.NPY_UINT8 and cnp.PyArray_TYPE(mask) != cnp.NPY_BOOL:
        raise ValueError(f"{kernel}: mask must be uint8 (or bool), got {mask.dtype}")
    if mask.shape != x.shape:
        raise ValueError(f"{kernel}: mask has shape {mask.shape}, {x_name} has {x.shape}")
    _check(kernel, mask, "mask", -1, cnp.PyArray_TYPE(mask), how != GIVEN)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef void *px = _data(x)
    cdef void *po = _data(out)
    cdef uint8_t *m = <uint8_t *>_data(mask)
    cdef _Apply job
    cdef Py_ssize_t n_blocks = (n + <Py_ssize_t>APPLY_BLOCK - 1) // <Py_ssize_t>APPLY_BLOCK
    with nogil:
        if how == GIVEN:
            job.x, job.mask, job.out, job.n, job.scale = px, m, po, n, scale
            job.f32 = t == cnp.NPY_FLOAT32
            run_tasks(_apply_block, &job, n_blocks, threads_for(2 * n, n_blocks))
        elif t == cnp.NPY_FLOAT32:
            _dropout(bitgen, how, threshold, <const float *>px, m, <float *>po, n, <float>scale)
        else:
            _dropout(bitgen, how, threshold, <const double *>px, m, <double *>po, n, scale)
    return 0


def dropout_forward(x, out, mask, double keep_prob, double scale, rng):
    """Draw ``mask`` (uint8, shape of x) from ``rng`` with P(1) = keep_prob and write
    out = x · mask · scale. ``rng`` is a numpy.random.Generator; returns None."""
    if not (0.0 <= keep_prob <= 1.0):
        raise ValueError(f"dropout_forward: keep_prob must be in [0, 1], got {keep_prob}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"dropout_forward: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    cdef uint32_t threshold = <uint32_t>ceil(<double>(<float>keep_prob) * 16777216.0)
    bit_generator = rng.bit_generator
    cdef bitgen_t *bitgen = <bitgen_t *>PyCapsule_GetPointer(bit_generator.capsule, "BitGenerator")
    cdef _Mask how = DRAW_PCG64 if _pcg64_inline_ok and type(bit_generator) is np.random.PCG64 else DRAW_GENERIC
    with bit_generator.lock:
        _run("dropout_forward", x, "x", mask, out, "out", scale, bitgen, how, threshold)


def dropout_backward(grad_output, mask, double scale, grad_input):
    """grad_input = grad_output · mask · scale (the mask drawn by dropout_forward)."""
    _run("dropout_backward", grad_output, "grad_output", mask, grad_input, "grad_input", scale,
         NULL, GIVEN, 0)


# -- the inline PCG64 path: self-test at import, state layout for the tests --------------------
def _self_test_inline_pcg64():
    """True if the inline PCG64 path reproduces numpy's own draws and final state."""
    if not MD_HAVE_INT128:
        return False
    cdef bitgen_t *bitgen
    cdef uint32_t threshold = 1 << 23
    for seed, n, skip in ((0, 0, 0), (1, 1, 1), (2, 7, 0), (3, 16, 1), (4, 17, 0), (5, 40, 1),
                          (6, 41, 0), (7, 1000, 1), (8, 1001, 0)):
        results = []
        for how in (DRAW_PCG64, DRAW_GENERIC):
            gen = np.random.Generator(np.random.PCG64(seed))
            if skip:
                gen.random(1, dtype=np.float32)          # leaves a buffered 32-bit half
            buf = np.zeros(n, dtype=np.uint8)
            bitgen = <bitgen_t *>PyCapsule_GetPointer(gen.bit_generator.capsule, "BitGenerator")
            _draw(bitgen, how, <uint8_t *>_data(buf), n, threshold)
            results.append((buf, gen.bit_generator.state, gen.random(3, dtype=np.float32)))
        (a, sa, na), (b, sb, nb) = results
        if not (np.array_equal(a, b) and sa == sb and np.array_equal(na, nb)):
            return False
    return True


def _pcg64_state_as_read(bit_generator):
    """A PCG64's state as native/pcg64_mask.h reads it from memory, in the layout of
    ``bit_generator.state`` (for the layout test); None without 128-bit integers."""
    if not MD_HAVE_INT128:
        return None
    if type(bit_generator) is not np.random.PCG64:
        raise TypeError(f"_pcg64_state_as_read: expected a numpy.random.PCG64, got {type(bit_generator).__name__}")
    cdef bitgen_t *bitgen = <bitgen_t *>PyCapsule_GetPointer(bit_generator.capsule, "BitGenerator")
    cdef uint64_t words[4]
    cdef int has_uint32
    cdef uint32_t uinteger
    with bit_generator.lock:
        md_pcg64_read(bitgen.state, words, &has_uint32, &uinteger)
    return {"bit_generator": "PCG64",
            "state": {"state": (int(words[0]) << 64) | int(words[1]),
                      "inc": (int(words[2]) << 64) | int(words[3])},
            "has_uint32": has_uint32, "uinteger": int(uinteger)}


_pcg64_inline_ok = _self_test_inline_pcg64()


def inline_pcg64_enabled():
    """Whether masks drawn from a PCG64 Generator use the inline (fast) path."""
    return bool(_pcg64_inline_ok)

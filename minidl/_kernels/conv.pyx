"""Compiled convolution kernels. Formula: ``Conv2d``'s docstring (minidl/nn/conv.py); twin:
reference/conv.py, same names and signatures.

* im2col / col2im (any stride), typed memoryview bodies:

      cols[n, (c·kh + i)·kw + j, oh·W_out + ow] = x_pad[n, c, oh·sh + i, ow·sw + j]

* conv2d_forward / conv2d_backward: the convolution computed directly, without the im2col
  matrix (C in native/conv_direct.h and conv_direct_impl.h, explained there), a group of
  images per call, the groups shared among the threads of native/threadpool.h (one pool for
  all kernels, _pool.pyx; not OpenMP: see there). The im2col matrix of a (32, 16, 28, 28)
  batch is 14 MB, written and read back twice per step; the direct kernels keep one padded
  image (~60 KB) in cache instead, and use the widest vectors the CPU has. They compute a
  stride-1 convolution with padding <= kernel − 1; strided and over-padded layers run as one
  over their phase images (conv_layouts.phase_shape), which the kernels split and merge
  themselves, computing only the taps the kernel has. Strided layers whose kernel is no
  larger than the stride (a 1×1 stride-2 shortcut), with many channels, use im2col + NumPy's
  GEMM (conv_layouts.py, which allocates its large temporaries). This module allocates only
  the direct kernels' packed weights, tap offsets, per-thread scratch and per-slot partial
  sums (O(weights + threads × one group of images)); nothing is computed that the caller
  did not ask for (grad_x None: no dx pass).
"""
import numpy as np
cimport numpy as cnp

from minidl._kernels import blas_threads as _blas_threads   # the conv pool's neighbour policy
from minidl._kernels.conv_layouts import gemm_backward, gemm_forward, phase_shape, phase_weights
from cython cimport floating
import os

include "_validation.pxi"

cdef object _blas_policy = _blas_threads.policy

cdef extern from "native/conv_direct.h" nogil:
    ctypedef Py_ssize_t md_idx
    ctypedef struct md_conv_geometry:
        int isa
        md_idx C, H, W, kh, kw, ph, pw, O, Ho, Wo, Hp, Wp, G, plane, cstride, tile, Ppad, OB, Opad, FOB, Fpad, VL, DT, DV, Dpad, FT, TK, K, Kpad, xp_len
        md_idx sh, sw, pa, pb, xC, xH, xW, xph, xpw
    ctypedef void (*md_fwd_images_f32)(const float*, md_idx, const md_conv_geometry*, const float*,
                                       const md_idx*, const float*, float*, float*, float*) noexcept nogil
    ctypedef void (*md_fwd_images_f64)(const double*, md_idx, const md_conv_geometry*, const double*,
                                       const md_idx*, const double*, double*, double*, double*) noexcept nogil
    ctypedef void (*md_bwd_images_f32)(const float*, const float*, md_idx, const md_conv_geometry*,
                                       const md_conv_geometry*, const md_idx*, const md_idx*, const float*,
                                       float*, float*, float*, float*, float*, float*) noexcept nogil
    ctypedef void (*md_bwd_images_f64)(const double*, const double*, md_idx, const md_conv_geometry*,
                                       const md_conv_geometry*, const md_idx*, const md_idx*, const double*,
                                       double*, double*, double*, double*, double*, double*) noexcept nogil
    void md_conv_geometry_init(md_conv_geometry* g, md_idx C, md_idx H, md_idx W, md_idx kh, md_idx kw,
                               md_idx ph, md_idx pw, md_idx O, size_t elsize, md_idx G, int isa)
    void md_conv_geometry_phases(md_conv_geometry* g, md_idx xC, md_idx xH, md_idx xW, md_idx xph, md_idx xpw,
                                 md_idx sh, md_idx sw, md_idx pa, md_idx pb)
    md_idx md_conv_ext_len(const md_conv_geometry* g)
    int md_conv_isa()
    md_fwd_images_f32 md_conv_fwd_images_f32(const md_conv_geometry* g)
    md_fwd_images_f64 md_conv_fwd_images_f64(const md_conv_geometry* g)
    md_bwd_images_f32 md_conv_bwd_images_f32(const md_conv_geometry* g)
    md_bwd_images_f64 md_conv_bwd_images_f64(const md_conv_geometry* g)
    const char* md_conv_isa_name()
    int md_conv_set_isa(int isa)
    int MD_LINE

# One pool of worker threads, and one thread count (MINIDL_NUM_THREADS, else OMP_NUM_THREADS,
# else the CPUs this process may run on), for every kernel that uses threads: _pool.pyx.
from minidl._kernels._pool cimport pool_threads, run_tasks
from minidl._kernels._pool import get_num_threads, set_num_threads   # noqa: F401 (this module's API too)


cdef inline Py_ssize_t _out_size(Py_ssize_t size, Py_ssize_t k, Py_ssize_t stride, Py_ssize_t pad):
    return (size + 2 * pad - k) // stride + 1


cdef inline (Py_ssize_t, Py_ssize_t) _valid_range(Py_ssize_t w_out, Py_ssize_t stride, Py_ssize_t shift,
                                                 Py_ssize_t width) noexcept nogil:
    """[lo, hi): the output columns ow whose input column ow·stride + shift lies in [0, width)."""
    cdef Py_ssize_t lo = 0, hi = w_out
    while lo < w_out and lo * stride + shift < 0:
        lo += 1
    while hi > lo and (hi - 1) * stride + shift >= width:
        hi -= 1
    return lo, hi


cdef _check_unfold(str name, Py_ssize_t n, Py_ssize_t c, Py_ssize_t h, Py_ssize_t w, tuple cols_shape,
            Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw):
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError(f"{name}: kernel and stride must be >= 1 and padding >= 0")
    cdef Py_ssize_t h_out = _out_size(h, kh, sh, ph)
    cdef Py_ssize_t w_out = _out_size(w, kw, sw, pw)
    if h_out < 1 or w_out < 1:
        raise ValueError(f"{name}: empty output for input {(n, c, h, w)} and kernel {(kh, kw)}")
    if cols_shape[:3] != (n, c * kh * kw, h_out * w_out):
        raise ValueError(f"{name}: cols has shape {cols_shape[:3]}, expected {(n, c * kh * kw, h_out * w_out)}")
    return h_out, w_out


def conv_im2col(const floating[:, :, :, ::1] x, Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h, Py_ssize_t pad_w,
                floating[:, :, ::1] cols):
    """Unfold x (N, C, H, W) into cols (N, C·kh·kw, H_out·W_out). Writes ``cols``; returns None."""
    cdef Py_ssize_t n_batch = x.shape[0], channels = x.shape[1], height = x.shape[2], width = x.shape[3]
    cdef Py_ssize_t h_out, w_out
    h_out, w_out = _check_unfold("conv_im2col", n_batch, channels, height, width, tuple(cols.shape),
                          kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w)
    cdef Py_ssize_t n, c, i, j, oh, ow, row, ih, ow_lo, ow_hi, shift
    cdef const floating* src
    cdef floating* dst
    with nogil:
        for n in range(n_batch):
            for c in range(channels):
                for i in range(kernel_h):
                    for j in range(kernel_w):
                        row = (c * kernel_h + i) * kernel_w + j
                        ow_lo, ow_hi = _valid_range(w_out, stride_w, j - pad_w, width)
                        shift = j - pad_w
                        for oh in range(h_out):
                            ih = oh * stride_h - pad_h + i
                            dst = &cols[n, row, oh * w_out]
                            if ih < 0 or ih >= height:
                                for ow in range(w_out):
                                    dst[ow] = 0
                                continue
                            src = &x[n, c, ih, 0]
                            for ow in range(ow_lo):
                                dst[ow] = 0
                            if stride_w == 1:   # contiguous copy: the compiler vectorises it
                                for ow in range(ow_lo, ow_hi):
                                    dst[ow] = src[ow + shift]
                            else:
                                for ow in range(ow_lo, ow_hi):
                                    dst[ow] = src[ow * stride_w + shift]
                            for ow in range(ow_hi, w_out):
                                dst[ow] = 0


def conv_col2im(const floating[:, :, ::1] cols, Py_ssize_t kernel_h, Py_ssize_t kernel_w,
                Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h, Py_ssize_t pad_w,
                floating[:, :, :, ::1] dx):
    """Fold cols (N, C·kh·kw, H_out·W_out) back into dx (N, C, H, W), summing overlaps.

    The adjoint of :func:`conv_im2col`. Overwrites ``dx``; returns None.
    """
    cdef Py_ssize_t n_batch = dx.shape[0], channels = dx.shape[1], height = dx.shape[2], width = dx.shape[3]
    cdef Py_ssize_t h_out, w_out
    h_out, w_out = _check_unfold("conv_col2im", n_batch, channels, height, width, tuple(cols.shape),
                          kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w)
    cdef Py_ssize_t n, c, i, j, oh, ow, ih, row, ow_lo, ow_hi, shift, k
    cdef const floating* src
    cdef floating* dst
    with nogil:
        for n in range(n_batch):
            for c in range(channels):
                dst = &dx[n, c, 0, 0]
                for k in range(height * width):
                    dst[k] = 0
                for i in range(kernel_h):
                    for j in range(kernel_w):
                        row = (c * kernel_h + i) * kernel_w + j
                        ow_lo, ow_hi = _valid_range(w_out, stride_w, j - pad_w, width)
                        shift = j - pad_w
                        for oh in range(h_out):
                            ih = oh * stride_h - pad_h + i
                            if ih < 0 or ih >= height:
                                continue
                            src = &cols[n, row, oh * w_out]
                            dst = &dx[n, c, ih, 0]
                            if stride_w == 1:
                                for ow in range(ow_lo, ow_hi):
                                    dst[ow + shift] += src[ow]
                            else:
                                for ow in range(ow_lo, ow_hi):
                                    dst[ow * stride_w + shift] += src[ow]


# ---- stride-1 direct convolution -------------------------------------------------------

def _warn_unknown_isa():
    value = os.environ.get("MINIDL_CONV_ISA")
    if value is not None and value not in ("avx512", "avx2", "generic"):
        import warnings
        warnings.warn(f"MINIDL_CONV_ISA={value!r} is not one of 'avx512', 'avx2', 'generic': ignored",
                      RuntimeWarning, stacklevel=2)


_warn_unknown_isa()


def conv_isa():
    """The instruction set the direct convolution kernels use: 'avx512', 'avx2' or 'generic'."""
    return md_conv_isa_name().decode()


def _conv_set_isa(str name):
    """Use a narrower instruction set than detected (tests, benchmarks); returns the one in use."""
    md_conv_set_isa(("generic", "avx2", "avx512").index(name))
    return conv_isa()


cdef int _check_direct(str kernel, object x, object weight, object bias, Py_ssize_t stride_h,
                       Py_ssize_t stride_w, Py_ssize_t pad_h, Py_ssize_t pad_w) except -1:
    """x (N, C, H, W) and weight (O, C, kh, kw) of one float dtype, C-contiguous; bias (O,) or None."""
    cdef int t = _float_typenum(kernel, x, "x")
    _check(kernel, x, "x", 4, t, False)
    _check(kernel, weight, "weight", 4, t, False)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{kernel}: weight {(<object>weight).shape} expects {weight.shape[1]} input "
                         f"channels, x has shape {(<object>x).shape}")
    _check_vector(kernel, bias, "bias", t, weight.shape[0], False, True)
    if stride_h < 1 or stride_w < 1:
        raise ValueError(f"{kernel}: stride must be >= 1, got {(stride_h, stride_w)}")
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"{kernel}: padding must be >= 0, got {(pad_h, pad_w)}")
    if x.shape[2] + 2 * pad_h < weight.shape[2] or x.shape[3] + 2 * pad_w < weight.shape[3]:
        raise ValueError(f"{kernel}: input {(<object>x).shape} with padding {(pad_h, pad_w)} is smaller "
                         f"than the kernel {(<object>weight).shape[2:]}")
    if x.shape[0] == 0 or x.shape[1] == 0 or weight.shape[0] == 0 or weight.shape[2] == 0 or weight.shape[3] == 0:
        raise ValueError(f"{kernel}: empty batch, channels or kernel: x {(<object>x).shape}, "
                         f"weight {(<object>weight).shape}")
    return t


cdef tuple _out_shape(cnp.ndarray x, cnp.ndarray weight, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw):
    return (x.shape[0], weight.shape[0], (x.shape[2] + 2 * ph - weight.shape[2]) // sh + 1,
            (x.shape[3] + 2 * pw - weight.shape[3]) // sw + 1)


cdef inline bint _plain(cnp.ndarray weight, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw):
    """Stride 1 and padding <= kernel − 1: the direct kernels apply as they are."""
    return sh == 1 and sw == 1 and ph <= weight.shape[2] - 1 and pw <= weight.shape[3] - 1


cdef inline bint _polyphase_pays(cnp.ndarray x, cnp.ndarray weight, Py_ssize_t sh, Py_ssize_t sw):
    """Strided: the polyphase form (conv_layouts.phase_shape; the direct kernels compute the
    forward and dW tap by tap, the dx pass with the zero-padded sub-kernels, 16/9 of the work
    for 3×3 stride 2) or im2col + GEMM? Measured (one core, float32): polyphase wins where the
    kernel is larger than the stride, when im2col's matrix is larger than x (kh·kw > sh·sw:
    (32,16,28,28) → 32×3×3 stride 2, 3.3 vs 3.8 ms; 64 channels 6.0 vs 6.2; 5×5 stride 2 1.9 vs
    4.9), and for few input channels (C·phases <= 16, an RGB or grey first layer); im2col +
    GEMM where the kernel is no larger than the stride (a 1×1 stride-2 shortcut is a
    subsample and a GEMM: 0.63 vs 0.88 ms; 3×3 stride 3: 1.07 vs 1.27). The portable build's
    4-wide kernels lose to NumPy's GEMM on many channels (8.9 vs 4.5 ms at (32,16,28,28)
    stride 2): im2col there, as before."""
    cdef Py_ssize_t phases = min(sh, weight.shape[2]) * min(sw, weight.shape[3])
    return ((sh == 1 and sw == 1) or x.shape[1] * phases <= 16
            or (weight.shape[2] > sh and weight.shape[3] > sw and md_conv_isa() != 0))


cdef int _check_output(str kernel, object a, str name, tuple shape, int t) except -1:
    _check(kernel, a, name, len(shape), t, True)
    if (<object>a).shape != shape:
        raise ValueError(f"{kernel}: {name} has shape {(<object>a).shape}, expected {shape}")
    return 0


cdef object _pack(cnp.ndarray weight, md_idx rows_pad, md_idx ob, bint flip):
    """The filters as the kernels read them, (rows_pad/ob, K, ob): the ob filters of a tile
    side by side per tap, zero rows up to rows_pad. weight (O, C, kh, kw): its O filters of
    K = C·kh·kw taps, or, flip, the dx pass's C filters of K = O·kh·kw taps (flipped in space,
    in/out channels swapped)."""
    cdef md_idx rows = weight.shape[1] if flip else weight.shape[0]
    out = np.zeros((rows_pad // ob, weight.size // rows, ob), dtype=weight.dtype)
    if weight.dtype == np.float64:
        _pack_filters[double](weight, out, flip)
    else:
        _pack_filters[float](weight, out, flip)
    return out


cdef object _pack_for(const md_conv_geometry* g, cnp.ndarray weight, bint flip):
    """_pack as g's forward kernel reads the filters: tiles of DV·VL (fwd_tile) or FOB."""
    return _pack(weight, g.Dpad, g.DV * g.VL, flip) if g.FT else _pack(weight, g.Fpad, g.FOB, flip)


cdef tuple _dx_tiles(md_conv_geometry* gb, cnp.ndarray weight, cnp.ndarray wq, Py_ssize_t sh, Py_ssize_t sw):
    """Tap offsets and packed filters of a strided layer's dx pass, tile by tile (gb.TK, see
    fwd_images): its filters are the phase channels, whose zero-padded sub-kernels have
    kh·kw/(sh·sw) real taps on average out of ceil(kh/sh)·ceil(kw/sw) (9 of 16 for 3×3,
    stride 2); each tile of filters (one phase, with phase-major channels and C a multiple of
    the tile) computes only the taps its filters have."""
    cdef Py_ssize_t o = weight.shape[0], cq = wq.shape[1], kh = wq.shape[2], kw = wq.shape[3]
    cdef Py_ssize_t width = gb.DV * gb.VL if gb.FT else gb.FOB
    cdef Py_ssize_t tiles = (gb.Dpad if gb.FT else gb.Fpad) // width, t, r0, r1, kt
    flipped = wq[:, :, ::-1, ::-1]                                         # the dx pass's taps (u, v)
    real = phase_weights(np.ones((1,) + (<object>weight).shape[1:]), (sh, sw))[0, :, ::-1, ::-1] != 0
    offs = np.zeros(tiles * gb.Kpad + tiles, dtype=np.intp)
    packed = np.zeros((tiles, gb.K, width), dtype=weight.dtype)
    for t in range(tiles):
        r0, r1 = t * width, min((t + 1) * width, cq)
        if r0 >= r1:
            continue                                                       # padding filters: no taps
        u, v = np.nonzero(real[r0:r1].any(axis=0))
        kt = o * len(u)
        offs[t * gb.Kpad:t * gb.Kpad + kt] = (np.arange(o)[:, None] * gb.cstride + u * gb.Wp + v).ravel()
        offs[tiles * gb.Kpad + t] = kt
        packed[t, :kt, :r1 - r0] = flipped[:, r0:r1][:, :, u, v].transpose(0, 2, 1).reshape(kt, r1 - r0)
    gb.TK = 1
    return offs, packed


cdef void _pack_filters(const floating[:, :, :, :] w, floating[:, :, ::1] out, bint flip) noexcept nogil:
    cdef Py_ssize_t o, c, u, v, k = 0
    cdef Py_ssize_t ob = out.shape[2], kh = w.shape[2], kw = w.shape[3]
    for o in range(w.shape[0]):
        for c in range(w.shape[1]):
            for u in range(kh):
                for v in range(kw):
                    if flip:   # filter c, tap (o, kh − 1 − u, kw − 1 − v)
                        out[c // ob, (o * kh + kh - 1 - u) * kw + kw - 1 - v, c % ob] = w[o, c, u, v]
                    else:
                        out[o // ob, (c * kh + u) * kw + v, o % ob] = w[o, c, u, v]


cdef void _sum_slots(const floating[:, ::1] acc, Py_ssize_t k_pad, Py_ssize_t d_pad, floating[:, ::1] grad_w,
                     floating[::1] grad_b) noexcept nogil:
    """grad_w[o, k] = Σ_slots acc[slot, k·d_pad + o] (dW tap-major, see dw_tile), grad_b[o] the
    same of acc[slot, k_pad·d_pad + o], the slots added in order (deterministic)."""
    cdef Py_ssize_t slot, o, k
    cdef floating total
    for k in range(grad_w.shape[1]):
        for o in range(grad_w.shape[0]):
            total = acc[0, k * d_pad + o]
            for slot in range(1, acc.shape[0]):
                total = total + acc[slot, k * d_pad + o]
            grad_w[o, k] = total
    if grad_b.shape[0]:
        for o in range(grad_w.shape[0]):
            total = acc[0, k_pad * d_pad + o]
            for slot in range(1, acc.shape[0]):
                total = total + acc[slot, k_pad * d_pad + o]
            grad_b[o] = total


cdef object _offsets(md_conv_geometry* g, Py_ssize_t c, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                     Py_ssize_t sw):
    """offs[k] for the taps k = (c·kh + i)·kw + j of a (C, kh, kw) kernel with stride (sh, sw)
    read from g's padded images; 0 (a harmless read) from K up to Kpad. Stride 1: the tap reads
    channel c shifted by (i, j), c·cstride + i·Wp + j. Strided, g's images are the phase images
    (conv_layouts.phase_shape): channel ((i mod sh)·pb + j mod sw)·C + c, shifted by
    (i div sh, j div sw) — only the taps the kernel has, not the zero-padded sub-kernels. Sets
    g.K (C·kh·kw) and g.Kpad to match."""
    cdef Py_ssize_t pb = min(sw, kw)
    i, j = np.arange(kh)[None, :, None], np.arange(kw)[None, None, :]
    channel = ((i % sh) * pb + j % sw) * c + np.arange(c)[:, None, None]
    g.K = c * kh * kw
    g.Kpad = (g.K + g.DT - 1) // g.DT * g.DT
    offs = np.zeros(g.Kpad, dtype=np.intp)
    offs[:g.K] = (channel * g.cstride + (i // sh) * g.Wp + j // sw).ravel()
    return offs


cdef inline md_idx _lines(md_idx count, md_idx itemsize) noexcept:
    """``count`` elements rounded up to whole cache lines."""
    cdef md_idx per_line = MD_LINE // itemsize
    return (count + per_line - 1) // per_line * per_line


cdef object _workspace(int n_threads, md_idx stride, object dtype):
    """(n_threads, stride) scratch whose rows start on a cache line (stride is whole lines):
    the kernels' row starts, and so most of their vector loads, are then aligned."""
    cdef md_idx itemsize = np.dtype(dtype).itemsize
    raw = np.empty(n_threads * stride + MD_LINE // itemsize, dtype=dtype)
    cdef md_idx shift = ((-<size_t>cnp.PyArray_DATA(raw)) % MD_LINE) // itemsize
    return raw[shift:shift + n_threads * stride].reshape(n_threads, stride)


cdef inline int _threads(Py_ssize_t n_images) noexcept:
    cdef int count = pool_threads()
    return <int>(n_images if n_images < count else count)


cdef md_idx _group_size(md_idx n_images, int n_threads, md_idx plane, md_idx channels):
    """Images per kernel call: enough output positions (~512) to amortise each register tile's
    set-up on small images, at most ~64K elements of padded input (cache), and the same number
    of calls on every thread."""
    plane = max(1, plane)     # (validated inputs give >= 1; C division by 0 would kill the process)
    cdef md_idx want = min((512 + plane - 1) // plane, 65536 // max(1, channels * plane))
    want = max(1, want)
    cdef md_idx calls_per_thread = (n_images + n_threads * want - 1) // (n_threads * want)
    return (n_images + n_threads * calls_per_thread - 1) // (n_threads * calls_per_thread)


ctypedef struct _Job:
    # One call's arguments, shared by the pool's threads; each task is one group of images.
    bint f64
    const md_conv_geometry* gf
    const md_conv_geometry* gb
    const void* x
    const void* dy
    void* out                # y (forward) or dx (backward)
    const void* wpack
    const void* bias
    const md_idx* offs_f
    const md_idx* offs_b
    char* ws                 # per-thread scratch, ws_stride bytes apart
    md_idx ws_stride
    char* acc                # per-slot dW / db partial sums (backward), acc_stride bytes apart
    md_idx acc_stride
    Py_ssize_t groups_per_slot
    md_idx xp_len, ext_len   # in elements
    Py_ssize_t n_images


cdef void _forward_task(void* ctx, Py_ssize_t group, int worker) noexcept nogil:
    cdef _Job* j = <_Job*>ctx
    cdef const md_conv_geometry* g = j.gf
    cdef Py_ssize_t first = group * g.G
    cdef Py_ssize_t count = min(g.G, j.n_images - first)
    cdef md_idx x_at = first * g.xC * g.xH * g.xW, y_at = first * g.O * g.Ho * g.Wo
    cdef char* mine = j.ws + worker * j.ws_stride
    if j.f64:
        md_conv_fwd_images_f64(g)(<const double*>j.x + x_at, count, g, <const double*>j.wpack, j.offs_f,
                                  <const double*>j.bias, <double*>j.out + y_at, <double*>mine,
                                  <double*>mine + g.xp_len)
    else:
        md_conv_fwd_images_f32(g)(<const float*>j.x + x_at, count, g, <const float*>j.wpack, j.offs_f,
                                  <const float*>j.bias, <float*>j.out + y_at, <float*>mine,
                                  <float*>mine + g.xp_len)


def conv2d_forward(x, weight, bias, Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h,
                   Py_ssize_t pad_w, out):
    """out (N, O, H_out, W_out) = x (N, C, H, W) ⋆ weight (O, C, kh, kw) + bias (O,) (or None),
    stride (stride_h, stride_w), zero padding (pad_h, pad_w). Writes ``out``; returns None."""
    cdef int t = _check_direct("conv2d_forward", x, weight, bias, stride_h, stride_w, pad_h, pad_w)
    shape = _out_shape(x, weight, stride_h, stride_w, pad_h, pad_w)
    _check_output("conv2d_forward", out, "out", shape, t)
    if _plain(weight, stride_h, stride_w, pad_h, pad_w) or _polyphase_pays(x, weight, stride_h, stride_w):
        _forward_direct(x, weight, stride_h, stride_w, pad_h, pad_w, bias, out, t)
    else:
        gemm_forward(x, weight, bias, (stride_h, stride_w), (pad_h, pad_w), out, conv_im2col)


cdef tuple _direct_dims(cnp.ndarray x, cnp.ndarray weight, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                        Py_ssize_t pw, tuple out_hw):
    """(C, H, W, kh, kw, ph, pw) of the stride-1 convolution the direct kernels compute: the
    layer's own, or, strided or over-padded, the one over its phase images (conv_layouts.phase_shape)."""
    if _plain(weight, sh, sw, ph, pw):
        return x.shape[1], x.shape[2], x.shape[3], weight.shape[2], weight.shape[3], ph, pw
    (cq, hq, wq), (_, kh, kw) = phase_shape((<object>weight).shape[1:], (sh, sw), out_hw)
    return cq, hq, wq, kh, kw, 0, 0


cdef void _read_phases(md_conv_geometry* g, cnp.ndarray x, cnp.ndarray weight, Py_ssize_t sh, Py_ssize_t sw,
                       Py_ssize_t ph, Py_ssize_t pw):
    """g (over the phase images, see _direct_dims) reads them straight from x."""
    if not _plain(weight, sh, sw, ph, pw):
        md_conv_geometry_phases(g, x.shape[1], x.shape[2], x.shape[3], ph, pw, sh, sw,
                                min(sh, weight.shape[2]), min(sw, weight.shape[3]))


cdef _forward_direct(cnp.ndarray x, cnp.ndarray weight, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                     Py_ssize_t pw, object bias, cnp.ndarray out, int t):
    """The direct kernels on validated arrays: a stride-1 convolution (padding <= kernel − 1)
    of x itself or of its phase images (strided or over-padded), computing the taps of ``weight``."""
    cdef Py_ssize_t n = x.shape[0], o = weight.shape[0]
    cdef Py_ssize_t c, h, w, kh, kw, pad_h, pad_w
    c, h, w, kh, kw, pad_h, pad_w = _direct_dims(x, weight, sh, sw, ph, pw, (<object>out).shape[2:])
    cdef int n_threads = _threads(n)
    cdef md_idx group = _group_size(n, n_threads, (h + pad_h) * (w + pad_w), c)   # g.plane
    cdef md_conv_geometry g
    md_conv_geometry_init(&g, c, h, w, kh, kw, pad_h, pad_w, o, x.itemsize, group, md_conv_isa())
    _read_phases(&g, x, weight, sh, sw, ph, pw)
    # The public kernels checked the arrays; this guards the polyphase arithmetic too.
    _check_output("conv2d_forward", out, "out", (n, o, g.Ho, g.Wo), t)
    offs = _offsets(&g, weight.shape[1], weight.shape[2], weight.shape[3], sh, sw)
    wpack = _pack_for(&g, weight, False)
    cdef md_idx stride = g.xp_len + _lines(md_conv_ext_len(&g), x.itemsize)
    ws = _workspace(n_threads, stride, x.dtype)
    cdef _Job job
    job.f64 = t == cnp.NPY_FLOAT64
    job.gf = &g
    job.x, job.out, job.wpack, job.bias = _data(x), _data(out), _data(wpack), _data(bias)
    job.offs_f = <const md_idx*>_data(offs)
    job.ws, job.ws_stride = <char*>_data(ws), stride * x.itemsize
    job.n_images = n
    if n_threads > 1 and not _blas_policy.limited:
        _blas_threads.limit_gemm_threads()
    with nogil:
        run_tasks(_forward_task, &job, (n + g.G - 1) // g.G, n_threads)


cdef void _backward_task(void* ctx, Py_ssize_t slot, int worker) noexcept nogil:
    """One slot: a fixed run of groups summed into the slot's own dW / db partials, so the
    result does not depend on which thread ran which slot (deterministic gradients)."""
    cdef _Job* j = <_Job*>ctx
    cdef Py_ssize_t group
    cdef Py_ssize_t n_groups = (j.n_images + j.gf.G - 1) // j.gf.G
    for group in range(slot * j.groups_per_slot, min((slot + 1) * j.groups_per_slot, n_groups)):
        _backward_group(j, group, worker, j.acc + slot * j.acc_stride)


cdef inline void _backward_group(_Job* j, Py_ssize_t group, int worker, char* acc) noexcept nogil:
    cdef const md_conv_geometry* gf = j.gf
    cdef Py_ssize_t first = group * gf.G
    cdef Py_ssize_t count = min(gf.G, j.n_images - first)
    cdef md_idx x_at = first * gf.xC * gf.xH * gf.xW, y_at = first * gf.O * gf.Ho * gf.Wo
    cdef md_idx dw_len = gf.Kpad * gf.Dpad
    cdef char* mine = j.ws + worker * j.ws_stride
    if j.f64:
        md_conv_bwd_images_f64(gf)(<const double*>j.x + x_at, <const double*>j.dy + y_at, count, gf, j.gb,
                                   j.offs_f, j.offs_b, <const double*>j.wpack,
                                   <double*>j.out + x_at if j.out != NULL else NULL,
                                   <double*>acc, <double*>acc + dw_len, <double*>mine,
                                   <double*>mine + j.xp_len, <double*>mine + j.xp_len + j.ext_len)
    else:
        md_conv_bwd_images_f32(gf)(<const float*>j.x + x_at, <const float*>j.dy + y_at, count, gf, j.gb,
                                   j.offs_f, j.offs_b, <const float*>j.wpack,
                                   <float*>j.out + x_at if j.out != NULL else NULL,
                                   <float*>acc, <float*>acc + dw_len, <float*>mine,
                                   <float*>mine + j.xp_len, <float*>mine + j.xp_len + j.ext_len)


def conv2d_backward(x, weight, grad_out, Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t pad_h,
                    Py_ssize_t pad_w, grad_x, grad_weight, grad_bias):
    """Gradients of :func:`conv2d_forward` given grad_out (N, O, H_out, W_out): overwrites grad_x
    (x's shape), grad_weight (weight's shape) and grad_bias (O,); grad_x or grad_bias None skips
    it. Returns None."""
    cdef int t = _check_direct("conv2d_backward", x, weight, None, stride_h, stride_w, pad_h, pad_w)
    shape = _out_shape(x, weight, stride_h, stride_w, pad_h, pad_w)
    _check_output("conv2d_backward", grad_out, "grad_out", shape, t)
    if grad_x is not None:
        _check_output("conv2d_backward", grad_x, "grad_x", (<object>x).shape, t)
    _check_output("conv2d_backward", grad_weight, "grad_weight", (<object>weight).shape, t)
    _check_vector("conv2d_backward", grad_bias, "grad_bias", t, weight.shape[0], True, True)
    if _plain(weight, stride_h, stride_w, pad_h, pad_w) or _polyphase_pays(x, weight, stride_h, stride_w):
        _backward_direct(x, weight, stride_h, stride_w, pad_h, pad_w, grad_out, grad_x, grad_weight, grad_bias, t)
    else:
        gemm_backward(x, weight, grad_out, (stride_h, stride_w), (pad_h, pad_w), grad_x, grad_weight,
                      grad_bias, conv_im2col, conv_col2im)


cdef _backward_direct(cnp.ndarray x, cnp.ndarray weight, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                      Py_ssize_t pw, cnp.ndarray grad_out, object grad_x, cnp.ndarray grad_weight,
                      object grad_bias, int t):
    """The direct kernels' backward on validated arrays (see _forward_direct); grad_x None: dx
    is not computed. Strided, dW is computed tap by tap from the phase images, dx of the phase
    images with the zero-padded sub-kernels (conv_layouts.phase_weights), then merged."""
    cdef Py_ssize_t n = x.shape[0], o = weight.shape[0]
    cdef Py_ssize_t c, h, w, kh, kw, pad_h, pad_w
    c, h, w, kh, kw, pad_h, pad_w = _direct_dims(x, weight, sh, sw, ph, pw, (<object>grad_out).shape[2:])
    wq = weight if _plain(weight, sh, sw, ph, pw) else phase_weights(weight, (sh, sw))
    cdef int n_threads = _threads(n)
    cdef md_idx h_out = h + 2 * pad_h - kh + 1, w_out = w + 2 * pad_w - kw + 1
    cdef md_idx plane = max((h + pad_h) * (w + pad_w), (h_out + kh - 1 - pad_h) * (w_out + kw - 1 - pad_w))
    cdef md_idx group = _group_size(n, n_threads, plane, max(c, o))
    cdef md_conv_geometry gf, gb
    cdef int isa = md_conv_isa()    # once: both geometries and the kernels must agree on it
    md_conv_geometry_init(&gf, c, h, w, kh, kw, pad_h, pad_w, o, x.itemsize, group, isa)
    md_conv_geometry_init(&gb, o, h_out, w_out, kh, kw, kh - 1 - pad_h, kw - 1 - pad_w, c, x.itemsize, group, isa)
    _read_phases(&gf, x, weight, sh, sw, ph, pw)
    _check_output("conv2d_backward", grad_out, "grad_out", (n, o, gf.Ho, gf.Wo), t)
    if grad_x is not None:
        _check_output("conv2d_backward", grad_x, "grad_x", (<object>x).shape, t)
    # The dx pass convolves dy with the filters flipped in space and in/out channels swapped.
    offs_f = _offsets(&gf, weight.shape[1], weight.shape[2], weight.shape[3], sh, sw)
    offs_b = _offsets(&gb, o, kh, kw, 1, 1)
    if _plain(weight, sh, sw, ph, pw):
        wpack_b = _pack_for(&gb, wq, True)
    else:
        offs_b, wpack_b = _dx_tiles(&gb, weight, wq, sh, sw)
    cdef md_idx xp_len = max(gf.xp_len, gb.xp_len)
    cdef md_idx ext_len = _lines(md_conv_ext_len(&gb), x.itemsize)    # the dx pass's output
    # + dy transposed for dW, then (strided) dx of the G phase images
    cdef md_idx stride = xp_len + ext_len + _lines(max(gf.Dpad * gf.G * gf.Ho * gf.Wo, gf.G * c * h * w), x.itemsize)
    cdef md_idx acc_stride = _lines(gf.Kpad * gf.Dpad + gf.Dpad, x.itemsize)   # dW (tap-major), db
    ws = _workspace(n_threads, stride, x.dtype)
    # Slots: 2 per thread (a slow thread then delays the call by half its share at most),
    # each with its own partial sums, added in slot order below.
    cdef Py_ssize_t n_groups = (n + gf.G - 1) // gf.G
    cdef Py_ssize_t n_slots = min(n_groups, 2 * n_threads)
    cdef Py_ssize_t groups_per_slot = (n_groups + n_slots - 1) // n_slots
    n_slots = (n_groups + groups_per_slot - 1) // groups_per_slot
    acc = np.zeros((n_slots, acc_stride), dtype=x.dtype)
    cdef _Job job
    job.f64 = t == cnp.NPY_FLOAT64
    job.gf, job.gb = &gf, &gb
    job.x, job.dy, job.out, job.wpack = _data(x), _data(grad_out), _data(grad_x), _data(wpack_b)   # out NULL: no dx
    job.offs_f, job.offs_b = <const md_idx*>_data(offs_f), <const md_idx*>_data(offs_b)
    job.ws, job.ws_stride = <char*>_data(ws), stride * x.itemsize
    job.acc, job.acc_stride = <char*>_data(acc), acc_stride * x.itemsize
    job.groups_per_slot = groups_per_slot
    job.xp_len, job.ext_len = xp_len, ext_len
    job.n_images = n
    if n_threads > 1 and not _blas_policy.limited:
        _blas_threads.limit_gemm_threads()
    with nogil:
        run_tasks(_backward_task, &job, n_slots, n_threads)
    # Per-slot partial sums → the gradients (small: O·K + O per slot), in a fixed order.
    gw = grad_weight.reshape(o, gf.K)
    gb_ = grad_bias if grad_bias is not None else acc[0, :0]
    if t == cnp.NPY_FLOAT64:
        _sum_slots[double](acc, gf.Kpad, gf.Dpad, gw, gb_)
    else:
        _sum_slots[float](acc, gf.Kpad, gf.Dpad, gw, gb_)
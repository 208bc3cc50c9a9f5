"""The convolution in other layouts: NumPy code shared by the twin and the compiled kernels.

Formula: ``Conv2d``'s docstring (minidl/nn/conv.py). The compiled direct kernels (conv.pyx)
do stride 1 with padding <= kernel − 1; the other convolutions are first rewritten here, in
plain NumPy, which is also where their large temporaries are allocated (conv.pyx itself
allocates only the direct kernels' packed weights and per-thread scratch):

* ``gemm_forward`` / ``gemm_backward``: im2col + one GEMM per image (the twin's whole
  convolution; the compiled kernels use it for strided layers with many input channels, with
  their compiled im2col / col2im passed in).
* ``phases`` / ``phases_backward``: the polyphase form of a strided (or over-padded)
  convolution, a stride-1 unpadded one over the phase images (see ``phases``).
"""
import numpy as np


def gemm_forward(x, weight, bias, stride, padding, out, im2col):
    """The convolution as im2col + one GEMM per image (checked arguments)."""
    n, o, kh, kw = x.shape[0], weight.shape[0], weight.shape[2], weight.shape[3]
    cols = np.empty((n, weight[0].size, out.shape[2] * out.shape[3]), dtype=x.dtype)
    im2col(x, kh, kw, *stride, *padding, cols)
    np.matmul(weight.reshape(o, -1), cols, out=out.reshape(n, o, -1))   # Y[n] = W · X[n]
    if bias is not None:
        out += bias[:, None, None]


def gemm_backward(x, weight, grad_out, stride, padding, grad_x, grad_weight, grad_bias, im2col, col2im):
    """Backward of :func:`gemm_forward` (checked arguments; grad_x or grad_bias None skips it)."""
    n, o, kh, kw = x.shape[0], weight.shape[0], weight.shape[2], weight.shape[3]
    cols = np.empty((n, weight[0].size, grad_out.shape[2] * grad_out.shape[3]), dtype=x.dtype)
    im2col(x, kh, kw, *stride, *padding, cols)
    g = grad_out.reshape(n, o, -1)
    w2 = weight.reshape(o, -1)
    # dW = Σ_n dY[n] X[n]ᵀ, computed as its transpose Σ_n X[n] dY[n]ᵀ (OpenBLAS's faster orientation)
    grad_weight.reshape(o, -1)[...] = np.matmul(cols, g.transpose(0, 2, 1)).sum(axis=0).T
    if grad_bias is not None:
        grad_bias[...] = g.sum(axis=(0, 2))                                   # db = Σ_{n,l} dY
    if grad_x is not None:
        col2im(np.matmul(w2.T, g), kh, kw, *stride, *padding, grad_x)      # dx = col2im(Wᵀ dY)


def phases(x, weight, stride, padding, out_hw):
    """Polyphase form of a strided (or over-padded) convolution: a stride-1, unpadded one.

    With u = sh·u' + a and v = sw·v' + b (0 <= a < sh, 0 <= b < sw), the tap (u, v) of output
    (i, j) reads x_pad[sh·(i + u') + a, sw·(j + v') + b] = X_ab[i + u', j + v'], where X_ab is
    the phase image x_pad[a::sh, b::sw]. So y = Σ_ab X_ab ⋆ W_ab, W_ab = W[:, :, a::sh, b::sw]:
    one stride-1 convolution whose input channels are the phases (c, a, b) — only those with
    a < kh and b < kw, the others meet no tap — and whose sub-kernels are zero-padded to
    ceil(kh/sh) × ceil(kw/sw). Returns (xq, wq)."""
    (sh, sw), (ph, pw) = stride, padding
    n, c = x.shape[:2]
    o, _, kh, kw = weight.shape
    kh2, kw2 = -(-kh // sh), -(-kw // sw)
    pa, pb = min(sh, kh), min(sw, kw)
    hq, wq_ = out_hw[0] + kh2 - 1, out_hw[1] + kw2 - 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    xq = np.zeros((n, c, pa, pb, hq, wq_), dtype=x.dtype)
    wq = np.zeros((o, c, pa, pb, kh2, kw2), dtype=x.dtype)
    for a in range(pa):
        for b in range(pb):
            src = x_pad[:, :, a::sh, b::sw][:, :, :hq, :wq_]
            xq[:, :, a, b, :src.shape[2], :src.shape[3]] = src
            sub = weight[:, :, a::sh, b::sw]
            wq[:, :, a, b, :sub.shape[2], :sub.shape[3]] = sub
    return xq.reshape(n, c * pa * pb, hq, wq_), wq.reshape(o, c * pa * pb, kh2, kw2)


def phases_backward(dxq, dwq, x_shape, weight_shape, stride, padding, grad_x, grad_weight):
    """The gradients of the phase images go back to the pixels they were copied from (each
    padded pixel is in exactly one phase), those of the sub-kernels to their taps. grad_x
    None: dxq is None too (not computed)."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, w = x_shape
    o, _, kh, kw = weight_shape
    pa, pb = min(sh, kh), min(sw, kw)
    dxq6 = dxq.reshape((n, c, pa, pb) + dxq.shape[2:]) if grad_x is not None else None
    dwq6 = dwq.reshape((o, c, pa, pb) + dwq.shape[2:])
    dx_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dxq.dtype) if grad_x is not None else None
    for a in range(pa):
        for b in range(pb):
            if dx_pad is not None:
                dst = dx_pad[:, :, a::sh, b::sw]
                rows, cols = min(dst.shape[2], dxq6.shape[4]), min(dst.shape[3], dxq6.shape[5])
                dst[:, :, :rows, :cols] = dxq6[:, :, a, b, :rows, :cols]
            taps = grad_weight[:, :, a::sh, b::sw]
            taps[...] = dwq6[:, :, a, b, :taps.shape[2], :taps.shape[3]]
    if grad_x is not None:
        grad_x[...] = dx_pad[:, :, ph:ph + h, pw:pw + w]

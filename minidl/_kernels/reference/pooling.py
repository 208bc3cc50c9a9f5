"""NumPy twins of the pooling kernels.

Windows of kh × kw with stride (sh, sw) and implicit padding (ph, pw) over x (N, C, H, W):

    H_out = (H + 2·ph − kh) // sh + 1,  W_out = (W + 2·pw − kw) // sw + 1   (floor, as PyTorch)

Max pooling pads with −∞ and keeps, for backward, the flat index ``ih·W + iw`` of the
first maximum of each window (scan order, as PyTorch); its gradient goes to that one input:

    dx[n, c, argmax[n, c, oh, ow]] += dy[n, c, oh, ow]

Average pooling pads with zeros and always divides by kh·kw (PyTorch's default
``count_include_pad=True``), so every input in a window receives dy / (kh·kw).

Layers: minidl/nn/pooling.py.
"""
import numpy as np

__all__ = ["pool_max_forward", "pool_max_backward", "pool_avg_forward", "pool_avg_backward"]


def _windows(x_pad, kh, kw, sh, sw, h_out, w_out):
    """View (N, C, H_out, W_out, kh, kw) of every window of the padded input."""
    n, c = x_pad.shape[:2]
    s = x_pad.strides
    return np.lib.stride_tricks.as_strided(
        x_pad, (n, c, h_out, w_out, kh, kw), (s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]), writeable=False)


def pool_max_forward(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out, argmax):
    """out[n, c, oh, ow] = max of the window; argmax (int64) = flat index ih·W + iw of it."""
    n, c, h, w = x.shape
    h_out, w_out = out.shape[2], out.shape[3]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)), constant_values=-np.inf)
    win = _windows(x_pad, kernel_h, kernel_w, stride_h, stride_w, h_out, w_out).reshape(n, c, h_out, w_out, -1)
    # NaN counts as the maximum (PyTorch propagates it): argmax of the first NaN, else first max.
    k = np.where(np.isnan(win).any(-1), np.isnan(win).argmax(-1), win.argmax(-1))
    i, j = np.divmod(k, kernel_w)
    ih = np.arange(h_out)[:, None] * stride_h - pad_h + i
    iw = np.arange(w_out)[None, :] * stride_w - pad_w + j
    argmax[...] = ih * w + iw
    out[...] = np.take_along_axis(win, k[..., None], -1)[..., 0]


def pool_max_backward(grad_output, argmax, grad_input):
    """grad_input[n, c].flat[argmax] += grad_output (scatter-add). Overwrites grad_input."""
    n, c = grad_input.shape[:2]
    flat = grad_input.reshape(n * c, -1)
    flat[...] = 0
    rows = np.repeat(np.arange(n * c), argmax[0, 0].size)
    np.add.at(flat, (rows, argmax.reshape(-1)), grad_output.reshape(-1))


def pool_avg_forward(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out):
    """out[n, c, oh, ow] = (sum of the zero-padded window) / (kh·kw)."""
    h_out, w_out = out.shape[2], out.shape[3]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    win = _windows(x_pad, kernel_h, kernel_w, stride_h, stride_w, h_out, w_out)
    out[...] = win.sum(axis=(4, 5)) / (kernel_h * kernel_w)


def pool_avg_backward(grad_output, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, grad_input):
    """Every input of a window receives dy / (kh·kw); overlaps add. Overwrites grad_input."""
    n, c, h, w = grad_input.shape
    h_out, w_out = grad_output.shape[2], grad_output.shape[3]
    g_pad = np.zeros((n, c, h + 2 * pad_h, w + 2 * pad_w), dtype=grad_input.dtype)
    share = grad_output / (kernel_h * kernel_w)
    for i in range(kernel_h):
        for j in range(kernel_w):
            g_pad[:, :, i:i + stride_h * h_out:stride_h, j:j + stride_w * w_out:stride_w] += share
    grad_input[...] = g_pad[:, :, pad_h:pad_h + h, pad_w:pad_w + w]

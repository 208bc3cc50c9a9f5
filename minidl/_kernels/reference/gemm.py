"""NumPy twin of minidl/_kernels/gemm.pyx: the matrix product the layers use.

    out = op(a) · op(b)        op(a) = a.T if trans_a else a (likewise b)
    out += op(a) · op(b)       with accumulate=True
"""
import numpy as np

__all__ = ["gemm"]


def gemm(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """out (M, N) = op(a) (M, K) @ op(b) (K, N), or out += … when ``accumulate``."""
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    if op_a.shape[1] != op_b.shape[0] or out.shape != (op_a.shape[0], op_b.shape[1]):
        raise ValueError(f"gemm kernel: op(a) is {op_a.shape}, op(b) is {op_b.shape}, out is {out.shape}: "
                         f"expected out ({op_a.shape[0]}, {op_b.shape[1]}) and matching inner sizes")
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        raise ValueError("gemm kernel: out overlaps an input")
    if accumulate:
        out += op_a @ op_b
    else:
        np.matmul(op_a, op_b, out=out)

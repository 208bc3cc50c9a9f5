"""Shape-only layers: Identity and Flatten (no arithmetic, so no kernels).

    Identity   y = x                 dx = dy
    Flatten    y = x reshaped so dims start_dim..end_dim become one,
               e.g. (N, C, H, W) -> (N, C·H·W);   dx = dy reshaped back to x's shape.
"""
import numpy as np

from minidl.nn._checks import check_same_shape, require_forward, shape_str
from minidl.nn.module import Module


class Identity(Module):
    """y = x. Accepts and ignores any constructor arguments, like PyTorch's."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output


class Flatten(Module):
    """``Flatten(start_dim=1, end_dim=-1)``: merge dims start_dim..end_dim into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)
        self._input_shape = None

    def _output_shape(self, shape):
        ndim = max(len(shape), 1)       # a 0-d input flattens like a 1-element vector
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not (0 <= start < ndim and 0 <= end < ndim):
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): dims out of range "
                             f"for input of shape {shape_str(shape)}")
        if start > end:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): start_dim comes after "
                             f"end_dim for input of shape {shape_str(shape)}")
        shape = tuple(shape) or (1,)
        return shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]

    def forward(self, x):
        x = np.asarray(x)
        out_shape = self._output_shape(x.shape)
        self._input_shape = x.shape
        return x.reshape(out_shape)

    def backward(self, grad_output):
        require_forward(repr(self), self._input_shape)
        dy = np.asarray(grad_output)
        check_same_shape(repr(self), dy, self._output_shape(self._input_shape))
        return dy.reshape(self._input_shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

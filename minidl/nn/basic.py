"""Shape-only layers: Identity and Flatten (no arithmetic, so no kernels).

    Identity   y = x                 dx = dy
    Flatten    y = x reshaped so dims start_dim..end_dim become one,
               e.g. (N, C, H, W) -> (N, C·H·W);   dx = dy reshaped back to x's shape.
"""
import numpy as np

from minidl.nn._checks import check_same_shape, shape_str
from minidl.nn.module import Module


class Identity(Module):
    """y = x, dL/dx = dL/dy. Accepts and ignores any constructor arguments, like PyTorch's.

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> nn.Identity(54, unused="argument")(np.arange(3))
        array([0, 1, 2])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output


class Flatten(Module):
    """Merges dims start_dim..end_dim into one; backward reshapes dL/dy back to x's shape.

    Args:
        start_dim: first dim to merge. Default: 1 (keep the batch dim).
        end_dim: last dim to merge. Default: −1.

    Shape: (N, C, H, W) → (N, C·H·W) with the defaults.

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> nn.Flatten()(np.zeros((2, 3, 4, 5))).shape
        (2, 60)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def _output_shape(self, shape):
        ndim = max(len(shape), 1)       # a 0-d input flattens like a 1-element vector
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not (0 <= start < ndim and 0 <= end < ndim):
            raise ValueError(f"{self._label()}: dims out of range "
                             f"for input of shape {shape_str(shape)}")
        if start > end:
            raise ValueError(f"{self._label()}: start_dim comes after "
                             f"end_dim for input of shape {shape_str(shape)}")
        shape = tuple(shape) or (1,)
        return shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]

    def forward(self, x):
        x = np.asarray(x)
        out_shape = self._output_shape(x.shape)
        self._save_for_backward(x.shape)
        return x.reshape(out_shape)

    def backward(self, grad_output):
        input_shape, = self._saved_for_backward()
        dy = np.asarray(grad_output)
        check_same_shape(self._label(), dy, self._output_shape(input_shape))
        return dy.reshape(input_shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

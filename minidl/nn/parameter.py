"""Parameter: a trainable array and the gradient that backward passes accumulate into it.

    p.data   ndarray, the values (float32 or float64)
    p.grad   ndarray of the same shape and dtype; zeros until a backward pass writes it.
             Backward passes *accumulate* (+=) into it, as in PyTorch.

``zero_grad()`` is lazy: it only marks the gradient as zero. The next read of ``p.grad``
fills zeros; the next backward pass that owns this parameter *overwrites* the gradient
instead of adding to it (see :meth:`grad_target`), which saves one pass over memory per
parameter per step. What a user observes is exactly the eager semantics.
"""
import numpy as np

from minidl.dtypes import _as_float_dtype, get_default_dtype


class Parameter:
    """A trainable array. ``Parameter(data, dtype=None, requires_grad=True)``.

    ``requires_grad=False`` freezes it: optimizers skip it (its gradient is still computed).
    """

    __slots__ = ("data", "_grad", "_grad_is_stale", "_grad_owner", "requires_grad", "__weakref__")

    def __init__(self, data, dtype=None, requires_grad=True):
        if isinstance(data, Parameter):
            data = data.data
        dtype = _as_float_dtype(dtype if dtype is not None else (
            data.dtype if isinstance(data, np.ndarray) and data.dtype.kind == "f" else get_default_dtype()))
        self.data = np.array(data, dtype=dtype, order="C", copy=True)
        self._grad = np.zeros_like(self.data)
        self._grad_owner = self.data       # the array object _grad was made for
        self._grad_is_stale = False
        self.requires_grad = bool(requires_grad)

    # -- gradient -------------------------------------------------------------------------
    def _grad_matches_data(self) -> bool:
        # Runs for every parameter on every step: the common case (``.data`` is still the
        # array the gradient was made for) is one pointer comparison.
        d = self.data
        if d is self._grad_owner:
            return True
        g = self._grad
        if g.shape == d.shape and g.dtype == d.dtype:
            self._grad_owner = d
            return True
        return False

    @property
    def grad(self) -> np.ndarray:
        if not self._grad_matches_data():
            # .data was replaced by an array of another shape/dtype: start from zero.
            self._grad = np.zeros_like(self.data)
            self._grad_owner = self.data
            self._grad_is_stale = False
        elif self._grad_is_stale:
            self._grad.fill(0)
            self._grad_is_stale = False
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad = np.zeros_like(self.data)
            self._grad_owner = self.data
            self._grad_is_stale = False
            return
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(f"Parameter{self.data.shape}: gradient must have shape {self.data.shape}, got {value.shape}")
        self._grad = np.array(value, dtype=self.data.dtype, order="C", copy=True)
        self._grad_owner = self.data
        self._grad_is_stale = False

    def zero_grad(self) -> None:
        """Mark the gradient as zero (lazily; see the module docstring)."""
        self._grad_is_stale = True

    def grad_target(self):
        """``(grad_array, accumulate)`` for a backward pass that writes this gradient.

        ``accumulate`` is False right after ``zero_grad()``: the caller must then overwrite
        every element of ``grad_array`` (e.g. ``np.matmul(..., out=grad_array)``); otherwise it
        must add into it. Either way the parameter's gradient is up to date afterwards.
        """
        if not self._grad_matches_data():
            self._grad = np.empty_like(self.data)
            self._grad_owner = self.data
            self._grad_is_stale = True
        accumulate = not self._grad_is_stale
        self._grad_is_stale = False
        return self._grad, accumulate

    def accumulate_grad(self, value) -> None:
        """``grad += value`` (or ``grad = value`` right after zero_grad)."""
        grad, accumulate = self.grad_target()
        if accumulate:
            np.add(grad, value, out=grad)
        else:
            np.copyto(grad, value)

    # -- array-like conveniences ----------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is None and not copy:
            return self.data
        return np.array(self.data, dtype=dtype, copy=True)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        flag = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}{flag})"

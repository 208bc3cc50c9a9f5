"""Parameter: a trainable array and the gradient that backward passes accumulate into it.

    p.data   ndarray, the values (float32 or float64)
    p.grad   ndarray of the same shape and dtype; zeros until a backward pass adds to it.
             Backward passes *accumulate* (+=) into it, as in PyTorch.

A layer's backward adds its term dL/dθ with one call, ``p.accumulate_grad(term)``. A kernel
that can add into an array takes the gradient itself, ``p.grad_target()``, and writes or adds
its term there (Linear)::

    kernels.linear_backward(dy, x, W, dx, self.weight.grad_target(), self.bias.grad_target())

Other kernels overwrite an array the layer first asks the parameter for::

    dW = self.weight.grad_buffer()            # an array the kernel overwrites
    kernels.linear_backward(dy, x, W, dx, dW, db)
    self.weight.accumulate_grad(dW)           # grad += dW

``zero_grad()`` is lazy: it only marks the gradient as zero. The next read of ``p.grad``
fills zeros; the next backward pass gets the gradient array itself from ``grad_buffer()``,
so the kernel writes the gradient in place and ``accumulate_grad`` has nothing left to
add — one pass over memory saved per parameter per step (benchmarks/bench_dense.py).
Otherwise ``grad_buffer()`` hands out a scratch array and ``accumulate_grad`` adds it, while
``grad_target()`` says "add" (no scratch, no second pass). What a user observes is exactly
the eager semantics.
"""
import numpy as np

from minidl.dtypes import float_dtype_of


class Parameter:
    """A trainable array: ``Parameter(data, dtype=None, requires_grad=True)``.

    Args:
        data: array-like values, copied (C order).
        dtype: float32 or float64; default: ``data``'s dtype if it is one of them, else
            :func:`minidl.get_default_dtype`.
        requires_grad: ``False`` freezes it: optimizers skip it (its gradient is still
            computed).

    Example::

        >>> import numpy as np
        >>> from minidl.nn import Parameter
        >>> p = Parameter(np.zeros(3))
        >>> p.accumulate_grad(np.array([1.0, 2.0, 3.0]))
        >>> p.accumulate_grad(np.array([1.0, 1.0, 1.0]))
        >>> p.grad
        array([2., 3., 4.])
        >>> p.zero_grad(); p.grad
        array([0., 0., 0.])
    """

    __slots__ = ("data", "_grad", "_grad_is_stale", "_grad_owner", "_scratch", "_lent", "requires_grad",
                 "__weakref__")

    def __init__(self, data, dtype=None, requires_grad=True):
        if isinstance(data, Parameter):
            data = data.data
        self.data = np.array(data, dtype=float_dtype_of(data, dtype), order="C", copy=True)
        self._grad = np.zeros(self.data.shape, self.data.dtype)
        self._grad_owner = self.data       # the array object _grad was made for
        self._grad_is_stale = False        # True after zero_grad(): _grad's contents are garbage
        self._scratch = None               # grad_buffer()'s array when the gradient is not stale
        self._lent = False                 # a grad_buffer() is out, not yet accumulated
        self.requires_grad = bool(requires_grad)

    # -- gradient -------------------------------------------------------------------------
    def _refit_grad(self) -> None:
        """``.data`` was replaced: keep the gradient if it still fits, else start from zero."""
        d, g = self.data, self._grad
        if g.shape != d.shape or g.dtype != d.dtype:
            self._grad = np.empty(d.shape, d.dtype)
            self._grad_is_stale = True
            self._scratch = None
        self._grad_owner = d

    # The three methods below run for every parameter at every step: the common case
    # (``.data`` is still the array the gradient was made for) is one identity comparison.
    @property
    def grad(self) -> np.ndarray:
        if self.data is not self._grad_owner:
            self._refit_grad()
        if self._grad_is_stale:
            self._grad.fill(0)
            self._grad_is_stale = False
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad_owner = None        # re-made on the next use, marked zero
            self._grad_is_stale = True
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
        self._lent = False

    def grad_buffer(self, dtype=None) -> np.ndarray:
        """A C-contiguous array shaped like ``data`` for a kernel to *overwrite* with a
        gradient term; pass it to :meth:`accumulate_grad` afterwards.

        Right after ``zero_grad()`` this is the gradient itself (no copy, no addition);
        otherwise a scratch array the parameter owns. A layer computing in another
        ``dtype`` than ``data``'s (a user assigned float32 values to a float64 layer) gets
        a fresh array of that dtype.
        """
        if self._lent:
            raise RuntimeError(f"{self!r}: a second gradient buffer was asked for before the first was "
                               "accumulated: two backward passes are writing this gradient at once (one "
                               "model used from two threads?), or an earlier backward failed half-way "
                               "(call zero_grad())")
        if self.data is not self._grad_owner:
            self._refit_grad()
        self._lent = True
        if dtype is not None and dtype != self._grad.dtype:
            return np.empty(self.data.shape, dtype)
        if self._grad_is_stale:
            return self._grad
        if self._scratch is None:
            self._scratch = np.empty(self.data.shape, self.data.dtype)
        return self._scratch

    def grad_target(self):
        """``(gradient, add)`` for a kernel that writes its term dL/dθ straight into the
        gradient: it *overwrites* the array when ``add`` is False (right after ``zero_grad()``
        the term is the whole gradient) and adds to it otherwise. The gradient counts as
        written from this call on (the layer has validated the kernel's arguments before)."""
        if self.data is not self._grad_owner:
            self._refit_grad()
        add = not self._grad_is_stale
        self._grad_is_stale = False
        return self._grad, add

    def accumulate_grad(self, term) -> None:
        """``grad += term``: how a backward pass adds its gradient term dL/dθ.

        ``term`` has ``data``'s shape (it is converted to ``data``'s dtype). If it is the
        array :meth:`grad_buffer` handed out right after ``zero_grad()``, it already is the
        gradient and nothing is copied.
        """
        self._lent = False
        grad = self._grad
        if term is grad and self.data is self._grad_owner:       # the common case: nothing to add
            self._grad_is_stale = False
            return
        if self.data is not self._grad_owner:
            self._refit_grad()
            grad = self._grad
        if np.shape(term) != grad.shape:
            raise ValueError(f"Parameter{grad.shape}: gradient term must have shape {grad.shape}, "
                             f"got {np.shape(term)}")
        if self._grad_is_stale:
            np.copyto(grad, term, casting="unsafe")
            self._grad_is_stale = False
        else:
            np.add(grad, term, out=grad, casting="unsafe")

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

"""RNN: a single-layer Elman recurrent network, batch first, with backpropagation through time.

Seed 002 (正交初始化: orthogonal recurrent weights keep gradients alive over many steps);
tutorial 09.
"""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, shape_str
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.random import resolve_rng


class RNN(Module):
    r"""Elman RNN, one layer, batch first: h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh).

    φ is tanh or relu, t = 1..T. ``forward(x, h0=None)`` takes x (N, T, input_size) and the
    initial state h0 (N, hidden_size) or (1, N, hidden_size), zeros when omitted, and returns
    every hidden state (N, T, hidden_size); ``self.h_n`` keeps the last one (N, hidden_size).

    Backward (BPTT) walks time backwards. With dH_t = dL/dh_t from the output and the
    gradient flowing back from step t+1::

        a_t   = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh,   h_t = φ(a_t)
        dh_t  = dH_t + da_{t+1} W_hh,         da_t = dh_t ⊙ φ'(a_t)
                (tanh: φ' = 1 − h_t²;  relu: φ' = [h_t > 0])
        dW_ih = Σ_t da_tᵀ x_t,   dW_hh = Σ_t da_tᵀ h_{t−1},   db_ih = db_hh = Σ_t Σ_n da_t
        dx_t  = da_t W_ih,       dL/dh0 = da_1 W_hh   (kept in ``self.grad_h0``)

    The repeated product of W_hhᵀ diag(φ') is why gradients vanish or explode over many
    steps unless W_hh's singular values stay near 1 (orthogonal init).

    Args:
        input_size: the size of each x_t.
        hidden_size: the size of each h_t.
        nonlinearity: ``"tanh"`` or ``"relu"``. Default: ``"tanh"``.
        bias: learn b_ih and b_hh. Default: True.
        dtype: float32 or float64. Default: :func:`minidl.get_default_dtype`.
        rng: ``numpy.random.Generator`` for the initial values. Default: minidl's global one.

    Shape:
        - Input: x (N, T, input_size), h0 (N, hidden_size) or (1, N, hidden_size); other
          float or int dtypes are converted to the layer's.
        - Output: (N, T, hidden_size); ``h_n`` and ``grad_h0``: (N, hidden_size).

    Attributes:
        weight_ih_l0: Parameter (hidden_size, input_size), initialised from U(−k, k) with
            k = 1/√hidden_size (PyTorch's names and default).
        weight_hh_l0: Parameter (hidden_size, hidden_size), from U(−k, k).
        bias_ih_l0: Parameter (hidden_size,), from U(−k, k) (None with ``bias=False``).
        bias_hh_l0: Parameter (hidden_size,), from U(−k, k) (None with ``bias=False``).

    Tutorial: 09_orthogonal_and_pretrained. Kernels: ``rnn_forward`` / ``rnn_backward``, one
    call each for the whole sequence (minidl/_kernels/rnn.pyx, NumPy twin reference/rnn.py:
    the loops over time above, written out).

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> rnn = nn.RNN(input_size=2, hidden_size=3, rng=np.random.default_rng(0))
        >>> h = rnn(np.zeros((4, 5, 2)))
        >>> h.shape, bool(np.array_equal(rnn.h_n, h[:, -1]))
        ((4, 5, 3), True)
    """

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", bias=True, dtype=None, rng=None):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"RNN: sizes must be positive, got input_size={input_size}, hidden_size={hidden_size}")
        self.input_size, self.hidden_size, self.nonlinearity = int(input_size), int(hidden_size), nonlinearity
        dtype = float_dtype_of(dtype=dtype)
        rng = resolve_rng(rng)
        bound = 1.0 / math.sqrt(hidden_size)
        shapes = [("weight_ih_l0", (hidden_size, input_size)), ("weight_hh_l0", (hidden_size, hidden_size))]
        if bias:
            shapes += [("bias_ih_l0", (hidden_size,)), ("bias_hh_l0", (hidden_size,))]
        for name, shape in shapes:   # PyTorch's order of draws
            setattr(self, name, Parameter(rng.uniform(-bound, bound, shape), dtype=dtype))
        if not bias:
            self.register_parameter("bias_ih_l0", None)
            self.register_parameter("bias_hh_l0", None)
        self.h_n = self.grad_h0 = None

    def _label(self):
        return f"RNN({self.input_size}→{self.hidden_size})"

    def forward(self, x, h0=None):
        dtype = self.weight_ih_l0.data.dtype
        x = as_array(self._label(), x, dtype)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"{self._label()} expected input (N, T, {self.input_size}), got {shape_str(x.shape)}")
        n, steps, _ = x.shape
        if h0 is not None:
            h0 = as_array(self._label(), h0, dtype, "h0")
            if h0.shape not in ((n, self.hidden_size), (1, n, self.hidden_size)):
                raise ValueError(f"{self._label()} expected h0 (N, {self.hidden_size}) = ({n}, {self.hidden_size}), "
                                 f"got {shape_str(h0.shape)}")
            h0 = np.ascontiguousarray(h0.reshape(n, self.hidden_size))
        bias = None if self.bias_ih_l0 is None else self.bias_ih_l0.data + self.bias_hh_l0.data
        hs = np.empty((n, steps, self.hidden_size), dtype)     # hs[:, t−1] = h_t
        kernels.rnn_forward(x, self.weight_ih_l0.data, self.weight_hh_l0.data, bias, h0, hs,
                            self.nonlinearity == "relu")       # h_t = φ(x_t W_ihᵀ + h_{t−1} W_hhᵀ + b)
        self._save_for_backward(x, h0, hs)
        if steps:
            self.h_n = hs[:, -1].copy()
        else:
            self.h_n = np.zeros((n, self.hidden_size), dtype) if h0 is None else h0.copy()
        return hs.copy()        # the caller may change its output; backward needs the saved one

    def backward(self, grad_output):
        x, h0, hs = self._saved_for_backward()
        g = as_array(self._label(), grad_output, hs.dtype, "grad_output")
        check_same_shape(self._label(), g, hs.shape)
        dx = np.empty(x.shape, x.dtype) if self.input_grad else None     # None: not computed
        d_w_ih, d_w_hh = self.weight_ih_l0.grad_buffer(hs.dtype), self.weight_hh_l0.grad_buffer(hs.dtype)
        db = None if self.bias_ih_l0 is None else np.empty(self.hidden_size, hs.dtype)
        self.grad_h0 = np.empty((x.shape[0], self.hidden_size), hs.dtype)
        # BPTT: da_t = (dH_t + da_{t+1} W_hh) ⊙ φ'(h_t); dW_ih = Σ da_tᵀ x_t, dW_hh = Σ da_tᵀ h_{t−1},
        # db = Σ da_t, dx_t = da_t W_ih, dh0 = da_1 W_hh
        kernels.rnn_backward(g, x, self.weight_ih_l0.data, self.weight_hh_l0.data, h0, hs, dx, d_w_ih, d_w_hh,
                             db, self.grad_h0, self.nonlinearity == "relu")
        self.weight_ih_l0.accumulate_grad(d_w_ih)
        self.weight_hh_l0.accumulate_grad(d_w_hh)
        if db is not None:
            self.bias_ih_l0.accumulate_grad(db)
            self.bias_hh_l0.accumulate_grad(db)
        return dx

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text + ("" if self.bias_ih_l0 is not None else ", bias=False")

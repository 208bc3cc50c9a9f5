"""Residual(module): the skip connection of ResNets and Transformers.

Seed 002 (梯度消失和梯度爆炸, Transformer中的优化方案); tutorials 11 and 12.
"""
import numpy as np

from minidl.nn._checks import shape_str
from minidl.nn.module import Module


class Residual(Module):
    r"""y = x + F(x) for a wrapped module F whose output has the shape of its input.

    Backward adds the identity path to the path through F::

        dL/dx = dL/dy + F.backward(dL/dy)          (dy/dx = I + ∂F/∂x)

    so even when ∂F/∂x is tiny (a saturated or badly initialised block) the gradient
    reaching earlier layers is at least dL/dy: this is why deep residual stacks train.
    The wrapped module is registered as the child ``module`` (parameters "module.weight"...).
    Tutorials: 11_vanishing_exploding_gradients, 12_transformer_stability.

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> block = nn.Residual(nn.Linear(2, 2, dtype=np.float64))
        >>> block.module.weight.data[...] = 0.0; block.module.bias.data[...] = 0.0
        >>> block(np.array([[1.0, 2.0]]))                 # F(x) = 0: y = x
        array([[1., 2.]])
        >>> block.backward(np.ones((1, 2)))               # dL/dx = dL/dy + F's (zero) path
        array([[1., 1.]])
    """

    def __init__(self, module):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"Residual expects a minidl Module, got {type(module).__name__}")
        self.module = module

    def _label(self):
        return f"Residual({type(self.module).__name__})"

    def forward(self, x):
        fx = self.module(x)
        x = np.asarray(x.data if hasattr(x, "data") and not isinstance(x, np.ndarray) else x)
        if fx.shape != x.shape:
            raise ValueError(f"{self._label()}: the wrapped module maps input "
                             f"{shape_str(x.shape)} to {shape_str(fx.shape)}; a residual connection needs "
                             "the same shape")
        self._save_for_backward()          # nothing to keep: marks that a forward came first
        return np.add(fx, x, dtype=fx.dtype)

    def backward(self, grad_output):
        self._saved_for_backward()
        grad_output = np.asarray(grad_output)
        dx = self.module.backward(grad_output)
        return np.add(dx, grad_output, dtype=np.asarray(dx).dtype)

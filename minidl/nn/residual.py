"""Residual(module): the skip connection of ResNets and Transformers.

Seed 002 (梯度消失和梯度爆炸, Transformer中的优化方案); tutorials 11 and 12.
"""
import numpy as np

from minidl.nn._checks import require_forward, shape_str
from minidl.nn.module import Module


class Residual(Module):
    r"""y = x + F(x) for a wrapped module F whose output has the shape of its input.

    Backward adds the identity path to the path through F:

        dL/dx = dL/dy + F.backward(dL/dy)          (dy/dx = I + ∂F/∂x)

    so even when ∂F/∂x is tiny (a saturated or badly initialised block) the gradient
    reaching earlier layers is at least dL/dy: this is why deep residual stacks train.
    The wrapped module is registered as the child ``module`` (parameters "module.weight"...).
    """

    def __init__(self, module):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"Residual expects a minidl Module, got {type(module).__name__}")
        self.module = module
        self._shape = None

    def forward(self, x):
        fx = self.module(x)
        x = np.asarray(x.data if hasattr(x, "data") and not isinstance(x, np.ndarray) else x)
        if fx.shape != x.shape:
            raise ValueError(f"Residual({type(self.module).__name__}): the wrapped module maps input "
                             f"{shape_str(x.shape)} to {shape_str(fx.shape)}; a residual connection needs "
                             "the same shape")
        self._shape = fx.shape
        return np.add(fx, x, dtype=fx.dtype)

    def backward(self, grad_output):
        require_forward("Residual", self._shape)
        grad_output = np.asarray(grad_output)
        dx = self.module.backward(grad_output)
        return np.add(dx, grad_output, dtype=np.asarray(dx).dtype)

"""Sequential: a chain of modules; forward runs them in order, backward in reverse.

    y = f_L(... f_2(f_1(x)))          forward
    dL/dx = f_1'ᵀ(... f_L'ᵀ(dL/dy))    backward: each module maps dL/d(out) to dL/d(in)
"""
from collections import OrderedDict

from minidl.nn.module import Module


class Sequential(Module):
    """``Sequential(m0, m1, ...)`` or ``Sequential(OrderedDict(name=module, ...))``.

    Children are named "0", "1", ... so parameter names are "0.weight", "0.bias", as in PyTorch.

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> [name for name, _ in model.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
        >>> y = model(np.ones((5, 4)))
        >>> model.zero_grad()
        >>> model.backward(np.ones((5, 2))).shape     # dL/dx, through 2, 1, 0 in reverse
        (5, 4)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self._check(m, name)
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self._check(m, i)
                self.add_module(str(i), m)

    @staticmethod
    def _check(m, where):
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: element {where} is a {type(m).__name__}, not a Module")

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, grad_output, input_grad=None):
        """dL/dx through every child in reverse. ``input_grad=False`` (default: this module's
        ``input_grad`` attribute, True) skips the first child's dL/dx and returns None."""
        if input_grad is None:
            input_grad = self.input_grad
        modules = list(self._modules.values())
        g = grad_output
        for m in reversed(modules[1:]):
            g = m.backward(g)
        if not modules:
            return g
        if input_grad:
            return modules[0].backward(g)
        _backward_without_input_grad(modules[0], g)
        return None

    def append(self, module):
        self._check(module, len(self))
        self.add_module(str(len(self)), module)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*mods[idx])
        if not -len(mods) <= idx < len(mods):
            raise IndexError(f"Sequential index {idx} out of range for {len(mods)} modules")
        return mods[idx]


def _backward_without_input_grad(module, grad_output):
    """``module.backward(grad_output)`` with ``module.input_grad`` False for this one call."""
    if isinstance(module, Sequential):
        module.backward(grad_output, input_grad=False)
        return
    before = module.__dict__.get("input_grad")
    module.__dict__["input_grad"] = False
    try:
        module.backward(grad_output)
    finally:
        if before is None:
            del module.__dict__["input_grad"]
        else:
            module.__dict__["input_grad"] = before

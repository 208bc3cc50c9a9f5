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

    def backward(self, grad_output):
        g = grad_output
        for m in reversed(self._modules.values()):
            g = m.backward(g)
        return g

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

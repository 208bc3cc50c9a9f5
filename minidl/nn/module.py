"""Module: the base class of every layer, loss and model.

A module owns Parameters (trainable), buffers (arrays saved in the state_dict but not
trained, e.g. BatchNorm's running_mean) and child modules, registered by plain attribute
assignment as in PyTorch::

    class TwoLayer(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(784, 128)     # child module, named "fc1"
            self.act = ReLU()
            self.fc2 = Linear(128, 10)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

        def backward(self, grad_output):    # the chain rule, written out
            g = self.fc2.backward(grad_output)
            g = self.act.backward(g)
            return self.fc1.backward(g)

``forward(x)`` computes the output and keeps what ``backward`` needs
(``self._save_for_backward(x, ...)``). ``backward(dL/dy)`` takes it back
(``x, ... = self._saved_for_backward()``), returns ``dL/dx`` and *accumulates* ``dL/dθ``
into every parameter's ``.grad`` (``self.weight.accumulate_grad(dW)``).

Skipping dL/dx: nobody needs the gradient of the data, and for the first layer it is about
a third of that layer's backward. ``model.input_grad = False`` (or, for a Sequential,
``model.backward(g, input_grad=False)``) says so: layers that can skip it (Linear, Conv2d,
RNN, MultiHeadAttention, a Sequential's first child) then return None from ``backward``; others
ignore the flag. This is PyTorch's default (inputs do not require grad); ``minidl.train.fit``
uses it, gradcheck and the grader keep the default True.

One forward, one backward: what forward saved is used once, as in PyTorch. A second
``backward`` raises a RuntimeError that names the layer, and so does a ``backward`` in
another thread than its ``forward`` or after another thread's ``forward`` — the way
minidl *detects* (it does not make safe) one model trained from two threads at once.
"""
from collections import OrderedDict, namedtuple
from threading import get_ident

import numpy as np

from minidl.dtypes import as_float_dtype
from minidl.nn.parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
_USED = (0, None)     # _saved once backward has taken it (no thread has ident 0)


class Module:
    """Base class for all layers. Subclasses implement ``forward`` and ``backward``."""

    input_grad = True      # False: backward may skip dL/dx and return None (module docstring)

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_saved", None)
        object.__setattr__(self, "training", True)

    # -- registration ---------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called; "
                f"call super().__init__() first in {type(self).__name__}.__init__"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            self.__dict__.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__}; assign a Parameter, or set .data"
                )
            params[name] = None
        elif name in buffers:
            buffers[name] = None if value is None else np.asarray(value)
        elif name in modules and value is None:
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            reg = d.get(registry)
            if reg is not None and name in reg:
                return reg[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter expects a Parameter or None, got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name, array, persistent=True):
        """Register a non-trainable array kept in the state_dict (if ``persistent``)."""
        self._buffers[name] = None if array is None else np.asarray(array)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module expects a Module, got {type(module).__name__}")
        self._modules[str(name)] = module

    # -- forward / backward ---------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _label(self) -> str:
        """How error messages name this layer, e.g. ``Linear(784→256)``."""
        return f"{type(self).__name__}({self.extra_repr()})"

    # -- what forward keeps for backward ----------------------------------------------------
    # A plain instance attribute, written through __dict__: these run at every call, and
    # Module.__setattr__'s registry checks are for parameters and children.
    def _save_for_backward(self, *values) -> None:
        """Keep ``values`` for the next ``backward`` (used once), tagged with this thread."""
        self.__dict__["_saved"] = (get_ident(), values)

    def _saved_for_backward(self) -> tuple:
        """What forward saved; a RuntimeError naming the layer unless one forward in this
        thread came before and no backward has used it yet."""
        state = self.__dict__
        saved = state["_saved"]
        if saved is None or saved[0] != get_ident():
            self._saved_error(saved)
        state["_saved"] = _USED
        return saved[1]

    def _saved_error(self, saved):
        label = self._label()
        if saved is None:
            raise RuntimeError(f"{label}: backward() called before forward()")
        if saved[0] == 0:
            raise RuntimeError(f"{label}: backward() called twice after one forward(); call forward() "
                               "again before each backward()")
        raise RuntimeError(f"{label}: backward() in another thread than the forward() it belongs to: one "
                           "model cannot be used from two threads at once (give each thread its own "
                           "copy, e.g. copy.deepcopy(model))")

    # -- traversal ------------------------------------------------------------------------
    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        for mod_prefix, module in (self.named_modules(prefix=prefix) if recurse else [(prefix, self)]):
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        for mod_prefix, module in (self.named_modules(prefix=prefix) if recurse else [(prefix, self)]):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix="", _seen=None):
        _seen = set() if _seen is None else _seen
        if id(self) in _seen:
            return
        _seen.add(id(self))
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(prefix=f"{prefix}.{name}" if prefix else name, _seen=_seen)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def apply(self, fn):
        """Call ``fn(module)`` on every child (recursively), then on self. Returns self.

        The idiom for initialising a whole model by looping over its modules::

            def init_weights(m):
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
            model.apply(init_weights)
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- training state -------------------------------------------------------------------
    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) expects a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, dtype):
        """Cast every parameter (and its gradient) and floating buffer to ``dtype`` in place."""
        dtype = as_float_dtype(dtype)
        for p in self.parameters():
            if p.data.dtype != dtype:
                grad = p.grad
                p.data = p.data.astype(dtype)
                p.grad = grad
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f" and b.dtype != dtype:
                    m._buffers[name] = b.astype(dtype)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # -- state dict -----------------------------------------------------------------------
    def state_dict(self):
        """An OrderedDict of name -> ndarray (copies) for every parameter and persistent buffer.

        Keys match PyTorch's for the same architecture ("0.weight", "1.running_mean", ...).
        Unlike PyTorch the arrays are copies, so a saved "best" state does not change when
        training continues.
        """
        out = OrderedDict()
        for prefix, module in self.named_modules():
            skip = module.__dict__.get("_non_persistent", set())
            for name, p in module._parameters.items():
                if p is not None:
                    out[f"{prefix}.{name}" if prefix else name] = p.data.copy()
            for name, b in module._buffers.items():
                if b is not None and name not in skip:
                    out[f"{prefix}.{name}" if prefix else name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        Shapes must match exactly; values are cast to the existing dtype. With ``strict``
        missing or unexpected keys raise a KeyError listing them; otherwise they are returned
        as ``(missing_keys, unexpected_keys)``. All or nothing: every value is checked and
        converted before the first one is written, so an error leaves the module unchanged.
        """
        targets = OrderedDict()
        for prefix, module in self.named_modules():
            skip = module.__dict__.get("_non_persistent", set())
            for name, p in module._parameters.items():
                if p is not None:
                    targets[f"{prefix}.{name}" if prefix else name] = (module, name, "param")
            for name, b in module._buffers.items():
                if b is not None and name not in skip:
                    targets[f"{prefix}.{name}" if prefix else name] = (module, name, "buffer")
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict into {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        errors, converted = [], []
        for key, (module, name, kind) in targets.items():
            if key not in state_dict:
                continue
            current = module._parameters[name].data if kind == "param" else module._buffers[name]
            try:
                value = np.asarray(state_dict[key])
                if value.shape != current.shape:
                    errors.append(f"{key}: expected shape {current.shape}, got {value.shape}")
                    continue
                if value.dtype.kind not in "biuf":
                    raise TypeError(f"dtype {value.dtype}")
                converted.append((module, name, kind, np.array(value, dtype=current.dtype, copy=True)))
            except (TypeError, ValueError) as exc:
                errors.append(f"{key}: expected a real-valued array of {current.dtype}, got {exc}")
        if errors:
            raise ValueError(f"load_state_dict into {type(self).__name__} (nothing was changed): "
                             + "; ".join(errors))
        for module, name, kind, value in converted:      # no step below can fail
            if kind == "param":
                np.copyto(module._parameters[name].data, value)
            else:
                module._buffers[name] = value
        return IncompatibleKeys(missing, unexpected)

    # -- repr -----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        for name, m in self.named_children():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

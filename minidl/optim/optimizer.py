"""Optimizer: the base class of SGD, Adam, AdamW, RMSProp, Adagrad and Rprop.
Tutorials: 01_learning_rate, 02_lr_schedules, 16_weight_decay.

An optimizer holds *parameter groups* — lists of Parameters sharing hyperparameters — and
per-parameter *state* (momentum buffers, moment estimates, ...). One ``step()`` applies the
update rule to every trainable parameter, using the gradient a backward pass left in
``p.grad``::

    optimizer = SGD(model.parameters(), learning_rate=0.1, momentum=0.9)
    optimizer = SGD([{"params": body.parameters()},                 # PyTorch-style groups
                     {"params": head.parameters(), "learning_rate": 0.01}],
                    learning_rate=0.1, momentum=0.9)

    optimizer.zero_grad()          # (alias clear_grad(), the PaddlePaddle name)
    model.backward(criterion.backward())
    optimizer.step()

``learning_rate`` is a number or any callable returning the current rate (the schedulers of
``minidl.optim.lr`` are: ``scheduler()``); it is read once per group at every ``step()``.

Parameters with ``requires_grad=False`` are skipped. State is created at a parameter's
first update. Unlike PyTorch, where a parameter whose ``.grad`` is ``None`` is skipped,
minidl gradients are zeros until written, so every trainable parameter is updated at every
step (weight decay still shrinks a parameter that received no gradient).

``state_dict()`` is PyTorch's layout, made of plain dicts, lists, numbers and ndarray copies
so it can be saved::

    {"state": {0: {"momentum_buffer": ndarray}, ...},          # index -> that parameter's state
     "param_groups": [{"learning_rate": 0.1, "momentum": 0.9, ..., "params": [0, 1, 2]}]}

Loading it into a fresh optimizer over the same parameters and continuing gives exactly the
parameters the uninterrupted run gives. A scheduler is not part of it (save the scheduler's
own state): the group keeps the rate it had when saved only if its learning_rate was a number.

Subclasses define ``defaults`` (keyword → value), ``_check_group(group)`` and
``_update_group(group, learning_rate, entries)`` where ``entries`` yields
``(data, grad, state)`` for every trainable parameter (see ``_entries``).
"""
import numbers

import numpy as np

from minidl.nn.parameter import Parameter

_ALIASES = {"lr": "learning_rate"}


class Optimizer:
    """Base class. ``Optimizer(params, defaults)`` with ``params`` an iterable of Parameters
    or of dicts ``{"params": [...], <option>: value}`` (PyTorch's parameter groups)."""

    _scalar_state = ("step",)    # state entries that are numbers; all others are arrays

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}            # Parameter -> dict of that parameter's state
        self._slots = []           # per group: list of [param, data, state] (the hot-loop cache)
        if isinstance(params, (Parameter, np.ndarray, dict)) or hasattr(params, "named_parameters"):
            hint = " (pass model.parameters())" if hasattr(params, "named_parameters") else ""
            raise TypeError(f"{self._name}: params must be an iterable of Parameters or of "
                            f"parameter-group dicts, got {type(params).__name__}{hint}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    # -- groups and hyperparameters -------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a dict ``{"params": [...], option: value, ...}``; missing options take the
        optimizer's defaults. ``"lr"`` is accepted as an alias of ``"learning_rate"``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got {type(param_group).__name__}")
        group = {_ALIASES.get(k, k): v for k, v in param_group.items()}
        if "params" not in group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{self._name}: expected Parameters, got {type(p).__name__}")
            if not p.data.flags.c_contiguous:
                raise ValueError(f"{self._name}: parameter {p} is not C-contiguous")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{self._name}: a parameter group lists the same parameter twice")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{self._name}: some parameters appear in more than one parameter group")
        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(f"{self._name}: unknown option(s) {unknown} in a parameter group; "
                             f"valid options are {sorted(self.defaults)}")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        group["params"] = params
        self._check_learning_rate(group["learning_rate"])
        self._validate(group)
        self.param_groups.append(group)
        self._slots.append(None)

    def _check_learning_rate(self, learning_rate):
        if callable(learning_rate):
            return
        if not isinstance(learning_rate, numbers.Real) or isinstance(learning_rate, bool):
            raise TypeError(f"{self._name}: learning_rate must be a number or a scheduler "
                            f"(a callable returning the rate), got {type(learning_rate).__name__}")
        if not learning_rate >= 0:
            raise ValueError(f"{self._name}: invalid learning_rate {learning_rate} (must be >= 0)")

    def _require(self, condition, message):
        """Raise ``ValueError("<Optimizer>: message")`` unless ``condition``."""
        if not condition:
            raise ValueError(f"{self._name}: {message}")

    def _check_group(self, group):
        """Validate a group's hyperparameters (subclasses; use ``self._require``)."""

    def _validate(self, group):
        try:
            self._check_group(group)
        except TypeError as exc:     # e.g. momentum="0.9": comparing str with int
            raise TypeError(f"{self._name}: hyperparameters must be numbers ({exc})") from None

    def _current_lr(self, group):
        """The group's rate now: the number, or the scheduler's current value."""
        learning_rate = group["learning_rate"]
        if callable(learning_rate):
            learning_rate = learning_rate()
            if not learning_rate >= 0:
                raise ValueError(f"{self._name}: the learning-rate scheduler returned {learning_rate}")
        # a Python float: a NumPy float64 scalar would promote float32 arithmetic to float64
        return float(learning_rate)

    def get_lr(self):
        """The learning rate the next ``step()`` uses (of the first group)."""
        return self._current_lr(self.param_groups[0])

    def set_lr(self, value):
        """Set a constant rate for every group (PaddlePaddle's ``set_lr``). Not allowed while
        a scheduler drives the rate: step the scheduler instead."""
        if any(callable(g["learning_rate"]) for g in self.param_groups):
            raise RuntimeError(f"{self._name}.set_lr: the learning rate is a scheduler; "
                               "change it through the scheduler")
        self._check_learning_rate(value)
        for group in self.param_groups:
            group["learning_rate"] = float(value)

    # -- the update -----------------------------------------------------------------------
    def step(self):
        """Apply one update to every trainable parameter, from its current ``.grad``."""
        for index, group in enumerate(self.param_groups):
            self._update_group(group, self._current_lr(group), self._entries(index))

    def _update_group(self, group, learning_rate, entries):
        raise NotImplementedError(f"{self._name} does not implement _update_group()")

    def _init_state(self, data, group):
        """A new state dict for a parameter with values ``data`` (subclasses)."""
        return {}

    def _entries(self, index):
        """Yield ``(data, grad, state)`` for every trainable parameter of group ``index``.

        Kept cheap because it runs for every parameter at every step: the
        ``[param, data, state]`` list is cached, and a replaced ``param.data`` (e.g. after
        ``model.to(np.float64)``) is noticed by identity, which also guarantees that the
        gradient array still matches ``data`` — so the array is read directly instead of
        through the validating ``param.grad`` property (~0.4 µs) unless it is lazily zeroed.
        """
        slots = self._slots[index]
        if slots is None:
            slots = self._slots[index] = [[p, None, None] for p in self.param_groups[index]["params"]]
        for slot in slots:
            param, data, state = slot
            if not param.requires_grad:
                continue
            if param.data is not data or state is None:
                data, state = self._prepare(slot, index)
            yield data, param.grad, state

    def _prepare(self, slot, index):
        """(Re)build a slot: create the state, or follow a replaced ``param.data``."""
        param = slot[0]
        data = param.data
        if not data.flags.c_contiguous:
            raise ValueError(f"{self._name}: parameter {param} is not C-contiguous")
        param.grad              # re-validates the gradient array against data
        state = self.state.get(param)
        if state is None:
            state = self.state[param] = self._init_state(data, self.param_groups[index])
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                if value.shape != data.shape:
                    raise ValueError(f"{self._name}: a parameter changed shape from {value.shape} "
                                     f"to {data.shape}; create a new optimizer")
                if value.dtype != data.dtype:
                    state[key] = value.astype(data.dtype)
        slot[1], slot[2] = data, state
        return data, state

    def zero_grad(self):
        """Set the gradient of every parameter to zero (lazily, see Parameter)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad()

    clear_grad = zero_grad

    # -- saving and resuming --------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {name: ndarray copy or number}}, "param_groups": [...]}``."""
        index_of, groups, next_index = {}, [], 0
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["learning_rate"] = self._current_lr(group)
            saved["params"] = list(range(next_index, next_index + len(group["params"])))
            for p in group["params"]:
                index_of[id(p)] = next_index
                next_index += 1
            groups.append(saved)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):      # skip parameters without state (plain SGD)
                    state[index_of[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                              for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by ``state_dict()`` (arrays are copied
        and cast to each parameter's dtype). The groups must have the same sizes. All or
        nothing: an error leaves the optimizer unchanged."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError(
                f"{self._name}.load_state_dict: the saved groups have sizes "
                f"{[len(s['params']) for s in saved_groups]}, this optimizer's have "
                f"{[len(g['params']) for g in self.param_groups]}")
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        new_state = {}
        for saved, group in zip(saved_groups, self.param_groups):
            for index, p in zip(saved["params"], group["params"]):
                entry = saved_state.get(int(index))
                if entry is None:
                    continue
                restored = {}
                for key, value in entry.items():
                    if key in self._scalar_state:
                        restored[key] = value.item() if isinstance(value, (np.generic, np.ndarray)) else value
                        continue
                    value = np.asarray(value)
                    if value.shape != p.data.shape:
                        raise ValueError(f"{self._name}.load_state_dict: state {key!r} of parameter "
                                         f"{index} has shape {value.shape}, the parameter {p.data.shape}")
                    restored[key] = np.array(value, dtype=p.data.dtype, order="C", copy=True)
                new_state[p] = restored
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            group = dict(group)
            for key, value in saved.items():
                key = _ALIASES.get(key, key)
                if key == "params" or key not in self.defaults:
                    continue
                if key == "learning_rate" and callable(group["learning_rate"]):
                    continue    # the scheduler restores its own state
                group[key] = value.item() if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0 \
                    else value
            self._validate(group)
            new_groups.append(group)
        # Everything is checked: only now is the optimizer changed (all or nothing).
        for group, new_group in zip(self.param_groups, new_groups):
            group.update(new_group)
        self.state = new_state
        self._slots = [None] * len(self.param_groups)

    # -- repr -----------------------------------------------------------------------------
    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

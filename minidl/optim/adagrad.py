"""Adagrad. The formulas are in the class docstring."""
import numpy as np

from minidl._kernels import kernels
from minidl.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    r"""Adagrad — PyTorch's ``torch.optim.Adagrad`` (lr_decay 0; use a scheduler for decay).

    For each parameter θ (η learning rate, λ weight_decay, G₀ = initial_accumulator_value)::

        g = ∇ + λ·θ
        G ← G + g²                       every squared gradient so far, per coordinate
        θ ← θ − η·g / (√G + ε)

    Rarely-updated coordinates keep a large effective rate η/√G; G only grows, so the rate
    only shrinks — which is why Adagrad can stall on long runs (RMSProp forgets, Adagrad
    does not).

    Args:
        params: an iterable of Parameters, or of parameter-group dicts (see Optimizer).
        learning_rate: η ≥ 0. Default: 0.01.
        epsilon: ε > 0. Default: 1e-10.
        initial_accumulator_value: G₀ ≥ 0. Default: 0.
        weight_decay: λ ≥ 0. Default: 0.

    State per parameter: ``step``, ``sum`` G. Kernel: ``adagrad_update`` (one fused pass).

    The rate only shrinks: the same gradient twice moves θ by η, then by η/√2::

        >>> import numpy as np
        >>> from minidl import nn, optim
        >>> theta = nn.Parameter(np.array([1.0]))
        >>> optimizer = optim.Adagrad([theta], learning_rate=0.1)
        >>> for _ in range(2):
        ...     optimizer.zero_grad()
        ...     theta.accumulate_grad(np.array([3.0]))
        ...     optimizer.step()
        >>> theta.data.round(4)                                # 1 − 0.1 − 0.1/√2
        array([0.8293])
    """

    def __init__(self, params, learning_rate=0.01, epsilon=1e-10, initial_accumulator_value=0.0,
                 weight_decay=0.0):
        super().__init__(params, dict(learning_rate=learning_rate, epsilon=epsilon,
                                      initial_accumulator_value=initial_accumulator_value,
                                      weight_decay=weight_decay))

    def _check_group(self, group):
        self._require(group["epsilon"] > 0, f"invalid epsilon {group['epsilon']} (must be > 0)")
        self._require(group["initial_accumulator_value"] >= 0,
                      f"invalid initial_accumulator_value {group['initial_accumulator_value']} (must be >= 0)")
        self._require(group["weight_decay"] >= 0,
                      f"invalid weight_decay {group['weight_decay']} (must be >= 0)")

    def _init_state(self, data, group):
        return {"step": 0, "sum": np.full_like(data, group["initial_accumulator_value"])}

    def _update_group(self, group, learning_rate, entries):
        epsilon, weight_decay = float(group["epsilon"]), float(group["weight_decay"])
        update = kernels.adagrad_update
        for data, grad, state in entries:
            state["step"] += 1
            update(data, grad, state["sum"], learning_rate, epsilon, weight_decay)

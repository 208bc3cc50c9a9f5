"""Rprop (resilient backpropagation). The rule is in the class docstring."""
import numpy as np

from minidl._kernels import kernels
from minidl.optim.optimizer import Optimizer


class Rprop(Optimizer):
    r"""Rprop — PyTorch's ``torch.optim.Rprop``. Seed 000 §2 recommends it for full-batch
    training.

    Only the *sign* of each gradient coordinate is used; each coordinate adapts its own step
    size Δ (started at the learning rate). With p = ∇ₜ·∇ₜ₋₁ per coordinate::

        p > 0  same direction again:      Δ ← min(Δ·η₊, Δ_max)             (speed up)
        p < 0  the sign flipped:          Δ ← max(Δ·η₋, Δ_min), ∇ₜ ← 0     (overshot: slow
                                                                         down, skip this move)
        θ ← θ − sign(∇ₜ)·Δ

    Because the gradient's magnitude is ignored, Rprop needs exact (full-batch) gradients:
    mini-batch noise flips signs at random.

    Args:
        params: an iterable of Parameters, or of parameter-group dicts (see Optimizer).
        learning_rate: the initial Δ, read at a parameter's first step (as PyTorch). Default: 0.01.
        etas: (η₋, η₊) with 0 < η₋ < 1 < η₊. Default: (0.5, 1.2).
        step_sizes: (Δ_min, Δ_max). Default: (1e-6, 50).

    State per parameter: ``step``, ``prev`` ∇ₜ₋₁, ``step_size`` Δ. Tutorial: 03_batch_size.
    Kernel: ``rprop_update``.

    While the sign stays, each step is η₊ = 1.2 times the last::

        >>> import numpy as np
        >>> from minidl import nn, optim
        >>> theta = nn.Parameter(np.array([1.0]))
        >>> optimizer = optim.Rprop([theta], learning_rate=0.01)
        >>> for _ in range(3):
        ...     optimizer.zero_grad()
        ...     theta.accumulate_grad(np.array([5.0]))
        ...     optimizer.step()
        >>> theta.data.round(4)                                # 1 − 0.01 − 0.012 − 0.0144
        array([0.9636])
    """

    def __init__(self, params, learning_rate=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
        super().__init__(params, dict(learning_rate=learning_rate, etas=etas, step_sizes=step_sizes))

    def _check_group(self, group):
        try:
            eta_minus, eta_plus = (float(e) for e in group["etas"])
            step_min, step_max = (float(s) for s in group["step_sizes"])
        except (TypeError, ValueError):
            raise ValueError(f"{self._name}: etas and step_sizes must be pairs of numbers, got "
                             f"{group['etas']!r} and {group['step_sizes']!r}") from None
        self._require(0 < eta_minus < 1 < eta_plus,
                      f"invalid etas {group['etas']} (need 0 < eta_minus < 1 < eta_plus)")
        self._require(0 <= step_min <= step_max,
                      f"invalid step_sizes {group['step_sizes']} (need 0 <= min <= max)")
        group["etas"], group["step_sizes"] = (eta_minus, eta_plus), (step_min, step_max)

    def _init_state(self, data, group):
        return {"step": 0, "prev": np.zeros_like(data),
                "step_size": np.full_like(data, self._current_lr(group))}

    def _update_group(self, group, learning_rate, entries):
        eta_minus, eta_plus = group["etas"]
        step_min, step_max = group["step_sizes"]
        update = kernels.rprop_update
        for data, grad, state in entries:
            state["step"] += 1
            update(data, grad, state["prev"], state["step_size"], eta_minus, eta_plus, step_min, step_max)

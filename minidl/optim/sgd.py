"""SGD with momentum, Nesterov momentum and L2 weight decay. The formulas are in the class
docstring."""
import numpy as np

from minidl._kernels import kernels
from minidl.optim.optimizer import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent — PyTorch's ``torch.optim.SGD`` (dampening 0).

    For each parameter θ with gradient ∇ (λ = weight_decay, μ = momentum, η = learning rate)::

        g = ∇ + λ·θ                  weight decay = the gradient of the L2 term (λ/2)·‖θ‖²
        b ← μ·b + g                  momentum buffer; b₁ = g₁ (the buffer starts at zero)
        θ ← θ − η·b                  (μ = 0: θ ← θ − η·g)
        θ ← θ − η·(g + μ·b)          with nesterov=True: look one momentum step ahead

    Args:
        params: an iterable of Parameters, or of parameter-group dicts (see Optimizer).
        learning_rate: η ≥ 0, a number or a scheduler. Default: 0.01.
        momentum: μ ≥ 0. Default: 0.
        nesterov: Nesterov momentum (needs μ > 0). Default: False.
        weight_decay: λ ≥ 0. Default: 0.

    State per parameter: ``momentum_buffer`` b (with μ > 0). Tutorials: 01_learning_rate,
    16_weight_decay. Kernels: ``sgd_update`` / ``sgd_momentum_update`` (one fused pass each).

    Example::

        >>> import numpy as np
        >>> from minidl import nn, optim
        >>> theta = nn.Parameter(np.array([1.0, -2.0]))
        >>> optimizer = optim.SGD([theta], learning_rate=0.1)
        >>> theta.accumulate_grad(2 * theta.data)           # ∇ of θ², as a backward pass leaves it
        >>> optimizer.step()
        >>> theta.data
        array([ 0.8, -1.6])
    """

    def __init__(self, params, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, dict(learning_rate=learning_rate, momentum=momentum,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def _check_group(self, group):
        self._require(group["momentum"] >= 0, f"invalid momentum {group['momentum']} (must be >= 0)")
        self._require(group["weight_decay"] >= 0,
                      f"invalid weight_decay {group['weight_decay']} (must be >= 0)")
        self._require(not group["nesterov"] or group["momentum"] > 0,
                      "nesterov=True requires momentum > 0")

    def _update_group(self, group, learning_rate, entries):
        momentum, weight_decay = float(group["momentum"]), float(group["weight_decay"])
        nesterov = bool(group["nesterov"])
        if momentum == 0:
            update = kernels.sgd_update
            for data, grad, _state in entries:
                update(data, grad, learning_rate, weight_decay)
            return
        update = kernels.sgd_momentum_update
        for data, grad, state in entries:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(data)
            update(data, grad, buf, learning_rate, momentum, weight_decay, nesterov)

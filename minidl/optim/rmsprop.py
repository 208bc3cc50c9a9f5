"""RMSProp. The formulas are in the class docstring."""
import numpy as np

from minidl._kernels import kernels
from minidl.optim.optimizer import Optimizer


class RMSProp(Optimizer):
    r"""RMSProp — PyTorch's ``torch.optim.RMSprop`` (not centered; ``rho`` is PyTorch's
    ``alpha``, the name the documents use).

    For each parameter θ (η learning rate, λ weight_decay, μ momentum)::

        g = ∇ + λ·θ
        s ← ρ·s + (1 − ρ)·g²             running mean of squared gradients (square_avg)
        θ ← θ − η·g / (√s + ε)           ε added outside the square root, as PyTorch
        with μ > 0:  b ← μ·b + g / (√s + ε),   θ ← θ − η·b

    Dividing by the running RMS gives every coordinate a step of about η, whatever the
    scale of its gradient. Unlike Adam there is no bias correction: s starts at 0, so early
    steps are large (≈ η/√(1 − ρ)).

    Args:
        params: an iterable of Parameters, or of parameter-group dicts (see Optimizer).
        learning_rate: η ≥ 0. Default: 0.01.
        rho: ρ in [0, 1]. Default: 0.99.
        epsilon: ε > 0. Default: 1e-8.
        momentum: μ ≥ 0. Default: 0.
        weight_decay: λ ≥ 0. Default: 0.

    State per parameter: ``step``, ``square_avg`` s, ``momentum_buffer`` b (μ > 0).
    Tutorial: 11_vanishing_exploding_gradients. Kernels: ``rmsprop_update`` /
    ``rmsprop_momentum_update``.

    The first step is η/√(1 − ρ) = 10·η per coordinate with ρ = 0.99::

        >>> import numpy as np
        >>> from minidl import nn, optim
        >>> theta = nn.Parameter(np.array([1.0, 1.0]))
        >>> optimizer = optim.RMSProp([theta], learning_rate=0.01)
        >>> theta.accumulate_grad(np.array([1000.0, 0.001]))   # whatever the gradient's scale
        >>> optimizer.step()
        >>> theta.data.round(4)
        array([0.9, 0.9])
    """

    def __init__(self, params, learning_rate=0.01, rho=0.99, epsilon=1e-8, momentum=0.0,
                 weight_decay=0.0):
        super().__init__(params, dict(learning_rate=learning_rate, rho=rho, epsilon=epsilon,
                                      momentum=momentum, weight_decay=weight_decay))

    def _check_group(self, group):
        self._require(0 <= group["rho"] <= 1, f"invalid rho {group['rho']} (must be in [0, 1])")
        self._require(group["epsilon"] > 0, f"invalid epsilon {group['epsilon']} (must be > 0)")
        self._require(group["momentum"] >= 0, f"invalid momentum {group['momentum']} (must be >= 0)")
        self._require(group["weight_decay"] >= 0,
                      f"invalid weight_decay {group['weight_decay']} (must be >= 0)")

    def _init_state(self, data, group):
        return {"step": 0, "square_avg": np.zeros_like(data)}

    def _update_group(self, group, learning_rate, entries):
        rho, epsilon = float(group["rho"]), float(group["epsilon"])
        momentum, weight_decay = float(group["momentum"]), float(group["weight_decay"])
        for data, grad, state in entries:
            state["step"] += 1
            if momentum == 0:
                kernels.rmsprop_update(data, grad, state["square_avg"], learning_rate, rho, epsilon,
                                       weight_decay)
                continue
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(data)
            kernels.rmsprop_momentum_update(data, grad, state["square_avg"], buf, learning_rate, rho,
                                            epsilon, weight_decay, momentum)

"""Adam and AdamW. The formulas are in the class docstring of Adam."""
import numpy as np

from minidl._kernels import kernels
from minidl.optim.optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam — PyTorch's ``torch.optim.Adam`` (and, with decoupled decay, ``AdamW``).

    For each parameter θ at its step t = 1, 2, … (η learning rate, λ weight_decay)::

        Adam:   g = ∇ + λ·θ                      L2 coupled: the decay goes through m and v
        AdamW:  θ ← θ·(1 − η·λ),  g = ∇          decoupled: shrink θ directly (Loshchilov & Hutter)
        m ← β₁·m + (1 − β₁)·g                    running mean of gradients
        v ← β₂·v + (1 − β₂)·g²                   running mean of squared gradients
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)     bias correction (m, v start at 0)
        θ ← θ − η·m̂ / (√v̂ + ε)

    With Adam's L2 term, a weight with large gradients gets its decay divided by a large
    √v̂, so it is barely decayed; AdamW decays every weight by the same factor (1 − η·λ).

    Args:
        params: an iterable of Parameters, or of parameter-group dicts (see Optimizer).
        learning_rate: η ≥ 0, a number or a scheduler. Default: 0.001.
        beta1, beta2: β₁, β₂ in [0, 1). Defaults: 0.9, 0.999.
        epsilon: ε > 0 (ε = 0 divides 0 by 0 where a gradient stays 0). Default: 1e-8.
        weight_decay: λ ≥ 0. Default: 0 (AdamW: 0.01).

    State per parameter: ``step`` t, ``exp_avg`` m, ``exp_avg_sq`` v. Tutorials:
    11_vanishing_exploding_gradients, 16_weight_decay. Kernel: ``adam_update`` (one fused pass).

    The first step moves each coordinate by about η against its gradient's sign::

        >>> import numpy as np
        >>> from minidl import nn, optim
        >>> theta = nn.Parameter(np.array([1.0, 1.0]))
        >>> optimizer = optim.Adam([theta], learning_rate=0.1)
        >>> theta.accumulate_grad(np.array([1000.0, 0.001]))   # gradients 10⁶ apart ...
        >>> optimizer.step()
        >>> theta.data.round(4)                                # ... the same step η
        array([0.9, 0.9])
    """

    _decoupled = False

    def __init__(self, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 weight_decay=0.0):
        super().__init__(params, dict(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                                      epsilon=epsilon, weight_decay=weight_decay))

    def _check_group(self, group):
        for key in ("beta1", "beta2"):
            self._require(0 <= group[key] < 1, f"invalid {key} {group[key]} (must be in [0, 1))")
        self._require(group["epsilon"] > 0, f"invalid epsilon {group['epsilon']} (must be > 0)")
        self._require(group["weight_decay"] >= 0,
                      f"invalid weight_decay {group['weight_decay']} (must be >= 0)")

    def _init_state(self, data, group):
        return {"step": 0, "exp_avg": np.zeros_like(data), "exp_avg_sq": np.zeros_like(data)}

    def _update_group(self, group, learning_rate, entries):
        beta1, beta2 = float(group["beta1"]), float(group["beta2"])
        epsilon, weight_decay = float(group["epsilon"]), float(group["weight_decay"])
        decoupled = self._decoupled
        update = kernels.adam_update
        for data, grad, state in entries:
            state["step"] += 1
            update(data, grad, state["exp_avg"], state["exp_avg_sq"], learning_rate, beta1, beta2,
                   epsilon, weight_decay, state["step"], decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay θ ← θ·(1 − η·λ) before the Adam step — PyTorch's
    ``torch.optim.AdamW``. The formulas and Args: :class:`Adam` (weight_decay defaults to 0.01).

    Example::

        >>> import numpy as np
        >>> from minidl import nn, optim
        >>> theta = nn.Parameter(np.array([1.0, -2.0]))
        >>> optimizer = optim.AdamW([theta], learning_rate=0.1, weight_decay=0.5)
        >>> theta.accumulate_grad(2 * theta.data)           # θ·(1 − 0.05), then the Adam step
        >>> optimizer.step()
        >>> theta.data
        array([ 0.85, -1.8 ])
    """

    _decoupled = True

    def __init__(self, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 weight_decay=0.01):
        super().__init__(params, learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                         epsilon=epsilon, weight_decay=weight_decay)

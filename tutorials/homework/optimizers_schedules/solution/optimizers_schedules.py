# %% [markdown]
# # Homework: SGD with momentum, Adam with bias correction, and two learning-rate schedules
#
# Follows tutorials 01 and 02 (`tutorials/01_learning_rate.py`, `tutorials/02_lr_schedules.py`)
# and seed `000_0f0a45033b9e4a6e.txt`, sections 1.1 (the learning rate) and 1.2 (1.2.1
# Piecewise Decay, 1.2.9 Cosine Annealing Decay, 1.2.12 Linear Warm Up); Adam and momentum are
# the adaptive optimizers of seed `002_de0d3c5cb8b6c6e1.txt` (梯度消失和梯度爆炸, fixes).
#
# Parameters, gradients and optimizer state are dicts name -> float64 array. WEIGHTS are the
# arrays with 2 or more dimensions; BIASES are the 1-D ones and never get weight decay.
# Every function returns NEW dicts/arrays and leaves its arguments unchanged.
#
# This is the instructor's solution.

# %%
import math

import numpy as np


def sgd_momentum_step(params, grads, velocity, lr, momentum=0.9, weight_decay=0.0):
    """One step of SGD with momentum (PyTorch's form). Returns (new_params, new_velocity).

    For every name:  g = grads[name] + weight_decay · params[name]   (weights only, ndim ≥ 2;
                                                                      biases: g = grads[name])
                     v = momentum · velocity[name] + g
                     w = params[name] − lr · v
    velocity starts as zeros (same keys and shapes as params).
    """
    new_params, new_velocity = {}, {}
    for name, w in params.items():
        g = grads[name] + weight_decay * w if w.ndim >= 2 else grads[name]
        v = momentum * velocity[name] + g
        new_params[name] = w - lr * v
        new_velocity[name] = v
    return new_params, new_velocity


def adam_step(params, grads, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step; t is the number of this step, starting at 1. Returns (params, m, v), new.

    For every name:  m = β1 · m + (1 − β1) · g          v = β2 · v + (1 − β2) · g²
                     m̂ = m / (1 − β1ᵗ)                 v̂ = v / (1 − β2ᵗ)      (bias correction)
                     w = w − lr · m̂ / (√v̂ + eps)
    m and v start as zeros.
    """
    new_params, new_m, new_v = {}, {}, {}
    for name, w in params.items():
        g = grads[name]
        new_m[name] = beta1 * m[name] + (1 - beta1) * g
        new_v[name] = beta2 * v[name] + (1 - beta2) * g * g
        m_hat = new_m[name] / (1 - beta1 ** t)
        v_hat = new_v[name] / (1 - beta2 ** t)
        new_params[name] = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return new_params, new_m, new_v


def piecewise_lr(epoch, boundaries, values):
    """Seed 1.2.1 Piecewise Decay: values[0] while epoch < boundaries[0], values[k] while
    boundaries[k−1] ≤ epoch < boundaries[k], values[-1] once epoch ≥ boundaries[-1].
    len(values) == len(boundaries) + 1; returns a float. (Epochs count from 0.)"""
    for boundary, value in zip(boundaries, values):
        if epoch < boundary:
            return float(value)
    return float(values[-1])


def warmup_cosine_lr(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    """Seed 1.2.12 Linear Warm Up into 1.2.9 Cosine Annealing. Steps count from 0; a float.

    step < warmup_steps:      lr = base_lr · step / warmup_steps          (0 at step 0)
    warmup ≤ step ≤ total:    lr = min_lr + ½ (base_lr − min_lr)(1 + cos(π · (step − warmup_steps)
                                                                      / (total_steps − warmup_steps)))
    step > total_steps:       lr = min_lr
    """
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    if step > total_steps:
        return float(min_lr)
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


# %% [markdown]
# Try it: Adam on f(w) = ½‖w‖², and the two schedules at a few steps.

# %%
if __name__ == "__main__":
    try:
        params = {"w": np.array([[3.0, -2.0]]), "b": np.array([1.0])}
        m = {k: np.zeros_like(p) for k, p in params.items()}
        v = {k: np.zeros_like(p) for k, p in params.items()}
        for t in range(1, 201):
            params, m, v = adam_step(params, params, m, v, t, lr=0.05)
        print("Adam after 200 steps:", {k: p.round(3) for k, p in params.items()})
        print("piecewise:", [piecewise_lr(e, [100, 200], [1.0, 0.5, 0.1]) for e in (0, 99, 100, 200)])
        print("warmup + cosine:", [round(warmup_cosine_lr(s, 0.1, 10, 100), 4) for s in (0, 5, 10, 55, 100)])
    except NotImplementedError:
        print("not implemented yet: fill in the functions above")

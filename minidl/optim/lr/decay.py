"""Closed-form decay schedules of seed 000 §1.2 (PaddlePaddle's formulas, step for step).

Tutorial: ``tutorials/02_lr_schedules.py``. In every formula ``epoch`` is ``last_epoch``, the
number of ``step()`` calls since construction (0 right after construction) and ``lr0`` is the
``learning_rate`` argument.
"""
import math

from minidl.optim.lr.base import LRScheduler, check_number, check_positive_int


class PiecewiseDecay(LRScheduler):
    """Piecewise constant rate (seed 000 §1.2.1)::

        lr = values[i]   for the first i with epoch < boundaries[i]
        lr = values[-1]  if epoch >= boundaries[-1]

    ``boundaries=[100, 200], values=[1.0, 0.5, 0.1]``: 1.0 for epochs 0..99, 0.5 for 100..199,
    0.1 from 200 on. ``values`` must have exactly one more element than ``boundaries``
    (Paddle only requires "more"), and ``boundaries`` must increase strictly.
    """

    def __init__(self, boundaries, values, last_epoch=-1, verbose=False):
        boundaries, values = list(boundaries), [check_number("PiecewiseDecay", "values[i]", v) for v in values]
        if len(boundaries) == 0:
            raise ValueError("PiecewiseDecay: boundaries cannot be empty")
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseDecay: values must have one more element than boundaries, "
                             f"got len(values)={len(values)}, len(boundaries)={len(boundaries)}")
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseDecay: boundaries must be strictly increasing, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        super().__init__(values[0], last_epoch, verbose)

    def get_lr(self):
        for boundary, value in zip(self.boundaries, self.values):
            if self.last_epoch < boundary:
                return value
        return self.values[-1]


class ExponentialDecay(LRScheduler):
    """Exponential decay (seed 000 §1.2.2): ``lr = lr0 * gamma ** epoch``, i.e. each step
    multiplies the previous rate by ``gamma``. Requires ``0 < gamma < 1``."""

    def __init__(self, learning_rate, gamma, last_epoch=-1, verbose=False):
        gamma = check_number("ExponentialDecay", "gamma", gamma)
        if not 0.0 < gamma < 1.0:
            raise ValueError(f"ExponentialDecay: gamma must be in (0, 1) so that the rate decays, got {gamma}")
        self.gamma = gamma
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        return self.base_lr * (self.gamma ** self.last_epoch)


class NaturalExpDecay(LRScheduler):
    """Natural exponential decay (seed 000 §1.2.3): ``lr = lr0 * exp(-gamma * epoch)``.
    Requires ``gamma > 0``."""

    def __init__(self, learning_rate, gamma, last_epoch=-1, verbose=False):
        gamma = check_number("NaturalExpDecay", "gamma", gamma)
        if not gamma > 0.0:
            raise ValueError(f"NaturalExpDecay: gamma must be > 0 so that the rate decays, got {gamma}")
        self.gamma = gamma
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        return self.base_lr * math.exp(-1 * self.gamma * self.last_epoch)


class PolynomialDecay(LRScheduler):
    """Polynomial decay from ``lr0`` to ``end_lr`` over ``decay_steps`` (seed 000 §1.2.4)::

        cycle=False:  e = min(epoch, decay_steps);            D = decay_steps
        cycle=True:   e = epoch;  D = decay_steps * ceil(epoch / decay_steps)
                      (ceil(0 / decay_steps) = 0 would divide by zero: at epoch 0, D = decay_steps)
        lr = (lr0 - end_lr) * (1 - e / D) ** power + end_lr

    Without ``cycle`` the rate stays at ``end_lr`` from ``decay_steps`` on. With ``cycle`` it
    reaches ``end_lr`` at every multiple of ``decay_steps`` and jumps back up on the next step
    (to a lower peak each cycle, because D grows). ``decay_steps`` is a positive int, ``power > 0``.
    """

    def __init__(self, learning_rate, decay_steps, end_lr=0.0001, power=1.0, cycle=False,
                 last_epoch=-1, verbose=False):
        self.decay_steps = check_positive_int("PolynomialDecay", "decay_steps", decay_steps)
        self.end_lr = check_number("PolynomialDecay", "end_lr", end_lr)
        self.power = check_number("PolynomialDecay", "power", power)
        if not self.power > 0.0:
            raise ValueError(f"PolynomialDecay: power must be > 0 so that the rate decays, got {power}")
        self.cycle = bool(cycle)
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        epoch, period = self.last_epoch, self.decay_steps
        if self.cycle:
            cycles = math.ceil(float(epoch) / float(self.decay_steps))
            if epoch == 0:
                cycles = 1
            period = self.decay_steps * cycles
        else:
            epoch = min(epoch, self.decay_steps)
        return (self.base_lr - self.end_lr) * ((1 - float(epoch) / float(period)) ** self.power) + self.end_lr


class StepDecay(LRScheduler):
    """Step decay (seed 000 §1.2.5): ``lr = lr0 * gamma ** (epoch // step_size)``.

    ``lr0=0.5, step_size=30, gamma=0.1``: 0.5 for epochs 0..29, 0.05 for 30..59, 0.005 for
    60..89. ``step_size`` is a positive int; ``gamma < 1``.
    """

    def __init__(self, learning_rate, step_size, gamma=0.1, last_epoch=-1, verbose=False):
        self.step_size = check_positive_int("StepDecay", "step_size", step_size)
        self.gamma = check_number("StepDecay", "gamma", gamma)
        if self.gamma >= 1.0:
            raise ValueError(f"StepDecay: gamma must be < 1.0, got {gamma}")
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        return self.base_lr * (self.gamma ** (self.last_epoch // self.step_size))


class MultiStepDecay(LRScheduler):
    """Decay by ``gamma`` at each milestone (seed 000 §1.2.6)::

        lr = lr0 * gamma ** i,  i = number of milestones m with m <= epoch

    ``lr0=0.5, milestones=[30, 50], gamma=0.1``: 0.5 before 30, 0.05 on 30..49, 0.005 from 50.
    ``milestones`` is a list/tuple, strictly increasing; ``gamma < 1``.
    """

    def __init__(self, learning_rate, milestones, gamma=0.1, last_epoch=-1, verbose=False):
        if not isinstance(milestones, (tuple, list)):
            raise TypeError(f"MultiStepDecay: milestones must be a list or tuple, got {type(milestones).__name__}")
        if any(m1 >= m2 for m1, m2 in zip(milestones, milestones[1:])):
            raise ValueError(f"MultiStepDecay: milestones must be strictly increasing, got {list(milestones)}")
        self.milestones = list(milestones)
        self.gamma = check_number("MultiStepDecay", "gamma", gamma)
        if self.gamma >= 1.0:
            raise ValueError(f"MultiStepDecay: gamma must be < 1.0, got {gamma}")
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        for i, milestone in enumerate(self.milestones):
            if self.last_epoch < milestone:
                return self.base_lr * (self.gamma ** i)
        return self.base_lr * (self.gamma ** len(self.milestones))


class InverseTimeDecay(LRScheduler):
    """Inverse time decay (seed 000 §1.2.7): ``lr = lr0 / (1 + gamma * epoch)``.
    Paddle does not check ``gamma``; minidl refuses ``gamma < 0`` (the denominator could hit 0)."""

    def __init__(self, learning_rate, gamma, last_epoch=-1, verbose=False):
        self.gamma = check_number("InverseTimeDecay", "gamma", gamma)
        if self.gamma < 0.0:
            raise ValueError(f"InverseTimeDecay: gamma must be >= 0, got {gamma}")
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        return self.base_lr / (1 + self.gamma * self.last_epoch)


class LambdaDecay(LRScheduler):
    """A user factor (seed 000 §1.2.8): ``lr = lr0 * lr_lambda(epoch)``.

    ``lr0=0.5, lr_lambda=lambda epoch: 0.95 ** epoch``: 0.5, 0.475, 0.45125, …
    """

    def __init__(self, learning_rate, lr_lambda, last_epoch=-1, verbose=False):
        if not callable(lr_lambda):
            raise TypeError(f"LambdaDecay: lr_lambda must be a function of the epoch, got {type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        return self.base_lr * self.lr_lambda(self.last_epoch)


class NoamDecay(LRScheduler):
    """The Transformer schedule (seed 000 §1.2.10, "Attention is all you need")::

        lr = lr0 * d_model ** -0.5 * min(epoch ** -0.5, epoch * warmup_steps ** -1.5)

    Linear warm-up for ``epoch < warmup_steps``, then decay as ``1/sqrt(epoch)``; the peak is
    at ``epoch == warmup_steps``. At epoch 0 the first term is taken as 1 (0 ** -0.5 is
    undefined), so the rate there is exactly 0. ``d_model > 0``; ``warmup_steps`` a positive
    int (Paddle leaves it unchecked; 0 would divide by zero).
    """

    def __init__(self, d_model, warmup_steps, learning_rate=1.0, last_epoch=-1, verbose=False):
        self.d_model = check_number("NoamDecay", "d_model", d_model)
        if self.d_model <= 0:
            raise ValueError(f"NoamDecay: d_model must be > 0, got {d_model}")
        self.warmup_steps = check_positive_int("NoamDecay", "warmup_steps", warmup_steps)
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        decay = 1 if self.last_epoch == 0 else self.last_epoch ** -0.5
        warmup = self.warmup_steps ** -1.5 * self.last_epoch
        return self.base_lr * (self.d_model ** -0.5) * min(decay, warmup)


__all__ = ["PiecewiseDecay", "ExponentialDecay", "NaturalExpDecay", "PolynomialDecay", "StepDecay",
           "MultiStepDecay", "InverseTimeDecay", "LambdaDecay", "NoamDecay"]

"""Cosine schedules: Paddle's ``CosineAnnealingDecay`` (seed 000 §1.2.9) and, beyond Paddle,
SGDR's ``CosineAnnealingWarmRestarts`` with PyTorch's sequence.

Tutorial: ``tutorials/02_lr_schedules.py``.
"""
import math

from minidl.optim.lr.base import LRScheduler, check_number, check_positive_int


class CosineAnnealingDecay(LRScheduler):
    """Cosine annealing from ``lr0`` (η_max) towards ``eta_min`` over ``T_max`` steps.

    The closed form (SGDR without restarts), with ``e = epoch``::

        lr(e) = eta_min + (lr0 - eta_min) * (1 + cos(pi * e / T_max)) / 2

    Like Paddle (and PyTorch's CosineAnnealingLR), ``step()`` runs the *recursive* form, which
    equals the closed form up to float rounding but builds on the previous rate ``last_lr``::

        e == 0:                          lr = lr0
        (e - 1 - T_max) % (2*T_max) == 0: lr = last_lr + (lr0 - eta_min) * (1 - cos(pi / T_max)) / 2
        otherwise:                        lr = (1 + cos(pi * e / T_max)) / (1 + cos(pi * (e-1) / T_max))
                                               * (last_lr - eta_min) + eta_min

    (the middle line is the step right after a minimum, where the ratio would be 0/0).
    ``step(epoch)`` with an explicit epoch uses the closed form. There is no restart: past
    ``T_max`` the rate climbs back to ``lr0`` at ``2*T_max`` and the cosine repeats with period
    ``2*T_max``. ``T_max`` is a positive int, ``eta_min`` a number.
    """

    def __init__(self, learning_rate, T_max, eta_min=0, last_epoch=-1, verbose=False):
        self.T_max = check_positive_int("CosineAnnealingDecay", "T_max", T_max)
        self.eta_min = check_number("CosineAnnealingDecay", "eta_min", eta_min)
        super().__init__(learning_rate, last_epoch, verbose)

    def get_lr(self):
        e, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if e == 0:
            return self.base_lr
        if (e - 1 - T_max) % (2 * T_max) == 0:
            return self.last_lr + (self.base_lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
        return ((1 + math.cos(math.pi * e / T_max)) / (1 + math.cos(math.pi * (e - 1) / T_max))
                * (self.last_lr - eta_min) + eta_min)

    def _get_closed_form_lr(self):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter): cosine annealing restarted every cycle, cycles growing by
    ``T_mult``. Not in Paddle; the sequence equals ``torch.optim.lr_scheduler.
    CosineAnnealingWarmRestarts`` step for step::

        T_i = T_0, T_cur = epoch;  while T_cur >= T_i: T_cur -= T_i; T_i *= T_mult
        lr = eta_min + (lr0 - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    so the rate is ``lr0`` at epoch 0 and at each restart (epochs T_0, T_0 + T_0*T_mult, …) and
    approaches, but never reaches, ``eta_min`` just before it. The cycle position is found
    with integers (PyTorch uses ``log`` when jumping to an explicit epoch with T_mult > 1,
    which can land one cycle off at a restart through rounding; minidl does not).
    ``T_0`` is a positive int, ``T_mult`` an int >= 1. Attributes ``T_i``/``T_cur`` show the
    current cycle length and the position in it.
    """

    def __init__(self, learning_rate, T_0, T_mult=1, eta_min=0, last_epoch=-1, verbose=False):
        self.T_0 = check_positive_int("CosineAnnealingWarmRestarts", "T_0", T_0)
        self.T_mult = check_positive_int("CosineAnnealingWarmRestarts", "T_mult", T_mult)
        self.eta_min = check_number("CosineAnnealingWarmRestarts", "eta_min", eta_min)
        self.T_i, self.T_cur = self.T_0, last_epoch
        super().__init__(learning_rate, last_epoch, verbose)

    def state_keys(self):
        self.keys = ["last_epoch", "last_lr", "T_i", "T_cur"]

    def get_lr(self):
        if self.last_epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be >= 0, got {self.last_epoch}")
        T_i, T_cur = self.T_0, self.last_epoch
        if self.T_mult == 1:
            T_cur %= T_i
        while T_cur >= T_i:
            T_cur -= T_i
            T_i *= self.T_mult
        self.T_i, self.T_cur = T_i, T_cur
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2


__all__ = ["CosineAnnealingDecay", "CosineAnnealingWarmRestarts"]

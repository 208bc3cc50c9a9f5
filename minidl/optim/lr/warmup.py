"""Linear warm-up in front of a constant rate or another schedule (seed 000 §1.2.12).

Tutorial: ``tutorials/02_lr_schedules.py`` (warm-up + cosine) and ``12_transformer_stability.py``.
"""
from minidl.optim.lr.base import LRScheduler, check_number, check_positive_int


class LinearWarmup(LRScheduler):
    """Ramp linearly from ``start_lr`` to ``end_lr`` for ``warmup_steps`` steps, then hand over::

        epoch <  warmup_steps:  lr = start_lr + (end_lr - start_lr) * epoch / warmup_steps
        epoch >= warmup_steps:  lr = learning_rate                      (a number), or
                                inner.step(epoch - warmup_steps); lr = inner()   (a scheduler)

    The ramp never reaches ``end_lr`` itself: the last warm-up step (``warmup_steps - 1``) gives
    ``start_lr + (end_lr - start_lr) * (warmup_steps - 1) / warmup_steps`` and the next one
    gives ``learning_rate`` (or the inner schedule at its epoch 0), so choose
    ``end_lr`` = the inner schedule's initial rate for a seamless hand-over.

    The inner scheduler is driven with an explicit epoch, exactly as Paddle does: it starts
    its own epoch 0 when the warm-up ends and is untouched during the warm-up. Schedules with
    a closed form use it (``CosineAnnealingDecay`` therefore follows the exact cosine).
    ``ReduceOnPlateau`` cannot be wrapped (it is driven by a metric, not by an epoch).

    Args:
        learning_rate (float | LRScheduler): the rate after warm-up.
        warmup_steps (int > 0), start_lr (float >= 0), end_lr (float > start_lr).
    """

    def __init__(self, learning_rate, warmup_steps, start_lr, end_lr, last_epoch=-1, verbose=False):
        from minidl.optim.lr.plateau import ReduceOnPlateau

        if isinstance(learning_rate, ReduceOnPlateau):
            raise TypeError("LinearWarmup: cannot wrap ReduceOnPlateau (it steps on a metric, not an epoch); "
                            "warm up with a number and switch schedulers yourself")
        if not isinstance(learning_rate, LRScheduler):
            learning_rate = check_number("LinearWarmup", "learning_rate (a number or an LRScheduler)", learning_rate)
        self.learning_rate = learning_rate
        self.warmup_steps = check_positive_int("LinearWarmup", "warmup_steps", warmup_steps)
        self.start_lr = check_number("LinearWarmup", "start_lr", start_lr)
        self.end_lr = check_number("LinearWarmup", "end_lr", end_lr)
        if not self.end_lr > self.start_lr:
            raise ValueError(f"LinearWarmup: end_lr {end_lr} must be greater than start_lr {start_lr}")
        super().__init__(self.start_lr, last_epoch, verbose)

    def get_lr(self):
        if self.last_epoch < self.warmup_steps:
            return (self.end_lr - self.start_lr) * float(self.last_epoch) / float(self.warmup_steps) + self.start_lr
        if isinstance(self.learning_rate, LRScheduler):
            self.learning_rate.step(self.last_epoch - self.warmup_steps)
            return self.learning_rate()
        return self.learning_rate

    def state_dict(self):
        """``last_epoch``, ``last_lr`` and, when wrapping a scheduler, its state under
        ``"LinearWarmup_LR"`` (Paddle's key)."""
        state = super().state_dict()
        if isinstance(self.learning_rate, LRScheduler):
            state["LinearWarmup_LR"] = self.learning_rate.state_dict()
        return state

    def set_state_dict(self, state_dict):
        state = dict(state_dict)
        inner = state.pop("LinearWarmup_LR", None)
        super().set_state_dict(state)
        if isinstance(self.learning_rate, LRScheduler):
            if inner is None:
                raise KeyError("LinearWarmup.set_state_dict: the state has no 'LinearWarmup_LR' "
                               "(the wrapped scheduler's state)")
            self.learning_rate.set_state_dict(inner)

    load_state_dict = set_state_dict
    set_dict = set_state_dict


__all__ = ["LinearWarmup"]

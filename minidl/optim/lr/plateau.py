"""Reduce the rate when a monitored metric stops improving (seed 000 §1.2.11, Paddle's rule).

Tutorial: ``tutorials/02_lr_schedules.py``; ``minidl.train.fit`` feeds it the validation loss.
"""
import numbers

import numpy as np

from minidl.optim.lr.base import LRScheduler, check_number


class ReduceOnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` after more than ``patience`` steps without improvement.

    Each ``step(metrics)`` (``last_epoch += 1``, or ``= epoch`` if given) does, in order::

        if cooldown_counter > 0:                 # cooling down: the metric is ignored entirely
            cooldown_counter -= 1                #   (best and num_bad_epochs do not change)
        else:
            if best is None or is_better(metrics, best): best = metrics; num_bad_epochs = 0
            else:                                num_bad_epochs += 1
            if num_bad_epochs > patience:
                cooldown_counter = cooldown; num_bad_epochs = 0
                new_lr = max(last_lr * factor, min_lr)
                if last_lr - new_lr > epsilon:   # smaller reductions are skipped
                    last_lr = new_lr

    ``is_better`` (``threshold_mode``, ``mode``):  rel/min ``m < best - best * threshold``;
    abs/min ``m < best - threshold``; rel/max ``m > best + best * threshold``;
    abs/max ``m > best + threshold``. So with ``patience=p`` the rate drops on the
    ``(p+1)``-th consecutive bad step. Unlike PyTorch, Paddle's cooldown swallows the
    metric: a step during cooldown neither counts as bad nor can set a new best.

    ``metrics`` is a number or a one-element array. ``mode`` is "min" or "max", ``factor < 1``,
    ``threshold_mode`` "rel" or "abs". Paddle's constructor takes no ``last_epoch`` and does
    not step; here ``last_epoch=-1`` (after ``verbose``, keeping Paddle's positional order)
    starts at 0 like Paddle, and the construction step feeds no metric.
    ``get_lr()`` returns the current rate (the rate changes only through ``step(metrics)``).
    """

    def __init__(self, learning_rate, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, epsilon=1e-8, verbose=False, last_epoch=-1):
        if not isinstance(mode, str) or mode.lower() not in ("min", "max"):
            raise ValueError(f"ReduceOnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(threshold_mode, str) or threshold_mode.lower() not in ("rel", "abs"):
            raise ValueError(f"ReduceOnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode, self.threshold_mode = mode.lower(), threshold_mode.lower()
        self.factor = check_number("ReduceOnPlateau", "factor", factor)
        if self.factor >= 1.0:
            raise ValueError(f"ReduceOnPlateau: factor must be < 1.0 (new_lr = lr * factor), got {factor}")
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"ReduceOnPlateau: patience must be an int >= 0, got {patience!r}")
        if isinstance(cooldown, bool) or not isinstance(cooldown, numbers.Integral) or cooldown < 0:
            raise ValueError(f"ReduceOnPlateau: cooldown must be an int >= 0, got {cooldown!r}")
        self.patience, self.cooldown = int(patience), int(cooldown)
        self.threshold = check_number("ReduceOnPlateau", "threshold", threshold)
        self.min_lr = check_number("ReduceOnPlateau", "min_lr", min_lr)
        self.epsilon = check_number("ReduceOnPlateau", "epsilon", epsilon)
        self.cooldown_counter = 0
        self.best = None
        self.num_bad_epochs = 0
        self._constructing = True
        super().__init__(learning_rate, last_epoch, verbose)
        del self._constructing

    def state_keys(self):
        self.keys = ["cooldown_counter", "best", "num_bad_epochs", "last_epoch", "last_lr"]

    def get_lr(self):
        return self.last_lr

    def step(self, metrics=None, epoch=None):
        """Record ``metrics`` (the monitored value, e.g. the validation loss) for one epoch."""
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral)):
            raise TypeError(f"ReduceOnPlateau.step: epoch must be an int or None, got {epoch!r}")
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if getattr(self, "_constructing", False):
            return
        if metrics is None:
            raise TypeError("ReduceOnPlateau.step(metrics): the monitored value (e.g. the validation loss) is required")
        metrics = self._as_float(metrics)

        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            return
        if self.best is None or self._is_better(metrics, self.best):
            self.best = metrics
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs > self.patience:
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
            new_lr = max(self.last_lr * self.factor, self.min_lr)
            if self.last_lr - new_lr > self.epsilon:
                self.last_lr = new_lr
                if self.verbose:
                    print(f"Epoch {self.last_epoch}: ReduceOnPlateau set learning rate to {self.last_lr}.")

    def _is_better(self, current, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return current < best - best * self.threshold
        if self.mode == "min":
            return current < best - self.threshold
        if self.threshold_mode == "rel":
            return current > best + best * self.threshold
        return current > best + self.threshold

    @staticmethod
    def _as_float(metrics):
        if isinstance(metrics, np.ndarray) or hasattr(metrics, "size") and hasattr(metrics, "item"):
            if np.size(metrics) != 1:
                raise ValueError(f"ReduceOnPlateau.step: metrics must hold one value, got shape "
                                 f"{tuple(np.shape(metrics))} (take the mean first)")
            return float(np.asarray(metrics).reshape(-1)[0])
        if isinstance(metrics, bool) or not isinstance(metrics, numbers.Real):
            raise TypeError(f"ReduceOnPlateau.step: metrics must be a number or a one-element array, "
                            f"got {type(metrics).__name__}")
        return float(metrics)


__all__ = ["ReduceOnPlateau"]

"""``trace``: the rates a scheduler will give, for plots and tables, without advancing it."""
import copy

import numpy as np

from minidl.optim.lr.plateau import ReduceOnPlateau


def trace(scheduler, steps, metrics=None):
    """Return ``[scheduler(), rate after 1 step(), …, rate after steps-1 step()s]`` as a
    float64 array of length ``steps``.

    The steps run on ``copy.deepcopy(scheduler)`` (a wrapped inner scheduler is copied too),
    so the scheduler you pass keeps its epoch and rate. ``ReduceOnPlateau`` needs the
    monitored values: pass ``metrics``, a sequence of at least ``steps - 1`` numbers fed to
    its ``step(metrics)`` one per step.

        >>> from minidl.optim.lr import StepDecay
        >>> trace(StepDecay(0.5, step_size=2), 5)
        array([0.5  , 0.5  , 0.05 , 0.05 , 0.005])
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"trace: steps must be an int >= 0, got {steps!r}")
    plateau = isinstance(scheduler, ReduceOnPlateau)
    if plateau:
        if metrics is None or len(metrics) < steps - 1:
            raise ValueError("trace: ReduceOnPlateau is driven by a metric; pass metrics=[...] with at least "
                             f"steps - 1 = {steps - 1} values")
    elif metrics is not None:
        raise ValueError(f"trace: metrics= is only for ReduceOnPlateau, not {type(scheduler).__name__}")
    if not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"trace: expected an LRScheduler, got {type(scheduler).__name__}")
    copy_ = copy.deepcopy(scheduler)
    rates = np.empty(steps, dtype=np.float64)
    for k in range(steps):
        if k > 0:
            copy_.step(metrics[k - 1]) if plateau else copy_.step()
        rates[k] = copy_()
    return rates


__all__ = ["trace"]

"""minidl.optim.lr: learning-rate schedules with PaddlePaddle's semantics (seed 000 §1.2).

Tutorial: ``tutorials/02_lr_schedules.py``. Every scheduler takes ``last_epoch=-1`` and
``verbose=False``; construction performs the first ``step()`` (``last_epoch`` becomes 0),
``scheduler()`` / ``.last_lr`` give the current rate, ``step()`` advances one epoch (or one
batch — "epoch" is whatever you step on). Pass a scheduler as an optimizer's
``learning_rate``: the optimizer reads ``scheduler()`` at each of its ``step()`` calls.
The schedulers, by the file that holds them::

    base.py     LRScheduler (the base class)
    decay.py    PiecewiseDecay ExponentialDecay NaturalExpDecay PolynomialDecay StepDecay
                MultiStepDecay InverseTimeDecay LambdaDecay NoamDecay
    cosine.py   CosineAnnealingDecay, CosineAnnealingWarmRestarts (SGDR; PyTorch's sequence)
    plateau.py  ReduceOnPlateau
    warmup.py   LinearWarmup
    trace.py    trace(scheduler, steps) -> ndarray of the coming rates (for plots)

Example::

    >>> from minidl.optim.lr import StepDecay, trace
    >>> trace(StepDecay(0.1, step_size=2), 5)
    array([0.1  , 0.1  , 0.01 , 0.01 , 0.001])
"""
from minidl.optim.lr.base import LRScheduler
from minidl.optim.lr.cosine import CosineAnnealingDecay, CosineAnnealingWarmRestarts
from minidl.optim.lr.decay import (
    ExponentialDecay,
    InverseTimeDecay,
    LambdaDecay,
    MultiStepDecay,
    NaturalExpDecay,
    NoamDecay,
    PiecewiseDecay,
    PolynomialDecay,
    StepDecay,
)
from minidl.optim.lr.plateau import ReduceOnPlateau
from minidl.optim.lr.trace import trace
from minidl.optim.lr.warmup import LinearWarmup

__all__ = [
    "LRScheduler", "PiecewiseDecay", "ExponentialDecay", "NaturalExpDecay", "PolynomialDecay",
    "StepDecay", "MultiStepDecay", "InverseTimeDecay", "LambdaDecay", "CosineAnnealingDecay",
    "NoamDecay", "ReduceOnPlateau", "LinearWarmup", "CosineAnnealingWarmRestarts", "trace",
]

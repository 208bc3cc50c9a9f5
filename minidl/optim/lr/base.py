"""The learning-rate scheduler base class (PaddlePaddle's ``paddle.optimizer.lr.LRScheduler``).

Tutorial: ``tutorials/02_lr_schedules.py`` (seed 000 §1.2).

A scheduler is a small state machine over one integer, ``last_epoch``:

* construction performs the first ``step()``, so a fresh scheduler sits at
  ``last_epoch == 0`` and ``scheduler()`` is the rate for epoch 0;
* ``step()`` sets ``last_epoch += 1`` and ``last_lr = get_lr()``;
* ``step(epoch)`` jumps to ``last_epoch = epoch`` and uses the closed form
  ``_get_closed_form_lr()`` when the schedule has one (recursive schedules such as
  ``CosineAnnealingDecay`` need it, because ``get_lr`` there builds on ``last_lr``).

"Epoch" is Paddle's word for one call of ``step()``: call it once per epoch or once per
batch, the schedule does not know the difference.
"""
import numbers
import warnings


def check_number(owner, name, value):
    """Raise TypeError unless ``value`` is a real number (bools are refused); return float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a float or int, got {type(value).__name__} {value!r}")
    return float(value)


def check_positive_int(owner, name, value):
    """Raise unless ``value`` is an int > 0 (TypeError for other types, ValueError if <= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be a positive int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return int(value)


class LRScheduler:
    """Base class: subclasses implement ``get_lr()`` from ``self.last_epoch`` (and maybe
    ``self.last_lr``, ``self.base_lr``).

    Args:
        learning_rate (float): initial rate ``base_lr`` (>= 0).
        last_epoch (int): epoch index before the constructor's first ``step()``; -1 (default)
            starts at epoch 0. Passing ``k`` starts the schedule at epoch ``k + 1``.
        verbose (bool): print ``Epoch e: Name set learning rate to lr.`` on every step.

    Attributes:
        base_lr, last_lr, last_epoch, verbose.

    Example::

        >>> from minidl.optim.lr import StepDecay
        >>> s = StepDecay(0.5, step_size=2)      # a subclass; the constructor steps once
        >>> s.last_epoch, s()
        (0, 0.5)
        >>> s.step(); s.step(); s.last_epoch, s()
        (2, 0.05)
    """

    def __init__(self, learning_rate=0.1, last_epoch=-1, verbose=False):
        name = type(self).__name__
        learning_rate = check_number(name, "learning_rate", learning_rate)
        if learning_rate < 0:
            raise ValueError(f"{name}: learning_rate must be >= 0, got {learning_rate}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral):
            raise TypeError(f"{name}: last_epoch must be an int, got {last_epoch!r}")
        self.base_lr = learning_rate
        self.last_lr = learning_rate
        self.last_epoch = int(last_epoch)
        self.verbose = bool(verbose)
        self.step()

    def __call__(self):
        """The current learning rate (``last_lr``)."""
        return self.last_lr

    def step(self, epoch=None):
        """Advance one epoch (``epoch=None``) or jump to ``epoch``; recompute ``last_lr``.

        Call it after ``optimizer.step()``: the new rate applies to the next update.
        """
        if epoch is None:
            self.last_epoch += 1
            self.last_lr = self.get_lr()
        else:
            if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
                raise TypeError(f"{type(self).__name__}.step: epoch must be an int or None, got {epoch!r}")
            self.last_epoch = int(epoch)
            closed_form = getattr(self, "_get_closed_form_lr", None)
            self.last_lr = closed_form() if closed_form is not None else self.get_lr()
        if self.verbose:
            print(f"Epoch {self.last_epoch}: {type(self).__name__} set learning rate to {self.last_lr}.")

    def get_lr(self):
        """The rate at ``self.last_epoch``; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr()")

    # -- checkpointing --------------------------------------------------------------------
    def state_keys(self):
        """Names of the attributes saved by ``state_dict`` (Paddle: ``self.keys``)."""
        self.keys = ["last_epoch", "last_lr"]

    def state_dict(self):
        """The scheduler's progress as a plain dict (``last_epoch``, ``last_lr``, …)."""
        self.state_keys()
        return {key: self.__dict__[key] for key in self.keys if key in self.__dict__}

    def set_state_dict(self, state_dict):
        """Restore what ``state_dict()`` returned. Missing keys raise KeyError; extra keys warn."""
        self.state_keys()
        for key in self.keys:
            if key not in state_dict:
                raise KeyError(f"{type(self).__name__}.set_state_dict: the state has no {key!r} "
                               f"(expected keys {self.keys})")
            self.__dict__[key] = state_dict[key]
        if len(state_dict) > len(self.keys):
            extra = sorted(set(state_dict) - set(self.keys))
            warnings.warn(f"{type(self).__name__}.set_state_dict: unused keys {extra} "
                          "(was the state saved from a different scheduler?)")

    load_state_dict = set_state_dict
    set_dict = set_state_dict

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self.last_lr!r})"

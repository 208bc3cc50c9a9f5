"""A small training loop for the tutorials where the loop itself is not the lesson::

    from minidl.train import fit, evaluate
    history = fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, epochs=20,
                  scheduler=scheduler, val_loader=(X_val, y_val),
                  metrics=[accuracy_score])
    history.val_loss[-1], history["val_accuracy"][-1], history.lr[:5]

Each batch runs exactly the SPEC training step (the one tutorials write out by hand)::

    logits = model(x)
    loss = criterion(logits, y)
    optimizer.zero_grad()
    model.backward(criterion.backward())
    optimizer.step()
    scheduler.step()          # scheduler_interval="step"; else once per epoch

``ReduceOnPlateau`` is stepped with the validation loss (the training loss without a
validation set), once per epoch — or with the batch loss when ``scheduler_interval="step"``.
Tutorials: 01_learning_rate.py, 02_lr_schedules.py, 03_batch_size.py.
"""
import math
import numbers
import time
import warnings

import numpy as np

from minidl._progress import progress_bar
from minidl.nn.container import _backward_without_input_grad

__all__ = ["fit", "evaluate", "History"]


class History:
    """What ``fit`` measured. Lists are indexed by epoch (0-based) unless noted.

    Attributes:
        train_loss: mean training loss of each epoch (weighted by batch size; the model is
            changing during the epoch, so this is the average of the losses the steps saw).
        val_loss: mean validation loss after each epoch (empty without ``val_loader``).
        metrics: ``{"train_<name>": [...], "val_<name>": [...]}`` per epoch; train metrics
            come from the predictions made during the training steps.
        lr: the learning rate each optimizer step used (one entry per batch, all epochs).
        epoch_time: wall-clock seconds of each epoch's training steps (validation excluded).
        steps_per_epoch, stopped_early (bool), best_epoch (0-based epoch of the best monitored
            loss: validation loss if there is a validation set, else training loss).

    ``history["val_accuracy"]`` / ``history["train_loss"]`` / ``history["lr"]`` also work.
    """

    def __init__(self):
        self.train_loss, self.val_loss, self.lr, self.epoch_time = [], [], [], []
        self.metrics = {}
        self.steps_per_epoch = 0
        self.stopped_early = False
        self.best_epoch = None

    @property
    def epochs(self):
        """Number of epochs that ran."""
        return len(self.train_loss)

    def __getitem__(self, key):
        if key in ("train_loss", "val_loss", "lr", "epoch_time"):
            return getattr(self, key)
        if key in self.metrics:
            return self.metrics[key]
        raise KeyError(f"History has no {key!r}; available: "
                       f"{['train_loss', 'val_loss', 'lr', 'epoch_time'] + sorted(self.metrics)}")

    def as_dict(self):
        """Everything as plain lists (e.g. for ``json.dump``)."""
        return {"train_loss": list(self.train_loss), "val_loss": list(self.val_loss), "lr": list(self.lr),
                "epoch_time": list(self.epoch_time), **{k: list(v) for k, v in self.metrics.items()},
                "stopped_early": self.stopped_early, "best_epoch": self.best_epoch}

    def __repr__(self):
        last = f", last train_loss={self.train_loss[-1]:.4g}" if self.train_loss else ""
        if self.val_loss:
            last += f", val_loss={self.val_loss[-1]:.4g}"
        return f"History(epochs={self.epochs}{last}, metrics={sorted(self.metrics)})"


def _metric_list(metrics):
    """Normalise ``metrics`` to ``[(name, fn)]``: callables (named after ``fn.__name__``
    without a trailing ``_score``), ``(name, fn)`` pairs, or a ``{name: fn}`` dict."""
    items = metrics.items() if isinstance(metrics, dict) else metrics
    out = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, fn = item
        else:
            fn = item
            name = getattr(fn, "__name__", type(fn).__name__)
            name = name[:-len("_score")] if name.endswith("_score") else name
        if not callable(fn):
            raise TypeError(f"fit: metric {name!r} must be callable as f(y_true, y_pred), got {type(fn).__name__}")
        out.append((name, fn))
    return out


def _predictions(output, y):
    """What metrics receive: class labels for integer targets (argmax over classes, or
    ``logit > 0`` for a single logit column), the raw outputs for real-valued targets."""
    output = np.asarray(output)
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        return output
    if output.ndim == 2 and output.shape[1] > 1:
        return output.argmax(axis=1)
    return (output.reshape(len(output)) > 0).astype(np.int64)


def _iterate(loader):
    """Batches of ``loader``: anything iterable over ``(x, y)``, or an ``(X, y)`` pair of arrays
    (taken in chunks of 1024 samples)."""
    if isinstance(loader, tuple) and len(loader) == 2 and isinstance(loader[0], np.ndarray):
        X, y = loader
        if len(X) != len(y):
            raise ValueError(f"(X, y) pair with different lengths: X {X.shape}, y {np.shape(y)}")
        return ((X[i:i + 1024], y[i:i + 1024]) for i in range(0, len(X), 1024))
    return iter(loader)


def evaluate(model, loss, loader, metrics=()):
    """Mean loss (and metrics) of ``model`` over ``loader`` in evaluation mode, no updates.

    ``loader``: a DataLoader or an ``(X, y)`` pair. Returns ``{"loss": mean over samples,
    "<metric name>": value, ...}`` (no "loss" if ``loss`` is None). The model's train/eval
    mode is restored afterwards.
    """
    metric_fns = _metric_list(metrics)
    was_training = model.training
    model.eval()
    total, count, y_true, y_pred = 0.0, 0, [], []
    try:
        for xb, yb in _iterate(loader):
            output = model(xb)
            n = len(xb)
            if loss is not None:
                total += float(loss(output, yb)) * n
            count += n
            if metric_fns:
                y_true.append(np.asarray(yb))
                y_pred.append(_predictions(output, yb))
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    result = {} if loss is None else {"loss": total / count}
    if metric_fns:
        y_true, y_pred = np.concatenate(y_true), np.concatenate(y_pred)
        for name, fn in metric_fns:
            result[name] = float(fn(y_true, y_pred))
    return result


def _current_lr(optimizer, scheduler):
    if hasattr(optimizer, "get_lr"):
        return float(optimizer.get_lr())
    if scheduler is not None:
        return float(scheduler())
    return float(getattr(optimizer, "learning_rate", float("nan")))


def fit(model, loss, optimizer, loader, epochs, scheduler=None, val_loader=None, metrics=(), progress=True,
        scheduler_interval="epoch", early_stopping=None, check_finite=True):
    """Train ``model`` for ``epochs`` passes over ``loader``; return a :class:`History`.

    Args:
        model: a Module; put in ``train()`` for the steps and ``eval()`` for validation, and
            left in the mode it had before ``fit``.
        loss: a loss module (``loss(output, y)`` -> float, ``loss.backward()`` -> d loss/d output).
        optimizer: ``zero_grad()``, ``step()`` and (for ``History.lr``) ``get_lr()``.
        loader: iterable of ``(x, y)`` batches, re-iterated every epoch (a DataLoader).
        scheduler: an ``minidl.optim.lr`` scheduler, normally the optimizer's own
            ``learning_rate``. Stepped once per epoch (``scheduler_interval="epoch"``) or
            after every optimizer step (``"step"``). ReduceOnPlateau receives the epoch's
            validation loss (training loss without ``val_loader``), or the batch loss per step.
        val_loader: a DataLoader or an ``(X, y)`` pair, evaluated after every epoch.
        metrics: callables ``f(y_true, y_pred)`` (e.g. ``minidl.metrics.accuracy_score``;
            named ``accuracy``), ``(name, f)`` pairs or a ``{name: f}`` dict. With integer
            targets ``y_pred`` are labels (argmax of the logits); with float targets the raw outputs.
        progress: a tqdm bar per epoch when tqdm is installed (a widget in Jupyter with
            ipywidgets, else text redrawn at most once a second outside a terminal; none
            while the documentation builds) and one printed line per epoch; ``False``
            prints nothing.
        early_stopping: ``None`` or a patience ``p``: stop after ``p`` consecutive epochs whose
            monitored loss (validation, else training) is not below the best so far.
        check_finite: raise ``FloatingPointError`` naming the epoch and step as soon as a batch
            loss is NaN or infinite (the usual sign of a too-large learning rate).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
    if early_stopping is not None and (isinstance(early_stopping, bool) or not isinstance(early_stopping, numbers.Integral)
                                       or early_stopping < 1):
        raise ValueError(f"fit: early_stopping must be None or a patience >= 1 (epochs), got {early_stopping!r}")
    from minidl.optim.lr import ReduceOnPlateau

    plateau = isinstance(scheduler, ReduceOnPlateau)
    groups = getattr(optimizer, "param_groups", None)
    if scheduler is not None and groups and not any(g.get("learning_rate") is scheduler for g in groups):
        warnings.warn("fit: the scheduler is stepped but the optimizer does not read it; build the optimizer "
                      "with learning_rate=scheduler", stacklevel=2)
    metric_fns = _metric_list(metrics)
    history = History()
    was_training = model.training
    best, bad_epochs = math.inf, 0
    try:
        for epoch in range(int(epochs)):
            model.train()
            total, count, y_true, y_pred, step = 0.0, 0, [], [], 0
            try:
                n_batches = len(loader)
            except TypeError:
                n_batches = None
            bar = progress_bar(n_batches, desc=f"epoch {epoch + 1}/{epochs}") if progress else None
            start = time.perf_counter()
            for step, (xb, yb) in enumerate(loader, start=1):
                history.lr.append(_current_lr(optimizer, scheduler))
                output = model(xb)
                batch_loss = float(loss(output, yb))
                if check_finite and not math.isfinite(batch_loss):
                    raise FloatingPointError(
                        f"fit: the loss became {batch_loss} at epoch {epoch + 1}, step {step} "
                        f"(learning rate {history.lr[-1]:.4g}); the learning rate may be too large")
                optimizer.zero_grad()
                _backward_without_input_grad(model, loss.backward())   # dL/d(data): nobody needs it
                optimizer.step()
                if scheduler is not None and scheduler_interval == "step":
                    scheduler.step(batch_loss) if plateau else scheduler.step()
                total += batch_loss * len(xb)
                count += len(xb)
                if metric_fns:
                    y_true.append(np.asarray(yb))
                    y_pred.append(_predictions(output, yb))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{batch_loss:.4f}", refresh=False)   # redraws follow mininterval
            history.epoch_time.append(time.perf_counter() - start)
            if bar is not None:
                bar.close()
            if count == 0:
                raise ValueError("fit: the training loader yielded no batches")
            history.steps_per_epoch = step
            history.train_loss.append(total / count)
            if metric_fns:
                labels, predicted = np.concatenate(y_true), np.concatenate(y_pred)
                for name, fn in metric_fns:
                    history.metrics.setdefault(f"train_{name}", []).append(float(fn(labels, predicted)))
            if val_loader is not None:
                result = evaluate(model, loss, val_loader, metric_fns)
                history.val_loss.append(result.pop("loss"))
                for name, value in result.items():
                    history.metrics.setdefault(f"val_{name}", []).append(value)
            monitored = history.val_loss[-1] if val_loader is not None else history.train_loss[-1]
            if scheduler is not None and scheduler_interval == "epoch":
                scheduler.step(monitored) if plateau else scheduler.step()
            if progress:
                _print_epoch(history, epoch, epochs, bar)
            if monitored < best:
                best, bad_epochs, history.best_epoch = monitored, 0, epoch
            else:
                bad_epochs += 1
                if early_stopping is not None and bad_epochs >= early_stopping:
                    history.stopped_early = True
                    if progress:
                        print(f"early stopping: no improvement for {bad_epochs} epochs "
                              f"(best epoch {history.best_epoch + 1})")
                    break
    finally:
        model.train(was_training)
    return history


def _print_epoch(history, epoch, epochs, bar):
    parts = [f"epoch {epoch + 1}/{epochs}", f"train_loss {history.train_loss[-1]:.4f}"]
    if history.val_loss:
        parts.append(f"val_loss {history.val_loss[-1]:.4f}")
    parts += [f"{name} {values[-1]:.4f}" for name, values in history.metrics.items()]
    parts.append(f"lr {history.lr[-1]:.4g}")
    parts.append(f"({history.epoch_time[-1]:.2f} s)")
    line = "  ".join(parts)
    if bar is not None:
        type(bar).write(line)         # the bar's own class: no second tqdm.auto import
    else:
        print(line)

"""minidl.diagnostics: watch activations and gradients layer by layer.

Tutorials 05–08 and 11 use it to show a signal's variance kept or lost with depth::

    probe = Probe(model)                    # wraps every leaf module's forward/backward
    logits = model(x)
    loss = criterion(logits, y)
    model.backward(criterion.backward())
    print(probe.table())                    # per layer: activation mean/std, gradient mean/std
    probe.activation_std()                  # ndarray, one value per probed layer
    probe.plot(ax)                          # matplotlib (optional)
    probe.remove()                          # or: ``with Probe(model) as probe: ...``

For each probed module it records, per call:

* ``forward``:  statistics of the module's output ``y`` (the activation),
* ``backward``: statistics of ``dL/dy`` the module receives (the gradient at its output),
* ``params``:   statistics of each of its own parameters' ``.grad`` after its backward.

How: the probe sets instance attributes ``module.forward`` / ``module.backward`` that call
the original method and record the result; :meth:`Probe.remove` deletes them, so the class
and every other instance are untouched and no ``Module`` change is needed. A deep copy of
a probed model (e.g. gradcheck's) runs its own methods without recording.
"""
import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Probe", "TensorStats", "LayerRecord", "tensor_stats", "plot_stats"]


@dataclass
class TensorStats:
    """Summary of one array: ``mean``, ``std`` (population), ``min``, ``max``, ``norm``
    (L2), ``zero_fraction``, ``shape``; ``histogram = (counts, edges)`` if requested;
    ``extra`` holds user statistics (name -> float)."""
    mean: float
    std: float
    min: float
    max: float
    norm: float
    zero_fraction: float
    shape: tuple
    histogram: tuple = None
    extra: dict = field(default_factory=dict)


def tensor_stats(x, bins=None, range=None, extra=None) -> TensorStats:
    """:class:`TensorStats` of ``x`` (sums in float64 so float32 inputs do not lose digits)."""
    x = np.asarray(x)
    if x.size == 0:
        nan = float("nan")
        return TensorStats(nan, nan, nan, nan, 0.0, nan, x.shape)
    x64 = x.astype(np.float64, copy=False)
    hist = None
    if bins is not None:
        finite = x64[np.isfinite(x64)]
        hist = np.histogram(finite, bins=bins, range=range)
    # An exploded activation (inf/nan) is a result to report, not an error: no warnings.
    with np.errstate(all="ignore"):
        return TensorStats(
            mean=float(x64.mean()), std=float(x64.std()), min=float(x64.min()), max=float(x64.max()),
            norm=float(np.sqrt(np.vdot(x64.ravel(), x64.ravel()))), zero_fraction=float(np.mean(x64 == 0)),
            shape=tuple(x.shape), histogram=hist,
            extra={name: float(fn(x)) for name, fn in (extra or {}).items()},
        )


@dataclass
class LayerRecord:
    """Everything recorded for one module: lists with one entry per call."""
    name: str
    kind: str
    forward: list = field(default_factory=list)
    backward: list = field(default_factory=list)
    params: dict = field(default_factory=dict)        # parameter name -> [TensorStats, ...]
    last_output: np.ndarray = None                    # copies, only with keep=True
    last_grad: np.ndarray = None

    @property
    def label(self):
        return f"{self.name} ({self.kind})" if self.name else self.kind


class _Recorder:
    """The instance attribute that replaces ``module.forward`` / ``module.backward``."""

    def __init__(self, probe, module, attr, original):
        self.probe, self.module, self.attr, self.original = probe, module, attr, original

    def _call_original(self, *args, **kwargs):
        if self.original is not None:
            return self.original(*args, **kwargs)
        return getattr(type(self.module), self.attr)(self.module, *args, **kwargs)

    def __call__(self, *args, **kwargs):
        result = self._call_original(*args, **kwargs)
        probe = self.probe
        if probe is not None and probe.enabled:
            if self.attr == "forward":
                probe._record_forward(self.module, result)
            else:
                probe._record_backward(self.module, args[0] if args else kwargs.get("grad_output"))
        return result

    def __deepcopy__(self, memo):
        # The copy of a probed module runs its own methods and records nothing.
        import copy

        module = memo.get(id(self.module), self.module)
        original = copy.deepcopy(self.original, memo) if self.original is not None else None
        return _Recorder(None, module, self.attr, original)

    def __reduce__(self):
        return (_Recorder, (None, self.module, self.attr, self.original))


def _leaf(name, module, root):
    return module is not root and next(module.children(), None) is None


class Probe:
    """Record activation and gradient statistics of a model's modules, layer by layer.

    ``Probe(model, modules=None, bins=None, range=None, keep=False, extra=None)``

    * ``modules``: which submodules to probe. ``None``: every leaf module (no children);
      ``"all"``: every submodule but the model itself; a class or tuple of classes;
      a list of names (as in ``named_modules()``); or ``fn(name, module) -> bool``.
    * ``bins`` / ``range``: also keep a histogram (``np.histogram`` arguments).
    * ``keep``: keep a copy of the last output and last incoming gradient of each layer.
    * ``extra``: ``{name: fn(array) -> float}`` computed on every recorded array, e.g.
      ``{"saturated": lambda y: np.mean(1 - y**2 < 0.01)}`` for tanh outputs.

    The probe is attached on construction; ``remove()`` (or leaving a ``with`` block)
    restores the modules. ``enabled = False`` pauses recording; ``clear()`` forgets.
    """

    def __init__(self, model, modules=None, bins=None, range=None, keep=False, extra=None):
        from minidl.nn.module import Module

        if not isinstance(model, Module):
            raise TypeError(f"Probe expects a minidl Module, got {type(model).__name__}")
        self.model = model
        self.bins, self.range, self.keep, self.extra = bins, range, bool(keep), dict(extra or {})
        self.enabled = True
        self.records = OrderedDict()
        self._by_module = {}
        self._saved = []                   # (module, attr, previous instance attribute, recorder)
        selected = [(n, m) for n, m in model.named_modules() if self._selected(n, m, modules)]
        if not selected:
            raise ValueError(f"Probe: no module of {type(model).__name__} matches modules={modules!r}")
        for name, module in selected:
            self.records[name] = LayerRecord(name=name, kind=type(module).__name__)
            self._by_module[id(module)] = self.records[name]
        self._attach([m for _, m in selected])

    def _selected(self, name, module, modules):
        if modules is None:
            return _leaf(name, module, self.model) or (module is self.model and next(module.children(), None) is None)
        if module is self.model and modules == "all":
            return False
        if modules == "all":
            return True
        if isinstance(modules, type) or (isinstance(modules, tuple) and all(isinstance(t, type) for t in modules)):
            return isinstance(module, modules)
        if callable(modules):
            return bool(modules(name, module))
        return name in set(modules)

    def _attach(self, modules):
        for module in modules:
            for attr in ("forward", "backward"):
                old = module.__dict__.get(attr)          # a user's own instance attribute, if any
                recorder = _Recorder(self, module, attr, old)
                self._saved.append((module, attr, old, recorder))
                object.__setattr__(module, attr, recorder)

    def remove(self):
        """Restore every probed module's own ``forward``/``backward``. Records are kept.

        If another probe was attached on top of this one, this one's wrappers stay in its
        chain as silent pass-throughs, so removing probes in any order is safe."""
        for module, attr, old, recorder in reversed(self._saved):
            recorder.probe = None
            if module.__dict__.get(attr) is not recorder:
                continue                      # someone wrapped on top of us: stay, silently
            # Unwrap down to the first live wrapper or the module's own method.
            while isinstance(old, _Recorder) and old.probe is None:
                old = old.original
            if old is not None:
                object.__setattr__(module, attr, old)
            else:
                module.__dict__.pop(attr, None)
        self._saved = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def clear(self):
        """Forget every recorded call (keeps the probe attached)."""
        for rec in self.records.values():
            rec.forward.clear()
            rec.backward.clear()
            rec.params.clear()
            rec.last_output = rec.last_grad = None

    # -- recording ------------------------------------------------------------------------
    def _stats(self, array):
        return tensor_stats(array, self.bins, self.range, self.extra)

    def _record_forward(self, module, output):
        rec = self._by_module.get(id(module))
        if rec is None or not isinstance(output, np.ndarray):
            return
        rec.forward.append(self._stats(output))
        if self.keep:
            rec.last_output = output.copy()

    def _record_backward(self, module, grad_output):
        rec = self._by_module.get(id(module))
        if rec is None:
            return
        if isinstance(grad_output, np.ndarray):
            rec.backward.append(self._stats(grad_output))
            if self.keep:
                rec.last_grad = grad_output.copy()
        for pname, p in module._parameters.items():
            if p is not None:
                rec.params.setdefault(pname, []).append(self._stats(p.grad))

    # -- reading --------------------------------------------------------------------------
    @property
    def layer_names(self):
        return list(self.records)

    def series(self, which="forward", stat="std", call=-1, param="weight"):
        """One value per probed layer: ``stat`` (a TensorStats field or an ``extra`` name) of
        call number ``call`` (default: the last) of ``which`` = "forward" (activations),
        "backward" (gradients at the outputs) or "param" (``param``'s gradient). Layers with no
        such record give NaN."""
        if which not in ("forward", "backward", "param"):
            raise ValueError(f"which must be 'forward', 'backward' or 'param', got {which!r}")
        values = []
        for rec in self.records.values():
            calls = rec.params.get(param, []) if which == "param" else getattr(rec, which)
            if not calls or not -len(calls) <= call < len(calls):
                values.append(math.nan)
                continue
            s = calls[call]
            values.append(s.extra[stat] if stat in s.extra else float(getattr(s, stat)))
        return np.array(values)

    def activation_std(self, call=-1):
        return self.series("forward", "std", call)

    def gradient_std(self, call=-1):
        return self.series("backward", "std", call)

    def table(self, call=-1, stats=("mean", "std")):
        """A plain-text table of the last (or ``call``-th) forward/backward per layer."""
        cols = [("activation", "forward"), ("gradient", "backward")]
        header = ["layer"] + [f"{label} {s}" for label, _ in cols for s in stats] + ["weight grad std"]
        columns = [[rec.label for rec in self.records.values()]]
        for _, which in cols:
            for s in stats:
                columns.append([_fmt(v) for v in self.series(which, s, call)])
        columns.append([_fmt(v) for v in self.series("param", "std", call)])
        widths = [max(len(h), *(len(c) for c in col)) for h, col in zip(header, columns)]
        lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))),
                 "  ".join("-" * w for w in widths)]
        for row in zip(*columns):
            lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def plot(self, ax=None, stat="std", which=("forward", "backward"), logy=True, label=None):
        """Plot ``stat`` per layer (x = layer index) for activations and/or gradients.

        Needs matplotlib (``pip install "minidl[tutorials]"``). Returns the axes."""
        return plot_stats({label or "": self}, ax=ax, stat=stat, which=which, logy=logy)


def plot_stats(probes, ax=None, stat="std", which="forward", logy=True, call=-1):
    """Plot ``stat`` per layer for several probes on one axes: ``probes`` is
    ``{label: Probe}`` (e.g. one per initialisation). Returns the axes."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:      # matplotlib is an optional extra
        raise ImportError('plotting needs matplotlib: pip install "minidl[tutorials]"') from exc
    if ax is None:
        ax = plt.gca()
    whiches = (which,) if isinstance(which, str) else tuple(which)
    for label, probe in probes.items():
        for w in whiches:
            y = probe.series(w, stat, call)
            name = {"forward": "activation", "backward": "gradient", "param": "weight grad"}[w]
            text = f"{label} {name}" if len(whiches) > 1 or not label else label
            ax.plot(np.arange(1, len(y) + 1), y, marker=".", label=text.strip())
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel(stat)
    ax.legend(fontsize="small")
    return ax


def _fmt(v):
    if math.isnan(v):
        return "-"
    return f"{v:.3e}" if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4) else f"{v:.4f}"

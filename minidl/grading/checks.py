"""Soft checks: compare a student's values with the reference and record the outcome.

Every ``check_*`` records a :class:`CheckResult` on the running test and returns True/False
without stopping it, so one wrong output costs its weight, not the whole test:

    score = points × (passed weight) / (total weight)          (a test that runs to its end)

A ``require_*`` variant records the same result and, on failure, stops the test (score 0): use
it when later checks make no sense without it (``require_shape`` before comparing values). Its
weight defaults to 0, so passing a gate does not dilute the partial credit of the checks. A
test that stops early — a failed require, a plain ``assert``, a student exception or timeout —
scores 0.

Comparison of floats (``check_close``): type, shape, dtype policy and finiteness first, then

    |actual − expected| ≤ atol + rtol·|expected|      element-wise

with defaults chosen from the expected dtype (rtol = 1e-2 / 1e-4 / 1e-7 for float16/32/64)
and its scale (atol = rtol × RMS(expected), or rtol when expected is all zeros). A failure
message names the max abs error, the symmetric relative error |a − b| / max(floor, |a| + |b|)
(floor = atol), the worst index and the two values there. Integer and bool arrays compare
exactly (``check_equal``).

Outside a graded test (no :func:`recording` active) a failed check raises AssertionError, so
the functions also work in plain pytest files and at the REPL.
"""
import contextlib

import numpy as np

from minidl.grading import statistics
from minidl.grading.protocol import Frozen, Handle

__all__ = ["CheckResult", "RequireFailed", "Recorder", "recording", "current_recorder", "default_tolerances",
           "check_close", "check_equal", "check_shape", "check_dtype", "check_unchanged", "check_fraction",
           "check_mean", "check_std", "check_grad", "check_true", "frozen", "leaderboard"]

RTOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-7}
MESSAGE_CAP = 2000


class CheckResult:
    __slots__ = ("name", "passed", "weight", "message", "required")

    def __init__(self, name, passed, weight, message, required=False):
        self.name, self.passed, self.weight, self.message, self.required = name, bool(passed), float(weight), \
            message[:MESSAGE_CAP], required

    def line(self):
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}" + ("" if self.passed else f": {self.message}")

    def as_dict(self):
        return {"name": self.name, "passed": self.passed, "weight": self.weight, "message": self.message}


class RequireFailed(AssertionError):
    """A ``require_*`` check failed: the test stops here."""


class Recorder:
    """The checks (and leaderboard values) recorded during one test."""

    def __init__(self):
        self.results = []
        self.leaderboard = []

    def add(self, result):
        self.results.append(result)

    @property
    def total_weight(self):
        return sum(r.weight for r in self.results)

    @property
    def passed_weight(self):
        return sum(r.weight for r in self.results if r.passed)

    def fraction(self):
        """Passed weight / total weight (1.0 when nothing was recorded)."""
        total = self.total_weight
        return 1.0 if total == 0 else self.passed_weight / total

    @property
    def all_passed(self):
        return all(r.passed for r in self.results)


_stack = []


@contextlib.contextmanager
def recording():
    """Record checks into a fresh :class:`Recorder` for the duration of the block."""
    rec = Recorder()
    _stack.append(rec)
    try:
        yield rec
    finally:
        _stack.remove(rec)


def current_recorder():
    return _stack[-1] if _stack else None


def _record(name, passed, message, weight, required):
    rec = current_recorder()
    result = CheckResult(name, passed, weight, message if not passed else "", required)
    if rec is None:
        if not passed:
            raise AssertionError(f"{name}: {message}")
        return True
    rec.add(result)
    if required and not passed:
        raise RequireFailed(f"{name}: {message}")
    return bool(passed)


# -- helpers --------------------------------------------------------------------------------
def describe(value):
    """A short description of a value a student returned ("an array of shape (3,) and dtype
    float32", "a NoneType", "a Sneaky object ..."), for messages."""
    return _describe(value)


def _describe(value):
    if isinstance(value, Handle):
        return f"a {value.type_name} object (only arrays, numbers, strings and lists/tuples/dicts can be graded)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _fmt_index(idx):
    return "(" + ", ".join(str(int(i)) for i in idx) + ("," if len(idx) == 1 else "") + ")"


def default_tolerances(expected):
    """``(rtol, atol)`` for comparing against ``expected`` (see the module docstring)."""
    expected = np.asarray(expected)
    dtype = expected.dtype if expected.dtype.kind == "f" else np.dtype(np.float64)
    rtol = RTOL.get(dtype, 1e-7)
    finite = expected[np.isfinite(expected)] if expected.dtype.kind == "f" else expected
    peak = float(np.max(np.abs(finite.astype(np.float64)))) if finite.size else 0.0
    # RMS computed as peak·√mean((x/peak)²) so that 1e200 does not overflow when squared
    scale = peak * float(np.sqrt(np.mean(np.square(finite.astype(np.float64) / peak)))) if peak > 0 else 0.0
    return rtol, rtol * scale if scale > 0 else rtol


def _compare_arrays(actual, expected, rtol, atol, dtype_policy):
    """None when close, else the failure message."""
    if not isinstance(actual, np.ndarray):
        if isinstance(actual, (int, float, np.generic)) and not isinstance(actual, bool) and expected.ndim == 0:
            actual = np.asarray(actual)
        else:
            return f"expected an array of shape {expected.shape} ({expected.dtype}), got {_describe(actual)}"
    if actual.shape != expected.shape:
        return f"expected shape {expected.shape}, got shape {actual.shape}"
    if actual.dtype.kind not in "fiub":
        return f"expected a numeric array, got dtype {actual.dtype}"
    if dtype_policy == "same" and actual.dtype != expected.dtype:
        return f"expected dtype {expected.dtype}, got {actual.dtype} (values not compared)"
    if dtype_policy == "float" and actual.dtype.kind != "f":
        return f"expected a floating-point array, got dtype {actual.dtype}"
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    bad_nan = np.isnan(a) != np.isnan(e)
    bad_inf = np.isinf(a) & ~(np.isinf(e) & (np.sign(a) == np.sign(e)))
    if bad_nan.any() or bad_inf.any():
        idx = np.unravel_index(int(np.argmax(bad_nan | bad_inf)), a.shape)
        return f"got {float(a[idx])!r} at index {_fmt_index(idx)} where {float(e[idx])!r} was expected ({int((bad_nan | bad_inf).sum())} such entries)"
    both = np.isfinite(a) & np.isfinite(e)
    err = np.where(both, np.abs(a - e), 0.0)
    allowed = atol + rtol * np.abs(np.where(both, e, 0.0))
    bad = err > allowed
    if not bad.any():
        return None
    idx = np.unravel_index(int(np.argmax(np.where(bad, err, -1.0))), a.shape)
    sym = err / np.maximum(atol, np.abs(np.where(both, a, 0)) + np.abs(np.where(both, e, 0)))
    return (f"{int(bad.sum())} of {a.size} values differ; max abs error {float(err.max()):.3g}, "
            f"max symmetric relative error {float(sym.max()):.3g} (rtol {rtol:.1g}, atol {atol:.2g}); "
            f"worst at index {_fmt_index(idx)}: got {a[idx]:.8g}, expected {e[idx]:.8g}")


# -- the checks -----------------------------------------------------------------------------
def check_close(actual, expected, rtol=None, atol=None, name="values", weight=1.0, dtype="same",
                _required=False):
    """Values close to ``expected`` (arrays, scalars, or tuples/lists/dicts of them).
    ``dtype``: ``"same"`` (actual dtype must equal expected's), ``"float"`` (any float) or
    ``"any"``."""
    message = _close_message(actual, expected, rtol, atol, dtype)
    return _record(name, message is None, message or "", weight, _required)


def _close_message(actual, expected, rtol, atol, dtype):
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return f"expected a {type(expected).__name__} of length {len(expected)}, got {_describe(actual)}" + \
                (f" of length {len(actual)}" if isinstance(actual, (tuple, list)) else "")
        for i, (a, e) in enumerate(zip(actual, expected)):
            m = _close_message(a, e, rtol, atol, dtype)
            if m:
                return f"item {i}: {m}"
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return f"expected a dict with keys {sorted(expected)}, got {_describe(actual)}" + \
                (f" with keys {sorted(actual)}" if isinstance(actual, dict) else "")
        for k in expected:
            m = _close_message(actual[k], expected[k], rtol, atol, dtype)
            if m:
                return f"[{k!r}]: {m}"
        return None
    if isinstance(expected, (bool, np.bool_)) or expected is None or isinstance(expected, str):
        return None if (type(actual) is type(expected) and actual == expected) else \
            f"expected {expected!r}, got {_describe(actual) if isinstance(actual, Handle) else repr(actual)[:200]}"
    exp = np.asarray(expected)
    if exp.dtype.kind not in "fiub":
        raise TypeError(f"check_close: cannot compare against {type(expected).__name__}")
    if isinstance(actual, (bool, np.bool_)):
        return f"expected a number, got {actual!r}"
    drtol, datol = default_tolerances(exp)
    policy = dtype if isinstance(expected, np.ndarray) else "any"
    return _compare_arrays(actual, exp, drtol if rtol is None else rtol, datol if atol is None else atol, policy)


def check_equal(actual, expected, name="values", weight=1.0, _required=False):
    """Exact equality: arrays by shape, dtype kind and every element (NaN equals NaN);
    anything else by type and ``==`` on the trusted side."""
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            message = f"expected an array of shape {expected.shape}, got {_describe(actual)}"
        elif actual.shape != expected.shape:
            message = f"expected shape {expected.shape}, got shape {actual.shape}"
        elif actual.dtype.kind != expected.dtype.kind and not {actual.dtype.kind, expected.dtype.kind} <= set("iu"):
            message = f"expected dtype {expected.dtype}, got {actual.dtype}"
        else:
            same = actual == expected
            if actual.dtype.kind == "f":
                same |= np.isnan(actual) & np.isnan(expected)
            if same.all():
                message = None
            else:
                idx = np.unravel_index(int(np.argmin(same)), same.shape)
                message = (f"{int((~same).sum())} of {same.size} entries differ; first at index "
                           f"{_fmt_index(idx)}: got {actual[idx].item()!r}, expected {expected[idx].item()!r}")
    else:
        numeric = (int, float, np.integer, np.floating)
        ok_type = (isinstance(actual, numeric) and isinstance(expected, numeric)
                   and not isinstance(actual, bool)) or type(actual) is type(expected)
        message = None if ok_type and actual == expected else \
            f"expected {expected!r}, got {_describe(actual) if isinstance(actual, Handle) else repr(actual)[:200]}"
    return _record(name, message is None, message or "", weight, _required)


def check_shape(actual, shape, name="shape", weight=1.0, _required=False):
    shape = tuple(shape)
    got = getattr(actual, "shape", None) if isinstance(actual, np.ndarray) else None
    message = None if got == shape else (f"expected shape {shape}, got {got}" if got is not None
                                         else f"expected an array of shape {shape}, got {_describe(actual)}")
    return _record(name, message is None, message or "", weight, _required)


def check_dtype(actual, dtype, name="dtype", weight=1.0, _required=False):
    dtype = np.dtype(dtype)
    got = actual.dtype if isinstance(actual, np.ndarray) else None
    # never ``got == dtype`` with got None: NumPy 2 says np.dtype("float64") == None is True
    message = None if (got is not None and got == dtype) else (f"expected dtype {dtype}, got {got}" if got is not None
                                         else f"expected an array of dtype {dtype}, got {_describe(actual)}")
    return _record(name, message is None, message or "", weight, _required)


def check_unchanged(before, after, name="input not modified", weight=1.0, _required=False):
    """``after`` (the argument after the call) equals ``before`` (a copy taken before)."""
    before, after = np.asarray(before), np.asarray(after)
    same = before.shape == after.shape and np.array_equal(before, after, equal_nan=before.dtype.kind == "f")
    message = None
    if not same:
        if before.shape != after.shape:
            message = f"the argument changed shape from {before.shape} to {after.shape}"
        else:
            diff = before != after
            idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
            message = (f"your function modified its input in place ({int(diff.sum())} of {diff.size} entries "
                       f"changed; at {_fmt_index(idx)}: was {before[idx].item()!r}, now {after[idx].item()!r}); work on a copy")
    return _record(name, same, message or "", weight, _required)


def check_true(condition, message, name="condition", weight=1.0, _required=False):
    """Record a boolean the test computed itself (``message`` explains a failure)."""
    return _record(name, bool(condition), message, weight, _required)


def _band_check(band_fn, name, weight, _required, *args, **kwargs):
    try:
        band = band_fn(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        return _record(name, False, f"cannot be checked: {exc}", weight, _required)
    return _record(name, band.passed, band.message, weight, _required)


def check_fraction(mask, p, n_sigma=6.0, name="fraction", weight=1.0, _required=False):
    """Fraction of nonzero entries of ``mask`` within ``n_sigma`` standard errors of ``p``."""
    if not isinstance(mask, np.ndarray):
        return _record(name, False, f"expected an array, got {_describe(mask)}", weight, _required)
    return _band_check(statistics.fraction_band, name, weight, _required, mask, p, n_sigma=n_sigma)


def check_mean(values, mean, std=None, n_sigma=6.0, name="mean", weight=1.0, _required=False):
    if not isinstance(values, np.ndarray):
        return _record(name, False, f"expected an array, got {_describe(values)}", weight, _required)
    return _band_check(statistics.mean_band, name, weight, _required, values, mean, std=std, n_sigma=n_sigma)


def check_std(values, std, mean=None, kurtosis=None, n_sigma=6.0, name="std", weight=1.0, _required=False):
    if not isinstance(values, np.ndarray):
        return _record(name, False, f"expected an array, got {_describe(values)}", weight, _required)
    return _band_check(statistics.std_band, name, weight, _required, values, std, mean=mean, kurtosis=kurtosis,
                       n_sigma=n_sigma)


def _bug_ratio(analytic, numeric, ratios):
    """Name the classic bug when analytic ≈ r · numeric for a telling r (×2, sign, ×1/N...)."""
    num = float(np.vdot(numeric, numeric))
    if num == 0:
        return ""
    r = float(np.vdot(analytic, numeric)) / num
    if not np.isfinite(r) or np.linalg.norm(analytic - r * numeric) > 1e-4 * np.linalg.norm(analytic):
        return ""
    candidates = {f"×{k}": float(v) for k, v in (ratios or {}).items()}      # the named ones first
    candidates.update({f"×1/{k}": 1.0 / float(v) for k, v in (ratios or {}).items() if v})
    candidates.update({"−1 (sign flipped)": -1.0, "×2": 2.0, "×1/2": 0.5})
    for label, value in candidates.items():
        if abs(r - value) <= 1e-4 * max(1.0, abs(value)):
            return f"; your gradient is the numerical one {label} (ratio {r:.6g})"
    return f"; your gradient is the numerical one times {r:.6g}" if abs(r - 1) > 1e-4 else ""


def check_grad(fn_spec, x, analytic, dout=None, eps=1e-6, threshold=1e-7, name="gradient", weight=1.0,
               ratios=None, _required=False):
    """``analytic`` ≈ the float64 centered-difference gradient of J = Σ f(x) ⊙ dout.

    ``fn_spec``: a local callable ``f(x)`` (trusted reference code), or ``student.spec(name,
    *args, output=i)`` (differenced inside the worker in one call). Compared with
    ``minidl.gradcheck.relative_difference`` against ``threshold``. ``ratios`` (e.g.
    ``{"keep_prob": 0.8, "N": 32}``) adds telling factors to the bug diagnosis (×2, sign
    flip and ×1/2 are always tried; ×N and ×1/N for each given value).
    """
    from minidl.gradcheck import numerical_gradient, relative_difference

    x = np.array(x, dtype=np.float64, copy=True)
    if hasattr(fn_spec, "numerical_gradient"):
        numeric = fn_spec.numerical_gradient(x, dout=dout, eps=eps)
    else:
        d = None if dout is None else np.asarray(dout, dtype=np.float64)

        def objective(v):
            out = np.asarray(fn_spec(v), dtype=np.float64)
            return out.sum() if d is None else np.sum(out * d)

        numeric = numerical_gradient(objective, x, eps)
    if not isinstance(analytic, np.ndarray) or analytic.shape != x.shape:
        return _record(name, False, f"expected a gradient of shape {x.shape}, got {_describe(analytic)}",
                       weight, _required)
    a = analytic.astype(np.float64)
    if not np.all(np.isfinite(a)):
        return _record(name, False, "the gradient contains NaN or inf", weight, _required)
    diff = relative_difference(a, numeric)
    if diff < threshold:
        return _record(name, True, "", weight, _required)
    err = np.abs(a - numeric)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
    message = (f"relative difference {diff:.3e} ≥ {threshold:.0e}; worst at index {_fmt_index(idx)}: "
               f"analytic {a[idx]:.8g}, numerical {numeric[idx]:.8g}" + _bug_ratio(a, numeric, ratios))
    return _record(name, False, message, weight, _required)


def frozen(seed):
    """A seed that becomes a fresh ``np.random.default_rng(seed)`` on every call it is passed
    to, so a random function draws the same numbers on every evaluation."""
    return Frozen(seed)


def leaderboard(name, value, order="desc"):
    """Record a leaderboard value (Gradescope ``leaderboard``) from the running test."""
    rec = current_recorder()
    if rec is not None:
        rec.leaderboard.append({"name": str(name), "value": value, **({"order": order} if order == "asc" else {})})


def _make_require(check):
    def require(*args, weight=0.0, **kwargs):
        return check(*args, _required=True, weight=weight, **kwargs)

    require.__name__ = check.__name__.replace("check_", "require_")
    require.__doc__ = (f"Like :func:`{check.__name__}`, but a failure stops the test (score 0). Its weight "
                       f"defaults to 0: a gate, not a share of the partial credit.")
    return require


for _check in (check_close, check_equal, check_shape, check_dtype, check_unchanged, check_fraction, check_mean,
               check_std, check_grad, check_true):
    globals()[_check.__name__.replace("check_", "require_")] = _make_require(_check)
    __all__.append(_check.__name__.replace("check_", "require_"))

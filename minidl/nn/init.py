"""minidl.nn.init: weight initialisation with torch.nn.init's names, arguments and formulas.

Tutorials: 04 (zero init and symmetry), 05 (fixed variance), 06 (Xavier derivation),
07 (Kaiming for ReLU), 08 (exploding/vanishing with depth), 09 (orthogonal).

Every function fills its argument *in place* and returns it. The argument is an ndarray or
a :class:`~minidl.nn.Parameter` (its ``.data`` is filled); the dtype is kept. Random fills
draw from ``rng=`` (a ``numpy.random.Generator``), else a fresh generator from ``seed=``,
else the global one (:func:`minidl.manual_seed`). Numbers are drawn in float64 and then
stored, so float32 and float64 weights get the same values from the same seed.

The variance argument in one paragraph (seed 000 §3.2). For one unit ``y = Σ_i w_i x_i``
with ``n`` independent zero-mean inputs and weights::

    Var(y) = n · Var(w) · Var(x).

Keeping ``Var(y) = Var(x)`` in the forward pass needs ``Var(w) = 1/fan_in``; keeping the
gradient's variance in the backward pass needs ``Var(w) = 1/fan_out``. Xavier/Glorot takes
the compromise ``Var(w) = 2/(fan_in + fan_out)``. ReLU zeroes half of its inputs, halving
the second moment, so Kaiming/He doubles it: ``Var(w) = 2/fan_in``. A non-linearity's
*gain* (``calculate_gain``) is the factor the std is multiplied by to compensate. A uniform
``U(−b, b)`` has variance ``b²/3``, so the bound matching a std ``σ`` is ``b = √3·σ``.

Fans are computed as in PyTorch from weights laid out ``(out, in, *kernel)``:
``fan_in = in · Π kernel``, ``fan_out = out · Π kernel``.
"""
import math

import numpy as np

from minidl.nn.parameter import Parameter
from minidl.random import resolve_rng

__all__ = [
    "calculate_gain", "calculate_fan_in_and_fan_out", "zeros_", "ones_", "constant_", "eye_",
    "normal_", "uniform_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
    "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "variance_scaling_", "describe",
    "InitDescription",
]

_LINEAR_FNS = ("linear", "identity", "conv1d", "conv2d", "conv3d",
               "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")

# Keras' constant: the std of a standard normal truncated to [-2, 2]. Dividing the std by it
# before truncating makes the variance *after* truncation equal the requested one.
_TRUNCATED_NORMAL_STD = 0.87962566103423978


# -- helpers ------------------------------------------------------------------------------
def _array_of(tensor, fn, floating=True) -> np.ndarray:
    """The ndarray to fill: ``tensor`` itself or a Parameter's ``.data``."""
    array = tensor.data if isinstance(tensor, Parameter) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"init.{fn} expects an ndarray or a Parameter, got {type(tensor).__name__}")
    if floating and array.dtype.kind != "f":
        raise TypeError(f"init.{fn} fills floating arrays (float32/float64), got dtype {array.dtype}")
    if not floating and array.dtype.kind not in "biuf":
        raise TypeError(f"init.{fn} expects a numeric array, got dtype {array.dtype}")
    if not array.flags.writeable:
        raise ValueError(f"init.{fn}: the array is read-only")
    return array


def _shape_of(tensor_or_shape):
    if isinstance(tensor_or_shape, Parameter):
        return tensor_or_shape.data.shape
    if isinstance(tensor_or_shape, np.ndarray):
        return tensor_or_shape.shape
    if hasattr(tensor_or_shape, "weight") and isinstance(getattr(tensor_or_shape, "weight"), Parameter):
        return tensor_or_shape.weight.data.shape          # a layer: describe its weight
    try:
        shape = tuple(int(s) for s in tensor_or_shape)
    except TypeError:
        raise TypeError("expected an ndarray, a Parameter or a shape tuple, "
                        f"got {type(tensor_or_shape).__name__}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return shape


def _check_finite(fn, **values):
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"init.{fn}: {name} must be a number, got {type(v).__name__}")
        if not math.isfinite(v):
            raise ValueError(f"init.{fn}: {name} must be finite, got {v}")


def _check_std(fn, std, name="std"):
    _check_finite(fn, **{name: std})
    if std < 0:
        raise ValueError(f"init.{fn}: {name} must be >= 0, got {std}")


def _store(array, values):
    """Write float64 ``values`` into ``array`` (cast to its dtype), keeping its identity."""
    array[...] = values
    return array


def _fan(shape, mode, fn):
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"init.{fn}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return fan_in if mode.lower() == "fan_in" else fan_out


def _truncated_standard_normal(rng, size, a, b):
    """Samples of N(0, 1) restricted to [a, b] (a < b, standardised cut-offs), float64.

    As torch does: when the interval holds more than 30% of the mass, draw normals and
    redraw the ones outside; otherwise propose uniformly on [a, b] and accept with
    probability exp(-z²/2) / peak (rejection sampling), which does not stall on a narrow
    interval far in the tail.
    """
    mass = _normal_cdf(b) - _normal_cdf(a)
    if mass > 0.3:
        z = rng.standard_normal(size)
        bad = (z < a) | (z > b)
        while bad.any():
            z[bad] = rng.standard_normal(int(bad.sum()))
            bad = (z < a) | (z > b)
        return z
    mode = max(a, min(0.0, b))
    log_peak = -0.5 * mode * mode
    z = np.empty(size)
    pending = np.ones(size, dtype=bool)
    while pending.any():
        count = int(pending.sum())
        candidates = rng.uniform(a, b, count)
        accept = np.log(rng.random(count)) <= -0.5 * candidates ** 2 - log_peak
        idx = np.flatnonzero(pending)[accept]
        z.flat[idx] = candidates[accept]
        pending.flat[idx] = False
    return z


def _normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


# -- gains and fans -----------------------------------------------------------------------
def calculate_gain(nonlinearity, param=None):
    """The factor by which the weight std is scaled to make up for a non-linearity.

    ================= ===========================================
    nonlinearity      gain
    ================= ===========================================
    linear, conv*     1
    sigmoid           1
    tanh              5/3
    relu              √2          (ReLU halves E[y²]: multiply Var(w) by 2)
    leaky_relu        √(2 / (1 + negative_slope²)), slope ``param`` (default 0.01)
    selu              3/4
    ================= ===========================================

    Unknown names raise ValueError. ``calculate_gain("leaky_relu", 0.2)`` ≈ 1.3868.
    """
    if not isinstance(nonlinearity, str):
        raise ValueError(f"Unsupported nonlinearity {nonlinearity!r}")
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float, np.integer, np.floating)):
            negative_slope = float(param)
        else:
            raise ValueError(f"negative_slope {param!r} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{', '.join(_LINEAR_FNS + ('sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'))}")


def calculate_fan_in_and_fan_out(shape_or_array):
    """``(fan_in, fan_out)`` of a weight laid out ``(out, in, *kernel)``::

        receptive_field = Π kernel        (1 for a Linear weight (out, in))
        fan_in  = in  · receptive_field    inputs summed into one output unit
        fan_out = out · receptive_field    outputs one input unit contributes to

    Accepts an ndarray, a Parameter or a shape tuple. Fewer than 2 dimensions raise
    ValueError (a bias has no fan). ``Conv2d(3, 16, 5)``'s weight ``(16, 3, 5, 5)`` gives
    ``(75, 400)``.
    """
    shape = _shape_of(shape_or_array)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions, got shape {shape}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


# -- constants ----------------------------------------------------------------------------
def constant_(tensor, val):
    """Fill with ``val``. Every unit of a layer then computes the same thing (tutorial 04)."""
    array = _array_of(tensor, "constant_", floating=False)
    _check_finite("constant_", val=val)
    array.fill(val)
    return tensor


def zeros_(tensor):
    """Fill with 0 (fine for biases; for weights it keeps all units identical: tutorial 04)."""
    _array_of(tensor, "zeros_", floating=False).fill(0)
    return tensor


def ones_(tensor):
    """Fill with 1."""
    _array_of(tensor, "ones_", floating=False).fill(1)
    return tensor


def eye_(tensor):
    """Fill a 2-D array with the identity (ones on the main diagonal, ``W = I``)."""
    array = _array_of(tensor, "eye_", floating=False)
    if array.ndim != 2:
        raise ValueError(f"init.eye_: only 2-D arrays are supported, got shape {array.shape}")
    array[...] = np.eye(*array.shape)
    return tensor


# -- fixed distributions ------------------------------------------------------------------
def normal_(tensor, mean=0.0, std=1.0, *, rng=None, seed=None):
    """Fill with samples of N(mean, std²)."""
    array = _array_of(tensor, "normal_")
    _check_finite("normal_", mean=mean)
    _check_std("normal_", std)
    gen = resolve_rng(rng, seed)
    _store(array, gen.normal(mean, std, array.shape))
    return tensor


def uniform_(tensor, a=0.0, b=1.0, *, rng=None, seed=None):
    """Fill with samples of U(a, b): mean (a+b)/2, variance (b−a)²/12.

    ``U(−r, r)`` has variance ``r²/3``, so ``r = √(3σ²)`` matches N(0, σ²) (tutorial 05).
    """
    array = _array_of(tensor, "uniform_")
    _check_finite("uniform_", a=a, b=b)
    if a > b:
        raise ValueError(f"init.uniform_: expected a <= b, got a={a}, b={b}")
    gen = resolve_rng(rng, seed)
    _store(array, gen.uniform(a, b, array.shape))
    return tensor


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, *, rng=None, seed=None):
    """Fill with N(mean, std²) restricted to ``[a, b]`` — absolute cut-offs, as in torch.

    Values outside ``[a, b]`` are redrawn (not clipped), so the result follows the
    truncated density ``φ((x−mean)/std) / (std·(Φ(β) − Φ(α)))`` with
    ``α = (a−mean)/std``, ``β = (b−mean)/std``. With the defaults (a=−2, b=2) and std=1
    the cut is at ±2σ and the resulting std is 0.8796 (see :func:`variance_scaling_`).
    """
    array = _array_of(tensor, "trunc_normal_")
    _check_finite("trunc_normal_", mean=mean, a=a, b=b)
    _check_std("trunc_normal_", std)
    if not a < b:
        raise ValueError(f"init.trunc_normal_: expected a < b, got a={a}, b={b}")
    gen = resolve_rng(rng, seed)
    if std == 0:
        if not a <= mean <= b:
            raise ValueError(f"init.trunc_normal_: std=0 and mean={mean} outside [{a}, {b}]")
        array.fill(mean)
        return tensor
    z = _truncated_standard_normal(gen, array.shape, (a - mean) / std, (b - mean) / std)
    # The affine map can round a hair outside [a, b]; clip that rounding only.
    _store(array, np.clip(mean + std * z, a, b))
    return tensor


# -- variance scaling: Xavier / Glorot ----------------------------------------------------
def xavier_uniform_(tensor, gain=1.0, *, rng=None, seed=None):
    """Glorot & Bengio (2010), uniform: U(−bound, bound) with::

        std   = gain · √(2 / (fan_in + fan_out))
        bound = √3 · std = gain · √(6 / (fan_in + fan_out))

    Derivation: the forward pass keeps Var(y) = Var(x) if Var(w) = 1/fan_in, the backward
    pass keeps the gradient's variance if Var(w) = 1/fan_out; the compromise is the
    harmonic mean 2/(fan_in + fan_out). ``gain`` is usually ``calculate_gain(nonlinearity)``.
    """
    array = _array_of(tensor, "xavier_uniform_")
    _check_finite("xavier_uniform_", gain=gain)
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, rng=rng, seed=seed)


def xavier_normal_(tensor, gain=1.0, *, rng=None, seed=None):
    """Glorot & Bengio (2010), normal: N(0, std²) with::

        std = gain · √(2 / (fan_in + fan_out))

    (see :func:`xavier_uniform_` for the derivation).
    """
    array = _array_of(tensor, "xavier_normal_")
    _check_finite("xavier_normal_", gain=gain)
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, rng=rng, seed=seed)


# -- variance scaling: Kaiming / He -------------------------------------------------------
def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", *, rng=None, seed=None):
    """He et al. (2015), uniform: U(−bound, bound) with::

        gain  = calculate_gain(nonlinearity, a)      (√2 for ReLU; a = leaky slope)
        std   = gain / √fan                          fan = fan_in or fan_out (``mode``)
        bound = √3 · std = gain · √(3 / fan)

    Derivation: for y = Σ w_i x_i with x = ReLU(previous), E[x²] = Var(prev)/2 because ReLU
    zeroes the negative half of a symmetric input; so Var(y) = fan_in · Var(w) · Var(prev)/2,
    and keeping Var(y) = Var(prev) needs Var(w) = 2/fan_in. ``mode="fan_in"`` preserves the
    forward variance, ``"fan_out"`` the backward one. With the defaults (leaky_relu, a=0)
    the gain is √2. Zero-size arrays are left unchanged.
    """
    array = _array_of(tensor, "kaiming_uniform_")
    _check_finite("kaiming_uniform_", a=a)
    fan = _fan(array.shape, mode, "kaiming_uniform_")
    if array.size == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, rng=rng, seed=seed)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", *, rng=None, seed=None):
    """He et al. (2015), normal: N(0, std²) with::

        std = calculate_gain(nonlinearity, a) / √fan      fan = fan_in or fan_out (``mode``)

    For ReLU this is Var(w) = 2/fan_in (see :func:`kaiming_uniform_` for the derivation).
    """
    array = _array_of(tensor, "kaiming_normal_")
    _check_finite("kaiming_normal_", a=a)
    fan = _fan(array.shape, mode, "kaiming_normal_")
    if array.size == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, rng=rng, seed=seed)


# -- orthogonal ---------------------------------------------------------------------------
def orthogonal_(tensor, gain=1.0, method="qr", *, rng=None, seed=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013).

    The array is viewed as ``(rows, cols)`` with ``rows = shape[0]`` and the trailing
    dimensions flattened into ``cols``. A Gaussian matrix ``A`` of that shape is drawn, then

    * ``method="qr"``: ``A = QR``; ``Q ← Q · diag(sign(diag(R)))``. The sign correction
      makes the factorisation unique, which makes ``Q`` uniformly (Haar) distributed; without
      it LAPACK's sign convention biases the result. If ``rows < cols`` the transpose is
      factorised and ``Q`` transposed back.
    * ``method="svd"``: ``A = U S Vᵀ`` (thin SVD) and ``Q = U Vᵀ``, the orthogonal polar
      factor of ``A`` — the (semi-)orthogonal matrix nearest ``A``. Taking ``U`` alone (as
      some libraries do) inherits the SVD's sign convention and is not Haar; ``U Vᵀ`` does
      not depend on it (flipping a column of ``U`` flips the row of ``Vᵀ`` with it).

    Result: ``WᵀW = gain²·I`` when rows ≥ cols (orthonormal columns), ``WWᵀ = gain²·I`` when
    rows < cols (orthonormal rows). All singular values equal ``gain``, so repeated
    multiplication neither explodes nor vanishes (tutorial 09).
    """
    array = _array_of(tensor, "orthogonal_")
    _check_finite("orthogonal_", gain=gain)
    if array.ndim < 2:
        raise ValueError(f"init.orthogonal_: only arrays with 2 or more dimensions are supported, "
                         f"got shape {array.shape}")
    if method not in ("qr", "svd"):
        raise ValueError(f"init.orthogonal_: method must be 'qr' or 'svd', got {method!r}")
    if array.size == 0:
        return tensor
    rows = array.shape[0]
    cols = array.size // rows
    gen = resolve_rng(rng, seed)
    flat = gen.standard_normal((rows, cols))
    if method == "qr":
        if rows < cols:
            flat = flat.T
        q, r = np.linalg.qr(flat)
        d = np.sign(np.diag(r))
        d[d == 0] = 1.0                     # a zero pivot has probability 0; keep Q orthogonal
        q = q * d
        if rows < cols:
            q = q.T
    else:
        u, _, vt = np.linalg.svd(flat, full_matrices=False)
        q = u @ vt
    _store(array, (gain * q).reshape(array.shape))
    return tensor


# -- Keras VarianceScaling ----------------------------------------------------------------
def variance_scaling_(tensor, scale=1.0, mode="fan_in", distribution="truncated_normal", *,
                      rng=None, seed=None):
    """Keras' ``VarianceScaling`` (also Caffe's ``variance_norm`` FAN_IN / FAN_OUT / AVERAGE)::

        n = fan_in, fan_out or (fan_in + fan_out)/2       (``mode``: fan_in|fan_out|fan_avg)
        target variance  v = scale / max(1, n)

        distribution="truncated_normal": N(0, σ²) truncated at ±2σ, σ = √v / 0.87962566103423978
        distribution="normal":           N(0, v)       ("untruncated_normal" is an alias)
        distribution="uniform":          U(−√(3v), √(3v))

    0.8796… is the std of a standard normal cut at ±2, so after truncation the variance is
    exactly ``v``. Special cases: scale=1, fan_in = LeCun; scale=2, fan_in = He;
    scale=1, fan_avg = Glorot. Fans come from ``(out, in, *kernel)`` weights (PyTorch's
    layout), not Keras' ``(in, out)``.
    """
    array = _array_of(tensor, "variance_scaling_")
    _check_finite("variance_scaling_", scale=scale)
    if scale <= 0:
        raise ValueError(f"init.variance_scaling_: scale must be positive, got {scale}")
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"init.variance_scaling_: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
    if distribution not in ("truncated_normal", "normal", "untruncated_normal", "uniform"):
        raise ValueError("init.variance_scaling_: distribution must be 'truncated_normal', 'normal' "
                         f"or 'uniform', got {distribution!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    variance = scale / max(1.0, n)
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / _TRUNCATED_NORMAL_STD
        return trunc_normal_(tensor, 0.0, std, -2.0 * std, 2.0 * std, rng=rng, seed=seed)
    if distribution in ("normal", "untruncated_normal"):
        return normal_(tensor, 0.0, math.sqrt(variance), rng=rng, seed=seed)
    limit = math.sqrt(3.0 * variance)
    return uniform_(tensor, -limit, limit, rng=rng, seed=seed)


# -- teaching aid -------------------------------------------------------------------------
class InitDescription(dict):
    """What :func:`describe` found: a dict (``d["kaiming_std"]``, or ``d.kaiming_std``) whose
    ``str()`` is a small table with the formulas."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __str__(self):
        d = self
        fan_name = d["mode"]
        lines = [
            f"weight shape {d['shape']}: fan_in = {d['fan_in']}, fan_out = {d['fan_out']}",
            f"gain = calculate_gain({d['nonlinearity']!r}" + (f", {d['a']!r}" if d["nonlinearity"] == "leaky_relu" else "")
            + f") = {d['gain']:.6g}",
            f"  xavier   std   = gain·√(2/(fan_in+fan_out)) = {d['xavier_std']:.6g}",
            f"  xavier   bound = gain·√(6/(fan_in+fan_out)) = {d['xavier_bound']:.6g}",
            f"  kaiming  std   = gain/√{fan_name}            = {d['kaiming_std']:.6g}",
            f"  kaiming  bound = gain·√(3/{fan_name})        = {d['kaiming_bound']:.6g}",
        ]
        return "\n".join(lines)

    __repr__ = __str__


def describe(weight, mode="fan_in", nonlinearity="leaky_relu", a=0, verbose=True):
    """Fans, gain and the std / uniform bound Xavier and Kaiming would use for ``weight``.

    ``weight``: an ndarray, a Parameter, a layer with a ``.weight`` or a shape tuple. Nothing
    is drawn or changed. Returns an :class:`InitDescription` (a dict with ``shape``,
    ``fan_in``, ``fan_out``, ``gain``, ``xavier_std``, ``xavier_bound``, ``kaiming_std``,
    ``kaiming_bound``, ...) and prints it unless ``verbose=False``::

        >>> from minidl.nn import init
        >>> d = init.describe((256, 784), nonlinearity="relu")
        weight shape (256, 784): fan_in = 784, fan_out = 256
        gain = calculate_gain('relu') = 1.41421
          xavier   std   = gain·√(2/(fan_in+fan_out)) = 0.0620174
          ...
    """
    shape = _shape_of(weight)
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    fan = _fan(shape, mode, "describe")
    gain = calculate_gain(nonlinearity, a)
    xavier_std = gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else math.inf
    kaiming_std = gain / math.sqrt(fan) if fan else math.inf
    result = InitDescription(
        shape=tuple(shape), fan_in=fan_in, fan_out=fan_out, mode=mode.lower(),
        nonlinearity=nonlinearity, a=a, gain=float(gain),
        xavier_std=xavier_std, xavier_bound=math.sqrt(3.0) * xavier_std,
        kaiming_std=kaiming_std, kaiming_bound=math.sqrt(3.0) * kaiming_std,
    )
    if verbose:
        print(result)
    return result

"""minidl.nn.init: formulas, distributions, orthogonality, reproducibility, in-place, errors.

Statistical checks use tolerances derived from the sample size: a sample variance of n
i.i.d. draws has standard error √((μ₄ − σ⁴)/n), a sample mean σ/√n, a sample fraction
√(p(1−p)/n). We accept Z = 5 standard errors (two-sided false-fail probability ≈ 6e-7 per
check; seeds are fixed anyway, so a run is deterministic).
"""
import math

import numpy as np
import pytest

import minidl
from minidl.nn import Module, Parameter, Sequential, init

Z = 5.0
SHAPE = (400, 500)              # n = 200 000 draws; fan_in = 500, fan_out = 400
N = SHAPE[0] * SHAPE[1]
FAN_IN, FAN_OUT = 500, 400


def phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def Phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def truncated_moments(alpha, beta):
    """Mean, 2nd and 4th central moments of N(0,1) restricted to [alpha, beta] (closed form)."""
    mass = Phi(beta) - Phi(alpha)
    # raw moments by the recurrence E[z^k] = (k-1) E[z^(k-2)] - (b^(k-1) φ(b) - a^(k-1) φ(a)) / mass
    raw = [1.0, (phi(alpha) - phi(beta)) / mass]
    for k in range(2, 5):
        raw.append((k - 1) * raw[k - 2] - (beta ** (k - 1) * phi(beta) - alpha ** (k - 1) * phi(alpha)) / mass)
    m = raw[1]
    var = raw[2] - m * m
    mu4 = raw[4] - 4 * m * raw[3] + 6 * m * m * raw[2] - 3 * m ** 4
    return m, var, mu4


# The three symmetric families the init functions draw from, described by their std σ:
# (variance of the sample variance × n) / σ⁴ = kurtosis − 1, and P(|x| ≤ σ).
_, _TRUNC_VAR, _TRUNC_MU4 = truncated_moments(-2.0, 2.0)
KURTOSIS_MINUS_1 = {"normal": 2.0, "uniform": 9 / 5 - 1, "truncated_normal": _TRUNC_MU4 / _TRUNC_VAR ** 2 - 1}
WITHIN_ONE_STD = {
    "normal": Phi(1) - Phi(-1),
    "uniform": 1 / math.sqrt(3),                        # σ = b/√3: P(|x| ≤ b/√3) = 1/√3
    # truncated N(0, s²) at ±2s has σ = 0.8796 s: P(|x| ≤ σ) = (Φ(.8796) − Φ(−.8796)) / (Φ(2) − Φ(−2))
    "truncated_normal": (Phi(math.sqrt(_TRUNC_VAR)) - Phi(-math.sqrt(_TRUNC_VAR))) / (Phi(2) - Phi(-2)),
}


def assert_distribution(w, std, family, mean=0.0):
    """Sample mean, variance and P(|x−mean| ≤ std) within Z standard errors; bounded support."""
    x = np.asarray(w, dtype=np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) <= Z * std / math.sqrt(n), (x.mean(), mean)
    var_se = std ** 2 * math.sqrt(KURTOSIS_MINUS_1[family] / n)
    assert abs(x.var() - std ** 2) <= Z * var_se, (x.var(), std ** 2, var_se)
    p = WITHIN_ONE_STD[family]
    frac = np.mean(np.abs(x - mean) <= std)
    assert abs(frac - p) <= Z * math.sqrt(p * (1 - p) / n), (frac, p)
    if family == "uniform":
        bound = math.sqrt(3) * std
        assert np.abs(x - mean).max() <= bound * (1 + 1e-6)
        assert np.abs(x - mean).max() >= bound * (1 - 1e-3)   # P(miss) = (1 − 1e-3)^n ≈ e^-200
    if family == "truncated_normal":
        assert np.abs(x - mean).max() <= 2 * std / math.sqrt(_TRUNC_VAR) * (1 + 1e-6)


# -- golden tables --------------------------------------------------------------------------
GAINS = [
    ("linear", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0), ("conv3d", None, 1.0),
    ("conv_transpose1d", None, 1.0), ("conv_transpose2d", None, 1.0), ("conv_transpose3d", None, 1.0),
    ("sigmoid", None, 1.0), ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("leaky_relu", 0, math.sqrt(2)), ("leaky_relu", 1, 1.0), ("selu", None, 0.75),
]

FANS = [
    ((3, 5), (5, 3)),                      # Linear(5 -> 3): weight (out, in)
    ((256, 784), (784, 256)),
    ((16, 3, 5, 5), (75, 400)),            # Conv2d(3, 16, 5)
    ((8, 4, 3), (12, 24)),                 # Conv1d(4, 8, 3)
    ((2, 3, 4, 5, 6), (360, 240)),         # Conv3d
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("name,param,expected", GAINS)
def test_calculate_gain_table(name, param, expected):
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name,param", [("softplus", None), ("ReLU", None), (None, None),
                                         ("leaky_relu", "0.1"), ("leaky_relu", True)])
def test_calculate_gain_rejects(name, param):
    with pytest.raises(ValueError):
        init.calculate_gain(name, param)


@pytest.mark.parametrize("shape,fans", FANS)
def test_fans_table(shape, fans):
    assert init.calculate_fan_in_and_fan_out(shape) == fans
    assert init.calculate_fan_in_and_fan_out(np.empty(shape)) == fans
    assert init.calculate_fan_in_and_fan_out(Parameter(np.empty(shape))) == fans


@pytest.mark.parametrize("shape", [(), (7,)])
def test_fans_need_two_dims(shape):
    with pytest.raises(ValueError, match="fewer than 2"):
        init.calculate_fan_in_and_fan_out(np.empty(shape))


def test_truncated_normal_constant_is_the_std_of_a_normal_cut_at_two_sigma():
    _, var, _ = truncated_moments(-2.0, 2.0)
    assert math.sqrt(var) == pytest.approx(init._TRUNCATED_NORMAL_STD, rel=1e-12)


# -- distributions --------------------------------------------------------------------------
def test_normal_and_uniform():
    w = np.empty(SHAPE)
    assert_distribution(init.normal_(w, mean=0.5, std=2.0, seed=1), 2.0, "normal", mean=0.5)
    a, b = -1.0, 3.0
    init.uniform_(w, a, b, seed=2)
    assert w.min() >= a and w.max() <= b
    assert_distribution(w, (b - a) / math.sqrt(12), "uniform", mean=1.0)


def test_uniform_with_r_equal_sqrt_3_sigma2_matches_normal_variance():
    sigma = 0.3
    w = np.empty(SHAPE)
    assert_distribution(init.uniform_(w, -math.sqrt(3 * sigma ** 2), math.sqrt(3 * sigma ** 2), seed=3),
                        sigma, "uniform")


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(gain):
    std = gain * math.sqrt(2 / (FAN_IN + FAN_OUT))
    assert_distribution(init.xavier_normal_(np.empty(SHAPE), gain=gain, seed=4), std, "normal")
    assert_distribution(init.xavier_uniform_(np.empty(SHAPE), gain=gain, seed=5), std, "uniform")
    w = init.xavier_uniform_(np.empty(SHAPE), gain=gain, seed=5)
    assert np.abs(w).max() <= gain * math.sqrt(6 / (FAN_IN + FAN_OUT))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a,gain", [
    ("relu", 0, math.sqrt(2)), ("leaky_relu", 0, math.sqrt(2)),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("tanh", 0, 5 / 3), ("linear", 0, 1.0),
])
def test_kaiming(mode, nonlinearity, a, gain):
    fan = FAN_IN if mode == "fan_in" else FAN_OUT
    std = gain / math.sqrt(fan)
    assert_distribution(init.kaiming_normal_(np.empty(SHAPE), a=a, mode=mode, nonlinearity=nonlinearity, seed=6),
                        std, "normal")
    w = init.kaiming_uniform_(np.empty(SHAPE), a=a, mode=mode, nonlinearity=nonlinearity, seed=7)
    assert_distribution(w, std, "uniform")
    assert np.abs(w).max() <= gain * math.sqrt(3 / fan)


def test_kaiming_defaults_are_leaky_relu_with_slope_zero_fan_in():
    w = init.kaiming_uniform_(np.empty(SHAPE), seed=8)
    assert_distribution(w, math.sqrt(2 / FAN_IN), "uniform")


def test_kaiming_on_conv_weight_uses_receptive_field():
    w = init.kaiming_normal_(np.empty((64, 32, 5, 5)), nonlinearity="relu", seed=9)   # fan_in = 800
    assert_distribution(w, math.sqrt(2 / 800), "normal")


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_variance_scaling(mode, distribution, scale):
    fan = {"fan_in": FAN_IN, "fan_out": FAN_OUT, "fan_avg": (FAN_IN + FAN_OUT) / 2}[mode]
    std = math.sqrt(scale / fan)           # Keras: the variance after truncation is scale / fan
    w = init.variance_scaling_(np.empty(SHAPE), scale=scale, mode=mode, distribution=distribution, seed=10)
    assert_distribution(w, std, distribution)


def test_variance_scaling_special_cases_match_glorot_and_he():
    # scale=1, fan_avg, uniform is Glorot uniform; scale=2, fan_in, normal is He normal (same draws).
    a = init.variance_scaling_(np.empty((30, 20)), 1.0, "fan_avg", "uniform", seed=11)
    b = init.xavier_uniform_(np.empty((30, 20)), seed=11)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    a = init.variance_scaling_(np.empty((30, 20)), 2.0, "fan_in", "normal", seed=12)
    b = init.kaiming_normal_(np.empty((30, 20)), nonlinearity="relu", seed=12)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_variance_scaling_floors_fan_at_one():
    # Keras divides by max(1, n): a (1, 1) weight gets variance = scale, not more.
    w = np.empty((1, 1))
    vals = [init.variance_scaling_(w, 0.25, "fan_avg", "uniform", seed=s)[0, 0] for s in range(400)]
    assert max(abs(v) for v in vals) <= math.sqrt(3 * 0.25)


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0),          # torch's defaults: mostly-accepted branch
    (1.0, 0.5, 0.0, 3.0),           # asymmetric cut-offs, absolute (not in units of std)
    (0.0, 1.0, 2.5, 4.0),           # a narrow tail interval: uniform-proposal branch
])
def test_trunc_normal_against_closed_form_moments(mean, std, a, b):
    w = init.trunc_normal_(np.empty(SHAPE), mean=mean, std=std, a=a, b=b, seed=13)
    assert w.min() >= a and w.max() <= b
    alpha, beta = (a - mean) / std, (b - mean) / std
    m, var, mu4 = truncated_moments(alpha, beta)
    exp_mean, exp_var = mean + std * m, std ** 2 * var
    assert abs(w.mean() - exp_mean) <= Z * math.sqrt(exp_var / N)
    assert abs(w.var() - exp_var) <= Z * std ** 2 * math.sqrt((mu4 - var ** 2) / N)


# -- constants ------------------------------------------------------------------------------
def test_constants_and_eye():
    w = np.full((3, 4), 7.0)
    assert init.zeros_(w) is w and not w.any()
    assert (init.ones_(w) == 1).all()
    assert (init.constant_(w, -0.25) == -0.25).all()
    np.testing.assert_array_equal(init.eye_(w), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(init.eye_(np.empty((3, 2))), [[1, 0], [0, 1], [0, 0]])


# -- orthogonal -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["qr", "svd"])
@pytest.mark.parametrize("shape", [(6, 6), (3, 8), (8, 3), (4, 2, 3, 3), (32, 2, 2, 2), (1, 5), (5, 1)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_orthogonal(method, shape, gain, dtype, tol):
    w = init.orthogonal_(np.empty(shape, dtype=dtype), gain=gain, method=method, seed=14)
    assert w.dtype == dtype and w.shape == shape
    flat = w.reshape(shape[0], -1).astype(np.float64)
    rows, cols = flat.shape
    gram = flat.T @ flat if rows >= cols else flat @ flat.T     # orthonormal columns / rows
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=tol)


@pytest.mark.parametrize("method", ["qr", "svd"])
def test_orthogonal_is_haar_distributed(method):
    """Haar-random Q (n×n) has E[Q_ij] = 0 and E[Q_ij²] = 1/n. Without the sign correction
    LAPACK's QR always returns Q[0, 0] < 0, which the mean test catches."""
    n, draws = 3, 2000
    rng = np.random.default_rng(15)
    qs = np.stack([init.orthogonal_(np.empty((n, n)), method=method, rng=rng) for _ in range(draws)])
    se_mean = math.sqrt(1 / n / draws)
    assert np.abs(qs.mean(axis=0)).max() <= Z * se_mean
    # E[Q_ij^4] = 3/(n(n+2)) for Haar: Var(Q_ij^2) = 3/(n(n+2)) − 1/n²
    se_sq = math.sqrt((3 / (n * (n + 2)) - 1 / n ** 2) / draws)
    assert np.abs((qs ** 2).mean(axis=0) - 1 / n).max() <= Z * se_sq


def test_orthogonal_rejects():
    with pytest.raises(ValueError, match="2 or more"):
        init.orthogonal_(np.empty(5))
    with pytest.raises(ValueError, match="method"):
        init.orthogonal_(np.empty((3, 3)), method="gram-schmidt")


# -- reproducibility, in place, dtype ---------------------------------------------------------
RANDOM_FILLS = [
    ("normal_", {}), ("uniform_", {"a": -1.0, "b": 1.0}), ("trunc_normal_", {}),
    ("xavier_uniform_", {}), ("xavier_normal_", {}), ("kaiming_uniform_", {}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("orthogonal_", {}), ("orthogonal_", {"method": "svd"}),
    ("variance_scaling_", {}), ("variance_scaling_", {"distribution": "uniform", "mode": "fan_avg"}),
]
ALL_FILLS = RANDOM_FILLS + [("zeros_", {}), ("ones_", {}), ("constant_", {"val": 0.5}), ("eye_", {})]


@pytest.mark.parametrize("name,kwargs", RANDOM_FILLS)
def test_seeding_is_reproducible(name, kwargs):
    fn = getattr(init, name)
    a = fn(np.empty((7, 5)), **kwargs, seed=3)
    b = fn(np.empty((7, 5)), **kwargs, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    minidl.manual_seed(21)
    c = fn(np.empty((7, 5)), **kwargs)
    minidl.manual_seed(21)
    d = fn(np.empty((7, 5)), **kwargs)
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(a, fn(np.empty((7, 5)), **kwargs, seed=4))
    # float32 and float64 get the same draws (drawn in float64, then stored).
    e = fn(np.empty((7, 5), dtype=np.float32), **kwargs, seed=3)
    np.testing.assert_array_equal(e, a.astype(np.float32))


@pytest.mark.parametrize("name,kwargs", ALL_FILLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_on_parameter_and_array_keeps_dtype(name, kwargs, dtype):
    fn = getattr(init, name)
    p = Parameter(np.full((6, 4), 9.0, dtype=dtype))
    data = p.data
    assert fn(p, **kwargs) is p
    assert p.data is data and p.data.dtype == dtype and not (p.data == 9.0).all()
    arr = np.full((6, 4), 9.0, dtype=dtype)
    assert fn(arr, **kwargs) is arr and arr.dtype == dtype and not (arr == 9.0).all()


@pytest.mark.parametrize("name,kwargs", ALL_FILLS)
def test_fills_a_strided_view_in_place(name, kwargs):
    base = np.full((6, 8), 9.0)
    view = base[:, ::2]                    # non-contiguous (6, 4)
    getattr(init, name)(view, **kwargs)
    assert (base[:, 1::2] == 9.0).all()    # untouched columns
    assert not (base[:, ::2] == 9.0).all()


def test_zero_size_is_a_no_op():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_, init.normal_):
        assert fn(np.empty((0, 5))).shape == (0, 5)


def test_module_apply_initialises_a_whole_model():
    class Affine(Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.weight = Parameter(np.zeros((n_out, n_in)))
            self.bias = Parameter(np.ones(n_out))

    model = Sequential(Affine(300, 200), Affine(200, 400))

    def init_weights(m):
        if isinstance(m, Affine):
            init.kaiming_normal_(m.weight, nonlinearity="relu", seed=1)
            init.zeros_(m.bias)

    model.apply(init_weights)
    for m in model:
        assert not m.bias.data.any()
        fan_in = m.weight.shape[1]
        assert abs(m.weight.data.var() - 2 / fan_in) <= Z * (2 / fan_in) * math.sqrt(2 / m.weight.size)


# -- bad arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize("call,error", [
    (lambda: init.normal_([[1.0, 2.0]]), TypeError),                    # a list is not filled in place
    (lambda: init.normal_(np.zeros((2, 2), dtype=np.int64)), TypeError),
    (lambda: init.zeros_("abc"), TypeError),
    (lambda: init.normal_(np.empty((2, 2)), std=-1.0), ValueError),
    (lambda: init.normal_(np.empty((2, 2)), std=float("nan")), ValueError),
    (lambda: init.uniform_(np.empty((2, 2)), a=1.0, b=0.0), ValueError),
    (lambda: init.trunc_normal_(np.empty((2, 2)), a=1.0, b=1.0), ValueError),
    (lambda: init.constant_(np.empty((2, 2)), "x"), TypeError),
    (lambda: init.eye_(np.empty((2, 2, 2))), ValueError),
    (lambda: init.xavier_uniform_(np.empty(5)), ValueError),           # a bias has no fans
    (lambda: init.kaiming_normal_(np.empty((2, 2)), mode="fan_avg"), ValueError),
    (lambda: init.kaiming_uniform_(np.empty((2, 2)), nonlinearity="swish"), ValueError),
    (lambda: init.variance_scaling_(np.empty((2, 2)), scale=0.0), ValueError),
    (lambda: init.variance_scaling_(np.empty((2, 2)), mode="avg"), ValueError),
    (lambda: init.variance_scaling_(np.empty((2, 2)), distribution="gamma"), ValueError),
    (lambda: init.normal_(np.empty((2, 2)), rng=42), TypeError),
    (lambda: init.normal_(np.empty((2, 2)), rng=np.random.default_rng(0), seed=1), ValueError),
])
def test_bad_arguments_raise(call, error):
    with pytest.raises(error):
        call()


def test_read_only_array_raises():
    w = np.empty((2, 2))
    w.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        init.normal_(w)


# -- describe -------------------------------------------------------------------------------
def test_describe_values_and_printout(capsys):
    d = init.describe((256, 784), nonlinearity="relu")
    assert (d.fan_in, d.fan_out) == (784, 256)
    assert d.gain == pytest.approx(math.sqrt(2))
    assert d.kaiming_std == pytest.approx(math.sqrt(2 / 784))
    assert d.kaiming_bound == pytest.approx(math.sqrt(6 / 784))
    assert d.xavier_std == pytest.approx(math.sqrt(2) * math.sqrt(2 / 1040))
    assert d.xavier_bound == pytest.approx(math.sqrt(2) * math.sqrt(6 / 1040))
    out = capsys.readouterr().out
    assert "fan_in = 784" in out and "fan_out = 256" in out and "0.0505076" in out


def test_describe_conv_fan_out_quietly(capsys):
    p = Parameter(np.zeros((16, 3, 5, 5)))
    d = init.describe(p, mode="fan_out", nonlinearity="tanh", verbose=False)
    assert capsys.readouterr().out == ""
    assert (d["fan_in"], d["fan_out"]) == (75, 400)
    assert d["kaiming_std"] == pytest.approx((5 / 3) / math.sqrt(400))
    assert "fan_out" in str(d)


# -- optional cross-check against PyTorch -----------------------------------------------------
def test_gain_and_fans_agree_with_torch():
    torch = pytest.importorskip("torch")
    for name, param, _ in GAINS:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-15)
    for shape, _ in FANS:
        assert init.calculate_fan_in_and_fan_out(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_kaiming_uniform_with_a_sqrt5_is_pytorchs_linear_default():
    # gain = √(2/(1+5)) = 1/√3, bound = √3 · gain / √fan_in = 1/√fan_in.
    w = init.kaiming_uniform_(np.empty(SHAPE), a=math.sqrt(5), seed=16)
    assert np.abs(w).max() <= 1 / math.sqrt(FAN_IN)
    assert_distribution(w, 1 / math.sqrt(3 * FAN_IN), "uniform")


def test_describe_accepts_a_layer():
    class Layer(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(np.zeros((10, 40)))

    d = init.describe(Layer(), verbose=False)
    assert (d.fan_in, d.fan_out) == (40, 10)
    assert d.gain == pytest.approx(math.sqrt(2))          # leaky_relu with a = 0, as kaiming_*'s default

# %% [markdown]
# # 06 — Xavier (Glorot) initialisation, derived and measured
#
# Source: `000_0f0a45033b9e4a6e.txt` §"3.2.1 Xavier初始化" (under "3.2 基于方差缩放的参数初始化").
#
# **Claim.** A layer multiplies the variance of its input by n · Var(W), where n is the number
# of inputs each unit sums. To keep the signal's size in the forward pass we need
# n_in · Var(W) = 1; to keep the gradient's size in the backward pass, n_out · Var(W) = 1.
# Xavier takes the compromise **Var(W) = 2 / (n_in + n_out)**, i.e. N(0, 2/(n_in+n_out)) or
# U(−r, r) with r = √(6/(n_in+n_out)). Through 20 tanh layers it keeps the activations and
# gradients in a useful range, where N(0, 1) saturates tanh and 0.01 makes everything vanish.
#
# Library code: `minidl/nn/init.py` (`xavier_normal_`, `xavier_uniform_`, `describe`) and
# `minidl/diagnostics.py` (`Probe`).

# %%
import math

import numpy as np

import minidl
from minidl import nn
from minidl.diagnostics import Probe, plot_stats
from minidl.lesson import Lesson
from minidl.nn import init

lesson = Lesson("06_xavier_derivation", source="000 §3.2.1 Xavier初始化")
minidl.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Var(y) = n · Var(W) · Var(x)
#
# One unit computes y = Σᵢ Wᵢ zᵢ (+ b, which we set to 0). For one product of independent
# variables
#
#     Var(zᵢWᵢ) = E[zᵢ]² Var(Wᵢ) + E[Wᵢ]² Var(zᵢ) + Var(zᵢ) Var(Wᵢ)
#
# and with zero means the first two terms vanish: Var(zᵢWᵢ) = Var(zᵢ) Var(Wᵢ). The n products
# are independent, so their variances add:
#
#     Var(y) = n · Var(W) · Var(z).
#
# We measure it on one `nn.Linear(n, 256)` with W ~ N(0, 0.05²) and z ~ N(0, 1) for several n.

# %%
batch = lesson.pick(full=4000, quick=1000)
sigma_w = 0.05
rows, ratios = [], []
for n in (16, 64, 256, 1024):
    layer = nn.Linear(n, 256)
    init.normal_(layer.weight, 0.0, sigma_w)
    init.zeros_(layer.bias)
    z = rng.standard_normal((batch, n)).astype(np.float32)
    y = layer(z)
    predicted = n * sigma_w ** 2 * float(z.var())
    ratios.append(float(y.var()) / predicted)
    rows.append((n, float(z.var()), float(y.var()), predicted, ratios[-1]))
lesson.table(["n", "Var(z)", "Var(y) measured", "n·Var(W)·Var(z)", "ratio"], rows,
             title="One layer: the output variance grows linearly with n")

# %% [markdown]
# ## 2. The backward pass has its own condition
#
# Backward, the layer maps the gradient g = dL/dy (one per output unit) to
# dL/dz = gW: each input unit sums n_out products, so
#
#     Var(dL/dz) = n_out · Var(W) · Var(g).
#
# Keeping both signals' sizes asks for n_in · Var(W) = 1 *and* n_out · Var(W) = 1, impossible when
# n_in ≠ n_out. Glorot & Bengio take the average of the two conditions,
# ½(n_in + n_out) · Var(W) = 1:
#
#     Var(W) = 2 / (n_in + n_out).
#
# Measured on a layer with n_in = 256, n_out = 64 for the three candidate variances: the
# forward factor Var(y)/Var(z) and the backward factor Var(dL/dz)/Var(g).

# %%
n_in, n_out = 256, 64
z = rng.standard_normal((batch, n_in)).astype(np.float32)
g = rng.standard_normal((batch, n_out)).astype(np.float32)
rows, factors = [], {}
for name, var_w in (("1/n_in", 1 / n_in), ("1/n_out", 1 / n_out), ("2/(n_in+n_out)", 2 / (n_in + n_out))):
    layer = nn.Linear(n_in, n_out)
    init.normal_(layer.weight, 0.0, math.sqrt(var_w))
    init.zeros_(layer.bias)
    forward = float(layer(z).var() / z.var())
    backward = float(layer.backward(g).var() / g.var())
    factors[name] = (forward, backward, n_in * var_w, n_out * var_w)
    rows.append((name, forward, n_in * var_w, backward, n_out * var_w))
lesson.table(["Var(W)", "forward measured", "n_in·Var(W)", "backward measured", "n_out·Var(W)"], rows,
             title=f"Layer {n_in}→{n_out}: the two conditions and their compromise")

# %% [markdown]
# Xavier is off by 1.6× forward and 0.4× backward here, instead of 1× and 0.25× (or 4× and 1×):
# it spreads the error over both directions. In a network of equal widths both factors are 1.
#
# ## 3. The uniform version: r = √(6/(n_in+n_out))
#
# U(−r, r) has variance (2r)²/12 = r²/3. Setting r²/3 = 2/(n_in+n_out) gives
# r = √(6/(n_in+n_out)). `init.describe` prints the numbers for a weight:

# %%
w = init.xavier_uniform_(np.empty((n_out, n_in), dtype=np.float32), rng=rng)
init.describe(w, nonlinearity="linear")
bound = math.sqrt(6 / (n_in + n_out))
# The sample variance of n uniform draws has standard error Var·√(0.8/n) (kurtosis 9/5).
var_se = (2 / (n_in + n_out)) * math.sqrt(0.8 / w.size)
lesson.table(["", "measured", "formula"],
             [("max |w|", float(np.abs(w).max()), bound),
              ("Var(w) · (n_in+n_out)/2", float(w.var()) * (n_in + n_out) / 2, 1.0)])

# %% [markdown]
# ## 4. Twenty tanh layers
#
# Glorot & Bengio's experiment: a deep stack of tanh layers (here 20 × width 256, input
# z ~ N(0, 1)); we record after every tanh the std of the activation, the fraction of
# *saturated* units (tanh'(a) = 1 − a² < 0.01, the flat tails where almost no gradient passes)
# and, for a standard normal gradient at the output, the std of the gradient arriving at each
# tanh output.

# %%
depth, width = 20, lesson.pick(full=256, quick=128)
x = rng.standard_normal((lesson.pick(full=512, quick=128), width)).astype(np.float32)


def tanh_net():
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh()]
    return nn.Sequential(*layers)


inits = {
    "Xavier": lambda w: init.xavier_normal_(w),
    "Xavier × 5/3": lambda w: init.xavier_normal_(w, gain=init.calculate_gain("tanh")),
    "N(0, 1)": lambda w: init.normal_(w, 0.0, 1.0),
    "N(0, 0.01²)": lambda w: init.normal_(w, 0.0, 0.01),
}
saturated = {"saturated": lambda a: np.mean(1.0 - a.astype(np.float64) ** 2 < 0.01)}
probes = {}
for name, fill in inits.items():
    model = tanh_net()
    for m in model.modules():
        if isinstance(m, nn.Linear):
            fill(m.weight)
            init.zeros_(m.bias)
    with Probe(model, modules=nn.Tanh, extra=saturated) as probe:
        out = model(x)
        model.backward(rng.standard_normal(out.shape).astype(np.float32))
    probes[name] = probe

rows = []
for name, probe in probes.items():
    act, grad, sat = probe.activation_std(), probe.gradient_std(), probe.series("forward", "saturated")
    rows.append((name, act[0], act[4], act[9], act[19], sat[19], grad[0], grad[19]))
lesson.table(["init", "std a₁", "std a₅", "std a₁₀", "std a₂₀", "saturated a₂₀", "grad std 1", "grad std 20"], rows,
             title=f"{depth} tanh layers of width {width}")

# %%
with lesson.figure("06_tanh_layers.png", figsize=(10, 4)) as plt:
    if plt:
        plt.subplot(1, 2, 1)
        plot_stats(probes, ax=plt.gca(), which="forward").set_title("activation std per layer")
        plt.subplot(1, 2, 2)
        plot_stats(probes, ax=plt.gca(), which="backward").set_title("gradient std per layer")

# %% [markdown]
# Read the table: with **N(0, 1)** the activations *look* healthy (std ≈ 1) but most units sit
# in tanh's flat tails — and the gradient, multiplied by W (std 1, n = 256 terms: ×16) at
# every layer, explodes towards the input. With **0.01** each layer multiplies the std by
# 0.01·√256 = 0.16: activations and gradients vanish. **Xavier** keeps both within a small
# band; its std slowly drifts down because tanh squashes what it receives (tanh(x) < x), which
# the gain 5/3 compensates.

# %%
xavier = probes["Xavier"]
lesson.check(all(abs(r - 1) < 0.1 for r in ratios), "Var(y) = n·Var(W)·Var(z) within 10% for n = 16…1024")
lesson.check(all(abs(f[0] / f[2] - 1) < 0.1 and abs(f[1] / f[3] - 1) < 0.1 for f in factors.values()),
             "forward factor = n_in·Var(W) and backward factor = n_out·Var(W) within 10%")
lesson.check(np.abs(w).max() <= bound and abs(w.var() - 2 / (n_in + n_out)) < 5 * var_se,
             "xavier_uniform_: |w| ≤ √(6/(n_in+n_out)) and Var(w) = 2/(n_in+n_out) within 5 standard errors")
act, grad = xavier.activation_std(), xavier.gradient_std()
lesson.check(act.min() > 0.1 and act.max() < 1.0 and grad.max() / grad.min() < 10,
             f"Xavier keeps every layer's activation std in [0.1, 1] ({act.min():.2f}–{act.max():.2f}) and the "
             f"gradient std within 10x ({grad.max() / grad.min():.1f}x)")
normal = probes["N(0, 1)"]
lesson.check(normal.series("forward", "saturated").min() > 0.5 and normal.gradient_std()[0] > 1e3,
             "N(0, 1): more than half of the units saturated in every layer, gradient > 1e3 at layer 1")
small = probes["N(0, 0.01²)"]
lesson.check(small.activation_std()[-1] < 1e-6 and small.gradient_std()[0] < 1e-6,
             "N(0, 0.01²): activation std at layer 20 and gradient std at layer 1 below 1e-6")

# %% [markdown]
# ## Try this
# * Replace `nn.Tanh` by `nn.ReLU` and keep Xavier: the std now halves every layer — the
#   starting point of tutorial 07.
# * Make the layers alternate between 512 and 64 units and compare `xavier_normal_` with
#   `init.variance_scaling_(w, 1.0, mode="fan_in", distribution="normal")` (LeCun, 1/n_in).

# %%
lesson.done()

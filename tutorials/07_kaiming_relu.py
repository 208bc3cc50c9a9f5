# %% [markdown]
# # 07 — Kaiming (He) initialisation: ReLU halves the variance, so double the weights'
#
# Source: `000_0f0a45033b9e4a6e.txt` §"3.2.2 Kaiming初始化", and the 100-layer experiment of
# `004_87ac655643e15070.txt` ("PyTorch: 权值初始化").
#
# **Claim.** Xavier's derivation assumes a linear (identity-like) activation. ReLU sets the
# negative half of its input to zero, so it passes on only *half* of the second moment. A
# ReLU network initialised with Var(W) = 1/n loses a factor 2 of variance per layer — after
# 100 layers the signal is 2⁻⁵⁰ ≈ 10⁻¹⁵ of what it was. He et al. double the variance:
# **Var(W) = 2/n_in** (`init.kaiming_normal_(w, nonlinearity="relu")`), and the signal keeps
# its size through 100 layers. With N(0, 1) weights it explodes instead.
#
# Library code: `minidl/nn/init.py` (`kaiming_normal_`, `kaiming_uniform_`,
# `calculate_gain`, `describe`) and `minidl/diagnostics.py` (the `Probe` that records each
# layer's activation std).

# %%
import math

import numpy as np

import minidl
from minidl import nn
from minidl.diagnostics import Probe, plot_stats
from minidl.lesson import Lesson
from minidl.nn import init

lesson = Lesson("07_kaiming_relu", source="000 §3.2.2 Kaiming初始化 / 004 100-layer experiment")
minidl.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. ReLU halves the second moment
#
# Let z be symmetric around 0 (e.g. z ~ N(0, σ²)). ReLU keeps z when z > 0 and returns 0
# otherwise, so
#
#     E[ReLU(z)²] = ∫₀^∞ z² p(z) dz = ½ ∫ z² p(z) dz = ½ E[z²] = ½ σ².
#
# Measured on n standard normal draws: the standard error of the mean of ReLU(z)² is
# √(Var(ReLU(z)²)/n) = √((E[z⁴]/2 − 1/4)/n) = √(1.25/n).

# %%
n = lesson.pick(full=1_000_000, quick=200_000)
z = rng.standard_normal((n // 1000, 1000))
relu_z = nn.ReLU()(z)
second_moment = float(np.mean(relu_z.astype(np.float64) ** 2))
standard_error = math.sqrt(1.25 / n)
lesson.table(["quantity", "measured", "theory"],
             [("E[z²]", float(np.mean(z ** 2)), 1.0), ("E[ReLU(z)²]", second_moment, 0.5),
              ("standard error", standard_error, "")])

# %% [markdown]
# ## 2. From "half the variance" to Var(W) = 2/n_in
#
# A layer computes z_l = W_l x_l with x_l = ReLU(z_{l−1}) and n_l = fan_in inputs. With W
# independent of x and zero-mean,
#
#     Var(z_l) = n_l · Var(W_l) · E[x_l²] = n_l · Var(W_l) · ½ Var(z_{l−1}).
#
# (It is E[x²], not Var(x), that enters: x = ReLU(·) is not zero-mean, but W is, so
# Var(w·x) = E[w²]E[x²].) The variance stays put when ½ n_l Var(W_l) = 1:
#
#     Var(W_l) = 2 / n_l,   std = √2 / √fan_in = gain / √fan_in  with gain = √2 = calculate_gain("relu").
#
# The same argument on the backward pass, dL/dx_l = W_lᵀ dL/dz_l, gives ½ n_{l+1} Var(W_l) = 1
# — the fan_out version (`mode="fan_out"`, section 4). As a uniform distribution on [−r, r]
# has variance r²/3, the uniform version uses r = √3 · std = √(6/n_l).

# %%
init.describe(nn.Linear(256, 256).weight, nonlinearity="relu")

# %% [markdown]
# ## 3. The 100-layer experiment (seed 004)
#
# 100 fully connected layers of width 256, input x ~ N(0, 1), a batch of 128. We record the
# std of every layer's output z_l = W_l x_l (before the activation) with a `Probe`. Six set-ups:
# no activation with N(0, 1) and with N(0, 1/n); ReLU with Xavier's 1/n, with Kaiming's 2/n and
# with a "small" 0.01; tanh with Xavier and tanh's gain 5/3. Biases are zero (they do not
# change the variance argument).

# %%
depth = 100
width = lesson.pick(full=256, quick=128)
batch = lesson.pick(full=128, quick=64)
x = rng.standard_normal((batch, width)).astype(np.float32)


def deep_net(activation):
    layers = []
    for _ in range(depth):
        layers.append(nn.Linear(width, width))
        if activation is not None:
            layers.append(activation())
    return nn.Sequential(*layers)


def initializer(kind):
    """An ``fn(module)`` for ``model.apply``: initialise every Linear of a model by one rule."""
    def fn(m):
        if isinstance(m, nn.Linear):
            if kind == "N(0, 1)":
                init.normal_(m.weight, 0.0, 1.0)
            elif kind == "N(0, 1/n)":                       # Xavier for square layers
                init.xavier_normal_(m.weight)
            elif kind == "N(0, 0.01²)":
                init.normal_(m.weight, 0.0, 0.01)
            elif kind == "Kaiming":
                init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif kind == "Xavier, gain 5/3":
                init.xavier_normal_(m.weight, gain=init.calculate_gain("tanh"))
            init.zeros_(m.bias)
    return fn


setups = [("none", None, "N(0, 1)"), ("none", None, "N(0, 1/n)"), ("ReLU", nn.ReLU, "N(0, 1/n)"),
          ("ReLU", nn.ReLU, "Kaiming"), ("ReLU", nn.ReLU, "N(0, 0.01²)"),
          ("tanh", nn.Tanh, "Xavier, gain 5/3")]
probes, stds = {}, {}
for act_name, activation, kind in setups:
    model = deep_net(activation).apply(initializer(kind))
    label = f"{act_name}, {kind}"
    # errstate: the exploding set-up overflows float32 on purpose; no warnings for that.
    with Probe(model, modules=nn.Linear) as probe, np.errstate(over="ignore", invalid="ignore"):
        model(x)
    probes[label], stds[label] = probe, probe.activation_std()


def first_bad_layer(std):
    bad = ~np.isfinite(std) | (std > 1e30) | (std < 1e-30)
    return int(np.argmax(bad)) + 1 if bad.any() else "-"


rows = [(label, s[0], s[9], s[49], s[99], first_bad_layer(s)) for label, s in stds.items()]
lesson.table(["activation, init", "std z₁", "std z₁₀", "std z₅₀", "std z₁₀₀", "first layer >1e30 or <1e-30"], rows,
             title=f"Output std of layer l (width {width}, {depth} layers)")

# %%
with lesson.figure("07_hundred_layers.png", figsize=(12, 4.5)) as plt:
    if plt:
        fig, (ax, zoom) = plt.subplots(1, 2, figsize=(12, 4.5))
        for panel in (ax, zoom):
            plot_stats(probes, ax=panel, stat="std", which="forward")
            # distinct markers, shifted per line: the three set-ups that keep std ≈ 1 lie on top of
            # each other at full scale, and the right panel separates them
            for i, line in enumerate(panel.get_lines()):
                line.set_marker("osD^v<"[i])
                line.set_markersize(4)
                line.set_markevery((2 * i, 12))
        colors = {line.get_label(): line.get_color() for line in ax.get_lines()}
        for label, s in stds.items():          # where a run leaves the axis: overflow (inf/NaN) or 0
            bad = first_bad_layer(s)
            if bad != "-":
                up = not np.isfinite(s[bad - 1]) or s[bad - 1] > 1
                y = 1e30 if up else 1e-30
                ax.plot(bad, y, "X", ms=11, color=colors[label], clip_on=False)
                ax.annotate(f"{'overflow (inf/NaN)' if up else 'vanishes (→ 0)'} from layer {bad}", (bad, y),
                            textcoords="offset points", xytext=(8, -14 if up else 6), fontsize=8,
                            color=colors[label])
        ax.set_ylim(1e-30, 1e30)
        ax.legend(fontsize="small", loc="lower right")      # again, with the new markers
        ax.set_title("std of z_l through 100 layers (× = leaves the axis)")
        zoom.set_ylim(0.1, 10)
        zoom.set_title("the same, zoomed to 0.1–10")
        zoom.get_legend().remove()

# %% [markdown]
# What happened, layer by layer:
#
# * **no activation, N(0, 1)**: each layer multiplies the variance by n·1 = width, the std by
#   √width = 16: 16¹⁰ ≈ 10¹², and float32 overflows (≈ 3·10³⁸) near layer 32 — seed 004's `nan`.
# * **no activation, N(0, 1/n)**: n · 1/n = 1, the std stays near 1.
# * **ReLU, N(0, 1/n)**: ½ · n · 1/n = ½ per layer: the std shrinks by √2 per layer, 2⁻⁵⁰ ≈ 10⁻¹⁵ at layer 100.
# * **ReLU, Kaiming**: ½ · n · 2/n = 1: the std stays near its first-layer value.
# * **ReLU, 0.01**: ½ · 256 · 10⁻⁴ ≈ 0.013 per layer: gone (0 in float32) in ~20 layers.
# * **tanh, Xavier × 5/3**: tanh is ≈ linear near 0 but squashes large inputs; the gain 5/3
#   makes up for the squashing, and the std settles near 1.

# %%
kaiming = stds["ReLU, Kaiming"]
xavier_relu = stds["ReLU, N(0, 1/n)"]
exploding = stds["none, N(0, 1)"]
lesson.check(abs(second_moment - 0.5) < 5 * standard_error,
             f"E[ReLU(z)²] = {second_moment:.4f} is ½E[z²] within 5 standard errors ({standard_error:.1e})")
lesson.check(exploding[9] > 1e10 and not np.all(np.isfinite(exploding) & (exploding < 1e30)),
             "N(0, 1) without activation explodes: std > 1e10 at layer 10, overflow before layer 100")
lesson.check(xavier_relu[99] < 1e-10, f"ReLU with Var(W) = 1/n vanishes: std at layer 100 = {xavier_relu[99]:.1e}")
lesson.check(np.all(kaiming / kaiming[0] < 4) and np.all(kaiming / kaiming[0] > 0.25),
             f"Kaiming keeps the std within 4x of layer 1 for all 100 ReLU layers "
             f"(range {kaiming.min() / kaiming[0]:.2f}–{kaiming.max() / kaiming[0]:.2f})")
lesson.check(stds["ReLU, N(0, 0.01²)"][99] < 1e-30, "ReLU with std 0.01 vanishes completely")

# %% [markdown]
# ## 4. `mode="fan_in"` or `mode="fan_out"`?
#
# When the layers are not square, the forward condition ½ fan_in Var(W) = 1 and the backward
# condition ½ fan_out Var(W) = 1 cannot both hold. `kaiming_normal_(w, mode="fan_in")` keeps the
# forward signal's size; `mode="fan_out"` keeps the size of the gradient flowing back. A funnel
# 1024 → 512 → … → 16 with ReLU shows it: we record the std of z_l (forward) and of dL/dz_l
# (backward, for a standard normal gradient at the output).

# %%
widths = [1024, 512, 256, 128, 64, 32, 16]
x_funnel = rng.standard_normal((lesson.pick(full=256, quick=128), widths[0])).astype(np.float32)
funnel = {}
for mode in ("fan_in", "fan_out"):
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])           # no ReLU after the last layer

    def kaiming(m, mode=mode):
        if isinstance(m, nn.Linear):
            init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
            init.zeros_(m.bias)

    model.apply(kaiming)
    with Probe(model, modules=nn.Linear) as probe:
        out = model(x_funnel)
        model.backward(rng.standard_normal(out.shape).astype(np.float32))
    funnel[mode] = probe
rows = []
for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
    rows.append((f"{n_in}→{n_out}",) + tuple(funnel[m].series(w, "std")[i]
                                             for m in ("fan_in", "fan_out") for w in ("forward", "backward")))
lesson.table(["layer", "fan_in: std z", "fan_in: std dL/dz", "fan_out: std z", "fan_out: std dL/dz"], rows,
             title="Funnel network: which signal keeps its size")

# %%
with lesson.figure("07_fan_modes.png", figsize=(7, 4)) as plt:
    if plt:
        ax = plot_stats(funnel, stat="std", which=("forward", "backward"))
        ax.set_title("fan_in keeps activations, fan_out keeps gradients")


# %%
def spread(values):
    """Largest / smallest over the layers after the first (the first sees the raw input)."""
    return float(np.max(values[1:]) / np.min(values[1:]))


fwd_in, bwd_in = funnel["fan_in"].series("forward", "std"), funnel["fan_in"].series("backward", "std")
fwd_out, bwd_out = funnel["fan_out"].series("forward", "std"), funnel["fan_out"].series("backward", "std")
print(f"spread of std over layers 2–6: fan_in forward {spread(fwd_in):.2f}, backward {spread(bwd_in):.2f}; "
      f"fan_out forward {spread(fwd_out):.2f}, backward {spread(bwd_out):.2f}")
# Theory: the neglected direction changes by √2 per layer, (√2)⁴ = 4 over layers 2–6.
lesson.check(spread(fwd_in) < 2.0 and spread(bwd_in) > 2.5,
             "fan_in: activation std constant (within 2x), gradient std changes ~√2 per layer")
lesson.check(spread(bwd_out) < 2.0 and spread(fwd_out) > 2.5,
             "fan_out: gradient std constant (within 2x), activation std changes ~√2 per layer")

# %% [markdown]
# ## Try this
# * Replace ReLU by `nn.LeakyReLU(0.2)` and use `init.kaiming_normal_(w, a=0.2)`: the gain
#   becomes √(2/(1 + 0.2²)) (`init.calculate_gain("leaky_relu", 0.2)`). Does the std still hold?
# * Use `init.kaiming_uniform_` instead: U(−√(6/n), √(6/n)) has the same variance, so the
#   100-layer table should barely change.

# %%
lesson.done()

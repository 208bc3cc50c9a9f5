# %% [markdown]
# # 05 — Fixed-variance initialisation: N(0, σ²), U(−r, r), and why σ matters
#
# Source: `000_0f0a45033b9e4a6e.txt` §"3.1 基于固定方差的参数初始化".
#
# **Claim.** The simplest random initialisations draw every weight from a fixed distribution:
# a Gaussian N(0, σ²) or a uniform U(−r, r). The two are interchangeable once their variances
# match, which happens at **r = √(3σ²)**. What matters is σ: too large and sigmoid/tanh units
# sit in their flat tails (*saturation*: tiny derivatives, slow learning); too small and the
# signal and its gradient shrink at every layer (*vanishing gradients*). And no single σ suits
# every activation and width — the motivation for the variance-scaling methods of tutorials
# 06 and 07.
#
# Library code: `minidl/nn/init.py` (`normal_`, `uniform_`) and `minidl/diagnostics.py`.

# %%
import math

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.diagnostics import Probe
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score
from minidl.nn import init

lesson = Lesson("05_fixed_variance_init", source="000 §3.1 基于固定方差的参数初始化", blas_threads=1)

minidl.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Gaussian vs uniform: r = √(3σ²)
#
# For x ~ U(a, b), E[x] = (a+b)/2 and
#
#     Var(x) = ∫ₐᵇ (x − (a+b)/2)² dx / (b − a) = (b − a)² / 12.
#
# On [−r, r]: Var = (2r)²/12 = r²/3. Asking for Var = σ² gives r² = 3σ², **r = √(3σ²)**.
# We draw n weights both ways and compare the sample variances with σ². Their standard errors
# follow from the fourth moments: σ²√(2/n) for the Gaussian, σ²√(0.8/n) for the uniform.

# %%
n = lesson.pick(full=1_000_000, quick=100_000)
rows, within = [], []
for sigma in (0.01, 0.1, 1.0):
    r = math.sqrt(3 * sigma ** 2)
    w_normal = init.normal_(np.empty(n), 0.0, sigma, rng=rng)
    w_uniform = init.uniform_(np.empty(n), -r, r, rng=rng)
    z_normal = (w_normal.var() - sigma ** 2) / (sigma ** 2 * math.sqrt(2 / n))
    z_uniform = (w_uniform.var() - sigma ** 2) / (sigma ** 2 * math.sqrt(0.8 / n))
    within.append(abs(z_normal) < 5 and abs(z_uniform) < 5)
    rows.append((sigma, r, sigma ** 2, float(w_normal.var()), float(w_uniform.var()), float(z_normal), float(z_uniform)))
lesson.table(["σ", "r = √(3σ²)", "σ²", "Var N(0,σ²)", "Var U(−r,r)", "z normal", "z uniform"], rows,
             title="Sample variances (z = deviation in standard errors)")

# %% [markdown]
# ## 2. Saturation: where the derivative vanishes
#
# sigmoid'(z) = s(1 − s) ≤ ¼ and tanh'(z) = 1 − tanh²(z) ≤ 1. Call a unit *saturated* when its
# derivative is below 0.01 — less than 1% of the gradient gets through it:
#
# * tanh: 1 − a² < 0.01 ⇔ |a| > √0.99 ⇔ |z| > atanh(√0.99) ≈ 2.99;
# * sigmoid: s(1 − s) < 0.01 ⇔ s < (1 − √0.96)/2 ≈ 0.0101 or s > 0.9899 ⇔ |z| > ≈ 4.59.
#
# A unit of a layer with n inputs x and weights N(0, σ²) has pre-activation z with
# Var(z) = n σ² E[x²] (tutorial 06). With n = 128 and σ = 1 the std of z is ~√128·rms(x) ≈ 6–11:
# most units land beyond ±3. With σ = 0.01 it is ~0.1: no saturation, but every layer then
# multiplies the signal by ~σ√n·(derivative) ≪ 1.
#
# The experiment: 5 hidden layers of 128 units (sigmoid or tanh) plus a linear classifier on
# the handwritten digits, weights N(0, σ²), biases 0. One forward/backward pass of the
# cross-entropy loss on 512 digits, recorded by a `Probe`.

# %%
digits = load_digits(scale=True)
X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.2,
                                                    stratify=digits.target, seed=0)
derivative = {nn.Sigmoid: lambda a: a * (1 - a), nn.Tanh: lambda a: 1 - a * a}
sigmas = (0.01, 0.1, 1.0)
hidden, width = 5, 128


def mlp(activation, sigma, seed):
    layers, n_in = [], X_train.shape[1]
    for _ in range(hidden):
        layers += [nn.Linear(n_in, width), activation()]
        n_in = width
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    rng_init = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            init.normal_(m.weight, 0.0, sigma, rng=rng_init)
            init.zeros_(m.bias)
    return model


criterion = nn.CrossEntropyLoss()
measured = {}
for activation in (nn.Sigmoid, nn.Tanh):
    for sigma in sigmas:
        model = mlp(activation, sigma, seed=1)
        slope = derivative[activation]
        saturated = {"saturated": lambda a, slope=slope: np.mean(slope(a.astype(np.float64)) < 0.01)}
        with Probe(model, extra=saturated) as probe:
            loss = criterion(model(X_train[:512]), y_train[:512])
            model.backward(criterion.backward())
        kinds = [rec.kind for rec in probe.records.values()]
        act_idx = [i for i, k in enumerate(kinds) if k != "Linear"]
        lin_idx = [i for i, k in enumerate(kinds) if k == "Linear"][:hidden]
        measured[(activation.__name__, sigma)] = dict(
            saturated=probe.series("forward", "saturated")[act_idx],
            grad=probe.gradient_std()[lin_idx],                     # std of dL/dz_l, l = 1..5
        )

rows = [(f"{a}, σ={s}",) + tuple(v["saturated"]) for (a, s), v in measured.items()]
lesson.table(["activation, σ"] + [f"layer {l}" for l in range(1, hidden + 1)], rows,
             title="Fraction of saturated units (derivative < 0.01)")
rows = [(f"{a}, σ={s}",) + tuple(v["grad"]) + (float(v["grad"][0] / v["grad"][-1]),) for (a, s), v in measured.items()]
lesson.table(["activation, σ"] + [f"std dL/dz{l}" for l in range(1, hidden + 1)] + ["layer 1 / layer 5"], rows,
             title="Gradient reaching each hidden layer's pre-activation")

# %% [markdown]
# With σ = 0.01 no unit saturates, yet the gradient shrinks by orders of magnitude on its way
# from layer 5 to layer 1: each layer multiplies it by about σ√128 · derivative — 0.11 for tanh,
# 0.03 for sigmoid (whose derivative is at most ¼). With σ = 1 half (sigmoid) to three quarters
# (tanh) of the units are saturated. Look at the tanh, σ = 1 row too: its gradient *grows*
# towards the input — the few unsaturated units pass it on multiplied by weights of size 1
# (×√128 per layer). Saturation does not promise small gradients everywhere; it promises that
# most units barely learn while a few get oversized updates. Training stalls either way (§3).
#
# ## 3. What it does to training
#
# The same networks trained with SGD (learning rate 0.1, batch 32). Same data order for all.

# %%
epochs = lesson.pick(full=10, quick=3)
histories, accuracy = {}, {}
runs = [(activation, sigma) for activation in (nn.Sigmoid, nn.Tanh) for sigma in sigmas]
for activation, sigma in lesson.progress(runs, desc=f"{len(runs)} training runs"):
    model = mlp(activation, sigma, seed=1)
    optimizer = minidl.optim.SGD(model.parameters(), learning_rate=0.1)
    losses = []
    for epoch in range(epochs):
        total, count = 0.0, 0
        for xb, yb in DataLoader(X_train, y_train, batch_size=32, seed=epoch):
            loss = criterion(model(xb), yb)
            optimizer.zero_grad()
            model.backward(criterion.backward())
            optimizer.step()
            total, count = total + loss * len(yb), count + len(yb)
        losses.append(total / count)
    key = (activation.__name__, sigma)
    histories[key] = losses
    accuracy[key] = accuracy_score(y_test, model(X_test).argmax(axis=1))
lesson.table(["activation", "σ", "final train loss", "test accuracy"],
             [(a, s, histories[(a, s)][-1], accuracy[(a, s)]) for (a, s) in histories],
             title=f"After {epochs} epochs")

# %%
with lesson.figure("05_fixed_variance_training.png", figsize=(7, 4)) as plt:
    if plt:
        for (a, s), losses in histories.items():
            plt.plot(range(1, epochs + 1), losses, marker="o", label=f"{a}, σ={s}",
                     linestyle="-" if a == "Tanh" else "--")
        plt.yscale("log")
        plt.xlabel("epoch")
        plt.ylabel("train loss")
        plt.legend(fontsize="small")

# %% [markdown]
# tanh learns with σ = 0.1 ≈ 1/√128 — exactly the variance-scaling choice of tutorial 06 — and
# is stuck at chance both with σ = 0.01 (vanished gradients) and with σ = 1 (saturation). For
# sigmoid, σ = 0.1 is already too small: its derivative ¼ shrinks the gradient 4× more per
# layer. A fixed σ has to be tuned per activation and per width; tutorials 06 and 07 derive it.

# %%
lesson.check(all(within), "N(0, σ²) and U(−√(3σ²), √(3σ²)) have variance σ² (within 5 standard errors) for all σ")
for a in ("Sigmoid", "Tanh"):
    sat = measured[(a, 1.0)]["saturated"]
    lesson.check(sat[1:].min() > 0.4, f"{a}, σ=1: more than 40% of units saturated in layers 2–5 "
                                      f"(min {sat[1:].min():.2f})")
    small = measured[(a, 0.01)]
    lesson.check(small["saturated"].max() == 0 and small["grad"][0] < 1e-3 * small["grad"][-1],
                 f"{a}, σ=0.01: no saturation, but the gradient at layer 1 is < 1/1000 of layer 5's "
                 f"({small['grad'][0] / small['grad'][-1]:.1e})")
good = accuracy[("Tanh", 0.1)]
lesson.check(good > max(accuracy[("Tanh", 0.01)], accuracy[("Tanh", 1.0)]) + 0.3,
             f"tanh: σ=0.1 reaches {good:.2f} test accuracy, > 30 points above σ=0.01 "
             f"({accuracy[('Tanh', 0.01)]:.2f}) and σ=1 ({accuracy[('Tanh', 1.0)]:.2f})")

# %% [markdown]
# ## Try this
# * Change `width` to 512: the σ that works for tanh moves to ≈ 1/√512 ≈ 0.044.
# * Replace `init.normal_(m.weight, 0.0, sigma)` by `init.uniform_(m.weight, -r, r)` with
#   r = √(3σ²): the tables should barely change — only the variance matters here.

# %%
lesson.done()

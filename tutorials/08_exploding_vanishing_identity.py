# %% [markdown]
# # 08 — Exploding and vanishing signals: W = 1.5·I vs 0.5·I, and initialisations on digits
#
# Source: `001_b9fcf06e264018f9.txt` ("一文读懂神经网络初始化!吴恩达Deeplearning.ai最新干货"):
# "初始化值太大太小会导致梯度爆炸或梯度消失" and "如何确定合适的初始化值".
#
# **Claim.** In a deep network the initial weights multiply together. With a 10-layer linear
# network whose weights are all slightly larger than the identity, W = 1.5·I, the activations
# grow as 1.5^l; slightly smaller, W = 0.5·I, they shrink as 0.5^l — and the gradients with
# them (explode / vanish). The cure is to keep the activations zero-mean with the same variance
# in every layer: Xavier's N(0, 1/n[l−1]). On handwritten digits a 5-layer fully connected
# network learns well from Xavier, poorly from N(0, 1) and not at all from U(0, 1).
#
# Library code: `minidl/nn/init.py` (`eye_`, `uniform_`, `normal_`, `variance_scaling_`) and
# `minidl/diagnostics.py`.

# %%
import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.diagnostics import Probe
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score
from minidl.nn import init

lesson = Lesson("08_exploding_vanishing_identity", source="001 初始化值太大太小会导致梯度爆炸或梯度消失")
minidl.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A 10-layer linear network with W = s·I
#
# Every layer has 2 units, no activation (the identity), zero biases, and W[l] = s·I for all
# l. Then
#
#     a[l] = W[l] a[l−1] = s·a[l−1]   ⇒   a[l] = s^l · x,   ŷ = a[L] = s^L · x.
#
# Backward, with g = dL/dŷ, the same matrices multiply the gradient: dL/da[l] = s^(L−l) g, and
# the weight gradient dL/dW[l] = dL/da[l] · a[l−1]ᵀ = s^(L−l) g · s^(l−1) xᵀ = s^(L−1) g xᵀ.
# For s = 1.5 and L = 10 that is 1.5⁹ ≈ 38 times the "natural" size; for s = 0.5, 0.5⁹ ≈ 0.002.

# %%
L = 10
x = rng.standard_normal((4, 2)).astype(np.float32)
g = np.ones((4, 2), dtype=np.float32)
identity_runs = {}
for s in (1.5, 0.5):
    layers = [nn.Linear(2, 2) for _ in range(L)]
    for layer in layers:
        init.eye_(layer.weight)
        layer.weight.data *= s          # W = s·I
        init.zeros_(layer.bias)
    model = nn.Sequential(*layers)
    with Probe(model, modules=nn.Linear) as probe:
        model(x)
        model.zero_grad()
        model.backward(g)
    identity_runs[s] = probe
norm_x = np.linalg.norm(x.astype(np.float64))
rows = []
for l in range(1, L + 1):
    row = [l]
    for s in (1.5, 0.5):
        row += [identity_runs[s].series("forward", "norm")[l - 1] / norm_x, s ** l]
    rows.append(tuple(row))
lesson.table(["layer l", "‖a[l]‖/‖x‖, s=1.5", "1.5^l", "‖a[l]‖/‖x‖, s=0.5", "0.5^l"], rows,
             title="Activations of the 10-layer linear network")
rows = [(s, float(identity_runs[s].series("param", "norm")[0]), float(identity_runs[s].series("param", "norm")[-1]),
         s ** (L - 1) * float(np.linalg.norm(g.T.astype(np.float64) @ x))) for s in (1.5, 0.5)]
lesson.table(["s", "‖dL/dW[1]‖", "‖dL/dW[10]‖", "s⁹·‖gᵀx‖"], rows, title="Weight gradients: every layer gets s^(L−1)")

# %%
with lesson.figure("08_identity_scaling.png", figsize=(6, 4)) as plt:
    if plt:
        layers_axis = np.arange(1, L + 1)
        for s in (1.5, 0.5):
            plt.semilogy(layers_axis, identity_runs[s].series("forward", "norm") / norm_x, "o-", label=f"W = {s}·I")
            plt.semilogy(layers_axis, s ** layers_axis, "k:", linewidth=1)
        plt.xlabel("layer l")
        plt.ylabel("‖a[l]‖ / ‖x‖  (dotted: s^l)")
        plt.legend()

# %%
for s in (1.5, 0.5):
    measured = identity_runs[s].series("forward", "norm") / norm_x
    lesson.check(np.allclose(measured, s ** np.arange(1, L + 1), rtol=1e-5),
                 f"W = {s}·I: ‖a[l]‖ = {s}^l · ‖x‖ for l = 1…10")
    grads = identity_runs[s].series("param", "norm")
    expected = s ** (L - 1) * np.linalg.norm(g.T.astype(np.float64) @ x)
    lesson.check(np.allclose(grads, expected, rtol=1e-4),
                 f"W = {s}·I: every layer's weight gradient is {s}⁹ ≈ {s ** 9:.3g} times ‖gᵀx‖")

# %% [markdown]
# ## 2. Rules for a good start, and three initialisations on handwritten digits
#
# The note's two rules: (1) the activations' mean should be 0; (2) their variance should be
# the same in every layer. For layer l, z[l] = W[l] a[l−1] + b[l]; with zero-mean independent
# weights Var(z[l]) = n[l−1] Var(W[l]) Var(a[l−1]) (tutorial 06), so rule 2 asks for
# **Var(W[l]) = 1/n[l−1]**: Xavier's N(0, 1/n[l−1]) with biases 0 — in minidl
# `init.variance_scaling_(w, scale=1.0, mode="fan_in", distribution="normal")`.
# (`init.xavier_normal_` uses 2/(n[l−1] + n[l]), the harmonic mean; for equal widths it is the same.)
#
# The experiment of the note, on minidl's 1,797 digits (the note used 10,000 MNIST digits): a
# 5-layer fully connected tanh network 64 → 64 → 64 → 64 → 64 → 10, trained with SGD from
#
# * **uniform**: U(0, 1) (`init.uniform_` with its defaults) — all weights positive;
# * **standard normal**: N(0, 1) (`init.normal_` with its defaults);
# * **Xavier**: N(0, 1/n[l−1]).

# %%
digits = load_digits(scale=True)
X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.2,
                                                    stratify=digits.target, seed=0)
widths = [64, 64, 64, 64, 64, 10]
inits = {
    "uniform U(0, 1)": lambda w, r: init.uniform_(w, rng=r),
    "standard normal": lambda w, r: init.normal_(w, rng=r),
    "Xavier N(0, 1/n)": lambda w, r: init.variance_scaling_(w, 1.0, "fan_in", "normal", rng=r),
}


def five_layer_net(fill, seed=0):
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.Tanh()]
    model = nn.Sequential(*layers[:-1])               # logits: no tanh after the last layer
    init_rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            fill(m.weight, init_rng)
            init.zeros_(m.bias)
    return model


# Before training: mean and std of each tanh layer's activation on the training set (rule 1, 2).
rows = []
for name, fill in inits.items():
    model = five_layer_net(fill)
    with Probe(model, modules=nn.Tanh) as probe:
        model(X_train)
    rows.append((name,) + tuple(f"{m:+.2f} / {s:.2f}" for m, s in
                                zip(probe.series("forward", "mean"), probe.series("forward", "std"))))
lesson.table(["init"] + [f"layer {l} mean / std" for l in range(1, 5)], rows,
             title="Activations at initialisation (tanh outputs)")

# %% [markdown]
# U(0, 1) breaks rule 1: every weight is positive, so every unit computes a large positive sum
# and tanh returns ≈ +1 for every input — the units agree with each other and carry no
# information about the image. N(0, 1) keeps the mean at 0, but each unit sums 64 terms of
# variance ~1: |z| is large, tanh saturates at ±1. Xavier keeps the activations in tanh's
# responsive range.

# %%
epochs = lesson.pick(full=20, quick=5)
criterion = nn.CrossEntropyLoss()
histories, accuracy = {}, {}
for name, fill in inits.items():
    model = five_layer_net(fill)
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
    histories[name] = losses
    accuracy[name] = accuracy_score(y_test, model(X_test).argmax(axis=1))
lesson.table(["init", "train loss epoch 1", f"train loss epoch {epochs}", "test accuracy"],
             [(name, h[0], h[-1], accuracy[name]) for name, h in histories.items()],
             title=f"5-layer tanh network, SGD lr 0.1, {epochs} epochs")

# %%
with lesson.figure("08_digits_inits.png", figsize=(6, 4)) as plt:
    if plt:
        for name, losses in histories.items():
            plt.plot(range(1, epochs + 1), losses, "o-", label=f"{name} (test acc {accuracy[name]:.2f})")
        plt.yscale("log")
        plt.xlabel("epoch")
        plt.ylabel("train loss (cross-entropy)")
        plt.legend(fontsize="small")

# %%
xavier, normal, uniform = accuracy["Xavier N(0, 1/n)"], accuracy["standard normal"], accuracy["uniform U(0, 1)"]
threshold = lesson.pick(full=0.93, quick=0.90)
lesson.check(xavier > threshold, f"Xavier reaches {xavier:.3f} > {threshold} test accuracy")
lesson.check(xavier > normal + 0.05 and xavier > uniform + 0.05,
             f"Xavier ({xavier:.3f}) beats standard normal ({normal:.3f}) and uniform ({uniform:.3f}) by > 5 points")
lesson.check(uniform < 0.2, f"U(0, 1) stays at chance level ({uniform:.3f}): all units saturate alike")

# %% [markdown]
# ## Try this
# * Replace tanh by ReLU and Xavier by `init.kaiming_normal_(w, nonlinearity="relu")` (He: the
#   Xavier variance × 2, as the note's conclusion says). Does N(0, 1) now diverge?
# * In part 1 use `init.orthogonal_(layer.weight)` instead of s·I: ‖a[l]‖ = ‖x‖ exactly for every
#   l (orthogonal matrices preserve length) — the idea behind tutorial 09.

# %%
lesson.done()

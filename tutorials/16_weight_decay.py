# %% [markdown]
# # 16 — Weight decay: L2 in the loss, SGD's `weight_decay`, AdamW's decoupled decay
#
# Source: `004_87ac655643e15070.txt`, 「深度学习优化策略—权重初始化权重衰减」:「系数λ就是权重衰减系数。
# 为什么可以给权重带来衰减 … 权重衰减(L2正则化)可以避免模型过拟合问题」, and its PyTorch
# article on initialising a model by looping over its modules. Library: `minidl.optim.SGD`
# (`minidl/optim/sgd.py`), `minidl.optim.Adam` / `AdamW` (`minidl/optim/adam.py`),
# `Module.apply` (`minidl/nn/module.py`), `minidl.nn.init`.
#
# **Claim.** Adding the L2 penalty $\frac{\lambda}{2}\lVert w\rVert^2$ to the cost makes every
# gradient step first *multiply the weights by a factor below one* — the weights decay — and
# then take the ordinary step; λ is the weight-decay coefficient. For plain SGD (also with
# momentum) "L2 in the loss" and the optimizer's `weight_decay=λ` are the same update. For
# Adam they are not: Adam divides the decay by its running gradient scale, which is why AdamW
# applies the decay *decoupled* from the gradient.
#
# ## The derivation
#
# 1. Penalised cost: $\tilde J(w) = J(w) + \frac{\lambda}{2}\lVert w\rVert^2$.
# 2. Its gradient: $\nabla\tilde J = \nabla J + \lambda w$ (the derivative of
#    $\frac{\lambda}{2}w_i^2$ is $\lambda w_i$).
# 3. One SGD step with rate η:
#    $w \leftarrow w - \eta(\nabla J + \lambda w) = (1-\eta\lambda)\,w - \eta\nabla J$.
#    The factor $1-\eta\lambda<1$ is the decay; the rest is the unregularised step.
# 4. With no data gradient ($\nabla J = 0$) the weights shrink geometrically:
#    $w_k = (1-\eta\lambda)^k\,w_0$.
# 5. SGD's `weight_decay=λ` forms $g = \nabla J + \lambda w$ *before* the momentum buffer
#    $b \leftarrow \mu b + g$, so it is literally the gradient of the L2 term: identical to
#    adding the penalty to the loss, with or without momentum.
# 6. Adam with L2 feeds $g = \nabla J + \lambda w$ into $m, v$ and steps by
#    $\eta\,\hat m/(\sqrt{\hat v}+\epsilon)$: the decay of a weight whose gradients are large is
#    divided by a large $\sqrt{\hat v}$ (barely decayed), and with $\nabla J = 0$ the step is
#    $\approx \eta\,\mathrm{sign}(w)$ — a *constant* shrink, not a proportional one.
#    AdamW instead does $w \leftarrow (1-\eta\lambda)\,w$ and then the Adam step on $\nabla J$
#    alone, so every weight decays by the same factor again (Loshchilov & Hutter, 2019).

# %%
import os

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score
from minidl.optim import SGD, Adam, AdamW

lesson = Lesson("16_weight_decay", source="004 权重衰减", blas_threads=1)

minidl.manual_seed(0)

# %% [markdown]
# ## Initialising a model by looping over its modules
#
# The PyTorch idiom of the source — visit every module, initialise by type — is
# `model.apply(fn)`: it calls `fn` on every sub-module (children first, then the model itself).
# Here Linear weights get Kaiming-normal values for ReLU ($\sigma=\sqrt{2/\text{fan\_in}}$) and
# biases get zeros. Writing the same loop as `for m in model.modules(): ...` is equivalent.

# %%
def make_model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)).double()


visited = []


def init_weights(module):
    visited.append(type(module).__name__)
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)


minidl.manual_seed(1)
model = make_model().apply(init_weights)
print("apply visited:", " → ".join(visited))

# the same initialisation written as the explicit loop, from the same seed
minidl.manual_seed(1)
looped = make_model()
for m in looped.modules():
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)

linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
init_rows = [(f"Linear({m.in_features}→{m.out_features})", float(m.weight.data.std()),
              float(np.sqrt(2.0 / m.in_features)), float(np.abs(m.bias.data).max())) for m in linears]
lesson.table(["layer", "std(W) measured", "√(2/fan_in)", "max |b|"], init_rows, title="after model.apply(init_weights)")

# %%
lesson.check(all(abs(std / target - 1) < 0.1 and b == 0 for _, std, target, b in init_rows),
             "apply reached every Linear: std(W) within 10% of √(2/fan_in), all biases exactly 0")
lesson.check(all(np.array_equal(a, b) for a, b in zip(model.state_dict().values(), looped.state_dict().values())),
             "model.apply(init_weights) and the explicit `for m in model.modules()` loop give identical weights")

# %% [markdown]
# ## Experiment 1: L2 in the loss vs SGD's `weight_decay` — the same update
#
# Two copies of the model (same initial weights, same mini-batches, float64), SGD with
# momentum 0.9. Copy A adds the penalty $\frac{\lambda}{2}\sum\lVert W\rVert^2$ to the
# loss — its gradient $\lambda W$ is added to each weight's `.grad` after the backward pass.
# Copy B leaves the loss alone and passes `weight_decay=λ` to SGD. Only weights are decayed,
# not biases, using parameter groups (the usual practice).

# %%
digits = load_digits()
n_samples = lesson.pick(full=len(digits.target), quick=500)
X = digits.data[:n_samples] / 16.0
y = digits.target[:n_samples]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=0)

lr, lam, momentum = 0.05, 1e-3, 0.9
criterion = nn.CrossEntropyLoss()


def weights_and_biases(net):
    named = list(net.named_parameters())
    return [p for n, p in named if n.endswith("weight")], [p for n, p in named if n.endswith("bias")]


def clone(net):
    twin = make_model()
    twin.load_state_dict(net.state_dict())
    return twin


model_a, model_b = clone(model), clone(model)
weights_a, biases_a = weights_and_biases(model_a)
weights_b, biases_b = weights_and_biases(model_b)
opt_a = SGD(model_a.parameters(), learning_rate=lr, momentum=momentum)
opt_b = SGD([{"params": weights_b, "weight_decay": lam}, {"params": biases_b}],
            learning_rate=lr, momentum=momentum)

epochs_l2 = lesson.pick(full=5, quick=2)
gaps, penalised = [], []
for epoch in range(epochs_l2):
    for xb, yb in DataLoader(X_train, y_train, batch_size=32, seed=epoch):
        # A: cost J + (λ/2)·Σ‖W‖², gradient ∇J + λW
        loss = criterion(model_a(xb), yb) + 0.5 * lam * sum(float(np.sum(w.data ** 2)) for w in weights_a)
        opt_a.zero_grad()
        model_a.backward(criterion.backward())
        for w in weights_a:
            w.accumulate_grad(lam * w.data)
        opt_a.step()
        # B: cost J, the decay inside the optimizer
        criterion(model_b(xb), yb)
        opt_b.zero_grad()
        model_b.backward(criterion.backward())
        opt_b.step()
        penalised.append(loss)
        gaps.append(max(float(np.max(np.abs(pa.data - pb.data)))
                        for pa, pb in zip(model_a.parameters(), model_b.parameters())))
lesson.table(["steps", "final penalised loss (A)", "max |θ_A − θ_B| over all steps"],
             [(len(gaps), penalised[-1], max(gaps))])

# %%
lesson.check(max(gaps) <= 1e-12,
             f"SGD(momentum=0.9, weight_decay=λ) follows L2-in-the-loss step for step "
             f"({len(gaps)} steps, largest difference {max(gaps):.1e})")

# %% [markdown]
# ## Experiment 2: without a data gradient the weights shrink geometrically
#
# Set the data gradient to zero (`zero_grad()` and no backward pass) and step: only the
# decay acts. Derivation step 4 predicts $w_k = (1-\eta\lambda)^k w_0$ for SGD, and AdamW's
# decoupled decay gives the same factor (its Adam part sees $m = v = 0$ and does not move).
# Adam with L2 instead shrinks every weight by about η per step, whatever its size, and
# overshoots zero once it gets there.

# %%
k_steps, eta, wd = 50, 0.01, 0.5
w0 = np.array([2.0, 0.2, 0.02, -1.0])
shrink = {}
for name, make in {"SGD weight_decay": lambda p: SGD(p, learning_rate=eta, weight_decay=wd),
                   "AdamW": lambda p: AdamW(p, learning_rate=eta, weight_decay=wd),
                   "Adam + L2": lambda p: Adam(p, learning_rate=eta, weight_decay=wd)}.items():
    w = nn.Parameter(w0.copy())
    optimizer = make([w])
    path = [w.data.copy()]
    for _ in range(k_steps):
        optimizer.zero_grad()
        optimizer.step()
        path.append(w.data.copy())
    shrink[name] = np.array(path)
factor = (1 - eta * wd) ** k_steps
lesson.table(["optimizer", *[f"w₀ = {v}" for v in w0]],
             [(name, *(p[-1] / w0)) for name, p in shrink.items()] + [("(1 − ηλ)^k", *([factor] * len(w0)))],
             title=f"w_k / w_0 after k = {k_steps} steps with no data gradient (η = {eta}, λ = {wd})")

# %%
k = np.arange(k_steps + 1)[:, None]
lesson.check(np.allclose(shrink["SGD weight_decay"], (1 - eta * wd) ** k * w0, rtol=1e-12),
             f"SGD: w_k = (1 − ηλ)^k·w_0 at every step (after {k_steps} steps every weight × {factor:.4f})")
lesson.check(np.allclose(shrink["AdamW"], (1 - eta * wd) ** k * w0, rtol=1e-12),
             "AdamW: the same geometric factor — the decay is decoupled from the gradient statistics")
adam_ratio = shrink["Adam + L2"][-1] / w0
lesson.check(adam_ratio[0] > 0.7 and abs(adam_ratio[2]) < 0.5,
             f"Adam + L2 is not proportional: w₀ = 2 keeps {adam_ratio[0]:.0%}, w₀ = 0.02 keeps "
             f"{adam_ratio[2]:.0%} (a step of ≈ η per step, whatever the size)")

# %% [markdown]
# ## Experiment 3: training with each kind of decay
#
# The digits MLP trained from the same initial weights with: SGD without decay, SGD with
# `weight_decay`, Adam with L2 and AdamW. Adam + L2 and the first AdamW use the same λ, so
# any difference between them comes from coupling alone.
#
# What to look for: the same λ does *not* mean the same decay. Under Adam + L2 the penalty
# gradient λw dominates $g$ for weights whose data gradients are small, and Adam normalises it
# to a step of about η: those weights are driven towards zero quickly and ‖W‖ drops. AdamW
# decays every weight by only $\eta\lambda = 5\cdot10^{-5}$ per step at λ = 0.05; it needs a λ
# around 1 for a visible shrink — which is why AdamW's typical λ (0.01–0.1 and more) is not
# comparable with an L2 coefficient. Note also what the table does *not* show on this
# data set: with ≈ 1,250 clean training images the MLP hardly overfits, and decay does not
# raise the test accuracy here (it may even cost a little). What it always does is keep the
# weights small; experiment 4 sets up the situation in which that pays.

# %%
epochs = lesson.pick(full=30, quick=6)
runs = {
    "SGD, no decay": lambda ps: SGD(ps, learning_rate=0.05, momentum=0.9),
    "SGD, weight_decay=5e-3": lambda ps: SGD(ps, learning_rate=0.05, momentum=0.9, weight_decay=5e-3),
    "Adam, no decay": lambda ps: Adam(ps, learning_rate=1e-3),
    "Adam + L2 (λ=0.05)": lambda ps: Adam(ps, learning_rate=1e-3, weight_decay=0.05),
    "AdamW (λ=0.05)": lambda ps: AdamW(ps, learning_rate=1e-3, weight_decay=0.05),
    "AdamW (λ=1)": lambda ps: AdamW(ps, learning_rate=1e-3, weight_decay=1.0),
}
results, trained = [], {}
for name, make in runs.items():
    net = clone(model)
    optimizer = make(net.parameters())
    for epoch in range(epochs):
        for xb, yb in DataLoader(X_train, y_train, batch_size=32, seed=epoch):
            loss = criterion(net(xb), yb)
            optimizer.zero_grad()
            net.backward(criterion.backward())
            optimizer.step()
    net.eval()
    train_acc = accuracy_score(y_train, net(X_train).argmax(axis=1))
    test_acc = accuracy_score(y_test, net(X_test).argmax(axis=1))
    weight_norm = float(np.sqrt(sum(np.sum(w.data ** 2) for w in weights_and_biases(net)[0])))
    trained[name] = net
    results.append((name, train_acc, test_acc, weight_norm))
initial_norm = float(np.sqrt(sum(np.sum(w.data ** 2) for w in weights_and_biases(model)[0])))
lesson.table(["optimizer", "train acc", "test acc", "‖W‖ (initial %.2f)" % initial_norm], results,
             title=f"{epochs} epochs on {len(X_train)} digits")

with lesson.figure("16_weight_decay.png", figsize=(10, 4)) as plt:
    if plt:
        plt.subplot(1, 2, 1)
        # SGD and AdamW, and both starting values under each, follow the same curve: distinct,
        # shifted markers keep all four visible
        for i, (name, p) in enumerate(shrink.items()):
            line, = plt.plot(p[:, 0] / w0[0], marker="osD"[i], markevery=(2 * i, 8), label=f"{name}, w₀ = 2")
            plt.plot(p[:, 2] / w0[2], "--", marker="osD"[i], mfc="none", markevery=(2 * i + 4, 8),
                     color=line.get_color(), label=f"{name}, w₀ = 0.02")
        plt.xlabel("step (no data gradient)")
        plt.ylabel("w_k / w_0")
        plt.legend(fontsize=7)
        plt.title("decay alone")
        plt.subplot(1, 2, 2)
        names = [r[0] for r in results]
        plt.barh(names, [r[3] for r in results])
        plt.axvline(initial_norm, color="k", linestyle=":", label="initial")
        plt.xlabel("‖W‖ after training")
        plt.legend(fontsize=7)
        plt.title("weight norm")

# %% [markdown]
# ## Experiment 4: where weight decay helps generalisation
#
# The source's reason for weight decay is "避免模型过拟合" — avoiding overfitting. Overfitting
# needs a model that can fit more than the signal: here **300 training images, 40 % of them
# with a wrong label** (replaced by a random other digit), and the same MLP with ≈ 26,000
# weights, trained 100 epochs with SGD (momentum 0.9). Without decay it memorises every
# label, the wrong ones included; the test set keeps its *true* labels, so every memorised
# wrong label costs test accuracy. We sweep λ (SGD's `weight_decay` on the weights, not the
# biases) over three splits. λ too large underfits: the sweep should show a U (or ∩) shape.
#
# The test suite runs this experiment once more with clean labels
# (`MINIDL_TUTORIAL_BREAK=noise`): nothing to memorise, nothing for decay to prevent — and the
# check below must fail on that run.

# %%
n_small, noise = 300, 0.0 if os.environ.get("MINIDL_TUTORIAL_BREAK") == "noise" else 0.4
lambdas = lesson.pick(full=[0.0, 3e-3, 1e-2, 3e-2], quick=[0.0, 1e-2])
splits = lesson.pick(full=3, quick=2)
X_all, y_all = digits.data / 16.0, digits.target
sweep = {lam_: [] for lam_ in lambdas}
for split in lesson.progress(range(splits), desc=f"{splits} splits × {len(lambdas)} values of λ"):
    X_s, X_held, y_s, y_held = train_test_split(X_all, y_all, train_size=n_small, stratify=y_all, seed=split)
    rng = np.random.default_rng(split)
    wrong = rng.random(n_small) < noise
    y_noisy = y_s.copy()
    y_noisy[wrong] = (y_s[wrong] + rng.integers(1, 10, wrong.sum())) % 10     # a random *other* digit
    for lam_ in lambdas:
        net = clone(model)
        weights, biases = weights_and_biases(net)
        optimizer = SGD([{"params": weights, "weight_decay": lam_}, {"params": biases}],
                        learning_rate=0.05, momentum=0.9)
        for epoch in range(100):
            for xb, yb in DataLoader(X_s, y_noisy, batch_size=32, seed=epoch):
                criterion(net(xb), yb)
                optimizer.zero_grad()
                net.backward(criterion.backward())
                optimizer.step()
        sweep[lam_].append((accuracy_score(y_noisy, net(X_s).argmax(axis=1)),
                            accuracy_score(y_s[wrong], net(X_s[wrong]).argmax(axis=1)) if wrong.any() else np.nan,
                            accuracy_score(y_held, net(X_held).argmax(axis=1)),
                            float(np.sqrt(sum(np.sum(w.data ** 2) for w in weights)))))
sweep = {lam_: np.array(v) for lam_, v in sweep.items()}
lesson.table(["λ", "train acc (noisy labels)", "wrong-label images: true digit predicted", "held-out test acc",
              "test acc per split", "‖W‖"],
             [(lam_, float(v[:, 0].mean()), float(v[:, 1].mean()) if noise else "-", float(v[:, 2].mean()),
               " ".join(f"{a:.3f}" for a in v[:, 2]), float(v[:, 3].mean())) for lam_, v in sweep.items()],
             title=f"{n_small} training images, {noise:.0%} wrong labels, 100 epochs (mean of {splits} splits)")

# %%
with lesson.figure("16_weight_decay_noisy_labels.png", figsize=(6, 4)) as plt:
    if plt:
        xs = np.arange(len(lambdas))
        for split in range(splits):
            plt.plot(xs, [sweep[lam_][split, 2] for lam_ in lambdas], "o-", alpha=0.5, label=f"split {split + 1}")
        plt.plot(xs, [sweep[lam_][:, 2].mean() for lam_ in lambdas], "ks-", lw=2, label="mean")
        plt.xticks(xs, [f"{lam_:g}" for lam_ in lambdas])
        plt.xlabel("weight decay λ")
        plt.ylabel("held-out test accuracy (true labels)")
        plt.title(f"{n_small} images, {noise:.0%} wrong labels")
        plt.legend(fontsize=8)

# %% [markdown]
# Read the columns left to right. Without decay the training accuracy on the *noisy* labels
# is ≈ 100 %: the net has learned the wrong labels too, and for those images it no longer
# predicts the true digit. With λ around 10⁻² it cannot afford the large weights that
# memorising 120 arbitrary labels takes: its training accuracy drops towards the 60 % of
# labels that are right, on the mislabelled images it predicts the *true* digit, and the
# held-out accuracy rises — on every split. λ = 3·10⁻² starts to underfit.

# %% [markdown]
# ## Check: the claims on this run

# %%
norms = {r[0]: r[3] for r in results}
lesson.check(norms["SGD, weight_decay=5e-3"] < norms["SGD, no decay"]
             and norms["AdamW (λ=1)"] < norms["AdamW (λ=0.05)"] < norms["Adam, no decay"],
             "weight decay leaves smaller weights than training without it (SGD and AdamW)")
coupling_gap = max(float(np.max(np.abs(a.data - b.data))) for a, b in
                   zip(trained["Adam + L2 (λ=0.05)"].parameters(), trained["AdamW (λ=0.05)"].parameters()))
no_decay, decayed = sweep[0.0][:, 2], sweep[1e-2][:, 2]
lesson.check(np.all(decayed > no_decay) and decayed.mean() - no_decay.mean() > 0.05,
             f"with few, noisy labels weight decay (λ = 1e-2) generalises better: held-out accuracy "
             f"{no_decay.mean():.3f} → {decayed.mean():.3f} (> +0.05), higher on each of the {splits} splits")
lesson.check(sweep[1e-2][:, 0].mean() < sweep[0.0][:, 0].mean() - 0.1,
             f"…because it fits less of the noise: training accuracy on the noisy labels "
             f"{sweep[0.0][:, 0].mean():.2f} → {sweep[1e-2][:, 0].mean():.2f}")
lesson.check(coupling_gap > 1e-3,
             f"Adam + L2 and AdamW with the same λ end at different weights (max difference {coupling_gap:.3f}): "
             "coupled and decoupled decay are different algorithms")

# %% [markdown]
# ## Try this
# * Give the biases a decay too (`SGD(model.parameters(), weight_decay=λ)` in experiment 1
#   and penalise every parameter in copy A): the two copies still agree step for step.
# * Raise SGD's λ in experiment 3 to 0.05 (η·λ = 2.5·10⁻³ per step, 50× AdamW's at the same
#   λ): how far can the weights shrink before the training accuracy suffers?

# %%
lesson.done()

# %% [markdown]
# # 13 — Regularization: L2 and dropout, inverted vs traditional
#
# Source: `003_1afe6d55217f9576.txt`, section "正则化" (1. L2 Regularization, 2. Dropout — the
# deeplearning.ai assignment's four steps, Inverted-dropout vs AlexNet's traditional dropout).
#
# **Claim.** A network with many more parameters than training points memorises them: training
# accuracy reaches ~100 % while test accuracy stalls, and its test loss grows as it becomes
# over-confident. Two regularizers narrow that train/test gap: **L2** adds λ/2·‖W‖² to the
# loss, which shrinks the weights at every step ("weight decay"); **dropout** switches every
# hidden unit off with probability p = 1 − keep_prob at each training step, so no unit can
# rely on particular others. Dropout must keep the *expected* activation the same in training
# and at test time: inverted dropout divides by keep_prob while training, traditional
# (AlexNet) dropout multiplies by keep_prob at test time. Both have the same expectation;
# inverted dropout won because the test-time code never depends on keep_prob.
#
# Library code: `minidl/nn/dropout.py` (`Dropout(p, mode="inverted"|"traditional")`,
# `keep_prob`), its kernel `minidl/_kernels/dropout.pyx`, and `SGD(weight_decay=λ)` in
# `minidl/optim/sgd.py`.

# %%
import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, make_moons
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score
from minidl.optim import SGD

lesson = Lesson("13_regularization_dropout", source="003 正则化", blas_threads=1)

minidl.manual_seed(0)

# %% [markdown]
# ## 1. A network that over-fits
#
# 80 points of two noisy interleaved half-moons, a 2-128-128-2 ReLU network (17 000
# parameters for 80 points) and plain mini-batch SGD with momentum, trained far past the
# point where the training set is learned. The test set is 2 000 fresh points from the same
# distribution, so the test accuracy is what the network learned about the moons, not about
# these 80 points.

# %%
X_train, y_train = make_moons(n_samples=80, noise=0.35, seed=1)
X_test, y_test = make_moons(n_samples=2000, noise=0.35, seed=2)
epochs = lesson.pick(full=600, quick=300)
hidden = 128


def make_model(p=0.0, mode="inverted"):
    """2 → 128 → 128 → 2 with ReLU, and Dropout(p) after each hidden layer when p > 0."""
    layers = []
    for fan_in in (2, hidden):
        layers += [nn.Linear(fan_in, hidden), nn.ReLU()]
        if p > 0:
            layers.append(nn.Dropout(p, mode=mode))
    return nn.Sequential(*layers, nn.Linear(hidden, 2))


def evaluate(model, X, y, criterion):
    model.eval()                       # dropout off (inverted) or scaled by keep_prob (traditional)
    logits = model(X)
    model.train()
    return accuracy_score(y, logits.argmax(axis=1)), criterion(logits, y)


def train(p=0.0, mode="inverted", weight_decay=0.0):
    minidl.manual_seed(0)              # same initial weights and dropout stream for every variant
    model = make_model(p, mode)
    criterion = nn.CrossEntropyLoss()
    optimizer = SGD(model.parameters(), learning_rate=0.05, momentum=0.9, weight_decay=weight_decay)
    for epoch in range(epochs):
        for xb, yb in DataLoader(X_train, y_train, batch_size=32, seed=epoch):
            logits = model(xb)
            criterion(logits, yb)
            optimizer.zero_grad()
            model.backward(criterion.backward())
            optimizer.step()
    train_acc, train_loss = evaluate(model, X_train, y_train, criterion)
    test_acc, test_loss = evaluate(model, X_test, y_test, criterion)
    weight_norm = np.sqrt(sum(np.sum(p.data.astype(np.float64) ** 2)
                              for name, p in model.named_parameters() if name.endswith("weight")))
    return model, dict(train_acc=train_acc, test_acc=test_acc, gap=train_acc - test_acc,
                       train_loss=train_loss, test_loss=test_loss, weight_norm=weight_norm)


# %% [markdown]
# ## 2. L2 regularization is weight decay
#
# The seed adds the squared Frobenius norm of every weight matrix to the cross-entropy cost:
#
#     J_L2 = J + (λ / 2m) Σ_l ‖W[l]‖²_F
#
# Our losses are already means over the batch, so write the penalty as (λ/2)·‖W‖². Its
# gradient is λ·W, and one gradient-descent step becomes
#
#     W ← W − η (∂J/∂W + λ W) = (1 − ηλ) · W − η ∂J/∂W
#
# — before the usual step, every weight is multiplied by (1 − ηλ) < 1: it *decays* towards 0
# unless the data keep pushing it out. Large weights are what a network needs to draw a
# boundary that bends around single noisy points, so shrinking them smooths the boundary.
# `SGD(..., weight_decay=λ)` adds λ·W to each gradient (PyTorch's rule, biases included).
#
# ## 3. Dropout, the seed's four steps
#
# For a layer's activations A (one row per example):
#
# 1. D = rng.random(A.shape) — uniform numbers in [0, 1);
# 2. D = (D < keep_prob) — each entry is 1 with probability keep_prob, else 0;
# 3. A = A · D — switch those units off;
# 4. A = A / keep_prob — *inverted* dropout (explained in section 4).
#
# Careful with names: the seed's `p` in `(np.random.rand(*H1.shape) < p) / p` is the *keep*
# probability; `nn.Dropout(p)` follows PyTorch, where p is the *drop* probability and
# `keep_prob = 1 − p`. minidl draws the uniforms as float32 (24 random bits) from a NumPy
# Generator, so the four lines above, written with the same Generator, give exactly what the
# layer gives — on the compiled backend too, which reads the same random stream.

# %%
keep_prob = 0.8
A = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
D = np.random.default_rng(7).random(A.shape, dtype=np.float32)      # step 1
D = D < np.float32(keep_prob)                                       # step 2
A_by_hand = A * D / np.float32(keep_prob)                           # steps 3 and 4
layer = nn.Dropout(p=1 - keep_prob, rng=np.random.default_rng(7))
A_layer = layer(A)
print("mask D:\n", D.astype(int))
print("A · D / keep_prob:\n", A_by_hand)
lesson.check(np.array_equal(A_layer, A_by_hand),
             "nn.Dropout(p=0.2) draws exactly the seed's mask: A·D/keep_prob, bit for bit")

# %% [markdown]
# Backward uses the same mask: a unit that was off in the forward pass passed nothing on, so
# it receives no gradient, and a kept unit's gradient is scaled by the same 1/keep_prob:
# dA = dY · D / keep_prob.

# %%
dA = layer.backward(np.ones_like(A))
lesson.check(np.array_equal(dA, D / np.float32(keep_prob)), "backward: dA = dY · D / keep_prob")

# %% [markdown]
# ## 4. Why divide by keep_prob: expectations
#
# Write q = keep_prob. A unit with activation a is kept (value a) with probability q and
# dropped (value 0) with probability 1 − q — a 0-1 (Bernoulli) variable, so
#
#     E[a · D] = q · a + (1 − q) · 0 = q · a.
#
# * **Inverted dropout** divides by q while training: E[a · D / q] = a. At test time all
#   units are kept and nothing is scaled: the output is a — the same expectation.
# * **Traditional dropout** (AlexNet) does not scale while training: E[a · D] = q · a. At test
#   time all units are kept, which would give a, so the test output is multiplied by q to
#   match the training expectation q · a.
#
# Measured on one activation vector with 200 000 draws per unit: each training-time output is
# a mean of independent draws with standard deviation a·√((1−q)/q) (inverted) or
# a·√(q(1−q)) (traditional), so the sample mean must land within a few σ/√n of the
# prediction.

# %%
q = 0.6
draws = lesson.pick(full=200_000, quick=50_000)
a = np.array([0.5, 1.0, 2.0, 4.0])
X_rep = np.tile(a, (draws, 1))
inverted, traditional = nn.Dropout(1 - q), nn.Dropout(1 - q, mode="traditional")
train_inv = inverted(X_rep).mean(axis=0)
train_trad = traditional(X_rep).mean(axis=0)
test_inv = inverted.eval()(a)
test_trad = traditional.eval()(a)
sigma_inv = a * np.sqrt((1 - q) / q) / np.sqrt(draws)
sigma_trad = a * np.sqrt(q * (1 - q)) / np.sqrt(draws)
lesson.table(["a", "inverted: train mean", "inverted: test", "traditional: train mean", "traditional: test"],
             [(a[i], train_inv[i], test_inv[i], train_trad[i], test_trad[i]) for i in range(len(a))],
             title=f"E[output] with keep_prob = {q}")
lesson.check(np.all(np.abs(train_inv - a) < 5 * sigma_inv) and np.array_equal(test_inv, a),
             "inverted: E[training output] = a (within 5σ) and the test output is a itself")
lesson.check(np.all(np.abs(train_trad - q * a) < 5 * sigma_trad) and np.allclose(test_trad, q * a),
             "traditional: E[training output] = q·a (within 5σ) and the test output is q·a")

# %% [markdown]
# ## 5. Both regularizers narrow the gap
#
# The same network, the same mini-batches, trained four ways: no regularization, L2 with
# λ = 0.01, inverted dropout with p = 0.5 after each hidden layer, and traditional dropout
# with p = 0.5.

# %%
variants = {
    "none": train(),
    "L2 (λ = 0.01)": train(weight_decay=0.01),
    "dropout, inverted (p = 0.5)": train(0.5),
    "dropout, traditional (p = 0.5)": train(0.5, "traditional"),
}
results = {name: r for name, (_, r) in variants.items()}
lesson.table(["regularization", "train acc", "test acc", "gap", "train loss", "test loss", "‖W‖"],
             [(name, r["train_acc"], r["test_acc"], r["gap"], r["train_loss"], r["test_loss"], r["weight_norm"])
              for name, r in results.items()], title=f"80 noisy moons, {epochs} epochs")

# %% [markdown]
# Without regularization the network fits the training points almost perfectly and pays for
# it on new points: its test loss is several times its training loss (confident mistakes near
# the noisy boundary). L2 keeps ‖W‖ small and the two losses close; dropout gets there by a
# different route (its weights need not be small: each unit must be useful on its own).

# %%
with lesson.figure("13_decision_boundaries.png", figsize=(12, 3.2)) as plt:
    if plt:
        grid_x, grid_y = np.meshgrid(np.linspace(-2.0, 3.3, 200), np.linspace(-1.6, 2.0, 160))
        grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
        for i, (name, (model, _)) in enumerate(variants.items()):
            model.eval()
            z = model(grid).argmax(axis=1).reshape(grid_x.shape)
            plt.subplot(1, 4, i + 1)
            plt.contourf(grid_x, grid_y, z, alpha=0.3, cmap="coolwarm")
            plt.scatter(X_train[:, 0], X_train[:, 1], c=y_train, cmap="coolwarm", s=12, edgecolors="k")
            plt.title(f"{name}\ntest acc {results[name]['test_acc']:.3f}", fontsize=9)
            plt.xticks([])
            plt.yticks([])

# %%
base = results["none"]
for name in list(results)[1:]:
    r = results[name]
    lesson.check(r["gap"] < base["gap"] and r["test_loss"] < base["test_loss"],
                 f"{name}: train/test accuracy gap {r['gap']:.3f} < {base['gap']:.3f} and test loss "
                 f"{r['test_loss']:.3f} < {base['test_loss']:.3f} (no regularization)")
lesson.check(results["L2 (λ = 0.01)"]["weight_norm"] < base["weight_norm"],
             "L2 shrinks the weights: ‖W‖ is smaller than without regularization")

# %% [markdown]
# ## 6. Why inverted dropout won
#
# Both variants regularize the same way — in expectation the network is the same function.
# The seed gives two reasons for preferring the inverted form: (1) the scaling happens during
# training, so inference does no extra work; (2) keep_prob is a hyper-parameter you tune, and
# with inverted dropout the *test-time code does not contain it*: change keep_prob and only
# the training code changes. Below, the evaluation output of a Dropout layer for three
# different keep_probs: identical for inverted, different for traditional — a traditional
# model deployed with the wrong keep_prob at inference is silently wrong.

# %%
x = np.linspace(-1, 1, 6)
rows, inverted_outputs, traditional_outputs = [], [], []
for p in (0.2, 0.5, 0.8):
    inv_out = nn.Dropout(p).eval()(x)
    trad_out = nn.Dropout(p, mode="traditional").eval()(x)
    inverted_outputs.append(inv_out)
    traditional_outputs.append(trad_out)
    rows.append((p, np.array2string(inv_out, precision=2), np.array2string(trad_out, precision=2)))
lesson.table(["p", "inverted, eval", "traditional, eval"], rows, title="Test-time output for x = linspace(−1, 1, 6)")
lesson.check(all(np.array_equal(o, x) for o in inverted_outputs)
             and len({o.tobytes() for o in traditional_outputs}) == 3,
             "inverted dropout's test-time output does not depend on keep_prob; traditional's does")

# %% [markdown]
# ## Try this
# * Sweep λ over 1e-4 … 0.1 and p over 0.1 … 0.8: where does the test accuracy peak? What
#   happens to the training accuracy at λ = 0.1?
# * Train on 800 points instead of 80: how much do the regularizers still help?
# * Put dropout on the *input* layer too (p = 0.2, as in the original dropout paper) and
#   compare the decision boundaries.

# %%
lesson.done()

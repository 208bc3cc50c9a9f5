# %% [markdown]
# # 14 — Batch normalization: drifting pre-activations, normalize, scale and shift
#
# Source: `003_1afe6d55217f9576.txt`, section "Batch Normalization" (points 1–5: the shifted
# input distribution of a deep network, pulling it back to mean 0 / variance 1, the learned
# scale and shift, faster training and larger learning rates).
#
# **Claim.** In a deep network the inputs of a nonlinearity, x = W·u + b, change their
# distribution as the layers below them learn. For a sigmoid that drift pushes them towards
# large |x|, where σ'(x) ≈ 0: gradients vanish and training slows down or stops. Batch
# normalization forces each unit's pre-activation back to mean 0 and variance 1 over the
# mini-batch, then lets the network choose its own scale γ and shift β. The sigmoid inputs
# stay in the sensitive region, the network trains much faster and tolerates learning rates
# that make the plain network fail. At test time the batch statistics are replaced by running
# averages collected during training, so a prediction no longer depends on the batch.
#
# Library code: `minidl/nn/batchnorm.py` (`BatchNorm1d`, `BatchNorm2d`: running_mean,
# running_var, num_batches_tracked, train/eval) and its fused kernels
# `minidl/_kernels/batchnorm.pyx` (the derivation of the backward pass is in the NumPy twin,
# `minidl/_kernels/reference/batchnorm.py`).

# %%
import copy

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score
from minidl.optim import SGD

lesson = Lesson("14_batch_normalization", source="003 Batch Normalization")
minidl.manual_seed(0)
X, y = load_digits(return_X_y=True, scale=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, seed=0)

# %% [markdown]
# ## 1. Why the sigmoid cares where its inputs are
#
# σ(x) = 1 / (1 + e⁻ˣ) has the derivative σ'(x) = σ(x)(1 − σ(x)): 1/4 at x = 0 and almost
# nothing a few units away. Backpropagation multiplies the gradient by σ'(x) at every sigmoid
# layer, so a layer whose inputs sit at |x| ≈ 4 passes on less than a tenth of what a layer
# with inputs near 0 passes on.

# %%
def sigmoid_slope(z):
    s = 1.0 / (1.0 + np.exp(-z))
    return s * (1.0 - s)


lesson.table(["x", "σ'(x)", "relative to x = 0"],
             [(z, sigmoid_slope(z), sigmoid_slope(z) / 0.25) for z in (0.0, 1.0, 2.0, 4.0, 6.0)])

# %% [markdown]
# ## 2. The drift, measured
#
# Two 5-hidden-layer sigmoid networks of width 64 on the handwritten digits, identical except
# that the second puts `BatchNorm1d` between every `Linear` and its `Sigmoid`. Both train with
# plain SGD (learning rate 2). After every epoch we pass the same 256 training images through
# a copy of each network (in training mode, as during a step) and record, per layer, the mean
# and standard deviation of the sigmoid's inputs and their mean slope σ'(x).

# %%
depth, width = 5, 64
epochs_drift = lesson.pick(full=20, quick=8)
probe_batch = X_train[:256]


def make_model(batch_norm, depth=depth):
    layers, fan_in = [], 64
    for _ in range(depth):
        layers.append(nn.Linear(fan_in, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.Sigmoid())
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, 10))


def sigmoid_inputs(model, x):
    """The input of every Sigmoid in one forward pass (on a copy: running stats untouched)."""
    model = copy.deepcopy(model)
    inputs, h = [], x
    for layer in model:
        if isinstance(layer, nn.Sigmoid):
            inputs.append(h)
        h = layer(h)
    return inputs


def train(model, learning_rate, epochs, record=False):
    """Plain SGD, batch 64; returns the mean training loss of every epoch (and the records)."""
    criterion = nn.CrossEntropyLoss()
    optimizer = SGD(model.parameters(), learning_rate=learning_rate)
    losses, records = [], []
    for epoch in range(epochs):
        if record:
            records.append([(z.mean(), z.std(), sigmoid_slope(z).mean()) for z in sigmoid_inputs(model, probe_batch)])
        total, batches = 0.0, 0
        for xb, yb in DataLoader(X_train, y_train, batch_size=64, seed=epoch):
            total += criterion(model(xb), yb)
            optimizer.zero_grad()
            model.backward(criterion.backward())
            optimizer.step()
            batches += 1
        losses.append(total / batches)
    if record:
        records.append([(z.mean(), z.std(), sigmoid_slope(z).mean()) for z in sigmoid_inputs(model, probe_batch)])
    return losses, np.array(records)


drift = {}
for batch_norm in (False, True):
    minidl.manual_seed(0)
    model = make_model(batch_norm)
    losses, records = train(model, 2.0, epochs_drift, record=True)
    drift[batch_norm] = (model, losses, records)    # records: (epoch, layer, [mean, std, mean σ'])

rows = []
for layer in range(depth):
    row = [layer + 1]
    for batch_norm in (False, True):
        r = drift[batch_norm][2]
        row += [f"{r[0, layer, 0]:+.2f} ± {r[0, layer, 1]:.2f}", f"{r[-1, layer, 0]:+.2f} ± {r[-1, layer, 1]:.2f}",
                float(r[-1, layer, 2])]
    rows.append(row)
lesson.table(["layer", "no BN: start", f"no BN: epoch {epochs_drift}", "no BN: mean σ'",
              "BN: start", f"BN: epoch {epochs_drift}", "BN: mean σ'"], rows,
             title="Sigmoid inputs (mean ± std over the probe batch and units)")
print(f"final training loss: without BN {drift[False][1][-1]:.3f}, with BN {drift[True][1][-1]:.3f}")

# %%
with lesson.figure("14_drift.png", figsize=(10, 3.6)) as plt:
    if plt:
        for panel, batch_norm in enumerate((False, True)):
            plt.subplot(1, 2, panel + 1)
            r = drift[batch_norm][2]
            epochs_axis = np.arange(r.shape[0])
            for layer in range(depth):
                plt.plot(epochs_axis, r[:, layer, 0], label=f"layer {layer + 1}")
                plt.fill_between(epochs_axis, r[:, layer, 0] - r[:, layer, 1], r[:, layer, 0] + r[:, layer, 1],
                                 alpha=0.15)
            plt.xlabel("epoch")
            plt.ylabel("sigmoid input: mean ± std")
            plt.title("with BatchNorm1d" if batch_norm else "without batch norm")
            plt.legend(fontsize=7)

# %% [markdown]
# Without batch normalization the deep layers' inputs wander off — the deepest one by many of
# its initial standard deviations — into the flat part of the sigmoid, and the network barely
# learns. With batch normalization every layer's sigmoid inputs stay centred with a spread
# of about one, where σ' is large.

# %%
plain, normed = drift[False][2], drift[True][2]
shift = np.abs(plain[-1, :, 0] - plain[0, :, 0]) / plain[0, :, 1]
lesson.check(shift.max() > 3 and plain[-1, :, 2].min() < 0.1,
             f"without BN a layer's sigmoid inputs drift by {shift.max():.1f} initial stds and its mean slope "
             f"falls to {plain[-1, :, 2].min():.3f}")
lesson.check(normed[:, :, 2].min() > max(0.1, 3 * plain[-1, :, 2].min()),
             f"with BN every layer keeps a mean slope σ' ≥ {normed[:, :, 2].min():.3f} throughout training "
             "(more than 3× the plain network's worst layer)")
lesson.check(drift[True][1][-1] < 0.5 * drift[False][1][-1],
             "with BN the training loss is less than half of the plain network's")

# %% [markdown]
# ## 3. Normalize, then scale and shift
#
# For one unit and a mini-batch of m values x₁ … x_m (the seed's point 4):
#
#     μ_B = (1/m) Σ xᵢ                     σ²_B = (1/m) Σ (xᵢ − μ_B)²
#     x̂ᵢ = (xᵢ − μ_B) / √(σ²_B + ε)         yᵢ = γ · x̂ᵢ + β
#
# x̂ has mean 0 and variance σ²_B/(σ²_B + ε) ≈ 1 over the batch *by construction*, whatever
# the layer below did. γ and β are learned per unit (`weight` and `bias`, initialised to 1
# and 0): normalization alone would pin every unit to the linear middle of the sigmoid and
# cost the network expressiveness; with γ = √(σ²_B + ε) and β = μ_B the layer can even undo
# itself. Checked on the trained network: x̂ recovered from each BatchNorm output as
# (y − β)/γ has batch mean 0 and variance 1 in every layer, although the `Linear` outputs
# going in are far from standard.

# %%
model = drift[True][0]
batch = X_train[:128]
rows, xhat_stats = [], []
h = batch
for layer in copy.deepcopy(model):
    if isinstance(layer, nn.BatchNorm1d):
        z = h
        h = layer(h)
        x_hat = (h - layer.bias.data) / layer.weight.data
        xhat_stats.append((np.abs(x_hat.mean(axis=0)).max(), np.abs(x_hat.var(axis=0) - 1).max()))
        rows.append((len(rows) + 1, *(float(v) for v in (z.mean(), z.std(axis=0).mean(), *xhat_stats[-1],
                                                         np.abs(layer.weight.data).mean(),
                                                         np.abs(layer.bias.data).mean()))))
    else:
        h = layer(h)
lesson.table(["BN layer", "input mean", "input std (per unit, avg)", "max |mean x̂|", "max |var x̂ − 1|",
              "mean |γ|", "mean |β|"], rows, title="Inside the trained network's BatchNorm layers (training mode)")
lesson.check(all(m < 1e-4 and v < 1e-2 for m, v in xhat_stats),
             "x̂ = (y − β)/γ has batch mean 0 and variance 1 for every unit of every BN layer")

# %%
bn = nn.BatchNorm1d(4, dtype=np.float64)
z = np.random.default_rng(1).normal(3.0, 2.0, (32, 4))
bn.weight.data[:] = np.sqrt(z.var(axis=0) + bn.eps)
bn.bias.data[:] = z.mean(axis=0)
lesson.check(np.allclose(bn(z), z), "with γ = √(σ²_B + ε) and β = μ_B batch norm is the identity")

# %% [markdown]
# ## 4. Training mode vs evaluation mode
#
# A prediction should not depend on which other images share its batch, and a single image
# has no batch variance at all (`BatchNorm1d` refuses a batch of one in training mode, as
# PyTorch does). So during training each BN layer also keeps running estimates (PyTorch's
# rule, momentum m = 0.1):
#
#     running_mean ← (1 − m) · running_mean + m · μ_B
#     running_var  ← (1 − m) · running_var  + m · σ²_B · n/(n − 1)      (unbiased)
#
# and `model.eval()` normalizes with them instead of the batch statistics. First one step by
# hand, then the trained network.

# %%
bn = nn.BatchNorm1d(3, dtype=np.float64)
z = np.random.default_rng(2).normal([1.0, -2.0, 0.5], [1.0, 3.0, 0.2], (16, 3))
bn(z)
lesson.check(np.allclose(bn.running_mean, 0.1 * z.mean(axis=0))
             and np.allclose(bn.running_var, 0.9 * 1.0 + 0.1 * z.var(axis=0, ddof=1)),
             "after one step: running_mean = 0.1·μ_B and running_var = 0.9 + 0.1·(unbiased σ²_B)")

# %% [markdown]
# On the trained network the running averages *lag*: with a learning rate of 2 the weights —
# and so the statistics — keep moving, and an average over the last ~1/m = 10 batches
# describes a slightly older network. A common remedy: freeze the weights, reset the running
# statistics, set `momentum=None` (a plain cumulative average, m = 1/num_batches_tracked) and
# pass the training set through once in training mode, without backward. Eval-mode accuracy
# depends directly on these estimates: compare the last column before and after.

# %%
first_bn = model[1]
z_all = model[0](X_train)                         # the first BN layer's input over the training set


def running_stats_error():
    """|running − training-set| statistics of the first BN layer, in units of its std."""
    scale = z_all.std(axis=0).mean()
    return (float(np.abs(first_bn.running_mean - z_all.mean(axis=0)).mean() / scale),
            float(np.abs(np.sqrt(first_bn.running_var) - z_all.std(axis=0)).mean() / scale))


def eval_accuracy():
    model.eval()
    accuracy = accuracy_score(y_test, model(X_test).argmax(axis=1))
    model.train()
    return accuracy


rows = [("after training (momentum 0.1)", *running_stats_error(), eval_accuracy())]
for module in model.modules():
    if isinstance(module, nn.BatchNorm1d):
        module.momentum = None
        module.running_mean[:] = 0.0
        module.running_var[:] = 1.0
        module.num_batches_tracked = np.array(0)
for xb, _ in DataLoader(X_train, y_train, batch_size=64, shuffle=False, drop_last=True):
    model(xb)                                     # statistics only: no backward, no step
rows.append(("re-estimated (momentum None)", *running_stats_error(), eval_accuracy()))
lesson.table(["running statistics", "mean error (std)", "std error (std)", "test accuracy (eval mode)"], rows)
lesson.check(rows[1][1] < 0.02 and rows[1][2] < 0.05,
             "re-estimated running statistics match the training-set statistics (errors < 0.02 and 0.05 std)")

model.eval()
alone = model(X_test[:1])
in_batch = model(X_test[:50])[:1]
model.train()
train_a = model(X_test[:50])[:1]
train_b = model(np.concatenate([X_test[:1], X_test[50:99]]))[:1]
model.eval()
print(f"eval mode: max |difference| alone vs in a batch = {np.abs(alone - in_batch).max():.2e}; "
      f"training mode, two different batches: {np.abs(train_a - train_b).max():.2e}")
lesson.check(np.allclose(alone, in_batch, rtol=1e-5, atol=1e-5) and np.abs(train_a - train_b).max() > 1e-3,
             "in eval mode a prediction is independent of the batch; in training mode it is not")

# %% [markdown]
# ## 5. Larger learning rates
#
# The seed's point 5: with BN "可以使用大的学习率". Scaling the weights of a layer by a
# constant does not change its BN output (μ_B and σ_B scale with them), so a step that makes
# the weights too large does not blow up the next layer's inputs. A 2-hidden-layer sigmoid
# network (shallow enough to train without BN) at a moderate and a large learning rate:

# %%
epochs_lr = lesson.pick(full=20, quick=10)
curves = {}
for learning_rate in (2.0, 10.0):
    for batch_norm in (False, True):
        minidl.manual_seed(0)
        model = make_model(batch_norm, depth=2)
        losses, _ = train(model, learning_rate, epochs_lr)
        model.eval()
        curves[(learning_rate, batch_norm)] = (losses, accuracy_score(y_test, model(X_test).argmax(axis=1)))
lesson.table(["learning rate", "batch norm", "loss, epoch 1", f"loss, epoch {epochs_lr}", "test accuracy"],
             [(lr, "yes" if bn_ else "no", c[0][0], c[0][-1], c[1]) for (lr, bn_), c in curves.items()])

# %%
with lesson.figure("14_learning_rates.png", figsize=(6, 4)) as plt:
    if plt:
        for (lr, bn_), (losses, _) in curves.items():
            plt.plot(np.arange(1, epochs_lr + 1), losses, ("-" if bn_ else "--"),
                     label=f"lr {lr}, {'BN' if bn_ else 'no BN'}")
        plt.yscale("log")
        plt.xlabel("epoch")
        plt.ylabel("training loss")
        plt.legend()

# %%
small_plain, large_plain = curves[(2.0, False)][0], curves[(10.0, False)][0]
small_bn, large_bn = curves[(2.0, True)][0], curves[(10.0, True)][0]
lesson.check(small_plain[-1] < 0.7 * small_plain[0] and large_plain[-1] > 1.0,
             f"without BN lr 2 learns (loss {small_plain[0]:.2f} → {small_plain[-1]:.2f}) but lr 10 does not "
             f"(loss {large_plain[-1]:.2f})")
lesson.check(large_bn[-1] < 0.3 and small_bn[-1] < small_plain[-1],
             f"with BN lr 10 trains (loss {large_bn[-1]:.3f}) and lr 2 beats the plain network "
             f"({small_bn[-1]:.3f} < {small_plain[-1]:.3f})")

# %% [markdown]
# ## Try this
# * Replace `Sigmoid` by `ReLU` in section 2: is the drift still harmful? Does BN still help?
# * Put `BatchNorm1d` *after* the sigmoid instead of before it and compare the curves of
#   section 5 (the original paper normalizes x = Wu + b, the seed's 激活输入值).
# * Train with batch size 4 instead of 64: the batch statistics get noisy — what happens to
#   the gap between training-mode and eval-mode accuracy?

# %%
lesson.done()

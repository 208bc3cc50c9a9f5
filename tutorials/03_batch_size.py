# %% [markdown]
# # 03 — Batch size: GD vs SGD vs mini-batch
#
# Source: `000_0f0a45033b9e4a6e.txt`, section「2.batch size」(2.1 什么是BatchSize, 2.2 batch size对网络的影响,
# 2.3 如何设置Batch_Size 的值?). Library: `minidl.data.DataLoader` (`minidl/data/loader.py`),
# `minidl.optim.SGD` / `Rprop`, `minidl.train.fit`.
#
# **Claim.** The batch size ranges from 1 (stochastic gradient descent) to the whole training
# set (gradient descent); mini-batch training sits in between. The gradient of a batch of $n$
# samples estimates the full gradient with a standard deviation $\sigma/\sqrt n$, so more
# samples pay back *less than linearly*: 100 times the computation buys only 10 times less
# noise. Larger batches process an epoch faster but need more epochs to reach the same
# accuracy; for full-batch training the section recommends Rprop, and it says powers of two
# (16, 32, 64, …) are faster — on GPUs.
#
# ## Vocabulary (2.3): epoch, iteration, batch size
#
# One *iteration* trains on one batch; one *epoch* uses every training sample once. With
# $N$ samples and batch size $B$ an epoch has $\lceil N/B\rceil$ iterations (the last batch holds
# the $N \bmod B$ leftovers, or is dropped with `drop_last=True`). The section's example:
# 1000 samples, batch size 10 → 100 iterations per epoch.
#
# ## Why the noise falls as $1/\sqrt n$
#
# The loss is a mean over samples, $J=\frac1N\sum_i \ell_i$, so its gradient is the mean of the
# per-sample gradients $g_i$. A batch of $n$ samples drawn independently (with replacement)
# gives $\hat g=\frac1n\sum_{j=1}^n g_{i_j}$ with $\mathbb E\,\hat g = g$ and, since the draws are
# independent and their variances add,
#
# $$\mathbb E\,\lVert\hat g-g\rVert^2=\frac1{n^2}\sum_{j=1}^n\mathbb E\,\lVert g_{i_j}-g\rVert^2
# =\frac{\sigma^2}{n},\qquad \sigma^2=\frac1N\sum_i\lVert g_i-g\rVert^2 .$$
#
# The root-mean-square error is $\sigma/\sqrt n$: a straight line of slope $-\tfrac12$ on a log-log
# plot. (Drawing *without* replacement, as a DataLoader does, multiplies this by
# $\sqrt{(N-n)/(N-1)}$: exactly zero noise at $n=N$.)

# %%
import time

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score
from minidl.optim import SGD, Rprop
from minidl.train import fit

lesson = Lesson("03_batch_size", source="000 §2")

# %%
X_toy = np.zeros((1000, 4), dtype=np.float32)
iterations = len(DataLoader(X_toy, batch_size=10))
leftover = [len(xb) for xb in DataLoader(X_toy, batch_size=32, shuffle=False)]
print(f"1000 samples, batch 10: {iterations} iterations per epoch; batch 32: {len(leftover)} iterations, "
      f"the last one holds {leftover[-1]} samples; with drop_last: {len(DataLoader(X_toy, batch_size=32, drop_last=True))}")
lesson.check(iterations == 100 and len(leftover) == 32 and leftover[-1] == 8,
             "1000 samples with batch size 10 → 100 iterations = 1 epoch (batch 32: 32 iterations, last of 8)")

# %% [markdown]
# ## Experiment 1: measuring the gradient noise
#
# A 64-32-10 MLP at its initial weights on the 8×8 handwritten digits shipped with minidl. We
# compute the full-batch gradient $g$ (all parameters, flattened), then for each batch size
# draw batches with replacement and measure the RMS of $\lVert\hat g-g\rVert$.

# %%
digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.2, stratify=digits.target,
                                                    seed=0)


def make_model():
    minidl.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


model, criterion = make_model(), nn.CrossEntropyLoss()


def gradient(xb, yb):
    """All parameter gradients of the mean loss on (xb, yb), flattened into one vector."""
    model.zero_grad()
    criterion(model(xb), yb)
    model.backward(criterion.backward())
    return np.concatenate([p.grad.ravel() for p in model.parameters()]).astype(np.float64)


full_gradient = gradient(X_train, y_train)
rng = np.random.default_rng(0)
sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
repeats = lesson.pick(full=60, quick=25)
rms = []
for n in sizes:
    errors = [np.sum((gradient(X_train[idx], y_train[idx]) - full_gradient) ** 2)
              for idx in (rng.integers(0, len(X_train), n) for _ in range(repeats))]
    rms.append(float(np.sqrt(np.mean(errors))))
slope, intercept = np.polyfit(np.log(sizes), np.log(rms), 1)
sigma = rms[0]
lesson.table(["batch n", "RMS ‖ĝ − g‖", "σ/√n (σ = value at n=1)", "cost ∝ n"],
             [(n, r, sigma / np.sqrt(n), n) for n, r in zip(sizes, rms)],
             title=f"Gradient noise, {repeats} batches per size; fitted log-log slope {slope:.3f}")

# %%
lesson.check(abs(slope + 0.5) < 0.08,
             f"gradient noise ∝ n^(-1/2): fitted log-log slope {slope:.3f} ≈ −0.5")

# %% [markdown]
# ## Experiment 2: time per epoch vs epochs to reach a target accuracy
#
# Same model, plain SGD with the same learning rate 0.05 (0.1 in `--quick` mode) for every batch size, from the same
# initial weights; we train one epoch at a time until the test accuracy reaches 90 %
# (at most 500 epochs). `History.epoch_time` is the wall-clock time of the training steps.

# %%
target, max_epochs = 0.90, 500
sgd_rate = lesson.pick(full=0.05, quick=0.1)


def epochs_to_target(optimizer_factory, batch_size):
    net = make_model()
    optimizer = optimizer_factory(net.parameters())
    loader = DataLoader(X_train, y_train, batch_size=batch_size, seed=0)
    times = []
    for epoch in range(1, max_epochs + 1):
        history = fit(net, criterion, optimizer, loader, 1, val_loader=(X_test, y_test),
                      metrics=[accuracy_score], progress=False)
        times.append(history.epoch_time[0])
        if history["val_accuracy"][0] >= target:
            return epoch, float(np.median(times)), float(np.sum(times))
    return None, float(np.median(times)), float(np.sum(times))


full = len(X_train)
batch_sizes = [1, 8, 32, 128, full]
runs = {B: epochs_to_target(lambda p: SGD(p, learning_rate=sgd_rate), B) for B in batch_sizes}
lesson.table(["batch size", "iterations/epoch", "epochs to 90 %", "time/epoch (s)", "time to 90 % (s)"],
             [(B if B != full else f"{B} (full)", int(np.ceil(full / B)), runs[B][0], runs[B][1], runs[B][2])
              for B in batch_sizes], title=f"SGD, learning rate {sgd_rate}")
best_B = min(batch_sizes, key=lambda B: runs[B][2] if runs[B][0] else np.inf)
print(f"fastest to {target:.0%}: batch size {best_B}")

# %%
epochs_needed = [runs[B][0] or np.inf for B in batch_sizes]
lesson.check(all(a <= b for a, b in zip(epochs_needed, epochs_needed[1:])),
             f"larger batches need more epochs to reach {target:.0%}: {epochs_needed}")
lesson.check(runs[1][1] > runs[8][1] > runs[32][1],
             "larger batches go through an epoch faster (fewer, better-vectorised iterations): B = 1 → 8 → 32")
if runs[full][1] > runs[128][1]:
    print(f"note: on this run a full-batch epoch ({runs[full][1]:.4f} s) was slower than B = 128 "
          f"({runs[128][1]:.4f} s): the large matrix products go to the multi-threaded BLAS, which loses "
          "time when other processes occupy the cores. Try OPENBLAS_NUM_THREADS=1.")
lesson.check(best_B not in (1, full),
             f"the time to reach {target:.0%} is lowest for a mini-batch (B = {best_B}), not for SGD (B = 1) or full GD")

# %% [markdown]
# ## Experiment 3: full batch — SGD vs Rprop
#
# With the full batch the gradient has no noise, but one global learning rate fits the
# parameters badly (2.3: "由于不同权重的梯度值差别巨大,因此选取一个全局的学习率很困难"). Rprop uses only the
# *sign* of each gradient component and adapts a step size per weight: ×1.2 while the sign
# stays, ×0.5 when it flips. We also give full-batch SGD a much larger rate, 0.5.

# %%
rprop = epochs_to_target(lambda p: Rprop(p, learning_rate=0.01), full)
sgd_large = epochs_to_target(lambda p: SGD(p, learning_rate=0.5), full)
lesson.table(["full-batch optimizer", "epochs to 90 %", "time to 90 % (s)"],
             [(f"SGD η = {sgd_rate}", runs[full][0], runs[full][2]), ("SGD η = 0.5", sgd_large[0], sgd_large[2]),
              ("Rprop (initial step 0.01)", rprop[0], rprop[2])])
lesson.check(rprop[0] is not None and rprop[0] < (sgd_large[0] or np.inf),
             f"Rprop on the full batch reaches {target:.0%} in fewer epochs ({rprop[0]}) than SGD with η = 0.5 "
             f"({sgd_large[0]})")

# %% [markdown]
# ## Experiment 4: do powers of two matter on this CPU?
#
# The section's advice (2.3, point 8) is about GPUs. On a CPU we time one training epoch for
# batch sizes around 32, 64 and 128 (the best of several repetitions, to suppress noise from
# other processes) and compare the time per sample.

# %%
reps = lesson.pick(full=7, quick=3)
groups = [(30, 32, 34), (62, 64, 66), (126, 128, 130)]
per_sample = {}
for group in groups:
    for B in group:
        net = make_model()
        optimizer = SGD(net.parameters(), learning_rate=0.05)
        loader = DataLoader(X_train, y_train, batch_size=B, seed=0, drop_last=True)
        best = np.inf
        for _ in range(reps):
            start = time.perf_counter()
            fit(net, criterion, optimizer, loader, 1, progress=False)
            best = min(best, time.perf_counter() - start)
        per_sample[B] = best / (len(loader) * B) * 1e6
lesson.table(["sizes a / 2^k / b", "µs/sample a", "µs/sample 2^k", "µs/sample b", "2^k ÷ best neighbour"],
             [(f"{a} / {b} / {c}", per_sample[a], per_sample[b], per_sample[c],
               per_sample[b] / min(per_sample[a], per_sample[c])) for a, b, c in groups])
ratios = [per_sample[b] / min(per_sample[a], per_sample[c]) for a, b, c in groups]
verdict = ("faster than" if max(ratios) < 0.9 else "slower than" if min(ratios) > 1.1
           else "neither consistently faster nor slower than")
print(f"On this CPU the power-of-two batch is {verdict} its neighbours "
      f"(ratios {', '.join(f'{r:.2f}' for r in ratios)}; < 1 means the power of two is faster).")

# %%
lesson.check(all(0.67 < r < 1.5 for r in ratios),
             "on this CPU a power-of-two batch is no special case: its time per sample is within ×1.5 of its "
             "neighbours' (the GPU advice of 2.3 does not transfer as such)")

with lesson.figure("03_batch_size.png", figsize=(10, 4)) as plt:
    if plt:
        plt.subplot(1, 2, 1)
        plt.loglog(sizes, rms, "o-", label="measured RMS ‖ĝ − g‖")
        plt.loglog(sizes, [sigma / np.sqrt(n) for n in sizes], "--", label="σ/√n")
        plt.xlabel("batch size n")
        plt.legend()
        plt.subplot(1, 2, 2)
        labels = [str(B) for B in batch_sizes]
        plt.bar(labels, [runs[B][2] for B in batch_sizes])
        plt.yscale("log")
        plt.xlabel("batch size")
        plt.ylabel(f"seconds to {target:.0%} test accuracy")

# %% [markdown]
# ## Try this
# * Scale the learning rate with the batch size (`learning_rate=0.05 * B / 32`, the "linear
#   scaling rule"): how many epochs does B = 128 need now?
# * Draw the noise batches *without* replacement (`rng.choice(len(X_train), n, replace=False)`)
#   and compare with $\sigma/\sqrt n\cdot\sqrt{(N-n)/(N-1)}$ up to n = N.

# %%
lesson.done()

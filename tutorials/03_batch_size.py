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
# (16, 32, 64, …) are faster — on GPUs. Finally (2.3, points 5–6) the batch size changes
# *which* minimum training ends in: very large batches tend to converge to worse ones.
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
#
# **Timing with one BLAS thread.** NumPy hands the larger matrix products (here: the full
# batch, 1,437 × 64 times 64 × 32) to OpenBLAS, which by default uses every core — and after
# each product its worker threads keep *spinning* for a while, waiting for the next one. On a
# machine whose cores are busy with anything else (the Python thread of this very program,
# other processes) that spinning costs far more than the second thread gains for matrices
# this small. We therefore time everything below with OpenBLAS limited to one thread
# (`lesson.limit_blas_threads(1)`, until `lesson.done()`), and measure what the default would
# have cost, so that the bar chart shows the cost of the batch size, not of thread contention.

# %%
def one_full_batch_epoch_time(repeats=20):
    """Median time of one full-batch SGD epoch (one forward + backward + step on all samples)."""
    net = make_model()
    optimizer = SGD(net.parameters(), learning_rate=0.05)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        criterion(net(X_train), y_train)
        optimizer.zero_grad()
        net.backward(criterion.backward())
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


default_threads, default_epoch = lesson.blas_threads(), one_full_batch_epoch_time()
single_thread = lesson.limit_blas_threads(1)
single_epoch = one_full_batch_epoch_time()
lesson.table(["OpenBLAS threads", "full-batch epoch (s, median of 20)"],
             [(f"{default_threads} (default)", default_epoch), (single_thread, single_epoch)],
             title="What thread spinning costs on this machine now")
print(f"timings below: {single_thread} BLAS thread")

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
# ## Experiment 4: large batches end in sharper, worse minima (2.3, points 5–6)
#
# "由于最终收敛精度会陷入不同的局部极值 … 过大的batchsize的结果是网络很容易收敛到一些不好的局部最优点":
# the batch size decides *which* minimum training ends in, and too large a batch finds bad
# ones. To compare minima rather than training budgets, we train a wider MLP (64-128-10) on a
# quarter of the training set (359 images, small enough that every run can fit it) until
# the training loss is below 0.002, with B = 16 and with the full batch (SGD with momentum
# 0.9; η = 0.05 for B = 16, η = 0.5 for the full batch, which otherwise takes thousands of
# epochs). Then, at the *same* training loss, we measure
#
# * the test accuracy on the 360 held-out images, and
# * the **sharpness** of the minimum: the mean rise of the training loss when every
#   parameter tensor w is moved by a random direction of length 0.1·‖w‖ (10 draws). A flat
#   minimum barely notices; a sharp one does (Keskar et al., 2017, "On large-batch training
#   for deep learning: generalization gap and sharp minima").

# %%
X_small, y_small = X_train[:len(X_train) // 4], y_train[:len(y_train) // 4]
target_loss = 0.002


def wide_model(seed):
    minidl.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def train_loss(net):
    return float(criterion(net(X_small), y_small))


def sharpness(net, radius=0.1, draws=10, seed=0):
    rng = np.random.default_rng(seed)
    params = list(net.parameters())
    saved = [p.data.copy() for p in params]
    base, rises = train_loss(net), []
    for _ in range(draws):
        for p, w in zip(params, saved):
            d = rng.standard_normal(w.shape).astype(w.dtype)
            p.data[...] = w + radius * np.linalg.norm(w) * d / np.linalg.norm(d)
        rises.append(train_loss(net) - base)
    for p, w in zip(params, saved):
        p.data[...] = w
    return float(np.mean(rises))


minima = {}
seeds = range(lesson.pick(full=3, quick=2))
for B, rate in lesson.progress([(16, 0.05), (len(X_small), 0.5)], desc="training to loss 0.002"):
    for seed in seeds:
        net = wide_model(seed)
        optimizer = SGD(net.parameters(), learning_rate=rate, momentum=0.9)
        epoch = 0
        while train_loss(net) > target_loss and epoch < 2000:
            fit(net, criterion, optimizer, DataLoader(X_small, y_small, batch_size=B, seed=epoch), 1, progress=False)
            epoch += 1
        minima[B, seed] = (epoch, train_loss(net), accuracy_score(y_test, net(X_test).argmax(axis=1)), sharpness(net))
lesson.table(["batch size", "seed", "epochs", "training loss", "test accuracy", "sharpness (loss rise at 0.1·‖w‖)"],
             [(B, seed) + v for (B, seed), v in minima.items()],
             title=f"Minima reached by B = 16 and by the full batch ({len(X_small)} images)")
small_acc = np.array([minima[16, s][2] for s in seeds])
large_acc = np.array([minima[len(X_small), s][2] for s in seeds])
sharp_ratio = np.array([minima[len(X_small), s][3] / minima[16, s][3] for s in seeds])
print(f"test accuracy, B = 16 minus full batch: {', '.join(f'{d:+.3f}' for d in small_acc - large_acc)}; "
      f"full batch sharper by {', '.join(f'{r:.1f}×' for r in sharp_ratio)}")

# %% [markdown]
# Both batch sizes fit the training images equally well, in about the same number of epochs
# (with B = 16 an epoch is 23 steps, with the full batch one — at a rate ten times larger).
# Yet the full batch's minimum is 2–3× sharper and its test accuracy about one percentage point
# lower, on every seed: a small but consistent gap, the direction the section describes.
# (On data this small and a model this easy, "bad local optimum" is too strong a word; on
# ImageNet-sized problems the gap Keskar et al. measured grew to several points.)

# %%
lesson.check(all(minima[k][1] <= target_loss for k in minima),
             f"every run reached training loss ≤ {target_loss} (the minima are compared at equal training loss)")
lesson.check(np.all(small_acc > large_acc),
             f"the full batch ends in a minimum that generalises worse: test accuracy {large_acc.mean():.3f} vs "
             f"{small_acc.mean():.3f} for B = 16, lower on every seed")
lesson.check(np.all(sharp_ratio > 1.5),
             f"…and a sharper one: the loss rises {sharp_ratio.min():.1f}–{sharp_ratio.max():.1f}× more under the same "
             "random perturbation")

# %% [markdown]
# ## Experiment 5: do powers of two matter on this CPU?
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

with lesson.figure("03_batch_size.png", figsize=(14, 4)) as plt:
    if plt:
        plt.subplot(1, 3, 1)
        plt.loglog(sizes, rms, "o-", label="measured RMS ‖ĝ − g‖")
        plt.loglog(sizes, [sigma / np.sqrt(n) for n in sizes], "--", label="σ/√n")
        plt.xlabel("batch size n")
        plt.legend()
        plt.subplot(1, 3, 2)
        labels = [str(B) for B in batch_sizes]
        seconds = [runs[B][2] for B in batch_sizes]
        plt.bar(labels, seconds)
        for i, v in enumerate(seconds):
            plt.text(i, v, f"{v:.2f} s", ha="center", va="bottom", fontsize=8)
        plt.xlabel("batch size")
        plt.ylabel(f"seconds to {target:.0%} test accuracy")
        plt.title(f"timed with {single_thread} BLAS thread")
        plt.subplot(1, 3, 3)
        for B, marker in ((16, "o"), (len(X_small), "s")):
            plt.scatter([minima[B, s][3] for s in seeds], [minima[B, s][2] for s in seeds], marker=marker, s=50,
                        label=f"B = {B}")
        plt.xscale("log")
        plt.xlabel("sharpness: loss rise at 0.1·‖w‖")
        plt.ylabel("test accuracy")
        plt.title(f"minima at training loss {target_loss}, one per seed", fontsize=10)
        plt.legend()

# %% [markdown]
# ## Try this
# * Scale the learning rate with the batch size (`learning_rate=0.05 * B / 32`, the "linear
#   scaling rule"): how many epochs does B = 128 need now?
# * Draw the noise batches *without* replacement (`rng.choice(len(X_train), n, replace=False)`)
#   and compare with $\sigma/\sqrt n\cdot\sqrt{(N-n)/(N-1)}$ up to n = N.

# %%
lesson.done()

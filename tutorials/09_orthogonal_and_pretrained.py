# %% [markdown]
# # 09 — Orthogonal initialisation for recurrent nets, and initialising from a pretrained model
#
# Source: `002_de0d3c5cb8b6c6e1.txt` §"正交初始化(Orthogonal Initialization)" and
# §"预训练模型初始化".
#
# **Claim.** An orthogonal matrix satisfies WᵀW = I: every singular value is 1, so
# multiplying by it neither stretches nor shrinks any vector. A recurrent network multiplies
# its gradient by the *same* W_hh once per time step, so over 50 steps any singular value
# ≠ 1 is raised to the 50th power. Orthogonal recurrent weights (obtained from a random matrix
# by QR or SVD) keep the gradient reaching the first inputs of a long sequence at the size of
# the gradient at the last one. Second claim: starting from the weights of a model trained on
# a large data set ("pretrained") converges faster on a small data set than starting from
# random weights — and, as the source's table warns, "may not suit every data set or task"
# (可能不适用于所有数据集或任务): the less the pretraining task resembles ours, the less it helps.
#
# Library code: `minidl/nn/init.py` (`orthogonal_`, methods "qr" and "svd"),
# `minidl/nn/rnn.py` (`RNN`, backpropagation through time), `minidl.save` / `minidl.load`,
# `Module.state_dict` / `load_state_dict(strict=False)`.

# %%
import os
import tempfile

import numpy as np

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson
from minidl.nn import init

lesson = Lesson("09_orthogonal_and_pretrained", source="002 正交初始化 / 预训练模型初始化")
minidl.manual_seed(0)

# %% [markdown]
# ## 1. Two ways to an orthogonal matrix
#
# Draw A with i.i.d. N(0, 1) entries.
#
# * **QR**: A = QR with Q orthogonal and R upper triangular. Q is the Gram–Schmidt
#   orthonormalisation of A's columns. (Flipping the signs of Q's columns so that diag(R) > 0
#   makes the factorisation unique, and Q then uniformly distributed over orthogonal matrices.)
# * **SVD**: A = U S Vᵀ with U, V orthogonal. U alone is orthogonal, but `orthogonal_` takes
#   U Vᵀ: the orthogonal matrix closest to A (it replaces every singular value of A by 1).
#
# Either way QᵀQ = I, hence ‖Qv‖² = vᵀQᵀQv = ‖v‖² for every v: all singular values are 1 and
# all eigenvalues have modulus 1. For a non-square (rows × cols) shape the result is
# semi-orthogonal: orthonormal columns if rows ≥ cols, orthonormal rows otherwise.

# %%
rows = []
residuals = {}
for shape in [(64, 64), (64, 16), (16, 64)]:
    for method in ("qr", "svd"):
        w = init.orthogonal_(np.empty(shape), method=method, rng=np.random.default_rng(1))
        small = min(shape)
        gram = w.T @ w if shape[0] >= shape[1] else w @ w.T        # the small Gram matrix
        residual = float(np.abs(gram - np.eye(small)).max())
        s = np.linalg.svd(w, compute_uv=False)
        residuals[shape, method] = residual
        rows.append((f"{shape[0]}×{shape[1]}", method, residual, float(s.min()), float(s.max())))
gauss = np.random.default_rng(1).standard_normal((64, 64)) / 8.0           # N(0, 1/64)
s_gauss = np.linalg.svd(gauss, compute_uv=False)
rows.append(("64×64", "N(0, 1/n)", float(np.abs(gauss.T @ gauss - np.eye(64)).max()),
             float(s_gauss.min()), float(s_gauss.max())))
lesson.table(["shape", "method", "max |WᵀW − I|", "smallest σ", "largest σ"], rows,
             title="Orthogonal matrices from QR and SVD vs a Gaussian matrix of the same scale")

# %% [markdown]
# The Gaussian N(0, 1/n) matrix has the right *average* scale (E‖Wv‖² = ‖v‖²), but its
# singular values spread over roughly (0, 2) (the quarter-circle law): some directions are
# doubled, others almost annihilated, and a product of many such factors is dominated by
# the extremes.
#
# ## 2. Gradients through 50 time steps
#
# The RNN computes h_t = tanh(a_t), a_t = W_ih x_t + W_hh h_{t−1} + b. Backpropagation
# through time gives, for a loss that only looks at the last state h_T,
#
#     ∂L/∂x_t = W_ihᵀ · D_t · W_hhᵀ · D_{t+1} · W_hhᵀ ⋯ D_T · ∂L/∂h_T,      D_s = diag(1 − h_s²)
#
# so the gradient that reaches x_1 has been multiplied by W_hhᵀ forty-nine times more than
# the one reaching x_50. With small inputs tanh is nearly linear (D ≈ I) and the ratio
# ‖∂L/∂x_1‖ / ‖∂L/∂x_50‖ is governed by W_hh alone: ≈ 1 when W_hh is orthogonal, ≈ σ^49
# for a matrix that scales by σ. (Large inputs saturate tanh, D < I, and every recurrent
# net loses gradient — a second cause of vanishing, see tutorial 11.)
#
# We compare four recurrent initialisations, all with small inputs x_t ~ N(0, 0.01²),
# W_ih ~ N(0, 1/n_in) and zero biases, over five seeds: orthogonal (QR); Gaussian N(0, 1/n); PyTorch's default
# U(−1/√n, 1/√n), whose variance 1/(3n) is three times too small; and N(0, 1.5²/n).

# %%
hidden, n_in, steps = 64, 8, 50
batch = lesson.pick(full=32, quick=8)
seeds = range(lesson.pick(full=5, quick=3))
x_seq = 0.01 * np.random.default_rng(2).standard_normal((batch, steps, n_in))


def gradient_ratio(kind, seed):
    rng = np.random.default_rng(seed)
    rnn = nn.RNN(n_in, hidden, dtype=np.float64, rng=rng)
    if kind == "orthogonal (QR)":
        init.orthogonal_(rnn.weight_hh_l0, rng=rng)
    elif kind == "N(0, 1/n)":
        init.normal_(rnn.weight_hh_l0, 0.0, 1.0 / np.sqrt(hidden), rng=rng)
    elif kind == "N(0, 1.5²/n)":
        init.normal_(rnn.weight_hh_l0, 0.0, 1.5 / np.sqrt(hidden), rng=rng)
    # else: PyTorch's default U(−1/√n, 1/√n), already in place
    init.normal_(rnn.weight_ih_l0, 0.0, 1.0 / np.sqrt(n_in), rng=rng)
    init.zeros_(rnn.bias_ih_l0)
    init.zeros_(rnn.bias_hh_l0)
    states = rnn(x_seq)
    grad = np.zeros_like(states)
    grad[:, -1] = rng.standard_normal((batch, hidden))          # L = Σ g · h_T
    dx = rnn.backward(grad)
    per_step = np.linalg.norm(dx, axis=(0, 2))                   # ‖∂L/∂x_t‖ for t = 1..T
    return per_step / per_step[-1]


kinds = ["orthogonal (QR)", "N(0, 1/n)", "PyTorch default U(±1/√n)", "N(0, 1.5²/n)"]
curves = {k: np.array([gradient_ratio(k, s) for s in seeds]) for k in kinds}
first = {k: c[:, 0] for k, c in curves.items()}
lesson.table(["W_hh init", "median ‖∂L/∂x₁‖/‖∂L/∂x₅₀‖", "min over seeds", "max over seeds"],
             [(k, float(np.median(v)), float(v.min()), float(v.max())) for k, v in first.items()],
             title=f"Gradient reaching the first of {steps} inputs, relative to the last ({len(seeds)} seeds)")

# %%
with lesson.figure("09_rnn_gradient.png", figsize=(7, 4)) as plt:
    if plt:
        for k, c in curves.items():
            plt.semilogy(np.arange(1, steps + 1), np.median(c, axis=0), label=k)
        plt.xlabel("time step t")
        plt.ylabel("‖∂L/∂x_t‖ / ‖∂L/∂x_T‖ (median over seeds)")
        plt.title("Backpropagation through 50 steps of a tanh RNN")
        plt.legend()

# %% [markdown]
# Orthogonal W_hh keeps the ratio close to 1 on every seed. The Gaussian matrix with the
# same average scale is erratic: its largest eigenvalues decide, and they differ from seed to
# seed. A variance three times too small (PyTorch's RNN default) loses about √3 per step,
# 3^(−49/2) ≈ 10⁻¹²; 1.5× too large gains instead (until tanh saturates).

# %%
orth = first["orthogonal (QR)"]
lesson.check(residuals[(64, 64), "qr"] < 1e-12 and residuals[(64, 64), "svd"] < 1e-12,
             "QR and SVD both give WᵀW = I to 1e-12")
lesson.check(bool(np.all((orth > 0.5) & (orth < 2.0))),
             f"orthogonal W_hh: gradient at x₁ within 2× of the one at x₅₀ on every seed "
             f"({orth.min():.2f}–{orth.max():.2f})")
lesson.check(float(np.max(first["PyTorch default U(±1/√n)"])) < 1e-6,
             "a recurrent variance 3× too small makes the gradient at x₁ vanish (< 1e-6 of x₅₀'s)")
lesson.check(float(np.min(first["N(0, 1.5²/n)"])) > 10, "N(0, 1.5²/n) makes it explode (> 10×)")
spread_orth = float(orth.max() / orth.min())
spread_gauss = float(first["N(0, 1/n)"].max() / first["N(0, 1/n)"].min())
lesson.check(spread_gauss > 2 * spread_orth,
             f"Gaussian N(0, 1/n) is less predictable: ratio spreads {spread_gauss:.1f}× over seeds vs "
             f"{spread_orth:.2f}× for orthogonal")

# %% [markdown]
# ## 3. Initialising from a pretrained model
#
# "Pretrained initialisation" means: take the weights a model learned on a large data set,
# copy them into the new model (all layers but the task-specific output layer), then
# fine-tune everything on the small data set. Mechanically that is `save` → `load` →
# `load_state_dict(..., strict=False)`, which copies every matching key and reports the keys
# it did not find (the new head).
#
# Our target task: classify the handwritten digits 5–9 from only **30 labelled images**.
# Three candidate "pretrained" models, all the same MLP 64 → 128 → 128 → 5 trained with SGD,
# on three tasks that are less and less like the target:
#
# * **B, same task, more data**: ≈ 450 *other* images of 5–9 (a disjoint pool, standing in for
#   "a large data set of our kind of images and labels"), none of them in our 30 or the test set;
# * **A, related task**: the same kind of images, different classes — the digits 0–4;
# * **U, unrelated task**: the digits 0–4 with their 64 pixels shuffled by one fixed permutation.
#   Same numbers, but no stroke is where the target's strokes are: the first layer's features
#   look at the wrong pixels.
#
# Each is fine-tuned on the 30 images with a freshly initialised output layer and compared
# with training from scratch (same seeds, same optimiser, same data order); test accuracy on
# the remaining ≈ 420 images is recorded after every epoch. To see *why* a source helps or
# not, we also freeze each body and train only a zero-initialised head on the 30 images (a
# "linear probe"): how good are its features for 5–9 as they are? A body that was never
# trained (random features) is the baseline of the probe.
#
# The test suite runs this experiment once more with B's pretraining made unrelated
# (`MINIDL_TUTORIAL_BREAK=pretrained`: B trained on pixel-shuffled images) and expects the
# checks below to fail — they can tell a source that helps from one that does not.

# %%
X, y = load_digits(return_X_y=True, scale=True)
low, high = y < 5, y >= 5
X_high, y_high = X[high], y[high] - 5
X_pool, X_rest, y_pool, y_rest = train_test_split(X_high, y_high, train_size=0.5, stratify=y_high, seed=0)
shuffle_pixels = np.random.default_rng(7).permutation(64)
broken = os.environ.get("MINIDL_TUTORIAL_BREAK") == "pretrained"
width = 128
epochs = lesson.pick(full=20, quick=8)
n_runs = lesson.pick(full=4, quick=2)


def mlp(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(64, width, rng=rng), nn.ReLU(), nn.Linear(width, width, rng=rng), nn.ReLU(),
                         nn.Linear(width, 5, rng=rng))


def train(model, X_train, y_train, n_epochs, X_test=None, y_test=None, batch_size=10, seed=0):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD([p for p in model.parameters() if p.requires_grad], learning_rate=0.05, momentum=0.9)
    accuracy = []
    for epoch in range(n_epochs):
        for xb, yb in DataLoader(X_train, y_train, batch_size=batch_size, seed=seed + epoch):
            criterion(model(xb), yb)
            optimizer.zero_grad()
            model.backward(criterion.backward())
            optimizer.step()
        if X_test is not None:
            accuracy.append(float(np.mean(model(X_test).argmax(axis=1) == y_test)))
    return np.array(accuracy)


folder = tempfile.mkdtemp(prefix="minidl-09-")
sources = {"B: other 5–9 images": (X_pool[:, shuffle_pixels] if broken else X_pool, y_pool),
           "A: digits 0–4": (X[low], y[low]),
           "U: pixel-shuffled 0–4": (X[low][:, shuffle_pixels], y[low])}
source_accuracy = {}
for name, (Xs, ys) in sources.items():
    X_tr, X_te, y_tr, y_te = train_test_split(Xs, ys, test_size=0.2, stratify=ys, seed=1)
    model = mlp(1)
    source_accuracy[name] = float(train(model, X_tr, y_tr, 5, X_te, y_te, batch_size=16)[-1])
    minidl.save(model.state_dict(), os.path.join(folder, name[0] + ".npz"))


def from_source(name, seed):
    """A fresh MLP whose body (layers 0 and 2) is loaded from a saved model; None: untrained."""
    model = mlp(seed)
    if name is None:
        return model, [], []
    state = minidl.load(os.path.join(folder, name[0] + ".npz"))
    body = {k: v for k, v in state.items() if not k.startswith("4.")}     # drop the old head
    missing, unexpected = model.load_state_dict(body, strict=False)
    assert np.array_equal(model[2].weight.data, body["2.weight"])
    return model, missing, unexpected


curves_ft = {name: [] for name in sources}
curves_scratch = []
probe = {name: [] for name in [None, *sources]}
for run in range(n_runs):
    X_small, X_test, y_small, y_test = train_test_split(X_rest, y_rest, train_size=30, stratify=y_rest, seed=run)
    for name in sources:
        model, missing, unexpected = from_source(name, 10 + run)
        curves_ft[name].append(train(model, X_small, y_small, epochs, X_test, y_test, seed=run))
    curves_scratch.append(train(mlp(10 + run), X_small, y_small, epochs, X_test, y_test, seed=run))
    for name in probe:                                   # linear probe: frozen body, head from zero
        model, _, _ = from_source(name, 10 + run)
        for layer in (model[0], model[2]):
            for p in layer.parameters():
                p.requires_grad = False
        init.zeros_(model[4].weight)
        probe[name].append(train(model, X_small, y_small, epochs, X_test, y_test, seed=run)[-1])
print(f"keys left at their fresh initialisation after loading: {missing}")

mean_curves = {f"fine-tuned from {n}": np.mean(c, axis=0) for n, c in curves_ft.items()}
mean_curves["from scratch"] = np.mean(curves_scratch, axis=0)
probe_mean = {("untrained (random features)" if n is None else n): float(np.mean(v)) for n, v in probe.items()}
lesson.table(["source model", "accuracy on its own task"], list(source_accuracy.items()),
             title="The pretrained models (held-out 20 % of their own data)")
show = sorted({0, 1, 2, 4, epochs - 1})
lesson.table(["initialisation"] + [f"epoch {e + 1}" for e in show] + ["mean of first 5"],
             [(k,) + tuple(float(c[e]) for e in show) + (float(c[:5].mean()),) for k, c in mean_curves.items()],
             title=f"Test accuracy on digits 5–9 after training on 30 images (mean of {n_runs} splits)")
lesson.table(["frozen body from", f"test accuracy, head trained {epochs} epochs"], list(probe_mean.items()),
             title="Linear probe: how useful is each body's hidden layer for 5–9 as it is?")

# %%
with lesson.figure("09_pretrained.png", figsize=(7, 4)) as plt:
    if plt:
        for (k, c), marker in zip(mean_curves.items(), "osv^"):
            plt.plot(np.arange(1, epochs + 1), c, marker=marker, label=k)
        plt.xlabel("epoch (3 steps of 10 images each)")
        plt.ylabel("test accuracy, digits 5–9")
        plt.legend()

# %% [markdown]
# What the tables show on this run:
#
# * **B (same task, more data)** starts high and stays ahead — faster convergence and better
#   accuracy from 30 images, the claim of the source.
# * **U (unrelated task)** does not help: its first layer looks for strokes at shuffled pixel
#   positions, and fine-tuning must first undo that. Pretraining helps less the less the
#   source task resembles the target.
# * **A (other digits, same kind of images)** is the interesting case: on this run it does
#   *not* help either, although a textbook would call it "related". The linear probe says
#   why: its frozen hidden layer is a *worse* starting point for 5–9 than random features. A
#   small MLP trained to 99 % on five classes compresses its hidden layer onto the few
#   directions that separate 0–4 and discards what separates 5 from 8 (negative transfer).
#   Transfer from other classes pays off when the source is large and varied enough to learn
#   general features (edges, strokes) — ImageNet, not 900 8×8 images of five digits.

# %%
scratch5 = mean_curves["from scratch"][:5].mean()
gain = {n: mean_curves[f"fine-tuned from {n}"][:5].mean() - scratch5 for n in sources}
gain_b, gain_a, gain_u = gain["B: other 5–9 images"], gain["A: digits 0–4"], gain["U: pixel-shuffled 0–4"]
lesson.check(list(missing) == ["4.weight", "4.bias"] and not unexpected,
             "load_state_dict(strict=False) copied the body exactly and left only the head at its fresh init")
lesson.check(gain_b > 0.1, f"pretrained on the same task's data: {gain_b:+.2f} mean test accuracy over the "
             "first 5 epochs (> +0.10)")
lesson.check(gain_u < gain_b - 0.1 and gain_u < 0.02,
             f"pretraining on an unrelated task helps less: {gain_u:+.2f} (no gain) vs {gain_b:+.2f}")
probe_a, probe_random = probe_mean["A: digits 0–4"], probe_mean["untrained (random features)"]
lesson.check(gain_a < 0.02 and probe_a < probe_random - 0.05,
             f"stated above: pretraining on the digits 0–4 did not help 5–9 ({gain_a:+.2f}), because its frozen "
             f"features probe worse ({probe_a:.2f}) than random ones ({probe_random:.2f})")

# %% [markdown]
# ## Try this
# * Make the inputs larger (`x_seq = 1.0 * ...`): tanh saturates, D_t < I, and even the
#   orthogonal RNN loses its gradient. Try `nonlinearity="relu"` with orthogonal weights.
# * Freeze the pretrained body (`p.requires_grad = False` for the parameters of layers 0 and
#   2) and train only the head: how far do model B's features get on their own?

# %%
lesson.done()

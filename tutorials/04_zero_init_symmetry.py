# %% [markdown]
# # 04 — Why weights cannot all start at zero: symmetric units stay identical
#
# Source: `000_0f0a45033b9e4a6e.txt` §3 "为什么不能全零初始化", and the articles of
# `004_87ac655643e15070.txt` on symmetry ("打破不同单元间的对称性") and zero biases.
#
# **Claim.** If all weights of a layer start equal — all zero, or any constant — then every
# hidden unit of that layer computes the same value, receives the same gradient and takes the
# same update. They stay identical for ever (the document calls it 对称失效, "symmetry
# failure"): a layer of 32 units behaves like a single unit and the network cannot learn much.
# Random weights break the symmetry; the biases can then start at zero.
#
# Library code: `minidl/nn/init.py` (`zeros_`, `constant_`, `xavier_uniform_`) and
# `Module.apply` in `minidl/nn/module.py`.

# %%
import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score
from minidl.nn import init

lesson = Lesson("04_zero_init_symmetry", source="000 §3 为什么不能全零初始化 / 004")
minidl.manual_seed(0)

# %% [markdown]
# ## 1. The argument on the document's network
#
# Three inputs x₁…x₃, three hidden units 4, 5, 6, one output 7:
#
#     z₄ = w₁₄x₁ + w₂₄x₂ + w₃₄x₃ + b₄     (and z₅, z₆ alike),     a_j = f(z_j)
#     z₇ = w₄₇a₄ + w₅₇a₅ + w₆₇a₆,          a₇ = f(z₇)
#
# With all weights and biases 0, z₄ = z₅ = z₆ and so a₄ = a₅ = a₆. By the chain rule
#
#     ∂L/∂w_j7 = ∂L/∂a₇ · f'(z₇) · a_j             the same for j = 4, 5, 6,
#     ∂L/∂w_ij = ∂L/∂z_j · x_i,  ∂L/∂z_j = w_j7 f'(z₇) ∂L/∂a₇ · f'(z_j)   the same for every j.
#
# Equal weights get equal updates, so after the step they are equal again — by induction,
# forever. Nothing in the argument needs the common value to be 0: any constant start is
# symmetric. (With exactly 0, ∂L/∂z_j = 0 in the first step because w_j7 = 0; the hidden
# layer starts moving one step later, still symmetrically.) Let us check one step with minidl
# on the constant start 0.5 (sigmoid activations, squared error), where no gradient is 0.

# %%
tiny = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())
for m in tiny.modules():
    if isinstance(m, nn.Linear):
        init.constant_(m.weight, 0.5)
        init.zeros_(m.bias)
x_tiny = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=np.float32)
y_tiny = np.array([[0.0], [1.0]], dtype=np.float32)
mse = nn.MSELoss()
mse(tiny(x_tiny), y_tiny)
tiny.zero_grad()
tiny.backward(mse.backward())
grad_hidden, grad_out = tiny[0].weight.grad, tiny[2].weight.grad
print("∂L/∂W for the hidden layer (row j = unit j):\n", grad_hidden)
print("∂L/∂w_j7 for the output weights:", grad_out)

# %% [markdown]
# The three rows are equal (∂L/∂w_ij does not depend on j), and so are the three output
# weights' gradients.
#
# ## 2. On the handwritten digits
#
# A 64 → 32 → 10 network (sigmoid or tanh hidden layer), trained with SGD for a few epochs from
# three starting points: all zeros, all equal to 0.05, and Xavier-uniform random weights. All
# biases start at 0. After training we look at the hidden weight matrix W₁ (32 × 64): the
# largest difference between any row and the first row, and its numerical rank via the ratio
# of its second to its first singular value (0 for a rank-1 matrix, whose rows are all
# multiples of one vector).

# %%
digits = load_digits(scale=True)
X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.2,
                                                    stratify=digits.target, seed=0)
epochs = lesson.pick(full=20, quick=4)
criterion = nn.CrossEntropyLoss()


def make_init(kind):
    def fn(m):
        if isinstance(m, nn.Linear):
            if kind == "zeros":
                init.zeros_(m.weight)
            elif kind == "constant 0.05":
                init.constant_(m.weight, 0.05)
            else:
                init.xavier_uniform_(m.weight, rng=np.random.default_rng(0))
            init.zeros_(m.bias)               # zero biases in every case
    return fn


results = {}
for activation in (nn.Sigmoid, nn.Tanh):
    for kind in ("zeros", "constant 0.05", "random (Xavier)"):
        model = nn.Sequential(nn.Linear(64, 32), activation(), nn.Linear(32, 10))
        model.apply(make_init(kind))
        w1_start = model[0].weight.data.copy()
        optimizer = minidl.optim.SGD(model.parameters(), learning_rate=0.5)
        for epoch in range(epochs):
            for xb, yb in DataLoader(X_train, y_train, batch_size=32, seed=epoch):
                loss = criterion(model(xb), yb)
                optimizer.zero_grad()
                model.backward(criterion.backward())
                optimizer.step()
        w1 = model[0].weight.data.astype(np.float64)
        w2 = model[2].weight.data.astype(np.float64)
        s = np.linalg.svd(w1, compute_uv=False)
        hidden = model[1](model[0](X_test))
        results[(activation.__name__, kind)] = dict(
            row_difference=float(np.abs(w1 - w1[0]).max()),
            column_difference=float(np.abs(w2 - w2[:, :1]).max()),
            rank_ratio=float(s[1] / s[0]) if s[0] > 0 else 0.0,
            moved=float(np.abs(w1 - w1_start).max()),
            distinct_units=len(np.unique(np.round(hidden.T, 6), axis=0)),
            accuracy=accuracy_score(y_test, model(X_test).argmax(axis=1)),
            w1=w1,
        )
rows = [(a, k, r["moved"], r["row_difference"], r["column_difference"], r["rank_ratio"], r["distinct_units"],
         r["accuracy"]) for (a, k), r in results.items()]
lesson.table(["hidden", "init", "max |ΔW₁|", "max row diff W₁", "max col diff W₂", "σ₂/σ₁ of W₁",
              "distinct hidden units", "test accuracy"], rows, title=f"After {epochs} epochs of SGD")

# %%
with lesson.figure("04_hidden_weights.png", figsize=(9, 3)) as plt:
    if plt:
        for i, kind in enumerate(("zeros", "constant 0.05", "random (Xavier)")):
            plt.subplot(1, 3, i + 1)
            plt.imshow(results[("Sigmoid", kind)]["w1"], aspect="auto", cmap="coolwarm")
            plt.title(f"W₁ after training: {kind}", fontsize=9)
            plt.xlabel("input pixel")
            plt.ylabel("hidden unit")

# %% [markdown]
# Read the table:
#
# * **zeros / constant**: W₁ moved (the units did learn *something*), but every row is the
#   same — 32 copies of one unit, one distinct hidden activation. The network is a 64 → 1 → 10
#   bottleneck, and its accuracy shows it.
# * **zeros with tanh** is worse still: tanh(0) = 0, so the output layer sees a = 0 and gets
#   no weight gradient (∂L/∂w_j7 ∝ a_j = 0), and the hidden layer gets none either
#   (∂L/∂z_j ∝ w_j7 = 0). Only the output biases learn: W₁ stays exactly 0.
# * **random weights, zero biases**: the rows differ from the first step on, so the biases'
#   gradients (∂L/∂b_j = ∂L/∂z_j) differ too — zero biases are fine once the weights are random.

# %%
for activation in ("Sigmoid", "Tanh"):
    for kind in ("zeros", "constant 0.05"):
        r = results[(activation, kind)]
        lesson.check(r["row_difference"] <= 1e-6 * max(np.abs(r["w1"]).max(), 1e-30) and r["rank_ratio"] < 1e-6,
                     f"{activation}, {kind}: all 32 hidden units have identical weights after training (rank 1)")
lesson.check(np.abs(grad_hidden).max() > 0 and np.array_equal(grad_hidden, np.broadcast_to(grad_hidden[0], grad_hidden.shape))
             and np.all(grad_out == grad_out[0, 0]),
             "tiny network: one backward pass gives equal gradients to the symmetric weights")
lesson.check(results[("Tanh", "zeros")]["moved"] == 0.0, "tanh with zero weights: W₁ never moves from 0")
lesson.check(results[("Sigmoid", "zeros")]["moved"] > 0, "sigmoid with zero weights: W₁ moves, but symmetrically")
best_symmetric = max(r["accuracy"] for (a, k), r in results.items() if k != "random (Xavier)")
for activation in ("Sigmoid", "Tanh"):
    acc = results[(activation, "random (Xavier)")]["accuracy"]
    lesson.check(acc > 0.85 and acc > best_symmetric + 0.3,
                 f"{activation}: random weights with zero biases reach {acc:.2f}, "
                 f"> 30 points above the best symmetric start ({best_symmetric:.2f})")

# %% [markdown]
# ## Try this
# * Start W₁ at zeros but W₂ random: is the hidden layer still stuck? (Look at
#   ∂L/∂z_j = w_j7 · …: the units now receive different gradients.)
# * Add a tiny amount of noise to the constant start, `init.constant_(w, 0.05)` followed by
#   `w.data += 1e-6 * rng.standard_normal(w.shape)`: how many epochs until the units separate?

# %%
lesson.done()

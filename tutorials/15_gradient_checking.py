# %% [markdown]
# # 15 — Gradient checking: centered differences and the difference formula
#
# Source: `003_1afe6d55217f9576.txt`, section "梯度检验" (the deeplearning.ai gradient-checking
# assignment: J⁺ᵢ, J⁻ᵢ, gradapprox, and difference = ‖grad − gradapprox‖₂ / (‖grad‖₂ + ‖gradapprox‖₂)).
#
# **Claim.** A hand-written backward pass can be wrong and still train a little, so "the loss
# goes down" proves nothing. The derivative is a limit we can approximate directly: nudge one
# parameter by ±ε, run the forward pass twice, divide. Comparing this *gradapprox* with the
# backward pass's *grad* over all parameters gives one number, the relative difference; below
# 1e-7 the backward is right, around 1e-3 or above there is a bug — and comparing tensor by
# tensor says *where* it is. The check only works in float64, and only if the forward pass is
# a fixed function (dropout must draw the same mask every time).
#
# Library code: `minidl/gradcheck.py` (`numerical_gradient`, `relative_difference`,
# `check_module`), used by minidl's own tests for every layer.

# %%
import copy

import numpy as np

import minidl
from minidl import nn
from minidl.gradcheck import check_module, numerical_gradient, relative_difference
from minidl.lesson import Lesson

lesson = Lesson("15_gradient_checking", source="003 梯度检验")
minidl.manual_seed(0)

# %% [markdown]
# ## 1. One dimension first
#
# Taylor-expand J around θ:
#
#     J(θ + ε) = J(θ) + ε J'(θ) + ε²/2 J''(θ) + ε³/6 J'''(θ) + O(ε⁴)
#     J(θ − ε) = J(θ) − ε J'(θ) + ε²/2 J''(θ) − ε³/6 J'''(θ) + O(ε⁴)
#
# The one-sided quotient (J(θ + ε) − J(θ)) / ε = J' + ε/2 J'' + … has an error of order ε.
# Subtracting the two lines cancels the even terms:
#
#     (J(θ + ε) − J(θ − ε)) / (2ε) = J'(θ) + ε²/6 J'''(θ) + O(ε⁴)
#
# so the **centered** difference is off by O(ε²): ε = 10⁻⁶ leaves ~10⁻¹² of truncation error.
# The seed's 1-D example is J(θ) = θ·x with x = 2, θ = 4: J'(θ) = x = 2.

# %%
x_1d, theta_1d = 2.0, np.array([4.0])
grad_1d = np.array([x_1d])                                          # backward: dJ/dθ = x
gradapprox_1d = numerical_gradient(lambda t: t[0] * x_1d, theta_1d)   # centered, ε = 1e-6
difference_1d = relative_difference(grad_1d, gradapprox_1d)
print(f"grad = {grad_1d[0]}, gradapprox = {float(gradapprox_1d[0])!r}, difference = {difference_1d:.2e}")
lesson.check(difference_1d < 1e-7, f"1-D: J = θx at θ = 4 gives difference {difference_1d:.1e} < 1e-7")

# %% [markdown]
# How small should ε be? Smaller ε means less truncation error, but J(θ ± ε) are computed in
# floating point with a relative error u (u ≈ 1.1·10⁻¹⁶ in float64, 6·10⁻⁸ in float32), and
# that rounding error is divided by 2ε. Total error ≈ ε²|J'''|/6 + u|J|/ε: a V shape in
# log–log with its bottom near ε ≈ u^(1/3) (≈ 10⁻⁵ in float64, ≈ 10⁻³ in float32).
# Measured on J(θ) = θ² sin θ at θ = 1.3:

# %%
theta0 = 1.3
exact = 2 * theta0 * np.sin(theta0) + theta0 ** 2 * np.cos(theta0)
epsilons = [10.0 ** -k for k in range(1, lesson.pick(full=13, quick=11))]
errors = {}
for dtype in (np.float64, np.float32):
    for eps in epsilons:
        t, e = dtype(theta0), dtype(eps)
        one_sided = ((t + e) ** 2 * np.sin(t + e) - t ** 2 * np.sin(t)) / e
        centered = numerical_gradient(lambda v: v[0] ** 2 * np.sin(v[0]), np.array([theta0], dtype=dtype), eps)[0]
        errors[(dtype.__name__, eps)] = (abs(float(one_sided) - exact), abs(float(centered) - exact))
lesson.table(["ε", "float64 one-sided", "float64 centered", "float32 one-sided", "float32 centered"],
             [(f"1e-{k + 1}",) + errors[("float64", eps)] + errors[("float32", eps)] for k, eps in enumerate(epsilons)],
             title="|gradapprox − J'(θ)| for J = θ² sin θ")

# %%
with lesson.figure("15_epsilon.png", figsize=(6, 4)) as plt:
    if plt:
        for dtype, style in (("float64", "-"), ("float32", "--")):
            for j, kind in enumerate(("one-sided", "centered")):
                plt.loglog(epsilons, [max(errors[(dtype, e)][j], 1e-17) for e in epsilons], style, marker="o",
                           markersize=3, label=f"{dtype} {kind}")
        plt.gca().invert_xaxis()
        plt.xlabel("ε")
        plt.ylabel("error of the difference quotient")
        plt.legend(fontsize=8)
        plt.title("truncation error (large ε, left) vs rounding error (small ε, right)", fontsize=10)

# %%
ratio_centered = errors[("float64", 1e-2)][1] / errors[("float64", 1e-3)][1]
ratio_one_sided = errors[("float64", 1e-2)][0] / errors[("float64", 1e-3)][0]
best64 = min(errors[("float64", e)][1] for e in epsilons)
best32 = min(errors[("float32", e)][1] for e in epsilons)
lesson.check(50 < ratio_centered < 200 and 5 < ratio_one_sided < 20,
             f"ε ÷ 10 divides the centered error by {ratio_centered:.0f} (ε²) and the one-sided by "
             f"{ratio_one_sided:.1f} (ε)")
lesson.check(best32 > 1e4 * best64, f"best centered error: float64 {best64:.1e}, float32 {best32:.1e}")

# %% [markdown]
# ## 2. N dimensions: the seed's procedure
#
# For a network the parameters W1, b1, W2, b2 are many numbers θ₁ … θ_N. The seed's loop, for
# each i: copy θ to θ⁺ and add ε to θ⁺ᵢ, compute J⁺ᵢ by forward propagation; the same with −ε
# for J⁻ᵢ; gradapprox[i] = (J⁺ᵢ − J⁻ᵢ) / 2ε. Then one number for the whole vector:
#
#     difference = ‖grad − gradapprox‖₂ / (‖grad‖₂ + ‖gradapprox‖₂)
#
# The denominator makes it relative (scale-free) and keeps it in [0, 1]; it is 1 when one
# of the two is zero and 1/3 when one is exactly twice the other.
#
# The network below is the kind of code the check is for: a two-layer classifier whose
# forward pass returns the cost J = −(1/m) Σ log softmax(z₂)[y] and whose backward pass is
# derived by hand (as in the assignment, with the 1/m in each parameter gradient):
#
#     z₁ = X W1ᵀ + b1,  a₁ = tanh z₁,  z₂ = a₁ W2ᵀ + b2
#     dz₂ = softmax(z₂) − onehot(y)      dW2 = (1/m) dz₂ᵀ a₁     db2 = (1/m) Σᵢ dz₂
#     dz₁ = (dz₂ W2) ⊙ (1 − a₁²)          dW1 = (1/m) dz₁ᵀ X      db1 = (1/m) Σᵢ dz₁
#
# `bugs` plants the assignment's two mistakes: dW2 multiplied by 2, and 4/m instead of 1/m
# in db1. (tanh rather than ReLU: ReLU has a kink at 0, and a unit within ε of it makes the
# centered difference disagree with the derivative for a reason that is not a bug.)

# %%
class TwoLayerNet(nn.Module):
    """Cost of a 2-layer tanh classifier with a hand-derived backward (and optional bugs)."""

    def __init__(self, n_in, n_hidden, n_classes, labels, bugs=(), seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.W1 = nn.Parameter(rng.normal(0, 1 / np.sqrt(n_in), (n_hidden, n_in)), dtype=np.float64)
        self.b1 = nn.Parameter(rng.normal(0, 0.1, n_hidden), dtype=np.float64)
        self.W2 = nn.Parameter(rng.normal(0, 1 / np.sqrt(n_hidden), (n_classes, n_hidden)), dtype=np.float64)
        self.b2 = nn.Parameter(rng.normal(0, 0.1, n_classes), dtype=np.float64)
        self.labels = np.asarray(labels)
        self.bugs = set(bugs)

    def forward(self, X):
        m = X.shape[0]
        self.X = X
        self.a1 = np.tanh(X @ self.W1.data.T + self.b1.data)
        z2 = self.a1 @ self.W2.data.T + self.b2.data
        z2 = z2 - z2.max(axis=1, keepdims=True)
        self.p = np.exp(z2) / np.exp(z2).sum(axis=1, keepdims=True)
        return np.asarray(-np.mean(np.log(self.p[np.arange(m), self.labels])))

    def backward(self, dJ=1.0):
        m = self.X.shape[0]
        dz2 = self.p.copy()
        dz2[np.arange(m), self.labels] -= 1.0
        dz2 *= dJ
        dW2 = dz2.T @ self.a1 / m
        if "dW2 doubled" in self.bugs:
            dW2 = 2 * dW2
        dz1 = (dz2 @ self.W2.data) * (1 - self.a1 ** 2)
        db1 = dz1.sum(axis=0) * (4.0 if "db1 4/m" in self.bugs else 1.0) / m
        self.W2.accumulate_grad(dW2)
        self.b2.accumulate_grad(dz2.sum(axis=0) / m)
        self.W1.accumulate_grad(dz1.T @ self.X / m)
        self.b1.accumulate_grad(db1)
        return dz1 @ self.W1.data / m


data_rng = np.random.default_rng(1)
m = lesson.pick(full=8, quick=6)
X = data_rng.normal(size=(m, 4))
y = data_rng.integers(0, 3, size=m)


def seed_gradient_check(net, eps=1e-6):
    """The seed's loop, literally: every parameter element, J⁺ and J⁻, then the difference."""
    net.zero_grad()
    net(X)
    net.backward(1.0)
    grad, gradapprox = [], []
    for name, p in net.named_parameters():
        grad.append(p.grad.ravel().copy())
        approx = np.empty(p.data.size)
        flat = p.data.reshape(-1)              # a view: writing flat[i] changes θᵢ in place
        for i in range(flat.size):
            theta_i = flat[i]
            flat[i] = theta_i + eps            # θ⁺
            J_plus = float(net(X))
            flat[i] = theta_i - eps            # θ⁻
            J_minus = float(net(X))
            flat[i] = theta_i                  # restore θᵢ
            approx[i] = (J_plus - J_minus) / (2 * eps)
        gradapprox.append(approx)
    grad, gradapprox = np.concatenate(grad), np.concatenate(gradapprox)
    return np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))


correct = TwoLayerNet(4, 5, 3, y)
buggy = TwoLayerNet(4, 5, 3, y, bugs={"dW2 doubled", "db1 4/m"})
n_params = sum(p.size for p in correct.parameters())
diff_correct, diff_buggy = seed_gradient_check(correct), seed_gradient_check(buggy)
lesson.table(["backward", "N parameters", "difference", "verdict (< 1e-7?)"],
             [("correct", n_params, diff_correct, "ok" if diff_correct < 1e-7 else "BUG"),
              ("dW2 × 2, db1 with 4/m", n_params, diff_buggy, "ok" if diff_buggy < 1e-7 else "BUG")])
lesson.check(diff_correct < 1e-7, f"the correct backward passes: difference {diff_correct:.1e} < 1e-7")
lesson.check(diff_buggy > 1e-3, f"the planted bugs are caught: difference {diff_buggy:.1e} > 1e-3")

# %% [markdown]
# ## 3. Locating the bug with `check_module`
#
# One difference for all parameters says *that* something is wrong, not *where*. `check_module`
# runs the same loop (`numerical_gradient` per tensor) and reports one difference per tensor:
# the input X and each parameter. It works on a float64 copy of the module, and instead of a
# fixed dJ = 1 it feeds a random upstream gradient g — for a module with many outputs it
# checks J = Σ output ⊙ g, so a backward that ignores or mixes up its `grad_output` is caught
# too.

# %%
report_buggy = check_module(buggy, X)
print(report_buggy)
bad = {name for name, d in report_buggy.differences.items() if d >= 1e-7}
print(f"\ntensors over the threshold: {sorted(bad)}")
report_correct = check_module(correct, X)
print()
print(report_correct)

# %% [markdown]
# The two planted bugs show up as exactly the two tensors they touch, with the values the
# formula predicts: doubling a gradient gives ‖2g − g‖ / (‖2g‖ + ‖g‖) = 1/3; 4/m instead of
# 1/m gives 3/5. The "worst element" line names the entry with the largest error and both
# numbers, which is where to start reading the backward code.

# %%
lesson.check(bad == {"W2", "b1"}, f"check_module flags exactly W2 and b1: {sorted(bad)}")
lesson.check(abs(report_buggy.differences["W2"] - 1 / 3) < 1e-6 and abs(report_buggy.differences["b1"] - 3 / 5) < 1e-6,
             "difference of a doubled gradient = 1/3, of a 4/m factor = 3/5")
lesson.check(report_correct.passed, f"after the fix every tensor passes (max {report_correct.max_difference:.1e})")

# %% [markdown]
# minidl's own layers pass the same check (their tests run it on every layer):

# %%
model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
report_layers = check_module(model, X)
print(report_layers)
lesson.check(report_layers.passed, "Sequential(Linear, Tanh, Linear) passes check_module")

# %% [markdown]
# ## 4. Why float64
#
# Section 1 showed the V curve: in float32 rounding (u ≈ 6·10⁻⁸) swamps the quotient long
# before truncation becomes small. The same check on the same correct network cast to
# float32 cannot certify a correct backward at any ε: the difference never comes near 1e-7.
# In float64 it does for every ε from 1e-4 down to 1e-7 (at 1e-2 and 1e-3 the ε² truncation
# term is still visible: the difference falls 100× per decade of ε, as section 1 predicts).

# %%
net32 = copy.deepcopy(correct).to(np.float32)
X32 = X.astype(np.float32)
float_rows = []
for eps in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
    diffs = []
    for net, inputs in ((correct, X), (net32, X32)):
        net.zero_grad()
        net(inputs)
        net.backward(1.0)
        grads, approxes = [], []
        for _, p in net.named_parameters():
            grads.append(p.grad.astype(np.float64).ravel())
            approxes.append(numerical_gradient(lambda _: float(net(inputs)), p.data, eps).ravel())
        diffs.append(relative_difference(np.concatenate(grads), np.concatenate(approxes)))
    float_rows.append((f"{eps:.0e}", diffs[0], diffs[1]))
lesson.table(["ε", "difference, float64", "difference, float32"], float_rows, title="The correct backward")
lesson.check(all(r[1] < 1e-7 for r in float_rows[2:]) and all(r[2] > 1e-6 for r in float_rows),
             "float64 passes for 1e-7 ≤ ε ≤ 1e-4; float32 never gets below 1e-6 for a correct backward")

# %% [markdown]
# ## 5. Why dropout must be fixed during the check
#
# Dropout multiplies by a random mask drawn at every forward pass. Then J(θ + ε) and J(θ − ε)
# use *different* masks, and their difference is dominated by the mask change, not by ε: the
# quotient is noise of size ~|J|/ε (here ~10⁶ against true values ~0.1, so the difference
# formula gives ≈ 1, its maximum). The assignment's advice is to switch dropout off for the
# check (keep_prob = 1, here `model.eval()`); `check_module` can check the training-mode
# network as it is, because it resets every Generator the model draws from before each
# forward pass, so all 2N + 1 evaluations use the same mask.

# %%
drop_model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.5, rng=np.random.default_rng(0)),
                           nn.Linear(8, 3)).to(np.float64)
g = np.random.default_rng(0).standard_normal((m, 3))
drop_model.zero_grad()
drop_model(X)
grad_x = drop_model.backward(g)
naive = numerical_gradient(lambda v: float(np.sum(drop_model(v) * g)), X.copy())
naive_difference = relative_difference(grad_x, naive)
frozen = check_module(drop_model, X)
evaluated = check_module(copy.deepcopy(drop_model).eval(), X)
fa, fn = frozen.gradients("input")
lesson.table(["how the check is run", "max |grad|", "max |gradapprox|", "input-gradient difference"],
             [("naive: a new mask at every forward", np.abs(grad_x).max(), np.abs(naive).max(), naive_difference),
              ("check_module, training mode (mask frozen)", np.abs(fa).max(), np.abs(fn).max(),
               frozen.differences["input"]),
              ("check_module, eval mode (dropout off)", *map(lambda a: np.abs(a).max(), evaluated.gradients("input")),
               evaluated.differences["input"])])
lesson.check(naive_difference > 1e-2 and frozen.passed and evaluated.passed,
             f"with a fresh mask per call the check is meaningless ({naive_difference:.2f}); "
             "frozen or switched off it passes")

# %% [markdown]
# ## Try this
# * Plant a different bug: flip the sign of `dz1`, or use `self.W2.data.T` where `self.W2.data`
#   belongs (make the hidden layer square first). Which tensors does `check_module` flag?
# * Replace `np.tanh` by ReLU (and 1 − a₁² by `a1 > 0`) and shrink the inputs until some units
#   sit within ε of 0: the check now fails without any bug — the kink, not the code.
# * Run `check_module(model, X, eps=1e-3)` and `eps=1e-9`: where does the difference bottom out?

# %%
lesson.done()

# %% [markdown]
# # 01 — The learning rate: too large oscillates or diverges, too small crawls
#
# Source: `000_0f0a45033b9e4a6e.txt`, section「1.1 学习率对网络的影响」. Library: `minidl.optim.SGD`
# (`minidl/optim/sgd.py`), `minidl.train.fit` (`minidl/train.py`).
#
# **Claim.** In the update $\theta \leftarrow \theta-\eta\,\partial J/\partial\theta$ the learning
# rate $\eta$ is the step length. A large $\eta$ moves fast, but too large a step overshoots the
# optimum: the parameters oscillate around it, the cost cannot settle, and it may even blow
# up. A small $\eta$ does not miss the optimum, but learning becomes slow.
#
# ## The derivation on a quadratic
#
# Near a minimum every smooth cost looks like a quadratic. In one dimension take
# $J(\theta)=\tfrac{\lambda}{2}\theta^2$ (curvature $\lambda>0$, minimum at 0). Then
# $\partial J/\partial\theta=\lambda\theta$ and one step gives
#
# $$\theta_{k+1}=\theta_k-\eta\lambda\theta_k=(1-\eta\lambda)\,\theta_k
# \quad\Rightarrow\quad \theta_k=(1-\eta\lambda)^k\,\theta_0 .$$
#
# Everything depends on the factor $r=1-\eta\lambda$:
#
# * $0<\eta\lambda<1$: $0<r<1$, $\theta$ shrinks monotonically. For tiny $\eta$, $r\approx1$ and
#   shrinking by a factor $e$ takes $k\approx1/(\eta\lambda)$ steps: it **crawls**.
# * $\eta\lambda=1$: $r=0$, the minimum in one step.
# * $1<\eta\lambda<2$: $-1<r<0$, the sign flips every step: it **oscillates** around the
#   minimum, and still converges.
# * $\eta\lambda>2$: $|r|>1$, each step overshoots further: it **diverges**.
#
# With many parameters, $J(\theta)\approx\tfrac12\theta^\top H\theta$ and the same analysis
# holds along every eigenvector of the Hessian $H$ with its eigenvalue $\lambda_i$: stability
# needs $\eta<2/\lambda_{\max}$, while the flattest direction ($\lambda_{\min}$) sets how slowly the
# rest crawls.

# %%
import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits
from minidl.lesson import Lesson
from minidl.optim import SGD
from minidl.train import fit

lesson = Lesson("01_learning_rate", source="000 §1.1", blas_threads=1)

# %% [markdown]
# ## Experiment 1: minidl's SGD on the one-dimensional quadratic
#
# One `Parameter`, its gradient $\lambda\theta$ written by hand, `SGD.step()` applying the update.

# %%
lam, theta0, n_steps = 4.0, 1.0, 12
regimes = {"crawls (ηλ = 0.05)": 0.05, "smooth (ηλ = 0.5)": 0.5, "oscillates (ηλ = 1.5)": 1.5,
           "diverges (ηλ = 2.1)": 2.1}
paths = {}
for name, eta_lam in regimes.items():
    theta = nn.Parameter(np.array([theta0]))
    optimizer = SGD([theta], learning_rate=eta_lam / lam)
    path = [theta0]
    for _ in range(n_steps):
        optimizer.zero_grad()
        theta.accumulate_grad(lam * theta.data)
        optimizer.step()
        path.append(float(theta.data[0]))
    paths[name] = np.array(path)
lesson.table(["regime", "θ_1", "θ_2", "θ_3", f"θ_{n_steps}", f"(1-ηλ)^{n_steps}"],
             [[name, *p[[1, 2, 3, n_steps]], (1 - regimes[name]) ** n_steps] for name, p in paths.items()],
             title="θ_k for θ_0 = 1")

# %%
k = np.arange(n_steps + 1)
lesson.check(all(np.allclose(p, (1 - regimes[name]) ** k, rtol=1e-12) for name, p in paths.items()),
             "SGD's iterates equal θ_k = (1 − ηλ)^k θ_0 in every regime")
osc = paths["oscillates (ηλ = 1.5)"]
lesson.check(np.all(np.sign(osc[1:]) == -np.sign(osc[:-1])) and abs(osc[-1]) < abs(osc[0]),
             "1 < ηλ < 2: the sign flips every step (oscillation) while |θ| still shrinks")
lesson.check(abs(paths["diverges (ηλ = 2.1)"][-1]) > 1.0 > abs(paths["crawls (ηλ = 0.05)"][-1]) > 0.5,
             "ηλ > 2 diverges; ηλ = 0.05 has not even halved θ after 12 steps")

# %% [markdown]
# ## Experiment 2: predicting the critical rate of a real model
#
# Least-squares linear regression, `Linear(5, 1)` with `MSELoss`, trained full batch. The
# loss $J=\frac1N\lVert\tilde X w-y\rVert^2$ ($\tilde X$ = inputs with a column of ones for the
# bias) is exactly quadratic with Hessian $H=\frac2N\tilde X^\top\tilde X$, so the theory predicts
# the largest stable rate $\eta^*=2/\lambda_{\max}(H)$. We train at $0.9\,\eta^*$ and $1.1\,\eta^*$.

# %%
rng = np.random.default_rng(0)
N = 256
X_reg = rng.normal(size=(N, 5)) * np.array([1.0, 0.5, 2.0, 1.0, 3.0])
y_reg = X_reg @ np.array([[1.0], [-2.0], [0.5], [0.0], [0.3]]) + 0.1 * rng.normal(size=(N, 1))
X_tilde = np.hstack([X_reg, np.ones((N, 1))])
lam_max = np.linalg.eigvalsh(2.0 / N * X_tilde.T @ X_tilde).max()
eta_star = 2.0 / lam_max
print(f"λ_max(H) = {lam_max:.4f}  →  critical rate η* = 2/λ_max = {eta_star:.4f}")

reg_rows, reg_curves = [], {}
reg_epochs = lesson.pick(full=300, quick=150)
for factor in (0.9, 1.1):
    minidl.manual_seed(0)
    model = nn.Linear(5, 1).double()
    optimizer = SGD(model.parameters(), learning_rate=factor * eta_star)
    loader = DataLoader(X_reg, y_reg, batch_size=N, shuffle=False)
    try:
        curve = fit(model, nn.MSELoss(), optimizer, loader, reg_epochs, progress=False).train_loss
        outcome = f"loss × {curve[-1] / curve[0]:.1e} after {reg_epochs} steps"
    except FloatingPointError as error:            # fit stops at the first inf/NaN loss
        outcome, curve = str(error).split(";")[0].replace("fit: the loss became", "overflow:"), None
    if curve is None:                              # replay without the check to plot the blow-up
        minidl.manual_seed(0)
        model = nn.Linear(5, 1).double()
        optimizer = SGD(model.parameters(), learning_rate=factor * eta_star)
        with np.errstate(over="ignore", invalid="ignore"):
            curve = fit(model, nn.MSELoss(), optimizer, loader, reg_epochs, progress=False,
                        check_finite=False).train_loss
    reg_curves[factor] = np.array(curve)
    reg_rows.append((f"{factor} η*", factor * eta_star, float(reg_curves[factor][0]),
                     float(reg_curves[factor][min(50, reg_epochs - 1)]), outcome))
lesson.table(["rate", "η", "loss at step 1", "loss at step 51", "outcome"], reg_rows)

# %%
below, above = reg_curves[0.9], reg_curves[1.1]
lesson.check(below[-1] < 0.1 and above[50] > 10 * above[0],
             "η = 0.9·η* converges while η = 1.1·η* blows up: the critical rate 2/λ_max(H) is where theory puts it")

# %% [markdown]
# ## Experiment 3: a neural network on handwritten digits
#
# A 64-64-10 MLP on the 1,797 8×8 digits shipped with minidl (600 in `--quick` mode), full-batch gradient descent (so
# that every wiggle in the loss comes from the learning rate, not from mini-batch noise), the
# same initial weights for every rate. The loss is no longer a quadratic, but the three regimes
# are the same.

# %%
digits = load_digits()
n_samples = lesson.pick(full=len(digits.target), quick=600)
X = (digits.data[:n_samples] / 16.0).astype(np.float32)
y = digits.target[:n_samples]
steps = lesson.pick(full=300, quick=100)
rates = {"too small": 0.01, "right": 0.5, "too large": 8.0}
curves = {}
for name, eta in lesson.progress(list(rates.items()), desc="one training run per rate"):
    minidl.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    loader = DataLoader(X, y, batch_size=len(X), shuffle=False)
    history = fit(model, nn.CrossEntropyLoss(), SGD(model.parameters(), learning_rate=eta), loader, steps,
                  progress=False)
    curves[name] = np.array(history.train_loss)
rows = [(name, rates[name], c[0], c[steps // 4], c[-1], float(c.max()), int((np.diff(c) > 0).sum()))
        for name, c in curves.items()]
lesson.table(["η", "value", "first loss", f"loss @ {steps // 4}", "final loss", "max loss", "# steps loss rose"],
             rows, title=f"{steps} full-batch steps")

with lesson.figure("01_learning_rate.png", figsize=(10, 4)) as plt:
    if plt:
        plt.subplot(1, 2, 1)
        for name, p in paths.items():
            plt.plot(p, marker="o", label=name)
        plt.ylim(-3, 3)
        plt.xlabel("step")
        plt.ylabel("θ")
        plt.title("quadratic: θ_k = (1 − ηλ)^k")
        plt.legend(fontsize=7)
        plt.subplot(1, 2, 2)
        for name, c in curves.items():
            plt.semilogy(c, label=f"{name} (η = {rates[name]})")
        plt.xlabel("full-batch step")
        plt.ylabel("training loss")
        plt.title("MLP on digits")
        plt.legend(fontsize=7)

# %% [markdown]
# ## Check: the claims of §1.1 on this run

# %%
small, right, large = curves["too small"], curves["right"], curves["too large"]
lesson.check(small[-1] > 0.8 * small[0] and right[-1] < 0.2 * right[0],
             f"too small crawls: η = 0.01 keeps {small[-1] / small[0]:.0%} of its initial loss after {steps} steps, "
             f"η = 0.5 keeps {right[-1] / right[0]:.0%}")
lesson.check(large.max() > 2 * large[0] and large[-1] > 5 * right[-1],
             f"too large overshoots: η = 8 drives the loss up to {large.max():.1f} (from {large[0]:.2f}) and ends "
             f"at {large[-1]:.2f}, far above η = 0.5's {right[-1]:.3f}")
lesson.check(int((np.diff(right) > 0).sum()) <= 2,
             "the right rate decreases the loss (almost) every step")

# %% [markdown]
# ## Try this
# * Put `rates["too large"] = 2.0`: the loss no longer explodes but oscillates and stalls near
#   ln 10 ≈ 2.30 — the value of a network that predicts all ten digits with equal probability
#   (most ReLUs have died).
# * Replace the full batch by `batch_size=32`: the "right" curve gets noisy — how large can
#   η be now? (Tutorial 03 measures that noise.)

# %%
lesson.done()

# %% [markdown]
# # 02 — Learning-rate schedules: the twelve decay rules
#
# Source: `000_0f0a45033b9e4a6e.txt`, section「1.2学习率的设置」(1.2.1 分段常数衰减 …
# 1.2.12 线性学习率热身). Library: `minidl/optim/lr/` (one file per family), `minidl/train.py`.
#
# **Claim.** Early in training a relatively large learning rate makes fast progress; as the
# iterations accumulate, the rate should shrink so that the parameters *settle into* the
# minimum instead of oscillating around it. The section lists twelve ways to shrink it —
# PaddlePaddle's `paddle.optimizer.lr` schedules, which `minidl.optim.lr` reproduces step for
# step — and one way to *grow* it first (linear warm-up).
#
# ## Why shrinking helps: the noise floor of SGD
#
# Take one parameter on the quadratic $J(\theta)=\tfrac{\lambda}{2}\theta^2$ and a mini-batch
# gradient that is the true gradient plus noise, $g=\lambda\theta+\xi$ with
# $\mathbb E\,\xi=0$, $\operatorname{Var}\xi=\sigma^2$. One SGD step is
#
# $$\theta_{k+1}=\theta_k-\eta(\lambda\theta_k+\xi_k)=(1-\eta\lambda)\,\theta_k-\eta\,\xi_k .$$
#
# $\xi_k$ is independent of $\theta_k$, so the variances add:
# $V_{k+1}=(1-\eta\lambda)^2V_k+\eta^2\sigma^2$. For $0<\eta\lambda<2$ this converges to the
# fixed point $V=(1-\eta\lambda)^2V+\eta^2\sigma^2$, i.e.
#
# $$V_\infty=\frac{\eta^2\sigma^2}{1-(1-\eta\lambda)^2}=\frac{\eta^2\sigma^2}{\eta\lambda(2-\eta\lambda)}
# =\frac{\eta\,\sigma^2}{\lambda\,(2-\eta\lambda)}\approx\frac{\eta\,\sigma^2}{2\lambda}.$$
#
# With a constant rate SGD never reaches the minimum: it jitters around it with a spread
# proportional to $\eta$. Halving $\eta$ halves the jitter (but also halves the speed
# $1-\eta\lambda$ at which the distance to the minimum shrinks). A schedule gets both: big
# steps while far away, small steps near the end. We check the formula with minidl's `SGD`
# driven by a `PiecewiseDecay` schedule.

# %%

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score
from minidl.optim import SGD, lr
from minidl.train import fit

lesson = Lesson("02_lr_schedules", source="000 §1.2.1–1.2.12")
rng = np.random.default_rng(0)

# %%
lam, sigma = 2.0, 1.0
phase = lesson.pick(full=20000, quick=4000)          # steps per constant-rate phase
rates = [0.4, 0.2, 0.05]
theta = nn.Parameter(np.array([5.0]))
schedule = lr.PiecewiseDecay(boundaries=[phase, 2 * phase], values=rates)
optimizer = SGD([theta], learning_rate=schedule)
path = np.empty(3 * phase)
noise = rng.normal(0.0, sigma, size=3 * phase)
for k in range(3 * phase):
    optimizer.zero_grad()
    theta.accumulate_grad(np.array([lam * theta.data[0] + noise[k]]))
    optimizer.step()
    schedule.step()
    path[k] = theta.data[0]

noise_rows = []
for i, eta in enumerate(rates):
    settled = path[i * phase + phase // 4:(i + 1) * phase]          # skip the transient
    predicted = eta * sigma ** 2 / (lam * (2 - eta * lam))
    noise_rows.append((eta, float(np.mean(settled ** 2)), predicted))
lesson.table(["η", "measured E[θ²]", "η σ² / (λ (2 − ηλ))"], noise_rows, title="SGD noise floor per phase")

# %% [markdown]
# ## The twelve schedules with the section's own example arguments
#
# `trace(scheduler, steps)` lists the rates a scheduler will give from its current epoch on
# (working on a copy, so the scheduler itself does not move). "Epoch" is one call of
# `scheduler.step()` — once per epoch or once per batch, your choice.
#
# | § | schedule | rate at epoch $e$ (η₀ = `learning_rate`) |
# |---|---|---|
# | 1.2.1 | `PiecewiseDecay(boundaries, values)` | `values[i]` for the first boundary with $e<b_i$ |
# | 1.2.2 | `ExponentialDecay(η₀, γ)` | $\eta_0\gamma^e$ |
# | 1.2.3 | `NaturalExpDecay(η₀, γ)` | $\eta_0 e^{-\gamma e}$ |
# | 1.2.4 | `PolynomialDecay(η₀, D, end_lr, power, cycle)` | $(\eta_0-\text{end})(1-e/D)^{p}+\text{end}$, $e\le D$ (or $D\lceil e/D\rceil$ with `cycle`) |
# | 1.2.5 | `StepDecay(η₀, step_size, γ)` | $\eta_0\gamma^{\lfloor e/\text{step}\rfloor}$ |
# | 1.2.6 | `MultiStepDecay(η₀, milestones, γ)` | $\eta_0\gamma^{\#\{m\le e\}}$ |
# | 1.2.7 | `InverseTimeDecay(η₀, γ)` | $\eta_0/(1+\gamma e)$ |
# | 1.2.8 | `LambdaDecay(η₀, f)` | $\eta_0 f(e)$ |
# | 1.2.9 | `CosineAnnealingDecay(η₀, T_max, η_min)` | $\eta_{min}+\tfrac12(\eta_0-\eta_{min})(1+\cos(\pi e/T_{max}))$ — no restart, it climbs back after $T_{max}$ |
# | 1.2.10 | `NoamDecay(d_model, warmup)` | $\eta_0 d^{-1/2}\min(e^{-1/2}, e\,w^{-3/2})$, exactly 0 at $e=0$ |
# | 1.2.11 | `ReduceOnPlateau(η₀, factor, patience, cooldown)` | × factor after more than `patience` epochs without improvement |
# | 1.2.12 | `LinearWarmup(inner, w, start, end)` | $\text{start}+(\text{end}-\text{start})\,e/w$ for $e<w$, then the inner schedule from its epoch 0 |

# %%
steps = 250
plateau_loss = [max(1.0 / (1 + 0.05 * e), 0.4) for e in range(steps)]   # improves, then stalls
schedules = {
    "1.2.1 PiecewiseDecay": lr.PiecewiseDecay(boundaries=[100, 200], values=[1.0, 0.5, 0.1]),
    "1.2.2 ExponentialDecay": lr.ExponentialDecay(learning_rate=0.5, gamma=0.98),
    "1.2.3 NaturalExpDecay": lr.NaturalExpDecay(learning_rate=0.5, gamma=0.02),
    "1.2.4 PolynomialDecay": lr.PolynomialDecay(learning_rate=0.5, decay_steps=60, end_lr=0.0001),
    "1.2.4 PolynomialDecay cycle": lr.PolynomialDecay(learning_rate=0.5, decay_steps=60, cycle=True),
    "1.2.5 StepDecay": lr.StepDecay(learning_rate=0.5, step_size=30, gamma=0.1),
    "1.2.6 MultiStepDecay": lr.MultiStepDecay(learning_rate=0.5, milestones=[30, 50], gamma=0.1),
    "1.2.7 InverseTimeDecay": lr.InverseTimeDecay(learning_rate=0.5, gamma=0.1),
    "1.2.8 LambdaDecay": lr.LambdaDecay(learning_rate=0.5, lr_lambda=lambda epoch: 0.95 ** epoch),
    "1.2.9 CosineAnnealingDecay": lr.CosineAnnealingDecay(learning_rate=0.5, T_max=100),
    "1.2.10 NoamDecay": lr.NoamDecay(d_model=0.01, warmup_steps=100),
    "1.2.11 ReduceOnPlateau": lr.ReduceOnPlateau(learning_rate=0.5, factor=0.5, patience=10, cooldown=5),
    "1.2.12 LinearWarmup": lr.LinearWarmup(lr.CosineAnnealingDecay(0.5, T_max=200), warmup_steps=50,
                                           start_lr=0.0, end_lr=0.5),
}
traces = {name: (lr.trace(s, steps, metrics=plateau_loss[1:]) if isinstance(s, lr.ReduceOnPlateau)
                 else lr.trace(s, steps)) for name, s in schedules.items()}
show = [0, 1, 2, 29, 30, 50, 60, 100, 150, 200, 249]
lesson.table(["schedule"] + [f"e={e}" for e in show],
             [[name.split(" ", 1)[1]] + [float(t[e]) for e in show] for name, t in traces.items()],
             title="Rates at selected epochs")

with lesson.figure("02_twelve_schedules.png", figsize=(14, 9)) as plt:
    if plt:
        panels = [n for n in traces if not n.endswith("cycle")]
        for i, name in enumerate(panels, start=1):
            ax = plt.subplot(3, 4, i)
            ax.plot(traces[name], label="rate")
            if name.startswith("1.2.4"):
                ax.plot(traces[name + " cycle"], "--", label="cycle=True")
                ax.legend(fontsize=7)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)

# %% [markdown]
# ## Check: the section's worked numbers, and the shape of each rule

# %%
t = traces
lam_decay = lr.LambdaDecay(learning_rate=0.5, lr_lambda=lambda epoch: 0.95 ** epoch)
lesson.check(np.allclose(lr.trace(lam_decay, 3), [0.5, 0.475, 0.45125], rtol=1e-12),
             "1.2.8 LambdaDecay(0.5, 0.95**epoch) gives 0.5, 0.475, 0.45125")
step_t = t["1.2.5 StepDecay"]
lesson.check(np.allclose(step_t[[0, 29, 30, 59, 60, 89]], [0.5, 0.5, 0.05, 0.05, 0.005, 0.005], rtol=1e-12),
             "1.2.5 StepDecay(0.5, step_size=30, gamma=0.1): 0.5 → 0.05 at epoch 30 → 0.005 at epoch 60")
multi_t = t["1.2.6 MultiStepDecay"]
lesson.check(np.allclose(multi_t[[29, 30, 49, 50, 249]], [0.5, 0.05, 0.05, 0.005, 0.005], rtol=1e-12),
             "1.2.6 MultiStepDecay(0.5, [30, 50]): 0.5 → 0.05 at 30 → 0.005 from 50 on")
piece_t = t["1.2.1 PiecewiseDecay"]
lesson.check(list(piece_t[[99, 100, 199, 200]]) == [1.0, 0.5, 0.5, 0.1],
             "1.2.1 PiecewiseDecay([100, 200], [1.0, 0.5, 0.1]) switches at epochs 100 and 200")
poly, cyc = t["1.2.4 PolynomialDecay"], t["1.2.4 PolynomialDecay cycle"]
lesson.check(poly[60] == poly[200] == 0.0001 and cyc[61] > cyc[60] == 0.0001,
             "1.2.4 without cycle the rate stays at end_lr; with cycle it rises again after each decay_steps")
cos_t = t["1.2.9 CosineAnnealingDecay"]
lesson.check(abs(cos_t[100]) < 1e-12 and abs(cos_t[200] - 0.5) < 1e-9,
             "1.2.9 cosine reaches eta_min at T_max and (no restart) climbs back to the initial rate at 2·T_max")
noam_t = t["1.2.10 NoamDecay"]
lesson.check(noam_t[0] == 0.0 and int(np.argmax(noam_t)) == 100 and abs(noam_t[100] - 1.0) < 1e-12,
             "1.2.10 Noam is 0 at epoch 0 and peaks at warmup_steps (d_model=0.01, warmup 100: peak 1.0)")
plat_t = t["1.2.11 ReduceOnPlateau"]
stall = next(e for e in range(1, steps) if plateau_loss[e] == plateau_loss[e - 1])   # first stalled step
first_cut = int(np.argmax(plat_t < 0.5))
lesson.check(first_cut == stall + 10 and plat_t[first_cut] == 0.25,
             f"1.2.11 ReduceOnPlateau halves the rate on the 11th stalled epoch (patience 10): epoch {first_cut}")
warm_t = t["1.2.12 LinearWarmup"]
lesson.check(np.allclose(warm_t[:50], 0.5 * np.arange(50) / 50) and warm_t[50] == 0.5 and warm_t[51] < 0.5,
             "1.2.12 LinearWarmup ramps 0 → 0.5 over 50 epochs, then hands over to the cosine at its epoch 0")
floor_ok = all(abs(m - p) / p < 0.2 for _, m, p in noise_rows)
lesson.check(floor_ok and noise_rows[0][1] > noise_rows[1][1] > noise_rows[2][1],
             "SGD noise floor E[θ²] ≈ η σ² / (λ (2 − ηλ)) within 20%, and it shrinks with each decay")

# %% [markdown]
# ## The schedules in training
#
# A 64-64-10 MLP on the 8×8 handwritten digits (shipped with minidl), SGD with momentum 0.9,
# the same peak rate 0.2 for every run; the schedule is stepped after every batch
# (`scheduler_interval="step"`). `minidl.train.fit` runs the SPEC training step and records
# the rate every step used.

# %%
digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.2, stratify=digits.target, seed=0)
epochs = lesson.pick(full=10, quick=4)
seeds = lesson.pick(full=[0, 1, 2], quick=[0, 1])
peak = 0.2


def make_schedule(name, total):
    if name == "constant":
        return None
    if name == "step (÷10 twice)":
        return lr.StepDecay(peak, step_size=total // 3, gamma=0.1)
    if name == "cosine":
        return lr.CosineAnnealingDecay(peak, T_max=total)
    warm = total // 10
    return lr.LinearWarmup(lr.CosineAnnealingDecay(peak, T_max=total - warm), warm, start_lr=0.0, end_lr=peak)


results, lr_curves = {}, {}
for name in ["constant", "step (÷10 twice)", "cosine", "warm-up + cosine"]:
    runs = []
    for seed in seeds:
        minidl.manual_seed(seed)
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        loader = DataLoader(X_train, y_train, batch_size=32, seed=seed)
        schedule = make_schedule(name, epochs * len(loader))
        optimizer = SGD(model.parameters(), learning_rate=schedule or peak, momentum=0.9)
        history = fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs, scheduler=schedule,
                      scheduler_interval="step", val_loader=(X_test, y_test), metrics=[accuracy_score],
                      progress=False)
        runs.append((history.train_loss[-1], history.val_loss[-1], history["val_accuracy"][-1]))
        lr_curves[name] = history.lr
    results[name] = np.mean(runs, axis=0)
lesson.table(["schedule", "final train loss", "test loss", "test accuracy"],
             [[name, *map(float, r)] for name, r in results.items()],
             title=f"Mean over seeds {seeds}, {epochs} epochs")

with lesson.figure("02_schedules_in_training.png", figsize=(6, 4)) as plt:
    if plt:
        for name, curve in lr_curves.items():
            plt.plot(curve, label=name)
        plt.xlabel("optimizer step")
        plt.ylabel("learning rate")
        plt.legend()

# %% [markdown]
# ## Check: decaying beats staying at the peak rate

# %%
constant = results["constant"][0]
better = [name for name in results if name != "constant" and results[name][0] < constant]
lesson.check(len(better) == 3,
             f"all three decaying schedules end with a lower training loss than constant rate {peak} "
             f"({', '.join(f'{n}: {results[n][0]:.4f}' for n in results)})")

# %% [markdown]
# ## Try this
# * Lower `peak` to 0.02: the constant run is no longer noisy — and no longer fast. Which
#   schedule wins now?
# * Drive `ReduceOnPlateau` from `fit` (it receives the validation loss each epoch) with
#   `scheduler_interval="epoch"` and watch `history.lr`.

# %%
lesson.done()

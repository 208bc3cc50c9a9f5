# %% [markdown]
# # 11 — Vanishing and exploding gradients, and what each fix buys
#
# Source: `002_de0d3c5cb8b6c6e1.txt` §"梯度消失和梯度爆炸".
#
# **Claim.** Backpropagation multiplies the gradient by one Jacobian per layer. In a deep
# sigmoid network each factor is small (σ' ≤ ¼), so the gradient reaching the first layers
# vanishes and they stop learning; with too-large weights each factor is large, the gradient
# explodes and training diverges to NaN. The source lists the fixes — for vanishing: ReLU,
# a proper initialisation (He), residual connections, batch normalisation; for exploding:
# gradient clipping, L2 regularisation, adaptive optimisers (Adam). Here every fix is applied
# to the *same* 20-layer network on the handwritten digits and measured: the per-layer
# gradient norms at initialisation, then the loss after training.
#
# Library code: `minidl/nn/activation.py`, `minidl/nn/init.py` (`kaiming_normal_`),
# `minidl/nn/residual.py` (`Residual`), `minidl/nn/batchnorm.py` (`BatchNorm1d`),
# `minidl/nn/utils` (`clip_grad_norm_`), `minidl/optim` (`SGD(weight_decay=…)`, `Adam`).

# %%
import os

import numpy as np

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson
from minidl.nn import init
from minidl.nn.utils import clip_grad_norm_

lesson = Lesson("11_vanishing_exploding_gradients", source="002 梯度消失和梯度爆炸")
minidl.manual_seed(0)

# %% [markdown]
# ## 1. Why the gradient shrinks or grows geometrically
#
# Layer l computes z_l = W_l a_{l−1} + b_l, a_l = φ(z_l). By the chain rule
#
#     ∂L/∂a_{l−1} = W_lᵀ (φ'(z_l) ⊙ ∂L/∂a_l),      ∂L/∂W_l = (φ'(z_l) ⊙ ∂L/∂a_l) a_{l−1}ᵀ
#
# so the gradient at layer 1 carries the product of 19 factors W_lᵀ diag(φ'(z_l)). For
# a width-n layer with Var(W) = v, one factor scales the squared gradient norm by about
# n · v · E[φ'(z)²]:
#
# * sigmoid: φ' = σ(1 − σ) ≤ ¼, so E[φ'²] ≤ 1/16. With PyTorch's default v = 1/(3n):
#   n · v · E[φ'²] ≤ 1/48 per layer — over 19 layers ≤ 48⁻¹⁹ ≈ 10⁻³² in squared norm.
# * ReLU: φ' ∈ {0, 1}, E[φ'²] = ½. The factor is n · v / 2: 1/6 with the default init,
#   exactly 1 with He's v = 2/n.
# * Residual a_l = a_{l−1} + F(a_{l−1}): the Jacobian is I + ∂F/∂a, the identity path
#   carries the gradient even where ∂F/∂a is tiny.
# * BatchNorm divides the pre-activation by its batch std: whatever the scale of W, z has
#   unit variance, and backward multiplies by 1/std — the weight scale cancels.
# * Large weights (v = 0.25²  with n = 64, ReLU): n · v / 2 = 2 per layer, 2¹⁹ ≈ 5·10⁵
#   in squared norm: the gradient explodes.

# %% [markdown]
# ## 2. The network and the measurements
#
# 64 inputs (8 × 8 pixels) → 19 hidden layers of width 64 → 10 logits, cross-entropy loss.
# "Gradient norm of layer l" is ‖∂L/∂W_l‖ on one batch of 256 images at initialisation.
# Then SGD (momentum 0.9, learning rate 0.005, batches of 32) trains every variant for the
# same number of steps; we report the mean loss over the last 20 steps, the test accuracy,
# the largest rise of the (20-step mean) training loss above its best value so far — a
# healthy run has no such spikes — and ‖W‖, the norm of all weights, at the end. "Default
# init" is PyTorch's, weights and biases U(±1/√n); with He and with the large init the biases
# start at zero (He et al.'s recipe: nonzero biases add variance at every layer). The learning rate matters: a 20-layer plain ReLU net is trainable at 0.005,
# but at 0.02 it spikes and stalls near 30 % accuracy (run the "Try this" below) — the fix
# for vanishing gradients makes deep nets trainable, not insensitive to the learning rate.
#
# The test suite runs this tutorial once more with `MINIDL_TUTORIAL_BREAK=he`, which trains
# the ReLU + He net at 0.02 with PyTorch's default biases, and expects the "trains healthily"
# check below to fail on that run.

# %%
X, y = load_digits(return_X_y=True, scale=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, seed=0)
depth, width = 20, 64
steps = lesson.pick(full=1000, quick=700)
learning_rate = 0.005


def build(activation="sigmoid", weights="default", residual=False, batchnorm=False, std=None, zero_bias=None, seed=0):
    """zero_bias: biases start at 0 (default: with He and large init; "default" keeps PyTorch's biases too)."""
    rng = np.random.default_rng(seed)
    act = nn.Sigmoid if activation == "sigmoid" else nn.ReLU
    layers = [nn.Linear(64, width, rng=rng), act()]
    for _ in range(depth - 2):
        block = [nn.Linear(width, width, rng=rng)] + ([nn.BatchNorm1d(width)] if batchnorm else []) + [act()]
        block = nn.Sequential(*block)
        layers.append(nn.Residual(block) if residual else block)
    layers.append(nn.Linear(width, 10, rng=rng))
    model = nn.Sequential(*layers)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for m in linears:
        if weights == "he":
            init.kaiming_normal_(m.weight, nonlinearity="relu", rng=rng)
        elif weights == "large":
            init.normal_(m.weight, 0.0, std, rng=rng)
        if zero_bias or (zero_bias is None and weights != "default"):
            init.zeros_(m.bias)
    return model, linears


def gradient_norms(model, linears):
    criterion = nn.CrossEntropyLoss()
    with np.errstate(over="ignore", invalid="ignore"):
        criterion(model(X_train[:256]), y_train[:256])
        model.zero_grad()
        model.backward(criterion.backward())
    return np.array([float(np.linalg.norm(m.weight.grad.astype(np.float64))) for m in linears])


def train(model, linears, optimizer="sgd", learning_rate=learning_rate, clip=None, weight_decay=0.0):
    criterion = nn.CrossEntropyLoss()
    if optimizer == "sgd":
        opt = optim.SGD(model.parameters(), learning_rate=learning_rate, momentum=0.9, weight_decay=weight_decay)
    else:
        opt = optim.Adam(model.parameters(), learning_rate=learning_rate, weight_decay=weight_decay)
    losses, epoch = [], 0
    # errstate: the diverging runs overflow on purpose; the NaN in the table is the result.
    with np.errstate(over="ignore", invalid="ignore"):
        while len(losses) < steps:
            for xb, yb in DataLoader(X_train, y_train, batch_size=32, seed=epoch):
                losses.append(criterion(model(xb), yb))
                opt.zero_grad()
                model.backward(criterion.backward())
                if clip is not None:
                    clip_grad_norm_(model.parameters(), clip)
                opt.step()
                if len(losses) == steps:
                    break
            epoch += 1
        model.eval()
        accuracy = float(np.mean(model(X_test).argmax(axis=1) == y_test))
    weight_norm = float(np.sqrt(sum(np.sum(m.weight.data.astype(np.float64) ** 2) for m in linears)))
    return np.array(losses), accuracy, weight_norm


# %% [markdown]
# ## 3. Vanishing: a 20-layer sigmoid network, and four fixes

# %%
variants = {
    "sigmoid (baseline)": (dict(), dict()),
    "ReLU, default init": (dict(activation="relu"), dict()),
    "ReLU + He init": (dict(activation="relu", weights="he"), dict()),
    "sigmoid + residual": (dict(residual=True), dict()),
    "sigmoid + BatchNorm": (dict(batchnorm=True), dict()),
    # exploding: ReLU with weights ~ N(0, 0.25²), then the three fixes for exploding gradients
    "large init, SGD": (dict(activation="relu", weights="large", std=0.25), dict()),
    "large init + clipping": (dict(activation="relu", weights="large", std=0.25), dict(clip=5.0)),
    "large init + L2": (dict(activation="relu", weights="large", std=0.25), dict(weight_decay=1e-2)),
    "large init + clipping + L2": (dict(activation="relu", weights="large", std=0.25),
                                   dict(clip=5.0, weight_decay=1e-2)),
    "large init + Adam": (dict(activation="relu", weights="large", std=0.25),
                          dict(optimizer="adam", learning_rate=1e-3)),
}
if os.environ.get("MINIDL_TUTORIAL_BREAK") == "he":      # the broken variant (see above)
    variants["ReLU + He init"] = (dict(activation="relu", weights="he", zero_bias=False), dict(learning_rate=0.02))


def smoothed(losses, window=20):
    return np.convolve(losses, np.ones(window) / window, mode="valid")


def largest_spike(losses):
    """Largest rise of the 20-step mean loss above the lowest value it had reached before."""
    s = smoothed(losses)
    return float(np.max(s - np.minimum.accumulate(s)))


results = {}
for name, (arch, training) in lesson.progress(list(variants.items()), desc=f"{len(variants)} training runs"):
    model, linears = build(**arch)
    initial_norm = float(np.sqrt(sum(np.sum(m.weight.data.astype(np.float64) ** 2) for m in linears)))
    norms = gradient_norms(model, linears)
    losses, accuracy, weight_norm = train(model, linears, **training)
    finite = np.isfinite(losses)
    results[name] = dict(norms=norms, losses=losses, accuracy=accuracy, weight_norm=weight_norm,
                         initial_norm=initial_norm, final=float(np.mean(losses[-20:])),
                         spike=largest_spike(losses) if finite.all() else np.inf,
                         diverged_at=None if finite.all() else int(np.argmin(finite)) + 1)

lesson.table(["variant", "‖∂L/∂W₁‖", "‖∂L/∂W₂₀‖", "ratio 1/20", f"loss after {steps} steps", "test acc.",
              "largest spike", "‖W‖ start → end"],
             [(k, float(r["norms"][0]), float(r["norms"][-1]), float(r["norms"][0] / r["norms"][-1]),
               r["final"] if r["diverged_at"] is None else f"NaN from step {r['diverged_at']}", r["accuracy"],
               r["spike"], f"{r['initial_norm']:.0f} → {r['weight_norm']:.0f}") for k, r in results.items()],
             title="Gradient norms at initialisation and the result of training (ln 10 = 2.303 is chance level)")

# %%
with lesson.figure("11_gradient_norms.png", figsize=(11, 4.2)) as plt:
    if plt:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        top = 20.0
        # markers every 100 steps, shifted per run, so that curves lying on top of each other
        # (the two runs stuck at chance level) stay visible
        for i, ((k, r), marker) in enumerate(zip(results.items(), "o.sv^<>Dpx")):
            style = "--" if k.startswith("large") else "-"
            color = None
            if k == "large init, SGD":      # the five large-init variants share one initialisation
                line, = left.semilogy(np.arange(1, depth + 1), r["norms"], style, marker=marker, ms=4,
                                      color="gray", label="large init (all five variants)")
            elif not k.startswith("large"):
                line, = left.semilogy(np.arange(1, depth + 1), r["norms"], style, marker=marker, ms=4, label=k)
                color = line.get_color()
            if r["diverged_at"] is None:
                right.semilogy(smoothed(r["losses"]), style, color=color, marker=marker, ms=4,
                               markevery=(10 * i, 100), label=k)
            else:   # a divergent run: its loss up to the first NaN, then a cross where it diverged
                losses = r["losses"][:r["diverged_at"] - 1]
                line, = right.semilogy(np.arange(1, len(losses) + 1), np.minimum(losses, top), style,
                                       marker=marker, label=f"{k} (diverged)")
                right.plot(r["diverged_at"], top, "X", ms=11, color=line.get_color())
                right.annotate(f"{k}: NaN at step {r['diverged_at']}", (r["diverged_at"], top),
                               textcoords="offset points", xytext=(10, -12 - 10 * k.count("L2")), fontsize=7,
                               color=line.get_color())
        right.axhline(np.log(10), color="gray", ls=":", label="chance (ln 10)")
        left.set_xlabel("layer l")
        left.set_ylabel("‖∂L/∂W_l‖ at initialisation")
        right.set_xlabel("step")
        right.set_ylabel("training loss (20-step mean; × = diverged)")
        right.set_ylim(1e-2, top * 1.5)
        left.legend(fontsize=7)
        right.legend(fontsize=6, ncol=2, loc="lower left")

# %% [markdown]
# What the table shows on this run:
#
# * **sigmoid**: the first layer's gradient is ~10⁻¹⁶ of the last layer's, in line with the
#   ≤ 48^(−19/2) bound; the loss never leaves chance level.
# * **ReLU alone** is not enough: with PyTorch's default init the factor is 1/6 per layer and
#   the gradient still vanishes. **ReLU + He** keeps all 20 layers' gradients the same size and
#   the network trains cleanly: > 90 % test accuracy, a smoothly falling loss, weights that
#   keep their scale. (At learning rate 0.02 the same net spikes and stalls — the "Try this".)
# * **Residual connections** and **BatchNorm** rescue even the *sigmoid* network: BatchNorm
#   reaches > 90 % accuracy; the residual net learns more slowly at this rate (its last
#   layers get ~100× the gradient of the first: the identity path carries the gradient back,
#   but the sigmoid branches still squash it) and leaves chance level far behind.
# * **Large init**: the gradient is ~10³ at every layer; SGD diverges to NaN within a few
#   steps (the crosses in the right plot). **Clipping** (max norm 5) bounds every update and
#   training proceeds without a spike. **Adam**'s update is
#   ≈ lr · m̂/√v̂, of size ≈ lr whatever the gradient's scale, so it survives too. **L2 alone**
#   does not save the first steps (the explosion happens before decay can act), but with
#   clipping it keeps the weights several times smaller than clipping alone — the source's
#   "constrain the weights so they cannot grow too large".

# %%
r = results
lesson.check(r["sigmoid (baseline)"]["norms"][0] / r["sigmoid (baseline)"]["norms"][-1] < 1e-10
             and r["sigmoid (baseline)"]["final"] > 2.2,
             "20 sigmoid layers: gradient at layer 1 < 1e-10 of layer 20's and the loss stays at chance level")
lesson.check(r["ReLU, default init"]["norms"][0] / r["ReLU, default init"]["norms"][-1] < 1e-4,
             "ReLU with the default init still vanishes (< 1e-4)")
for name in ("ReLU + He init", "sigmoid + BatchNorm"):
    ratio = r[name]["norms"][0] / r[name]["norms"][-1]
    lesson.check(0.1 < ratio < 10, f"{name}: layer-1 gradient within 10× of layer 20's (ratio {ratio:.2f})")
lesson.check(r["sigmoid + residual"]["norms"][0] > 1e6 * r["sigmoid (baseline)"]["norms"][0],
             "residual connections deliver > 1e6 times more gradient to layer 1 than the plain sigmoid net")
he = r["ReLU + He init"]
lesson.check(he["accuracy"] > 0.9 and he["final"] < 0.3 and he["spike"] < 0.5 and he["weight_norm"] < 1.5 * he["initial_norm"],
             f"ReLU + He trains healthily: test accuracy {he['accuracy']:.3f} > 0.9, loss {he['final']:.3f} < 0.3, "
             f"no loss spike (largest {he['spike']:.2f} < 0.5), ‖W‖ {he['initial_norm']:.0f} → {he['weight_norm']:.0f} "
             "(< 1.5× its start)")
lesson.check(r["sigmoid + residual"]["accuracy"] > 0.5 and r["sigmoid + residual"]["final"] < 2.0,
             f"residual connections make the 20-layer sigmoid net learn: accuracy "
             f"{r['sigmoid + residual']['accuracy']:.2f} (baseline {r['sigmoid (baseline)']['accuracy']:.2f}), "
             f"loss {r['sigmoid + residual']['final']:.2f} < 2.0")
lesson.check(r["sigmoid + BatchNorm"]["accuracy"] > 0.9 and r["sigmoid + BatchNorm"]["final"] < 0.5,
             f"BatchNorm trains the 20-layer sigmoid net: accuracy {r['sigmoid + BatchNorm']['accuracy']:.3f} > 0.9")
lesson.check(r["large init, SGD"]["norms"].min() > 100 and r["large init, SGD"]["diverged_at"] is not None,
             f"large init: every layer's gradient norm > 100 and plain SGD diverges to NaN "
             f"(at step {r['large init, SGD']['diverged_at']})")
clipped = r["large init + clipping"]
lesson.check(clipped["diverged_at"] is None and clipped["accuracy"] > 0.75 and clipped["spike"] < 0.5,
             f"gradient clipping makes the same net trainable: no NaN, accuracy {clipped['accuracy']:.2f} > 0.75, "
             f"no loss spike ({clipped['spike']:.2f})")
adam = r["large init + Adam"]
lesson.check(adam["diverged_at"] is None and adam["accuracy"] > 0.5,
             f"Adam's bounded step size survives the exploding gradients: no NaN, accuracy {adam['accuracy']:.2f} > 0.5")
lesson.check(r["large init + clipping + L2"]["weight_norm"] < 0.8 * r["large init + clipping"]["weight_norm"],
             "L2 (with clipping) ends with smaller weights than clipping alone (< 0.8× the norm)")

# %% [markdown]
# ## Try this
# * Train "ReLU + He init" with `learning_rate=0.02` and PyTorch's default biases
#   (`zero_bias=False`), or run `MINIDL_TUTORIAL_BREAK=he python 11_…py`: the loss spikes, the
#   weights double, the accuracy stalls near 30 % — and the "trains healthily" check fails.
# * Put the residual connections into the *large init* network: does the identity path make
#   the explosion worse or better? (Hint: the Jacobian is I + ∂F/∂a.)
# * Replace `nn.Sigmoid` by `nn.Tanh` (φ'(0) = 1 instead of ¼) and re-run the baseline.

# %%
lesson.done()

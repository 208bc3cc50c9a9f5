# %% [markdown]
# # 00 — Quickstart: an MLP with BatchNorm and Dropout on handwritten digits
#
# Source: the whole collection (`../shared/seeds/README.md`); this is the model the later
# tutorials take apart. It trains a 64-128-64-10 MLP on the 1,797 real 8×8 handwritten digits
# shipped inside minidl (UCI optical digits), with the training step every tutorial uses:
#
# ```python
# logits = model(x)
# loss = criterion(logits, y)
# optimizer.zero_grad()
# model.backward(criterion.backward())
# optimizer.step()
# ```
#
# There is no autograd: `model.backward` runs each layer's hand-derived backward in reverse
# order. Open `minidl/nn/linear.py`, `batchnorm.py` and `dropout.py` to read them.

# %%
import time

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson
from minidl.metrics import accuracy_score

lesson = Lesson("00_quickstart", source="all seeds (overview)")
minidl.manual_seed(0)

# %% [markdown]
# ## Data: 8×8 digits, pixel values scaled to [0, 1], a stratified 80/20 split

# %%
digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)
y = digits.target
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, seed=0)
print(f"train {X_train.shape}, test {X_test.shape}, backend: {minidl.backend.current()}")

# %% [markdown]
# ## Model: Linear → BatchNorm1d → ReLU → Dropout, twice, then a linear classifier

# %%
model = nn.Sequential(
    nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(128, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(64, 10),
)
print(model)
criterion = nn.CrossEntropyLoss()
optimizer = minidl.optim.SGD(model.parameters(), learning_rate=0.1, momentum=0.9)
loader = DataLoader(X_train, y_train, batch_size=32, shuffle=True, seed=0)

# %% [markdown]
# ## Training

# %%
epochs = lesson.pick(full=30, quick=8)
start = time.perf_counter()
rows = []
for epoch in range(1, epochs + 1):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        logits = model(xb)
        loss = criterion(logits, yb)
        optimizer.zero_grad()
        model.backward(criterion.backward())
        optimizer.step()
        total, count = total + loss * len(yb), count + len(yb)
    model.eval()
    test_acc = accuracy_score(y_test, model(X_test).argmax(axis=1))
    rows.append((epoch, total / count, test_acc))
    if epoch == 1 or epoch % 5 == 0 or epoch == epochs:
        print(f"epoch {epoch:3d}  train loss {total / count:.4f}  test accuracy {test_acc:.3f}")
elapsed = time.perf_counter() - start

# %%
lesson.table(["epoch", "train loss", "test accuracy"], rows[-3:], title="Last epochs")
with lesson.figure("00_quickstart_curves.png") as plt:
    if plt:
        e = [r[0] for r in rows]
        plt.plot(e, [r[1] for r in rows], label="train loss")
        plt.plot(e, [r[2] for r in rows], label="test accuracy")
        plt.xlabel("epoch")
        plt.legend()

# %% [markdown]
# ## Check: the model learned the digits

# %%
final_acc = rows[-1][2]
print(f"test accuracy {final_acc:.3f} after {epochs} epochs in {elapsed:.2f} s")
lesson.check(final_acc > (0.90 if not lesson.quick else 0.85),
             f"test accuracy {final_acc:.3f} > {'0.90' if not lesson.quick else '0.85'}")
# Dropout makes training-mode outputs random; eval mode is deterministic (BatchNorm uses its
# running statistics, Dropout is the identity).
model.train()
differ = not np.allclose(model(X_test[:8]), model(X_test[:8]))
model.eval()
same = np.array_equal(model(X_test[:8]), model(X_test[:8]))
lesson.check(differ and same, "train mode is stochastic (dropout), eval mode is deterministic")

# %% [markdown]
# ## Try this
# * Remove the two `BatchNorm1d` layers and train again with `learning_rate=0.1`: what happens?
# * Run with `MINIDL_BACKEND=numpy python tutorials/00_quickstart.py`: same numbers, slower.

# %%
lesson.done()

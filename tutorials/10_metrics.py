# %% [markdown]
# # 10 — Evaluation metrics: the confusion matrix, precision/recall/F1, macro vs micro, R²
#
# Source: `002_de0d3c5cb8b6c6e1.txt`, section "评估指标" (混淆矩阵, 二分类问题的评估指标,
# 多分类问题的评估指标: 宏平均 / 微平均, 回归问题).
#
# **Claim.** A single number can hide what a classifier does. Accuracy counts every *sample*
# equally, so on imbalanced data a model can score well while it almost never recognises the
# rare class. The confusion matrix shows where the errors go; precision and recall per class
# name them; the **macro** average (each *class* counts equally) exposes the rare class, the
# **micro** average (pool TP, FP, FN over classes first; each *sample* counts equally) is
# exactly the accuracy for single-label data. For regression, MSE/RMSE/MAE measure the size
# of the errors and R² compares the model with always predicting the mean: R² = 0 for that
# constant and R² < 0 for a model that is worse than it.
#
# Library code: `minidl/metrics/` — `confusion.py` (confusion_matrix),
# `classification.py` (accuracy, precision, recall, F-beta and their averages), `report.py`
# (classification_report), `regression.py` (MSE, RMSE, MAE, R²). Same names, arguments and
# numbers as `sklearn.metrics`.

# %%
import numpy as np

import minidl
from minidl import metrics, nn, optim
from minidl.data import DataLoader, load_digits, train_test_split
from minidl.lesson import Lesson

lesson = Lesson("10_metrics", source="002 评估指标")
minidl.manual_seed(0)

# %% [markdown]
# ## 1. The confusion matrix and the binary metrics
#
# The seed's table (rows: the truth, columns: the prediction, positive class first):
#
# |                 | predicted positive | predicted negative |
# |-----------------|--------------------|--------------------|
# | actual positive | TP                 | FN (Type II error) |
# | actual negative | FP (Type I error)  | TN                 |
#
# From the four counts (n = TP + FN + FP + TN):
#
#     accuracy  = (TP + TN) / n                   how many are right
#     precision = TP / (TP + FP)                  of those called positive, how many are
#     recall    = TP / (TP + FN)                  of the positives, how many were found
#     F1        = 2·P·R / (P + R) = 2TP / (2TP + FP + FN)
#
# The second form of F1 follows by substituting P and R and multiplying through by
# (TP + FP)(TP + FN)/TP: it needs no division by TP + FP, so F1 is defined even when nothing
# was predicted positive. scikit-learn (and minidl) compute F from the counts this way.
#
# `confusion_matrix` sorts the labels, so for labels {0, 1} it prints [[TN, FP], [FN, TP]];
# `labels=[1, 0]` gives the seed's positive-first layout. Ten e-mails, 1 = spam:

# %%
y_true = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
y_pred = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
print("confusion_matrix(y_true, y_pred, labels=[1, 0]) =\n", metrics.confusion_matrix(y_true, y_pred, labels=[1, 0]))
tn, fp, fn, tp = metrics.confusion_matrix(y_true, y_pred).ravel()
by_hand = {"accuracy": (tp + tn) / (tp + tn + fp + fn), "precision": tp / (tp + fp),
           "recall": tp / (tp + fn), "F1": 2 * tp / (2 * tp + fp + fn)}
by_minidl = {"accuracy": metrics.accuracy_score(y_true, y_pred), "precision": metrics.precision_score(y_true, y_pred),
             "recall": metrics.recall_score(y_true, y_pred), "F1": metrics.f1_score(y_true, y_pred)}
lesson.table(["metric", "formula on (TP, FP, FN, TN) = " + f"({tp}, {fp}, {fn}, {tn})", "minidl.metrics"],
             [(k, float(by_hand[k]), by_minidl[k]) for k in by_hand])
lesson.check((tp, fp, fn, tn) == (3, 2, 1, 4) and all(abs(by_hand[k] - by_minidl[k]) < 1e-12 for k in by_hand),
             "binary metrics equal the seed's formulas on the counts (TP, FP, FN, TN) = (3, 2, 1, 4)")

# %% [markdown]
# ## 2. Imbalanced classes: accuracy looks fine, the rare class is lost
#
# The handwritten digits (`load_digits`, 1797 8×8 images) are balanced, ~180 per class. We
# keep only ~10 % of the 9s, so "9" makes up 1.6 % of the data, split 60/40 with the class
# proportions kept (`stratify=y`), and train a softmax-regression classifier
# (`nn.Linear(64, 10)` + `CrossEntropyLoss`, SGD) for a few epochs.

# %%
X, y = load_digits(return_X_y=True, scale=True)
rare = 9
keep = (y != rare) | (np.random.default_rng(0).random(len(y)) < 0.10)
X, y = X[keep], y[keep]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, stratify=y, seed=0)
epochs = lesson.pick(full=30, quick=30)          # a few hundredths of a second per run


def train_and_predict(X_fit, y_fit, seed=0):
    minidl.manual_seed(seed)
    model = nn.Linear(64, 10)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), learning_rate=0.1)
    loader = DataLoader(X_fit, y_fit, batch_size=32, seed=seed)
    for _ in range(epochs):
        for xb, yb in loader:
            logits = model(xb)
            criterion(logits, yb)
            optimizer.zero_grad()
            model.backward(criterion.backward())
            optimizer.step()
    return model(X_test).argmax(axis=1)        # metrics take labels: argmax of the logits


pred = train_and_predict(X_train, y_train)
print(f"training samples per class: {np.bincount(y_train).tolist()}")
print(f"test samples per class:     {np.bincount(y_test).tolist()}\n")
print(metrics.classification_report(y_test, pred, digits=3, zero_division=0))

# %% [markdown]
# The classification report has one row per class and three averages. Read the "9" row: the
# model found only a small fraction of the 9s (recall), while the accuracy line looks healthy.
# Where did the 9s go? Row "9" of the confusion matrix (normalised by row, `normalize="true"`,
# so row i holds the recall of class i on the diagonal) says which digits they were taken for.

# %%
cm = metrics.confusion_matrix(y_test, pred)
recall_per_class = metrics.recall_score(y_test, pred, average=None, zero_division=0)
accuracy = metrics.accuracy_score(y_test, pred)
taken_for = {int(c): int(n) for c, n in enumerate(cm[rare]) if n and c != rare}
print(f"row {rare} of the confusion matrix: {cm[rare].tolist()}  -> the 9s were predicted as {taken_for}")
lesson.check(accuracy > 0.9 and recall_per_class[rare] < 0.5,
             f"accuracy looks fine ({accuracy:.3f}) while the rare class's recall is poor "
             f"({recall_per_class[rare]:.3f})")

# %% [markdown]
# ## 3. Macro, micro and weighted averages
#
# With K classes and per-class counts TP_c, FP_c, FN_c:
#
#     macro:    P = (1/K) Σ_c TP_c / (TP_c + FP_c)          every class weighs 1/K
#     weighted: P = Σ_c (n_c / n) · TP_c / (TP_c + FP_c)     class c weighs its support n_c / n
#     micro:    P = Σ_c TP_c / Σ_c (TP_c + FP_c)             pool the counts first
#
# Why micro = accuracy: with one label per sample, every error is a false positive for the
# predicted class *and* a false negative for the true class, so Σ FP_c = Σ FN_c = number of
# errors, and Σ TP_c = number of correct samples. Hence micro-P = micro-R = Σ TP / n =
# accuracy, and micro-F1 too. Weighted recall is also the accuracy:
# Σ_c (n_c/n)(TP_c/n_c) = Σ TP_c / n. Macro is the one that the rare class can pull down.

# %%
rows = []
averages = {}
for average in ("micro", "macro", "weighted"):
    p, r, f, _ = metrics.precision_recall_fscore_support(y_test, pred, average=average, zero_division=0)
    averages[average] = (p, r, f)
    rows.append((average, p, r, f))
rows.append(("accuracy", accuracy, accuracy, accuracy))
lesson.table(["average", "precision", "recall", "F1"], rows, title="Averages on the imbalanced test set")

# %%
micro_p, micro_r, micro_f = averages["micro"]
lesson.check(max(abs(micro_p - accuracy), abs(micro_r - accuracy), abs(micro_f - accuracy)) < 1e-12,
             "micro precision = micro recall = micro F1 = accuracy")
lesson.check(abs(averages["weighted"][1] - accuracy) < 1e-12, "weighted recall = accuracy")
lesson.check(averages["macro"][1] < accuracy - 0.03,
             f"macro recall ({averages['macro'][1]:.3f}) is pulled below accuracy by the rare class")

# %% [markdown]
# The seed's advice follows: macro when every class matters equally (the rare disease, the
# rare fraud), micro when the big classes should dominate. To see that macro reacts to what
# happens to the rare class and accuracy does not, train again with the 9s of the training
# set repeated 10 times (oversampling).

# %%
rare_rows = np.flatnonzero(y_train == rare)
X_over = np.concatenate([X_train] + [X_train[rare_rows]] * 9)
y_over = np.concatenate([y_train] + [y_train[rare_rows]] * 9)
pred_over = train_and_predict(X_over, y_over)
compare = []
for name, p_ in (("as is", pred), ("9s oversampled ×10", pred_over)):
    compare.append((name, metrics.accuracy_score(y_test, p_),
                    metrics.recall_score(y_test, p_, average=None, zero_division=0)[rare],
                    metrics.precision_score(y_test, p_, average=None, zero_division=0)[rare],
                    metrics.f1_score(y_test, p_, average="macro", zero_division=0),
                    metrics.f1_score(y_test, p_, average="micro", zero_division=0)))
lesson.table(["training set", "accuracy", "recall of 9", "precision of 9", "macro F1", "micro F1"], compare)
d_acc = compare[1][1] - compare[0][1]
d_macro = compare[1][4] - compare[0][4]
lesson.check(compare[1][2] > compare[0][2] + 0.3 and d_macro > 0.02 and abs(d_acc) < 0.02,
             f"oversampling: recall of 9 {compare[0][2]:.2f} -> {compare[1][2]:.2f}, macro F1 +{d_macro:.3f}, "
             f"accuracy changes by {d_acc:+.3f} only")

# %% [markdown]
# Finding more 9s cost precision: some other digits are now called 9 — the precision/recall
# trade-off, visible in the confusion matrices below (row-normalised: the diagonal is the
# recall of each class).

# %%
with lesson.figure("10_confusion_matrices.png", figsize=(10, 4.5)) as plt:
    if plt:
        for i, (title, p_) in enumerate((("as is", pred), ("9s oversampled ×10", pred_over))):
            ax = plt.subplot(1, 2, i + 1)
            m = metrics.confusion_matrix(y_test, p_, normalize="true")
            im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
            for (r_, c_), v in np.ndenumerate(m):
                if v >= 0.05:
                    ax.text(c_, r_, f"{v:.2f}"[1:] if v < 1 else "1", ha="center", va="center", fontsize=7,
                            color="white" if v > 0.5 else "black")
            ax.set_xticks(range(10))
            ax.set_yticks(range(10))
            ax.set_xlabel("predicted digit")
            ax.set_ylabel("true digit")
            ax.set_title(f"{title} (rows sum to 1)")
        plt.colorbar(im, ax=ax, fraction=0.046)

# %% [markdown]
# ## 4. Regression: MSE, RMSE, MAE and R²
#
# For targets y_i and predictions ŷ_i (i = 1…n), ȳ the mean of the targets:
#
#     MSE  = (1/n) Σ (y_i − ŷ_i)²            squared units, punishes large errors most
#     RMSE = √MSE                            the units of y
#     MAE  = (1/n) Σ |y_i − ŷ_i|              the units of y, robust to a few large errors
#     R²   = 1 − SS_res / SS_tot,   SS_res = Σ (y_i − ŷ_i)²,   SS_tot = Σ (y_i − ȳ)²
#
# SS_tot is the SS_res of the constant prediction ŷ = ȳ, so R² = 1 − MSE(model)/MSE(mean):
# 1 for a perfect model, exactly 0 for predicting the mean, and negative for any model whose
# errors are larger than that constant's — R² is not a square and has no lower bound.
#
# Data: y = 3x + 2 + noise (σ = 2), x ∈ [0, 10]. Models: `nn.Linear(1, 1)` trained with
# `MSELoss`; the mean of the targets; a bad model with slope 1 instead of 3; and the trained
# model with one prediction off by 50 (an outlier).

# %%
rng = np.random.default_rng(1)
n = lesson.pick(full=400, quick=200)
x = rng.uniform(0, 10, size=(n, 1))
y_reg = 3 * x[:, 0] + 2 + rng.normal(0, 2, size=n)

model = nn.Linear(1, 1)
criterion = nn.MSELoss()
optimizer = optim.SGD(model.parameters(), learning_rate=0.02, momentum=0.9)
for step in range(lesson.pick(full=600, quick=300)):
    criterion(model(x), y_reg[:, None])
    optimizer.zero_grad()
    model.backward(criterion.backward())
    optimizer.step()
fitted = model(x)[:, 0].astype(np.float64)
outlier = fitted.copy()
outlier[0] += 50.0
predictions = {"trained Linear(1, 1)": fitted, "mean of y": np.full(n, y_reg.mean()),
               "slope 1 (bad)": x[:, 0] + 2, "trained + one outlier": outlier}
reg_rows, r2 = [], {}
for name, y_hat in predictions.items():
    mse = metrics.mean_squared_error(y_reg, y_hat)
    r2[name] = metrics.r2_score(y_reg, y_hat)
    reg_rows.append((name, mse, metrics.root_mean_squared_error(y_reg, y_hat),
                     metrics.mean_absolute_error(y_reg, y_hat), r2[name]))
print(f"learned: y ≈ {float(model.weight.data[0, 0]):.3f}·x + {float(model.bias.data[0]):.3f}  (truth 3x + 2)")
lesson.table(["model", "MSE", "RMSE", "MAE", "R²"], reg_rows, title="Regression metrics")

# %% [markdown]
# The outlier row: one error of 50 adds 50²/n to the MSE but only 50/n to the MAE.
# Formulas against the library, on the trained model:

# %%
residual = y_reg - fitted
formula = {"MSE": np.mean(residual ** 2), "RMSE": np.sqrt(np.mean(residual ** 2)), "MAE": np.mean(np.abs(residual)),
           "R²": 1 - np.sum(residual ** 2) / np.sum((y_reg - y_reg.mean()) ** 2)}
library = dict(zip(["MSE", "RMSE", "MAE", "R²"], reg_rows[0][1:]))
lesson.table(["metric", "formula", "minidl.metrics"], [(k, float(formula[k]), library[k]) for k in formula])

# %%
with lesson.figure("10_regression.png", figsize=(6, 4)) as plt:
    if plt:
        order = np.argsort(x[:, 0])
        plt.scatter(x[:, 0], y_reg, s=6, alpha=0.4, label="data")
        for name in ("trained Linear(1, 1)", "mean of y", "slope 1 (bad)"):
            plt.plot(x[order, 0], predictions[name][order], label=f"{name}: R² = {r2[name]:.2f}")
        plt.xlabel("x")
        plt.ylabel("y")
        plt.legend(fontsize=8)
        plt.title("R² compares each model with the mean")

# %%
lesson.check(all(abs(formula[k] - library[k]) < 1e-9 * max(1.0, abs(formula[k])) for k in formula),
             "MSE, RMSE, MAE and R² equal their formulas")
lesson.check(abs(r2["mean of y"]) < 1e-12, f"predicting the mean gives R² = 0 ({r2['mean of y']:.1e})")
lesson.check(r2["trained Linear(1, 1)"] > 0.9, f"the trained model explains most variance: R² = "
             f"{r2['trained Linear(1, 1)']:.3f}")
lesson.check(r2["slope 1 (bad)"] < 0, f"a model worse than the mean has R² < 0 ({r2['slope 1 (bad)']:.2f})")
mse_jump = reg_rows[3][1] - reg_rows[0][1]
mae_jump = reg_rows[3][3] - reg_rows[0][3]
lesson.check(mse_jump > 10 * mae_jump, f"one outlier moves MSE by {mse_jump:.2f} but MAE only by {mae_jump:.3f}")

# %% [markdown]
# ## Try this
# * Set `rare = 3` or keep 30 % instead of 10 % of the rare class: how do the macro and micro
#   averages move? Which one would you report for a fraud detector?
# * Compare `metrics.fbeta_score(y_test, pred, beta=2, average="macro")` (recall counts more)
#   with `beta=0.5` (precision counts more) before and after oversampling.
# * Fit the regression on `x` in [0, 1] only and evaluate on [0, 10]: R² can go far below 0.

# %%
lesson.done()

"""minidl.train.fit / evaluate with small self-made modules (a linear map, MSE and softmax
cross-entropy written here) and a plain gradient-descent optimizer, so the loop is tested on
its own; expected numbers come from the same steps written out by hand in the test."""
import math

import numpy as np
import pytest

from minidl.data import DataLoader
from minidl.metrics import accuracy_score
from minidl.nn import Module, Parameter
from minidl.optim import lr
from minidl.train import History, evaluate, fit


class TinyLinear(Module):
    """y = x W^T + b; records the mode of every forward call."""

    def __init__(self, n_in, n_out, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.weight = Parameter(rng.normal(0, 0.1, (n_out, n_in)))
        self.bias = Parameter(np.zeros(n_out))
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        self.x = np.asarray(x, dtype=np.float64)
        return self.x @ self.weight.data.T + self.bias.data

    def backward(self, grad_output):
        self.weight.accumulate_grad(grad_output.T @ self.x)
        self.bias.accumulate_grad(grad_output.sum(axis=0))
        return grad_output @ self.weight.data


class MSE(Module):
    def forward(self, pred, target):
        self.diff = pred - np.asarray(target, dtype=np.float64).reshape(pred.shape)
        return float(np.mean(self.diff ** 2))

    def backward(self, grad_output=None):
        return 2 * self.diff / self.diff.size


class SoftmaxCE(Module):
    def forward(self, logits, labels):
        z = logits - logits.max(axis=1, keepdims=True)
        self.p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        self.labels = np.asarray(labels)
        return float(-np.mean(np.log(self.p[np.arange(len(labels)), self.labels])))

    def backward(self, grad_output=None):
        g = self.p.copy()
        g[np.arange(len(self.labels)), self.labels] -= 1
        return g / len(self.labels)


class PlainGD:
    """w -= lr * grad, reading the rate from a scheduler when given one."""

    def __init__(self, params, learning_rate):
        self.params, self.learning_rate = list(params), learning_rate
        self.steps = 0

    def get_lr(self):
        return self.learning_rate() if isinstance(self.learning_rate, lr.LRScheduler) else self.learning_rate

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()

    def step(self):
        rate = self.get_lr()
        for p in self.params:
            p.data -= rate * p.grad
        self.steps += 1


def regression_data(n=64, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    return X, y


def blobs(n=120, seed=2):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 2)) * 0.3 + np.array([[0, 3], [3, 0], [-3, -3]])[y]
    return X, y.astype(np.int64)


def test_fit_equals_the_hand_written_training_step():
    X, y = regression_data()
    model_a, model_b = TinyLinear(3, 1), TinyLinear(3, 1)
    opt_a, opt_b = PlainGD(model_a.parameters(), 0.05), PlainGD(model_b.parameters(), 0.05)
    history = fit(model_a, MSE(), opt_a, DataLoader(X, y, batch_size=16, shuffle=False), epochs=3, progress=False)
    criterion, losses = MSE(), []
    for _ in range(3):
        epoch_losses = []
        for start in range(0, 64, 16):
            xb, yb = X[start:start + 16], y[start:start + 16]
            logits = model_b(xb)
            loss = criterion(logits, yb)
            opt_b.zero_grad()
            model_b.backward(criterion.backward())
            opt_b.step()
            epoch_losses.append(loss)
        losses.append(np.mean(epoch_losses))
    np.testing.assert_array_equal(model_a.weight.data, model_b.weight.data)
    np.testing.assert_array_equal(model_a.bias.data, model_b.bias.data)
    np.testing.assert_allclose(history.train_loss, losses, rtol=1e-12)
    assert history.epochs == 3 and history.steps_per_epoch == 4 and len(history.lr) == 12
    assert history.train_loss[-1] < history.train_loss[0]


def test_train_loss_is_weighted_by_batch_size():
    X, y = regression_data(n=10)
    model = TinyLinear(3, 1)
    h = fit(model, MSE(), PlainGD(model.parameters(), 0.0), DataLoader(X, y, batch_size=4, shuffle=False), 1,
            progress=False)
    pred = X @ model.weight.data.T + model.bias.data           # rate 0: the model never changes
    assert h.train_loss[0] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-12)


@pytest.mark.parametrize("interval", ["epoch", "step"])
def test_scheduler_interval_and_per_step_lr(interval):
    X, y = regression_data(n=30)
    model = TinyLinear(3, 1)
    scheduler = lr.StepDecay(0.1, step_size=1, gamma=0.5)
    h = fit(model, MSE(), PlainGD(model.parameters(), scheduler), DataLoader(X, y, batch_size=10), epochs=3,
            scheduler=scheduler, scheduler_interval=interval, progress=False)
    if interval == "epoch":
        expected = [0.1 * 0.5 ** e for e in range(3) for _ in range(3)]
        assert scheduler.last_epoch == 3
    else:
        expected = [0.1 * 0.5 ** k for k in range(9)]
        assert scheduler.last_epoch == 9
    np.testing.assert_allclose(h.lr, expected, rtol=1e-12)


class RecordingPlateau(lr.ReduceOnPlateau):
    def step(self, metrics=None, epoch=None):
        if not getattr(self, "_constructing", False):
            self.seen = getattr(self, "seen", []) + [metrics]
        super().step(metrics, epoch)


@pytest.mark.parametrize("with_val", [True, False])
def test_reduce_on_plateau_gets_validation_loss(with_val):
    X, y = regression_data(n=40)
    model = TinyLinear(3, 1)
    scheduler = RecordingPlateau(0.05, patience=0)
    h = fit(model, MSE(), PlainGD(model.parameters(), scheduler), DataLoader(X, y, batch_size=10), 4,
            scheduler=scheduler, val_loader=(X[:20], y[:20]) if with_val else None, progress=False)
    assert scheduler.seen == (h.val_loss if with_val else h.train_loss)


def test_nan_loss_raises_naming_epoch_and_step():
    class BlowsUp(TinyLinear):
        def forward(self, x):
            out = super().forward(x)
            self.calls = getattr(self, "calls", 0) + 1
            return out * np.nan if self.calls == 7 else out    # epoch 2, step 3 with 4 steps/epoch

    X, y = regression_data(n=40)
    model = BlowsUp(3, 1)
    loader = DataLoader(X, y, batch_size=10, shuffle=False)
    with pytest.raises(FloatingPointError, match=r"epoch 2, step 3"):
        fit(model, MSE(), PlainGD(model.parameters(), 0.01), loader, 3, progress=False)
    model = BlowsUp(3, 1)
    h = fit(model, MSE(), PlainGD(model.parameters(), 0.0), loader, 3, progress=False, check_finite=False)
    assert math.isnan(h.train_loss[1])


def test_modes_train_for_steps_eval_for_validation_and_restored():
    X, y = regression_data(n=20)
    model = TinyLinear(3, 1)
    model.eval()
    fit(model, MSE(), PlainGD(model.parameters(), 0.01), DataLoader(X, y, batch_size=10), 2,
        val_loader=DataLoader(X, y, batch_size=20), progress=False)
    assert model.modes == [True, True, False, True, True, False]
    assert model.training is False


def test_metrics_train_and_val():
    X, y = blobs()
    model = TinyLinear(2, 3)
    h = fit(model, SoftmaxCE(), PlainGD(model.parameters(), 0.5), DataLoader(X, y, batch_size=20, seed=0), 5,
            val_loader=(X, y), metrics=[accuracy_score, ("error", lambda t, p: float(np.mean(t != p)))],
            progress=False)
    assert set(h.metrics) == {"train_accuracy", "val_accuracy", "train_error", "val_error"}
    predicted = (X @ model.weight.data.T + model.bias.data).argmax(axis=1)
    assert h["val_accuracy"][-1] == pytest.approx(np.mean(predicted == y))
    assert h["val_error"][-1] == pytest.approx(1 - h["val_accuracy"][-1])
    assert h["val_accuracy"][-1] > 0.9
    assert len(h["train_accuracy"]) == 5


def test_early_stopping_with_a_frozen_model():
    X, y = regression_data(n=20)
    model = TinyLinear(3, 1)
    h = fit(model, MSE(), PlainGD(model.parameters(), 0.0), DataLoader(X, y, batch_size=10, shuffle=False), 50,
            early_stopping=3, progress=False)
    # epoch 1 sets the best; epochs 2, 3, 4 do not improve on it -> stop after 4 epochs
    assert h.epochs == 4 and h.stopped_early and h.best_epoch == 0


def test_progress_plain_lines(monkeypatch, capsys):
    import minidl.train as train

    monkeypatch.setattr(train, "progress_bar", lambda total, desc=None, leave=False: None)
    X, y = regression_data(n=20)
    model = TinyLinear(3, 1)
    fit(model, MSE(), PlainGD(model.parameters(), 0.01), DataLoader(X, y, batch_size=10), 3, val_loader=(X, y))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3") and "val_loss" in lines[2]
    fit(model, MSE(), PlainGD(model.parameters(), 0.01), DataLoader(X, y, batch_size=10), 3, progress=False)
    assert capsys.readouterr().out == ""


def test_evaluate_mean_over_samples_and_mode_restored():
    X, y = regression_data(n=25)
    model = TinyLinear(3, 1)
    result = evaluate(model, MSE(), DataLoader(X, y, batch_size=10, shuffle=False))
    pred = X @ model.weight.data.T + model.bias.data
    assert result == {"loss": pytest.approx(np.mean((pred - y) ** 2), rel=1e-12)}
    assert model.training and model.modes == [False] * 3
    Xb, yb = blobs(30)
    clf = TinyLinear(2, 3)
    out = evaluate(clf, None, (Xb, yb), metrics={"acc": accuracy_score})
    assert out == {"acc": pytest.approx(np.mean((Xb @ clf.weight.data.T).argmax(1) == yb))}


def test_history_access():
    h = History()
    h.train_loss.append(1.0)
    h.metrics["val_accuracy"] = [0.5]
    assert h["train_loss"] == [1.0] and h["val_accuracy"] == [0.5] and h.epochs == 1
    with pytest.raises(KeyError, match="available"):
        h["accuracy"]
    assert h.as_dict()["val_accuracy"] == [0.5]


@pytest.mark.parametrize("kwargs,words", [
    (dict(epochs=-1), "epochs"), (dict(scheduler_interval="batch"), "scheduler_interval"),
    (dict(early_stopping=0), "early_stopping"), (dict(metrics=["accuracy"]), "callable"),
])
def test_validation(kwargs, words):
    X, y = regression_data(n=20)
    model = TinyLinear(3, 1)
    args = dict(epochs=1, progress=False)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError)) as info:
        fit(model, MSE(), PlainGD(model.parameters(), 0.01), DataLoader(X, y, batch_size=10), **args)
    assert words in str(info.value)


def test_real_sgd_with_scheduler_and_unbound_scheduler_warns():
    from minidl.optim import SGD

    X, y = regression_data(n=20)
    model = TinyLinear(3, 1)
    scheduler = lr.StepDecay(0.05, step_size=1, gamma=0.5)
    h = fit(model, MSE(), SGD(model.parameters(), learning_rate=scheduler), DataLoader(X, y, batch_size=10), 3,
            scheduler=scheduler, progress=False)
    np.testing.assert_allclose(h.lr, [0.05] * 2 + [0.025] * 2 + [0.0125] * 2)
    with pytest.warns(UserWarning, match="does not read it"):
        fit(model, MSE(), SGD(model.parameters(), learning_rate=0.01), DataLoader(X, y, batch_size=10), 1,
            scheduler=lr.StepDecay(0.05, 1), progress=False)

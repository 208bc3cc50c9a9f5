"""Usage contracts every layer keeps: one backward per forward (a second one is an error
naming the layer), one model per thread (crossing threads is detected, never silently
wrong), empty batches work or raise an error naming the layer, load_state_dict is all or
nothing."""
import threading

import numpy as np
import pytest

from minidl import nn

RNG = np.random.default_rng(0)

# (label the errors must contain, a factory, an input); every layer with a backward
LAYERS = [
    ("Linear(3→2)", lambda: nn.Linear(3, 2), RNG.standard_normal((4, 3))),
    ("ReLU()", nn.ReLU, RNG.standard_normal((4, 3))),
    ("LeakyReLU(negative_slope=0.01)", nn.LeakyReLU, RNG.standard_normal((4, 3))),
    ("Sigmoid()", nn.Sigmoid, RNG.standard_normal((4, 3))),
    ("Tanh()", nn.Tanh, RNG.standard_normal((4, 3))),
    ("GELU()", nn.GELU, RNG.standard_normal((4, 3))),
    ("Softmax(dim=-1)", nn.Softmax, RNG.standard_normal((4, 3))),
    ("Dropout(p=0.5)", lambda: nn.Dropout(0.5, rng=np.random.default_rng(1)), RNG.standard_normal((4, 3))),
    ("BatchNorm1d(3)", lambda: nn.BatchNorm1d(3), RNG.standard_normal((4, 3))),
    ("BatchNorm2d(2)", lambda: nn.BatchNorm2d(2), RNG.standard_normal((4, 2, 3, 3))),
    ("LayerNorm(3)", lambda: nn.LayerNorm(3), RNG.standard_normal((4, 3))),
    ("Conv2d(2→3, k=2)", lambda: nn.Conv2d(2, 3, 2), RNG.standard_normal((4, 2, 5, 5))),
    ("MaxPool2d(k=2)", lambda: nn.MaxPool2d(2), RNG.standard_normal((4, 2, 4, 4))),
    ("AvgPool2d(k=2)", lambda: nn.AvgPool2d(2), RNG.standard_normal((4, 2, 4, 4))),
    ("Flatten(start_dim=1, end_dim=-1)", nn.Flatten, RNG.standard_normal((4, 2, 3))),
    ("Residual(Linear)", lambda: nn.Residual(nn.Linear(3, 3)), RNG.standard_normal((4, 3))),
    ("RNN(3→5)", lambda: nn.RNN(3, 5), RNG.standard_normal((4, 6, 3))),
    ("MultiHeadAttention(E=4, heads=2)", lambda: nn.MultiHeadAttention(4, 2), RNG.standard_normal((2, 3, 4))),
]
IDS = [label for label, _, _ in LAYERS]


def _forward(layer, x):
    y = layer(x)
    return np.ones_like(y)


@pytest.mark.parametrize("label, make, x", LAYERS, ids=IDS)
def test_backward_twice_after_one_forward_names_the_layer(label, make, x):
    layer = make()
    with pytest.raises(RuntimeError, match=rf"^{_escape(label)}: backward\(\) called before forward\(\)"):
        layer.backward(np.ones(1))
    dy = _forward(layer, x)
    layer.zero_grad()
    layer.backward(dy)
    grads = [p.grad.copy() for p in layer.parameters()]
    with pytest.raises(RuntimeError, match=rf"^{_escape(label)}: backward\(\) called twice after one "
                                           r"forward\(\); call forward\(\) again"):
        layer.backward(dy)
    for p, g in zip(layer.parameters(), grads):       # the failed call added nothing
        np.testing.assert_array_equal(p.grad, g)
    layer(x)                                          # a new forward makes backward legal again
    layer.backward(dy)


@pytest.mark.parametrize("label, make, x", LAYERS, ids=IDS)
def test_backward_in_another_thread_than_its_forward_is_an_error(label, make, x):
    layer = make()
    dy = _forward(layer, x)
    errors = []

    def other_thread():
        try:
            layer.backward(dy)
        except RuntimeError as exc:
            errors.append(str(exc))

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert len(errors) == 1 and errors[0].startswith(f"{label}: backward() in another thread")
    assert "copy.deepcopy(model)" in errors[0]
    layer(x)
    layer.backward(dy)                                 # the owning thread still can


def test_forward_of_another_thread_in_between_is_detected():
    # A: forward, B: forward (replaces what A saved), A: backward -> error, not B's gradient.
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    xa, xb = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    model(xa)
    worker = threading.Thread(target=model, args=(xb,))
    worker.start()
    worker.join()
    with pytest.raises(RuntimeError, match=r"^Linear\(4→2\): backward\(\) in another thread"):
        model.backward(np.ones((5, 2)))


def test_two_threads_training_one_model_get_errors_never_wrong_results():
    """The issue's reproduction: 2 threads × 200 forward/backward calls on one model gave
    3–15 silently wrong input gradients. Now every call returns the right dL/dx or raises."""
    model = nn.Sequential(nn.Linear(32, 64, dtype=np.float64), nn.LayerNorm(64, dtype=np.float64),
                          nn.Tanh(), nn.Linear(64, 8, dtype=np.float64))
    inputs = [RNG.standard_normal((16, 32)) for _ in range(2)]
    dys = [RNG.standard_normal((16, 8)) for _ in range(2)]
    expected = []
    for x, dy in zip(inputs, dys):
        model(x)
        expected.append(model.backward(dy))
    counts = [{"right": 0, "wrong": 0, "detected": 0} for _ in range(2)]
    start = threading.Barrier(2)

    def train(i):
        start.wait()
        for _ in range(200):
            try:
                model(inputs[i])
                dx = model.backward(dys[i])
            except RuntimeError:
                counts[i]["detected"] += 1
                continue
            counts[i]["right" if np.allclose(dx, expected[i], rtol=1e-12, atol=1e-12) else "wrong"] += 1

    threads = [threading.Thread(target=train, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c["wrong"] for c in counts] == [0, 0], counts
    assert sum(c["right"] + c["detected"] for c in counts) == 400


def test_inference_from_several_threads_gives_each_its_own_result():
    # Forward-only use is fine: no forward keeps state that another call overwrites.
    model = nn.Sequential(nn.Linear(16, 32), nn.LayerNorm(32), nn.Dropout(0.5), nn.GELU(),
                          nn.Linear(32, 4)).eval()
    inputs = [RNG.standard_normal((64, 16)) for _ in range(4)]
    expected = [model(x) for x in inputs]
    wrong = []

    def infer(i):
        for _ in range(100):
            if not np.array_equal(model(inputs[i]), expected[i]):
                wrong.append(i)

    threads = [threading.Thread(target=infer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_two_backward_passes_writing_one_gradient_at_once_are_detected():
    p = nn.Parameter(np.zeros(3))
    p.zero_grad()
    p.grad_buffer()                                  # backward 1 is writing ...
    with pytest.raises(RuntimeError, match="two backward passes are writing this gradient at once"):
        p.grad_buffer()                              # ... when backward 2 asks
    p.zero_grad()                                    # a new step starts clean
    buffer = p.grad_buffer()
    buffer[...] = 1.0
    p.accumulate_grad(buffer)
    np.testing.assert_array_equal(p.grad, np.ones(3))


# -- empty batches ----------------------------------------------------------------------------
def test_batchnorm_on_an_empty_batch_is_empty_and_changes_no_statistic():
    for bn, shape in ((nn.BatchNorm1d(3), (0, 3)), (nn.BatchNorm1d(3), (0, 3, 5)),
                      (nn.BatchNorm2d(3), (0, 3, 2, 2)), (nn.BatchNorm1d(3, track_running_stats=False), (0, 3))):
        before = {k: np.copy(v) for k, v in bn.state_dict().items()}
        y = bn(np.zeros(shape))
        assert y.shape == shape
        bn.zero_grad()
        assert bn.backward(np.zeros(shape)).shape == shape
        for k, v in bn.state_dict().items():
            np.testing.assert_array_equal(v, before[k])
        for p in bn.parameters():
            np.testing.assert_array_equal(p.grad, 0)
        bn.eval()
        assert bn(np.zeros(shape)).shape == shape


@pytest.mark.parametrize("label, make, x", LAYERS, ids=IDS)
def test_every_layer_on_an_empty_batch_works_or_names_itself(label, make, x):
    layer = make()
    empty = np.zeros((0,) + x.shape[1:])
    try:
        y = layer(empty)
    except ValueError as exc:
        assert str(exc).startswith(label), exc
        return
    assert y.shape[0] == 0
    layer.zero_grad()
    assert layer.backward(np.zeros_like(y)).shape == empty.shape
    for p in layer.parameters():
        np.testing.assert_array_equal(p.grad, 0)


@pytest.mark.parametrize("criterion, pred, target", [
    (nn.CrossEntropyLoss(), np.zeros((0, 4)), np.zeros(0, dtype=np.int64)),
    (nn.MSELoss(), np.zeros((0, 2)), np.zeros((0, 2))),
    (nn.BCEWithLogitsLoss(), np.zeros(0), np.zeros(0)),
])
def test_an_empty_batch_loss_is_an_error_not_nan(criterion, pred, target):
    name = type(criterion).__name__
    with pytest.raises(ValueError, match=rf"^{name}: empty input .* the mean over no elements is undefined"):
        criterion(pred, target)


def test_functional_cross_entropy_on_an_empty_batch_is_an_error():
    with pytest.raises(ValueError, match="^cross_entropy: empty input"):
        nn.functional.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))


# -- load_state_dict --------------------------------------------------------------------------
@pytest.mark.parametrize("bad_bias", [np.array(["a", "b"]), np.zeros(3), np.array([1 + 2j, 0j]), [[1.0, 2.0]]])
def test_load_state_dict_is_all_or_nothing(bad_bias):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = {k: v + 1 if v.dtype.kind == "f" else v for k, v in before.items()}
    state["0.bias"] = bad_bias                 # the weight comes first, and must stay untouched
    with pytest.raises(ValueError, match=r"0\.bias.*nothing was changed|nothing was changed.*0\.bias"):
        model.load_state_dict(state)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def _escape(text):
    import re
    return re.escape(text)

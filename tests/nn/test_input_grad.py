"""input_grad=False (issue 15): skipping dL/dx of the first layer changes no parameter
gradient, returns None, leaves the flag as it was, and fit uses it."""
import numpy as np
import pytest

import minidl
from minidl import nn


def models(rng):
    yield "mlp", (lambda: nn.Sequential(nn.Linear(6, 5, rng=np.random.default_rng(1)), nn.ReLU(),
                                         nn.Linear(5, 3, rng=np.random.default_rng(2)))), rng.standard_normal((4, 6))
    yield "rnn", (lambda: nn.Sequential(nn.RNN(6, 5, rng=np.random.default_rng(1)))), rng.standard_normal((4, 7, 6))
    yield "attention", (lambda: nn.Sequential(nn.MultiHeadAttention(6, 2, rng=np.random.default_rng(1)))), \
        rng.standard_normal((2, 5, 6))


@pytest.mark.parametrize("which", ["mlp", "rnn", "attention"])
def test_skipping_input_grad_keeps_parameter_gradients(backend_name, which):
    rng = np.random.default_rng(0)
    make, x = next((m, x) for name, m, x in models(rng) if name == which)
    grads = []
    for input_grad in (True, False):
        model = make().double()
        y = model(x)
        model.zero_grad()
        result = model.backward(np.ones_like(y), input_grad=input_grad)
        if input_grad:
            assert result.shape == x.shape
        else:
            assert result is None
        grads.append([p.grad.copy() for p in model.parameters()])
    for full, skipped in zip(*grads):
        np.testing.assert_allclose(skipped, full, rtol=1e-12, atol=1e-12)


def test_module_flag_and_restoring_it(backend_name):
    layer = nn.Linear(3, 2, rng=np.random.default_rng(0))
    layer(np.ones((4, 3)))
    layer.input_grad = False
    assert layer.backward(np.ones((4, 2), layer.weight.dtype)) is None
    layer.input_grad = True
    model = nn.Sequential(layer, nn.ReLU())
    model(np.ones((4, 3)))
    assert model.backward(np.ones((4, 2), layer.weight.dtype), input_grad=False) is None
    assert layer.input_grad is True      # only that one call skipped it
    model(np.ones((4, 3)))
    assert model.backward(np.ones((4, 2), layer.weight.dtype)).shape == (4, 3)


def test_fit_asks_for_no_input_gradient():
    seen = []

    class Spy(nn.Linear):
        def backward(self, grad_output):
            seen.append(self.input_grad)
            return super().backward(grad_output)

    model = nn.Sequential(Spy(4, 3, rng=np.random.default_rng(0)))
    rng = np.random.default_rng(1)
    loader = [(rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(3)]
    minidl.train.fit(model, nn.CrossEntropyLoss(), minidl.optim.SGD(model.parameters(), learning_rate=0.1),
                     loader, epochs=1, progress=False)
    assert seen == [False, False, False]
    assert model[0].input_grad is True

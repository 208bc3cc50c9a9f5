"""A whole training run gives the same losses and weights on both backends.

The quickstart's model (Linear → BatchNorm1d → ReLU → Dropout, twice, Linear; CE; SGD with
momentum) trained for 40 steps on the digits from one seed: every kernel is exercised, the
dropout masks must be identical (same Generator stream), and the fused kernels may differ
from their twins only by float rounding.
"""
import numpy as np
import pytest

import minidl
from minidl import backend, nn
from minidl.data import DataLoader, load_digits

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}   # SPEC: backends agree to float rounding


def train(dtype, steps=40):
    minidl.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 48, dtype=dtype), nn.BatchNorm1d(48, dtype=dtype), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(48, 32, dtype=dtype), nn.BatchNorm1d(32, dtype=dtype), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(32, 10, dtype=dtype),
    )
    criterion = nn.CrossEntropyLoss()
    optimizer = minidl.optim.SGD(model.parameters(), learning_rate=0.05, momentum=0.9, weight_decay=1e-4)
    digits = load_digits(scale=True, dtype=dtype)
    losses = []
    loader = DataLoader(digits.data, digits.target, batch_size=32, seed=1)
    for xb, yb in loader:
        losses.append(criterion(model(xb), yb))
        optimizer.zero_grad()
        model.backward(criterion.backward())
        optimizer.step()
        if len(losses) == steps:
            break
    model.eval()
    eval_logits = model(digits.data[:64])
    return np.array(losses), model.state_dict(), eval_logits, minidl.default_rng().bit_generator.state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_losses_weights_and_random_stream_on_both_backends(dtype):
    if "cython" not in backend.available():
        pytest.skip("compiled backend not built")
    with backend.using("cython"):
        losses_c, state_c, logits_c, rng_c = train(dtype)
    with backend.using("numpy"):
        losses_n, state_n, logits_n, rng_n = train(dtype)
    tol = TOLERANCE[dtype]
    assert losses_c[-1] < losses_c[0] * 0.5          # it trained
    np.testing.assert_allclose(losses_c, losses_n, rtol=tol)
    for key in state_n:
        np.testing.assert_allclose(state_c[key], state_n[key], rtol=tol, atol=tol, err_msg=key)
    np.testing.assert_allclose(logits_c, logits_n, rtol=tol, atol=tol)
    assert rng_c == rng_n                              # the same number of draws, the same masks

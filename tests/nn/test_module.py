"""Module / Parameter / Sequential bookkeeping (independent of any concrete layer)."""
import copy

import numpy as np
import pytest

import minidl
from minidl.nn.container import Sequential
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class Affine(Module):
    """y = x * scale + shift (elementwise), a tiny layer to exercise the base class."""

    def __init__(self, n):
        super().__init__()
        self.scale = Parameter(np.ones(n))
        self.shift = Parameter(np.zeros(n))
        self.register_buffer("calls", np.zeros((), dtype=np.int64))
        self._x = None

    def forward(self, x):
        self._x = x
        self.calls = self.calls + 1
        return x * self.scale.data + self.shift.data

    def backward(self, g):
        self.scale.accumulate_grad((g * self._x).sum(0))
        self.shift.accumulate_grad(g.sum(0))
        return g * self.scale.data


class Net(Module):
    def __init__(self):
        super().__init__()
        self.body = Sequential(Affine(3), Affine(3))
        self.head = Affine(3)

    def forward(self, x):
        return self.head(self.body(x))

    def backward(self, g):
        return self.body.backward(self.head.backward(g))


def test_parameter_defaults_and_dtype():
    p = Parameter([[1, 2], [3, 4]])
    assert p.dtype == minidl.get_default_dtype()
    assert p.grad.shape == (2, 2) and not p.grad.any()
    assert Parameter(np.ones(3, dtype=np.float64)).dtype == np.float64
    with pytest.raises(TypeError):
        Parameter(np.ones(3), dtype=np.int32)


def test_lazy_zero_grad_is_observably_eager():
    p = Parameter(np.ones(4, dtype=np.float64))
    p.accumulate_grad(np.full(4, 2.0))
    p.accumulate_grad(np.full(4, 3.0))
    np.testing.assert_array_equal(p.grad, np.full(4, 5.0))
    p.zero_grad()
    np.testing.assert_array_equal(p.grad, np.zeros(4))          # reading sees zeros
    p.accumulate_grad(np.full(4, 1.0))
    np.testing.assert_array_equal(p.grad, np.ones(4))
    p.zero_grad()
    buf = p.grad_buffer()                 # right after zero_grad: the gradient itself
    buf[:] = 7.0                          # a kernel overwrites it ...
    p.accumulate_grad(buf)                # ... and nothing is left to add
    np.testing.assert_array_equal(p.grad, np.full(4, 7.0))
    buf = p.grad_buffer()                 # now a scratch array, added on accumulate_grad
    assert buf is not p.grad
    buf[:] = 2.0
    p.accumulate_grad(buf)
    np.testing.assert_array_equal(p.grad, np.full(4, 9.0))


def test_grad_target_overwrites_after_zero_grad_and_adds_otherwise():
    p = Parameter(np.ones(4, dtype=np.float64))
    p.zero_grad()
    grad, add = p.grad_target()            # right after zero_grad: overwrite the gradient itself
    assert add is False and grad is p._grad
    grad[:] = 3.0                          # (a kernel writes its term ...)
    grad, add = p.grad_target()            # ... a second term is added to the first
    assert add is True
    grad += 2.0
    np.testing.assert_array_equal(p.grad, np.full(4, 5.0))
    p.data = np.ones((2, 2))               # new shape: the gradient starts again from zero
    grad, add = p.grad_target()
    assert add is False and grad.shape == (2, 2)


def test_grad_buffer_that_was_never_handed_back_leaves_the_gradient_zero():
    # A kernel that raised after grad_buffer() must not leave garbage behind.
    p = Parameter(np.ones(3, dtype=np.float64))
    p.zero_grad()
    p.grad_buffer()[:] = np.nan
    np.testing.assert_array_equal(p.grad, np.zeros(3))


def test_grad_setter_checks_shape():
    p = Parameter(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        p.grad = np.ones(3)


def test_named_parameters_follow_pytorch_naming():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["body.0.scale", "body.0.shift", "body.1.scale", "body.1.shift", "head.scale", "head.shift"]
    assert len(list(net.parameters())) == 6
    assert [n for n, _ in net.named_children()] == ["body", "head"]
    assert len(list(net.modules())) == 5


def test_shared_parameter_is_listed_once():
    a = Affine(2)
    seq = Sequential(a, a)
    assert len(list(seq.parameters())) == 2


def test_backward_accumulates_and_zero_grad_clears():
    net = Net().double()
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    g = np.ones((2, 3))
    net(x)
    net.backward(g)
    first = net.head.scale.grad.copy()
    net(x)
    net.backward(g)
    np.testing.assert_allclose(net.head.scale.grad, 2 * first)
    net.zero_grad()
    assert all(not p.grad.any() for p in net.parameters())


def test_train_eval_propagates():
    net = Net()
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_roundtrip_and_copies():
    net = Net()
    for i, p in enumerate(net.parameters()):
        p.data[...] = i
    sd = net.state_dict()
    assert list(sd) == ["body.0.scale", "body.0.shift", "body.0.calls", "body.1.scale", "body.1.shift",
                        "body.1.calls", "head.scale", "head.shift", "head.calls"]
    net.head.scale.data[...] = 99
    assert sd["head.scale"][0] == 4          # a copy, not a view
    other = Net()
    result = other.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for name, p in other.named_parameters():
        np.testing.assert_array_equal(p.data, sd[name])


def test_load_state_dict_rejects_mismatch():
    net = Net()
    sd = net.state_dict()
    sd["head.scale"] = np.ones(5)
    with pytest.raises(ValueError, match=r"head.scale: expected shape \(3,\), got \(5,\)"):
        net.load_state_dict(sd)
    sd = net.state_dict()
    sd["extra"] = np.ones(1)
    with pytest.raises(KeyError, match="unexpected keys"):
        net.load_state_dict(sd)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert unexpected == ["extra"] and missing == []


def test_apply_visits_children_before_parent():
    order = []
    Net().apply(lambda m: order.append(type(m).__name__))
    assert order == ["Affine", "Affine", "Sequential", "Affine", "Net"]


def test_to_double_casts_params_and_grads():
    net = Net()
    net.double()
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())


def test_assigning_before_init_is_a_clear_error():
    class Broken(Module):
        def __init__(self):
            self.w = Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Broken()


def test_sequential_indexing_and_errors():
    seq = Sequential(Affine(2), Affine(2))
    assert isinstance(seq[1], Affine) and len(seq) == 2 and len(seq[0:1]) == 1
    with pytest.raises(IndexError):
        seq[5]
    with pytest.raises(TypeError, match="not a Module"):
        Sequential(Affine(2), lambda x: x)


def test_repr_lists_children():
    text = repr(Net())
    assert "(body): Sequential" in text and "(0): Affine()" in text


def test_deepcopy_is_independent():
    net = Net()
    clone = copy.deepcopy(net)
    clone.head.scale.data[...] = 5
    assert net.head.scale.data[0] == 1


def test_gradcheck_passes_on_a_correct_module():
    from minidl.gradcheck import check_module

    report = check_module(Net(), np.random.default_rng(0).standard_normal((4, 3)))
    assert report.passed, str(report)

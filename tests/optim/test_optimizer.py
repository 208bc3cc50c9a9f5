"""The Optimizer base: parameter groups, learning-rate callables, frozen parameters,
state_dict round trips, errors."""
import numpy as np
import pytest

from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp, Rprop
from _optimizer_testing import make_problem, run

ALL = [
    (SGD, dict(learning_rate=0.1)),
    (SGD, dict(learning_rate=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (Adam, dict(learning_rate=0.01, weight_decay=0.01)),
    (AdamW, dict(learning_rate=0.01)),
    (RMSProp, dict(learning_rate=0.01, momentum=0.9)),
    (Adagrad, dict(learning_rate=0.1, initial_accumulator_value=0.1)),
    (Rprop, dict(learning_rate=0.01)),
]
IDS = ["sgd", "sgd-nesterov", "adam", "adamw", "rmsprop", "adagrad", "rprop"]


class TwoParams(Module):
    def __init__(self):
        super().__init__()
        self.weight = Parameter(np.ones((2, 3)))
        self.bias = Parameter(np.ones(2))


@pytest.mark.parametrize("cls, kwargs", ALL, ids=IDS)
def test_state_dict_round_trip_resumes_exactly(backend_name, cls, kwargs):
    init, grads = make_problem(seed=41, steps=6)
    uninterrupted, _ = run(lambda p: cls(p, **kwargs), init, grads, dtype=np.float32)

    first, opt = run(lambda p: cls(p, **kwargs), init, grads[:3], dtype=np.float32)
    saved = opt.state_dict()
    # the saved state is a copy made of dicts, lists, numbers and arrays
    for entry in saved["state"].values():
        assert all(isinstance(v, (np.ndarray, int, float)) for v in entry.values())
    copies = [Parameter(p.data.copy()) for p in first]
    resumed_opt = cls(copies, **kwargs)
    resumed_opt.load_state_dict(saved)
    resumed, _ = run(lambda p: resumed_opt, None, grads[3:], params=copies)
    for a, b in zip(uninterrupted, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_copy_and_accepts_string_keys():
    init, grads = make_problem(seed=42, steps=2)
    params, opt = run(lambda p: SGD(p, learning_rate=0.1, momentum=0.9), init, grads)
    saved = opt.state_dict()
    before = saved["state"][0]["momentum_buffer"].copy()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], before)
    # a state flattened by a file format comes back with string keys
    saved["state"] = {str(k): v for k, v in saved["state"].items()}
    other = SGD([Parameter(p.data.copy()) for p in params], learning_rate=0.5, momentum=0.9)
    other.load_state_dict(saved)
    assert other.param_groups[0]["learning_rate"] == 0.1
    np.testing.assert_array_equal(other.state_dict()["state"][0]["momentum_buffer"], before)


def test_load_state_dict_rejects_mismatched_groups_and_shapes():
    init, grads = make_problem(seed=43, steps=1)
    params, opt = run(lambda p: Adam(p), init, grads)
    with pytest.raises(ValueError, match="Adam.load_state_dict"):
        Adam(params[:2]).load_state_dict(opt.state_dict())
    wrong = [Parameter(np.zeros((3, 4))), params[1], params[2]]
    with pytest.raises(ValueError, match="shape"):
        Adam(wrong).load_state_dict(opt.state_dict())


def test_param_groups_have_their_own_options(backend_name):
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.9}], learning_rate=0.1)
    assert opt.param_groups[1]["learning_rate"] == 0.5 and opt.param_groups[0]["momentum"] == 0.0
    for _ in range(2):
        opt.zero_grad()
        a.accumulate_grad(np.ones(2))
        b.accumulate_grad(np.ones(2))
        opt.step()
    np.testing.assert_allclose(a.data, [-0.2, -0.2], rtol=1e-15)
    # b: steps 0.5·1 and 0.5·(0.9 + 1)
    np.testing.assert_allclose(b.data, [-1.45, -1.45], rtol=1e-15)
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    assert list(saved["state"]) == [1]          # plain SGD keeps no state for group 0


class Schedule:
    """A callable learning rate: 1.0, 0.5, 0.25, ... advanced by step()."""

    def __init__(self):
        self.k = 0

    def __call__(self):
        return 0.5 ** self.k

    def step(self):
        self.k += 1


def test_callable_learning_rate_is_read_at_every_step(backend_name):
    p = Parameter(np.zeros(1))
    schedule = Schedule()
    opt = SGD([p], learning_rate=schedule)
    moves = []
    for _ in range(4):
        before = p.data[0]
        assert opt.get_lr() == schedule()
        opt.zero_grad()
        p.accumulate_grad(np.ones(1))
        opt.step()
        schedule.step()
        moves.append(before - p.data[0])
    np.testing.assert_allclose(moves, [1.0, 0.5, 0.25, 0.125], rtol=1e-15)
    # the state_dict records the rate as a number; loading keeps the scheduler
    assert opt.state_dict()["param_groups"][0]["learning_rate"] == 0.0625
    opt.load_state_dict(opt.state_dict())
    assert opt.param_groups[0]["learning_rate"] is schedule


def test_minidl_scheduler_as_learning_rate(backend_name):
    lr = pytest.importorskip("minidl.optim.lr")
    p = Parameter(np.zeros(1))
    scheduler = lr.StepDecay(0.1, step_size=2, gamma=0.5)
    opt = Adagrad([p], learning_rate=scheduler)
    rates = []
    for _ in range(5):
        rates.append(opt.get_lr())
        opt.step()
        scheduler.step()
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.05, 0.05, 0.025])


def test_negative_rate_from_a_schedule_is_an_error():
    opt = SGD([Parameter(np.zeros(1))], learning_rate=lambda: -1.0)
    with pytest.raises(ValueError, match="SGD"):
        opt.step()


@pytest.mark.parametrize("cls, kwargs", ALL, ids=IDS)
def test_frozen_parameters_are_untouched(backend_name, cls, kwargs):
    frozen = Parameter(np.ones(3), requires_grad=False)
    live = Parameter(np.ones(3))
    opt = cls([frozen, live], **kwargs)
    for _ in range(3):
        opt.zero_grad()
        frozen.accumulate_grad(np.ones(3))
        live.accumulate_grad(np.ones(3))
        opt.step()
    np.testing.assert_array_equal(frozen.data, np.ones(3))
    assert np.all(live.data < 1)
    assert frozen not in opt.state


def test_zero_grad_and_clear_grad():
    init, grads = make_problem(seed=44, steps=1)
    params, opt = run(lambda p: SGD(p), init, grads)
    assert Optimizer.clear_grad is Optimizer.zero_grad
    opt.clear_grad()
    assert all(not p.grad.any() for p in params)


def test_parameter_data_replaced_by_another_dtype_keeps_state(backend_name):
    p = Parameter(np.ones(3), dtype=np.float32)
    opt = SGD([p], learning_rate=0.1, momentum=0.9)
    p.accumulate_grad(np.ones(3))
    opt.step()                                           # θ = 0.9, b = 1
    p.data = p.data.astype(np.float64)
    opt.zero_grad()
    p.accumulate_grad(np.ones(3))
    opt.step()                                           # b = 1.9, θ = 0.9 − 0.19
    assert p.data.dtype == np.float64 and opt.state[p]["momentum_buffer"].dtype == np.float64
    np.testing.assert_allclose(p.data, 0.71, rtol=1e-7)


@pytest.mark.parametrize("make, match", [
    (lambda ps: SGD(ps, learning_rate=-0.1), "SGD: invalid learning_rate"),
    (lambda ps: SGD(ps, momentum=-0.5), "SGD: invalid momentum"),
    (lambda ps: SGD(ps, weight_decay=-1e-4), "SGD: invalid weight_decay"),
    (lambda ps: Adam(ps, learning_rate=-1.0), "Adam: invalid learning_rate"),
    (lambda ps: AdamW(ps, weight_decay=-0.01), "AdamW: invalid weight_decay"),
    (lambda ps: SGD([], learning_rate=0.1), "SGD: got an empty parameter list"),
    (lambda ps: SGD([ps[0], ps[0]]), "SGD: .*same parameter twice"),
    (lambda ps: SGD([{"params": ps[:1]}, {"params": ps[:1]}]), "more than one parameter group"),
    (lambda ps: SGD([{"params": ps, "momentun": 0.9}]), "unknown option"),
])
def test_bad_arguments_raise_errors_naming_the_optimizer(make, match):
    params = [Parameter(np.zeros(2)), Parameter(np.zeros(3))]
    with pytest.raises(ValueError, match=match):
        make(params)


def test_wrong_types_raise_type_errors():
    with pytest.raises(TypeError, match=r"Adam: .*model.parameters\(\)"):
        Adam(TwoParams())
    with pytest.raises(TypeError, match="Adam: expected Parameters"):
        Adam([np.zeros(3)])
    with pytest.raises(TypeError, match="SGD: learning_rate"):
        SGD(TwoParams().parameters(), learning_rate="fast")


def test_generator_of_module_parameters_and_repr():
    model = TwoParams()
    opt = SGD(model.parameters(), learning_rate=0.1, momentum=0.9)
    assert len(opt.param_groups[0]["params"]) == 2
    text = repr(opt)
    assert text.startswith("SGD (") and "momentum: 0.9" in text and "learning_rate: 0.1" in text
    assert isinstance(opt, Optimizer)


def test_resume_through_a_file(tmp_path):
    import minidl

    init, grads = make_problem(seed=45, steps=4)
    uninterrupted, _ = run(lambda p: Adam(p, learning_rate=0.01), init, grads)
    first, opt = run(lambda p: Adam(p, learning_rate=0.01), init, grads[:2])
    minidl.save({"optimizer": opt.state_dict(), "params": [p.data for p in first]}, tmp_path / "ckpt.npz")
    checkpoint = minidl.load(tmp_path / "ckpt.npz")
    params = [Parameter(x) for x in checkpoint["params"]]
    resumed_opt = Adam(params, learning_rate=0.01)
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed, _ = run(lambda p: resumed_opt, None, grads[2:], params=params)
    for a, b in zip(uninterrupted, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_set_lr():
    p = Parameter(np.zeros(1))
    opt = SGD([p], learning_rate=0.1)
    opt.set_lr(0.25)
    assert opt.get_lr() == 0.25
    p.accumulate_grad(np.ones(1))
    opt.step()
    assert p.data[0] == -0.25
    with pytest.raises(ValueError, match="SGD: invalid learning_rate"):
        opt.set_lr(-1.0)
    with pytest.raises(RuntimeError, match="scheduler"):
        SGD([p], learning_rate=Schedule()).set_lr(0.1)


def test_non_numeric_hyperparameter_is_a_type_error_naming_the_optimizer():
    with pytest.raises(TypeError, match="RMSProp: hyperparameters must be numbers"):
        RMSProp([Parameter(np.zeros(1))], momentum="0.9")


@pytest.mark.parametrize("make", ["Adam", "AdamW", "RMSProp", "Adagrad"])
@pytest.mark.parametrize("epsilon", [0.0, -1e-8, float("nan")])
def test_epsilon_must_be_positive(make, epsilon):
    # ε = 0 divides 0 by 0 where a gradient coordinate stays 0: NaN weights (issue 14).
    from minidl import optim
    p = Parameter(np.ones(3))
    with pytest.raises(ValueError, match=rf"^{make}: invalid epsilon .* \(must be > 0\)"):
        getattr(optim, make)([p], epsilon=epsilon)
    optimizer = getattr(optim, make)([p], epsilon=1e-12)        # tiny but positive is fine
    optimizer.step()                                               # zero gradient: no NaN
    assert np.isfinite(p.data).all()


def test_load_state_dict_is_all_or_nothing():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    optimizer = Adam([{"params": [a]}, {"params": [b], "learning_rate": 0.5}], learning_rate=0.1)
    a.accumulate_grad(np.ones(2))
    b.accumulate_grad(np.ones(2))
    optimizer.step()
    saved = optimizer.state_dict()
    saved["param_groups"][0]["beta1"] = 0.5                 # fine on its own ...
    saved["param_groups"][1]["epsilon"] = 0.0               # ... but the second group is invalid
    before = optimizer.state_dict()
    with pytest.raises(ValueError, match="epsilon"):
        optimizer.load_state_dict(saved)
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entry in before["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(after["state"][index][key], value)

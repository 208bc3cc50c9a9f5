"""minidl.diagnostics.Probe: per-layer statistics of activations and gradients.

The model is made of tiny hand-written modules so every expected number follows from the
chain rule written in the test: Scale(w) computes y = w·x, so after Scale(2), Scale(3)
the activations are 2x and 6x, and the gradients arriving at the outputs are g and 3g.
"""
import copy

import numpy as np
import pytest

from minidl.diagnostics import Probe, tensor_stats
from minidl.gradcheck import check_module
from minidl.nn import Module, Parameter, Sequential


class Scale(Module):
    """y = w · x with a scalar weight; dL/dx = w · g, dL/dw = Σ g·x."""

    def __init__(self, w):
        super().__init__()
        self.weight = Parameter(np.array([w], dtype=np.float64))

    def forward(self, x):
        self.x = x
        return self.weight.data[0] * x

    def backward(self, grad_output):
        self.weight.accumulate_grad(np.array([np.sum(grad_output * self.x)]))
        return self.weight.data[0] * grad_output


class Block(Module):
    def __init__(self):
        super().__init__()
        self.a = Scale(2.0)
        self.b = Scale(3.0)

    def forward(self, x):
        return self.b(self.a(x))

    def backward(self, g):
        return self.a.backward(self.b.backward(g))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(0.5, 2.0, (64, 5)), rng.normal(0.0, 1.0, (64, 5))


def run(model, x, g):
    y = model(x)
    model.zero_grad()
    model.backward(g)
    return y


def test_records_activation_and_gradient_statistics(data):
    x, g = data
    model = Sequential(Scale(2.0), Scale(3.0))
    probe = Probe(model)
    run(model, x, g)
    assert probe.layer_names == ["0", "1"]
    np.testing.assert_allclose(probe.series("forward", "mean"), [2 * x.mean(), 6 * x.mean()], rtol=1e-12)
    np.testing.assert_allclose(probe.activation_std(), [2 * x.std(), 6 * x.std()], rtol=1e-12)
    np.testing.assert_allclose(probe.gradient_std(), [3 * g.std(), g.std()], rtol=1e-12)
    # dL/dw: layer 1 sees input 2x and gradient g; layer 0 sees x and 3g.
    np.testing.assert_allclose(probe.series("param", "mean"), [np.sum(3 * g * x), np.sum(g * 2 * x)], rtol=1e-12)
    np.testing.assert_allclose(probe.series("forward", "norm"), [2 * np.linalg.norm(x), 6 * np.linalg.norm(x)])
    assert probe.records["0"].forward[-1].shape == (64, 5)


def test_one_entry_per_call_and_call_index(data):
    x, g = data
    model = Sequential(Scale(2.0), Scale(3.0))
    probe = Probe(model)
    run(model, x, g)
    run(model, 2 * x, g)
    assert len(probe.records["1"].forward) == 2 and len(probe.records["1"].backward) == 2
    np.testing.assert_allclose(probe.activation_std(call=0), [2 * x.std(), 6 * x.std()])
    np.testing.assert_allclose(probe.activation_std(), [4 * x.std(), 12 * x.std()])
    probe.clear()
    assert np.isnan(probe.activation_std()).all()


def test_forward_only_leaves_gradient_columns_empty(data):
    x, _ = data
    model = Sequential(Scale(2.0), Scale(3.0))
    probe = Probe(model)
    model(x)
    assert np.isnan(probe.gradient_std()).all()
    text = probe.table()
    assert "0 (Scale)" in text and "1 (Scale)" in text and "activation std" in text
    assert f"{2 * x.std():.4f}" in text
    assert text.splitlines()[2].split()[-3:] == ["-", "-", "-"]     # no gradient recorded


def test_remove_restores_modules_and_stops_recording(data):
    x, g = data
    model = Sequential(Scale(2.0), Scale(3.0))
    other = Scale(5.0)
    probe = Probe(model)
    assert "forward" in model[0].__dict__ and "forward" not in other.__dict__
    probe.remove()
    for m in model:
        assert "forward" not in m.__dict__ and "backward" not in m.__dict__
    run(model, x, g)
    assert probe.records["0"].forward == []
    np.testing.assert_allclose(model(x), 6 * x)


def test_context_manager_and_pre_existing_instance_attribute(data):
    x, g = data
    layer = Scale(2.0)
    own_forward = lambda inp: 10 * inp       # noqa: E731  an instance attribute set by the user
    object.__setattr__(layer, "forward", own_forward)
    model = Sequential(layer, Scale(1.0))
    with Probe(model) as probe:
        y = model(x)
    np.testing.assert_allclose(y, 10 * x)
    np.testing.assert_allclose(probe.activation_std()[0], 10 * x.std())
    assert model[0].__dict__["forward"] is own_forward


def test_nested_model_selection(data):
    x, g = data
    model = Sequential(Block(), Scale(0.5))
    for modules, names in [(None, ["0.a", "0.b", "1"]), ("all", ["0", "0.a", "0.b", "1"]),
                           (Block, ["0"]), (["1", "0.a"], ["0.a", "1"]),
                           (lambda name, m: name.endswith("b"), ["0.b"])]:
        probe = Probe(model, modules=modules)
        assert probe.layer_names == names
        probe.remove()
    with Probe(model, modules="all") as probe:
        run(model, x, g)
    # Block outputs 6x; the last layer halves it.
    np.testing.assert_allclose(probe.activation_std(), [6 * x.std(), 2 * x.std(), 6 * x.std(), 3 * x.std()])
    with pytest.raises(ValueError, match="no module"):
        Probe(model, modules=["nope"])
    with pytest.raises(TypeError):
        Probe(np.zeros(3))


def test_single_module_model_is_probed_itself(data):
    x, _ = data
    layer = Scale(4.0)
    with Probe(layer) as probe:
        layer(x)
    np.testing.assert_allclose(probe.activation_std(), [4 * x.std()])


def test_histogram_extra_keep_and_pause(data):
    x, g = data
    model = Sequential(Scale(1.0), Scale(-1.0))
    probe = Probe(model, bins=10, range=(-3, 3), keep=True, extra={"big": lambda a: np.mean(np.abs(a) > 1)})
    run(model, x, g)
    counts, edges = probe.records["0"].forward[-1].histogram
    np.testing.assert_array_equal(counts, np.histogram(x, bins=10, range=(-3, 3))[0])
    assert len(edges) == 11
    np.testing.assert_allclose(probe.series("forward", "big"), [np.mean(np.abs(x) > 1)] * 2)
    np.testing.assert_array_equal(probe.records["1"].last_output, -x)
    np.testing.assert_array_equal(probe.records["1"].last_grad, g)
    probe.enabled = False
    run(model, x, g)
    assert len(probe.records["0"].forward) == 1
    probe.remove()


def test_deep_copy_of_a_probed_model_runs_without_recording(data):
    x, g = data
    model = Sequential(Scale(2.0), Scale(3.0))
    probe = Probe(model)
    clone = copy.deepcopy(model)
    clone[0].weight.data[0] = 7.0
    np.testing.assert_allclose(clone(x), 21 * x)     # the clone uses its own weight
    assert probe.records["0"].forward == []
    report = check_module(model, x[:4])            # deep-copies the probed model internally
    assert report.passed, str(report)
    probe.remove()


def test_tensor_stats_float32_and_empty():
    x = np.arange(10, dtype=np.float32)
    s = tensor_stats(x)
    assert s.mean == 4.5 and s.min == 0 and s.max == 9 and s.zero_fraction == 0.1
    assert s.std == pytest.approx(np.sqrt(8.25))
    assert np.isnan(tensor_stats(np.empty(0)).mean)


def test_plot(data, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minidl.diagnostics import plot_stats

    x, g = data
    model = Sequential(Scale(2.0), Scale(3.0))
    with Probe(model) as probe:
        run(model, x, g)
    fig, ax = plt.subplots()
    assert probe.plot(ax=ax, label="demo") is ax
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), probe.activation_std())
    plot_stats({"a": probe, "b": probe}, ax=ax, which="param")
    assert len(ax.lines) == 4
    fig.savefig(tmp_path / "probe.png")
    plt.close(fig)


def test_tensor_stats_of_an_overflowed_array_reports_without_warnings():
    import warnings

    x = np.array([1.0, np.inf, -np.inf], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = tensor_stats(x, bins=4)
    assert np.isnan(s.std) and s.max == np.inf and s.histogram[0].sum() == 1


def test_two_probes_removed_in_any_order(data):
    x, g = data
    model = Sequential(Scale(2.0), Scale(3.0))
    first, second = Probe(model), Probe(model)
    run(model, x, g)
    assert len(first.records["0"].forward) == 1 and len(second.records["0"].forward) == 1
    first.remove()                                   # not the top wrapper: becomes silent
    run(model, x, g)
    assert len(first.records["0"].forward) == 1 and len(second.records["0"].forward) == 2
    second.remove()
    run(model, x, g)
    assert len(second.records["0"].forward) == 2
    assert "forward" not in model[0].__dict__ and "backward" not in model[1].__dict__   # fully unwrapped
    np.testing.assert_allclose(model(x), 6 * x)

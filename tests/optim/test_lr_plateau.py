"""ReduceOnPlateau, Paddle's rule: worked sequences written out by hand in each test."""
import numpy as np
import pytest

from minidl.optim import lr


def feed(scheduler, metrics):
    out = [scheduler()]
    for m in metrics:
        scheduler.step(m)
        out.append(scheduler())
    return out


def test_patience_counts_bad_epochs():
    # patience 2: the third consecutive non-improving step reduces (bad 1, 2, 3 > 2)
    s = lr.ReduceOnPlateau(1.0, factor=0.5, patience=2)
    r = feed(s, [10, 9, 9, 9, 9, 8, 8, 8, 8])
    np.testing.assert_allclose(r, [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25])
    assert s.last_epoch == 9


def test_cooldown_ignores_the_metric_entirely():
    # patience 1, cooldown 2: after the cut the next two metrics (even big improvements)
    # are swallowed: best stays 5 and no bad epoch is counted.
    s = lr.ReduceOnPlateau(1.0, factor=0.1, patience=1, cooldown=2)
    r = feed(s, [5, 5, 5, 1, 1])
    np.testing.assert_allclose(r, [1, 1, 1, 0.1, 0.1, 0.1])
    assert s.best == 5 and s.cooldown_counter == 0 and s.num_bad_epochs == 0
    r = feed(s, [1, 1, 1])               # 1 < 5: new best; then bad 1, bad 2 > 1 -> cut
    np.testing.assert_allclose(r, [0.1, 0.1, 0.1, 0.01])
    assert s.best == 1 and s.cooldown_counter == 2


def test_threshold_rel_vs_abs():
    # best 10, new value 9.5: rel 0.1 needs < 10 - 1.0 = 9 (bad); abs 0.1 needs < 9.9 (better)
    rel = lr.ReduceOnPlateau(1.0, patience=0, threshold=0.1, threshold_mode="rel")
    ab = lr.ReduceOnPlateau(1.0, patience=0, threshold=0.1, threshold_mode="abs")
    assert feed(rel, [10, 9.5]) == pytest.approx([1, 1, 0.1])
    assert feed(ab, [10, 9.5]) == pytest.approx([1, 1, 1])
    assert ab.best == 9.5 and rel.best == 10


def test_mode_max():
    # max/rel, threshold 0.1: 1.05 is not > 1.1 (bad -> cut); then 1.2 > 1.1 (new best)
    s = lr.ReduceOnPlateau(1.0, mode="max", patience=0, threshold=0.1)
    assert feed(s, [1.0, 1.05, 1.2]) == pytest.approx([1, 1, 0.1, 0.1])
    assert s.best == 1.2
    a = lr.ReduceOnPlateau(1.0, mode="MAX", patience=0, threshold=0.01, threshold_mode="abs")
    assert feed(a, [1.0, 1.005, 1.02]) == pytest.approx([1, 1, 0.1, 0.1])


def test_min_lr_floor_and_epsilon():
    s = lr.ReduceOnPlateau(1.0, factor=0.1, patience=0, min_lr=0.05)
    assert feed(s, [1, 1, 1, 1]) == pytest.approx([1, 1, 0.1, 0.05, 0.05])
    # a reduction smaller than epsilon is skipped: 1e-6 -> 5e-7 differs by 5e-7 < 1e-6
    tiny = lr.ReduceOnPlateau(1e-6, factor=0.5, patience=0, epsilon=1e-6)
    assert feed(tiny, [1, 1, 1]) == [1e-6] * 4
    small = lr.ReduceOnPlateau(1e-6, factor=0.5, patience=0)          # default epsilon 1e-8
    assert feed(small, [1, 1, 1]) == pytest.approx([1e-6, 1e-6, 5e-7, 2.5e-7])


def test_metrics_types_and_epoch():
    s = lr.ReduceOnPlateau(0.1)
    assert s.last_epoch == 0 and s() == 0.1 and s.get_lr() == 0.1
    s.step(np.array([2.0]))
    s.step(np.float32(1.0), epoch=7)
    assert s.last_epoch == 7 and s.best == 1.0
    with pytest.raises(ValueError, match="one value"):
        s.step(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="metrics"):
        s.step("loss")
    with pytest.raises(TypeError, match="required"):
        s.step()


def test_state_round_trip_mid_cooldown():
    a = lr.ReduceOnPlateau(1.0, patience=0, cooldown=3)
    feed(a, [3, 4, 5])
    state = a.state_dict()
    assert set(state) == {"cooldown_counter", "best", "num_bad_epochs", "last_epoch", "last_lr"}
    b = lr.ReduceOnPlateau(1.0, patience=0, cooldown=3)
    b.set_state_dict(state)
    metrics = [5, 5, 5, 5, 2, 2]
    assert feed(b, metrics) == feed(a, metrics)


@pytest.mark.parametrize("kwargs,words", [
    (dict(mode="mean"), "mode"), (dict(factor=1.0), "factor"), (dict(threshold_mode="pct"), "threshold_mode"),
    (dict(patience=-1), "patience"), (dict(cooldown=1.5), "cooldown"),
])
def test_validation(kwargs, words):
    with pytest.raises(ValueError) as info:
        lr.ReduceOnPlateau(0.1, **kwargs)
    assert words in str(info.value)
    with pytest.raises(TypeError, match="learning_rate"):
        lr.ReduceOnPlateau([0.1])

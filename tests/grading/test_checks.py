"""Soft checks, statistical bands, gradient checks and seeds (minidl.grading.checks/statistics)."""
import math

import numpy as np
import pytest

from minidl.grading import checks as C
from minidl.grading import statistics
from minidl.grading.protocol import Frozen, Handle
from minidl.grading.sandbox import Worker
from minidl.grading.seeding import test_id as make_test_id
from minidl.grading.seeding import test_seed as make_test_seed


def run(fn, *args, **kwargs):
    with C.recording() as rec:
        fn(*args, **kwargs)
    return rec.results[-1]


def test_close_passes_within_default_tolerance_and_reports_worst_index():
    e = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert run(C.check_close, e * (1 + 1e-9), e).passed
    r = run(C.check_close, e + np.array([[0, 0], [0.5, 0]]), e, name="out")
    assert not r.passed
    # worst index (1, 0), values 3.5 vs 3; symmetric relative error 0.5/6.5
    assert "(1, 0)" in r.message and "got 3.5" in r.message and "expected 3" in r.message
    assert "max abs error 0.5" in r.message and f"{0.5 / 6.5:.3g}" in r.message


def test_default_tolerances_depend_on_dtype_and_scale():
    rtol32, atol32 = C.default_tolerances(np.full(4, 100.0, dtype=np.float32))
    rtol64, atol64 = C.default_tolerances(np.full(4, 100.0))
    assert (rtol32, rtol64) == (1e-4, 1e-7)
    assert atol32 == pytest.approx(1e-4 * 100) and atol64 == pytest.approx(1e-7 * 100)
    assert C.default_tolerances(np.zeros(3)) == (1e-7, 1e-7)
    x32 = np.full(3, 1.0, dtype=np.float32)
    assert run(C.check_close, x32 + np.float32(5e-5), x32).passed      # float32 noise
    assert not run(C.check_close, np.full(3, 1 + 5e-5), np.ones(3)).passed


def test_close_checks_type_shape_dtype_and_finiteness_first():
    e = np.ones((2, 3), dtype=np.float32)
    assert "shape (2, 3)" in run(C.check_close, np.ones((3, 2), np.float32), e).message
    assert "dtype float32, got float64" in run(C.check_close, np.ones((2, 3)), e).message
    assert run(C.check_close, np.ones((2, 3)), e, dtype="float").passed
    bad = e.copy()
    bad[1, 2] = np.nan
    assert "nan at index (1, 2)" in run(C.check_close, bad, e).message
    assert "object" in run(C.check_close, Handle(3, "Sneaky"), e).message
    assert not run(C.check_close, None, e).passed


def test_close_on_containers():
    e = (np.ones(2), {"mask": np.zeros(2)})
    assert run(C.check_close, (np.ones(2), {"mask": np.zeros(2)}), e).passed
    r = run(C.check_close, (np.ones(2), {"mask": np.ones(2)}), e)
    assert not r.passed and r.message.startswith("item 1: ['mask']")
    assert "length 2" in run(C.check_close, [np.ones(2)], e).message


def test_equal_is_exact_and_type_aware():
    m = np.array([True, False, True])
    assert run(C.check_equal, m.copy(), m).passed
    r = run(C.check_equal, np.array([True, True, True]), m)
    assert not r.passed and "index (1,)" in r.message
    assert run(C.check_equal, np.array([1, 2], np.int32), np.array([1, 2], np.int64)).passed
    assert not run(C.check_equal, Handle(1, "AlwaysEqual"), 3).passed     # __eq__ never runs here
    assert not run(C.check_equal, True, 1).passed
    assert run(C.check_equal, 3, 3.0).passed


def test_shape_dtype_unchanged():
    assert run(C.check_shape, np.zeros((2, 3)), (2, 3)).passed
    assert "got (3, 2)" in run(C.check_shape, np.zeros((3, 2)), (2, 3)).message
    assert "got float64" in run(C.check_dtype, np.zeros(2), np.float32).message
    before = np.arange(4.0)
    after = before.copy()
    after[2] = 0
    r = run(C.check_unchanged, before, after)
    assert not r.passed and "(2,)" in r.message and "in place" in r.message


def test_partial_credit_and_require_stops():
    with C.recording() as rec:
        C.check_true(True, "", weight=3)
        C.check_true(False, "no", weight=1)
    assert rec.fraction() == 0.75
    with C.recording() as rec, pytest.raises(C.RequireFailed):
        C.require_shape(np.zeros(2), (3,))
    assert len(rec.results) == 1 and not rec.results[0].passed


def test_outside_a_recording_a_failure_raises():
    with pytest.raises(AssertionError, match="shape"):
        C.check_shape(np.zeros(2), (3,))
    assert C.check_shape(np.zeros(2), (2,)) is True


def test_false_fail_probability_is_the_two_sided_normal_tail():
    # 2·(1 − Φ(6)) = 1.973e-9 (normal table)
    assert statistics.false_fail_probability(6) == pytest.approx(1.973e-9, rel=1e-3)
    assert statistics.false_fail_probability(1.959964) == pytest.approx(0.05, rel=1e-5)


def test_fraction_band_formula_and_exact_ends():
    mask = np.zeros(10_000, bool)
    mask[:2_600] = True                        # 0.26 vs 0.25: σ = √(.25·.75/1e4) = 0.00433
    band = statistics.fraction_band(mask, 0.25, n_sigma=6)
    assert band.stderr == pytest.approx(math.sqrt(0.25 * 0.75 / 10_000))
    assert band.z == pytest.approx(0.01 / band.stderr) and band.passed
    assert not statistics.fraction_band(mask, 0.2, n_sigma=6).passed       # 13.9σ away
    assert statistics.fraction_band(np.ones(5), 1.0).passed
    assert not statistics.fraction_band(np.array([1, 1, 0]), 1.0).passed


def test_statistical_checks_accept_correct_samples_over_many_seeds():
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x = rng.normal(0.5, 2.0, 4000)
        with C.recording() as rec:
            C.check_mean(x, 0.5, std=2.0)
            C.check_std(x, 2.0)
            C.check_fraction(rng.random(4000) >= 0.3, 0.7)
        assert rec.all_passed, [r.message for r in rec.results]
    with C.recording() as rec:
        C.check_std(np.random.default_rng(0).normal(0, 2 * 1.1, 4000), 2.0)   # 10 % too wide
    assert not rec.all_passed


def test_std_band_normal_stderr():
    # for a normal, kurtosis 3: σ_s = σ/√(2n)
    band = statistics.std_band(np.random.default_rng(1).normal(0, 3, 800), 3.0, kurtosis=3)
    assert band.stderr == pytest.approx(3 / math.sqrt(2 * 800))


def test_check_grad_local_function_and_bug_ratios():
    x = np.linspace(-1, 1, 6).reshape(2, 3)

    def f(v):
        return v ** 3

    assert run(C.check_grad, f, x, 3 * x ** 2).passed
    r = run(C.check_grad, f, x, 6 * x ** 2)
    assert not r.passed and "×2" in r.message
    assert "sign flipped" in run(C.check_grad, f, x, -3 * x ** 2).message
    r = run(C.check_grad, f, x, 3 * x ** 2 * 0.8, ratios={"keep_prob": 0.8})
    assert "×keep_prob" in r.message
    r = run(C.check_grad, f, x, 3 * x ** 2 / 32, ratios={"N": 32})
    assert "×1/N" in r.message
    dout = np.arange(6.0).reshape(2, 3)
    assert run(C.check_grad, f, x, 3 * x ** 2 * dout, dout=dout).passed
    assert "shape (2, 3)" in run(C.check_grad, f, x, np.zeros(3)).message


def test_frozen_gives_a_fresh_generator_each_time():
    fz = C.frozen(5)
    assert isinstance(fz, Frozen)
    assert fz.rng().random() == fz.rng().random() == np.random.default_rng(5).random()


DROPOUT = '''
import numpy as np
def dropout_forward(x, p, training, rng):
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), mask
def fill_(w, rng):
    w[...] = rng.standard_normal(w.shape)
'''


def test_worker_differences_with_a_frozen_rng_and_writes_back_in_place(tmp_path):
    path = tmp_path / "hw.py"
    path.write_text(DROPOUT)
    x = np.random.default_rng(0).standard_normal((3, 4))
    with Worker(str(path)) as w:
        numeric = w.numerical_gradient("dropout_forward", [None, 0.5, True, C.frozen(9)], {}, 0, x, output=0)
        mask = np.random.default_rng(9).random(x.shape) >= 0.5
        np.testing.assert_allclose(numeric, mask / 0.5, atol=1e-8)
        weights = np.zeros((2, 3))
        assert w.call("fill_", weights, np.random.default_rng(4)) is None
        np.testing.assert_array_equal(weights, np.random.default_rng(4).standard_normal((2, 3)))


def test_seed_is_a_hash_of_assignment_base_and_test_id():
    tid = make_test_id("hw/tests/test_dropout.py::test_rate[0.5]")
    assert tid == "test_dropout.py::test_rate[0.5]"
    s = make_test_seed("dropout_init", 0, tid)
    assert s == make_test_seed("dropout_init", 0, tid) and 0 <= s < 2 ** 32
    assert len({s, make_test_seed("dropout_init", 1, tid), make_test_seed("other", 0, tid)}) == 3
    import hashlib

    digest = hashlib.sha256(b"dropout_init|0|test_dropout.py::test_rate[0.5]").digest()
    assert s == int.from_bytes(digest[:8], "little") % 2 ** 32

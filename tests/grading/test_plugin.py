"""The authoring API and the pytest plugin, end to end through run_tests (a real pytest
subprocess grading a real worker)."""
import os
import textwrap

import numpy as np
import pytest

from minidl.grading import G
from minidl.grading.runner import run_tests

TESTS = '''
import numpy as np
from minidl.grading import G

G.assignment("mini", submission="mini.py", names=["scale", "fill_", "forward", "backward"])

@G.test(4, number="1", hint="return 2·x as float32")
def test_scale(student, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    x0 = x.copy()
    out = student.scale(x)
    G.check_close(out, 2 * x0, name="values", weight=3)
    G.check_unchanged(x0, x, name="x unchanged", weight=1)

@G.test(1, number="2", timeout=2)
def test_fill(student, rng):
    w = np.zeros(6)
    student.fill_(w, rng)
    G.require_true(np.all(w != 0), "w was not filled in place", name="filled")
    G.leaderboard("filled", float(np.abs(w).sum()))

@G.test(2, number="3", timeout=5)
def test_backward_uses_reference_forward(student, rng):
    def forward(x, rng):
        mask = rng.random(x.shape) >= 0.5
        return x * mask / 0.5, mask
    student.use_reference("forward", forward)
    x = rng.standard_normal((2, 3))
    out, mask = student.forward(x, G.frozen(5))
    dx = student.backward(np.ones_like(x), mask)
    G.check_grad(student.spec("forward", G.X, G.frozen(5), output=0), x, dx, name="dx", ratios={"keep_prob": 0.5})

@G.test(1, number="4")
def test_instructor_bug(student):
    return undefined_name  # noqa: F821
'''

HIDDEN = '''
from minidl.grading import G

@G.test(3, hint="think about large inputs")
def test_secret(student):
    import numpy as np
    x = np.arange(12.0, dtype=np.float32)
    G.check_close(student.scale(x), 2 * x, name="secret values 123.456")
'''

GOOD = '''
import numpy as np
def scale(x):
    return 2 * x
def fill_(w, rng):
    w[...] = rng.standard_normal(w.shape)
def forward(x, rng):
    raise RuntimeError("the student's forward is broken")
def backward(dout, mask):
    return dout * mask / 0.5
'''

PARTIAL = '''
import numpy as np
def helper(x):
    raise ValueError("deep student error")
def scale(x):
    x *= 2                  # right values, but mutates its input
    return x.copy()
def fill_(w, rng):
    return helper(w)
def forward(x, rng):
    mask = rng.random(x.shape) >= 0.5
    return x * mask / 0.5, mask
def backward(dout, mask):
    return dout * mask      # forgot the 1/keep_prob
'''


@pytest.fixture(scope="module")
def homework(tmp_path_factory):
    root = tmp_path_factory.mktemp("hw")
    (root / "tests").mkdir()
    (root / "tests_hidden").mkdir()
    (root / "tests" / "test_mini.py").write_text(TESTS)
    (root / "tests_hidden" / "test_secret.py").write_text(HIDDEN)
    return root


def submit(tmp_path_factory, source, name="mini.py"):
    d = tmp_path_factory.mktemp("sub")
    (d / name).write_text(textwrap.dedent(source))
    return str(d / name)


@pytest.fixture(scope="module")
def graded(homework, tmp_path_factory):
    return {k: run_tests(submit(tmp_path_factory, src), str(homework))
            for k, src in (("good", GOOD), ("partial", PARTIAL))}


def by_number(record):
    return {t.get("number") or t["name"]: t for t in record["tests"]}


def test_decorator_only_attaches_metadata():
    @G.test(3, name="x", visibility="hidden", tags=("a",), timeout=2, hint="h")
    def test_f():
        return 7

    spec = test_f._minidl_grading
    assert test_f() == 7 and (spec.points, spec.visibility, spec.tags, spec.timeout) == (3.0, "hidden", ("a",), 2.0)
    with pytest.raises(ValueError, match="visibility"):
        G.test(1, visibility="secret")


def test_correct_submission_scores_full_points_except_the_instructor_bug(graded):
    tests = by_number(graded["good"])
    assert [tests[n]["score"] for n in "123"] == [4.0, 1.0, 2.0]
    assert tests["secret"]["score"] == 3.0 and tests["secret"]["visibility"] == "after_due_date"
    bug = tests["4"]
    assert bug["kind"] == "autograder_error" and "NameError" in bug["instructor_traceback"]
    assert "tell your instructor" in bug["message"]
    assert graded["good"]["leaderboard"][0]["name"] == "filled"


def test_partial_credit_is_points_times_passed_weight(graded):
    t = by_number(graded["partial"])
    assert t["1"]["score"] == pytest.approx(4 * 3 / 4) and t["1"]["status"] == "failed"
    assert "modified its input" in t["1"]["checks"][1]["message"]


def test_student_exception_shows_only_student_frames(graded):
    t = by_number(graded["partial"])["2"]
    assert t["kind"] == "student_error" and t["score"] == 0
    assert "deep student error" in t["message"]
    assert "in helper" in t["student_traceback"] and "in fill_" in t["student_traceback"]
    assert "minidl/grading" not in t["student_traceback"] and "site-packages" not in t["student_traceback"]


def test_reference_substitution_and_gradient_ratio_diagnosis(graded):
    t = by_number(graded["partial"])["3"]
    assert t["score"] == 0 and "×keep_prob" in t["checks"][0]["message"]


def test_hidden_tests_show_only_the_hint(graded):
    from minidl.grading import writers

    results = writers.gradescope(graded["partial"])
    secret = [t for t in results["tests"] if t["name"] == "secret"][0]
    assert secret["output"] == "Hint: think about large inputs"
    assert "123.456" not in str(results)
    assert "Public tests: 0/4 passed · 1 hidden test graded after the due date" in results["output"]


def test_seeds_are_recorded_with_a_reproduce_command(graded):
    t = by_number(graded["partial"])["1"]
    assert isinstance(t["seed"], int) and t["reproduce"] == "minidl-grade check mini.py -k test_scale --seed 0"
    assert t["seed"] == by_number(graded["good"])["1"]["seed"]


def test_did_not_load_gives_one_visible_failure_and_not_run(homework, tmp_path_factory):
    record = run_tests(submit(tmp_path_factory, "def scale(x:\n"), str(homework))
    first, rest = record["tests"][0], record["tests"][1:]
    assert first["visibility"] == "visible" and first["kind"] == "did_not_load" and "SyntaxError" in first["message"]
    assert rest and all(t["status"] == "not_run" and t["kind"] == "did_not_load" for t in rest)
    from minidl.grading.results import test_output

    assert test_output(rest[0]) == "not run: submission did not load"


def test_timeout_then_budget_exhausted(homework, tmp_path_factory):
    spin = GOOD.replace("def fill_(w, rng):", "def fill_(w, rng):\n    while True:\n        pass")
    record = run_tests(submit(tmp_path_factory, spin), str(homework), keyword="fill or backward", budget=6)
    t = by_number(record)
    assert t["2"]["kind"] == "timeout" and t["2"]["score"] == 0
    assert t["3"]["status"] == "not_run" and t["3"]["kind"] == "budget"


def test_module_scoped_worker_gives_the_same_grades(homework, tmp_path_factory, graded):
    record = run_tests(submit(tmp_path_factory, PARTIAL), str(homework), worker="module")
    assert [t["score"] for t in record["tests"]] == [t["score"] for t in graded["partial"]["tests"]]
    assert [t["seed"] for t in record["tests"]] == [t["seed"] for t in graded["partial"]["tests"]]


def test_arrays_written_in_place_come_back(graded):
    assert np.isfinite(graded["good"]["leaderboard"][0]["value"]) and graded["good"]["leaderboard"][0]["value"] > 0


def test_config_file_is_read(tmp_path):
    from minidl.grading.runner import Homework

    (tmp_path / "tests").mkdir()
    (tmp_path / "grading.toml").write_text('[assignment]\nname = "x"\nbudget = 100\n')
    hw = Homework(str(tmp_path))
    assert hw.settings() == {"name": "x", "budget": 100} and hw.public_dirs == [os.path.join(str(tmp_path), "tests")]


def test_a_broken_test_file_is_an_autograder_error_and_the_rest_is_graded(homework, tmp_path, tmp_path_factory):
    import shutil

    hw = tmp_path / "hw"
    shutil.copytree(homework, hw)
    (hw / "tests" / "test_broken.py").write_text("def broken(:\n")
    record = run_tests(submit(tmp_path_factory, GOOD), str(hw), keyword="scale")
    t = by_number(record)
    broken = [x for x in record["tests"] if x["name"].startswith("collecting")][0]
    assert broken["kind"] == "autograder_error" and "SyntaxError" in broken["instructor_traceback"]
    assert t["1"]["score"] == 4.0


def test_outer_limit_kills_the_grader_and_the_record_says_not_run(tmp_path, tmp_path_factory):
    hw = tmp_path / "hw"
    (hw / "tests").mkdir(parents=True)
    (hw / "tests" / "test_slow.py").write_text(
        "from minidl.grading import G\n\n@G.test(1, timeout=300)\ndef test_spin(student):\n    student.spin()\n\n"
        "@G.test(2)\ndef test_after(student):\n    pass\n")
    record = run_tests(submit(tmp_path_factory, "def spin():\n    while True:\n        pass\n"), str(hw), timeout=4)
    assert [(t["status"], t["kind"]) for t in record["tests"]] == [("not_run", "budget"), ("not_run", "budget")]
    assert "stopped at its time limit" in record["warnings"][-1]

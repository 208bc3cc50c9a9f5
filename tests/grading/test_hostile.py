"""Hostile submissions (issue 7): each ends in a valid results.json with the right zeros, the
other tests still graded, within its time limit; two runs give identical results."""
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest

from minidl.grading.runner import run_tests

SCHEMA = json.load(open(os.path.join(os.path.dirname(__file__), "schemas", "gradescope.json")))
SECRET = "s3cr3t-expected-value"

HOSTILE = ["spin", "hog", "soft_exit", "hard_exit", "patch_numpy", "always_equal", "fake_results", "read_hidden",
           "import_hidden", "kill_grader", "use_ctypes", "wrong_signature", "missing"]
HARMLESS = ["shout"]          # printing 10 MB is not a failure: the value is right

TESTS = '''
import numpy as np
import pytest
from minidl.grading import G

@pytest.mark.parametrize("name", {names!r})
@G.test(1, timeout=3)
def test_function(student, name):
    x = np.arange(4.0)
    G.check_close(student.call(name, x), 2 * x, name=name)

@G.test(1, number="9")
def test_good(student):
    x = np.arange(3.0)
    G.check_close(student.good(x), 2 * x)
'''

HIDDEN = f'''
import numpy as np
from minidl.grading import G

@G.test(1, visibility="hidden", hint="only the hint is shown")
def test_secret(student):
    x = np.arange(5.0)
    G.check_close(student.good(x), 2 * x, name="{SECRET}")
'''

FUNCTIONS = '''
import os, sys
import numpy as np

def good(x):
    return 2 * x

def spin(x):
    while True:
        pass

def hog(x):
    return np.ones(10 ** 10 // 8) [:4]

def soft_exit(x):
    sys.exit(0)

def hard_exit(x):
    os._exit(0)

def patch_numpy(x):
    np.allclose = lambda *a, **k: True
    np.testing.assert_allclose = lambda *a, **k: None
    np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)
    return x

def always_equal(x):
    class Sneaky:
        def __eq__(self, other):
            return True
        def __array__(self, *a, **k):
            return 2 * x
    return Sneaky()

def fake_results(x):
    with open({results!r}, "w") as f:
        f.write('{{"score": 1000, "tests": []}}')
    return x

def read_hidden(x):
    with open({hidden!r}) as f:
        print(f.read())
    return 2 * x

def import_hidden(x):
    sys.path.insert(0, os.path.dirname({hidden!r}))
    import test_secret
    return 2 * x

def kill_grader(x):
    import signal
    os.kill(os.getppid(), signal.SIGKILL)
    return 2 * x

def use_ctypes(x):
    import ctypes
    ctypes.pythonapi.Py_GetVersion
    return 2 * x

def shout(x):
    sys.stdout.write("y" * 10_000_000)
    return 2 * x

def wrong_signature():
    return 0
'''


@pytest.fixture(scope="module")
def hw(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_hw")
    (root / "tests").mkdir()
    (root / "tests_hidden").mkdir()
    (root / "tests" / "test_h.py").write_text(TESTS.format(names=HOSTILE + HARMLESS))
    (root / "tests_hidden" / "test_secret.py").write_text(HIDDEN)
    (root / "grading.toml").write_text('[assignment]\nname = "hostile"\nsubmission = "hw.py"\n'
                                       'names = ["good"]\nload_timeout = 3\nbudget = 60\n')
    return root


def grade(hw, source, tmp, mode_full=False, extra_files=None):
    sub = tmp / "submission"
    sub.mkdir(parents=True, exist_ok=True)
    (sub / "hw.py").write_text(source)
    for name, text in (extra_files or {}).items():
        (sub / name).write_text(text)
    if mode_full:
        cfg = (hw / "grading.toml").read_text().replace('load_timeout', 'mode = "full"\nload_timeout')
        hw2 = tmp / "hw_full"
        import shutil

        shutil.copytree(hw, hw2)
        (hw2 / "grading.toml").write_text(cfg)
        hw = hw2
    out = tmp / "results" / "results.json"
    t0 = time.monotonic()
    record = run_tests(str(sub / "hw.py"), str(hw), gradescope_path=str(out))
    results = json.loads(out.read_text())
    jsonschema.validate(results, SCHEMA)
    return record, results, time.monotonic() - t0


@pytest.fixture(scope="module")
def runs(hw, tmp_path_factory):
    cases = {
        "functions": (FUNCTIONS, False, None),
        "syntax": ("def good(x:\n    return x\n", False, None),
        "loop_at_import": ("import numpy as np\nclass C:\n    while True:\n        pass\ndef good(x):\n    return 2*x\n",
                           False, None),
        "exit_at_import": ("import sys\nsys.exit(0)\ndef good(x):\n    return 2*x\n", True, None),
        "os_exit_at_import": ("import os\nos._exit(0)\n", True, None),
        "conftest": ("def good(x):\n    return 2 * x\n", False,
                     {"conftest.py": "import os\nos._exit(0)\n"
                                     "def pytest_collection_modifyitems(items):\n    items.clear()\n"}),
    }
    base = tmp_path_factory.mktemp("subs")

    def go(item):
        key, (source, full, extra) = item
        tmp = base / key
        if key.startswith("functions"):      # aim at the very results.json this run writes
            source = source.format(results=str(tmp / "results" / "results.json"),
                                   hidden=str(hw / "tests_hidden" / "test_secret.py"))
        return key, grade(hw, source, tmp, full, extra)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(pool.map(go, cases.items()))
    # the same submission again, in the same place (its source names its results.json)
    done["functions_again"] = go(("functions", cases["functions"]))[1]
    return done


def scores(results):
    return {t["name"]: t["score"] for t in results["tests"]}


def test_every_hostile_function_scores_zero_and_the_rest_is_graded(runs):
    record, results, seconds = runs["functions"]
    s = scores(results)
    for name in HOSTILE:
        assert s[f"function [name={name}]"] == 0.0, (name, s)
    assert s["function [name=shout]"] == 1.0          # loud but right
    assert s["good"] == 1.0 and s["secret"] == 1.0
    assert results["score"] == 3.0
    assert seconds < 40


def test_failures_say_what_happened(runs):
    record, _, _ = runs["functions"]
    kinds = {t["name"].split("=")[-1].rstrip("]"): (t["kind"], t["message"] + t["student_traceback"])
             for t in record["tests"]}
    assert kinds["spin"][0] == "timeout"
    assert kinds["hog"][0] == "student_error" and "MemoryError" in kinds["hog"][1]
    assert kinds["soft_exit"][0] == "student_error" and "SystemExit" in kinds["soft_exit"][1]
    assert kinds["hard_exit"][0] == "crash"
    assert kinds["always_equal"][0] == "checks_failed"
    for name in ("fake_results", "read_hidden"):      # refused (uid level) or not there at all (namespace)
        assert "PermissionError" in kinds[name][1] or "FileNotFoundError" in kinds[name][1], kinds[name]
    assert kinds["wrong_signature"][0] == "student_error" and "TypeError" in kinds["wrong_signature"][1]
    assert "does not define 'missing'" in kinds["missing"][1]
    assert "test_secret" in kinds["import_hidden"][1]
    assert "os.kill" in kinds["kill_grader"][1] and "ctypes" in kinds["use_ctypes"][1]


def test_nothing_hidden_leaks_and_output_is_capped(runs):
    _, results, _ = runs["functions"]
    text = json.dumps(results)
    assert SECRET not in text and "only the hint is shown" not in text      # passed: no hint needed
    assert "1000" not in text.replace("10000", "")                          # the fake results.json is gone
    assert len(text) < 100_000                                              # 10 MB of prints capped


def test_two_runs_are_identical_apart_from_timings(runs):
    a, b = runs["functions"][1], runs["functions_again"][1]
    a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
    for r in (a, b):
        r.pop("execution_time")
    for ta, tb in zip(a["tests"], b["tests"]):
        assert ta == tb
    assert a == b


def test_syntax_error_and_import_time_hostility_do_not_load(runs):
    for key, error in (("syntax", "SyntaxError"), ("loop_at_import", "Timeout"), ("exit_at_import", "SystemExit"),
                       ("os_exit_at_import", "Crash")):
        record, results, seconds = runs[key]
        first = results["tests"][0]
        assert first["name"] == "Submission loads" and first["visibility"] == "visible", key
        assert error in first["output"], (key, first["output"])
        rest = results["tests"][1:]
        assert rest and all(t["score"] == 0 and t["output"] == "not run: submission did not load"
                            for t in rest if t["visibility"] == "visible"), key
        assert results["score"] == 0 and seconds < 30, key


def test_planted_conftest_is_ignored(runs):
    _, results, _ = runs["conftest"]
    assert scores(results)["good"] == 1.0 and results["score"] == 2.0      # only good and secret exist there

"""The trusted/untrusted boundary: protocol, submission loading, worker isolation."""
import json
import time

import numpy as np
import pytest

from minidl.grading import protocol
from minidl.grading.loading import notebook_to_source, select_source
from minidl.grading.sandbox import StudentError, StudentTimeout, SubmissionDidNotLoad, Worker, WorkerDied

SUBMISSION = '''
import numpy as np
import os, sys
KEEP = 0.8
def dropout_forward(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), {"mask": mask, "p": p}
def uses_notebook_global():
    return data.sum()
def spin():
    while True:
        pass
def hard_exit():
    os._exit(0)
def soft_exit():
    sys.exit(0)
def allocate_10gb():
    return np.ones(10 ** 10 // 8)
def always_equal():
    class E:
        def __eq__(self, other):
            return True
    return E()
def shout():
    print("x" * 10_000_000)
    return 1
data = np.arange(5.0)
print("this training cell must not run in defs mode")
'''


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    path = tmp_path_factory.mktemp("sub") / "hw.py"
    path.write_text(SUBMISSION)
    w = Worker(str(path), seed=3)
    w.start()
    yield w
    w.close()


def restart(w):
    if not w.alive:
        w.close()
        w.start()


def test_roundtrip_of_plain_data_without_pickle():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": (1, 2.5, "s", None, True),
             "c": [np.int64(3), float("nan"), float("inf")], "d": b"\x00\x01"}
    data, _ = protocol.encode({"value": value})
    back, _ = protocol.decode(data)
    got = back["value"]
    np.testing.assert_array_equal(got["a"], value["a"])
    assert got["a"].dtype == np.float32 and got["b"] == (1, 2.5, "s", None, True)
    assert got["c"][0] == 3 and np.isnan(got["c"][1]) and got["c"][2] == float("inf") and got["d"] == b"\x00\x01"


def test_object_arrays_and_unknown_objects_do_not_cross():
    with pytest.raises(protocol.ProtocolError):
        protocol.encode({"value": np.array([object()], dtype=object)})
    with pytest.raises(protocol.ProtocolError):
        protocol.encode({"value": object()})


def test_generator_crosses_as_state():
    rng = np.random.default_rng(7)
    rng.random(3)
    data, sent = protocol.encode({"args": [rng]})
    back, rebuilt = protocol.decode(data)
    assert sent == [rng] and len(rebuilt) == 1
    assert rebuilt[0].random() == rng.random()


def test_defs_mode_keeps_only_definitions_and_constants():
    code, kept = select_source("import numpy as np\nX = 3\nY = np.ones(3)\nprint('run')\ndef f():\n  return X\n", "defs")
    assert kept == ["X", "f"]
    ns = {}
    exec(code, ns)
    assert ns["f"]() == 3 and "Y" not in ns


def test_notebook_code_cells_and_magics():
    nb = {"cells": [{"cell_type": "markdown", "source": ["# title"]},
                    {"cell_type": "code", "source": ["%matplotlib inline\n", "def f():\n", "    return 1\n"]},
                    {"cell_type": "code", "source": "!pip install x\nY = 2"}]}
    src = notebook_to_source(json.dumps(nb))
    assert "# (magic removed) %matplotlib inline" in src and "# (magic removed) !pip" in src
    ns = {}
    exec(compile(src, "nb", "exec"), ns)
    assert ns["f"]() == 1 and ns["Y"] == 2


def test_call_returns_values_and_advances_rng_like_a_local_call(worker):
    x = np.ones((4, 5))
    rng, ref = np.random.default_rng(11), np.random.default_rng(11)
    out, cache = worker.call("dropout_forward", x, 0.25, True, rng)
    mask = ref.random(x.shape) >= 0.25
    np.testing.assert_array_equal(out, x * mask / 0.75)
    np.testing.assert_array_equal(cache["mask"], mask)
    assert rng.random() == ref.random()          # same stream position afterwards


def test_defs_mode_did_not_run_the_training_cell(worker):
    assert "must not run" not in worker.output()
    with pytest.raises(StudentError, match="NameError"):
        worker.call("uses_notebook_global")


def test_infinite_loop_is_killed_at_the_timeout(worker):
    t0 = time.monotonic()
    with pytest.raises(StudentTimeout):
        worker.call("spin", timeout=1.0)
    assert time.monotonic() - t0 < 5
    assert not worker.alive
    restart(worker)


def test_exits_and_memory_hog_end_in_a_failed_call(worker):
    with pytest.raises(StudentError, match="SystemExit"):
        worker.call("soft_exit")
    with pytest.raises(StudentError, match="MemoryError"):
        worker.call("allocate_10gb")
    with pytest.raises(WorkerDied, match="exit status 0"):
        worker.call("hard_exit")
    restart(worker)


def test_always_equal_object_stays_in_the_worker(worker):
    value = worker.call("always_equal")
    assert isinstance(value, protocol.Handle)
    assert value != np.zeros(3).tolist()


def test_loud_output_is_capped(worker):
    assert worker.call("shout", timeout=20) == 1
    assert len(worker.output()) < 70_000


def test_syntax_error_is_reported_as_did_not_load(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def f(:\n  pass\n")
    with pytest.raises(SubmissionDidNotLoad, match="SyntaxError"):
        Worker(str(path)).start()


def test_exit_at_import_in_full_mode_is_did_not_load(tmp_path):
    path = tmp_path / "bye.py"
    path.write_text("import sys\nsys.exit(0)\n")
    with pytest.raises(SubmissionDidNotLoad, match="SystemExit"):
        Worker(str(path), mode="full").start()


def test_infinite_loop_at_import_times_out(tmp_path):
    path = tmp_path / "loop.py"
    path.write_text("while True:\n    pass\n")
    with pytest.raises(StudentTimeout):
        Worker(str(path), mode="full", load_timeout=1.5).start()

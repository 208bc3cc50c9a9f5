"""The trusted/untrusted boundary: protocol, submission loading, worker isolation."""
import json
import os
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


# -- isolation: levels, verification, failures that say their cause ---------------------------
def test_worker_is_confined_and_verified_from_outside(tmp_path, monkeypatch):
    from minidl.grading import isolation

    monkeypatch.setenv("GRADER_TOKEN", "tok-123")          # the grader's secrets stay the grader's

    level = isolation.probe()
    if level.name == "audit":
        pytest.skip(f"no isolation beyond the audit hook here: {level.reasons}")
    path = tmp_path / "who.py"
    path.write_text("import os\ndef who():\n    return [os.getpid(), os.getuid(), os.getcwd(), sorted(os.environ)]\n"
                    "def first_environ():\n    return open('/proc/self/environ', 'rb').read()\n")
    with Worker(str(path)) as w:
        pid, uid, cwd, env = w.call("who")
        with open(f"/proc/{w.proc.pid}/environ", "rb") as f:   # the block it started with
            assert b"tok-123" not in f.read()
        try:                                                    # (not even readable by itself)
            assert b"tok-123" not in w.call("first_environ")
        except StudentError as exc:
            assert "PermissionError" in str(exc)
        assert w.level == level.name and uid == w.uid and uid != 0
        assert isolation.verify_worker(w.proc.pid, w.level, w.uid, 512 * 2**20) == []
        assert "PATH" in env and not any(k.startswith(("MINIDL", "PYTEST", "VIRTUAL_ENV")) for k in env)
        if level.name == "namespace":
            assert pid == 1 and cwd == "/submission"


def test_setup_failure_reports_its_cause(tmp_path, monkeypatch):
    """A worker that cannot be set up says why (the traceback from inside), not "exit status 70"."""
    from minidl.grading import isolation
    from minidl.grading.sandbox import IsolationError

    level = isolation.probe()
    if level.name != "namespace":
        pytest.skip("needs namespace isolation")
    path = tmp_path / "ok.py"
    path.write_text("def f():\n    return 1\n")
    original = Worker._prepare_files

    def without_root(self):
        out = original(self)
        os.rmdir(os.path.join(self._workdir, "root"))       # the mount point the worker needs
        return out

    monkeypatch.setattr(Worker, "_prepare_files", without_root)
    with pytest.raises(IsolationError, match="could not be set up at namespace level") as info:
        Worker(str(path)).start()
    assert "mount" in str(info.value) and "Traceback" in info.value.traceback


def test_a_dead_zygote_is_reported_and_replaced(tmp_path):
    from minidl.grading.sandbox import worker_environment
    from minidl.grading.zygote import Zygote, ZygoteDied

    path = tmp_path / "ok.py"
    path.write_text("def f():\n    return 1\n")
    z = Zygote(worker_environment())
    z.proc.kill()
    z.proc.wait()
    with pytest.raises(ZygoteDied, match="fork server stopped"):
        z.poll(12345)
    with Worker(str(path), zygote=z) as w:          # the worker starts its own when the run's is gone
        assert w.call("f") == 1
    z.close()


def test_reply_cap_is_enforced_while_reading(tmp_path):
    from minidl.grading.sandbox import ReplyError

    path = tmp_path / "big.py"
    path.write_text("import numpy as np\ndef big():\n    return np.ones(3 * 2**20 // 8)\n"
                    "def small():\n    return np.ones(10)\n")
    with Worker(str(path), max_reply_mb=2) as w:
        assert w.call("small").sum() == 10
        with pytest.raises(ReplyError, match="more than the limit of 2 MiB"):
            w.call("big")
        assert not w.alive


def test_forged_generator_state_is_refused():
    rng, forged = np.random.default_rng(1), np.random.default_rng(2)
    advanced = np.random.default_rng(1)
    advanced.random(100)
    assert protocol.check_advanced_state(rng, protocol.generator_state(advanced)) is None
    assert "no sequence of draws" in protocol.check_advanced_state(
        rng, dict(protocol.generator_state(forged), state={"state": 5, "inc": rng.bit_generator.state["state"]["inc"]}))


def test_decoded_arrays_are_views_of_one_buffer_and_objects_are_refused():
    data, _ = protocol.encode({"value": [np.arange(6.0), np.ones((2, 2), dtype=np.float32)]})
    buf = bytearray(data)
    message, _ = protocol.decode(buf)
    a, b = message["value"]
    assert a.base is not None and a.flags.writeable and b.dtype == np.float32 and b.shape == (2, 2)
    bad = bytearray(data)
    bad[-1:] = b""                                      # truncated
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(bad)


def test_audit_level_still_grades_and_says_so(tmp_path, monkeypatch):
    """MINIDL_GRADE_ISOLATION caps the level (audit: a student's own check on a laptop)."""
    from minidl.grading import isolation

    monkeypatch.setenv(isolation.ENV_LEVEL, "audit")
    level = isolation.probe()
    assert level.name == "audit" and any("MINIDL_GRADE_ISOLATION=audit" in r for r in level.reasons)
    path = tmp_path / "ok.py"
    path.write_text("import os\ndef f():\n    return os.getuid()\n")
    with Worker(str(path), level="audit") as w:
        assert w.call("f") == os.getuid()
    with pytest.raises(ValueError, match="MINIDL_GRADE_ISOLATION must be one of"):
        monkeypatch.setenv(isolation.ENV_LEVEL, "none")
        isolation.probe()

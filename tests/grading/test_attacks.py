"""Attacks on the grader, as a cheating student would try them (issue 11).

Every attack runs twice: at namespace level (as root, where the kernel allows it; CI runs it)
and at uid level with namespaces disabled (``MINIDL_GRADE_ISOLATION=uid``). Each one must end
with the score asserted here (the points an attack would gain are not gained), no hidden text
in any output, a valid results.json that nothing rewrites after the grader ends, no process
left behind and no file left outside the worker.

An attack function returns the right answer (2·x) only when the attack worked, so a working
attack would score; when it fails it says why in its output (for debugging this file).
"""
import csv
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import uuid

import jsonschema
import pytest

from minidl.grading import isolation, writers
from minidl.grading.runner import run_tests

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the isolation levels are Linux's")

SCHEMA = json.load(open(os.path.join(os.path.dirname(__file__), "schemas", "gradescope.json")))
SECRET = "hidden-s3cr3t-" + uuid.uuid4().hex[:8]
MARK = "minidl-attack-" + uuid.uuid4().hex[:10]

ATTACKS = ["open_hidden", "os_open_dir_fd", "link_solution", "symlink_solution", "proc_cmdline", "proc_root",
           "parent_dirs", "import_hidden", "forge_results", "pidfd_kill_grader", "signal_grader",
           "read_other_worker", "write_outside", "flood_reply", "big_reply", "truncated_reply", "malformed_reply"]

TESTS = '''
import numpy as np
import pytest
from minidl.grading import G

G.assignment("attacks", submission="hw.py", names=["good"], load_timeout=10, budget=120)

@pytest.mark.parametrize("name", {attacks!r})
@G.test(1, timeout=8)
def test_attack(student, name):
    x = np.arange(4.0)
    G.check_close(student.call(name, x), 2 * x, name=name)

@G.test(1, name="wrong backward with a patched worker")
def test_gradient(student):
    x = np.linspace(0.5, 2.0, 6).reshape(2, 3)
    dout = np.full((2, 3), 0.5)
    dx = student.bwd(dout.copy())          # wrong (the true gradient is 3·dout); patches the worker
    G.check_grad(student.spec("fwd", G.X), x, dx, dout=dout, name="dx")

@G.test(1, name="rng forged")
def test_forge_rng(student, rng):
    G.check_close(student.forge_rng(np.arange(3.0), rng), 2 * np.arange(3.0), name="value")

@G.test(1, name="predict trusted data")
def test_predict_trusted(student, rng, trusted_rng):
    student.remember(rng)
    challenge = int(trusted_rng.integers(1 << 62))
    G.check_equal(student.guess(), challenge, name="guess")

@G.test(1, name="predict data from a rng the worker saw")
def test_predict_control(student, rng):
    student.remember(rng)
    challenge = int(rng.integers(1 << 62))
    G.check_equal(student.guess(), challenge, name="guess")

@G.test(1, name="always-equal object vs check_dtype")
def test_dtype(student):
    G.check_dtype(student.always_equal(np.arange(3.0)), np.float64, name="dtype")

@G.test(1, name="leftover process")
def test_leftover(student):
    x = np.arange(4.0)
    G.check_close(student.detach(x), x, name="value")

@G.test(1, number="9", name="good")
def test_good(student):
    x = np.arange(3.0)
    G.check_close(student.good(x), 2 * x, name="good")
'''

HIDDEN = f'''
import numpy as np
from minidl.grading import G

# {SECRET}: the text of this file must never reach a student
@G.test(1, visibility="hidden", hint="only the hint is shown")
def test_secret(student):
    x = np.arange(5.0)
    G.check_close(student.good(x), 2 * x, name="{SECRET}")
'''

SOLUTION = f'''
# {SECRET}
def good(x):
    return 2 * x
'''

SUBMISSION = r'''
import os, sys, glob, signal, subprocess, types
import numpy as np

HW = {hw!r}                     # literals: "defs" mode keeps constants, not expressions
HW_PARENT = {hw_parent!r}
HIDDEN = {hidden!r}
SOLUTION = {solution!r}
RESULTS = {results!r}
MARK = {mark!r}
SECRET_HINT = {secret_a!r} + {secret_b!r}     # split: this file itself must not look like a win
RECORD_HINT = '"base' + '_seed"'

def good(x):
    return 2 * x

def _won(text, x):
    """The attack read something: print it (a leak) and claim the points."""
    print("GOT:", text[:2000])
    return 2 * x if SECRET_HINT in text or RECORD_HINT in text else x

def _failed(exc, x):
    print("attack failed:", type(exc).__name__, exc)
    return x

def open_hidden(x):
    try:
        with open(HIDDEN) as f:
            return _won(f.read(), x)
    except Exception as exc:
        return _failed(exc, x)

def os_open_dir_fd(x):
    """A relative path and dir_fd: the audit hook sees neither the homework nor the file."""
    try:
        d = os.open(HW_PARENT, os.O_RDONLY | os.O_DIRECTORY)
        fd = os.open("hw/tests_hidden/test_secret.py", os.O_RDONLY, dir_fd=d)
        return _won(os.read(fd, 100000).decode(), x)
    except Exception as exc:
        return _failed(exc, x)

def link_solution(x):
    try:
        os.link(SOLUTION, "/tmp/" + MARK + "-link")
        with open("/tmp/" + MARK + "-link") as f:
            return _won(f.read(), x)
    except Exception as exc:
        return _failed(exc, x)

def symlink_solution(x):
    try:
        os.symlink(HIDDEN, "/tmp/" + MARK + "-sym")
        fd = os.open("/tmp/" + MARK + "-sym", os.O_RDONLY)
        return _won(os.read(fd, 100000).decode(), x)
    except Exception as exc:
        return _failed(exc, x)

def proc_cmdline(x):
    """Find the grader's paths in /proc/*/cmdline and /proc/*/environ, then read them."""
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        for part in ("cmdline", "environ"):
            try:
                with open(d + "/" + part, "rb") as f:
                    text = f.read().decode(errors="replace")
            except OSError:
                continue
            for word in text.replace("\0", " ").replace("=", " ").split():
                if "minidl-grade-" in word or word.endswith((".json", "tests_hidden")):
                    found.append(word)
    print("paths seen:", found)
    for path in found:
        for cand in (path, os.path.join(os.path.dirname(path), "record.json")):
            try:
                with open(cand) as f:
                    return _won(f.read(), x)
            except OSError:
                pass
    return x

def proc_root(x):
    """Through another process's root or cwd (the grader's, the zygote's, PID 1's)."""
    for d in ["/proc/1", "/proc/%d" % os.getppid()] + glob.glob("/proc/[0-9]*"):
        for sub in ("root" + HIDDEN, "cwd/tests_hidden/test_secret.py"):
            try:
                with open(d + "/" + sub) as f:
                    return _won(f.read(), x)
            except OSError:
                pass
    return x

def parent_dirs(x):
    """Up from the working directory, looking three levels down from each parent."""
    path = os.getcwd()
    for _ in range(12):
        depth = path.rstrip("/").count("/")
        for root, dirs, files in os.walk(path):
            if "test_secret.py" in files:
                try:
                    with open(os.path.join(root, "test_secret.py")) as f:
                        return _won(f.read(), x)
                except OSError as exc:
                    print("found, cannot read:", exc)
            dirs[:] = [d for d in dirs if root.rstrip("/").count("/") - depth < 3
                       and os.path.join(root, d) not in ("/proc", "/sys", "/usr", "/dev", "/lib", "/root")]
        if path == "/":
            break
        path = os.path.dirname(path)
    return x

def import_hidden(x):
    try:
        sys.path.insert(0, HW + "/tests_hidden")
        import test_secret
        return _won(open(test_secret.__file__).read(), x)
    except BaseException as exc:
        return _failed(exc, x)

def _quiet_popen(args):
    """subprocess.Popen without its audit event (process creation the hook does not see)."""
    fake = types.SimpleNamespace(**{{k: getattr(sys, k) for k in dir(sys) if not k.startswith("__")}})
    fake.audit = lambda *a, **k: None
    subprocess.sys = fake
    return subprocess.Popen(args, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

FORGED = '{{"score": 1000, "tests": []}}'

def forge_results(x):
    """A detached process that keeps rewriting results.json and any record it can find, well
    after the grader has exited."""
    script = ("end=$(($(date +%s)+12)); while [ $(date +%s) -lt $end ]; do echo '" + FORGED + "' > " + RESULTS +
              " 2>/dev/null; for r in /tmp/minidl-grade-*/record.json; do echo '" + FORGED + "' > $r 2>/dev/null; "
              "done; sleep 0.1; done # " + MARK)
    try:
        print("started", _quiet_popen(["/bin/sh", "-c", script]).pid)
    except Exception as exc:
        return _failed(exc, x)
    return x

def pidfd_kill_grader(x):
    """pidfd_send_signal is not os.kill: aim it at the zygote and at the grader above it."""
    targets = []
    try:
        ppid = os.getppid()
        targets.append(ppid)
        with open("/proc/%d/status" % ppid) as f:
            for line in f:
                if line.startswith("PPid:"):
                    targets.append(int(line.split()[1]))
    except Exception as exc:
        print("no parent to see:", exc)
    for pid in targets:
        if pid in (0, 1, os.getpid()):
            continue
        try:
            fd = os.pidfd_open(pid)
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            return 2 * x
        except Exception as exc:
            print("pidfd", pid, type(exc).__name__, exc)
    return x

def signal_grader(x):
    for pid in (os.getppid(), -os.getpgid(0)):
        try:
            os.kill(pid, signal.SIGKILL)
        except BaseException as exc:
            print("kill", pid, type(exc).__name__, exc)
    return x

def read_other_worker(x):
    """Other workers' folders (batch) and the grader's private folder."""
    for path in glob.glob("/tmp/minidl-*/*") + glob.glob("/tmp/minidl-*/*/*"):
        try:
            with open(path) as f:
                text = f.read()
            if SECRET_HINT in text or "record" in path:
                return _won(text, x)
        except OSError:
            pass
    return x

def write_outside(x):
    """Files outside the worker's folder must not survive it."""
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            with open(os.path.join(folder, MARK + "-file"), "w") as f:
                f.write("left behind")
        except OSError as exc:
            print("write", folder, exc)
    return x

def _server():
    import gc
    from minidl.grading import worker
    return [o for o in gc.get_objects() if isinstance(o, worker._Server)][0]

def _flood(mib):
    """A reply of ``mib`` MiB of garbage, written straight to the protocol pipe."""
    fd = _server().fd_out
    os.write(fd, (mib << 20).to_bytes(8, "little"))
    chunk = b"x" * (1 << 20)
    for _ in range(mib):
        os.write(fd, chunk)

def flood_reply(x):
    """1 GiB: refused from its announced size, unread."""
    _flood(1024)
    return x

def big_reply(x):
    """200 MiB (under the cap): read into one buffer, then refused as malformed."""
    _flood(200)
    return x

def truncated_reply(x):
    fd = _server().fd_out
    os.write(fd, (1000).to_bytes(8, "little") + b"{{")
    os._exit(0)

def malformed_reply(x):
    fd = _server().fd_out
    body = b"\xff" * 64
    os.write(fd, len(body).to_bytes(8, "little") + body)
    return x

def fwd(x):
    return 3.0 * x

def bwd(dout):
    """Wrong (the derivative of 3x is 3), then make the worker answer the grader's differencing
    calls with the identity so that 'numerical' agrees with this backward."""
    from minidl.grading import worker
    worker._Server.calls = lambda self, request: [c["args"][0] for c in request["value"]]
    worker._Server.numgrad = lambda self, request: request["value"][1]
    return dout

def forge_rng(x, rng):
    """Hand the grader a generator state of our choosing."""
    rng.bit_generator.state = np.random.default_rng(1234).bit_generator.state
    return 2 * x

_seen = []

def remember(rng):
    _seen.append(rng.bit_generator.state)

def guess():
    g = np.random.default_rng()
    g.bit_generator.state = _seen[-1]
    return int(g.integers(1 << 62))

def always_equal(x):
    class Sneaky:
        dtype = np.dtype("float64")
        def __eq__(self, other):
            return True
    return Sneaky()

def detach(x):
    print("started", _quiet_popen(["/bin/sh", "-c", "sleep 60 # " + MARK]).pid)
    return x
'''

EXPECTED = dict({f"attack [name={a}]": 0.0 for a in ATTACKS}, **{
    "wrong backward with a patched worker": 0.0, "rng forged": 0.0, "predict trusted data": 0.0,
    "predict data from a rng the worker saw": 1.0,      # why tests draw secret data from trusted_rng
    "always-equal object vs check_dtype": 0.0, "leftover process": 1.0, "good": 1.0, "secret": 1.0})


def _level_or_skip(level):
    reached = isolation.probe(level)
    if reached.name != level:
        pytest.skip(f"{level} isolation is not available here: {'; '.join(reached.reasons)}")


def _open_dir():
    """A folder that others may enter (pytest's tmp_path is private to root, which would hide
    the homework from a uid-level worker for the wrong reason)."""
    path = tempfile.mkdtemp(prefix="minidl-attack-hw-")
    os.chmod(path, 0o755)
    return path


def _leftover_processes():
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if MARK.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def _leftover_files():
    return [p for folder in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(folder)
            for p in os.listdir(folder) if MARK in p]


@pytest.fixture(scope="module", params=["namespace", "uid"])
def attacked(request):
    """The attack homework graded once per level: (level, record, results, seconds, results path)."""
    level = request.param
    _level_or_skip(level)
    root = _open_dir()
    hw = os.path.join(root, "hw")
    for d in ("tests", "tests_hidden", "solution"):
        os.makedirs(os.path.join(hw, d))
    with open(os.path.join(hw, "tests", "test_attacks.py"), "w") as f:
        f.write(TESTS.format(attacks=ATTACKS))
    with open(os.path.join(hw, "tests_hidden", "test_secret.py"), "w") as f:
        f.write(HIDDEN)
    with open(os.path.join(hw, "solution", "hw.py"), "w") as f:
        f.write(SOLUTION)
    for dirpath, dirs, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o644)
    results = os.path.join(root, "results", "results.json")
    os.makedirs(os.path.dirname(results), mode=0o755)
    sub = os.path.join(root, "submission")
    os.makedirs(sub)
    with open(os.path.join(sub, "hw.py"), "w") as f:
        f.write(SUBMISSION.format(secret_a=SECRET[:9], secret_b=SECRET[9:], hw=hw, hw_parent=root, results=results,
                                  hidden=os.path.join(hw, "tests_hidden", "test_secret.py"),
                                  solution=os.path.join(hw, "solution", "hw.py"), mark=MARK))
    old = os.environ.get(isolation.ENV_LEVEL)
    os.environ[isolation.ENV_LEVEL] = level
    try:
        t0 = time.monotonic()
        record = run_tests(os.path.join(sub, "hw.py"), hw, gradescope_path=results)
        seconds = time.monotonic() - t0
    finally:
        if old is None:
            os.environ.pop(isolation.ENV_LEVEL, None)
        else:
            os.environ[isolation.ENV_LEVEL] = old
    with open(results) as f:
        text = f.read()
    yield level, record, text, seconds, results
    shutil.rmtree(root, ignore_errors=True)


def test_each_attack_gets_exactly_its_score(attacked):
    level, record, text, seconds, _ = attacked
    results = json.loads(text)
    jsonschema.validate(results, SCHEMA)
    got = {t["name"]: t["score"] for t in results["tests"]}
    assert got == EXPECTED, {k: (got.get(k), v) for k, v in EXPECTED.items() if got.get(k) != v}
    assert record["isolation"]["level"] == level and results["extra_data"]["isolation"] == level
    assert record["isolation"]["verified"] is True
    assert seconds < 90


def test_no_hidden_text_in_any_output(attacked):
    level, record, text, _, _ = attacked
    student_views = [text, writers.table(record, audience="student"), writers.render(record, "prairielearn")]
    for view in student_views:
        assert SECRET not in view, level
    # what the submission printed (it prints whatever an attack read) holds no secret either
    assert not any(SECRET in t.get("student_output", "") for t in record["tests"])


def test_results_survive_the_grader_and_nothing_is_left_behind(attacked):
    level, record, text, _, results = attacked
    time.sleep(1.0)                                    # the forger would rewrite every 0.1 s
    with open(results) as f:
        assert f.read() == text, "results.json changed after grading ended"
    assert _leftover_processes() == [], "processes the submission started survived"
    assert _leftover_files() == [], "files the submission wrote outside its folder survived"
    # the worker folders (each held a copy of this submission, which names MARK) are gone;
    # other developers' graders may be running here, so only folders with our marker count
    ours = []
    for name in os.listdir("/tmp"):
        if name.startswith(("minidl-worker-", "minidl-grade-", "minidl-zygote-")):
            for dirpath, _, files in os.walk(os.path.join("/tmp", name)):
                for f in files:
                    try:
                        with open(os.path.join(dirpath, f), "rb") as fh:
                            if MARK.encode() in fh.read():
                                ours.append(dirpath)
                    except OSError:
                        pass
    assert ours == []


def test_failures_are_the_students_with_clear_messages(attacked):
    level, record, _, _, _ = attacked
    by = {t["name"]: t for t in record["tests"]}
    flood = by["attack [name=flood_reply]"]
    assert flood["kind"] == "student_error" and "more than the limit of 256 MiB" in flood["message"], flood
    assert flood["duration"] < 8
    for name in ("malformed_reply", "big_reply"):
        message = by[f"attack [name={name}]"]["message"]
        assert message.startswith("Your code's answer cannot be graded") and "malformed" in message, message
    truncated = by["attack [name=truncated_reply]"]["message"]
    assert "cannot be graded" in truncated and "after sending 1 of the 1000 bytes" in truncated, truncated
    assert "different values for the same input" in by["wrong backward with a patched worker"]["message"]
    assert "the random generator came back" in by["rng forged"]["message"]
    dtype_check = by["always-equal object vs check_dtype"]["checks"][0]
    assert not dtype_check["passed"] and "Sneaky object" in dtype_check["message"]
    # the attacks really ran, and the operating system stopped them (not the audit hook)
    out = {t["name"].split("=")[-1].rstrip("]"): t.get("student_output", "") for t in record["tests"]}
    assert "started" in out["forge_results"] and "started" in by["leftover process"]["student_output"]
    refused = "PermissionError [Errno 13]" if level == "uid" else "FileNotFoundError [Errno 2]"
    for name in ("os_open_dir_fd", "link_solution"):
        assert f"attack failed: {refused}" in out[name], (name, out[name])
    if level == "uid":
        assert "pidfd" in out["pidfd_kill_grader"] and "Operation not permitted" in out["pidfd_kill_grader"]
    assert not any(t["kind"] == "autograder_error" for t in record["tests"]), \
        [(t["name"], t["message"]) for t in record["tests"] if t["kind"] == "autograder_error"]


def test_grader_memory_stays_bounded_under_a_flood(attacked):
    # the grader's own peak (it records ru_maxrss): a 1 GiB flood is refused unread, a 200 MiB
    # reply of garbage is read into one buffer and refused — about the cap plus the baseline
    level, record, _, _, _ = attacked
    assert 0 < record["grader_max_rss_mib"] < 2 * 256, record["grader_max_rss_mib"]


# -- batch: no submission reaches another ---------------------------------------------------
BATCH_TESTS = '''
import numpy as np
from minidl.grading import G

G.assignment("batch", names=["f"], budget=60, load_timeout=10)

@G.test(1)
def test_f(student):
    x = np.arange(4.0)
    G.check_close(student.f(x), 2 * x, name="f")

@G.test(1, timeout=15)
def test_g(student):
    x = np.arange(4.0)
    G.check_close(student.g(x), 3 * x, name="g")
'''

BATCH_SUBMISSIONS = {
    "alice.py": "def f(x):\n    return 2 * x\ndef g(x):\n    import time\n    time.sleep(5)\n    return 3 * x\n",
    "mallory.py": "def f(x):\n    import alice\n    return alice.f(x)\n"
                  "def g(x):\n    import glob, os, time\n"
                  "    end = time.time() + 10  # alice is graded at the same time (--jobs 2): wait for her worker\n"
                  "    while time.time() < end:\n"
                  "        for p in glob.glob(os.path.join({folder!r}, '*.py')) + "
                  "glob.glob('/tmp/minidl-worker-*/submission/alice.py'):\n"
                  "            try:\n                exec(open(p).read(), globals())\n"
                  "                return globals()['g'](x) if 'alice' in p else x\n"
                  "            except Exception:\n                pass\n"
                  "        time.sleep(0.05)\n    return x\n",
}


@pytest.mark.parametrize("level", ["namespace", "uid"])
def test_batch_submissions_cannot_reach_each_other(level, monkeypatch, capsys):
    from minidl.grading.cli import main

    _level_or_skip(level)
    monkeypatch.setenv(isolation.ENV_LEVEL, level)
    root = _open_dir()
    try:
        hw = os.path.join(root, "hw")
        os.makedirs(os.path.join(hw, "tests"))
        with open(os.path.join(hw, "tests", "test_b.py"), "w") as f:
            f.write(BATCH_TESTS)
        subs = os.path.join(root, "subs")
        os.makedirs(subs)
        for name, body in BATCH_SUBMISSIONS.items():
            with open(os.path.join(subs, name), "w") as f:
                f.write(body.format(folder=subs))
        for dirpath, dirs, files in os.walk(root):
            os.chmod(dirpath, 0o755)
            for name in files:
                os.chmod(os.path.join(dirpath, name), 0o644)
        out = os.path.join(root, "grades.csv")
        assert main(["batch", subs, "--tests", hw, "--jobs", "2", "--out", out]) == 0
        rows = {r["submission"]: r for r in csv.DictReader(open(out))}
        assert rows["alice.py"]["score"] == "2" and rows["mallory.py"]["score"] == "0", rows
        assert stat.S_IMODE(os.stat(out).st_mode) & 0o022 == 0       # written by the grader only
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- the example homework: in-place mutation, the all-zeros submission ---------------------
HW = os.path.join(os.path.dirname(__file__), "..", "..", "tutorials", "homework", "dropout_init")

IN_PLACE_CHEAT = '''
import numpy as np

def dropout_forward(x, p, training, rng):
    """Write zeros into x: a test that compared with its own x after the call would pass."""
    mask = rng.random(x.shape) >= p
    x[...] = 0.0
    return x, (mask, p, training)

def dropout_backward(dout, cache):
    dout[...] = 0.0
    return dout

def he_normal_(w, rng):
    return w
'''


@pytest.mark.parametrize("level", ["namespace", "uid"])
def test_in_place_writes_gain_nothing(level, monkeypatch, tmp_path):
    _level_or_skip(level)
    monkeypatch.setenv(isolation.ENV_LEVEL, level)
    work = tmp_path / "hw"
    shutil.copytree(HW, work)            # uid level tightens the homework's permissions: a copy
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dropout_init.py").write_text(IN_PLACE_CHEAT)
    record = run_tests(str(tmp_path / "sub" / "dropout_init.py"), str(work))
    scores = {t["name"]: t["score"] for t in record["tests"]}
    assert scores["p = 0 keeps everything, p = 1 drops everything"] == 0.0
    assert scores["inputs are not modified"] == 0.0
    assert sum(scores.values()) == 0.0, scores


@pytest.mark.parametrize("level", ["namespace", "uid"])
def test_strict_refuses_below_namespace(level, monkeypatch, tmp_path):
    _level_or_skip(level)
    monkeypatch.setenv(isolation.ENV_LEVEL, level)
    work = tmp_path / "hw"
    shutil.copytree(HW, work)
    cfg = work / "grading.toml"
    cfg.write_text(cfg.read_text().replace("[assignment]", '[assignment]\nisolation = "strict"'))
    out = tmp_path / "results.json"
    record = run_tests(str(work / "solution"), str(work), gradescope_path=str(out))
    results = json.loads(out.read_text())
    jsonschema.validate(results, SCHEMA)
    if level == "namespace":
        assert results["score"] == 22.0
    else:
        assert results["score"] == 0.0 and record["tests"][0]["kind"] == "autograder_error"
        assert "requires namespace isolation" in results["tests"][0]["output"]


# -- the whole grader killed (Gradescope's outer limit) --------------------------------------
KILL_TESTS = '''
import numpy as np
from minidl.grading import G

@G.test(1, number="1")
def test_good(student):
    G.check_close(student.good(np.arange(3.0)), 2 * np.arange(3.0))

@G.test(1, number="2", timeout=60)
def test_spin(student):
    student.spin()
'''


def test_killed_grader_leaves_valid_results_and_no_worker(tmp_path):
    import signal
    import subprocess

    hw = tmp_path / "hw"
    (hw / "tests").mkdir(parents=True)
    (hw / "tests" / "test_k.py").write_text(KILL_TESTS)
    sub = tmp_path / "hw.py"
    sub.write_text(f"def good(x):\n    return 2 * x\ndef spin():\n    while True:  # {MARK}-spin\n        pass\n")
    out = tmp_path / "results.json"
    proc = subprocess.Popen([sys.executable, "-m", "minidl.grading", "run", str(sub), "--tests", str(hw),
                             "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:               # until test 1 is graded and test 2 spins
        try:
            if any(t["name"] == "good" and t["status"] == "passed" for t in json.loads(out.read_text())["tests"]):
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    time.sleep(1.0)
    tree = _descendants(proc.pid)                     # grader, zygote, the spinning worker
    assert len(tree) >= 3, tree
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    results = json.loads(out.read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 1.0
    time.sleep(1.5)                                   # they die with it (parent-death signals)
    alive = [pid for pid in tree if _running(pid)]
    assert alive == [], alive


def _running(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except OSError:
        return False


def _descendants(root):
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status") as f:
                    parents[int(name)] = int([line for line in f if line.startswith("PPid:")][0].split()[1])
            except (OSError, IndexError):
                pass
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found

"""Run the graded tests of a homework on one submission, in a separate pytest process.

The pytest process (the grader) loads :mod:`minidl.grading.plugin` and never imports the
submission; it writes the grading record after every test. This module starts it with an
outer time limit (the budget plus a margin), kills its process group if that passes, and
returns the record with every test that did not get to run marked "not run" — so a run always
ends in a complete record, never a blank grade.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from minidl.grading import results as R

CONFIG_NAME = "grading.toml"
OUTER_MARGIN = 20.0


class Homework:
    """A homework folder: ``tests/``, ``tests_hidden/``, ``grading.toml`` (all optional but
    tests), ``solution/``, ``mutants/``, ``handout/``."""

    def __init__(self, path):
        path = os.path.abspath(path)
        if os.path.basename(path) in ("tests", "tests_hidden") and not os.path.isfile(os.path.join(path, CONFIG_NAME)):
            self.root = os.path.dirname(path)
            self.test_dirs = [path]
        else:
            self.root = path
            self.test_dirs = [d for d in (os.path.join(path, "tests"), os.path.join(path, "tests_hidden"))
                              if os.path.isdir(d)]
            if not self.test_dirs:
                self.test_dirs = [path]
        cfg = os.path.join(self.root, CONFIG_NAME)
        self.config = cfg if os.path.isfile(cfg) else None

    @property
    def public_dirs(self):
        return [d for d in self.test_dirs if os.path.basename(d) != "tests_hidden"]

    def settings(self):
        from minidl.grading.plugin import load_config_file

        return load_config_file(self.config) if self.config else {}

    def sub(self, name):
        return os.path.join(self.root, name)


def run_tests(submission, homework, *, public_only=False, seed=None, budget=None, keyword=None, worker=None,
              sweep=0, tag=None, gradescope_path=None, extra_deny=(), quiet=True, timeout=None):
    """Grade ``submission`` with ``homework``'s tests; returns the record (a dict)."""
    hw = homework if isinstance(homework, Homework) else Homework(homework)
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="minidl-grade-")
    record_path = os.path.join(tmp, "record.json")
    ini = os.path.join(tmp, "pytest.ini")
    with open(ini, "w") as f:
        f.write("[pytest]\n")
    dirs = hw.public_dirs if public_only else hw.test_dirs
    deny = list(hw.test_dirs) + [hw.sub("solution"), hw.sub("mutants"), tmp] + list(extra_deny)
    if gradescope_path:
        deny.append(os.path.abspath(gradescope_path))
    sub_abs = os.path.abspath(submission)
    deny = [d for d in deny if not (sub_abs == d or sub_abs.startswith(d + os.sep))]
    cmd = [sys.executable, "-m", "pytest", "-p", "minidl.grading.plugin", "-p", "no:cacheprovider", "-q",
           "--no-header", "--continue-on-collection-errors", "-c", ini, "--rootdir", hw.root, "--confcutdir", hw.root, "-W", "ignore",
           *dirs, "--grade-submission", sub_abs, "--grade-record", record_path, "--grade-started", repr(started)]
    if hw.config:
        cmd += ["--grade-config", hw.config]
    if public_only:
        cmd.append("--grade-public")
    if seed is not None:
        cmd += ["--grade-seed", str(int(seed))]
    if budget is not None:
        cmd += ["--grade-budget", str(float(budget))]
    if keyword:
        cmd += ["-k", keyword]
    if worker:
        cmd += ["--grade-worker", worker]
    if sweep:
        cmd += ["--grade-sweep", str(int(sweep))]
    if tag:
        cmd += ["--grade-tag", tag]
    if gradescope_path:
        cmd += ["--grade-gradescope", os.path.abspath(gradescope_path)]
    for d in deny:
        cmd += ["--grade-deny", d]
    if budget is None:
        budget = float(hw.settings().get("budget", 540.0))
    limit = timeout if timeout is not None else budget + OUTER_MARGIN
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.Popen(cmd, cwd=hw.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=limit)
        killed = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        killed = True
    log = log.decode("utf-8", errors="replace")
    record = finish_record(record_path, submission, started, killed, log, proc.returncode)
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        sys.stderr.write(log)
    record["log"] = log[-20000:]
    if gradescope_path:
        from minidl.grading import writers

        R.atomic_write_json(gradescope_path, writers.gradescope(record))
    return record


def finish_record(record_path, submission, started, killed, log, returncode):
    """The record as the grader left it, with unfinished tests marked and a reason when the
    grader itself failed (then one failed test says so: never a blank grade)."""
    try:
        record = R.load_record(record_path)
    except (OSError, ValueError):
        record = {"assignment": None, "base_seed": None, "submission": submission, "tests": [], "leaderboard": [],
                  "warnings": [], "load_error": None, "versions": {}}
    record["submission"] = submission
    record["execution_time"] = round(time.time() - started, 3)
    for t in record.get("tests", []):
        if t.get("status") == "pending":
            t.update(status="not_run", kind="budget" if killed else "pending", score=0.0)
    if killed:
        record["warnings"].append("the grader was stopped at its time limit")
    if not record.get("tests") or (returncode not in (0, 1, 5) and not killed):
        record["error"] = f"grader exited with status {returncode}"
        record["tests"].append({
            "id": "autograder", "name": "Autograder", "number": None, "points": 0.0, "score": 0.0,
            "status": "failed", "kind": "autograder_error", "visibility": "visible", "tags": [], "hint": None,
            "seed": None, "duration": 0.0, "checks": [], "student_traceback": "", "student_output": "",
            "reproduce": "", "message": "Autograder error: no test could be run (tell your instructor).",
            "instructor_traceback": log[-4000:]})
    return record

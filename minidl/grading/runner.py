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


def protected_paths(hw, submission, tmp, gradescope_path=None, extra=()):
    """What a worker must never see: the homework (tests, hidden tests, solution, mutants,
    config), the grader's folder (record), results, and whatever the caller adds (a batch's
    other submissions). The submission itself is copied into the worker, never shown in place."""
    paths = [hw.root] + list(hw.test_dirs) + [hw.sub("solution"), hw.sub("mutants"), tmp] + list(extra)
    if gradescope_path:
        paths.append(os.path.abspath(gradescope_path))
    out = []
    for p in paths:
        p = os.path.abspath(p)
        if p not in out:
            out.append(p)
    return out


def _uid_level_permissions(hw, extra=()):
    """At uid level the worker sees the host's files: hidden tests, solution and mutants (and a
    batch's submissions folder) must be closed to other users. Returns what was changed."""
    from minidl.grading import isolation

    targets = [d for d in (hw.sub("tests_hidden"), hw.sub("solution"), hw.sub("mutants")) if os.path.isdir(d)]
    targets += [p for p in extra if os.path.exists(p)]
    return isolation.close_to_others(targets)


def _refusal(submission, started, level, gradescope_path):
    record = {"assignment": None, "base_seed": None, "submission": submission, "started_at": started,
              "execution_time": 0.0, "load_error": None, "missing_names": [], "leaderboard": [], "warnings": [],
              "versions": {}, "isolation": {"level": level.name, "reasons": level.reasons},
              "error": f"isolation = \"strict\" needs namespace isolation; this machine gives {level.name}",
              "tests": [{"id": "autograder", "name": "Autograder", "number": None, "points": 0.0, "score": 0.0,
                         "status": "failed", "kind": "autograder_error", "visibility": "visible", "tags": [],
                         "hint": None, "seed": None, "duration": 0.0, "checks": [], "student_traceback": "",
                         "student_output": "", "reproduce": "",
                         "message": f"Autograder error: this assignment requires namespace isolation "
                                    f'(isolation = "strict") and this machine gives {level.name}: '
                                    f'{"; ".join(level.reasons)}. Nothing was graded (tell your instructor).'}]}
    if gradescope_path:
        from minidl.grading import writers

        R.atomic_write_json(gradescope_path, writers.gradescope(record))
    return record


def run_tests(submission, homework, *, public_only=False, seed=None, budget=None, keyword=None, worker=None,
              sweep=0, tag=None, gradescope_path=None, extra_deny=(), quiet=True, timeout=None, protect=()):
    """Grade ``submission`` with ``homework``'s tests; returns the record (a dict).

    The grader is a pytest process started here; its paths (submission, homework config,
    record, results) reach it through a private options file named in its environment, never
    its argv. ``protect``: more paths no worker may see (a batch's submissions folder)."""
    import json

    from minidl.grading import isolation
    from minidl.grading.sandbox import isolation_level

    hw = homework if isinstance(homework, Homework) else Homework(homework)
    started = time.time()
    settings = hw.settings()
    level = isolation_level()
    if gradescope_path:
        _provisional_results(gradescope_path)
    if settings.get("isolation") == "strict" and level.name != "namespace":
        return _refusal(submission, started, level, gradescope_path)
    tmp = tempfile.mkdtemp(prefix="minidl-grade-")          # 0700: the grader's alone
    record_path = os.path.join(tmp, "record.json")
    ini = os.path.join(tmp, "pytest.ini")
    with open(ini, "w") as f:
        f.write("[pytest]\n")
    dirs = hw.public_dirs if public_only else hw.test_dirs
    sub_abs = os.path.abspath(submission)
    protected = protected_paths(hw, sub_abs, tmp, gradescope_path, list(extra_deny) + list(protect))
    # the audit hook (defence in depth) refuses the same paths, but those holding the submission
    deny = [d for d in protected if not (sub_abs == d or sub_abs.startswith(d + os.sep))]
    warnings = []
    if level.name == "uid":
        changed = _uid_level_permissions(hw, protect)
        if changed:
            warnings.append(f"uid isolation: closed to other users: {', '.join(changed)}")
    options = {"submission": sub_abs, "record": record_path, "started": started, "deny": deny,
               "protected": protected, "level": level.name, "level_reasons": level.reasons, "warnings": warnings}
    if hw.config:
        options["config"] = hw.config
    if gradescope_path:
        options["gradescope"] = os.path.abspath(gradescope_path)
    options_path = os.path.join(tmp, "options.json")
    with open(options_path, "w") as f:
        json.dump(options, f)
    cmd = [sys.executable, "-m", "pytest", "-p", "minidl.grading.plugin", "-p", "no:cacheprovider", "-q",
           "--no-header", "--continue-on-collection-errors", "--rootdir", ".", "--confcutdir", ".", "-W", "ignore",
           *[os.path.relpath(d, hw.root) for d in dirs]]
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
    if budget is None:
        budget = float(settings.get("budget", 540.0))
    limit = timeout if timeout is not None else budget + OUTER_MARGIN
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    env["PYTEST_ADDOPTS"] = f"-c {ini}"
    env["MINIDL_GRADE_OPTIONS"] = options_path
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
    record.setdefault("isolation", {"level": level.name, "reasons": level.reasons,
                                    "protects": isolation.describe(level.name)})
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        sys.stderr.write(log)
    record["log"] = log[-20000:]
    if gradescope_path:
        from minidl.grading import writers

        R.atomic_write_json(gradescope_path, writers.gradescope(record))
    return record


def _provisional_results(path):
    """A valid results.json before anything runs: should the whole grader be killed before it
    writes one, Gradescope still gets a grade (0) and the reason."""
    from minidl.grading import writers

    record = {"tests": [{"id": "autograder", "name": "Autograder", "points": 0.0, "score": 0.0, "status": "failed",
                         "kind": "autograder_error", "visibility": "visible", "tags": [], "checks": [],
                         "message": "The grader stopped before it could grade anything (time limit or crash): "
                                    "tell your instructor."}],
              "execution_time": 0.0, "warnings": []}
    R.atomic_write_json(path, writers.gradescope(record))


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

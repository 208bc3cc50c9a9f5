"""The pytest plugin that turns ``@G.test`` functions into a grade.

Loaded only on request (``pytest -p minidl.grading.plugin``; ``minidl-grade`` does it), so
ordinary minidl test runs are unaffected. For every graded test it

1. skips it with "not run: submission did not load" / "not run: time budget exhausted" when
   that is the case (the load is tried once, before the first test);
2. gives it fixtures ``seed`` (sha256 of assignment, base seed and test id), ``rng``
   (``default_rng(seed)``) and ``student`` (a worker seeded with ``seed``; one per test, or
   one per module reseeded per test, as the assignment says), with the test's time limit
   applied to every call;
3. records the soft checks (:mod:`minidl.grading.checks`) and classifies how the test ended
   (completed, failed require/assert, student exception, timeout, crash, autograder error);
4. rewrites the record and results.json atomically after every test.
"""
import os
import time
import traceback

import numpy as np
import pytest

from minidl.grading import results as R
from minidl.grading import writers
from minidl.grading.api import G
from minidl.grading.checks import RequireFailed, recording
from minidl.grading.sandbox import (IsolationError, ReplyError, StudentError, StudentTimeout, SubmissionDidNotLoad,
                                    Worker, WorkerDied)
from minidl.grading.seeding import test_seed
from minidl.grading.student import Student

SWEEP_PARAM = "grading_base_seed"
STATISTICAL_TAG = "statistical"


def pytest_addoption(parser):
    group = parser.getgroup("minidl-grade")
    group.addoption("--grade-submission", help="the student's file or folder")
    group.addoption("--grade-config", help="the homework's grading.toml")
    group.addoption("--grade-seed", type=int, default=None, help="base seed")
    group.addoption("--grade-record", help="write the full grading record (JSON) here")
    group.addoption("--grade-gradescope", help="write Gradescope results.json here after every test")
    group.addoption("--grade-budget", type=float, default=None, help="seconds for the whole run")
    group.addoption("--grade-started", type=float, default=None, help="epoch time the run started")
    group.addoption("--grade-worker", choices=("test", "module"), default=None)
    group.addoption("--grade-public", action="store_true", help="only visible tests (students' check)")
    group.addoption("--grade-sweep", type=int, default=0,
                    help="run tests tagged 'statistical' under this many base seeds (validate)")
    group.addoption("--grade-tag", default=None, help="only tests carrying this tag")
    group.addoption("--grade-deny", action="append", default=[], help="paths the submission may not read")
    group.addoption("--grade-reproduce", default="minidl-grade check {submission} -k {name} --seed {base}")
    group.addoption("--grade-options", default=None,
                    help="a JSON file of these options (minidl-grade passes its paths this way, through the "
                         "environment variable MINIDL_GRADE_OPTIONS, so that no path appears in any argv)")


OPTIONS_ENV = "MINIDL_GRADE_OPTIONS"


def _read_options(config):
    import json

    path = config.getoption("grade_options") or os.environ.get(OPTIONS_ENV)
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_config_file(path):
    """Assignment settings from a ``grading.toml`` ``[assignment]`` table."""
    try:
        import tomllib
    except ModuleNotFoundError:     # Python 3.10: the same parser from PyPI ([grading] installs it)
        import tomli as tomllib

    with open(path, "rb") as f:
        data = tomllib.load(f)
    return data.get("assignment", data)


class GradingState:
    def __init__(self, config):
        options = _read_options(config)

        def opt(name):
            key = name.removeprefix("grade_")
            return options[key] if key in options else config.getoption(name)

        self.opt = opt
        self.config = config
        if opt("grade_config"):
            G.settings.update(**load_config_file(opt("grade_config")))
        self.started_wall = opt("grade_started") or time.time()
        self.started = time.monotonic() - max(0.0, time.time() - self.started_wall)
        self.submission_arg = opt("grade_submission")
        self.record_path, self.gradescope_path = opt("grade_record"), opt("grade_gradescope")
        self.sweep = opt("grade_sweep")
        self.deny = list(opt("grade_deny") or [])
        self.protected = list(options.get("protected") or self.deny)
        self.workers = {}
        self.zygote = None
        from minidl.grading import isolation
        from minidl.grading.sandbox import isolation_level, worker_environment
        from minidl.grading.zygote import Zygote

        self.zygote = Zygote(worker_environment())   # its imports overlap with collection
        if options.get("level"):
            self.level = isolation.Level(options["level"], options.get("level_reasons") or [])
        else:
            self.level = isolation_level()
        self.submission_file = None
        self.load_error = None
        self.loaded = False
        self.record = {"assignment": None, "base_seed": None, "submission": self.submission_arg,
                       "started_at": self.started_wall, "execution_time": 0.0, "load_error": None,
                       "missing_names": [], "tests": [], "leaderboard": [], "warnings": [],
                       "versions": R.versions(), "release_hidden_output": False,
                       "isolation": {"level": self.level.name, "reasons": self.level.reasons,
                                     "protects": isolation.describe(self.level.name)}}
        self.by_nodeid = {}
        self.record["warnings"] += list(options.get("warnings") or [])

    # -- settings (CLI options win over G.assignment / grading.toml) ------------------------
    @property
    def settings(self):
        return G.settings

    @property
    def base_seed(self):
        s = self.opt("grade_seed")
        return self.settings.seed if s is None else s

    @property
    def budget(self):
        b = self.opt("grade_budget")
        return self.settings.budget if b is None else b

    @property
    def worker_scope(self):
        return self.opt("grade_worker") or self.settings.worker

    def elapsed(self):
        return time.monotonic() - self.started

    # -- the submission ----------------------------------------------------------------------
    def resolve_submission(self):
        from minidl.grading.loading import SubmissionError, find_submission_file

        if self.submission_file or self.load_error:
            return
        if not self.submission_arg:
            self.load_error = {"error_type": "UsageError", "message": "no submission given", "traceback": ""}
            return
        try:
            self.submission_file = find_submission_file(self.submission_arg, self.settings.submission)
        except SubmissionError as exc:
            self.load_error = {"error_type": "FileNotFoundError", "message": str(exc), "traceback": ""}

    def helpers(self):
        """Other files of a folder submission (a single file gets nothing else: in a batch
        folder, its neighbours are other students' submissions)."""
        if not (self.submission_arg and os.path.isdir(self.submission_arg)):
            return []
        folder = os.path.dirname(self.submission_file)
        return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".py")]

    def new_worker(self, seed, timeout, first=False):
        from minidl.grading.seeding import worker_seed

        if self.zygote is None or not self.zygote.alive:
            from minidl.grading.sandbox import worker_environment
            from minidl.grading.zygote import Zygote

            log = self.zygote.log() if self.zygote is not None else ""
            if self.zygote is not None:
                self.record["warnings"].append("the worker fork server stopped and was restarted: " + log[-500:])
            self.zygote = Zygote(worker_environment())
        w = Worker(self.submission_file, mode=self.settings.mode, seed=worker_seed(seed),
                   memory_mb=self.settings.memory_mb, load_timeout=max(0.5, min(self.settings.load_timeout, timeout)),
                   deny_paths=self.deny, zygote=self.zygote, level=self.level.name, protected=self.protected,
                   helpers=self.helpers(), max_reply_mb=self.settings.max_reply_mb, user=self.settings.worker_user)
        w.start()
        if first:
            self.record["isolation"]["verified"] = True
            self.record["isolation"]["worker"] = w.report
        return w

    def salt(self):
        """A hash of every collected test file (hidden ones too)."""
        if getattr(self, "_salt", None) is None:
            import hashlib

            h = hashlib.sha256()
            for path in sorted({str(item.path) for item in getattr(self, "items", [])}):
                with open(path, "rb") as f:
                    h.update(f.read())
            self._salt = h.digest()
        return self._salt

    def reproduce_command(self, item, base, entry):
        """A command that reruns this test as printed: ``check`` runs the public tests of the
        student's own file (named as they named it); hidden tests have none."""
        if entry.get("visibility") != "visible":
            return ""
        name = os.path.basename(self.submission_file) if self.submission_file else \
            (self.settings.submission or "submission.py")
        params = getattr(getattr(item, "callspec", None), "id", None)
        selector = item.originalname + (f"[{params}]" if params and SWEEP_PARAM not in item.callspec.params else "")
        import shlex

        return self.opt("grade_reproduce").format(submission=shlex.quote(name), name=shlex.quote(selector), base=base)

    def close_zygote(self):
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None

    def _try_load(self):
        self.resolve_submission()
        if self.load_error:
            return None
        if self.settings.isolation == "strict" and self.level.name != "namespace":
            self.load_error = {"error_type": "IsolationError", "autograder": True, "traceback": "",
                               "message": f'isolation = "strict" needs namespace isolation, this machine gives '
                                          f'{self.level.name} ({"; ".join(self.level.reasons)}); '
                                          f'run `minidl-grade doctor` there'}
            return None
        try:
            return self.new_worker(self.base_seed, min(30.0, max(1.0, self.budget - self.elapsed())), first=True)
        except SubmissionDidNotLoad as exc:
            self.load_error = {"error_type": exc.error_type, "message": exc.message, "traceback": exc.traceback}
        except StudentTimeout as exc:
            self.load_error = {"error_type": "Timeout", "message": f"loading the submission took too long ({exc})",
                               "traceback": ""}
        except WorkerDied as exc:
            self.load_error = {"error_type": "Crash", "message": str(exc), "traceback": ""}
        except ReplyError as exc:
            self.load_error = {"error_type": "ReplyError", "message": exc.message, "traceback": ""}
        except (IsolationError, OSError) as exc:
            self.load_error = {"error_type": type(exc).__name__, "message": str(exc),
                               "traceback": getattr(exc, "traceback", ""), "autograder": True}
        return None

    def check_load(self):
        """Load the submission once, before the first test: did it load, what does it define?"""
        if self.loaded:
            return
        self.loaded = True
        w = self._try_load()
        if w is None:
            self.note_load_error()
            return
        self.record["warnings"] += [m for m in w.warnings if m not in self.record["warnings"]]
        missing = [n for n in self.settings.names if n not in w.names]
        if missing:
            self.record["missing_names"] = missing
            self.record["found_names"] = list(w.names)
        w.close()

    def note_load_error(self):
        """One visible failed test that says why; every graded test is then not run."""
        err = self.load_error
        if err.get("autograder"):
            self.record["error"] = f"{err['error_type']}: {err['message']}"
            self.record["tests"].insert(0, {
                "id": "autograder", "name": "Autograder", "number": None, "points": 0.0, "score": 0.0,
                "status": "failed", "kind": "autograder_error", "visibility": "visible", "tags": [], "hint": None,
                "seed": None, "duration": 0.0, "checks": [], "student_output": "", "reproduce": "",
                "message": f"Autograder error: {err['error_type']}: {err['message'][:500]} (tell your instructor)",
                "student_traceback": "", "instructor_traceback": err.get("traceback", "")})
            return
        self.record["tests"].insert(0, {
            "id": "submission", "name": "Submission loads", "number": None, "points": 0.0, "score": 0.0,
            "status": "failed", "kind": "did_not_load", "visibility": "visible", "tags": [], "hint": None,
            "seed": None, "duration": 0.0, "checks": [], "student_output": "", "reproduce": "",
            "message": f"Your submission did not load: {err['error_type']}: {err['message']}",
            "student_traceback": err.get("traceback", "")})

    def worker_getter(self, item, seed):
        """``get(timeout, start=True)`` for the student fixture (lazy: no call, no worker)."""
        key = item.nodeid if self.worker_scope == "test" else str(item.path)
        fresh = {"reseeded": self.worker_scope == "test"}

        def get(timeout, start=True):
            w = self.workers.get(key)
            if w is None or not w.alive:
                if not start:
                    return w
                if w is not None:
                    w.close()
                w = self.workers[key] = self.new_worker(seed, timeout)
                fresh["reseeded"] = True
            if not fresh["reseeded"]:
                w.reseed(seed, timeout=timeout)
                fresh["reseeded"] = True
            return w

        return key, get

    def close_workers(self, key=None):
        for k in [key] if key else list(self.workers):
            w = self.workers.pop(k, None)
            if w is not None:
                w.close()

    # -- the record --------------------------------------------------------------------------
    def write(self, final=False):
        # a statistical sweep (validate) has thousands of items and no results.json to keep
        # current: rewrite its record at most every 2 s instead of after every test
        if self.sweep and not final and not self.gradescope_path:
            now = time.monotonic()
            if now - getattr(self, "_last_write", 0.0) < 2.0:
                return
            self._last_write = now
        self.record["execution_time"] = round(self.elapsed(), 3)
        self.record["assignment"] = self.settings.name
        self.record["base_seed"] = self.base_seed
        self.record["release_hidden_output"] = self.settings.release_hidden_output
        self.record["load_error"] = self.load_error
        if final:
            import resource

            self.record["grader_max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        if self.record_path:
            R.atomic_write_json(self.record_path, self.record)
        if self.gradescope_path:
            R.atomic_write_json(self.gradescope_path, writers.gradescope(self.record))


def _state(config) -> GradingState:
    return config._minidl_grading


def pytest_configure(config):
    if os.environ.get(OPTIONS_ENV):
        # started by minidl-grade: die with it (then the zygote and every worker follow)
        from minidl.grading.sandbox import die_with_parent

        die_with_parent()
    config._minidl_grading = GradingState(config)


def pytest_generate_tests(metafunc):
    sweep = metafunc.config.getoption("grade_sweep")
    spec = getattr(metafunc.function, "_minidl_grading", None)
    if sweep and spec is not None and STATISTICAL_TAG in spec.tags and SWEEP_PARAM in metafunc.fixturenames:
        metafunc.parametrize(SWEEP_PARAM, range(sweep), ids=[f"seed{s}" for s in range(sweep)])


def _display_name(item, spec):
    name = spec.name or item.originalname.removeprefix("test_").replace("_", " ")
    params = {k: v for k, v in getattr(getattr(item, "callspec", None), "params", {}).items() if k != SWEEP_PARAM}
    if params:
        name += " [" + ", ".join(f"{k}={v}" for k, v in params.items()) + "]"
    if SWEEP_PARAM in getattr(getattr(item, "callspec", None), "params", {}):
        name += f" (base seed {item.callspec.params[SWEEP_PARAM]})"
    return name


def _seed_id(item):
    params = {k: v for k, v in getattr(getattr(item, "callspec", None), "params", {}).items() if k != SWEEP_PARAM}
    tid = f"{item.path.name}::{item.originalname}"
    if params:
        tid += "[" + ",".join(f"{k}={v!r}" for k, v in sorted(params.items())) + "]"
    return tid


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    state = _state(config)
    kept, dropped = [], []
    for item in items:
        spec = getattr(getattr(item, "function", None), "_minidl_grading", None)
        if spec is None:
            dropped.append(item)
            continue
        visibility = spec.visibility
        if "tests_hidden" in item.path.parts and visibility == "visible":
            visibility = "after_due_date"
            msg = f"{item.path.name}::{item.originalname} is in tests_hidden/ but visible: graded as after_due_date"
            if msg not in state.record["warnings"]:
                state.record["warnings"].append(msg)
        tag = config.getoption("grade_tag")
        if (config.getoption("grade_public") and visibility != "visible") or (tag and tag not in spec.tags):
            dropped.append(item)
            continue
        item._grading_spec = spec
        item._grading_visibility = visibility
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    state.items = list(items)
    for item in items:
        spec = item._grading_spec
        entry = {"id": item.nodeid, "name": _display_name(item, spec), "number": spec.number, "points": spec.points,
                 "score": 0.0, "status": "pending", "kind": "pending", "visibility": item._grading_visibility,
                 "tags": list(spec.tags), "hint": spec.hint, "seed": None, "duration": 0.0, "checks": [],
                 "message": "", "student_traceback": "", "student_output": "", "reproduce": ""}
        state.record["tests"].append(entry)
        state.by_nodeid[item.nodeid] = entry
    state.write()


def pytest_collectreport(report):
    if report.failed:
        config = getattr(report, "config", None) or _current_config[0]
        if config is None:
            return
        state = _state(config)
        state.record["tests"].append({
            "id": report.nodeid, "name": f"collecting {report.nodeid}", "number": None, "points": 0.0, "score": 0.0,
            "status": "failed", "kind": "autograder_error", "visibility": "visible", "tags": [], "hint": None,
            "seed": None, "duration": 0.0, "checks": [], "student_traceback": "", "student_output": "",
            "reproduce": "", "message": "Autograder error: a test file could not be loaded (tell your instructor).",
            "instructor_traceback": str(report.longrepr)[-4000:]})


_current_config = [None]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    _current_config[0] = session.config


@pytest.fixture
def grading_base_seed(request):
    return _state(request.config).base_seed


@pytest.fixture
def seed(request, grading_base_seed):
    state = _state(request.config)
    value = test_seed(state.settings.name, grading_base_seed, _seed_id(request.node))
    entry = state.by_nodeid.get(request.node.nodeid)
    if entry is not None:
        entry["seed"] = value
        entry["reproduce"] = state.reproduce_command(request.node, grading_base_seed, entry)
    return value


@pytest.fixture
def rng(seed):
    """The test's Generator, ``default_rng(seed)``: what a test hands the student."""
    return np.random.default_rng(seed)


@pytest.fixture
def trusted_rng(request, seed):
    """A Generator the student never sees and cannot compute (its seed mixes the test's seed
    with a hash of the homework's test files): draw data that the student's function must not
    be able to predict from it — a ``rng`` that crossed to the worker is known there."""
    from minidl.grading.seeding import trusted_seed

    return np.random.default_rng(trusted_seed(seed, _state(request.config).salt()))


@pytest.fixture
def student(request, seed):
    state = _state(request.config)
    item = request.node
    key, get = state.worker_getter(item, seed)
    proxy = Student(get, getattr(item, "_grading_deadline", time.monotonic() + 10.0), limit=item._grading_spec.timeout)
    yield proxy
    w = state.workers.get(key)
    if w is not None:
        item._grading_output = w.output(cap=R.STUDENT_OUTPUT_CAP)
        if state.worker_scope == "test":
            state.close_workers(key)
        elif proxy._defined and w.alive:
            try:
                w.restore(timeout=5.0)
            except Exception:
                state.close_workers(key)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    spec = getattr(item, "_grading_spec", None)
    if spec is None:
        return
    state = _state(item.config)
    state.check_load()
    item._grading_started = time.monotonic()
    if state.load_error:
        item._grading_not_run = "did_not_load"
        pytest.skip(R.NOT_RUN_MESSAGES["did_not_load"])
    if state.elapsed() + spec.timeout > state.budget:
        item._grading_not_run = "budget"
        pytest.skip(R.NOT_RUN_MESSAGES["budget"])
    item._grading_deadline = min(time.monotonic() + spec.timeout, state.started + state.budget)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if getattr(item, "_grading_spec", None) is None:
        yield
        return
    with recording() as rec:
        item._grading_recorder = rec
        yield


def _classify(excinfo):
    """``(kind, message, student_traceback, instructor_traceback)`` for how a test ended."""
    e = excinfo.value
    if isinstance(e, RequireFailed):
        return "checks_failed", "", "", ""
    if isinstance(e, StudentTimeout):
        return "timeout", f"Timed out: {e}", "", ""
    if isinstance(e, WorkerDied):
        return "crash", f"Your code crashed: {e}", "", ""
    if isinstance(e, ReplyError):
        return "student_error", f"Your code's answer cannot be graded: {e.message}", "", ""
    if isinstance(e, IsolationError):
        return ("autograder_error", f"Autograder error: {e} (tell your instructor)", "",
                f"{e}\n{e.traceback}"[-6000:])
    if isinstance(e, StudentError):
        return "student_error", f"Your code raised {e.error_type}: {e.message}", e.traceback, ""
    if isinstance(e, SubmissionDidNotLoad):
        return "did_not_load", str(e), e.traceback, ""
    if isinstance(e, AssertionError):
        return "assertion", f"Failed: {str(e).splitlines()[0] if str(e) else 'assertion failed'}", "", ""
    if excinfo.errisinstance(pytest.skip.Exception):
        return "skipped", f"Skipped: {getattr(e, 'msg', '')}", "", ""
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))[-6000:]
    return ("autograder_error",
            f"Error while grading ({type(e).__name__}: {str(e)[:300]}). If your function returns what the "
            f"handout asks for, this is an autograder error: tell your instructor.", "", tb)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    spec = getattr(item, "_grading_spec", None)
    if spec is None:
        return
    state = _state(item.config)
    entry = state.by_nodeid[item.nodeid]
    if call.when in ("setup", "call") and call.excinfo is not None and not hasattr(item, "_grading_end"):
        if getattr(item, "_grading_not_run", None):
            item._grading_end = ("not_run", item._grading_not_run, R.NOT_RUN_MESSAGES[item._grading_not_run], "", "")
        else:
            kind, message, student_tb, instructor_tb = _classify(call.excinfo)
            item._grading_end = ("failed", kind, message, student_tb, instructor_tb)
    if call.when != "teardown":
        return
    rec = getattr(item, "_grading_recorder", None)
    checks = [r.as_dict() for r in rec.results] if rec else []
    end = getattr(item, "_grading_end", None)
    if end is None:
        fraction = rec.fraction() if rec else 1.0
        entry.update(status="passed" if fraction == 1.0 else "failed",
                     kind="ok" if fraction == 1.0 else "checks_failed", score=round(spec.points * fraction, 6),
                     message="")
    else:
        status, kind, message, student_tb, instructor_tb = end
        entry.update(status=status, kind=kind, score=0.0, message=message, student_traceback=student_tb)
        if instructor_tb:
            entry["instructor_traceback"] = instructor_tb
    entry["checks"] = checks
    entry["student_output"] = getattr(item, "_grading_output", "")
    entry["duration"] = round(time.monotonic() - getattr(item, "_grading_started", time.monotonic()), 3)
    if rec:
        for value in rec.leaderboard:
            state.record["leaderboard"] = [v for v in state.record["leaderboard"] if v["name"] != value["name"]]
            state.record["leaderboard"].append(value)
    state.write()


def pytest_sessionfinish(session):
    state = getattr(session.config, "_minidl_grading", None)
    if state is None:
        return
    state.close_workers()
    state.close_zygote()
    state.write(final=True)


def pytest_report_header(config):
    state = _state(config)
    return [f"minidl-grade: assignment {state.settings.name}, base seed {state.base_seed}, budget {state.budget:g} s"]


"""The grading record: one JSON document describing a run, from which every writer works.

    {"assignment", "base_seed", "submission", "started_at", "execution_time",
     "load_error": null | {"error_type", "message", "traceback"},
     "tests": [{"id", "name", "number", "points", "score", "status", "kind", "visibility",
                "tags", "hint", "seed", "duration", "checks": [...], "message",
                "student_traceback", "student_output", "reproduce"}],
     "leaderboard": [...], "warnings": [...], "versions": {...}}

``status`` is "passed", "failed", "not_run" or "pending" (a run that was killed before the
test ran); ``kind`` says why: ok, checks_failed, assertion, student_error, timeout, crash,
autograder_error, did_not_load, budget, skipped. The record holds everything (it is the
instructor's); :func:`test_output` decides what a student may see.
"""
import json
import os
import tempfile

OUTPUT_CAP = 8000             # characters of one test's output shown to a student
STUDENT_OUTPUT_CAP = 2000     # of that, the tail of what the submission printed
PUBLIC = "visible"

NOT_RUN_MESSAGES = {
    "did_not_load": "not run: submission did not load",
    "budget": "not run: time budget exhausted",
    "pending": "not run: the grader stopped before this test (time limit)",
}


def atomic_write_json(path, obj):
    """Write ``obj`` as JSON to ``path`` atomically (temporary file + rename)."""
    if _special(path):
        return atomic_write_text(path, json.dumps(obj, indent=1, allow_nan=False, default=_json_default))
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, allow_nan=False, default=_json_default)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _special(path):
    """``-`` (stdout) or an existing non-regular file (a device, a pipe): written directly,
    never replaced."""
    return path == "-" or (os.path.exists(path) and not os.path.isfile(path)) or path.startswith("/dev/")


def atomic_write_text(path, text):
    if _special(path):
        if path == "-":
            import sys

            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _json_default(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def load_record(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def versions():
    import platform

    import numpy

    import minidl

    return {"minidl": getattr(minidl, "__version__", "unknown"), "numpy": numpy.__version__,
            "python": platform.python_version()}


def is_public(test):
    return test.get("visibility", PUBLIC) == PUBLIC


def is_pseudo(test):
    """The "Submission loads" / "Autograder" entries that explain a run, not graded tests."""
    return test.get("id") in ("submission", "autograder")


def _cap(text, cap):
    text = text or ""
    return text if len(text) <= cap else text[:cap] + f"\n[... {len(text) - cap} characters cut]"


def test_output(test, record=None, audience="student"):
    """The text shown for one test. Students see everything for visible tests and, for the
    others, only the hint (unless the record says hidden output is released); the
    instructor sees everything."""
    status, kind = test.get("status"), test.get("kind")
    if status in ("not_run", "pending"):
        return NOT_RUN_MESSAGES.get(kind if status == "not_run" else "pending", test.get("message") or "not run")
    release = bool(record and record.get("release_hidden_output")) and test.get("visibility") != "hidden"
    if audience == "student" and not is_public(test) and not release:
        if status == "passed":
            return ""
        return f"Hint: {test['hint']}" if test.get("hint") else ""
    lines = []
    checks = test.get("checks") or []
    if status == "passed" and kind == "ok" and all(c["passed"] for c in checks):
        return ""
    for c in checks:
        lines.append(("PASS " if c["passed"] else "FAIL ") + c["name"] + ("" if c["passed"] else f": {c['message']}"))
    if test.get("message"):
        lines.append(test["message"])
    if test.get("student_traceback"):
        lines.append(test["student_traceback"].rstrip())
    if test.get("hint") and status != "passed":
        lines.append(f"Hint: {test['hint']}")
    if test.get("student_output"):
        lines.append("Your code printed (last part):\n" + test["student_output"][-STUDENT_OUTPUT_CAP:])
    if test.get("seed") is not None and status != "passed":
        lines.append(f"seed {test['seed']}" + (f" · reproduce: {test['reproduce']}" if test.get("reproduce") else ""))
    return _cap("\n".join(lines), OUTPUT_CAP)


def summary(record):
    """One line for students: public results and how many hidden tests there are."""
    tests = [t for t in record.get("tests", []) if not is_pseudo(t)]
    public = [t for t in tests if is_public(t)]
    hidden = [t for t in tests if not is_public(t)]
    passed = sum(1 for t in public if t.get("status") == "passed")
    parts = [f"Public tests: {passed}/{len(public)} passed"]
    if hidden:
        when = "after the due date" if all(t.get("visibility") != "hidden" for t in hidden) else "(hidden)"
        parts.append(f"{len(hidden)} hidden test{'s' if len(hidden) != 1 else ''} graded {when}")
    line = " · ".join(parts)
    if record.get("missing_names"):
        found = ", ".join(record.get("found_names") or []) or "nothing"
        line += f". Missing from your submission: {', '.join(record['missing_names'])} (found: {found})"
    if record.get("load_error"):
        err = record["load_error"]
        line = f"Your submission did not load ({err.get('error_type')}: {err.get('message')}). " + line
    return line


def totals(record):
    """``(score, max_score)`` over all tests."""
    tests = record.get("tests", [])
    return (round(sum(float(t.get("score") or 0.0) for t in tests), 6),
            round(sum(float(t.get("points") or 0.0) for t in tests), 6))

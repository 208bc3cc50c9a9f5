"""``minidl-grade validate``: prove an autograder before students see it.

1. the solution scores 100 % (and no test reports an autograder error);
2. every mutant in ``mutants/`` loses exactly the points its header names::

       # mutant: dropout without the 1/(1-p) scaling
       # loses: 7

3. every test tagged ``statistical`` passes on the solution under N base seeds (200 by
   default): a 6σ band that fails a correct solution would show up here;
4. the solution's run takes well under the budget (less than half of it);
5. every results.json produced validates against Gradescope's schema;
6. trivial submissions — every required function returning zeros, its first argument, or
   None — score at most 10 % (:data:`TRIVIAL_LIMIT`): a test that gives points for doing
   nothing ("the shape matches", "the input is unchanged") is a weak test.
"""
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

from minidl.grading import writers
from minidl.grading.results import totals
from minidl.grading.runner import Homework, run_tests

TRIVIAL_LIMIT = 0.10
TRIVIAL = {
    "zeros": "np.zeros_like(a) if isinstance(a, np.ndarray) else 0.0",
    "identity": "a",
    "None": "None",
}


def trivial_source(names, kind):
    """A submission defining every name in ``names`` as a function that returns ``kind``
    (see :data:`TRIVIAL`) of its first argument."""
    lines = ["import numpy as np", ""]
    for name in names:
        lines += [f"def {name}(*args, **kwargs):",
                  "    a = args[0] if args else next(iter(kwargs.values()), None)",
                  f"    return {TRIVIAL[kind]}", ""]
    return "\n".join(lines)


HEADER = re.compile(r"^#\s*(mutant|loses)\s*:\s*(.+?)\s*$", re.MULTILINE)


def mutant_header(path):
    """``(description, points lost)`` from a mutant's header comments."""
    with open(path, encoding="utf-8") as f:
        head = f.read(2000)
    found = dict((k, v) for k, v in HEADER.findall(head))
    if "loses" not in found:
        raise ValueError(f"{os.path.basename(path)}: missing a '# loses: N' header line")
    return found.get("mutant", os.path.basename(path)), float(found["loses"])


def _schema_problems(results):
    path = os.path.join(os.path.dirname(__file__), "schemas", "gradescope.json")
    try:
        import jsonschema
    except ImportError:     # minimal structural check when jsonschema is not installed
        problems = [] if isinstance(results.get("tests"), list) and isinstance(results.get("execution_time"),
                                                                                 (int, float)) else ["bad top level"]
        return problems + [f"test {t.get('name')}: bad status" for t in results.get("tests", [])
                           if t.get("status") not in ("passed", "failed")]
    with open(path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(results)]


class Line:
    def __init__(self, ok, what, detail=""):
        self.ok, self.what, self.detail = ok, what, detail

    def __str__(self):
        return f"{'ok  ' if self.ok else 'FAIL'} {self.what}" + (f" — {self.detail}" if self.detail else "")


def validate(path, seeds=200, jobs=2, budget=None, log=print):
    """Run every validation; returns ``(passed, lines)``."""
    hw = Homework(path)
    settings = hw.settings()
    budget = float(budget or settings.get("budget", 540.0))
    solution_dir = hw.sub("solution")
    if not os.path.isdir(solution_dir):
        return False, [Line(False, "solution/", "missing")]
    mutants_dir = hw.sub("mutants")
    mutants = sorted(os.path.join(mutants_dir, f) for f in os.listdir(mutants_dir)
                     if f.endswith(".py")) if os.path.isdir(mutants_dir) else []
    lines = []

    def grade(sub):
        return run_tests(sub, hw, budget=budget)

    import tempfile

    required = list(settings.get("names") or [])
    with tempfile.TemporaryDirectory(prefix="minidl-trivial-") as trivial_dir:
        trivial = []
        for kind in TRIVIAL if required else ():
            os.makedirs(os.path.join(trivial_dir, kind))
            path = os.path.join(trivial_dir, kind, settings.get("submission") or "submission.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(trivial_source(required, kind))
            trivial.append((kind, path))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            sweep_future = pool.submit(run_tests, solution_dir, hw, sweep=seeds, tag="statistical", worker="module",
                                       budget=max(budget, 1800.0)) if seeds else None
            solution = grade(solution_dir)
            mutant_records = list(pool.map(grade, mutants))
            trivial_records = list(pool.map(grade, [p for _, p in trivial]))
            sweep = sweep_future.result() if sweep_future else None

    score, max_score = totals(solution)
    bad = [t for t in solution["tests"] if t["status"] != "passed"]
    lines.append(Line(not bad and max_score > 0, f"solution scores {score:g}/{max_score:g}",
                      "; ".join(f"{t['name']}: {t['kind']} {t.get('message') or ''}".strip() for t in bad)[:800]))
    for t in bad:
        if t.get("instructor_traceback"):
            log(f"--- {t['name']} ---\n{t['instructor_traceback']}")
        for c in t.get("checks", []):
            if not c["passed"]:
                log(f"--- {t['name']}: {c['name']}: {c['message']}")
    for path_, record in zip(mutants, mutant_records):
        try:
            description, loses = mutant_header(path_)
        except ValueError as exc:
            lines.append(Line(False, os.path.basename(path_), str(exc)))
            continue
        lost = round(score - totals(record)[0], 6)
        caught = [f"{t['name']} (−{t['points'] - t['score']:g})" for t in record["tests"] if t["score"] < t["points"]]
        errors = [t["name"] for t in record["tests"] if t["kind"] == "autograder_error"]
        ok = abs(lost - loses) < 1e-6 and loses > 0 and not errors
        lines.append(Line(ok, f"mutant {os.path.basename(path_)} ({description}) loses {lost:g} of {loses:g}",
                          ", ".join(caught) + (f"; autograder errors in {errors}" if errors else "")))
    if sweep is not None:
        items = [t for t in sweep["tests"] if "statistical" in t.get("tags", [])]
        failed = [t for t in items if t["status"] != "passed"]
        names = sorted({t["name"].split(" (base seed")[0] for t in items})
        lines.append(Line(not failed,
                          f"{len(names)} statistical tests pass under {seeds} seeds ({len(items)} runs)" if items
                          else "no test is tagged 'statistical'",
                          "; ".join(f"{t['name']}: {(t.get('checks') or [{}])[-1].get('message', t['kind'])}"
                                    for t in failed[:5])))
    for (kind, _), record in zip(trivial, trivial_records):
        got, _ = totals(record)
        share = got / max_score if max_score else 0.0
        scoring = [f"{t['name']} ({t['score']:g})" for t in record["tests"] if t["score"] > 0]
        lines.append(Line(share <= TRIVIAL_LIMIT, f"a trivial submission ({kind}) scores {got:g}/{max_score:g} "
                                                  f"({100 * share:.0f} %, at most {100 * TRIVIAL_LIMIT:.0f} % allowed)",
                          ", ".join(scoring)))
    if not required:
        lines.append(Line(True, "trivial submissions not tried: grading.toml names no required functions"))
    elapsed = solution.get("execution_time", 0.0)
    lines.append(Line(elapsed < budget / 2, f"solution graded in {elapsed:.1f} s (budget {budget:g} s)"))
    problems = []
    for record in [solution] + mutant_records:
        problems += _schema_problems(writers.gradescope(record))
    lines.append(Line(not problems, f"{1 + len(mutant_records)} results.json validate against Gradescope's schema",
                      "; ".join(problems[:5])))
    return all(line.ok for line in lines), lines

"""Result writers: Gradescope results.json, PrairieLearn, JUnit XML, CSV (batch) and a
terminal table. Each takes the grading record (:mod:`minidl.grading.results`).

Gradescope's format (https://gradescope-autograders.readthedocs.io, "Autograder
Specifications"): top-level ``score``, ``execution_time`` (seconds, a number), ``output``,
``output_format``, ``visibility``, ``stdout_visibility``, ``extra_data``, ``tests`` (each with
``score``, ``max_score``, ``status`` passed/failed, ``name``, ``number``, ``output``,
``output_format``, ``tags``, ``visibility``, ``extra_data``) and ``leaderboard``.
PrairieLearn's external-grader format: ``gradable``, ``score`` (0–1), ``message``, ``output``,
``tests`` (``name``, ``points``, ``max_points``, ``message``, ``output``).
"""
import csv
import io
import xml.etree.ElementTree as ET

from minidl.grading.results import is_public, summary, test_output, totals

FORMATS = ("gradescope", "prairielearn", "junit", "table", "record")


def _status(test):
    return "passed" if test.get("status") == "passed" else "failed"


def gradescope(record):
    score, _ = totals(record)
    tests = []
    for t in record.get("tests", []):
        entry = {"name": t["name"], "score": round(float(t.get("score") or 0.0), 6),
                 "max_score": float(t.get("points") or 0.0), "status": _status(t),
                 "output": test_output(t, record), "output_format": "text",
                 "tags": [str(x) for x in t.get("tags") or []], "visibility": t.get("visibility", "visible"),
                 "extra_data": {"seed": t.get("seed"), "result": t.get("kind")}}
        if t.get("number") is not None:
            entry["number"] = str(t["number"])
        tests.append(entry)
    out = {"score": score, "execution_time": round(float(record.get("execution_time") or 0.0), 3),
           "output": summary(record), "output_format": "text", "test_output_format": "text",
           "test_name_format": "text", "visibility": "visible", "stdout_visibility": "hidden",
           "extra_data": {"assignment": record.get("assignment"), "seed": record.get("base_seed"),
                          "versions": record.get("versions", {}),
                          "isolation": (record.get("isolation") or {}).get("level")},
           "tests": tests}
    if record.get("leaderboard"):
        out["leaderboard"] = record["leaderboard"]
    return out


def prairielearn(record):
    score, max_score = totals(record)
    return {"gradable": True, "score": (score / max_score) if max_score else 0.0, "message": summary(record),
            "output": "",
            "tests": [{"name": t["name"], "description": t.get("hint") or "", "points": float(t.get("score") or 0),
                       "max_points": float(t.get("points") or 0), "message": test_output(t, record),
                       "output": ""} for t in record.get("tests", [])]}


def junit(record):
    """JUnit XML text (for CI dashboards; the instructor's view: nothing is hidden)."""
    tests = record.get("tests", [])
    failures = sum(1 for t in tests if t.get("status") == "failed")
    skipped = sum(1 for t in tests if t.get("status") in ("not_run", "pending"))
    suite = ET.Element("testsuite", name=str(record.get("assignment")), tests=str(len(tests)),
                       failures=str(failures), errors="0", skipped=str(skipped),
                       time=f"{float(record.get('execution_time') or 0):.3f}")
    for t in tests:
        case = ET.SubElement(suite, "testcase", classname=str(t.get("id", "")).split("::")[0],
                             name=t["name"], time=f"{float(t.get('duration') or 0):.3f}")
        text = test_output(t, record, audience="instructor")
        if t.get("status") == "failed":
            node = ET.SubElement(case, "failure", message=(text.splitlines() or [t.get("kind", "failed")])[0][:200])
            node.text = text
        elif t.get("status") in ("not_run", "pending"):
            ET.SubElement(case, "skipped", message=text)
        ET.SubElement(case, "properties")
        props = case.find("properties")
        for key in ("points", "score", "seed", "visibility"):
            ET.SubElement(props, "property", name=key, value=str(t.get(key)))
    return ET.tostring(suite, encoding="unicode")


CSV_FIXED = ["submission", "score", "max_score", "loaded", "error"]


def csv_text(records):
    """One row per submission: totals and each test's score (columns in test order)."""
    names = []
    for r in records:
        for t in r.get("tests", []):
            if t["name"] not in names:
                names.append(t["name"])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIXED + names)
    for r in records:
        score, max_score = totals(r)
        by_name = {t["name"]: t.get("score") or 0.0 for t in r.get("tests", [])}
        writer.writerow([r.get("submission", ""), f"{score:g}", f"{max_score:g}", int(not r.get("load_error")),
                         r.get("error", "")] + [f"{float(by_name[n]):g}" if n in by_name else "" for n in names])
    return buf.getvalue()


def _wrap(text, width):
    """``text`` in lines of at most ``width`` characters, broken between words."""
    import textwrap

    return textwrap.wrap(text, width=max(10, width), break_long_words=True, break_on_hyphens=False) or [""]


def table(record, audience="student", width=120):
    """A readable terminal table (``minidl-grade check``); long names and results wrap at
    word boundaries instead of being cut."""
    rows = [("#", "test", "score", "result")]
    for t in record.get("tests", []):
        text = test_output(t, record, audience=audience)
        lines = [x for x in text.splitlines() if not x.startswith("PASS ")] or [t.get("kind", "")]
        first = "ok" if t.get("status") == "passed" else lines[0]
        rows.append((str(t.get("number") or ""), t["name"], f"{float(t.get('score') or 0):g}/{float(t['points']):g}",
                     first))
    w0 = max(len(r[0]) for r in rows)
    w1 = min(max(len(r[1]) for r in rows), 44)
    w2 = max(len(r[2]) for r in rows)
    w3 = max(20, width - (w0 + w1 + w2 + 6))
    lines = []
    for i, (a, b, c, d) in enumerate(rows):
        names, results = _wrap(b, w1), _wrap(d, w3)
        for j in range(max(len(names), len(results))):
            lines.append(f"{a if j == 0 else '':<{w0}}  {names[j] if j < len(names) else '':<{w1}}  "
                         f"{c if j == 0 else '':>{w2}}  {results[j] if j < len(results) else ''}".rstrip())
        if i == 0:
            lines.append("-" * min(width, w0 + w1 + w2 + 6 + max(len(r[3]) for r in rows)))
    score, max_score = totals(record)
    lines.append("")
    lines.append(f"Total: {score:g}/{max_score:g}   {summary(record)}")
    failed = [t for t in record.get("tests", []) if t.get("status") != "passed"
              and (audience != "student" or is_public(t))]
    for t in failed:
        lines.append("")
        lines.append(f"--- {t['name']} ---")
        lines.append(test_output(t, record, audience=audience))
    return "\n".join(lines)


def render(record, fmt):
    """The text of ``record`` in format ``fmt`` (one of :data:`FORMATS`)."""
    import json

    if fmt == "gradescope":
        return json.dumps(gradescope(record), indent=1, allow_nan=False)
    if fmt == "prairielearn":
        return json.dumps(prairielearn(record), indent=1, allow_nan=False)
    if fmt == "junit":
        return '<?xml version="1.0" encoding="utf-8"?>\n' + junit(record)
    if fmt == "table":
        return table(record)
    if fmt == "record":
        return json.dumps({k: v for k, v in record.items() if k != "log"}, indent=1, allow_nan=False, default=str)
    raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")


def write(record, fmt, path):
    """Write ``record`` as ``fmt`` to ``path`` atomically."""
    from minidl.grading.results import atomic_write_text

    atomic_write_text(path, render(record, fmt))

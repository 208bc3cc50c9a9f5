"""Writers: every output validates against its schema (tests/grading/schemas/)."""
import csv
import io
import json
import os
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from minidl.grading import results as R
from minidl.grading import writers

SCHEMAS = os.path.join(os.path.dirname(__file__), "schemas")


def schema(name):
    with open(os.path.join(SCHEMAS, name + ".json")) as f:
        return json.load(f)


def validate(instance, name):
    jsonschema.validate(instance, schema(name), cls=jsonschema.Draft202012Validator)


def xml_to_dict(node):
    d = {"tag": node.tag, "attrib": dict(node.attrib)}
    if len(node):
        d["children"] = [xml_to_dict(c) for c in node]
    return d


def make_test(name, points, score, status="passed", kind="ok", visibility="visible", **extra):
    t = {"id": f"tests/test_x.py::test_{name}", "name": name, "number": None, "points": points, "score": score,
         "status": status, "kind": kind, "visibility": visibility, "tags": ["t"], "hint": None, "seed": 12,
         "duration": 0.1, "checks": [], "message": "", "student_traceback": "", "student_output": "",
         "reproduce": "minidl-grade check hw.py -k test_x --seed 0"}
    t.update(extra)
    return t


@pytest.fixture
def record():
    return {"assignment": "hw", "base_seed": 0, "submission": "alice/hw.py", "execution_time": 3.25,
            "load_error": None, "warnings": [], "versions": {"numpy": "2"}, "leaderboard": [{"name": "acc", "value": 0.9}],
            "tests": [
                make_test("ok", 2, 2.0, number="1"),
                make_test("partial", 4, 3.0, "failed", "checks_failed",
                          checks=[{"name": "values", "passed": False, "weight": 1, "message": "max abs error 1"},
                                  {"name": "shape", "passed": True, "weight": 3, "message": ""}]),
                make_test("crash", 1, 0.0, "failed", "student_error", message="Your code raised ValueError: no",
                          student_traceback="Traceback (student code):\n  File hw.py\nValueError: no",
                          student_output="x" * 100_000),
                make_test("secret", 3, 0.0, "failed", "checks_failed", visibility="after_due_date", hint="think",
                          checks=[{"name": "v", "passed": False, "weight": 1, "message": "expected 42.5"}]),
                make_test("late", 1, 0.0, "not_run", "budget"),
            ]}


def test_gradescope_validates_and_hides_hidden_values(record):
    out = writers.gradescope(record)
    validate(out, "gradescope")
    assert out["score"] == 5.0 and isinstance(out["execution_time"], float)
    secret = out["tests"][3]
    assert secret["output"] == "Hint: think" and "42.5" not in json.dumps(out)
    assert out["tests"][4]["output"] == "not run: time budget exhausted" and out["tests"][4]["status"] == "failed"
    assert len(out["tests"][2]["output"]) <= R.OUTPUT_CAP + 100      # 100 kB of prints capped
    assert out["extra_data"]["seed"] == 0 and out["extra_data"]["versions"] == {"numpy": "2"}
    assert out["output"] == "Public tests: 1/4 passed · 1 hidden test graded after the due date"


def test_released_hidden_output(record):
    record["release_hidden_output"] = True
    assert "expected 42.5" in writers.gradescope(record)["tests"][3]["output"]


def test_prairielearn_validates(record):
    out = writers.prairielearn(record)
    validate(out, "prairielearn")
    assert out["score"] == pytest.approx(5 / 11)


def test_junit_validates(record):
    text = writers.render(record, "junit")
    root = ET.fromstring(text.split("\n", 1)[1])
    validate(xml_to_dict(root), "junit")
    assert root.attrib["failures"] == "3" and root.attrib["skipped"] == "1"
    assert "expected 42.5" in text          # the instructor's view hides nothing


def test_csv_validates_and_lines_up(record):
    other = dict(record, submission="bob/hw.py", tests=record["tests"][:2], load_error={"error_type": "SyntaxError"})
    text = writers.csv_text([record, other])
    rows = list(csv.DictReader(io.StringIO(text)))
    validate(rows, "csv")
    assert rows[0]["score"] == "5" and rows[0]["max_score"] == "11" and rows[1]["loaded"] == "0"
    assert rows[1]["crash"] == "" and rows[0]["partial"] == "3"


def test_table_lists_every_test_and_explains_failures(record):
    text = writers.table(record)
    assert "Total: 5/11" in text and "max abs error 1" in text
    assert "expected 42.5" not in text


def test_atomic_write(tmp_path, record):
    path = tmp_path / "out" / "results.json"
    writers.write(record, "gradescope", str(path))
    validate(json.loads(path.read_text()), "gradescope")
    assert os.listdir(tmp_path / "out") == ["results.json"]

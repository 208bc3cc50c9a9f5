"""The example homework tutorials/homework/dropout_init validates, and grades notebooks."""
import json
import os

from minidl.grading import writers
from minidl.grading.results import summary, totals
from minidl.grading.runner import run_tests
from minidl.grading.validate import mutant_header, validate

HW = os.path.join(os.path.dirname(__file__), "..", "..", "tutorials", "homework", "dropout_init")


def test_layout():
    for name in ("grading.toml", "README.md", "solution/dropout_init.py", "handout/dropout_init.py",
                 "tests/test_public.py", "tests_hidden/test_hidden.py"):
        assert os.path.isfile(os.path.join(HW, name)), name
    mutants = sorted(os.listdir(os.path.join(HW, "mutants")))
    assert len(mutants) == 9
    for m in mutants:
        description, loses = mutant_header(os.path.join(HW, "mutants", m))
        assert loses > 0 and description


def test_validate_passes(capsys):
    # the full check uses 200 seeds (`minidl-grade validate`); 8 keep this test short
    ok, lines = validate(HW, seeds=8, jobs=2, log=lambda *_: None)
    assert ok, "\n".join(map(str, lines))
    text = "\n".join(map(str, lines))
    assert "solution scores 22/22" in text and text.count("ok   mutant") == 9
    for kind in ("zeros", "identity", "None"):          # doing nothing earns at most 10 %
        assert f"ok   a trivial submission ({kind})" in text


def test_notebook_submission_with_a_training_cell(tmp_path):
    with open(os.path.join(HW, "solution", "dropout_init.py")) as f:
        solution = f.read()
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# My homework"]},
        {"cell_type": "code", "metadata": {}, "source": ["%matplotlib inline\n", "!nvidia-smi\n"], "outputs": [],
         "execution_count": None},
        {"cell_type": "code", "metadata": {}, "source": solution, "outputs": [], "execution_count": None},
        {"cell_type": "code", "metadata": {}, "source": ["import time\n", "time.sleep(1000)  # the training cell\n"],
         "outputs": [], "execution_count": None},
    ]}
    path = tmp_path / "dropout_init.ipynb"
    path.write_text(json.dumps(nb))
    record = run_tests(str(tmp_path), HW, public_only=True)
    score, max_score = totals(record)
    assert (score, max_score) == (12.0, 12.0), [(t["name"], t["message"]) for t in record["tests"]]


def test_handout_stub_scores_zero_with_readable_errors():
    record = run_tests(os.path.join(HW, "handout"), HW, public_only=True)
    assert totals(record) == (0.0, 12.0)
    assert all("NotImplementedError" in t["message"] for t in record["tests"])


# -- feedback a student can act on (issue 11, item 6) ----------------------------------------
def _handout_copy(tmp_path, mutant):
    import shutil

    shutil.copytree(os.path.join(HW, "tests"), tmp_path / "tests")
    shutil.copy(os.path.join(HW, "grading.toml"), tmp_path / "grading.toml")
    shutil.copy(os.path.join(HW, "mutants", mutant), tmp_path / "dropout_init.py")
    return tmp_path


def test_reproduce_line_works_as_printed(tmp_path):
    import re
    import shlex
    import subprocess
    import sys

    folder = _handout_copy(tmp_path, "keep_prob_confusion.py")
    check = subprocess.run([sys.executable, "-m", "minidl.grading", "check", "dropout_init.py"], cwd=folder,
                           capture_output=True, text=True, timeout=300)
    lines = dict(re.findall(r"seed (\d+) · reproduce: (.+)", check.stdout))
    assert len(lines) >= 3, check.stdout             # 1.3, 1.4 at p = 0.2 and 0.8, 1.5
    for seed, command in lines.items():
        argv = shlex.split(command)
        assert argv[:3] == ["minidl-grade", "check", "dropout_init.py"], command
        again = subprocess.run([sys.executable, "-m", "minidl.grading"] + argv[1:], cwd=folder,
                               capture_output=True, text=True, timeout=300)
        assert f"seed {seed} · reproduce: {command}" in again.stdout, (command, again.stdout[-2000:])
        assert "Public tests: 0/1 passed" in again.stdout, again.stdout[-2000:]     # only that test ran


def test_hint_for_a_missing_scale_names_the_scale(tmp_path):
    record = run_tests(os.path.join(HW, "mutants", "no_scaling.py"), HW, public_only=True)
    test = [t for t in record["tests"] if t["number"] == "1.5"][0]
    text = writers.table(record)
    assert test["score"] == 0 and "the 1/(1 - p) scale is missing" in text
    assert "do not draw a new one" not in text


def test_public_count_when_the_submission_does_not_load(tmp_path):
    (tmp_path / "dropout_init.py").write_text("def dropout_forward(x:\n")
    record = run_tests(str(tmp_path / "dropout_init.py"), HW)
    assert "Public tests: 0/8 passed" in summary(record) and "7 hidden tests" in summary(record)


def test_table_wraps_between_words():
    record = {"tests": [{"name": "a very long test name " * 4, "points": 1, "score": 0, "status": "failed",
                         "kind": "checks_failed", "visibility": "visible",
                         "checks": [{"name": "c", "passed": False, "weight": 1,
                                     "message": "expected something rather different " * 6}]}]}
    lines = writers.table(record, width=100).splitlines()
    assert all(len(line) <= 100 for line in lines[:6])
    words = set(("a very long test name " * 4 + "expected something rather different " * 6 + "FAIL c:").split())
    for line in lines[2:6]:
        for word in line.split():
            assert word in words or word in ("0/1",), (word, line)

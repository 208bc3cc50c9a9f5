"""The example homework tutorials/homework/dropout_init validates, and grades notebooks."""
import json
import os

from minidl.grading.results import totals
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

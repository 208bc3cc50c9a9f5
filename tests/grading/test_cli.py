"""minidl-grade: init → validate, check, run (every format), build, batch."""
import csv
import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest

from minidl.grading.cli import main


@pytest.fixture(scope="module")
def hw(tmp_path_factory):
    parent = tmp_path_factory.mktemp("course")
    assert main(["init", "sq", "--dir", str(parent)]) == 0
    return parent / "sq"


def test_init_scaffold_validates(hw, capsys):
    assert sorted(os.listdir(hw)) == ["grading.toml", "handout", "mutants", "solution", "tests", "tests_hidden"]
    assert main(["validate", str(hw), "--seeds", "3"]) == 0
    out = capsys.readouterr().out
    assert "ok   solution scores 3/3" in out and "loses 3 of 3" in out and "validate: PASSED" in out


def test_validate_fails_when_a_mutant_header_lies(hw, tmp_path, capsys):
    import shutil

    copy = tmp_path / "sq"
    shutil.copytree(hw, copy)
    text = (copy / "mutants" / "no_square.py").read_text().replace("# loses: 3", "# loses: 4")
    (copy / "mutants" / "no_square.py").write_text(text)
    assert main(["validate", str(copy), "--seeds", "0"]) == 1
    assert "FAIL mutant no_square.py" in capsys.readouterr().out


def test_check_prints_a_table_for_the_handout(hw):
    proc = subprocess.run([sys.executable, "-m", "minidl.grading", "check", str(hw / "handout" / "sq.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "square values" in proc.stdout and "NotImplementedError" in proc.stdout
    assert "square edge cases" not in proc.stdout         # hidden tests are not run by check
    assert "Public tests: 0/1 passed" in proc.stdout


@pytest.mark.parametrize("fmt", ["gradescope", "prairielearn", "junit"])
def test_run_writes_each_format(hw, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    assert main(["run", str(hw / "solution"), "--tests", str(hw), "--format", fmt, "--out", str(out)]) == 0
    text = out.read_text()
    if fmt == "gradescope":
        assert json.loads(text)["score"] == 3.0
    elif fmt == "prairielearn":
        assert json.loads(text)["score"] == 1.0
    else:
        assert 'failures="0"' in text


def test_build_zips(hw, tmp_path):
    wheel = tmp_path / "minidl-0.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"not really a wheel")
    ag, ho = tmp_path / "autograder.zip", tmp_path / "handout.zip"
    assert main(["build", str(hw), "--gradescope", str(ag), "--student", str(ho), "--wheel", str(wheel)]) == 0
    with zipfile.ZipFile(ag) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "grading.toml", "tests/test_public.py",
                "tests_hidden/test_hidden.py", f"wheels/{wheel.name}"} <= names
        assert not any(n.startswith(("solution", "mutants")) for n in names)
        assert z.getinfo("run_autograder").external_attr >> 16 & stat.S_IXUSR
        assert "/autograder/results/results.json" in z.read("run_autograder").decode()
    with zipfile.ZipFile(ho) as z:
        names = set(z.namelist())
        assert names == {"sq.py", "tests/test_public.py", "grading.toml"}


def test_batch_writes_a_csv(hw, tmp_path):
    subs = tmp_path / "subs"
    for who, body in (("alice", "def square(x):\n    return x * x\n"), ("bob", "def square(x:\n")):
        (subs / who).mkdir(parents=True)
        (subs / who / "sq.py").write_text(body)
    out = tmp_path / "grades.csv"
    assert main(["batch", str(subs), "--tests", str(hw), "--jobs", "2", "--out", str(out)]) == 0
    rows = {r["submission"]: r for r in csv.DictReader(out.open())}
    assert rows["alice"]["score"] == "3" and rows["bob"]["score"] == "0" and rows["bob"]["loaded"] == "0"


def test_wheel_is_built_from_tracked_files_only(tmp_path):
    from minidl.grading.bundle import _source_copy

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "setup.py").write_text("# tracked\n")
    (repo / "wip.pyx").write_text("# someone's untracked work in progress\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "setup.py"], check=True)
    (repo / "setup.py").write_text("# tracked, edited\n")
    dest = _source_copy(str(repo), str(tmp_path / "copy"))
    assert sorted(os.listdir(dest)) == ["setup.py"]
    assert (tmp_path / "copy" / "setup.py").read_text() == "# tracked, edited\n"


def test_doctor_names_the_level_and_starts_a_worker(hw, capsys):
    assert main(["doctor", str(hw)]) == 0
    out = capsys.readouterr().out
    assert "isolation level: " in out and "protects: " in out
    assert "was verified from outside and answered: yes" in out and "isolation = auto" in out


@pytest.mark.parametrize("command", [[], ["init"], ["check"], ["run"], ["validate"], ["build"], ["batch"],
                                     ["doctor"]])
def test_help_of_every_command_prints(command, capsys):
    from minidl.grading.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0
    assert "usage: minidl-grade" in capsys.readouterr().out

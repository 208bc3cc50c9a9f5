"""The course kit: tutorials/homework as one course (minidl.grading.course).

The slow test at the end validates every homework of the course in quick mode (solution 100 %,
every mutant loses exactly its declared points, trivial submissions ≤ 10 %, statistical tests
over a few seeds); the full 200-seed sweep is `minidl-grade validate-course tutorials/homework`.
"""
import ast
import os
import subprocess
import sys
import zipfile

import pytest

from minidl.grading import course
from minidl.grading.runner import run_tests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COURSE = os.path.join(ROOT, "tutorials", "homework")
NEW_SETS = ("batchnorm", "gradient_checking", "optimizers_schedules", "initialization", "regularization")


def homework_dirs():
    return sorted(d for d in os.listdir(COURSE) if os.path.isfile(os.path.join(COURSE, d, "grading.toml")))


def settings(name):
    return course._toml(os.path.join(COURSE, name, "grading.toml"))["assignment"]


def functions(path):
    """name -> (argument list, docstring) of the top-level functions of a file."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    return {n.name: (ast.unparse(n.args), ast.get_docstring(n)) for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_course_lists_every_homework_in_order_with_existing_tutorials():
    c = course.load_course(COURSE)
    folders = [h["folder"] for h in c["homework"]]
    assert sorted(folders) == homework_dirs()
    assert set(NEW_SETS) <= set(folders)
    for h in c["homework"]:
        assert h["tutorials"], f"{h['folder']}: no tutorial named in course.toml"
        for t in h["tutorials"]:
            assert os.path.isfile(os.path.join(ROOT, "tutorials", t)), f"{h['folder']}: no tutorial {t}"
        assert h["seeds"], f"{h['folder']}: no source section named in course.toml"


@pytest.mark.parametrize("name", NEW_SETS)
def test_homework_has_the_parts_and_five_mutants(name):
    d = course.describe(dict(folder=name, path=os.path.join(COURSE, name), title=name, tutorials=[], seeds=[]))
    assert len(d["mutants"]) >= 5
    assert all(m["loses"] > 0 for m in d["mutants"])
    assert d["public_points"] > 0 and d["hidden_points"] > 0
    assert any(t["hidden"] for t in d["tests"]) and any(not t["hidden"] for t in d["tests"])
    assert all(t["hint"] for t in d["tests"]), "every test needs a hint that names the formula"
    for part in ("README.md", f"handout/{name}.py", f"solution/{name}.py"):
        assert os.path.isfile(os.path.join(COURSE, name, part)), part


@pytest.mark.parametrize("name", NEW_SETS)
def test_handout_states_the_solution_contract(name):
    """Same functions, same signatures and docstrings in handout and solution; every graded
    function is a stub in the handout; the required names are defined."""
    handout = functions(os.path.join(COURSE, name, "handout", f"{name}.py"))
    solution = functions(os.path.join(COURSE, name, "solution", f"{name}.py"))
    assert handout == solution
    for required in settings(name)["names"]:
        assert required in handout
        source = open(os.path.join(COURSE, name, "handout", f"{name}.py"), encoding="utf-8").read()
        tree = ast.parse(source)
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == required)
        assert isinstance(fn.body[-1], ast.Raise), f"{required} is not a stub in the handout"
        assert len(fn.body) == 2, f"{required}: the handout should hold only the docstring and the raise"


@pytest.mark.parametrize("name", NEW_SETS)
def test_handout_and_solution_run_as_scripts_and_are_percent_notebooks(name):
    for part in ("handout", "solution"):
        path = os.path.join(COURSE, name, part, f"{name}.py")
        text = open(path, encoding="utf-8").read()
        assert text.startswith("# %% [markdown]\n") and "\n# %%\n" in text, "jupytext percent format"
        done = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        assert done.returncode == 0, done.stderr
        assert ("not implemented yet" in done.stdout) == (part == "handout")


@pytest.mark.parametrize("name", NEW_SETS)
def test_handout_opens_as_a_notebook(name):
    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.read(os.path.join(COURSE, name, "handout", f"{name}.py"))
    kinds = [c.cell_type for c in notebook.cells]
    assert kinds[0] == "markdown" and kinds.count("code") >= 2


@pytest.mark.parametrize("name", NEW_SETS)
def test_public_tests_on_the_handout_fail_as_student_errors(name):
    """What a student sees before writing anything: every public test fails on their
    NotImplementedError (not an autograder error), quickly."""
    record = run_tests(os.path.join(COURSE, name, "handout", f"{name}.py"), os.path.join(COURSE, name),
                       public_only=True)
    assert record["tests"], record.get("log")
    assert all(t["status"] == "failed" for t in record["tests"])
    assert not [t["name"] for t in record["tests"] if t["kind"] == "autograder_error"]
    assert any("NotImplementedError" in (t.get("message") or "") for t in record["tests"])


def test_collect_tests_counts_parametrized_cases_and_hidden_folder(tmp_path):
    from minidl.grading.scaffold import init

    root = init("square", str(tmp_path))
    with open(os.path.join(root, "tests", "test_more.py"), "w") as f:
        f.write("import pytest\nfrom minidl.grading import G\n\n"
                "@pytest.mark.parametrize('k', [1, 2, 3])\n"
                "@G.test(2, number='3', name='three cases', hint='h')\n"
                "def test_cases(student, k):\n    pass\n")
    tests = {t["name"]: t for t in course.collect_tests(root)}
    assert tests["three cases"]["points"] == 6 and tests["three cases"]["cases"] == 3
    hidden = [t for t in tests.values() if t["hidden"]]
    assert len(hidden) == 1 and hidden[0]["points"] == 1


def test_course_toml_naming_a_missing_folder_is_an_error(tmp_path):
    (tmp_path / "course.toml").write_text('[[homework]]\nfolder = "nope"\n')
    with pytest.raises(ValueError, match="nope"):
        course.load_course(str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no homework"):
        course.load_course(str(tmp_path / "empty"))


def test_build_course_writes_one_autograder_per_homework_handouts_and_index(tmp_path):
    wheel = tmp_path / "minidl-0.0.0-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel")          # the bundles only carry it
    out = tmp_path / "out"
    logged = []
    written = course.build_course(COURSE, str(out), wheel=str(wheel), log=logged.append)
    names = homework_dirs()
    assert sorted(os.path.basename(p)[:-4] for p in written["gradescope"]) == names
    for name in names:
        with zipfile.ZipFile(out / "gradescope" / f"{name}.zip") as z:
            files = z.namelist()
            assert {"setup.sh", "run_autograder", "grading.toml"} <= set(files)
            assert any(f.startswith("tests_hidden/") for f in files)
            assert f"wheels/{wheel.name}" in files
            assert not any(f.startswith(("solution/", "mutants/", "handout/")) for f in files)
        with zipfile.ZipFile(out / "handouts" / f"{name}.zip") as z:
            files = z.namelist()
            assert f"{settings(name)['submission']}" in files
            assert not any(f.startswith(("tests_hidden/", "solution/", "mutants/")) for f in files)
    with zipfile.ZipFile(out / "handouts.zip") as z:
        top = {f.split("/")[0] for f in z.namelist()}
        assert top == set(names)
        assert not any("/tests_hidden/" in f or "/solution/" in f for f in z.namelist())
    index = (out / "index.md").read_text(encoding="utf-8")
    c = course.load_course(COURSE)
    total = sum(course.describe(h)["points"] for h in c["homework"])
    assert f"Total: {total:g} points over {len(names)} homework sets." in index
    for i, h in enumerate(c["homework"], 1):
        assert f"## {i}. {h['folder']}" in index and h["tutorials"][0] in index
    assert "The hidden tests cover:" in index


def test_cli_registers_the_course_commands():
    from minidl.grading.cli import build_parser

    args = build_parser().parse_args(["validate-course", COURSE, "--quick"])
    assert args.quick and args.fn is course.cmd_validate_course
    args = build_parser().parse_args(["build-course", COURSE, "--out", "x", "--wheel", "w.whl"])
    assert args.out == "x" and args.fn is course.cmd_build_course


@pytest.mark.slow
def test_validate_course_quick_every_homework_passes():
    """The CI gate of the course: `minidl-grade validate-course tutorials/homework --quick`."""
    lines = []
    ok, rows = course.validate_course(COURSE, quick=True, log=lines.append)
    assert ok, "\n".join(lines)
    assert [r[0] for r in rows] == [h["folder"] for h in course.load_course(COURSE)["homework"]]

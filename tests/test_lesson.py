"""minidl.lesson and minidl._progress: where plots go, what happens to figures in a script, a
notebook and the documentation build, progress for long steps, and how failed checks end."""
import os
import subprocess
import sys
import sysconfig
import textwrap
import types
import warnings

import pytest

import minidl._progress as progress
import minidl.lesson as lesson_module
from minidl.lesson import CheckFailed, Lesson


def make_lesson(monkeypatch, where="script", argv=(), **kw):
    monkeypatch.setattr(lesson_module, "environment", lambda: where)
    return Lesson("demo", argv=list(argv), **kw)


# -- output folder ---------------------------------------------------------------------------------
def test_script_writes_plots_next_to_itself(tmp_path):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "course"
    folder.mkdir()
    script = folder / "demo.py"
    script.write_text(textwrap.dedent("""
        from minidl.lesson import Lesson
        lesson = Lesson("demo")
        with lesson.figure("demo.png") as plt:
            plt.plot([0, 1], [1, 0])
        lesson.check(True, "ran")
        lesson.done()
    """))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, str(script)], cwd=elsewhere, capture_output=True, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg"), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (folder / "out" / "demo.png").stat().st_size > 1000
    assert not (elsewhere / "out").exists()


def test_code_from_inside_the_installation_writes_to_cwd(monkeypatch, tmp_path):
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = os.path.join(sysconfig.get_paths()["purelib"], "ipykernel_launcher.py")
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    monkeypatch.chdir(tmp_path)
    assert make_lesson(monkeypatch, "script").out_dir == str(tmp_path / "out")
    fake_main.__file__ = os.path.join(os.path.dirname(lesson_module.__file__), "x.py")
    assert make_lesson(monkeypatch, "script").out_dir == str(tmp_path / "out")


def test_notebook_ignores_kernel_arguments_and_uses_cwd(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "/tmp/kernel.json", "--quick"])
    monkeypatch.delenv("MINIDL_TUTORIAL_QUICK", raising=False)
    monkeypatch.setattr(lesson_module, "environment", lambda: "notebook")
    lesson = Lesson("demo")
    assert lesson.out_dir == str(tmp_path / "out") and not lesson.quick
    monkeypatch.setenv("MINIDL_TUTORIAL_QUICK", "1")
    assert Lesson("demo").quick
    assert make_lesson(monkeypatch, "script", argv=["--out", str(tmp_path / "x")]).out_dir == str(tmp_path / "x")


# -- figures ---------------------------------------------------------------------------------------
@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


def test_script_saves_the_current_figure_and_closes_only_its_own(monkeypatch, tmp_path, plt):
    lesson = make_lesson(monkeypatch, "script", argv=["--out", str(tmp_path)])
    mine = plt.figure()                           # a figure the caller owns
    with lesson.figure("one.png") as p:
        fig, (a, b) = p.subplots(1, 2)            # the block makes its own figure
        a.plot([1, 2])
    assert plt.get_fignums() == [mine.number]
    from PIL import Image

    assert Image.open(tmp_path / "one.png").size == tuple(int(v) for v in fig.get_size_inches() * 100)


def test_gallery_keeps_exactly_the_drawn_figure_open(monkeypatch, tmp_path, plt):
    lesson = make_lesson(monkeypatch, "gallery", argv=["--out", str(tmp_path)])
    with lesson.figure("two.png") as p:
        fig, ax = p.subplots()
        ax.plot([1, 2])
    assert plt.get_fignums() == [fig.number]      # the empty figure from figure() is gone
    assert (tmp_path / "two.png").exists()


def test_notebook_displays_each_drawn_figure_then_closes_it(monkeypatch, tmp_path, plt):
    shown = []
    ipython_display = pytest.importorskip("IPython.display")
    monkeypatch.setattr(ipython_display, "display", shown.append)
    lesson = make_lesson(monkeypatch, "notebook", argv=["--out", str(tmp_path)])
    with lesson.figure("three.png", figsize=(3, 2)) as p:
        p.plot([0, 1])
    assert len(shown) == 1 and shown[0].get_size_inches().tolist() == [3, 2]
    assert plt.get_fignums() == []


def test_figure_closes_its_figures_when_the_block_fails(monkeypatch, tmp_path, plt):
    lesson = make_lesson(monkeypatch, "gallery", argv=["--out", str(tmp_path)])
    with pytest.raises(ZeroDivisionError):
        with lesson.figure("bad.png") as p:
            p.plot([0, 1])
            1 / 0
    assert plt.get_fignums() == [] and not (tmp_path / "bad.png").exists()


def test_no_plots_yields_none(monkeypatch, tmp_path):
    lesson = make_lesson(monkeypatch, "script", argv=["--no-plots", "--out", str(tmp_path)])
    with lesson.figure("none.png") as p:
        assert p is None
    assert not os.listdir(tmp_path)


# -- tables, checks --------------------------------------------------------------------------------
def test_table_is_printed_once_and_not_echoed_by_a_notebook(monkeypatch, capsys):
    text = make_lesson(monkeypatch).table(["a", "b"], [(1, 0.5)])
    assert capsys.readouterr().out.count("| a | ") == 1
    assert text.splitlines()[2] == "| 1 | 0.5000 |" and text._ipython_display_() is None


def test_failed_check_raises_in_a_notebook(monkeypatch):
    lesson = make_lesson(monkeypatch, "notebook")
    lesson.check(False, "the claim")
    with pytest.raises(CheckFailed, match="1 of 1 checks failed: the claim"):
        lesson.done()


def test_failed_check_is_printed_on_a_documentation_page(monkeypatch, capsys):
    lesson = make_lesson(monkeypatch, "gallery")
    lesson.check(False, "the claim")
    lesson.done()
    assert "[FAIL] the claim" in capsys.readouterr().out


def test_failed_check_exits_a_script_with_status_1(monkeypatch):
    lesson = make_lesson(monkeypatch, "script")
    lesson.check(True, "fine")
    lesson.check(False, "broken")
    with pytest.raises(SystemExit) as exc:
        lesson.done()
    assert exc.value.code == 1


# -- BLAS threads ----------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["script", "notebook"])
def test_blas_threads_are_limited_until_done_even_when_a_check_fails(monkeypatch, where):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if Lesson.blas_threads() is None:
        pytest.skip("threadpoolctl finds no BLAS in this NumPy")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = Lesson.blas_threads()
        lesson = make_lesson(monkeypatch, where, blas_threads=1)
        assert Lesson.blas_threads() == 1
        assert lesson.limit_blas_threads(1) == 1          # a second limit stacks, undone in order
        lesson.check(False, "the claim")
        with pytest.raises((SystemExit, CheckFailed)):
            lesson.done()
        assert Lesson.blas_threads() == before == 2


def test_no_blas_limit_by_default(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if Lesson.blas_threads() is None:
        pytest.skip("threadpoolctl finds no BLAS in this NumPy")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        make_lesson(monkeypatch, "script")
        assert Lesson.blas_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_blas_thread_count_must_be_a_positive_int(monkeypatch, bad):
    lesson = make_lesson(monkeypatch, "script")
    with pytest.raises(ValueError, match=r"Lesson.limit_blas_threads: expected a thread count >= 1 .*got"):
        lesson.limit_blas_threads(bad)
    assert lesson._blas_limits == []                    # nothing to undo: no limit was set


# -- progress --------------------------------------------------------------------------------------
def test_progress_without_tqdm_reports_every_5_seconds(monkeypatch, capsys):
    lesson = make_lesson(monkeypatch, "script")
    monkeypatch.setattr(lesson_module, "progress_bar", lambda *a, **k: None)
    clock = iter(range(0, 1000, 3))                   # each step takes 3 s
    monkeypatch.setattr(lesson_module.time, "perf_counter", lambda: next(clock))
    assert list(lesson.progress(["a", "b", "c", "d"], desc="runs")) == ["a", "b", "c", "d"]
    err = capsys.readouterr().err.splitlines()
    assert err == ["runs: 2/4 (6 s)", "runs: 4/4 (12 s)", "runs: done, 4 in 15 s"]


def test_progress_quick_loop_without_tqdm_prints_nothing(monkeypatch, capsys):
    lesson = make_lesson(monkeypatch, "script")
    monkeypatch.setattr(lesson_module, "progress_bar", lambda *a, **k: None)
    assert sum(lesson.progress(iter(range(10)))) == 45
    assert capsys.readouterr().err == ""


def test_progress_bar_counts_finished_items_and_closes(monkeypatch):
    lesson = make_lesson(monkeypatch, "script")

    class Bar:
        def __init__(self, total, desc=None, leave=False):
            self.total, self.desc, self.n, self.closed = total, desc, 0, False

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    bars = []
    monkeypatch.setattr(lesson_module, "progress_bar", lambda *a, **k: bars.append(Bar(*a, **k)) or bars[-1])
    seen = []
    for i in lesson.progress(range(7), desc="x"):
        seen.append(bars[0].n)                     # the bar counts items already finished
    assert seen == list(range(7)) and (bars[0].total, bars[0].n, bars[0].desc, bars[0].closed) == (7, 7, "x", True)
    steps = lesson.progress(range(7))
    next(steps)
    steps.close()                                  # a loop left early (break, exception) closes its bar
    assert bars[1].closed and bars[1].n == 0


def test_progress_bar_kinds(monkeypatch):
    tqdm = pytest.importorskip("tqdm")
    monkeypatch.setattr(progress, "environment", lambda: "gallery")
    assert progress.progress_bar(10) is None
    # A notebook without ipywidgets: a text bar, redrawn once a second, and no IProgress warning.
    monkeypatch.setattr(progress, "environment", lambda: "notebook")
    monkeypatch.setattr(progress, "_has_ipywidgets", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bar = progress.progress_bar(10, desc="d")
    assert type(bar) is tqdm.std.tqdm and bar.mininterval == 1.0
    bar.close()


def test_environment_is_script_here():
    assert progress.environment() == "script"

"""Tutorials executed as Jupyter notebooks, as a learner who opens them in Jupyter meets them:
jupytext reads the "# %%" file, nbclient runs it on an ipykernel (quick mode through
MINIDL_TUTORIAL_QUICK=1). Every figure must be an inline image/png output, the PNG files
must land in out/ under the notebook's working directory (never inside the installed
package), and progress output must not flood the notebook or warn about IProgress."""
import importlib.util
import json
import os
import re
import sys
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MISSING = [m for m in ("jupytext", "nbclient", "nbformat", "ipykernel", "matplotlib", "tqdm")
           if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} not installed: "
                                                      f"pip install -e '.[notebooks]'")

# 00: a training loop and one figure; 07: two figures; 11: a figure the cell makes itself
# with plt.subplots (the empty one Lesson.figure made is dropped).
NOTEBOOKS = ["00_quickstart", "07_kaiming_relu", "11_vanishing_exploding_gradients"]


def _execute(nb, cwd, monkeypatch, timeout=300):
    from nbclient import NotebookClient

    # A kernel spec of our own, so the kernel is this interpreter (with this minidl) even when
    # the machine has another "python3" kernel installed.
    spec = cwd / "jupyter" / "kernels" / "minidl-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "minidl test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(cwd / "jupyter"))
    monkeypatch.setenv("MINIDL_TUTORIAL_QUICK", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)     # the kernel chooses its inline backend
    client = NotebookClient(nb, timeout=timeout, kernel_name="minidl-test", allow_errors=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def _stream(nb, name):
    return "".join(o.get("text", "") for o in _outputs(nb) if o.get("output_type") == "stream" and o.get("name") == name)


def _installed_out_files():
    """PNG files under any out/ folder of site-packages or of the minidl package."""
    import minidl

    roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], os.path.dirname(minidl.__file__)}
    found = set()
    for root in roots:
        out = os.path.join(root, "out")
        if os.path.isdir(out):
            found |= {os.path.join(out, f) for f in os.listdir(out)}
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tutorial_as_notebook_shows_every_figure_inline_and_writes_pngs_to_cwd(name, tmp_path, monkeypatch):
    import jupytext

    path = os.path.join(ROOT, "tutorials", f"{name}.py")
    with open(path, encoding="utf-8") as f:
        source = f.read()
    figures = re.findall(r"lesson\.figure\(\s*[\"']([^\"']+\.png)", source)
    assert figures, f"{name} draws no figure: pick another tutorial for this test"
    before = _installed_out_files()

    nb = _execute(jupytext.reads(source, fmt="py:percent"), tmp_path, monkeypatch)

    images = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) == len(figures), (f"{name}: {len(images)} inline images for {len(figures)} "
                                         f"lesson.figure calls ({figures})")
    for image in images:                       # a real PNG, not an empty placeholder
        assert len(image["data"]["image/png"]) > 1000
    written = sorted(os.listdir(tmp_path / "out"))
    assert written == sorted(set(figures)), f"out/ in the working directory holds {written}"
    assert _installed_out_files() == before, "a tutorial wrote into the installed package"
    stdout, stderr = _stream(nb, "stdout"), _stream(nb, "stderr")
    assert "(quick mode)" in stdout
    assert re.search(r"All \d+ checks passed\.", stdout), stdout[-2000:]
    assert "[FAIL]" not in stdout
    assert "IProgress not found" not in stderr


def test_fit_and_lesson_progress_in_a_notebook(tmp_path, monkeypatch):
    """fit(progress=True) and Lesson.progress in a kernel: no IProgress warning, widget bars
    when ipywidgets is installed, otherwise text redrawn at most once a second — never once
    per step — and one printed line per epoch."""
    import nbformat

    code = [
        "import numpy as np, minidl\n"
        "from minidl import nn\n"
        "from minidl.data import DataLoader\n"
        "from minidl.lesson import Lesson\n"
        "from minidl.train import fit\n"
        "minidl.manual_seed(0)\n"
        "X = np.random.default_rng(0).standard_normal((400, 4)).astype(np.float32)\n"
        "y = (X[:, 0] > 0).astype(np.int64)\n"
        "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n"
        "opt = minidl.optim.SGD(model.parameters(), learning_rate=0.1)\n"
        "history = fit(model, nn.CrossEntropyLoss(), opt, DataLoader(X, y, batch_size=4, seed=0), 3)\n"
        "print('steps per epoch', history.steps_per_epoch)\n"
        "print('minidl at', minidl.__file__)",
        "lesson = Lesson('progress_demo')\n"
        "total = sum(i for i in lesson.progress(range(200), desc='summing'))\n"
        "print('total', total)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in code])
    _execute(nb, tmp_path, monkeypatch)
    stdout, stderr = _stream(nb, "stdout"), _stream(nb, "stderr")
    import minidl

    assert "steps per epoch 100" in stdout and "total 19900" in stdout
    assert f"minidl at {minidl.__file__}" in stdout           # the kernel runs the minidl under test
    assert len(re.findall(r"^epoch \d/3 ", stdout, flags=re.M)) == 3, stdout
    assert "IProgress" not in stderr
    widgets = [o for o in _outputs(nb) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if importlib.util.find_spec("ipywidgets") is not None:
        assert len(widgets) == 4, "expected a widget bar per epoch and one for Lesson.progress"
        assert "it/s" not in stderr
    else:
        # 300 training steps in well under a second per epoch: a few redraws, not 300.
        assert stderr.count("\r") < 30, stderr[:2000]

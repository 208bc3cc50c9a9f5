"""Every tutorial runs in --quick mode and its checks hold (a tutorial that stops working
fails CI). Each runs in its own process, as a student would run it."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTORIALS = sorted(glob.glob(os.path.join(ROOT, "tutorials", "[0-9][0-9]_*.py")))


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[os.path.basename(p) for p in TUTORIALS])
def test_tutorial_runs_quick_and_its_checks_hold(path, tmp_path):
    # One BLAS thread: reproducible rounding, and OpenBLAS's spinning workers cannot fight
    # the test runner for two cores (small GEMMs then run 5-10x slower).
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, path, "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path,
    )
    tail = (proc.stdout[-3000:] + "\n" + proc.stderr[-3000:]).strip()
    assert proc.returncode == 0, f"{os.path.basename(path)} failed:\n{tail}"
    assert "[FAIL]" not in proc.stdout, tail
    assert "[PASS]" in proc.stdout, f"{os.path.basename(path)} checked no claim:\n{tail}"


def test_tutorials_are_jupytext_percent_scripts():
    for path in TUTORIALS:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert "# %%" in text, f"{path} has no '# %%' cells"
        assert "# %% [markdown]" in text, f"{path} has no markdown cells"

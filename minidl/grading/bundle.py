"""``minidl-grade build``: the Gradescope autograder zip and the students' handout zip.

autograder.zip (Gradescope's layout: ``setup.sh`` and ``run_autograder`` at the top; the zip
is unpacked to /autograder/source)::

    setup.sh            pip-installs numpy, pytest and the bundled minidl wheel (no compiler)
    run_autograder      minidl-grade run /autograder/submission ... → /autograder/results/results.json
    grading.toml  tests/  tests_hidden/
    wheels/minidl-*.whl built from the current checkout (or given with --wheel)

handout.zip: the contents of ``handout/``, the public ``tests/`` and ``grading.toml`` — never
``tests_hidden/``, ``solution/`` or ``mutants/``.
"""
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once while building the image.
set -euo pipefail
apt-get install -y python3 python3-pip >/dev/null 2>&1 || true
python3 -m pip install --upgrade pip
python3 -m pip install "numpy>=2.0" "pytest>=7"
python3 -m pip install --no-deps /autograder/source/wheels/*.whl
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; results.json is written after every test.
cd /autograder/source
python3 -m minidl.grading doctor || true        # the isolation level, in the instructor's log
python3 -m minidl.grading run /autograder/submission --tests /autograder/source \\
    --format gradescope --out /autograder/results/results.json --budget {budget}
"""


def _source_copy(repo_root, dest):
    """The files git tracks in ``repo_root`` (with their current contents) copied to ``dest``:
    the wheel is built from the checkout, not from build artefacts or untracked files."""
    import shutil

    try:
        listed = subprocess.run(["git", "-C", repo_root, "ls-files", "-z"], check=True, capture_output=True).stdout
        files = [f for f in listed.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = None
    if not files:
        shutil.copytree(repo_root, dest, ignore=shutil.ignore_patterns(".git", "build", "dist", "*.so", "*.c",
                                                                      "__pycache__"))
        return dest
    for rel in files:
        src = os.path.join(repo_root, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))
    return dest


def build_wheel(repo_root, out_dir):
    """Build a minidl wheel from ``repo_root`` (compiles the kernels once, here, in a copy)."""
    src = _source_copy(repo_root, os.path.join(out_dir, "src"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out_dir,
                    src], check=True)
    wheels = glob.glob(os.path.join(out_dir, "minidl-*.whl"))
    if not wheels:
        raise RuntimeError("pip wheel produced no minidl wheel")
    return wheels[0]


def _add_tree(zf, folder, arc_prefix, skip=("__pycache__", ".pytest_cache")):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(root, name)
            zf.write(full, os.path.join(arc_prefix, os.path.relpath(full, folder)))


def _add_text(zf, arcname, text, executable=False):
    info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    zf.writestr(info, text)


def build_autograder(homework, out_path, wheel=None, repo_root=None, budget=None):
    from minidl.grading.runner import Homework

    hw = homework if isinstance(homework, Homework) else Homework(homework)
    budget = budget or float(hw.settings().get("budget", 540.0))
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            root = repo_root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            wheel = build_wheel(root, tmp)
        with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as zf:
            _add_text(zf, "setup.sh", SETUP_SH, executable=True)
            _add_text(zf, "run_autograder", RUN_AUTOGRADER.format(budget=budget), executable=True)
            if hw.config:
                zf.write(hw.config, "grading.toml")
            for d in hw.test_dirs:
                _add_tree(zf, d, os.path.basename(d))
            zf.write(wheel, os.path.join("wheels", os.path.basename(wheel)))
    return out_path


def build_handout(homework, out_path):
    from minidl.grading.runner import Homework

    hw = homework if isinstance(homework, Homework) else Homework(homework)
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as zf:
        if os.path.isdir(hw.sub("handout")):
            _add_tree(zf, hw.sub("handout"), "")
        for d in hw.public_dirs:
            _add_tree(zf, d, os.path.basename(d))
        if hw.config:
            zf.write(hw.config, "grading.toml")
    return out_path

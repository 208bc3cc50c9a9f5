"""``minidl-grade build``: the Gradescope autograder zip and the students' handout zip.

autograder.zip (Gradescope's layout: ``setup.sh`` and ``run_autograder`` at the top; the zip
is unpacked to /autograder/source)::

    setup.sh            pip-installs numpy, pytest and the bundled minidl wheel (no compiler)
    run_autograder      minidl-grade run /autograder/submission ... → /autograder/results/results.json
    grading.toml  tests/  tests_hidden/
    wheels/minidl-*.whl given with --wheel; else built from the source checkout minidl is
                        imported from (pip wheel, build isolation: no build tools needed
                        here); else the installed minidl re-packed as a wheel

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
wheel=$(ls /autograder/source/wheels/minidl-*.whl)
python3 -m pip install "$wheel[grading]" || {
  echo "setup.sh: $(basename "$wheel") does not install on $(python3 -V) / $(uname -m): rebuild the zip" >&2
  echo "with --wheel pointing to a wheel for this Python and platform" >&2
  exit 1
}
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


class WheelError(RuntimeError):
    """No minidl wheel could be found or built; the message says what to do."""


def checkout_root():
    """The source checkout this minidl is imported from (a clone, an editable install), or
    None when minidl is an installed copy (site-packages)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    markers = ("pyproject.toml", "setup.py", os.path.join("minidl", "_kernels"))
    return root if all(os.path.exists(os.path.join(root, m)) for m in markers) else None


def build_wheel(repo_root, out_dir):
    """Build a minidl wheel from ``repo_root`` (compiles the kernels once, here, in a copy).
    pip's build isolation fetches setuptools, Cython and NumPy: nothing to install by hand."""
    src = _source_copy(repo_root, os.path.join(out_dir, "src"))
    print(f"minidl-grade: building a minidl wheel from {repo_root} (compiles the kernels: a minute or two)",
          file=sys.stderr, flush=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out_dir, src],
                          capture_output=True, text=True)
    wheels = glob.glob(os.path.join(out_dir, "minidl-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise WheelError(f"could not build a minidl wheel from {repo_root} (pip wheel exited {proc.returncode}):\n"
                         f"{tail}\nBuild one yourself (python -m build --wheel) or download one, then pass "
                         "--wheel path/to/minidl-*.whl")
    return wheels[0]


def _wheel_tag(wheel_metadata):
    """The compressed tag (``cp311-cp311-linux_x86_64``) from a dist-info ``WHEEL`` file."""
    tags = [line.split(":", 1)[1].strip() for line in wheel_metadata.splitlines() if line.startswith("Tag:")]
    if not tags:
        raise WheelError("the installed minidl was not installed from a wheel (no dist-info/WHEEL tag): "
                         "pass --wheel path/to/minidl-*.whl")
    parts = list(zip(*(tag.split("-") for tag in tags)))
    return "-".join(".".join(sorted(set(p), key=p.index)) for p in parts)


def wheel_from_installed(out_dir):
    """Re-pack the installed (non-editable) minidl, compiled kernels included, into a wheel:
    exactly the files pip installed (``RECORD``), with a fresh ``RECORD``."""
    import base64
    import hashlib
    from importlib import metadata

    try:
        dist = metadata.distribution("minidl")
    except metadata.PackageNotFoundError:
        raise WheelError("minidl is not installed as a distribution (no dist-info): pass --wheel path/to/minidl-*.whl")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = os.path.dirname(os.path.abspath(str(dist.locate_file(os.path.join("minidl", "__init__.py")))))
    if os.path.normcase(installed) != os.path.normcase(here) or not dist.files:
        raise WheelError(f"the minidl imported from {here} is not the installed distribution at {installed}: "
                         "pass --wheel path/to/minidl-*.whl")
    info_dir = f"minidl-{dist.version}.dist-info"
    skip = {f"{info_dir}/{name}" for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    path = os.path.join(out_dir, f"minidl-{dist.version}-{_wheel_tag(dist.read_text('WHEEL') or '')}.whl")
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(str(f).replace(os.sep, "/") for f in dist.files):
            full = str(dist.locate_file(rel))
            if rel in skip or rel.startswith("../") or "__pycache__" in rel or not os.path.isfile(full):
                continue            # console scripts outside site-packages are regenerated by pip
            with open(full, "rb") as f:
                data = f.read()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            zf.writestr(rel, data)
            record.append(f"{rel},sha256={digest},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        zf.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return path


def find_or_build_wheel(out_dir, repo_root=None):
    """The wheel to bundle: built from the checkout minidl runs from, else the installed minidl."""
    root = repo_root or checkout_root()
    wheel = build_wheel(root, out_dir) if root else wheel_from_installed(out_dir)
    with zipfile.ZipFile(wheel) as zf:
        if not any(n.endswith((".so", ".pyd")) for n in zf.namelist()):
            print(f"minidl-grade: warning: {os.path.basename(wheel)} has no compiled kernels (built without a C "
                  "compiler?); the autograder will run minidl on its NumPy backend (slower)", file=sys.stderr)
    return wheel


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
            wheel = find_or_build_wheel(tmp, repo_root)
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

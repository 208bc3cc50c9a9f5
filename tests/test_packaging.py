"""Distribution: typing stubs, `python -m minidl`, the README's quickstart, the grader's
install hints and the wheel `minidl-grade build` bundles.

The installs themselves (wheel, sdist, no compiler, Python 3.10 with NumPy 1.26, 3.13) are
exercised by .ci/run, which also runs this file against each of those installs.
"""
import ast
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import zipfile

import pytest

import minidl

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.dirname(os.path.abspath(minidl.__file__))
LAZY_MODULES = ["minidl", "minidl.data", "minidl.nn", "minidl.nn.functional", "minidl.nn.utils", "minidl.optim"]


def _stub_imports(module):
    """(source_module, name, alias) for every ``from X import Y as Z`` in a module's .pyi."""
    mod = importlib.import_module(module)
    path = os.path.splitext(mod.__file__)[0] + ".pyi"
    assert os.path.exists(path), f"{module} exports names lazily but has no stub {path}"
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return [(node.module, alias.name, alias.asname or alias.name)
            for node in tree.body if isinstance(node, ast.ImportFrom) for alias in node.names]


@pytest.mark.parametrize("module", LAZY_MODULES)
def test_stub_names_every_lazy_export_and_the_object_it_resolves_to(module):
    mod = importlib.import_module(module)
    imports = _stub_imports(module)
    stubbed = {alias for _, _, alias in imports}
    assert set(mod._EXPORTS) <= stubbed, f"stub lacks {sorted(set(mod._EXPORTS) - stubbed)}: run tools/gen_stubs.py"
    assert stubbed <= set(mod.__all__), f"stub names {sorted(stubbed - set(mod.__all__))} the module does not export"
    for source, name, alias in imports:
        real = getattr(importlib.import_module(source), name) if hasattr(importlib.import_module(source), name) \
            else importlib.import_module(f"{source}.{name}")
        assert getattr(mod, alias) is real, f"{module}.{alias} is not {source}.{name}"


def test_every_module_with_lazy_exports_is_listed_here():
    """A new lazy package needs a stub (tools/gen_stubs.py) and a place in LAZY_MODULES."""
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py") and name != "_lazy.py":
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    if "lazy_exports(__name__" in f.read():
                        rel = os.path.relpath(os.path.join(folder, name), os.path.dirname(PACKAGE))[:-3]
                        found.append(rel.replace(os.sep, ".").removesuffix(".__init__"))
    assert sorted(found) == sorted(LAZY_MODULES)


def test_stubs_match_the_generator():
    tool = os.path.join(REPO, "tools", "gen_stubs.py")
    if not os.path.exists(tool):
        pytest.skip("tools/gen_stubs.py is not next to these tests (tests copied without the repository)")
    spec = importlib.util.spec_from_file_location("gen_stubs", tool)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for module in LAZY_MODULES:
        with open(gen.stub_path(module), encoding="utf-8") as f:
            assert f.read() == gen.render(module), f"stale stub for {module}: run python tools/gen_stubs.py"


def test_package_is_marked_typed():
    assert os.path.isfile(os.path.join(PACKAGE, "py.typed"))


def test_mypy_sees_the_real_classes(tmp_path):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy not installed (.ci/run installs it)")
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import minidl\nfrom minidl import nn, optim\nfrom minidl.nn import functional as F\n"
        "model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())\n"
        "reveal_type(nn.Linear(3, 2))\nreveal_type(optim.SGD)\nreveal_type(minidl.data.load_digits)\n"
        "reveal_type(F.relu)\nreveal_type(minidl.nn.utils.clip_grad_norm_)\nreveal_type(minidl.__version__)\n"
        "minidl.nn.NoSuchLayer\n"
    )
    # MYPYPATH: the folder minidl is imported from (an editable install hides it behind an import hook).
    env = {**os.environ, "MYPYPATH": os.path.dirname(PACKAGE)}
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent",
                           "--cache-dir", str(tmp_path / "cache"), str(probe)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    out = proc.stdout
    revealed = re.findall(r'Revealed type is "(.*)"', out)
    assert len(revealed) == 6, out + proc.stderr
    assert revealed[0] == "minidl.nn.linear.Linear"
    assert revealed[1].endswith("-> minidl.optim.sgd.SGD")
    assert all(r.startswith("def (") for r in revealed[2:5]) and revealed[5] == "str", revealed
    # A misspelt name is an error, not a silent Any.
    assert re.search(r'Module has no attribute "NoSuchLayer"', out), out


def test_import_does_not_load_the_lazy_submodules():
    code = "import sys, minidl; print(sorted(m for m in ('minidl.nn', 'minidl.optim', 'minidl.grading') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_python_m_minidl_prints_info_and_the_quickstart():
    from minidl.__main__ import QUICKSTART

    out = subprocess.run([sys.executable, "-m", "minidl"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert re.search(rf"^minidl\s+{re.escape(minidl.__version__)}$", out.stdout, flags=re.M)
    assert re.search(r"^backend\s+(cython|numpy)$", out.stdout, flags=re.M)
    for command in QUICKSTART:
        assert command in out.stdout


def _readme():
    path = os.path.join(REPO, "README.md")
    if not os.path.exists(path):
        pytest.skip("README.md is not next to these tests")
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_readme_quickstart_is_exactly_the_two_commands_ci_and_python_m_minidl_use():
    from minidl.__main__ import QUICKSTART

    section = re.search(r"^## Quickstart\n(.*?)^## ", _readme(), flags=re.S | re.M).group(1)
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    commands = [line for line in blocks[0].splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert tuple(commands) == QUICKSTART
    ci = os.path.join(REPO, ".ci", "run")
    if os.path.exists(ci):      # not in the sdist
        with open(ci, encoding="utf-8") as f:
            assert QUICKSTART[1] in f.read(), ".ci/run must run the README's test command verbatim"


def test_minidl_grade_without_pytest_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['pytest'] = None\n"
            "from minidl.grading.cli import main\n"
            "sys.exit(main(['check', 'solution.py']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 1
    assert "needs pytest" in out.stderr and 'pip install "minidl[grading]"' in out.stderr
    assert "Traceback" not in out.stderr


def test_grading_config_loads_with_tomli_when_tomllib_is_missing(tmp_path):
    """Python 3.10 has no tomllib; grading reads grading.toml with tomli there."""
    if importlib.util.find_spec("tomli") is None:
        pytest.skip("tomli not installed (the [grading]/[test] extras install it on Python 3.10)")
    (tmp_path / "grading.toml").write_text('[assignment]\nname = "hw"\nbudget = 12.5\n')
    code = ("import sys; sys.modules['tomllib'] = None\n"
            "from minidl.grading.plugin import load_config_file\n"
            f"print(load_config_file({str(tmp_path / 'grading.toml')!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'name': 'hw', 'budget': 12.5}"


def test_wheel_tag_from_wheel_metadata():
    from minidl.grading.bundle import _wheel_tag

    assert _wheel_tag("Wheel-Version: 1.0\nTag: cp311-cp311-linux_x86_64\n") == "cp311-cp311-linux_x86_64"
    repaired = "Tag: cp310-cp310-manylinux_2_17_x86_64\nTag: cp310-cp310-manylinux2014_x86_64\n"
    assert _wheel_tag(repaired) == "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64"


def test_bundle_uses_the_checkout_or_the_installed_copy():
    from minidl.grading import bundle

    root = bundle.checkout_root()
    if root is not None:
        assert os.path.samefile(root, os.path.dirname(PACKAGE))
        assert os.path.isfile(os.path.join(root, "setup.py"))
    else:
        assert "site-packages" in PACKAGE or "dist-packages" in PACKAGE


def test_installed_minidl_repacks_into_an_installable_wheel(tmp_path):
    """After `pip install minidl-*.whl` (no checkout to build from) `minidl-grade build`
    bundles the installed files, compiled kernels included, as a valid wheel."""
    import base64
    import hashlib

    from minidl.grading import bundle

    if bundle.checkout_root() is not None:
        with pytest.raises(bundle.WheelError, match="--wheel"):
            bundle.wheel_from_installed(str(tmp_path))      # an editable install has no files to re-pack
        pytest.skip("minidl runs from a source checkout here (.ci/run covers the installed case)")
    wheel = bundle.wheel_from_installed(str(tmp_path))
    assert re.fullmatch(rf"minidl-{re.escape(minidl.__version__)}-cp3\d+-cp3\d+-[\w.]+\.whl", os.path.basename(wheel))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        rows = [line.split(",") for line in zf.read(record_name).decode().splitlines()]
        assert sorted(r[0] for r in rows) == sorted(names)
        for path, digest, size in rows:
            if path == record_name:
                continue
            data = zf.read(path)
            assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert int(size) == len(data)
    assert "minidl/nn/linear.py" in names and "minidl/py.typed" in names
    assert not any("__pycache__" in n or n.endswith("direct_url.json") for n in names)
    compiled = [n for n in names if n.startswith("minidl/_kernels/") and n.endswith((".so", ".pyd"))]
    built = [t for t in minidl._kernels._topics if t not in minidl.backend.missing_kernels()]
    support = ["_pool"] if built else []     # the thread pool the kernels cimport (no twin, no topic)
    assert sorted(os.path.basename(n).split(".")[0] for n in compiled) == sorted(built + support)


def test_minidl_info_stays_the_function_after_its_module_is_imported():
    code = "import minidl.info, minidl; from minidl.info import info; print(minidl.info is info, callable(minidl.info))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]

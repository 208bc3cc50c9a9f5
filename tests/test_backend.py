import subprocess
import sys

import pytest

import minidl
from minidl import backend
from minidl._kernels import kernels


def test_backend_switch_and_context_manager():
    start = backend.current()
    with backend.using("numpy"):
        assert backend.current() == "numpy"
    assert backend.current() == start


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown backend"):
        backend.use("cuda")


def test_every_twin_name_has_a_compiled_kernel():
    """A kernel without a compiled version would silently run NumPy on the cython backend."""
    from minidl import _kernels

    if "cython" not in backend.available():
        pytest.skip("compiled backend not built")
    missing = [name for name in _kernels._reference_table if _kernels.implementations(name)[1] is None]
    assert missing == []


def test_kernels_namespace_follows_backend():
    from minidl import _kernels

    if not _kernels._reference_table:
        pytest.skip("no kernels registered")
    name = sorted(_kernels._reference_table)[0]
    with backend.using("numpy"):
        assert getattr(kernels, name) is _kernels._reference_table[name]


def test_environment_variable_selects_backend():
    code = "import minidl; print(minidl.backend.current())"
    out = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "MINIDL_BACKEND": "numpy"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"


def test_bad_environment_variable_raises():
    code = "import minidl"
    out = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "MINIDL_BACKEND": "gpu"},
                         capture_output=True, text=True)
    assert out.returncode != 0 and "MINIDL_BACKEND" in out.stderr


def test_info_reports_backend(capsys):
    facts = minidl.info()
    assert facts["backend"] == backend.current()
    assert "blas" in facts and "compiled_kernels_missing" in facts and "openmp_compiled_in" not in facts
    assert "backend" in capsys.readouterr().out


def test_without_the_extension_minidl_warns_once_and_runs_on_numpy(tmp_path):
    """A copy of the package without its built extensions (a source checkout, or a machine
    where the build could not run) must still work: one warning, the NumPy backend, correct
    numbers, and a hint that names the real cause."""
    import os
    import shutil

    src = os.path.dirname(minidl.__file__)
    shutil.copytree(src, tmp_path / "minidl", ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"))
    code = (
        # An editable install maps the extension modules to the repo's built files through a
        # meta-path finder; drop it so only the extension-less copy is importable.
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import minidl, numpy as np\n"
        "    from minidl import nn\n"
        "    layer = nn.Linear(3, 2)\n"
        "    x = np.ones((4, 3), dtype=np.float32)\n"
        "    y = layer(x)\n"
        "    assert np.allclose(y, x @ layer.weight.data.T + layer.bias.data)\n"
        "msgs = [str(w.message) for w in caught if 'compiled kernels' in str(w.message)]\n"
        "print(minidl.backend.current(), minidl.backend.available(), len(msgs))\n"
        "print(msgs[0])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MINIDL_BACKEND", "PYTHONPATH")}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    first, message = out.stdout.splitlines()[:2]
    assert first == "numpy ('numpy',) 1"
    assert "pip install -e ." in message and str(tmp_path) in message

"""Choose which implementation of the kernels runs: compiled Cython or the NumPy reference::

    minidl.backend.current()            -> "cython" or "numpy"
    minidl.backend.use("numpy")
    with minidl.backend.using("numpy"): ...
    MINIDL_BACKEND=numpy python train.py

Layers never branch on the backend: they call ``minidl._kernels.kernels.<name>(...)`` and
this module decides which table of functions that name resolves to. Both backends give the
same numbers to float rounding and identical random masks.
"""
import contextlib
import os

BACKENDS = ("cython", "numpy")


def _registry():
    from minidl import _kernels

    return _kernels


def available() -> tuple:
    """The backends that can run here: ("cython", "numpy") when the extension is built."""
    return ("cython", "numpy") if _registry().compiled_available() else ("numpy",)


def current() -> str:
    """The name of the backend kernels currently dispatch to."""
    return _registry().active_backend()


def use(name: str) -> None:
    """Switch every kernel to backend ``name`` ("cython" or "numpy")."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
    reg = _registry()
    if name == "cython" and not reg.compiled_available():
        raise RuntimeError(
            "the compiled kernels are not available (" + reg.compiled_error() + "); "
            "reinstall minidl with a C compiler (pip install .) or use the 'numpy' backend"
        )
    reg.activate(name)


@contextlib.contextmanager
def using(name: str):
    """Context manager: run the block on backend ``name``, then restore the previous one."""
    previous = current()
    use(name)
    try:
        yield
    finally:
        use(previous)


def missing_kernels() -> list:
    """Kernel modules whose compiled version could not be imported (they run on NumPy)."""
    return _registry().missing_compiled()


def _initial_backend() -> str:
    wanted = os.environ.get("MINIDL_BACKEND", "").strip().lower()
    if wanted and wanted not in BACKENDS:
        raise ValueError(f"MINIDL_BACKEND={wanted!r} is not one of {BACKENDS}")
    return wanted or "cython"

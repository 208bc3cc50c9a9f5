"""Kernel dispatch: one set of kernel names, two implementations.

Layout (thinc's ops idea):

    minidl/_kernels/reference/<topic>.py   the NumPy twin: plain, readable NumPy, the
                                           textbook lines; its ``__all__`` names the kernels.
    minidl/_kernels/<topic>.pyx            the compiled kernel: same names, same signatures,
                                           one fused float/double body per kernel, nogil loops,
                                           the checks of _validation.pxi; its docstring opens
                                           with the design and points to the layer's docstring
                                           for the formula.
    minidl/_kernels/native/                C machinery some kernels include (convolution, thread
                                           pool, PCG64 masks, flush-to-zero, the per-ISA norm
                                           loops): see its README.
    minidl/_kernels/_pool.pyx              the thread pool the elementwise kernels share
                                           (``cimport``-ed: run_tasks, run_ranges).
    minidl/_kernels/blas_threads.py        OpenBLAS thread policy around minidl's own GEMMs.

Conventions every kernel follows (both twins):

* The caller (a layer, an optimizer) has already validated and allocated: arrays are
  C-contiguous, share one float dtype (float32 or float64) and have consistent shapes.
  Compiled kernels still re-check dtype, shape, contiguity and writeability cheaply (the
  shared ``_validation.pxi``) and raise ``ValueError`` / ``TypeError`` naming the kernel
  rather than read out of bounds: a kernel never crashes the interpreter.
* Results are written into ``out`` buffers passed in by the caller; kernels return ``None``
  or a Python scalar (e.g. a loss value). They allocate no activation-sized arrays: the
  convolution's im2col / phase layouts, which do, are NumPy code in ``conv_layouts.py``; its
  wrapper allocates only the packed filters and one workspace per thread, before releasing
  the GIL.
* Compiled loops release the GIL. Calls large enough to pay run on the shared pool
  (``_pool.pyx``, ``MINIDL_NUM_THREADS``). The elementwise, norm, dropout and attention
  kernels split work in blocks fixed by the shapes alone and add partial sums in block
  order: the same bits on any thread count. Linear's and the convolution's splits follow
  the thread count, so their results are deterministic for a given count and agree across
  counts to rounding.

Layers use the dispatch object and never look at the backend::

    from minidl._kernels import kernels
    kernels.relu_forward(x, out)

``kernels`` is a namespace whose attributes are swapped when the backend changes, so a call
costs one attribute lookup.
"""
import glob
import importlib
import os
import pkgutil
import types
import warnings

from . import reference as _reference

kernels = types.SimpleNamespace()

_reference_table = {}     # name -> NumPy twin function
_compiled_table = {}      # name -> compiled function (falls back to the twin per module)
_topics = []              # kernel topics found (reference module names)
_missing = []             # topics whose compiled module failed to import
_errors = {}              # topic -> error text
_active = [None]


def _discover():
    for info in sorted(pkgutil.iter_modules(_reference.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        twin = importlib.import_module(f"{__name__}.reference.{info.name}")
        names = getattr(twin, "__all__", None)
        if not names:
            continue
        _topics.append(info.name)
        try:
            compiled = importlib.import_module(f"{__name__}.{info.name}")
        except ImportError as exc:
            compiled = None
            _missing.append(info.name)
            _errors[info.name] = f"{type(exc).__name__}: {exc}"
        for name in names:
            if name in _reference_table:
                raise RuntimeError(f"kernel name {name!r} is defined by two reference modules")
            _reference_table[name] = getattr(twin, name)
            fn = getattr(compiled, name, None) if compiled is not None else None
            _compiled_table[name] = fn if fn is not None else _reference_table[name]


def compiled_available() -> bool:
    """True when the compiled extension is built (at least one kernel module imports)."""
    return bool(_topics) and len(_missing) < len(_topics)


def compiled_error() -> str:
    if not _errors:
        return "no error"
    return "; ".join(f"{topic}: {err}" for topic, err in sorted(_errors.items()))


def missing_compiled() -> list:
    return list(_missing)


def active_backend() -> str:
    return _active[0]


def activate(name: str) -> None:
    table = _compiled_table if name == "cython" else _reference_table
    kernels.__dict__.clear()
    kernels.__dict__.update(table)
    _active[0] = name


def implementations(name: str):
    """(reference_function, compiled_function_or_None) for one kernel name: for parity tests."""
    ref = _reference_table[name]
    comp = _compiled_table.get(name)
    return ref, (None if comp is ref else comp)


def _how_to_fix() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.basename(os.path.dirname(os.path.dirname(here))) in ("site-packages", "dist-packages")
    if installed:
        # Installed without them: setup.py found no working C compiler (or MINIDL_NO_EXTENSIONS=1).
        return ("minidl was installed without its compiled kernels (no C compiler at install time?): install "
                "a C compiler and reinstall minidl, or install a prebuilt wheel.")
    if glob.glob(os.path.join(here, "*.pyx")) and not glob.glob(os.path.join(here, "*.so")) \
            and not glob.glob(os.path.join(here, "*.pyd")):
        # A source checkout shadows the installed package (e.g. `python` started in the repo
        # folder after `pip install .`): its extensions were never built.
        return (f"This minidl is the source folder {os.path.dirname(here)!r}, whose extensions "
                "are not built: run `pip install -e .` there, or start Python from another folder.")
    return "Reinstall with a C compiler: pip install ."


def _initialise():
    from minidl import backend

    _discover()
    wanted = backend._initial_backend()
    if wanted == "cython" and not compiled_available():
        if _topics:
            warnings.warn(
                "minidl: the compiled kernels could not be imported, running on the NumPy "
                f"backend (slower, same results). {_how_to_fix()} [{compiled_error()}]",
                RuntimeWarning,
                stacklevel=3,
            )
        wanted = "numpy"
    elif wanted == "cython" and _missing:
        warnings.warn(
            "minidl: some compiled kernels could not be imported and run on NumPy: "
            f"{', '.join(_missing)} [{compiled_error()}]",
            RuntimeWarning,
            stacklevel=3,
        )
    activate(wanted)


_initialise()

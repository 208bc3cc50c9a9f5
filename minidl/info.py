"""``minidl.info()``: what this installation is running on, for bug reports and benchmarks."""
import os
import sys

import numpy as np

_THREAD_VARS = ("MINIDL_NUM_THREADS", "MINIDL_CONV_ISA", "MINIDL_ELEMENTWISE_ISA", "MINIDL_MALLOC_TUNING", "MINIDL_GEMM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE")


def _blas_description() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        name, version = blas.get("name", "unknown"), blas.get("version", "")
        return f"{name} {version}".strip()
    except Exception:  # pragma: no cover - very old or unusual NumPy builds
        return "unknown"


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [
        f"{p.get('internal_api')} {p.get('version')} threads={p.get('num_threads')}"
        for p in threadpool_info()
        if p.get("user_api") == "blas"
    ]


def info(file=None) -> dict:
    """Print (and return as a dict) minidl's version, backend, BLAS and thread settings,
    and the instruction set and thread count the direct convolution kernels chose for this CPU."""
    import platform

    import minidl
    from minidl import _memory, backend

    facts = {
        "minidl": minidl.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "backend": backend.current(),
        "backends_available": ", ".join(backend.available()),
        "compiled_kernels_missing": ", ".join(backend.missing_kernels()) or "none",
        "blas": _blas_description(),
        "cpu_count": os.cpu_count(),
        "default_dtype": str(minidl.get_default_dtype()),
        "malloc_tuning": _memory.malloc_tuned(),
    }
    try:
        from minidl._kernels import conv

        facts["conv_instruction_set"] = conv.conv_isa()
        facts["conv_threads"] = conv.get_num_threads()
        from minidl._kernels import blas_threads

        facts["linear_gemms_on_one_blas_thread"] = blas_threads.gemm_threads_limited()
    except ImportError:
        pass
    try:
        from minidl._kernels import _pool, batchnorm

        facts["elementwise_instruction_set"] = batchnorm.elementwise_isa()
        facts["elementwise_threads"] = _pool.get_num_threads()
    except ImportError:
        pass
    threads = _blas_threads()
    if threads:
        facts["blas_threadpools"] = "; ".join(threads)
    for var in _THREAD_VARS:
        facts[var] = os.environ.get(var, "(unset)")
    width = max(len(k) for k in facts)
    lines = [f"{k:<{width}}  {v}" for k, v in facts.items()]
    print("\n".join(lines), file=file or sys.stdout)
    return facts

"""Keep freed array memory for reuse (glibc), so training steps do not page-fault.

A training step allocates and frees megabytes of activations and gradients: every layer
returns a fresh output array. glibc hands large freed blocks back to the operating system
(blocks it mmap-ed, and the top of the heap beyond its trim threshold), and the next step
then touches the same amount of memory again, page by page. Measured on the small CNN of
``benchmarks/bench_conv.py`` (N = 64): 1,538 page faults per step, about 1.3 ms of a 10.7 ms
step (a ReLU over (64, 16, 28, 28) took 0.8 ms instead of 0.22 ms).

At import minidl raises glibc's mmap threshold to its maximum (32 MiB: smaller arrays come
from the heap) and its trim threshold to 256 MiB (that much freed memory is kept for reuse
rather than returned to the OS), which brings those page faults to zero. This is the same
trade PyTorch's caching allocator makes: a process keeps the memory it has used. Set
``MINIDL_MALLOC_TUNING=0`` to leave malloc alone; other C libraries are not touched.

Re-measured (issue 14, same CNN step, CPU time per step, medians of 40 steps, 3 runs each,
on a loaded 2-core machine): tuned 0 page faults and 12.3 ms, untuned 1,498 faults and
15.2 ms — the gain holds, so the tuning stays. This module is the only place that touches
the allocator; ``minidl/__init__.py`` calls ``tune_malloc()`` once at import.
"""
import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1    # glibc's mallopt() parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024          # glibc's maximum on 64-bit
TRIM_THRESHOLD = 256 * 1024 * 1024

_state = {"tuned": False}


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds (once); True if they are raised."""
    if _state["tuned"]:
        return True
    if os.environ.get("MINIDL_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mmap_ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    trim_ok = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    _state["tuned"] = mmap_ok or trim_ok      # either one changes how malloc behaves
    return _state["tuned"]


def malloc_tuned() -> bool:
    """Whether minidl raised glibc's thresholds in this process."""
    return _state["tuned"]

"""minidl: a Cython-accelerated educational deep-learning framework.

Readable layers with hand-derived backward passes (``minidl.nn``), PyTorch's optimizers
(``minidl.optim``), PaddlePaddle's learning-rate schedules (``minidl.optim.lr``),
scikit-learn's metrics (``minidl.metrics``), gradient checking (``minidl.gradcheck``),
offline datasets (``minidl.data``) — with the heavy loops in compiled kernels
(``minidl._kernels``) that have NumPy reference twins (``minidl.backend``).
"""
__version__ = "0.1.0"

from minidl._lazy import lazy_exports
from minidl.dtypes import get_default_dtype, set_default_dtype
from minidl.random import default_rng, manual_seed
from minidl import backend, _kernels  # noqa: E402,F401  (_kernels sets up the dispatch)
from minidl._memory import tune_malloc as _tune_malloc
# Eager, not lazy: the function shares its name with its module, and importing the module
# (``import minidl.info``) after a lazy lookup would rebind ``minidl.info`` to the module.
from minidl.info import info

_tune_malloc()   # keep freed activations for reuse: see minidl/_memory.py

_EXPORTS = {
    "nn": "nn:",
    "optim": "optim:",
    "data": "data:",
    "metrics": "metrics:",
    "gradcheck": "gradcheck:",
    "grading": "grading:",
    "diagnostics": "diagnostics:",
    "train": "train:",
    "random": "random:",
    "backend": "backend:",
    "save": "io",
    "load": "io",
}

__getattr__, __dir__, _lazy_all = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(set(_lazy_all) | {"get_default_dtype", "set_default_dtype", "default_rng", "manual_seed", "info", "__version__"})

"""The default floating dtype for parameters, buffers and datasets.

float32 is the default (fast, what PyTorch uses); float64 is fully supported and is what
gradient checking uses, because centered differences with eps = 1e-6 need ~16 digits.
"""
import numpy as np

_SUPPORTED = (np.dtype(np.float32), np.dtype(np.float64))
_default = np.dtype(np.float32)


def _as_float_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"expected a floating dtype (float32 or float64), got {dtype!r}") from exc
    if dt not in _SUPPORTED:
        raise TypeError(f"minidl supports float32 and float64, got {dt}")
    return dt


def set_default_dtype(dtype) -> None:
    """Set the dtype new parameters and datasets are created with (float32 or float64)."""
    global _default
    _default = _as_float_dtype(dtype)


def get_default_dtype() -> np.dtype:
    """The dtype new parameters and datasets are created with."""
    return _default

"""The default floating dtype for parameters, buffers and datasets, and the one rule for
choosing a dtype.

float32 is the default (fast, what PyTorch uses); float64 is fully supported and is what
gradient checking uses, because centered differences with eps = 1e-6 need ~16 digits.
"""
import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))     # what minidl computes in
_default = np.dtype(np.float32)


def as_float_dtype(dtype) -> np.dtype:
    """``dtype`` as a NumPy dtype; a TypeError unless it is float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"expected a floating dtype (float32 or float64), got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"minidl supports float32 and float64, got {dt}")
    return dt


def float_dtype_of(x=None, dtype=None) -> np.dtype:
    """The dtype to compute ``x`` in: ``dtype`` if given; else ``x``'s own dtype if it is
    float32 or float64; else (ints, bools, lists, None) the default dtype.

        >>> import numpy as np
        >>> float_dtype_of(np.zeros(2, np.float64)), float_dtype_of([1, 2])
        (dtype('float64'), dtype('float32'))
    """
    if dtype is not None:
        return as_float_dtype(dtype)
    own = getattr(x, "dtype", None)
    # (the isinstance test first: NumPy compares None equal to float64)
    return own if isinstance(own, np.dtype) and own in FLOAT_DTYPES else _default


def set_default_dtype(dtype) -> None:
    """Set the dtype new parameters and datasets are created with (float32 or float64)."""
    global _default
    _default = as_float_dtype(dtype)


def get_default_dtype() -> np.dtype:
    """The dtype new parameters and datasets are created with."""
    return _default

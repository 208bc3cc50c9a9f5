"""Input validation shared by the layers: bad input gets an error that names the layer,
what was expected and what came, *before* any kernel runs. Kernels only ever see
C-contiguous float arrays of the layer's dtype."""
import numpy as np

from minidl.dtypes import FLOAT_DTYPES, float_dtype_of
from minidl.nn.parameter import Parameter

_ndarray = np.ndarray


def shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def as_array(layer: str, x, dtype, what: str = "input") -> np.ndarray:
    """``x`` as a C-contiguous array of ``dtype``.

    Floats of another precision, ints and bools are converted (a copy); anything that is
    not a real number array raises a TypeError naming ``layer``.
    """
    if isinstance(x, Parameter):
        x = x.data
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists etc.
            raise TypeError(f"{layer} expected {what} as a numeric array, got {type(x).__name__}: {exc}") from exc
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{layer} expected a real-valued {what} (float32/float64), got dtype {x.dtype}")
    if x.dtype != dtype or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=dtype)
    return x


def as_float_input(layer: str, x, what: str = "input") -> np.ndarray:
    """For layers without parameters: x as a C-contiguous float array, float32/float64 kept,
    anything else converted to the default dtype (:func:`minidl.dtypes.float_dtype_of`)."""
    if type(x) is _ndarray and x.flags.c_contiguous and x.dtype in FLOAT_DTYPES:
        return x
    return as_array(layer, x, float_dtype_of(x), what)


def check_features(layer: str, x: np.ndarray, features: int, what: str = "input") -> None:
    """Require ``x`` to be ``(N, features)``."""
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(f"{layer} expected {what} (N, {features}), got {shape_str(x.shape)}")


def check_same_shape(layer: str, grad: np.ndarray, expected_shape, what: str = "grad_output") -> None:
    if grad.shape != tuple(expected_shape):
        raise ValueError(f"{layer} expected {what} of shape {shape_str(expected_shape)}, got {shape_str(grad.shape)}")

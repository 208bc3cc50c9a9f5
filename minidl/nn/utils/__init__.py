"""minidl.nn.utils: gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``)."""
from minidl._lazy import lazy_exports

_EXPORTS = {
    "clip_grad_norm_": "clip_grad",
    "clip_grad_value_": "clip_grad",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

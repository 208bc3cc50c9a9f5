"""minidl.data: mini-batches, train/test splits and offline data sets (no downloads).

- ``DataLoader(X, y, batch_size=32, shuffle=True, drop_last=False, seed=None)`` (loader.py)
- ``train_test_split(*arrays, test_size=..., stratify=..., seed=...)`` (split.py)
- ``make_circles``, ``make_moons``, ``make_spirals``, ``make_blobs`` (synthetic.py)
- ``load_digits()``: 1797 real handwritten 8×8 digits, UCI, CC BY 4.0 (digits.py)
"""
from minidl._lazy import lazy_exports

_EXPORTS = {
    "DataLoader": "loader",
    "train_test_split": "split",
    "make_circles": "synthetic",
    "make_moons": "synthetic",
    "make_spirals": "synthetic",
    "make_blobs": "synthetic",
    "load_digits": "digits",
    "Bunch": "digits",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

"""load_digits: real handwritten 8×8 digits shipped inside the package (no download).

The 1797 samples are the test set of the UCI "Optical Recognition of Handwritten Digits"
data (Alpaydin & Kaynak, 1998; CC BY 4.0), the same data as ``sklearn.datasets.load_digits``.
They live in ``minidl/data/digits.npz`` (see ``DIGITS_NOTICE.md`` beside it).
"""
import os

import numpy as np

from minidl.dtypes import get_default_dtype

_PATH = os.path.join(os.path.dirname(__file__), "digits.npz")

DESCR = """\
Optical Recognition of Handwritten Digits (UCI), test set
---------------------------------------------------------
1797 grey-scale 8x8 images of the digits 0-9 written by 13 people, 64 features each.
NIST preprocessing: a 32x32 bitmap is cut into non-overlapping 4x4 blocks and the "on"
pixels of each block are counted, so every pixel is an integer in 0..16.
Samples per class 0..9: 178, 182, 177, 183, 181, 182, 181, 179, 174, 180.

Citation: Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits
[Dataset]. UCI Machine Learning Repository. https://doi.org/10.24432/C50P49
License: Creative Commons Attribution 4.0 International (CC BY 4.0).
"""


class Bunch(dict):
    """A dict whose keys are also attributes (``digits.data`` == ``digits["data"]``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.keys()))


def load_digits(return_X_y=False, scale=False, dtype=None):
    """The 1797 UCI handwritten digits, 8×8 pixels, labels 0..9.

    Returns a :class:`Bunch` with

    - ``data``: (1797, 64) in ``dtype`` (default :func:`minidl.get_default_dtype`), each row
      an image flattened row-major; pixel values 0..16 as in scikit-learn, or 0..1 when
      ``scale=True`` (divided by 16, the usual input scaling for a network);
    - ``images``: (1797, 8, 8), the same values as ``data``;
    - ``target``: (1797,) int64; ``target_names``: ``arange(10)``;
    - ``DESCR``: description, citation and license.

    ``return_X_y=True`` returns ``(data, target)`` instead, like scikit-learn.
    Every call returns fresh arrays, so changing them does not affect the next call.
    """
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"load_digits: dtype must be a float dtype, got {dtype}")
    with np.load(_PATH, allow_pickle=False) as archive:
        images = archive["images"].astype(dtype)
        target = archive["target"].astype(np.int64)
    if scale:
        images /= 16.0
    data = images.reshape(len(images), 64).copy()
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, images=images, target_names=np.arange(10),
                 feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
                 DESCR=DESCR)

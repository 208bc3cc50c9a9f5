import os
import zipfile

import numpy as np
import pytest

import minidl
from minidl.data import load_digits


def test_digits_counts_and_ranges():
    digits = load_digits()
    assert digits.data.shape == (1797, 64) and digits.data.dtype == minidl.get_default_dtype()
    assert digits.images.shape == (1797, 8, 8)
    assert digits.target.shape == (1797,) and digits.target.dtype == np.int64
    # samples per class 0..9, from the UCI description of the optdigits test set
    assert np.bincount(digits.target).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert digits.data.min() == 0 and digits.data.max() == 16
    np.testing.assert_array_equal(digits.data, np.round(digits.data))  # integer counts 0..16
    np.testing.assert_array_equal(digits.data, digits.images.reshape(1797, 64))
    assert digits["data"] is digits.data
    assert "10.24432/C50P49" in digits.DESCR and "CC BY 4.0" in digits.DESCR
    assert "Alpaydin" in digits.DESCR


def test_digits_first_image_is_a_zero():
    # the first sample of the set is the digit 0 (a ring: dark centre, bright border)
    digits = load_digits(dtype=np.float64)
    assert digits.target[0] == 0
    image = digits.images[0]
    assert image[3:5, 3:5].mean() < image[1:7, 1:7].mean()
    assert image[:, 0].sum() == 0  # left column empty


def test_scale_return_X_y_and_fresh_arrays():
    X, y = load_digits(return_X_y=True, scale=True, dtype=np.float64)
    assert X.dtype == np.float64 and X.max() == 1.0 and X.min() == 0.0
    X[:] = -5
    assert load_digits().data.min() == 0  # every call returns new arrays
    with pytest.raises(TypeError):
        load_digits(dtype=np.int32)


def test_matches_sklearn_copy():
    datasets = pytest.importorskip("sklearn.datasets")
    ours = load_digits(dtype=np.float64)
    theirs = datasets.load_digits()
    np.testing.assert_array_equal(ours.data, theirs.data)
    np.testing.assert_array_equal(ours.target, theirs.target)


def test_data_file_has_a_notice_and_ships_in_package_data():
    folder = os.path.dirname(minidl.data.digits.__file__)
    notice = open(os.path.join(folder, "DIGITS_NOTICE.md"), encoding="utf-8").read()
    assert "CC BY 4.0" in notice and "10.24432/C50P49" in notice
    with zipfile.ZipFile(os.path.join(folder, "digits.npz")) as z:  # pixels stored as bytes
        assert sorted(z.namelist()) == ["images.npy", "target.npy"]
    with np.load(os.path.join(folder, "digits.npz"), allow_pickle=False) as archive:
        assert archive["images"].dtype == np.uint8

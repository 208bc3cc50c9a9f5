import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl.data import DataLoader


def _epoch(loader):
    return [(xb.copy(), yb.copy()) for xb, yb in loader]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 50), batch_size=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2**31))
def test_each_epoch_covers_every_sample_once(n, batch_size, drop_last, shuffle, seed):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    expected_batches = n // batch_size if drop_last else -(-n // batch_size)
    assert len(loader) == expected_batches
    for _ in range(2):
        batches = _epoch(loader)
        assert len(batches) == expected_batches
        sizes = [len(yb) for _, yb in batches]
        assert all(s == batch_size for s in sizes[:-1] if sizes)
        if drop_last:
            assert all(s == batch_size for s in sizes)
        seen = np.concatenate([yb for _, yb in batches]) if batches else np.empty(0, np.int64)
        assert len(seen) == len(set(seen.tolist()))  # no sample twice
        if drop_last:
            assert len(seen) == (n // batch_size) * batch_size
        else:
            assert sorted(seen.tolist()) == list(range(n))
        for xb, yb in batches:  # rows stay paired with their labels
            np.testing.assert_array_equal(xb, X[yb])
        if not shuffle:
            np.testing.assert_array_equal(seen, np.arange(len(seen)))


def test_same_seed_same_sequence_and_epochs_differ():
    X = np.arange(100, dtype=np.float64)[:, None]
    y = np.arange(100)
    a = DataLoader(X, y, batch_size=10, seed=3)
    b = DataLoader(X, y, batch_size=10, seed=3)
    a1, a2 = _epoch(a), _epoch(a)
    b1, b2 = _epoch(b), _epoch(b)
    for (xa, ya), (xb, yb) in zip(a1 + a2, b1 + b2):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    order1 = np.concatenate([yb for _, yb in a1])
    order2 = np.concatenate([yb for _, yb in a2])
    assert not np.array_equal(order1, order2)  # reshuffled each epoch
    assert not np.array_equal(order1, np.arange(100))
    other = np.concatenate([yb for _, yb in _epoch(DataLoader(X, y, batch_size=10, seed=4))])
    assert not np.array_equal(order1, other)


def test_rng_argument_and_global_seed():
    X = np.arange(30)[:, None]
    y = np.arange(30)
    first = np.concatenate([yb for _, yb in DataLoader(X, y, batch_size=7, rng=np.random.default_rng(5))])
    second = np.concatenate([yb for _, yb in DataLoader(X, y, batch_size=7, rng=np.random.default_rng(5))])
    np.testing.assert_array_equal(first, second)
    # with no seed the loader follows the global generator at each epoch, even if it was
    # created before manual_seed
    loader = DataLoader(X, y, batch_size=7)
    minidl.manual_seed(11)
    g1 = np.concatenate([yb for _, yb in loader])
    minidl.manual_seed(11)
    g2 = np.concatenate([yb for _, yb in loader])
    np.testing.assert_array_equal(g1, g2)
    # the permutation is exactly the one a Generator with that seed gives
    np.testing.assert_array_equal(first, np.random.default_rng(5).permutation(30))
    with pytest.raises(ValueError, match="not both"):
        DataLoader(X, y, seed=1, rng=np.random.default_rng(1))


def test_batches_are_fresh_contiguous_copies():
    X = np.asfortranarray(np.arange(24.0).reshape(8, 3))
    y = np.arange(8)
    loader = DataLoader(X, y, batch_size=3, shuffle=False)
    xb, yb = next(iter(loader))
    assert xb.flags.c_contiguous and yb.flags.c_contiguous
    xb[:] = -1
    assert X.min() == 0
    assert xb.dtype == X.dtype and yb.dtype == y.dtype


def test_last_batch_and_drop_last_counts():
    X = np.zeros((10, 2))
    y = np.zeros(10, np.int64)
    assert [len(yb) for _, yb in DataLoader(X, y, batch_size=4)] == [4, 4, 2]
    assert [len(yb) for _, yb in DataLoader(X, y, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(X, y, batch_size=4)) == 3
    assert len(DataLoader(X, y, batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(X, y, batch_size=20, drop_last=True)) == 0


def test_unlabelled_data_yields_x_only():
    X = np.arange(10.0).reshape(5, 2)
    batches = list(DataLoader(X, None, batch_size=2, shuffle=False))
    assert len(batches) == 3 and isinstance(batches[0], np.ndarray)
    np.testing.assert_array_equal(batches[0], X[:2])


def test_bad_arguments_raise_clear_errors():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match=r"same number of samples.*\(10, 2\).*\(9,\)"):
        DataLoader(X, np.zeros(9))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        DataLoader(X, np.zeros(10), batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(X, np.zeros(10), batch_size=2.5)
    with pytest.raises(ValueError, match="batch dimension"):
        DataLoader(np.float64(1.0), None)

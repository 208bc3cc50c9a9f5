import math

import numpy as np
import pytest

from minidl.data import train_test_split


@pytest.mark.parametrize("n, test_size, train_size, expected", [
    # scikit-learn's rule: n_test = ceil(test_size * n), n_train = floor(train_size * n)
    (10, None, None, (7, 3)),      # default 25 %: ceil(2.5) = 3
    (100, 0.2, None, (80, 20)),
    (7, 0.3, None, (4, 3)),        # ceil(2.1) = 3
    (7, None, 0.5, (3, 4)),        # floor(3.5) = 3, test is the rest
    (10, 0.2, 0.5, (5, 2)),        # both given: 2 + 5 of 10, the other 3 unused
    (10, 3, None, (7, 3)),
    (10, None, 6, (6, 4)),
    (10, 2, 5, (5, 2)),
])
def test_sizes_follow_sklearn_rule(n, test_size, train_size, expected):
    X = np.arange(n * 2).reshape(n, 2)
    X_train, X_test = train_test_split(X, test_size=test_size, train_size=train_size, seed=0)
    assert (len(X_train), len(X_test)) == expected
    assert len(set(X_train[:, 0]) & set(X_test[:, 0])) == 0


def test_sizes_agree_with_sklearn():
    sk = pytest.importorskip("sklearn.model_selection")
    for n in (3, 10, 17, 101):
        X = np.arange(n)
        for test_size, train_size in [(None, None), (0.1, None), (0.33, None), (None, 0.66),
                                      (0.2, 0.3), (1, None), (None, 2), (0.5, 0.5)]:
            try:
                expected = [len(a) for a in sk.train_test_split(X, test_size=test_size, train_size=train_size,
                                                                 random_state=0)]
            except ValueError:
                with pytest.raises(ValueError):
                    train_test_split(X, test_size=test_size, train_size=train_size, seed=0)
                continue
            got = [len(a) for a in train_test_split(X, test_size=test_size, train_size=train_size, seed=0)]
            assert got == expected, (n, test_size, train_size)


def test_no_shuffle_matches_sklearn_exactly():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10) * 10
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, shuffle=False)
    np.testing.assert_array_equal(X_train, X[:7])
    np.testing.assert_array_equal(X_test, X[7:])
    np.testing.assert_array_equal(y_train, y[:7])
    np.testing.assert_array_equal(y_test, y[7:])


def test_return_order_and_pairing():
    X = np.arange(50).reshape(25, 2)
    y = np.arange(25)
    w = np.arange(25) * 1.5
    X_train, X_test, y_train, y_test, w_train, w_test = train_test_split(X, y, w, test_size=5, seed=1)
    assert X_train.shape == (20, 2) and X_test.shape == (5, 2)
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)
    np.testing.assert_array_equal(w_test, y_test * 1.5)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(25))


def test_seed_is_reproducible_and_rng_is_accepted():
    X = np.arange(40)
    a = train_test_split(X, seed=7)
    b = train_test_split(X, seed=7)
    c = train_test_split(X, seed=8)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    # with rng=: the test set is the first n_test entries of the Generator's permutation
    perm = np.random.default_rng(3).permutation(40)
    _, test = train_test_split(X, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(test, perm[:10])


def test_stratify_keeps_proportions():
    # 60 / 30 / 10 samples of classes 0 / 1 / 2, test 20 %: 12 / 6 / 2 in test, 48 / 24 / 8 in train
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, seed=0)
    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]
    np.testing.assert_array_equal(y[X_train], y_train)
    assert len(set(X_train) | set(X_test)) == 100


def test_stratify_with_remainders_stays_within_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=97)
    counts = np.bincount(y)
    for seed in range(5):
        _, y_test = train_test_split(y, test_size=0.3, stratify=y, seed=seed)
        n_test = math.ceil(0.3 * 97)
        assert len(y_test) == n_test
        share = counts / 97 * n_test
        assert np.all(np.abs(np.bincount(y_test, minlength=4) - share) < 1 + 1e-9)


def test_stratify_matches_sklearn_counts_when_no_ties():
    sk = pytest.importorskip("sklearn.model_selection")
    y = np.repeat([0, 1, 2, 3], [40, 25, 20, 15])
    _, y_test_sk = sk.train_test_split(y, test_size=0.2, stratify=y, random_state=0)
    _, y_test = train_test_split(y, test_size=0.2, stratify=y, seed=0)
    assert np.bincount(y_test).tolist() == np.bincount(y_test_sk).tolist() == [8, 5, 4, 3]


def test_errors():
    X = np.arange(10)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        train_test_split(X, np.arange(9))
    with pytest.raises(ValueError, match="at least one array"):
        train_test_split()
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(X, test_size=1.0)
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(X, test_size=10)
    with pytest.raises(ValueError, match="<= 1"):
        train_test_split(X, test_size=0.6, train_size=0.6)
    with pytest.raises(ValueError, match="shuffle=True"):
        train_test_split(X, stratify=X % 2, shuffle=False)
    with pytest.raises(ValueError, match="only 1 member"):
        train_test_split(X, stratify=np.r_[np.zeros(9), 1])
    with pytest.raises(TypeError):
        train_test_split(X, test_size="0.2")

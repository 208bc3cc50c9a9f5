"""train_test_split with scikit-learn's sizes, return order and stratification.

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)

Sizes (scikit-learn's rule, for ``n`` samples): a float ``test_size`` gives
``n_test = ceil(test_size * n)``, a float ``train_size`` gives ``n_train = floor(train_size * n)``,
ints are counts; the size not given is the complement; with neither, ``test_size = 0.25``.
The indices differ from scikit-learn's for the same seed (it uses a RandomState stream), the
sizes and per-class counts follow the same rules.
"""
import math
import numbers

import numpy as np

from minidl.random import resolve_rng


def _split_sizes(n, test_size, train_size):
    """(n_train, n_test) exactly as scikit-learn's ``_validate_shuffle_split``."""
    if test_size is None and train_size is None:
        test_size = 0.25
    for name, size in (("test_size", test_size), ("train_size", train_size)):
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, numbers.Real):
            raise TypeError(f"train_test_split: {name} must be a float, an int or None, got {size!r}")
        if isinstance(size, numbers.Integral):
            if not 0 < size < n:
                raise ValueError(f"train_test_split: {name}={size} should be in [1, {n - 1}] for n_samples={n}")
        elif not 0 < size < 1:
            raise ValueError(f"train_test_split: {name}={size} should be a float in (0, 1)")
    def is_fraction(size):
        return size is not None and not isinstance(size, numbers.Integral)

    if is_fraction(test_size) and is_fraction(train_size) and test_size + train_size > 1:
        raise ValueError(f"train_test_split: test_size + train_size = {test_size + train_size} should be <= 1")
    n_test = None if test_size is None else (
        math.ceil(test_size * n) if is_fraction(test_size) else int(test_size))
    n_train = None if train_size is None else (
        math.floor(train_size * n) if is_fraction(train_size) else int(train_size))
    if n_train is None:
        n_train = n - n_test
    elif n_test is None:
        n_test = n - n_train
    if n_train + n_test > n:
        raise ValueError(f"train_test_split: train ({n_train}) + test ({n_test}) samples exceed n_samples={n}")
    if n_train == 0:
        raise ValueError(f"train_test_split: with n_samples={n}, test_size={test_size} and "
                         f"train_size={train_size} the train set would be empty")
    return n_train, n_test


def _approximate_mode(class_counts, n_draws, rng):
    """Per-class counts summing to ``n_draws``, as close as possible to the proportions.

    scikit-learn's rule: floor every class's share ``count / total * n_draws``, then give
    the missing draws one each to the classes with the largest remainders (ties broken at
    random).
    """
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add_now = min(len(tied), need_to_add)
            floored[rng.choice(tied, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(np.int64)


def _stratified_indices(labels, n_train, n_test, rng):
    classes, y_index = np.unique(labels, axis=0 if labels.ndim > 1 else None, return_inverse=True)
    y_index = y_index.reshape(-1)
    class_counts = np.bincount(y_index)
    if class_counts.min() < 2:
        raise ValueError("train_test_split: the least populated class in stratify has only 1 member, "
                         "which is too few; every class needs at least 2 samples")
    if n_train < len(classes) or n_test < len(classes):
        raise ValueError(f"train_test_split: with stratify, the train size ({n_train}) and test size "
                         f"({n_test}) must each be >= the number of classes ({len(classes)})")
    class_indices = np.split(np.argsort(y_index, kind="mergesort"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i, members in enumerate(class_indices):
        shuffled = members[rng.permutation(len(members))]
        train.append(shuffled[:n_i[i]])
        test.append(shuffled[n_i[i]:n_i[i] + t_i[i]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def train_test_split(*arrays, test_size=None, train_size=None, shuffle=True, stratify=None,
                     seed=None, rng=None):
    """Split arrays into random train and test subsets (scikit-learn's ``train_test_split``).

    Returns ``[a_train, a_test, b_train, b_test, ...]`` for ``arrays = (a, b, ...)``, all
    split along axis 0 with the same indices (inputs go through ``np.asarray``, so lists come
    back as ndarrays).

    - ``test_size`` / ``train_size``: float fraction or int count (see the module docstring);
      the default is a 25 % test set.
    - ``shuffle=False`` takes the first ``n_train`` samples for training and the next
      ``n_test`` for testing (no randomness; ``stratify`` must then be None).
    - ``stratify=labels`` keeps the class proportions of ``labels`` in both subsets
      (scikit-learn's StratifiedShuffleSplit counts); every class needs >= 2 samples.
    - ``seed`` / ``rng``: the randomness (global generator when neither is given).
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array required as input")
    arrays = [np.asarray(a) for a in arrays]
    for a in arrays:
        if a.ndim == 0:
            raise ValueError("train_test_split: inputs must have a sample dimension, got a 0-d array")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"train_test_split: inputs have inconsistent numbers of samples: {lengths}")
    n = lengths[0]
    n_train, n_test = _split_sizes(n, test_size, train_size)
    if not shuffle:
        if stratify is not None:
            raise ValueError("train_test_split: stratified splitting requires shuffle=True")
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    else:
        generator = resolve_rng(rng=rng, seed=seed)
        if stratify is not None:
            labels = np.asarray(stratify)
            if labels.ndim == 0 or len(labels) != n:
                raise ValueError(f"train_test_split: stratify must have {n} entries, got shape {labels.shape}")
            train, test = _stratified_indices(labels, n_train, n_test, generator)
        else:
            permutation = generator.permutation(n)
            test, train = permutation[:n_test], permutation[n_test:n_test + n_train]
    out = []
    for a in arrays:
        out.extend([a.take(train, axis=0), a.take(test, axis=0)])
    return out

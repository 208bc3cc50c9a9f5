"""DataLoader: mini-batches of an in-memory dataset, reshuffled every epoch.

    loader = DataLoader(X_train, y_train, batch_size=64, seed=0)
    for epoch in range(10):
        for xb, yb in loader:          # a new permutation each epoch
            ...

With ``N`` samples and batch size ``B`` an epoch has ``ceil(N / B)`` batches (the last one
holds the ``N mod B`` leftovers), or ``floor(N / B)`` with ``drop_last=True``.
"""
import math

import numpy as np

from minidl.random import default_rng, resolve_rng


class DataLoader:
    """Iterate over ``(xb, yb)`` mini-batches of the arrays ``X`` (N, ...) and ``y`` (N, ...).

    - ``shuffle=True``: each epoch (each ``for`` loop over the loader) visits every sample
      exactly once in a fresh random order. The orders come from one Generator created at
      construction from ``seed`` (or the ``rng`` you pass), so two loaders built with the
      same seed give the same sequence of epochs, while epoch 2 differs from epoch 1.
      With neither ``seed`` nor ``rng`` the global generator is used (``minidl.manual_seed``).
    - ``shuffle=False``: samples in their stored order, every epoch the same.
    - ``drop_last=True`` drops the final incomplete batch (useful with BatchNorm, which cannot
      train on a batch of one).
    - ``y=None`` (unlabelled data, e.g. an autoencoder): the loader yields ``xb`` alone.

    Batches are fresh C-contiguous arrays (copies), so changing a batch never changes the
    dataset. Arrays keep their dtype; layers convert inputs to their own dtype.
    """

    def __init__(self, X, y=None, batch_size=32, shuffle=True, drop_last=False, seed=None, rng=None):
        X = np.asarray(X)
        if X.ndim == 0:
            raise ValueError("DataLoader: X must have a batch dimension, got a 0-d array")
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 0:
                raise ValueError("DataLoader: y must have a batch dimension, got a 0-d array")
            if len(y) != len(X):
                raise ValueError(
                    f"DataLoader: X and y must have the same number of samples, "
                    f"got X {X.shape} and y {y.shape}"
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # An explicit seed/rng gives the loader its own stream; otherwise the global generator
        # is looked up at every epoch, so a later minidl.manual_seed still takes effect.
        self._rng = resolve_rng(rng=rng, seed=seed) if (seed is not None or rng is not None) else None

    def __len__(self):
        n = len(self.X)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.X)
        if self.shuffle:
            rng = self._rng if self._rng is not None else default_rng()
            order = rng.permutation(n)  # drawn now, when the epoch starts
        else:
            order = np.arange(n)
        return self._batches(order)

    def _batches(self, order):
        for b in range(len(self)):
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            xb = np.ascontiguousarray(self.X.take(index, axis=0))
            if self.y is None:
                yield xb
            else:
                yield xb, np.ascontiguousarray(self.y.take(index, axis=0))

    def __repr__(self):
        return (f"DataLoader(n_samples={len(self.X)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")

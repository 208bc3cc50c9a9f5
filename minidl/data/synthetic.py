"""Toy 2-D classification data sets, generated offline.

``make_circles``, ``make_moons`` and ``make_blobs`` follow scikit-learn: same geometry,
defaults, label layout and keyword names, with ``seed``/``rng`` in place of
``random_state`` (``noise`` may also be passed positionally: ``make_moons(200, 0.1)``).
Their random numbers come from a numpy Generator, so they differ from scikit-learn's
RandomState for the same seed. ``make_spirals`` is the CS231n spiral
(cs231n.github.io/neural-networks-case-study).

All return ``(X, y)``: ``X`` of shape (n_samples, n_features) in ``dtype`` (default
:func:`minidl.get_default_dtype`), ``y`` int64 labels of shape (n_samples,). Randomness
comes from ``rng=`` or ``seed=`` (else the global generator); numbers are drawn in float64
and then cast, so float32 and float64 data agree to float32 rounding.
"""
import numbers

import numpy as np

from minidl.dtypes import get_default_dtype
from minidl.random import resolve_rng


def _check_n_samples(func, n_samples, minimum=1):
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"{func}: n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < minimum:
        raise ValueError(f"{func}: n_samples must be >= {minimum}, got {n_samples}")
    return int(n_samples)


def _check_noise(func, noise):
    if noise is not None and not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"{func}: noise must be None or a finite number >= 0, got {noise}")


def _finish(X, y, shuffle, noise, generator, dtype):
    """Shuffle (X, y) together, then add Gaussian noise N(0, noise^2) — scikit-learn's order."""
    if shuffle:
        order = generator.permutation(len(X))
        X, y = X[order], y[order]
    if noise is not None:
        X = X + generator.normal(scale=noise, size=X.shape)
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    return np.ascontiguousarray(X, dtype=dtype), y.astype(np.int64)


def make_circles(n_samples=100, noise=None, factor=0.8, *, shuffle=True, seed=None, rng=None, dtype=None):
    """A large circle (label 0) containing a smaller one (label 1).

    Outer points: (cos t, sin t) for ``n_samples // 2`` angles t evenly spaced in [0, 2π);
    inner points: ``factor`` · (cos t, sin t) for the remaining ``n_samples - n_samples // 2``.
    ``noise`` is the standard deviation of Gaussian noise added to every coordinate.
    """
    n_samples = _check_n_samples("make_circles", n_samples)
    _check_noise("make_circles", noise)
    if not 0 <= factor < 1:
        raise ValueError(f"make_circles: factor must be in [0, 1), got {factor}")
    generator = resolve_rng(rng=rng, seed=seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                        factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    return _finish(X, y, shuffle, noise, generator, dtype)


def make_moons(n_samples=100, noise=None, *, shuffle=True, seed=None, rng=None, dtype=None):
    """Two interleaving half circles.

    Label 0: (cos t, sin t) for ``n_samples // 2`` angles t evenly spaced in [0, π] (ends
    included); label 1: (1 − cos t, 0.5 − sin t) for the remaining samples.
    ``noise`` is the standard deviation of Gaussian noise added to every coordinate.
    """
    n_samples = _check_n_samples("make_moons", n_samples)
    _check_noise("make_moons", noise)
    generator = resolve_rng(rng=rng, seed=seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                        np.stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5], axis=1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    return _finish(X, y, shuffle, noise, generator, dtype)


def _split_evenly(n_samples, n_parts):
    """Counts per part: ``n_samples // n_parts`` each, one extra for the first remainders."""
    counts = np.full(n_parts, n_samples // n_parts, dtype=np.int64)
    counts[: n_samples % n_parts] += 1
    return counts


def make_spirals(n_samples=300, n_classes=3, noise=0.2, *, shuffle=False, seed=None, rng=None, dtype=None):
    """The CS231n spiral: ``n_classes`` arms winding out of the origin.

    Class k gets m points, i = 0..m−1 (r_i = 0 when m = 1)::

        r_i = i / (m − 1)                                        radius, 0 → 1
        θ_i = 4k + 4i / (m − 1) + noise · ε_i,   ε_i ~ N(0, 1)   angle, radians
        x_i = (r_i sin θ_i, r_i cos θ_i)

    so ``noise`` jitters the angle, not the coordinates. Samples are split evenly over the
    classes (the first ``n_samples % n_classes`` classes get one more) and listed class by
    class unless ``shuffle=True``, as in the course notes.

    Args:
        n_samples: the total number of points (>= 1). Default: 300.
        n_classes: the number of arms (>= 1). Default: 3.
        noise: the standard deviation of the angle's jitter (>= 0). Default: 0.2.
        shuffle: shuffle the samples (else class by class). Default: False.
        seed: an int seed for a fresh generator. Default: None.
        rng: a ``numpy.random.Generator`` to draw from. Default: None (with neither,
            minidl's global generator).
        dtype: the dtype of X. Default: :func:`minidl.get_default_dtype`.

    Returns:
        The pair (X, y), X of shape (n_samples, 2) in ``dtype`` and y of shape
        (n_samples,), int64 labels 0..n_classes−1.

    Example:
        >>> import numpy as np
        >>> from minidl.data import make_spirals
        >>> X, y = make_spirals(300, n_classes=3, seed=0)
        >>> X.shape, np.bincount(y).tolist()
        ((300, 2), [100, 100, 100])
        >>> bool(np.linalg.norm(X, axis=1).max() <= 1.0)         # radii run from 0 to 1
        True
    """
    n_samples = _check_n_samples("make_spirals", n_samples)
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 1:
        raise ValueError(f"make_spirals: n_classes must be an int >= 1, got {n_classes!r}")
    _check_noise("make_spirals", noise)
    generator = resolve_rng(rng=rng, seed=seed)
    parts_X, parts_y = [], []
    for k, m in enumerate(_split_evenly(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, m)
        theta = np.linspace(4.0 * k, 4.0 * (k + 1), m)
        if noise:
            theta = theta + noise * generator.standard_normal(m)
        parts_X.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        parts_y.append(np.full(m, k, dtype=np.int64))
    return _finish(np.concatenate(parts_X), np.concatenate(parts_y), shuffle, None, generator, dtype)


def make_blobs(n_samples=100, n_features=2, centers=None, cluster_std=1.0, *, center_box=(-10.0, 10.0),
               shuffle=True, seed=None, rng=None, dtype=None):
    """Isotropic Gaussian blobs (scikit-learn's ``make_blobs``).

    ``centers``: None (3 centers), an int (that many centers), both drawn uniformly in
    ``center_box`` per coordinate, or an array (n_centers, n_features) of centers.
    ``cluster_std``: one standard deviation or one per center. Blob k holds
    ``n_samples // n_centers`` points (+1 for the first ``n_samples % n_centers`` blobs),
    drawn from N(center_k, cluster_std_k² I); its label is k.
    """
    n_samples = _check_n_samples("make_blobs", n_samples)
    generator = resolve_rng(rng=rng, seed=seed)
    if centers is None or isinstance(centers, numbers.Integral):
        n_centers = 3 if centers is None else int(centers)
        if n_centers < 1:
            raise ValueError(f"make_blobs: centers must be >= 1, got {centers}")
        if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral) or n_features < 1:
            raise ValueError(f"make_blobs: n_features must be an int >= 1, got {n_features!r}")
        low, high = center_box
        centers = generator.uniform(low, high, size=(n_centers, int(n_features)))
    else:
        centers = np.asarray(centers, dtype=np.float64)
        if centers.ndim != 2:
            raise ValueError(f"make_blobs: centers must be an int or an array (n_centers, n_features), "
                             f"got shape {centers.shape}")
        n_centers = len(centers)
    stds = np.broadcast_to(np.asarray(cluster_std, dtype=np.float64), (n_centers,)) \
        if np.ndim(cluster_std) == 0 or len(cluster_std) == n_centers else None
    if stds is None:
        raise ValueError(f"make_blobs: cluster_std must be a number or have one entry per center "
                         f"({n_centers}), got {len(cluster_std)}")
    if np.any(stds < 0):
        raise ValueError(f"make_blobs: cluster_std must be >= 0, got {cluster_std}")
    counts = _split_evenly(n_samples, n_centers)
    X = np.concatenate([generator.normal(loc=c, scale=s, size=(m, centers.shape[1]))
                        for c, s, m in zip(centers, stds, counts)])
    y = np.repeat(np.arange(n_centers, dtype=np.int64), counts)
    return _finish(X, y, shuffle, None, generator, dtype)

import numpy as np
import pytest

import minidl
from minidl.data import make_blobs, make_circles, make_moons, make_spirals

MAKERS = [make_circles, make_moons, make_spirals, make_blobs]


@pytest.mark.parametrize("maker", MAKERS)
@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_shapes_dtypes_and_labels(maker, n):
    X, y = maker(n_samples=n, seed=0)
    assert X.shape == (n, 2) and X.dtype == minidl.get_default_dtype()
    assert y.shape == (n,) and y.dtype == np.int64
    assert X.flags.c_contiguous and np.all(np.isfinite(X))


@pytest.mark.parametrize("maker", MAKERS)
def test_seed_reproducible_and_dtype(maker):
    X1, y1 = maker(seed=3)
    X2, y2 = maker(rng=np.random.default_rng(3))
    X3, _ = maker(seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    if maker is not make_circles and maker is not make_moons:  # those have no noise by default
        assert not np.array_equal(X1, X3)
    X64, y64 = maker(seed=3, dtype=np.float64)
    assert X64.dtype == np.float64
    np.testing.assert_allclose(X1, X64, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y1, y64)
    minidl.set_default_dtype(np.float64)
    try:
        assert maker(n_samples=5, seed=0)[0].dtype == np.float64
    finally:
        minidl.set_default_dtype(np.float32)


def test_circles_geometry():
    # no noise: label 0 on the unit circle, label 1 on the circle of radius factor;
    # 7 samples -> 3 outer, 4 inner, angles evenly spaced without the endpoint 2π
    X, y = make_circles(7, noise=None, factor=0.5, shuffle=False, dtype=np.float64)
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), [1, 1, 1, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(X[:3], [[1, 0], [-0.5, np.sqrt(3) / 2], [-0.5, -np.sqrt(3) / 2]], atol=1e-12)
    np.testing.assert_allclose(X[3:], 0.5 * np.array([[1, 0], [0, 1], [-1, 0], [0, -1]]), atol=1e-12)
    Xs, ys = make_circles(100, factor=0.3, seed=0, dtype=np.float64)
    radius = np.hypot(Xs[:, 0], Xs[:, 1])
    np.testing.assert_allclose(radius[ys == 0], 1.0)
    np.testing.assert_allclose(radius[ys == 1], 0.3)
    assert np.bincount(ys).tolist() == [50, 50]
    assert not np.array_equal(ys, np.sort(ys))  # shuffled by default


def test_moons_geometry():
    # 5 samples: 2 on the upper moon at t = 0, π; 3 on the lower moon at t = 0, π/2, π
    X, y = make_moons(5, shuffle=False, dtype=np.float64)
    assert y.tolist() == [0, 0, 1, 1, 1]
    np.testing.assert_allclose(X, [[1, 0], [-1, 0], [0, 0.5], [1, -0.5], [2, 0.5]], atol=1e-12)


def test_noise_has_requested_std():
    clean, y0 = make_moons(4000, noise=None, shuffle=False, dtype=np.float64)
    noisy, y1 = make_moons(4000, noise=0.1, shuffle=False, seed=0, dtype=np.float64)
    residual = noisy - clean
    assert abs(residual.std() - 0.1) < 0.005 and abs(residual.mean()) < 0.005
    np.testing.assert_array_equal(y0, y1)
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, noise=-1.0)


def test_matches_sklearn_without_noise():
    datasets = pytest.importorskip("sklearn.datasets")
    for mine, theirs in [(make_circles(9, shuffle=False, dtype=np.float64), datasets.make_circles(9, shuffle=False)),
                         (make_moons(9, shuffle=False, dtype=np.float64), datasets.make_moons(9, shuffle=False))]:
        np.testing.assert_allclose(mine[0], theirs[0], atol=1e-12)
        np.testing.assert_array_equal(mine[1], theirs[1])


def test_spirals_geometry():
    # noise = 0: class k point i sits at radius r_i = i/(m-1), angle θ = 4k + 4 i/(m-1),
    # x = (r sin θ, r cos θ)
    X, y = make_spirals(n_samples=30, n_classes=3, noise=0.0, dtype=np.float64)
    assert np.bincount(y).tolist() == [10, 10, 10] and y.tolist() == sorted(y.tolist())
    i = np.arange(10)
    for k in range(3):
        r, theta = i / 9, 4 * k + 4 * i / 9
        np.testing.assert_allclose(X[y == k], np.stack([r * np.sin(theta), r * np.cos(theta)], 1), atol=1e-12)
    # noise jitters the angle only: radii are unchanged
    Xn, yn = make_spirals(n_samples=30, n_classes=3, noise=0.5, seed=0, dtype=np.float64)
    np.testing.assert_allclose(np.hypot(Xn[:, 0], Xn[:, 1]), np.hypot(X[:, 0], X[:, 1]), atol=1e-12)
    assert not np.allclose(Xn, X)
    _, y5 = make_spirals(n_samples=11, n_classes=4, seed=0)
    assert np.bincount(y5).tolist() == [3, 3, 3, 2]
    Xs, ys = make_spirals(n_samples=60, noise=0.0, shuffle=True, seed=0, dtype=np.float64)
    assert not np.array_equal(ys, np.sort(ys))


def test_blobs():
    centers = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    X, y = make_blobs(n_samples=4001, centers=centers, cluster_std=[0.5, 2.0], seed=0, dtype=np.float64)
    assert X.shape == (4001, 3) and np.bincount(y).tolist() == [2001, 2000]
    for k, std in enumerate([0.5, 2.0]):
        np.testing.assert_allclose(X[y == k].mean(0), centers[k], atol=0.15)
        np.testing.assert_allclose(X[y == k].std(0), std, rtol=0.06)
    X, y = make_blobs(n_samples=50, n_features=4, centers=5, seed=1)
    assert X.shape == (50, 4) and set(y.tolist()) == set(range(5))
    _, y3 = make_blobs(seed=0)
    assert np.bincount(y3).tolist() == [34, 33, 33]
    Xc, yc = make_blobs(n_samples=300, centers=2, cluster_std=0.0, seed=2, dtype=np.float64)
    for k in range(2):  # std 0: every point is its (uniformly drawn) center, inside the box
        assert np.ptp(Xc[yc == k], axis=0).max() == 0
    assert np.all(np.abs(Xc) <= 10)
    with pytest.raises(ValueError, match="cluster_std"):
        make_blobs(centers=3, cluster_std=[1.0, 2.0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="make_circles: factor"):
        make_circles(10, factor=1.0)
    with pytest.raises(ValueError, match="make_moons: n_samples"):
        make_moons(0)
    with pytest.raises(TypeError, match="make_spirals: n_samples"):
        make_spirals(10.5)
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(10, n_classes=0)


def test_noise_positional_like_the_spec_order():
    X1, y1 = make_moons(50, 0.1, seed=0)
    X2, y2 = make_moons(50, noise=0.1, seed=0)
    np.testing.assert_array_equal(X1, X2)
    X3, _ = make_circles(50, 0.1, 0.5, seed=0)
    X4, _ = make_circles(50, noise=0.1, factor=0.5, seed=0)
    np.testing.assert_array_equal(X3, X4)

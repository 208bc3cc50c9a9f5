"""Statistical acceptance bands for stochastic homework (dropout rates, init variances).

A random quantity is graded by how far it lies from its expectation in standard errors. With
an n-σ band the probability that a *correct* submission fails is the two-sided normal tail

    P(|Z| > n) = erfc(n / √2)          n = 6  →  ≈ 1.97e-9 per check

so a course of 500 students × 20 checks fails a correct solution with probability ~2e-5.
The bands (all from the central limit theorem):

* fraction of True in a mask of size n, expected p:  σ = √(p(1−p)/n); p ∈ {0, 1} is exact.
* sample mean of n values, expected μ, population σ:   σ_mean = σ / √n.
* sample std s of n values, expected σ:  Var(s²) ≈ (m₄ − σ⁴)/n, so σ_s ≈ √((m₄ − σ⁴)/n) / (2σ);
  m₄ is the fourth central moment (3σ⁴ for a normal: σ_s = σ/√(2n)); it is estimated from
  the sample when no kurtosis is given.
"""
import math

import numpy as np

__all__ = ["false_fail_probability", "fraction_band", "mean_band", "std_band"]


def false_fail_probability(n_sigma: float) -> float:
    """Two-sided normal tail P(|Z| > n_sigma): the chance a correct submission fails."""
    return math.erfc(n_sigma / math.sqrt(2.0))


class Band:
    """Result of a statistical comparison: ``passed``, ``z`` (distance in standard errors),
    ``observed``, ``expected``, ``stderr`` and a readable ``message``."""

    def __init__(self, what, observed, expected, stderr, n, n_sigma, exact=False):
        self.observed, self.expected, self.stderr, self.n, self.n_sigma = observed, expected, stderr, n, n_sigma
        if exact or stderr == 0:
            self.z = 0.0 if observed == expected else math.inf
        else:
            self.z = abs(observed - expected) / stderr
        self.passed = bool(self.z <= n_sigma)
        if exact or stderr == 0:
            self.message = f"{what} {observed:.6g}, expected exactly {expected:.6g} (n = {n})"
        else:
            self.message = (f"{what} {observed:.6g}, expected {expected:.6g} ± {n_sigma:g}σ "
                            f"(σ = {stderr:.3g}, n = {n}; off by {self.z:.1f}σ; a correct solution "
                            f"fails this with probability {false_fail_probability(n_sigma):.1e})")


def fraction_band(mask, p, n_sigma=6.0) -> Band:
    """Fraction of True (nonzero) entries of ``mask`` against probability ``p``."""
    mask = np.asarray(mask)
    n = int(mask.size)
    if n == 0:
        raise ValueError("fraction_band: empty mask")
    observed = float(np.count_nonzero(mask)) / n
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"fraction_band: p must be in [0, 1], got {p}")
    return Band("fraction", observed, p, math.sqrt(p * (1 - p) / n), n, n_sigma, exact=p in (0.0, 1.0))


def mean_band(values, mean, std=None, n_sigma=6.0) -> Band:
    """Sample mean of ``values`` against ``mean``; ``std`` is the population standard
    deviation (estimated from the sample when None)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    n = int(x.size)
    if n < 2:
        raise ValueError("mean_band: need at least 2 values")
    sigma = float(np.std(x, ddof=1)) if std is None else float(std)
    return Band("mean", float(x.mean()), float(mean), sigma / math.sqrt(n), n, n_sigma)


def std_band(values, std, mean=None, kurtosis=None, n_sigma=6.0) -> Band:
    """Sample standard deviation of ``values`` against ``std``. ``mean``: the known
    population mean (else the sample mean); ``kurtosis``: m₄/σ⁴ of the population (3 for a
    normal; estimated from the sample when None)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    n = int(x.size)
    if n < 2:
        raise ValueError("std_band: need at least 2 values")
    centred = x - (x.mean() if mean is None else float(mean))
    s = float(np.sqrt(np.mean(centred ** 2) if mean is not None else np.var(x, ddof=1)))
    std = float(std)
    if kurtosis is None:
        m2 = float(np.mean(centred ** 2))
        kurtosis = float(np.mean(centred ** 4)) / m2 ** 2 if m2 > 0 else 3.0
    stderr = std * math.sqrt(max(kurtosis - 1.0, 0.0) / (4.0 * n))
    return Band("std", s, std, stderr, n, n_sigma, exact=std == 0)

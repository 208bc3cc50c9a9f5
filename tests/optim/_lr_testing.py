"""Shared helper for the scheduler tests."""
import numpy as np


def rates(scheduler, n):
    """Rates at epochs 0..n-1, stepping the scheduler itself (not minidl.optim.lr.trace, which
    is under test too): [scheduler(), after one step(), ...]."""
    out = [scheduler()]
    for _ in range(n - 1):
        scheduler.step()
        out.append(scheduler())
    return np.array(out)

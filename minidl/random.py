"""minidl's global random generator.

Every function that draws random numbers (init, dropout, DataLoader shuffling, dataset
makers) takes an explicit ``rng=`` (a ``numpy.random.Generator``) or ``seed=``; when neither
is given it draws from the global generator returned by :func:`default_rng`, which
:func:`manual_seed` resets. Same seed => same numbers on both backends: the compiled dropout
kernel reads the same Generator stream the NumPy reference reads.
"""
import numpy as np

_global_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (like ``torch.manual_seed``) and return it."""
    global _global_rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed expects an int seed, got {type(seed).__name__}")
    _global_rng = np.random.default_rng(int(seed))
    return _global_rng


def default_rng() -> np.random.Generator:
    """The global generator (a ``numpy.random.Generator``) used when no ``rng=`` is given."""
    return _global_rng


def resolve_rng(rng=None, seed=None) -> np.random.Generator:
    """The generator a random function should draw from.

    ``rng`` (a Generator) wins; else a fresh generator from ``seed``; else the global one.
    Passing both is an error because it is ambiguous which stream the caller meant.
    """
    if rng is not None and seed is not None:
        raise ValueError("pass either rng= or seed=, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
            )
        return rng
    if seed is not None:
        return np.random.default_rng(seed)
    return _global_rng

"""minidl.optim: optimizers with PyTorch's update rules; ``minidl.optim.lr`` holds the
learning-rate schedulers (PaddlePaddle semantics)."""
from minidl._lazy import lazy_exports

_EXPORTS = {
    "Optimizer": "optimizer",
    "SGD": "sgd",
    "Adam": "adam",
    "AdamW": "adam",
    "RMSProp": "rmsprop",
    "Adagrad": "adagrad",
    "Rprop": "rprop",
    "lr": "lr:",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

"""minidl.nn: layers with explicit, hand-derived backward passes (PyTorch names).

Each layer lives in its own file with the math in its docstring:
``Dropout`` in ``minidl/nn/dropout.py``, its kernel in ``minidl/_kernels/dropout.pyx``.
"""
from minidl._lazy import lazy_exports

_EXPORTS = {
    "Parameter": "parameter",
    "Module": "module",
    "Sequential": "container",
    "Linear": "linear",
    "ReLU": "activation",
    "LeakyReLU": "activation",
    "Sigmoid": "activation",
    "Tanh": "activation",
    "GELU": "activation",
    "Softmax": "softmax",
    "Identity": "basic",
    "Flatten": "basic",
    "Dropout": "dropout",
    "BatchNorm1d": "batchnorm",
    "BatchNorm2d": "batchnorm",
    "LayerNorm": "layernorm",
    "Conv2d": "conv",
    "MaxPool2d": "pooling",
    "AvgPool2d": "pooling",
    "Residual": "residual",
    "RNN": "rnn",
    "MultiHeadAttention": "attention",
    "CrossEntropyLoss": "loss",
    "MSELoss": "loss",
    "BCEWithLogitsLoss": "loss",
    "init": "init:",
    "functional": "functional:",
    "utils": "utils:",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

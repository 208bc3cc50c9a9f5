"""minidl.nn.functional: stateless forms of the layers (forward only, fresh outputs).

Each function lives beside its layer; this module only says where.
"""
from minidl._lazy import lazy_exports

_EXPORTS = {
    "linear": "linear",
    "relu": "activation",
    "leaky_relu": "activation",
    "sigmoid": "activation",
    "tanh": "activation",
    "gelu": "activation",
    "softmax": "softmax",
    "log_softmax": "softmax",
    "dropout": "dropout",
    "cross_entropy": "loss",
    "mse_loss": "loss",
    "binary_cross_entropy_with_logits": "loss",
    "scaled_dot_product_attention": "attention",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, base="minidl.nn")

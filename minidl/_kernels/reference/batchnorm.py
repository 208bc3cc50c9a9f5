"""NumPy twin of ``minidl/_kernels/batchnorm.pyx``: batch normalization, per channel.

The formulas (forward, running statistics, backward) are in the class docstring of
``minidl.nn.BatchNorm1d`` / ``BatchNorm2d`` (minidl/nn/batchnorm.py); the functions here are
those lines in NumPy. Kernel layout: x (N, C, S), S positions per channel (S = 1 for
(N, C), H·W for images); mean and inv_std (C,) are what forward computed, backward reads;
``batch_stats=False`` (evaluation) treats them as constants. Every gradient output is
overwritten; ``None`` skips it.
"""
import numpy as np

__all__ = ["batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward"]


def _per_channel(v):
    """(C,) -> (C, 1): broadcasts against x (N, C, S)."""
    return v[:, None]


def batchnorm_forward_train(x, weight, bias, eps, out, mean, inv_std, running_mean, running_var, momentum):
    """Normalize x (N, C, S) with its batch statistics into out (N, C, S).

    Writes mean (C,) and inv_std (C,) for backward. weight, bias (C,) or None.
    running_mean, running_var (C,) are updated with weight ``momentum`` unless None.
    """
    count = x.shape[0] * x.shape[2]
    if count < 2:
        raise ValueError(f"batchnorm kernel: expected more than 1 value per channel, got {count}")
    mu = x.mean(axis=(0, 2))
    var = x.var(axis=(0, 2))
    mean[...] = mu
    inv_std[...] = 1.0 / np.sqrt(var + eps)
    x_hat = (x - _per_channel(mu)) * _per_channel(inv_std)
    out[...] = x_hat
    if weight is not None:
        out *= _per_channel(weight)
    if bias is not None:
        out += _per_channel(bias)
    if running_mean is not None:
        running_mean[...] = (1 - momentum) * running_mean + momentum * mu
        running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))


def batchnorm_forward_eval(x, weight, bias, running_mean, running_var, eps, out):
    """out = γ · (x − running_mean) / √(running_var + ε) + β for x (N, C, S)."""
    inv_std = 1.0 / np.sqrt(running_var + eps)
    out[...] = (x - _per_channel(running_mean)) * _per_channel(inv_std)
    if weight is not None:
        out *= _per_channel(weight)
    if bias is not None:
        out += _per_channel(bias)


def batchnorm_backward(grad_output, x, mean, inv_std, weight, batch_stats,
                       grad_input, grad_weight, grad_bias):
    """Gradients of batch normalization given dy = grad_output (N, C, S).

    ``mean``, ``inv_std`` (C,): the statistics the forward pass used (batch statistics when
    ``batch_stats`` is True, running statistics in evaluation mode).
    """
    count = x.shape[0] * x.shape[2]
    x_hat = (x - _per_channel(mean)) * _per_channel(inv_std)
    dbeta = grad_output.sum(axis=(0, 2))
    dgamma = (grad_output * x_hat).sum(axis=(0, 2))
    gamma = np.ones_like(inv_std) if weight is None else weight
    if grad_input is None:
        pass
    elif batch_stats:
        k = gamma * inv_std / count
        grad_input[...] = _per_channel(k) * (
            count * grad_output - _per_channel(dbeta) - x_hat * _per_channel(dgamma))
    else:
        grad_input[...] = _per_channel(gamma * inv_std) * grad_output
    if grad_weight is not None:
        grad_weight[...] = dgamma
    if grad_bias is not None:
        grad_bias[...] = dbeta

# mutant: running statistics rebound to new arrays instead of updated in place
# loses: 4
# caught by: 1.3 running statistics after one training step (PyTorch's rule) (−2), 2.3 five training
#   steps then eval match minidl.nn.BatchNorm1d (PyTorch semantics) (−2).
# `running_mean = ...` changes a local name; the caller's buffers (the layer's state) never move.
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch normalization of x, shape (N, D) (N samples, D features). Returns (out, cache).

    gamma, beta                 shape (D,): scale and shift
    running_mean, running_var   shape (D,): running statistics, UPDATED IN PLACE in training
                                (write ``running_mean[...] = ...``, do not rebind the name)
    training=True:
        μ  = mean of x over the batch (axis 0)
        σ² = variance of x over the batch, BIASED (divide by N): it normalizes
        x̂  = (x − μ) / √(σ² + ε)
        out = γ · x̂ + β
        running_mean ← (1 − momentum) · running_mean + momentum · μ
        running_var  ← (1 − momentum) · running_var  + momentum · σ² · N / (N − 1)   (UNBIASED)
    training=False (eval): normalize with the running statistics, update nothing:
        out = γ · (x − running_mean) / √(running_var + ε) + β

    out has x's shape and dtype. Do not modify x, gamma or beta. ``cache`` is whatever
    batchnorm_backward needs.
    """
    if training:
        n = x.shape[0]
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * inv_std
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        xhat = (x - running_mean) * inv_std
    out = gamma * xhat + beta
    return out.astype(x.dtype, copy=False), (xhat, gamma, inv_std, training)


def batchnorm_backward(dout, cache):
    """Gradients (dx, dgamma, dbeta) of batchnorm_forward for the upstream gradient dout (N, D).

    Use the simplified closed form (sums over the batch axis 0, x̂ and σ² from the forward pass):
        dβ = Σ dout                dγ = Σ dout · x̂                     (shape (D,))
        dx = γ / (N · √(σ² + ε)) · (N · dout − Σ dout − x̂ · Σ (dout · x̂))     (training)
        dx = γ / √(running_var + ε) · dout                                    (eval: constants)
    dx has dout's shape and dtype. Do not modify dout.
    """
    xhat, gamma, inv_std, training = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    if training:
        dx = gamma * inv_std / n * (n * dout - dbeta - xhat * dgamma)
    else:
        dx = gamma * inv_std * dout
    return (dx.astype(dout.dtype, copy=False), dgamma.astype(dout.dtype, copy=False),
            dbeta.astype(dout.dtype, copy=False))

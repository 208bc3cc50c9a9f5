"""Hand-written NumPy training code, no minidl: the baseline a student writes after cs231n.

Each ``*_step`` function builds the model's arrays and returns a closure doing one training
step (forward, loss, backward, update). The code is what that student would write, kept
float32 throughout (``rng.random(..., dtype=np.float32)`` for the dropout mask: cs231n's
``np.random.rand`` draws float64 and would make this baseline slower than it needs to be):

* MLP 784-256-128-10: ``x @ W.T + b``, ``np.maximum``, batch norm from ``mean``/``var``,
  inverted dropout as a mask multiply, softmax cross-entropy, in-place momentum update. The
  first layer's input gradient is never computed (nobody needs dL/dx of the data).
* Elman RNN (tanh), BPTT over the whole sequence.
* Multi-head self-attention (in-projection, softmax(QKᵀ/√d)V per head, out-projection).
"""
import numpy as np


def _uniform(rng, fan_in, shape):
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def mlp_step(batches, bn_dropout, momentum=0.9, lr=0.01, p_drop=0.2, eps=1e-5):
    """One SGD(momentum) step of (Linear → [BN] → ReLU → [Dropout]) ×2 → Linear, CE loss."""
    rng = np.random.default_rng(0)
    sizes = ((784, 256), (256, 128), (128, 10))
    W = [_uniform(rng, i, (o, i)) for i, o in sizes]
    b = [_uniform(rng, i, (o,)) for i, o in sizes]
    params = W + b
    if bn_dropout:
        gamma = [np.ones(o, np.float32) for _, o in sizes[:2]]
        beta = [np.zeros(o, np.float32) for _, o in sizes[:2]]
        params += gamma + beta
    vel = [np.zeros_like(p) for p in params]
    keep = np.float32(1.0 - p_drop)
    drop_rng = np.random.default_rng(1)
    i = [0]

    def step():
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        n = x.shape[0]
        cache = []
        a = x
        for layer in range(2):
            h = a @ W[layer].T + b[layer]
            bn = None
            if bn_dropout:
                mu = h.mean(axis=0)
                var = h.var(axis=0)
                inv_std = 1.0 / np.sqrt(var + eps)
                xhat = (h - mu) * inv_std
                h = gamma[layer] * xhat + beta[layer]
                bn = (xhat, inv_std)
            out = np.maximum(h, 0)
            mask = None
            if bn_dropout:
                mask = (drop_rng.random(out.shape, dtype=np.float32) < keep) / keep
                out *= mask
            cache.append((a, h, bn, mask))
            a = out
        logits = a @ W[2].T + b[2]
        # softmax cross-entropy
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(n), y]).mean()
        dz = probs
        dz[np.arange(n), y] -= 1
        dz /= n
        grads_W, grads_b, grads_gamma, grads_beta = [None] * 3, [None] * 3, [None] * 2, [None] * 2
        grads_W[2] = dz.T @ a
        grads_b[2] = dz.sum(axis=0)
        da = dz @ W[2]
        for layer in (1, 0):
            a_in, h, bn, mask = cache[layer]
            if mask is not None:
                da = da * mask
            dh = da * (h > 0)
            if bn is not None:
                xhat, inv_std = bn
                grads_gamma[layer] = (dh * xhat).sum(axis=0)
                grads_beta[layer] = dh.sum(axis=0)
                dxhat = dh * gamma[layer]
                dh = (inv_std / n) * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
            grads_W[layer] = dh.T @ a_in
            grads_b[layer] = dh.sum(axis=0)
            if layer > 0:              # the data needs no gradient
                da = dh @ W[layer]
        grads = grads_W + grads_b + (grads_gamma + grads_beta if bn_dropout else [])
        for p, v, g in zip(params, vel, grads):
            if momentum:
                v *= momentum
                v -= lr * g
                p += v
            else:
                p -= lr * g
        return loss

    return step


def rnn_step(x, grad_output):
    """Elman RNN (tanh) forward over time and BPTT backward, cs231n's rnn_step loops.

    x (N, T, D), grad_output (N, T, H). Returns a closure computing h and all gradients."""
    n, steps, d = x.shape
    h_size = grad_output.shape[2]
    rng = np.random.default_rng(0)
    Wx = _uniform(rng, h_size, (d, h_size))
    Wh = _uniform(rng, h_size, (h_size, h_size))
    b = _uniform(rng, h_size, (h_size,))

    def step():
        h = np.zeros((n, steps + 1, h_size), np.float32)
        for t in range(steps):
            h[:, t + 1] = np.tanh(x[:, t] @ Wx + h[:, t] @ Wh + b)
        dx = np.empty_like(x)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        dh_next = np.zeros((n, h_size), np.float32)
        for t in range(steps - 1, -1, -1):
            da = (grad_output[:, t] + dh_next) * (1 - h[:, t + 1] ** 2)
            dx[:, t] = da @ Wx.T
            dWx += x[:, t].T @ da
            dWh += h[:, t].T @ da
            db += da.sum(axis=0)
            dh_next = da @ Wh.T
        return dx, dWx, dWh, db

    return step


def attention_step(x, grad_output, heads):
    """Multi-head self-attention forward + backward on x (N, L, E), written out in NumPy."""
    n, length, e = x.shape
    d = e // heads
    rng = np.random.default_rng(0)
    W_in = _uniform(rng, e, (3 * e, e))
    b_in = np.zeros(3 * e, np.float32)
    W_out = _uniform(rng, e, (e, e))
    b_out = np.zeros(e, np.float32)
    scale = np.float32(1.0 / np.sqrt(d))

    def split(t):   # (N, L, E) -> (N, h, L, d)
        return t.reshape(n, length, heads, d).transpose(0, 2, 1, 3)

    def merge(t):   # (N, h, L, d) -> (N, L, E)
        return t.transpose(0, 2, 1, 3).reshape(n, length, e)

    def step():
        qkv = x @ W_in.T + b_in
        q, k, v = split(qkv[..., :e]), split(qkv[..., e:2 * e]), split(qkv[..., 2 * e:])
        s = q @ k.transpose(0, 1, 3, 2) * scale
        s -= s.max(axis=-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        o = merge(p @ v)
        y = o @ W_out.T + b_out
        # backward
        g2 = grad_output.reshape(n * length, e)
        dW_out = g2.T @ o.reshape(n * length, e)
        db_out = g2.sum(axis=0)
        do = split((g2 @ W_out).reshape(n, length, e))
        dv = p.transpose(0, 1, 3, 2) @ do
        dp = do @ v.transpose(0, 1, 3, 2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * scale
        dq = ds @ k
        dk = ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([merge(dq), merge(dk), merge(dv)], axis=-1).reshape(n * length, 3 * e)
        dW_in = dqkv.T @ x.reshape(n * length, e)
        db_in = dqkv.sum(axis=0)
        dx = (dqkv @ W_in).reshape(n, length, e)
        return y, dx, dW_in, db_in, dW_out, db_out

    return step


def dropout_steps(x, g, p):
    """Inverted dropout forward (a float32 mask) and backward (g * mask), as closures."""
    rng = np.random.default_rng(0)
    keep = np.float32(1.0 - p)
    state = {}

    def forward():
        state["mask"] = (rng.random(x.shape, dtype=np.float32) < keep) / keep
        return x * state["mask"]

    def backward():
        return g * state["mask"]

    forward()
    return forward, backward


def norm_step(x, g, axes, eps=1e-5):
    """Batch norm (axes = the batch/spatial axes) or layer norm (axes = the feature axes)
    forward + backward with γ = 1, β = 0 shaped for broadcasting, cs231n's formulas."""
    shape = [1 if i in axes else s for i, s in enumerate(x.shape)]
    gamma = np.ones(shape, np.float32)
    beta = np.zeros(shape, np.float32)
    m = np.float32(np.prod([x.shape[i] for i in axes]))

    def step():
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * inv_std
        y = gamma * xhat + beta
        param_axes = tuple(i for i in range(x.ndim) if shape[i] == 1)
        dgamma = (g * xhat).sum(axis=param_axes, keepdims=True)
        dbeta = g.sum(axis=param_axes, keepdims=True)
        dxhat = g * gamma
        dx = (inv_std / m) * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                              - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))
        return y, dx, dgamma, dbeta

    return step

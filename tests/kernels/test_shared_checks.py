"""The shared argument checks (minidl/_kernels/_validation.pxi) in every kernel that uses them.

Each kernel gets a valid call (checked first: it runs, like its twin); then one array argument
is spoiled at a time — a strided view, the other float dtype, a read-only output, a 1-element
array, a list, None — and the compiled kernel must raise ValueError or TypeError that names it,
never read or write out of bounds. (During the move to one shared dispatch per module, a
None state array reached the optimizer loops as NULL; this test found it.) Every argument
and every spoiling is tried."""
import numpy as np
import pytest

def _f(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _valid_calls(dtype):
    """kernel name -> (positional arguments of a valid call, indices of its output arrays)."""
    f = lambda *s, seed=0: _f(*s, dtype=dtype, seed=seed)      # noqa: E731
    z = lambda *s: np.zeros(s, dtype)                          # noqa: E731
    x, y = f(3, 4), f(3, 4, seed=1)
    calls = {}
    for name in ("relu", "sigmoid", "tanh", "gelu"):
        calls[f"{name}_forward"] = ([x, z(3, 4)], {1})
    calls["relu_backward"] = ([y, np.abs(x), z(3, 4)], {2})
    calls["sigmoid_backward"] = ([y, 1 / (1 + np.exp(-x)), z(3, 4)], {2})
    calls["tanh_backward"] = ([y, np.tanh(x), z(3, 4)], {2})
    calls["gelu_backward"] = ([y, x, z(3, 4)], {2})
    calls["leaky_relu_forward"] = ([x, 0.01, z(3, 4)], {2})
    calls["leaky_relu_backward"] = ([y, x, 0.01, z(3, 4)], {3})
    calls["softmax_forward"] = ([x, z(3, 4)], {1})
    calls["log_softmax_forward"] = ([x, z(3, 4)], {1})
    calls["softmax_backward"] = ([y, np.full((3, 4), 0.25, dtype), z(3, 4)], {2})
    calls["cross_entropy_forward_backward"] = ([x, np.array([0, 3, 1]), z(3, 4)], {2})
    calls["mse_forward_backward"] = ([x, y, z(3, 4)], {2})
    calls["bce_with_logits_forward_backward"] = ([x, np.abs(np.tanh(y)), z(3, 4)], {2})
    calls["dropout_forward"] = ([x, z(3, 4), np.zeros((3, 4), np.uint8), 0.5, 2.0, np.random.default_rng(0)], {1, 2})
    calls["dropout_backward"] = ([y, np.ones((3, 4), np.uint8), 2.0, z(3, 4)], {3})
    calls["sgd_update"] = ([f(3, 4), y, 0.1, 0.0], {0})
    calls["sgd_momentum_update"] = ([f(3, 4), y, z(3, 4), 0.1, 0.9, 0.0, False], {0, 2})
    calls["adam_update"] = ([f(3, 4), y, z(3, 4), z(3, 4), 0.1, 0.9, 0.999, 1e-8, 0.0, 1, False], {0, 2, 3})
    calls["rmsprop_update"] = ([f(3, 4), y, z(3, 4), 0.1, 0.9, 1e-8, 0.0], {0, 2})
    calls["rmsprop_momentum_update"] = ([f(3, 4), y, z(3, 4), z(3, 4), 0.1, 0.9, 1e-8, 0.0, 0.9], {0, 2, 3})
    calls["adagrad_update"] = ([f(3, 4), y, z(3, 4), 0.1, 1e-10, 0.0], {0, 2})
    calls["rprop_update"] = ([f(3, 4), y, z(3, 4), np.full((3, 4), 0.01, dtype), 0.5, 1.2, 1e-6, 50.0], {0, 2, 3})
    calls["linear_forward"] = ([f(2, 4), f(3, 4, seed=1), f(3, seed=2), z(2, 3)], {3})
    calls["linear_backward"] = ([f(2, 3), f(2, 4, seed=1), f(3, 4, seed=2), z(2, 4), z(3, 4), z(3)], {3, 4, 5})
    xb = f(4, 3, 5)
    calls["batchnorm_forward_train"] = ([xb, f(3), f(3, seed=1), 1e-5, z(4, 3, 5), z(3), z(3), z(3), np.ones(3, dtype), 0.1],
                                        {4, 5, 6, 7, 8})
    calls["batchnorm_forward_eval"] = ([xb, f(3), f(3, seed=1), z(3), np.ones(3, dtype), 1e-5, z(4, 3, 5)], {6})
    calls["batchnorm_backward"] = ([f(4, 3, 5, seed=3), xb, z(3), np.ones(3, dtype), f(3), True, z(4, 3, 5), z(3), z(3)],
                                   {6, 7, 8})
    calls["layernorm_forward"] = ([x, f(4), f(4, seed=1), 1e-5, z(3, 4), z(3), z(3)], {4, 5, 6})
    calls["layernorm_backward"] = ([y, x, z(3), np.ones(3, dtype), f(4), z(3, 4), z(4), z(4)], {5, 6, 7})
    # typed-memoryview kernels: Cython checks dtype, ndim, contiguity, None and writeability
    xp = f(2, 3, 6, 6)
    argmax = np.zeros((2, 3, 3, 3), np.int64)
    calls["pool_max_forward"] = ([xp, 2, 2, 2, 2, 0, 0, z(2, 3, 3, 3), argmax], {7, 8})
    calls["pool_max_backward"] = ([f(2, 3, 3, 3), argmax, z(2, 3, 6, 6)], {2})
    calls["pool_avg_forward"] = ([xp, 2, 2, 2, 2, 0, 0, z(2, 3, 3, 3)], {7})
    calls["pool_avg_backward"] = ([f(2, 3, 3, 3), 2, 2, 2, 2, 0, 0, z(2, 3, 6, 6)], {7})
    calls["conv_im2col"] = ([xp, 3, 3, 1, 1, 1, 1, z(2, 27, 36)], {7})
    calls["conv_col2im"] = ([f(2, 27, 36), 3, 3, 1, 1, 1, 1, z(2, 3, 6, 6)], {7})
    wc = f(4, 3, 3, 3, seed=5)
    calls["conv2d_forward"] = ([xp, wc, f(4, seed=6), 1, 1, 1, 1, z(2, 4, 6, 6)], {7})
    calls["conv2d_backward"] = ([xp, wc, f(2, 4, 6, 6, seed=7), 1, 1, 1, 1, z(2, 3, 6, 6), z(4, 3, 3, 3), z(4)],
                                {7, 8, 9})
    return calls


NAMES = sorted(_valid_calls(np.float32))
SPOILERS = ["strided", "other_dtype", "read_only", "one_element", "list", "none"]


def _spoil(a, how, dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    if how == "strided":
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype) if a.ndim else None
        if wide is None:
            return None
        wide[..., ::2] = a
        return wide[..., ::2]
    if how == "other_dtype":
        return a.astype(other) if a.dtype == dtype else a.astype(np.float32)
    if how == "read_only":
        a = a.copy()
        a.flags.writeable = False
        return a
    if how == "one_element":
        return a.reshape(-1)[:1].copy()
    if how == "list":
        return a.tolist()
    return None


def test_every_kernel_with_shared_checks_is_listed():
    from minidl._kernels import _compiled_table
    listed = set(NAMES)
    for module in ("activations", "losses", "dropout", "sgd", "adam", "rmsprop", "adagrad", "rprop",
                   "linear", "batchnorm", "layernorm", "pooling", "conv"):
        twin = __import__(f"minidl._kernels.reference.{module}", fromlist=["__all__"])
        assert set(twin.__all__) <= listed, f"{module}: add its kernels to _valid_calls"
    assert listed <= set(_compiled_table)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_valid_call_runs_like_the_twin(kernel_pair, name, dtype):
    results = []
    for fn in kernel_pair(name):
        args, outputs = _valid_calls(dtype)[name]
        value = fn(*args)
        results.append((value, [args[i] for i in sorted(outputs)]))
    (v_ref, out_ref), (v_comp, out_comp) = results
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    if v_ref is not None:
        np.testing.assert_allclose(v_comp, v_ref, **tol)
    for a, b in zip(out_comp, out_ref):
        np.testing.assert_allclose(a, b, **tol)


OPTIONAL = {("linear_backward", 3), ("linear_backward", 5), ("linear_forward", 2),
            ("batchnorm_forward_train", 1), ("batchnorm_forward_train", 2), ("batchnorm_forward_train", 7),
            ("batchnorm_forward_train", 8), ("batchnorm_forward_eval", 1), ("batchnorm_forward_eval", 2),
            ("batchnorm_backward", 4), ("batchnorm_backward", 6), ("batchnorm_backward", 7),
            ("batchnorm_backward", 8), ("layernorm_forward", 1), ("layernorm_forward", 2),
            ("layernorm_backward", 4), ("layernorm_backward", 5), ("layernorm_backward", 6),
            ("layernorm_backward", 7), ("conv2d_forward", 2), ("conv2d_backward", 7), ("conv2d_backward", 9)}
# Cython's own messages for typed memoryview arguments do not name the kernel.
MEMORYVIEW_KERNELS = {"pool_max_forward", "pool_max_backward", "pool_avg_forward", "pool_avg_backward",
                      "conv_im2col", "conv_col2im"}
KERNEL_WORDS = ("linear kernel", "batchnorm kernel", "layernorm kernel", "cross_entropy", "conv2d_")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_spoiled_argument_raises_naming_the_kernel(kernel_pair, name, dtype):
    """Every array argument, every way of spoiling it (None only where the argument is not
    optional: there None means "skip")."""
    _, compiled = kernel_pair(name)
    args, outputs = _valid_calls(dtype)[name]
    positions = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    for where in positions:
        for how in SPOILERS:
            args, _ = _valid_calls(dtype)[name]
            original = args[where]
            if how == "read_only" and where not in outputs:
                continue                    # a read-only input is fine
            if how == "none" and (name, where) in OPTIONAL:
                continue
            if how == "one_element" and original.size == 1:
                continue
            spoiled = _spoil(original, how, dtype)
            if how == "other_dtype" and original.dtype.kind in "iub":
                spoiled = original.astype(np.float32)   # labels / mask: a float array is the wrong type
            args[where] = spoiled
            with pytest.raises((ValueError, TypeError)) as info:
                compiled(*args)
            message = str(info.value)
            if name in MEMORYVIEW_KERNELS:
                continue
            assert name in message or any(word in message for word in KERNEL_WORDS), (where, how, message)

"""A/B of the normalization, dropout and activation kernels between two builds, in ONE process.

    python benchmarks/ab_norm.py OLD_KERNELS_DIR [--rounds 3] [--rows LN,BN2d]
    e.g. python benchmarks/ab_norm.py /work/main/minidl/_kernels

OLD_KERNELS_DIR holds the other build's extension modules (``batchnorm*.so`` etc., built in
place); this checkout's modules are the NEW side. Both are loaded side by side (the old
ones under their own file paths) and every row is timed at kernel level with fresh output
arrays, float32, in interleaved rounds (old, new, new on one thread), wall clock; printed:
the median of the rounds' medians and old/new. The new side's second thread only helps
when a core is free: on a loaded machine compare the one-thread column.
"""
import argparse
import glob
import importlib
import importlib.util
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import measure  # noqa: E402

import minidl  # noqa: E402,F401  (malloc tuning, as in training)
from minidl._kernels import _pool  # noqa: E402

MODULES = ("layernorm", "batchnorm", "dropout", "activations")


def load_old(directory, name):
    paths = glob.glob(os.path.join(directory, f"{name}.*.so")) + glob.glob(os.path.join(directory, f"{name}.*.pyd"))
    if not paths:
        raise SystemExit(f"ab_norm: no built {name} module in {directory}")
    spec = importlib.util.spec_from_file_location(f"minidl._kernels.{name}", paths[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def layernorm_step(mod, x, g, w):
    m, d = x.shape

    def run():
        out, mean, istd = np.empty_like(x), np.empty(m, x.dtype), np.empty(m, x.dtype)
        mod.layernorm_forward(x, w, w, 1e-5, out, mean, istd)
        mod.layernorm_backward(g, x, mean, istd, w, np.empty_like(x), np.empty(d, x.dtype), np.empty(d, x.dtype))
    return run


def batchnorm_step(mod, x, g, w):
    c = x.shape[1]

    def run():
        out, mean, istd = np.empty_like(x), np.empty(c, x.dtype), np.empty(c, x.dtype)
        rm, rv = np.zeros(c, x.dtype), np.ones(c, x.dtype)
        mod.batchnorm_forward_train(x, w, w, 1e-5, out, mean, istd, rm, rv, 0.1)
        mod.batchnorm_backward(g, x, mean, istd, w, True, np.empty_like(x), np.empty(c, x.dtype),
                               np.empty(c, x.dtype))
    return run


def batchnorm_eval(mod, x, g, w):
    rm, rv = np.zeros(x.shape[1], x.dtype), np.ones(x.shape[1], x.dtype)
    return lambda: mod.batchnorm_forward_eval(x, w, w, rm, rv, 1e-5, np.empty_like(x))


def dropout_backward(mod, x, g, w):
    mask = (np.random.default_rng(1).random(x.shape) < 0.5).astype(np.uint8)
    return lambda: mod.dropout_backward(g, mask, 2.0, np.empty_like(g))


def dropout_forward(mod, x, g, w):
    gen = np.random.default_rng(2)
    return lambda: mod.dropout_forward(x, np.empty_like(x), np.empty(x.shape, np.uint8), 0.5, 2.0, gen)


def relu_forward(mod, x, g, w):
    return lambda: mod.relu_forward(x, np.empty_like(x))


ROWS = [  # (label, module, closure, shape, parameter length)
    ("LN (2048, 512) fwd+bwd", "layernorm", layernorm_step, (2048, 512), 512),
    ("BN1d (128, 256) fwd+bwd", "batchnorm", batchnorm_step, (128, 256, 1), 256),
    ("BN1d (1024, 1024) fwd+bwd", "batchnorm", batchnorm_step, (1024, 1024, 1), 1024),
    ("BN2d (32, 16, 784) fwd+bwd", "batchnorm", batchnorm_step, (32, 16, 784), 16),
    ("BN1d eval (1024, 1024)", "batchnorm", batchnorm_eval, (1024, 1024, 1), 1024),
    ("BN2d eval (32, 16, 784)", "batchnorm", batchnorm_eval, (32, 16, 784), 16),
    ("dropout bwd (1024, 4096)", "dropout", dropout_backward, (1024, 4096), 0),
    ("dropout fwd (1024, 4096)", "dropout", dropout_forward, (1024, 4096), 0),
    ("ReLU (1024, 1024)", "activations", relu_forward, (1024, 1024), 0),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="directory with the old build's kernel modules")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", default="", help="comma-separated substrings of the row labels to run")
    args = parser.parse_args()
    old = {name: load_old(args.old, name) for name in MODULES}
    new = {name: importlib.import_module(f"minidl._kernels.{name}") for name in MODULES}
    threads = _pool.get_num_threads()
    print(f"old: {args.old}; new: {os.path.dirname(new['batchnorm'].__file__)}; {threads} threads, "
          f"{args.rounds} interleaved rounds, wall clock, float32")
    print(f"| row | old | new | old/new | new, 1 thread | old/new1 |\n|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    wanted = [w for w in args.rows.split(",") if w]
    for label, module, closure, shape, p in ROWS:
        if wanted and not any(w in label for w in wanted):
            continue
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        w = rng.standard_normal(p).astype(np.float32) if p else None
        f_old, f_new = closure(old[module], x, g, w), closure(new[module], x, g, w)
        t = {"old": [], "new": [], "new1": []}
        for _ in range(args.rounds):
            t["old"].append(measure(f_old, min_time=0.01))
            t["new"].append(measure(f_new, min_time=0.01))
            _pool.set_num_threads(1)
            t["new1"].append(measure(f_new, min_time=0.01))
            _pool.set_num_threads(threads)
        o, n, n1 = (float(np.median(t[k])) * 1e6 for k in ("old", "new", "new1"))
        print(f"| {label} | {o:.1f} µs | {n:.1f} µs | {o / n:.2f}× | {n1:.1f} µs | {o / n1:.2f}× |", flush=True)


if __name__ == "__main__":
    main()

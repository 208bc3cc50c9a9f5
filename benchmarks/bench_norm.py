"""Dropout and normalization benchmark (float32, medians, one run).

    python benchmarks/bench_norm.py            # full
    python benchmarks/bench_norm.py --quick    # fewer repeats
    python benchmarks/bench_norm.py --torch-threads 1

Workloads (layer level: validation, fresh output arrays and buffers included, as in training):
  * Dropout(0.5) forward and backward at (1024, 4096), in ns per element
  * BatchNorm1d training forward + backward at (128, 256) and (1024, 1024)
  * BatchNorm2d training forward + backward at (32, 16, 28, 28)
  * LayerNorm(512) forward + backward at (64, 32, 512)
  * BatchNorm1d / BatchNorm2d evaluation forward at (1024, 1024) and (32, 16, 28, 28)
  * the dropout kernel alone (out and mask preallocated): the mask draw itself
minidl's cython backend, its numpy backend, hand-written NumPy (``plain``:
benchmarks/_plain_numpy.py; not for the kernel-only row) and PyTorch (when installed) run in
the same process; ratios X/cython > 1 mean the compiled backend is faster.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import (  # noqa: E402
    add_cpu_time_option, apply_cpu_time_option, backward_only, environment_line, measure,
    print_table, try_import_torch,
)
import _plain_numpy  # noqa: E402

from minidl import backend, nn  # noqa: E402
from minidl._kernels import kernels  # noqa: E402


COLUMNS = ("cython", "numpy", "plain", "torch")


def minidl_fwd_bwd(layer, x, g):
    def step():
        layer(x)
        layer.zero_grad()
        layer.backward(g)

    return step


def torch_fwd_bwd(torch, layer, x, g):
    xt = torch.from_numpy(x).requires_grad_(True)
    gt = torch.from_numpy(g)

    def step():
        xt.grad = None
        layer.zero_grad()
        layer(xt).backward(gt)

    return step


def plain_bn_eval(x, axes, eps=1e-5):
    """Hand-written NumPy batch-norm evaluation forward: γ (x − running mean)/√(running var + ε) + β."""
    shape = [1 if i in axes else s for i, s in enumerate(x.shape)]
    mean, var = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    gamma, beta = np.ones(shape, np.float32), np.zeros(shape, np.float32)

    def step():
        return (x - mean) * (gamma / np.sqrt(var + eps)) + beta

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads(N) (on a busy machine 1 thread is the fairer comparison)")
    add_cpu_time_option(parser)
    args = parser.parse_args()
    apply_cpu_time_option(args)
    repeat = 5 if args.quick else 15
    torch = try_import_torch()
    backends = [b for b in ("cython", "numpy") if b in backend.available()]
    print(environment_line())
    if torch is not None:
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rng = np.random.default_rng(0)

    # -- dropout -------------------------------------------------------------------------
    shape = (1024, 4096)
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    rows = []
    fwd, bwd, kern = {}, {}, {}
    for name in backends:
        with backend.using(name):
            layer = nn.Dropout(0.5, rng=np.random.default_rng(1))
            fwd[name] = measure(lambda: layer(x), repeat=repeat)
            layer(x)
            bwd[name] = measure(backward_only(layer, g), repeat=repeat)
            out, mask = np.empty_like(x), np.empty(shape, np.uint8)
            gen = np.random.default_rng(2)
            kern[name] = measure(lambda: kernels.dropout_forward(x, out, mask, 0.5, 2.0, gen), repeat=repeat)
    plain_fwd, plain_bwd = _plain_numpy.dropout_steps(x, g, 0.5)
    fwd["plain"] = measure(plain_fwd, repeat=repeat)
    bwd["plain"] = measure(plain_bwd, repeat=repeat)
    if torch is not None:
        xt, gt = torch.from_numpy(x), torch.from_numpy(g)
        drop = torch.nn.Dropout(0.5)
        fwd["torch"] = measure(lambda: drop(xt), repeat=repeat)
        xg = xt.clone().requires_grad_(True)
        yg = drop(xg)
        bwd["torch"] = measure(lambda: torch.autograd.grad(yg, xg, gt, retain_graph=True), repeat=repeat)
    n = x.size
    for label, times in (("Dropout fwd (1024, 4096)", fwd), ("Dropout bwd (1024, 4096)", bwd),
                         ("dropout kernel only (1024, 4096)", kern)):
        per_el = ", ".join(f"{k} {t / n * 1e9:.2f} ns/el" for k, t in times.items())
        rows.append((label, times, per_el))
    print_table("Dropout (p = 0.5)", rows, COLUMNS)

    # -- normalization -------------------------------------------------------------------
    cases = [   # (label, shape, minidl layer, torch layer, the normalised axes for plain NumPy)
        ("BatchNorm1d train fwd+bwd (128, 256)", (128, 256), lambda: nn.BatchNorm1d(256),
         lambda t: t.nn.BatchNorm1d(256), (0,)),
        ("BatchNorm1d train fwd+bwd (1024, 1024)", (1024, 1024), lambda: nn.BatchNorm1d(1024),
         lambda t: t.nn.BatchNorm1d(1024), (0,)),
        ("BatchNorm2d train fwd+bwd (32, 16, 28, 28)", (32, 16, 28, 28), lambda: nn.BatchNorm2d(16),
         lambda t: t.nn.BatchNorm2d(16), (0, 2, 3)),
        ("LayerNorm(512) fwd+bwd (64, 32, 512)", (64, 32, 512), lambda: nn.LayerNorm(512),
         lambda t: t.nn.LayerNorm(512), (2,)),
    ]
    rows = []
    for label, shape, make, make_torch, axes in cases:
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        times = {}
        for name in backends:
            with backend.using(name):
                times[name] = measure(minidl_fwd_bwd(make(), x, g), repeat=repeat)
        times["plain"] = measure(_plain_numpy.norm_step(x, g, axes), repeat=repeat)
        if torch is not None:
            times["torch"] = measure(torch_fwd_bwd(torch, make_torch(torch), x, g), repeat=repeat)
        rows.append((label, times, ""))
    print_table("Normalization layers, training step (forward + backward)", rows, COLUMNS)

    # -- batch norm in evaluation mode (running statistics) --------------------------------
    rows = []
    for label, shape, make, make_torch, axes in cases[1:3]:
        label = label.replace("train fwd+bwd", "eval fwd")
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        times = {}
        for name in backends:
            with backend.using(name):
                layer = make()
                layer.eval()
                times[name] = measure(lambda: layer(x), repeat=repeat)
        times["plain"] = measure(plain_bn_eval(x, axes), repeat=repeat)
        if torch is not None:
            layer_t = make_torch(torch).eval()
            xt = torch.from_numpy(x)

            def torch_eval():
                with torch.no_grad():
                    return layer_t(xt)

            times["torch"] = measure(torch_eval, repeat=repeat)
        rows.append((label, times, ""))
    print_table("Batch norm, evaluation forward", rows, COLUMNS)
    print("\ntargets (issue 2): dropout fwd ≤ 1.0 ns/el; BN1d (128,256) ≤ 15 µs, (1024,1024) ≤ 500 µs")


if __name__ == "__main__":
    main()

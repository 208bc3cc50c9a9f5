"""Optimizer step on the parameters of the 784-256-128-10 MLP with BatchNorm (235,914
float32 values in 10 tensors): minidl's compiled kernels vs its NumPy backend vs torch.optim.

    python benchmarks/bench_optim.py            (MINIDL_BENCH_NO_TORCH=1 to skip torch)

Gradients are fixed random arrays; a step is `optimizer.step()` alone. The learning rate
is tiny so the parameters stay finite over many thousands of timed steps.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import environment_line, measure, print_table, try_import_torch  # noqa: E402

from minidl import backend, optim  # noqa: E402
from minidl.nn.parameter import Parameter  # noqa: E402

# Linear(784, 256), BatchNorm1d(256), Linear(256, 128), BatchNorm1d(128), Linear(128, 10)
SHAPES = [(256, 784), (256,), (256,), (256,), (128, 256), (128,), (128,), (128,), (10, 128), (10,)]

CASES = [
    ("SGD momentum 0.9", lambda p: optim.SGD(p, learning_rate=1e-6, momentum=0.9),
     lambda torch, t: torch.optim.SGD(t, lr=1e-6, momentum=0.9)),
    ("SGD nesterov + weight decay", lambda p: optim.SGD(p, 1e-6, momentum=0.9, nesterov=True, weight_decay=1e-4),
     lambda torch, t: torch.optim.SGD(t, lr=1e-6, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("plain SGD", lambda p: optim.SGD(p, learning_rate=1e-6),
     lambda torch, t: torch.optim.SGD(t, lr=1e-6)),
    ("Adam", lambda p: optim.Adam(p, learning_rate=1e-6), lambda torch, t: torch.optim.Adam(t, lr=1e-6)),
    ("AdamW", lambda p: optim.AdamW(p, learning_rate=1e-6), lambda torch, t: torch.optim.AdamW(t, lr=1e-6)),
    ("RMSProp", lambda p: optim.RMSProp(p, learning_rate=1e-6), lambda torch, t: torch.optim.RMSprop(t, lr=1e-6)),
    ("Adagrad", lambda p: optim.Adagrad(p, learning_rate=1e-6), lambda torch, t: torch.optim.Adagrad(t, lr=1e-6)),
    ("Rprop", lambda p: optim.Rprop(p, learning_rate=1e-6), lambda torch, t: torch.optim.Rprop(t, lr=1e-6)),
]


def minidl_step(make, seed=0):
    rng = np.random.default_rng(seed)
    params = [Parameter(rng.standard_normal(s).astype(np.float32)) for s in SHAPES]
    for p in params:
        p.grad = rng.standard_normal(p.shape).astype(np.float32)
    opt = make(params)
    return opt.step


def torch_step(torch, make, seed=0):
    rng = np.random.default_rng(seed)
    tensors = [torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in SHAPES]
    for t in tensors:
        t.grad = torch.tensor(rng.standard_normal(tuple(t.shape)).astype(np.float32))
    return make(torch, tensors).step


def main():
    torch = try_import_torch()
    print(environment_line())
    print(f"{sum(int(np.prod(s)) for s in SHAPES)} float32 parameters in {len(SHAPES)} tensors; "
          f"torch {torch.__version__ if torch else 'not installed'}")
    rows = []
    for label, make, make_torch in CASES:
        times = {}
        for name in backend.available():
            with backend.using(name):
                times[name] = measure(minidl_step(make))
        if torch is not None:
            with torch.no_grad():
                times["torch"] = measure(torch_step(torch, make_torch))
        rows.append((label, times, "target ≤ 35 µs" if label == "SGD momentum 0.9" else ""))
    print_table("optimizer.step(), 235,914 float32 parameters (median)", rows)
    if torch is not None:
        # torch runs its element-wise ops on 2 intra-op threads; on a busy 2-core machine
        # those threads fight other processes, so also show it on one thread (like minidl).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        with torch.no_grad():
            single = {label: measure(torch_step(torch, make_torch)) for label, _, make_torch in CASES[:4]}
        torch.set_num_threads(threads)
        print("\ntorch on 1 thread: " + ", ".join(f"{k} {v * 1e6:.1f} µs" for k, v in single.items()))


if __name__ == "__main__":
    main()

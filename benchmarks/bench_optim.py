"""Optimizer step on the parameters of the 784-256-128-10 MLP with BatchNorm (235,914
float32 values in 10 tensors): minidl's compiled kernels vs its NumPy backend vs torch.optim.

    python benchmarks/bench_optim.py            (MINIDL_BENCH_NO_TORCH=1 to skip torch)
    python benchmarks/bench_optim.py --isa      compiled kernels per instruction set (SSE2
                                                generic, AVX2, AVX-512), thread CPU time

Gradients are fixed random arrays; a step is `optimizer.step()` alone. The learning rate
is tiny so the parameters stay finite over many thousands of timed steps.
"""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import environment_line, measure, print_table, try_import_torch  # noqa: E402

from minidl import backend, optim  # noqa: E402
from minidl.nn.parameter import Parameter  # noqa: E402

# Linear(784, 256), BatchNorm1d(256), Linear(256, 128), BatchNorm1d(128), Linear(128, 10)
SHAPES = [(256, 784), (256,), (256,), (256,), (128, 256), (128,), (128,), (128,), (10, 128), (10,)]
# the same MLP without BatchNorm: Linear(784, 256), Linear(256, 128), Linear(128, 10)
MLP_SHAPES = [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)]

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


def minidl_step(make, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    params = [Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
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


def isa_table(pairs=60):
    """optimizer.step() with the update loops of each instruction set the CPU has, timed as
    interleaved rounds in one process (thread CPU time, median), on both shape sets. The
    same arrays serve every variant: where arrays sit relative to each other (4K aliasing)
    moves these timings by up to 10 %, more than some of the differences measured."""
    from minidl._kernels import adagrad, adam, rmsprop, rprop, sgd
    modules = (adagrad, adam, rmsprop, rprop, sgd)
    default = sgd.optim_isa()
    isas = [name for name in ("generic", "avx2", "avx512") if sgd.optim_set_isa(name) == name]
    print(f"update loops per instruction set (default here: {default}); thread CPU time, "
          f"median of {pairs} interleaved rounds; ratio = generic / variant")
    print("| workload | shapes | " + " | ".join(isas) + " | " + " | ".join(f"{i} gain" for i in isas[1:]) + " |")
    print("|---|---|" + "---|" * (2 * len(isas) - 1))
    for label, make, _ in CASES:
        for shape_name, shapes in (("bench (10 tensors)", SHAPES), ("MLP 784-256-128-10", MLP_SHAPES)):
            step = minidl_step(make, shapes=shapes)
            samples = {isa: [] for isa in isas}
            for k in range(pairs):
                for isa in (isas if k % 2 == 0 else isas[::-1]):
                    for m in modules:
                        m.optim_set_isa(isa)
                    t0 = time.thread_time()
                    for _ in range(5):
                        step()
                    samples[isa].append((time.thread_time() - t0) / 5)
            med = {isa: statistics.median(v) for isa, v in samples.items()}
            print(f"| {label} | {shape_name} | " + " | ".join(f"{med[i] * 1e6:.1f} µs" for i in isas) + " | "
                  + " | ".join(f"{med['generic'] / med[i]:.2f}×" for i in isas[1:]) + " |", flush=True)
    for m in modules:
        m.optim_set_isa(default)


def main():
    if "--isa" in sys.argv[1:]:
        isa_table()
        return
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

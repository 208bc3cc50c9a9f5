"""Foundation benchmark (issue 2): one run, three implementations, medians and ratios.

    python benchmarks/bench_foundation.py            # full
    python benchmarks/bench_foundation.py --quick    # fewer repeats

Workloads (float32):
  * MLP 784-256-128-10: (Linear → BatchNorm1d → ReLU → Dropout(0.2)) ×2 → Linear, CE loss,
    SGD momentum 0.9 — one training step at N = 32, 128, 1024
  * plain MLP 784-256-128-10 (Linear/ReLU) training step at N = 1 (pure SGD)
  * dropout forward / backward at (1024, 4096)
  * BatchNorm1d training forward+backward at (128, 256) and (1024, 1024)
  * SGD momentum update over the MLP's 235k parameters
  * `import minidl` time (fresh interpreter)
minidl's cython backend, its numpy backend and PyTorch (when installed) run in the same
process; the table prints medians and the ratios numpy/cython and torch/cython (> 1 means
minidl's compiled backend is faster).
"""
import argparse
import os
import statistics
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import (  # noqa: E402
    backward_only, environment_line, fmt_time, measure, print_table, try_import_torch,
)

import minidl  # noqa: E402
from minidl import backend, nn  # noqa: E402


def mlp(bn_dropout):
    layers = []
    for fan_in, fan_out in ((784, 256), (256, 128)):
        layers.append(nn.Linear(fan_in, fan_out))
        if bn_dropout:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(nn.ReLU())
        if bn_dropout:
            layers.append(nn.Dropout(0.2))
    layers.append(nn.Linear(128, 10))
    return nn.Sequential(*layers)


def _batches(n, samples=8192):
    """A pool of distinct random batches cycled through step by step. Repeating one batch
    would let the model memorise it: the loss and the gradients decay into subnormal floats,
    which x86 processes ~100x slower, and the benchmark would time that instead."""
    rng = np.random.default_rng(0)
    count = max(8, samples // n)
    return [(rng.standard_normal((n, 784)).astype(np.float32), rng.integers(0, 10, n)) for _ in range(count)]


def minidl_step(n, bn_dropout, momentum=0.9, parts=False):
    """One training step of the 784-256-128-10 MLP at batch size n (a closure; with
    ``parts``, also the model, the loss and the optimizer)."""
    minidl.manual_seed(0)
    model = mlp(bn_dropout)
    model.input_grad = False        # as fit does: dL/d(data) is never needed (torch: x.requires_grad False)
    crit = nn.CrossEntropyLoss()
    opt = minidl.optim.SGD(model.parameters(), learning_rate=0.01, momentum=momentum)
    batches = _batches(n)
    i = [0]

    def step():
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        logits = model(x)
        crit(logits, y)
        opt.zero_grad()
        model.backward(crit.backward())
        opt.step()

    return (step, model, crit, opt) if parts else step


def torch_step(torch, n, bn_dropout, momentum=0.9):
    """The same step in PyTorch."""
    torch.manual_seed(0)
    tnn = torch.nn
    layers = []
    for fan_in, fan_out in ((784, 256), (256, 128)):
        layers.append(tnn.Linear(fan_in, fan_out))
        if bn_dropout:
            layers.append(tnn.BatchNorm1d(fan_out))
        layers.append(tnn.ReLU())
        if bn_dropout:
            layers.append(tnn.Dropout(0.2))
    layers.append(tnn.Linear(128, 10))
    model = tnn.Sequential(*layers)
    crit = tnn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=momentum)
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _batches(n)]
    i = [0]

    def step():
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        loss = crit(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def per_backend(make, repeat):
    out = {}
    for name in backend.available():
        with backend.using(name):
            out[name] = measure(make(), repeat=repeat)
    return out


def import_time(repeat):
    code = "import time; t=time.perf_counter(); import minidl; print(time.perf_counter()-t)"
    samples = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 5 if args.quick else 15
    torch = try_import_torch()
    if torch is not None:
        torch.set_grad_enabled(True)
        if os.environ.get("OPENBLAS_NUM_THREADS"):       # the same thread count as NumPy's BLAS
            torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))
    print(environment_line(), f"| torch {torch.__version__ if torch else 'not installed'}")

    rows = []
    for n in (32, 128, 1024):
        times = per_backend(lambda n=n: minidl_step(n, True), repeat)
        if torch:
            times["torch"] = measure(torch_step(torch, n, True), repeat=repeat)
        rows.append((f"MLP BN+dropout step N={n}", times, ""))
    times = per_backend(lambda: minidl_step(1, False), repeat)
    if torch:
        times["torch"] = measure(torch_step(torch, 1, False), repeat=repeat)
    rows.append(("plain MLP step N=1", times, ""))

    # dropout (1024, 4096)
    shape = (1024, 4096)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    drop = nn.Dropout(0.2, rng=np.random.default_rng(1))
    g = np.ones_like(x)

    def fwd():
        drop(x)

    times_f, times_b = {}, {}
    for name in backend.available():
        with backend.using(name):
            drop(x)
            times_f[name] = measure(fwd, repeat=repeat)
            drop(x)
            times_b[name] = measure(backward_only(drop, g), repeat=repeat)
    if torch:
        tx = torch.from_numpy(x)
        tdrop = torch.nn.Dropout(0.2)
        times_f["torch"] = measure(lambda: tdrop(tx), repeat=repeat)
        tx2 = tx.clone().requires_grad_(True)
        tg = torch.ones_like(tx)
        tout = tdrop(tx2)

        def torch_bwd():   # the backward alone: the graph is kept and replayed
            tx2.grad = None
            tout.backward(tg, retain_graph=True)

        times_b["torch"] = measure(torch_bwd, repeat=repeat)
    per_el = x.size
    rows.append(("dropout fwd (1024,4096)", times_f,
                 " / ".join(f"{k} {v / per_el * 1e9:.2f} ns/el" for k, v in times_f.items())))
    rows.append(("dropout bwd (1024,4096)", times_b,
                 " / ".join(f"{k} {v / per_el * 1e9:.2f} ns/el" for k, v in times_b.items())))

    # BatchNorm1d
    for shape in ((128, 256), (1024, 1024)):
        xb = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        gb = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        bn = nn.BatchNorm1d(shape[1])

        def bn_step():
            bn(xb)
            bn.backward(gb)

        times = per_backend(lambda: bn_step, repeat)
        if torch:
            tbn = torch.nn.BatchNorm1d(shape[1])
            tx = torch.from_numpy(xb).requires_grad_(True)
            tg = torch.from_numpy(gb)

            def torch_bn():
                out = tbn(tx)
                out.backward(tg)

            times["torch"] = measure(torch_bn, repeat=repeat)
        rows.append((f"BatchNorm1d train fwd+bwd {shape}", times, ""))

    # SGD momentum over the MLP's parameters
    model = mlp(False)
    params = list(model.parameters())
    n_params = sum(p.size for p in params)
    for p in params:
        p.grad[...] = 0.01
    opt_times = {}
    for name in backend.available():
        with backend.using(name):
            opt = minidl.optim.SGD(params, learning_rate=0.01, momentum=0.9)
            opt.step()
            opt_times[name] = measure(opt.step, repeat=repeat)
    if torch:
        tparams = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in params]
        for tp in tparams:
            tp.grad = torch.full_like(tp, 0.01)
        topt = torch.optim.SGD(tparams, lr=0.01, momentum=0.9)
        topt.step()
        opt_times["torch"] = measure(topt.step, repeat=repeat)
    rows.append((f"SGD momentum update ({n_params / 1e3:.0f}k params)", opt_times, ""))

    print_table("minidl foundation benchmark (float32, medians)", rows)
    print(f"\n`import minidl` (fresh interpreter, median of {repeat // 2 + 3}): "
          f"{fmt_time(import_time(repeat // 2 + 3))}")


if __name__ == "__main__":
    main()

"""Conv2d forward + backward: minidl (cython and numpy backends) vs PyTorch, same run.

Workload (issue 6): x (32, 16, 28, 28) float32, 32 filters 3×3, padding 1. One step =
forward, then backward with a fixed upstream gradient (input and parameter gradients).
Target: cython within 1.5× of PyTorch's time. Measured twice: with the default thread
pools (OpenBLAS and torch both use every core) and with one thread each (threadpoolctl +
torch.set_num_threads(1)), which compares the per-core work without thread-pool effects.

    python benchmarks/bench_conv.py
"""
import contextlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import environment_line, measure, print_table, try_import_torch  # noqa: E402

from minidl import backend  # noqa: E402
from minidl.nn import Conv2d  # noqa: E402


def minidl_step(conv, x, g):
    def step():
        conv(x)
        conv.zero_grad()
        conv.backward(g)
    return step


ROUNDS = 3


@contextlib.contextmanager
def threads(count):
    """Limit BLAS (via threadpoolctl when installed) and torch to ``count`` threads."""
    torch = try_import_torch()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if count is None:
        yield
        return
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(count)
    ctx = threadpool_limits(count) if threadpool_limits is not None else contextlib.nullcontext()
    with ctx:
        yield
    if torch is not None:
        torch.set_num_threads(before)


def run(label_suffix):
    rng = np.random.default_rng(0)
    n, c, h, w, out = 32, 16, 28, 28, 32
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    g = rng.standard_normal((n, out, h, w)).astype(np.float32)
    conv = Conv2d(c, out, 3, padding=1, dtype=np.float32, rng=rng)
    rows = []
    for label, only_forward in (("forward", True), ("forward + backward", False)):
        fns = {}
        for name in backend.available():
            def run_on(name=name, fn=(lambda: conv(x)) if only_forward else minidl_step(conv, x, g)):
                with backend.using(name):
                    fn()
            fns[name] = run_on
        torch = try_import_torch()
        if torch is not None:
            tconv = torch.nn.Conv2d(c, out, 3, padding=1)
            with torch.no_grad():
                tconv.weight.copy_(torch.from_numpy(conv.weight.data))
                tconv.bias.copy_(torch.from_numpy(conv.bias.data))
            tg = torch.from_numpy(g)
            if only_forward:
                tx = torch.from_numpy(x)

                def tstep():
                    with torch.no_grad():
                        tconv(tx)
            else:
                tx = torch.from_numpy(x).requires_grad_(True)

                def tstep():
                    tconv.zero_grad(set_to_none=False)
                    tx.grad = None
                    tconv(tx).backward(tg)
            fns["torch"] = tstep
        # Interleaved rounds, best median per implementation: on a shared machine a burst of
        # load then hits every implementation alike instead of one of them.
        times = {}
        for _ in range(ROUNDS):
            for name, fn in fns.items():
                t = measure(fn, repeat=11)
                times[name] = min(times.get(name, t), t)
        rows.append((label + label_suffix, times, "(32,16,28,28) → 32×3×3, pad 1, float32"))
    return rows


def main():
    print(environment_line())
    torch = try_import_torch()
    if torch is not None:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default")
    rows = run(" (default threads)")
    with threads(1):
        rows += run(" (1 thread)")
    print_table("Conv2d", rows)
    for label, times, _ in rows:
        if "backward" in label and times.get("torch") and times.get("cython"):
            ratio = times["cython"] / times["torch"]
            verdict = "meets" if ratio <= 1.5 else "misses"
            print(f"{label}: minidl cython / torch = {ratio:.2f} ({verdict} the 1.5× target)")


if __name__ == "__main__":
    main()

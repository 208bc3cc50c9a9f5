"""The MLP step on the three ways a gradient is written (float32, CPU time, medians).

    OPENBLAS_NUM_THREADS=1 MINIDL_NUM_THREADS=1 python benchmarks/grad_paths.py [N ...]   # default N = 1 32

* lazy: ``opt.zero_grad()`` then backward — the kernels write each gradient in place.
* eager: the same, but every ``p.grad`` is read after zero_grad (zeros filled, as an eager
  zero_grad would), so backward adds to zeros.
* accumulate: no zero_grad at all — every backward adds to the gradient already there
  (gradient accumulation over micro-batches).
Rounds alternate the three; CPU time of one thread (time.process_time).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_foundation import _batches, mlp  # noqa: E402

import minidl  # noqa: E402
from minidl import nn  # noqa: E402


def make(n, mode):
    minidl.manual_seed(0)
    model = mlp(False)
    model.input_grad = False
    crit = nn.CrossEntropyLoss()
    opt = minidl.optim.SGD(model.parameters(), learning_rate=1e-4, momentum=0.0)
    batches = _batches(n)
    params = list(model.parameters())
    i = [0]

    def step():
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        crit(model(x), y)
        if mode != "accumulate":
            opt.zero_grad()
        if mode == "eager":
            for p in params:
                p.grad                           # noqa: B018  (fills the zeros now)
        model.backward(crit.backward())
        opt.step()

    return step


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1, 32]
    print(minidl.__file__)
    for n in sizes:
        fns = {mode: make(n, mode) for mode in ("lazy", "eager", "accumulate")}
        reps = 2000 if n == 1 else max(20, 6400 // n)
        times = {mode: [] for mode in fns}
        for _ in range(11):
            for mode, fn in fns.items():
                t0 = time.process_time()
                for _ in range(reps):
                    fn()
                times[mode].append((time.process_time() - t0) / reps)
        print(f"N={n}: " + ", ".join(f"{mode} {statistics.median(v) * 1e6:.1f} µs" for mode, v in times.items()))


if __name__ == "__main__":
    main()

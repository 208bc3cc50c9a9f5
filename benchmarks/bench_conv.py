"""Conv2d forward + backward: minidl (cython and numpy backends) vs PyTorch, same run.

    python benchmarks/bench_conv.py            # issue 6's workload, more shapes, a small CNN
    python benchmarks/bench_conv.py --quick    # fewer repeats
    MINIDL_CONV_ISA=avx2 python benchmarks/bench_conv.py   # cap the kernels' instruction set

Issue 6's workload: x (32, 16, 28, 28) float32, 32 filters 3×3, padding 1; one step =
forward, then backward with a fixed upstream gradient (input and parameter gradients).
Target: cython within 1.5× of PyTorch's time. Measured with the default thread pools
(minidl's convolution threads, OpenBLAS and torch each use every core) and with one thread
each (minidl._kernels.conv.set_num_threads(1) + threadpoolctl + torch.set_num_threads(1)),
which compares the per-core work without thread-pool effects.

Further rows: the same step on other shapes (a single image, the first layer of an MNIST
net, small images with many channels, strided convolutions with few and more channels),
and a full training step of a small CNN (conv-ReLU-pool ×2, Linear, cross-entropy, SGD
momentum) where convolutions and OpenBLAS GEMMs alternate.
"""
import argparse
import contextlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import environment_line, measure, print_table, try_import_torch  # noqa: E402

from minidl import backend, nn, optim  # noqa: E402
from minidl.nn import Conv2d  # noqa: E402

ISSUE_WORKLOAD = (32, 16, 28, 32, 3, 1, 1)   # N, C, H=W, O, k, stride, padding
MORE_SHAPES = [
    (1, 16, 28, 32, 3, 1, 1),      # one image
    (64, 1, 28, 16, 5, 1, 2),      # first layer of an MNIST net
    (64, 32, 14, 64, 3, 1, 1),
    (16, 64, 8, 128, 3, 1, 1),     # small images, many channels
    (32, 3, 32, 16, 3, 2, 1),      # strided RGB first layer: polyphase + direct kernels
    (32, 16, 28, 32, 3, 2, 1),     # strided, more channels: polyphase + direct kernels
]


@contextlib.contextmanager
def threads(count):
    """Limit minidl's convolution threads, BLAS (via threadpoolctl when installed) and torch
    to ``count``."""
    if count is None:
        yield
        return
    try:
        from minidl._kernels import conv
    except ImportError:
        conv = None
    before_conv = conv.set_num_threads(count) if conv is not None else None
    torch = try_import_torch()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(count)
    ctx = threadpool_limits(count) if threadpool_limits is not None else contextlib.nullcontext()
    try:
        with ctx:
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)
        if conv is not None:
            conv.set_num_threads(before_conv)


def on_each_backend(step):
    """{backend name: step run on that backend} for every available minidl backend."""
    fns = {}
    for name in backend.available():
        def run_on(name=name):
            with backend.using(name):
                step()
        fns[name] = run_on
    return fns


def conv_step_fns(shape):
    """{implementation: one forward+backward step} for a Conv2d of ``shape``."""
    n, c, hw, out, k, stride, pad = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    conv = Conv2d(c, out, k, stride=stride, padding=pad, dtype=np.float32, rng=rng)
    g = rng.standard_normal(conv(x).shape).astype(np.float32)

    def step():
        conv(x)
        conv.zero_grad()
        conv.backward(g)

    fns = on_each_backend(step)
    torch = try_import_torch()
    if torch is not None:
        tconv = torch.nn.Conv2d(c, out, k, stride=stride, padding=pad)
        with torch.no_grad():
            tconv.weight.copy_(torch.from_numpy(conv.weight.data))
            tconv.bias.copy_(torch.from_numpy(conv.bias.data))
        tx, tg = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(g)

        def tstep():
            tconv.zero_grad(set_to_none=False)
            tx.grad = None
            tconv(tx).backward(tg)
        fns["torch"] = tstep
    return fns


def cnn_step_fns(n=64, input_grad=False):
    """{implementation: one SGD training step} of a small MNIST-sized CNN. As in fit (and
    torch, whose input does not require grad), the first layer skips dL/dx."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, dtype=np.float32, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, dtype=np.float32, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10, dtype=np.float32, rng=rng))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), 0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), input_grad=input_grad)
        opt.step()

    fns = on_each_backend(step)
    torch = try_import_torch()
    if torch is not None:
        tnn = torch.nn
        tmodel = tnn.Sequential(tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                                tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                                tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10))
        tloss, topt = tnn.CrossEntropyLoss(), torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def tstep():
            topt.zero_grad()
            tloss(tmodel(tx), ty).backward()
            topt.step()
        fns["torch"] = tstep
    return fns


def best_of_rounds(fns, rounds, repeat):
    """Interleaved rounds, best median per implementation: on a shared machine a burst of
    load then hits every implementation alike instead of one of them."""
    times = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = measure(fn, repeat=repeat)
            times[name] = min(times.get(name, t), t)
    return times


def describe(shape):
    n, c, hw, out, k, stride, pad = shape
    text = f"({n},{c},{hw},{hw}) → {out}×{k}×{k}, pad {pad}"
    return text + (f", stride {stride}" if stride != 1 else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, repeat = (1, 5) if args.quick else (3, 11)
    print(environment_line())
    torch = try_import_torch()
    if torch is not None:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default")
    try:
        from minidl._kernels import conv
        print(f"minidl direct convolution kernels: {conv.conv_isa()}")
    except ImportError:
        pass

    rows = [("issue 6: fwd+bwd (default threads)", best_of_rounds(conv_step_fns(ISSUE_WORKLOAD), rounds, repeat),
             describe(ISSUE_WORKLOAD))]
    with threads(1):
        rows.append(("issue 6: fwd+bwd (1 thread)", best_of_rounds(conv_step_fns(ISSUE_WORKLOAD), rounds, repeat),
                     describe(ISSUE_WORKLOAD)))
    for shape in MORE_SHAPES:
        rows.append(("fwd+bwd", best_of_rounds(conv_step_fns(shape), rounds, repeat), describe(shape)))
    rows.append(("small CNN training step, N = 64", best_of_rounds(cnn_step_fns(), rounds, repeat),
                 "conv(1→16)-ReLU-pool-conv(16→32)-ReLU-pool-Linear, CE, SGD momentum"))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        # OpenBLAS's idle workers spin for a while after every GEMM and take the core the
        # convolution threads need; with one BLAS thread (torch keeps its own threads) they don't.
        fns = cnn_step_fns()
        with threadpool_limits(1, user_api="blas"):
            times = best_of_rounds({k: v for k, v in fns.items() if k != "torch"}, rounds, repeat)
        times["torch"] = best_of_rounds({"torch": fns["torch"]}, rounds, repeat)["torch"] if "torch" in fns else None
        rows.append(("same, OpenBLAS limited to 1 thread", times, "threadpoolctl.threadpool_limits(1, 'blas')"))
    print_table("Conv2d (float32)", rows)
    for label, times, _ in rows[:2]:
        if times.get("torch") and times.get("cython"):
            ratio = times["cython"] / times["torch"]
            verdict = "meets" if ratio <= 1.5 else "misses"
            print(f"{label}: minidl cython / torch = {ratio:.2f} ({verdict} issue 6's 1.5× target)")


if __name__ == "__main__":
    main()

"""The MLP training step of several checkouts, interleaved (issue 14's "no benchmark slower"
and "the N = 1 step must not get slower" checks across a redesign).

    python benchmarks/ab_step.py /path/to/old/checkout /path/to/new/checkout [...]

Each checkout must have its kernels built in place (`python setup.py build_ext --inplace`).
Every round starts one fresh process per checkout, in turn (PYTHONPATH = that checkout, one
OpenBLAS and one minidl thread), which times that checkout's own
`benchmarks/bench_foundation.minidl_step` in thread CPU time: 15 samples of 100 steps
(5 at N = 1024), median. Five rounds; the table gives each checkout's median over rounds and
its ratio to the first checkout (< 1: faster).
"""
import json
import os
import statistics
import subprocess
import sys

WORKLOADS = [(1, False), (32, False), (32, True), (1024, False)]

CHILD = r'''
import json, sys, time
root = sys.argv[1]
sys.path.insert(0, root + "/benchmarks")
import bench_foundation
import minidl
assert minidl.__file__.startswith(root), f"minidl imported from {minidl.__file__}, not {root}"
out = {}
for n, bn in %r:
    step = bench_foundation.minidl_step(n, bn)
    reps = 100 if n < 1024 else 5
    for _ in range(2 * reps):
        step()
    samples = []
    for _ in range(15):
        t = time.thread_time()
        for _ in range(reps):
            step()
        samples.append((time.thread_time() - t) / reps)
    out[f"N={n} {'BN+dropout' if bn else 'plain'}"] = sorted(samples)[len(samples) // 2]
print(json.dumps(out))
''' % (WORKLOADS,)


def main(trees, rounds=5):
    results = {tree: [] for tree in trees}
    for r in range(rounds):
        for tree in trees:
            env = dict(os.environ, PYTHONPATH=tree, OPENBLAS_NUM_THREADS="1", MINIDL_NUM_THREADS="1")
            done = subprocess.run([sys.executable, "-c", CHILD, tree], env=env, capture_output=True,
                                  text=True, cwd=os.path.dirname(os.path.abspath(tree)) or "/")
            if done.returncode:
                sys.exit(f"{tree}: the step failed:\n{done.stderr[-2000:]}")
            results[tree].append(json.loads(done.stdout))
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    names = [os.path.basename(os.path.normpath(t)) for t in trees]
    print("| workload | " + " | ".join(names) + " | " + " | ".join(f"{n} ÷ {names[0]}" for n in names[1:]) + " |")
    print("|---" * (2 * len(trees)) + "|")
    for key in results[trees[0]][0]:
        med = [statistics.median(s[key] for s in results[t]) * 1e6 for t in trees]
        print(f"| {key} | " + " | ".join(f"{m:.1f} µs" for m in med) + " | "
              + " | ".join(f"{m / med[0]:.3f}" for m in med[1:]) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main([os.path.abspath(p) for p in sys.argv[1:]])

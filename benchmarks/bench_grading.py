"""Wall time of grading one normal submission (the dropout_init solution) end to end.

    python benchmarks/bench_grading.py [--repeat 7] [--isolation namespace|uid|audit]

Each repetition is one ``minidl.grading.runner.run_tests`` call (a pytest grader process,
the zygote, one confined worker per test, results.json written after every test), as
``minidl-grade run`` does. Prints every wall time, the median, and the median CPU time of
the processes it started (wall time on a shared machine mostly measures the neighbours). To
compare two checkouts, run the script with each one's ``minidl`` first on ``PYTHONPATH``,
alternating, in one session (``--homework`` to grade the same tests with both).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--isolation", default=None, help="cap the isolation level (MINIDL_GRADE_ISOLATION)")
    parser.add_argument("--homework", default=None)
    args = parser.parse_args(argv)
    if args.isolation:
        os.environ["MINIDL_GRADE_ISOLATION"] = args.isolation
    from minidl.grading.results import totals
    from minidl.grading.runner import run_tests

    import minidl

    hw = args.homework or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tutorials", "homework",
                                       "dropout_init")
    import resource

    times, cpu = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            record = run_tests(os.path.join(hw, "solution"), hw, gradescope_path=os.path.join(tmp, "results.json"))
            times.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            score, max_score = totals(record)
            assert score == max_score, (score, max_score)
    level = record.get("isolation", {}).get("level", "n/a")
    print(f"minidl at {os.path.dirname(minidl.__file__)}; isolation {level}")
    print("runs (s):", " ".join(f"{t:.2f}" for t in times))
    print(f"median {statistics.median(times):.2f} s over {len(times)} runs; CPU time of the grader, zygote "
          f"and workers (user + system, less sensitive to a busy machine): median {statistics.median(cpu):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall time of grading one normal submission (the dropout_init solution) end to end.

    python benchmarks/bench_grading.py [--repeat 7] [--isolation namespace|uid|audit]

Each repetition is one ``minidl.grading.runner.run_tests`` call (a pytest grader process,
the zygote, one worker per test, results.json written after every test), as
``minidl-grade run`` does. Prints every time and the median. To compare two checkouts, run
the script with each one's ``minidl`` first on ``PYTHONPATH``, alternating, in one session.
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
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            t0 = time.perf_counter()
            record = run_tests(os.path.join(hw, "solution"), hw, gradescope_path=os.path.join(tmp, "results.json"))
            times.append(time.perf_counter() - t0)
            score, max_score = totals(record)
            assert score == max_score, (score, max_score)
    level = record.get("isolation", {}).get("level", "n/a")
    print(f"minidl at {os.path.dirname(minidl.__file__)}; isolation {level}")
    print("runs (s):", " ".join(f"{t:.2f}" for t in times))
    print(f"median {statistics.median(times):.2f} s over {len(times)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

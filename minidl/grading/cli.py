"""``minidl-grade`` (also ``python -m minidl.grading``): init, check, run, validate, build, batch.

    minidl-grade init dropout_init
    minidl-grade check dropout_init.py [-k EXPR] [--seed N]          # students: public tests
    minidl-grade run SUBMISSION --tests HW --format gradescope --out results.json [--budget S]
    minidl-grade validate HW                                        # instructors, before release
    minidl-grade build HW --gradescope autograder.zip --student handout.zip
    minidl-grade batch SUBMISSIONS --tests HW --jobs 2 --out grades.csv
    minidl-grade build-course COURSE --out DIR / validate-course COURSE [--quick]   # minidl.grading.course
    minidl-grade doctor [HW]                                        # the isolation level reached here
"""
import argparse
import os
import sys


def _homework_for(file, tests):
    from minidl.grading.runner import Homework

    if tests:
        return Homework(tests)
    here = os.path.dirname(os.path.abspath(file)) if os.path.isfile(file) else os.path.abspath(file)
    for cand in (here, os.path.dirname(here)):
        if os.path.isdir(os.path.join(cand, "tests")):
            return Homework(cand)
    raise SystemExit(f"minidl-grade: no tests/ folder next to {file}; pass --tests DIR")


def cmd_init(args):
    from minidl.grading.scaffold import init

    root = init(args.name, args.dir)
    print(f"created {root}: edit solution/, handout/, tests/, tests_hidden/, mutants/, then `minidl-grade validate {root}`")
    return 0


def cmd_check(args):
    from minidl.grading import writers
    from minidl.grading.runner import run_tests

    hw = _homework_for(args.file, args.tests)
    record = run_tests(args.file, hw, public_only=True, seed=args.seed, keyword=args.k)
    print(writers.table(record, audience="student"))
    return 0 if all(t["status"] == "passed" for t in record["tests"]) else 1


def cmd_run(args):
    from minidl.grading import writers
    from minidl.grading.runner import run_tests

    gradescope = args.out if args.format == "gradescope" else None
    record = run_tests(args.submission, args.tests, seed=args.seed, budget=args.budget, gradescope_path=gradescope,
                       keyword=args.k)
    if args.format != "gradescope":
        writers.write(record, args.format, args.out)
    if args.record:
        writers.write(record, "record", args.record)
    from minidl.grading.results import summary, totals

    score, max_score = totals(record)
    print(f"{score:g}/{max_score:g}  {summary(record)}  → {args.out}")
    return 0


def cmd_validate(args):
    from minidl.grading.validate import validate

    ok, lines = validate(args.homework, seeds=args.seeds, jobs=args.jobs, budget=args.budget)
    for line in lines:
        print(line)
    print("validate:", "PASSED" if ok else "FAILED")
    return 0 if ok else 1


def cmd_build(args):
    from minidl.grading import bundle

    if not (args.gradescope or args.student):
        raise SystemExit("minidl-grade build: give --gradescope ZIP and/or --student ZIP")
    if args.gradescope:
        try:
            bundle.build_autograder(args.homework, args.gradescope, wheel=args.wheel)
        except bundle.WheelError as exc:
            raise SystemExit(f"minidl-grade build: {exc}")
        print(f"wrote {args.gradescope}")
    if args.student:
        bundle.build_handout(args.homework, args.student)
        print(f"wrote {args.student}")
    return 0


def cmd_batch(args):
    from concurrent.futures import ThreadPoolExecutor

    from minidl.grading import writers
    from minidl.grading.results import atomic_write_text
    from minidl.grading.runner import Homework, run_tests

    hw = Homework(args.tests)
    subs = sorted(os.path.join(args.submissions, n) for n in os.listdir(args.submissions) if not n.startswith("."))
    folder = os.path.abspath(args.submissions)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # each worker gets a copy of its own submission only; the folder with everyone's is
        # protected (absent from a namespace worker's view, closed to other users at uid level)
        records = list(pool.map(lambda s: run_tests(s, hw, budget=args.budget, protect=[folder]), subs))
    for r, s in zip(records, subs):
        r["submission"] = os.path.relpath(s, args.submissions)
    atomic_write_text(args.out, writers.csv_text(records))
    print(f"graded {len(records)} submissions → {args.out}")
    return 0


def cmd_doctor(args):
    from minidl.grading import isolation

    level, lines = isolation.doctor_lines()
    for line in lines:
        print(line)
    if args.homework:
        from minidl.grading.runner import Homework

        strict = Homework(args.homework).settings().get("isolation") == "strict"
        if strict and level.name != "namespace":
            print(f'{args.homework}: isolation = "strict" — this machine cannot grade it (needs namespace)')
            return 1
        print(f"{args.homework}: isolation = {'strict' if strict else 'auto'}: grading runs at {level.name} level")
    import tempfile

    from minidl.grading.sandbox import Worker

    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.py")
        with open(probe, "w") as f:
            f.write("def ping():\n    return 1\n")
        try:
            with Worker(probe) as w:
                ok = w.call("ping") == 1
            print(f"  a test worker started at {w.level} level, was verified from outside and answered: "
                  f"{'yes' if ok else 'no'}")
        except Exception as exc:
            print(f"  a test worker FAILED: {type(exc).__name__}: {exc}")
            return 1
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="minidl-grade", description="Autograde minidl homework (walkthrough: tutorials/homework/dropout_init/README.md).")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("init", help="scaffold a homework folder")
    s.add_argument("name")
    s.add_argument("--dir", default=".")
    s.set_defaults(fn=cmd_init)
    s = sub.add_parser("check", help="run the public tests on your file")
    s.add_argument("file")
    s.add_argument("-k", default=None, help="only tests matching this pytest -k expression")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--tests", default=None, help="homework folder (default: next to FILE)")
    s.set_defaults(fn=cmd_check)
    s = sub.add_parser("run", help="grade one submission")
    s.add_argument("submission")
    s.add_argument("--tests", required=True, help="the homework folder (tests/, tests_hidden/, grading.toml)")
    s.add_argument("--format", default="gradescope", choices=("gradescope", "prairielearn", "junit", "table", "record"))
    s.add_argument("--out", default="results.json")
    s.add_argument("--record", default=None, help="also write the full record (instructor view)")
    s.add_argument("--budget", type=float, default=None)
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("-k", default=None)
    s.set_defaults(fn=cmd_run)
    s = sub.add_parser("validate", help="solution 100 %%, mutants lose their points, statistics hold")
    s.add_argument("homework", nargs="?", default=".")
    s.add_argument("--seeds", type=int, default=200)
    s.add_argument("--jobs", type=int, default=2)
    s.add_argument("--budget", type=float, default=None)
    s.set_defaults(fn=cmd_validate)
    s = sub.add_parser("build", help="autograder.zip for Gradescope and handout.zip for students")
    s.add_argument("homework", nargs="?", default=".")
    s.add_argument("--gradescope", default=None)
    s.add_argument("--student", default=None)
    s.add_argument("--wheel", default=None, help="a prebuilt minidl wheel (default: build one from the source checkout, or re-pack the installed minidl)")
    s.set_defaults(fn=cmd_build)
    s = sub.add_parser("batch", help="grade a folder of submissions into a CSV")
    s.add_argument("submissions")
    s.add_argument("--tests", required=True)
    s.add_argument("--jobs", type=int, default=2)
    s.add_argument("--out", default="grades.csv")
    s.add_argument("--budget", type=float, default=None)
    s.set_defaults(fn=cmd_batch)
    s = sub.add_parser("doctor", help="which isolation level workers get here, and why not a higher one")
    s.add_argument("homework", nargs="?", default=None, help="also say whether this homework can be graded here")
    s.set_defaults(fn=cmd_doctor)
    from minidl.grading.course import add_commands      # build-course, validate-course

    add_commands(sub)
    return p


def _require_grading_dependencies():
    """pytest (and tomli on Python 3.10) come with ``pip install "minidl[grading]"``; say so
    instead of ending in a ModuleNotFoundError."""
    missing = []
    for module, needed in (("pytest", True), ("tomli", sys.version_info < (3, 11))):
        if needed:
            try:
                __import__(module)
            except ImportError:
                missing.append(module)
    if missing:
        raise SystemExit(f"minidl-grade needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                         "not installed here: pip install \"minidl[grading]\" (from a clone: pip install \".[grading]\")")


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.fn is not cmd_init:
        _require_grading_dependencies()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())

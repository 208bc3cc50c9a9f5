"""A folder of homework as one course: ``minidl-grade build-course`` and ``validate-course``.

    minidl-grade validate-course tutorials/homework [--quick]      # every homework, one verdict
    minidl-grade build-course tutorials/homework --out course/     # what an instructor uploads

The course folder holds one homework folder per assignment (each with ``grading.toml``,
``tests/`` ...: see ``minidl-grade init``) and an optional ``course.toml``::

    [course]
    title = "..."
    description = "..."
    [[homework]]                 # in teaching order
    folder = "batchnorm"
    title = "Batch normalization"
    tutorials = ["14_batch_normalization.py"]
    seeds = ["003_1afe6d55217f9576.txt Batch Normalization"]

Homework folders that ``course.toml`` does not list come after the listed ones, titled by
their README's first heading. ``build-course`` writes::

    OUT/gradescope/NAME.zip     one Gradescope autograder per homework (``minidl-grade build``'s
                                zip; one minidl wheel, built once, shared by all of them)
    OUT/handouts/NAME.zip       each homework's student handout
    OUT/handouts.zip            all handouts, one folder per homework
    OUT/index.md                the course page: each homework, its tutorials and seed sections,
                                points (public / hidden), every test, what the hidden tests
                                cover and the mutants that prove them

``validate-course`` runs :func:`minidl.grading.validate.validate` on every homework and
fails when one does; ``--quick`` sweeps the statistical tests over :data:`QUICK_SEEDS` base
seeds instead of 200 (for CI; the full sweep is for releases).
"""
import importlib.util
import os
import sys
import tempfile
import time
import zipfile

QUICK_SEEDS = 10
COURSE_FILE = "course.toml"


def _toml(path):
    try:
        import tomllib
    except ImportError:                      # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


def _is_homework(path):
    return os.path.isfile(os.path.join(path, "grading.toml")) and os.path.isdir(os.path.join(path, "tests"))


def _readme_title(path):
    readme = os.path.join(path, "README.md")
    if os.path.isfile(readme):
        with open(readme, encoding="utf-8") as f:
            for line in f:
                if line.startswith("# "):
                    return line[2:].strip()
    return os.path.basename(path)


def load_course(course_dir):
    """The course as a dict: ``title``, ``description`` and ``homework`` (a list of dicts with
    ``folder``, ``path``, ``title``, ``tutorials``, ``seeds``) in teaching order."""
    course_dir = os.path.abspath(course_dir)
    if not os.path.isdir(course_dir):
        raise ValueError(f"course folder {course_dir} does not exist")
    config = _toml(os.path.join(course_dir, COURSE_FILE)) if os.path.isfile(os.path.join(course_dir, COURSE_FILE)) \
        else {}
    head = config.get("course", {})
    listed, entries = set(), []
    for entry in config.get("homework", []):
        folder = entry.get("folder")
        path = os.path.join(course_dir, folder or "")
        if not folder or not _is_homework(path):
            raise ValueError(f"{COURSE_FILE}: homework folder {folder!r} is not a homework "
                             f"(it needs grading.toml and tests/ in {path})")
        listed.add(folder)
        entries.append({"folder": folder, "path": path, "title": entry.get("title") or _readme_title(path),
                        "tutorials": list(entry.get("tutorials", [])), "seeds": list(entry.get("seeds", []))})
    for folder in sorted(os.listdir(course_dir)):
        path = os.path.join(course_dir, folder)
        if folder not in listed and _is_homework(path):
            entries.append({"folder": folder, "path": path, "title": _readme_title(path), "tutorials": [],
                            "seeds": []})
    if not entries:
        raise ValueError(f"no homework in {course_dir} (a homework folder has grading.toml and tests/)")
    return {"path": course_dir, "title": head.get("title", os.path.basename(course_dir)),
            "description": head.get("description", ""), "homework": entries}


def collect_tests(homework_dir):
    """Every graded test of a homework, read from its test files (nothing is run): a list of
    dicts with ``number``, ``name``, ``points`` (a parametrized test counts once per case),
    ``hidden``, ``hint``, ``tags`` and ``cases``."""
    from minidl.grading.runner import Homework

    hw = Homework(homework_dir)
    tests = []
    for directory in hw.test_dirs:
        hidden = os.path.basename(directory) == "tests_hidden"
        for name in sorted(os.listdir(directory)):
            if not (name.startswith("test") and name.endswith(".py")):
                continue
            path = os.path.join(directory, name)
            module_name = f"_minidl_course_{abs(hash(path))}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            finally:
                sys.modules.pop(module_name, None)
            for attr in vars(module).values():
                test = getattr(attr, "_minidl_grading", None)
                if test is None or not callable(attr):
                    continue
                cases = 1
                for mark in getattr(attr, "pytestmark", []):
                    if mark.name == "parametrize" and len(mark.args) > 1:
                        cases *= len(mark.args[1])
                tests.append({"number": test.number or "", "name": test.name or attr.__name__,
                              "points": test.points * cases, "cases": cases,
                              "hidden": hidden or test.visibility != "visible", "hint": test.hint or "",
                              "tags": list(test.tags)})

    def order(t):
        return [int(p) if p.isdigit() else p for p in t["number"].split(".")], t["name"]

    return sorted(tests, key=order)


def describe(entry):
    """``entry`` (from :func:`load_course`) with its ``tests``, ``mutants`` and point totals."""
    from minidl.grading.validate import mutant_header

    tests = collect_tests(entry["path"])
    mutants_dir = os.path.join(entry["path"], "mutants")
    mutants = []
    if os.path.isdir(mutants_dir):
        for name in sorted(os.listdir(mutants_dir)):
            if name.endswith(".py"):
                description, loses = mutant_header(os.path.join(mutants_dir, name))
                mutants.append({"file": name, "description": description, "loses": loses})
    public = sum(t["points"] for t in tests if not t["hidden"])
    hidden = sum(t["points"] for t in tests if t["hidden"])
    settings = _toml(os.path.join(entry["path"], "grading.toml")).get("assignment", {})
    return dict(entry, tests=tests, mutants=mutants, public_points=public, hidden_points=hidden,
                points=public + hidden, submission=settings.get("submission", ""),
                names=list(settings.get("names", [])))


def _points(value):
    return f"{value:g}"


def index_markdown(course):
    """The course page (Markdown) for ``course`` = :func:`load_course`'s result."""
    described = [describe(e) for e in course["homework"]]
    lines = [f"# {course['title']}", "",
             "*Instructors' page: it names the hidden tests and the mutants — do not publish it to "
             "students before the due date.*", ""]
    if course["description"]:
        lines += [course["description"], ""]
    total = sum(d["points"] for d in described)
    lines += ["| # | homework | submission | tutorials | points (public + hidden) | tests | mutants |",
              "|---|---|---|---|---|---|---|"]
    for i, d in enumerate(described, 1):
        n_public = sum(1 for t in d["tests"] if not t["hidden"])
        lines.append(f"| {i} | [{d['title']}](#{i}-{d['folder']}) | `{d['submission']}` | "
                     f"{', '.join(d['tutorials']) or '—'} | {_points(d['points'])} "
                     f"({_points(d['public_points'])} + {_points(d['hidden_points'])}) | "
                     f"{n_public} public, {len(d['tests']) - n_public} hidden | {len(d['mutants'])} |")
    lines += ["", f"Total: {_points(total)} points over {len(described)} homework sets.", ""]
    for i, d in enumerate(described, 1):
        lines += [f"## {i}. {d['folder']}", "", f"**{d['title']}** — students hand in `{d['submission']}` "
                  f"defining {', '.join(f'`{n}`' for n in d['names'])}.", ""]
        if d["tutorials"]:
            lines.append("Tutorials: " + ", ".join(f"`tutorials/{t}`" for t in d["tutorials"]) + ".")
        if d["seeds"]:
            lines.append("Source sections: " + "; ".join(d["seeds"]) + ".")
        lines += ["", f"Points: {_points(d['points'])} ({_points(d['public_points'])} public, "
                  f"{_points(d['hidden_points'])} hidden).", "",
                  "| test | points | visibility | what it checks (the hint students see on a failure) |",
                  "|---|---|---|---|"]
        for t in d["tests"]:
            cases = f" ×{t['cases']}" if t["cases"] > 1 else ""
            stat = " (statistical)" if "statistical" in t["tags"] else ""
            hint = t["hint"].replace("|", "\\|")
            lines.append(f"| {t['number']} {t['name'].replace('|', chr(92) + '|')}{cases}{stat} | "
                         f"{_points(t['points'])} | {'hidden' if t['hidden'] else 'public'} | {hint} |")
        hidden = [t["name"] for t in d["tests"] if t["hidden"]]
        if hidden:
            lines += ["", "The hidden tests cover: " + "; ".join(hidden) + "."]
        if d["mutants"]:
            lines += ["", "Mutants (each must lose exactly these points — `minidl-grade validate`):", ""]
            lines += [f"- `{m['file']}` — {m['description']}: loses {_points(m['loses'])}" for m in d["mutants"]]
        lines.append("")
    return "\n".join(lines)


def _merge_zips(parts, out_path):
    """One zip holding every ``(folder, zip)`` of ``parts`` under its folder name."""
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as out:
        for folder, path in parts:
            with zipfile.ZipFile(path) as part:
                for info in part.infolist():
                    data = part.read(info)
                    info.filename = f"{folder}/{info.filename}"
                    out.writestr(info, data)
    return out_path


def build_course(course_dir, out_dir, wheel=None, log=print):
    """Write the course's bundles and index into ``out_dir`` (see the module docstring);
    returns a dict of the paths written. The minidl wheel is built once (from this checkout)
    unless ``wheel`` names one."""
    from minidl.grading import bundle

    course = load_course(course_dir)
    os.makedirs(os.path.join(out_dir, "gradescope"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "handouts"), exist_ok=True)
    written = {"gradescope": [], "handouts": []}
    with tempfile.TemporaryDirectory(prefix="minidl-course-") as tmp:
        if wheel is None:
            started = time.monotonic()
            log("building the minidl wheel once for every autograder ...")
            finder = getattr(bundle, "find_or_build_wheel", None)     # the checkout's, or the installed minidl
            if finder is not None:
                wheel = finder(tmp)
            else:
                wheel = bundle.build_wheel(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                           tmp)
            log(f"  {os.path.basename(wheel)} ({time.monotonic() - started:.0f} s)")
        for entry in course["homework"]:
            autograder = os.path.join(out_dir, "gradescope", f"{entry['folder']}.zip")
            handout = os.path.join(out_dir, "handouts", f"{entry['folder']}.zip")
            bundle.build_autograder(entry["path"], autograder, wheel=wheel)
            bundle.build_handout(entry["path"], handout)
            written["gradescope"].append(autograder)
            written["handouts"].append(handout)
            log(f"  {entry['folder']}: {os.path.relpath(autograder, out_dir)}, {os.path.relpath(handout, out_dir)}")
    written["handouts_zip"] = _merge_zips([(e["folder"], p) for e, p in zip(course["homework"], written["handouts"])],
                                          os.path.join(out_dir, "handouts.zip"))
    written["index"] = os.path.join(out_dir, "index.md")
    with open(written["index"], "w", encoding="utf-8") as f:
        f.write(index_markdown(course))
    log(f"  handouts.zip, index.md → {out_dir}")
    return written


def validate_course(course_dir, seeds=200, jobs=2, quick=False, log=print):
    """Validate every homework of the course; returns ``(passed, rows)`` with one row per
    homework: ``(folder, passed, seconds, lines)``."""
    from minidl.grading.validate import validate

    course = load_course(course_dir)
    seeds = min(seeds, QUICK_SEEDS) if quick else seeds
    rows = []
    for entry in course["homework"]:
        started = time.monotonic()
        ok, lines = validate(entry["path"], seeds=seeds, jobs=jobs, log=lambda *a: None)
        seconds = time.monotonic() - started
        rows.append((entry["folder"], ok, seconds, lines))
        log(f"{'ok  ' if ok else 'FAIL'} {entry['folder']} ({seconds:.0f} s)")
        for line in lines:
            if not line.ok:
                log(f"       {line}")
    return all(row[1] for row in rows), rows


# -- command line (registered by minidl.grading.cli) -----------------------------------------
def cmd_build_course(args):
    build_course(args.course, args.out, wheel=args.wheel)
    print(f"wrote {args.out}: gradescope/*.zip (one autograder per homework), handouts/*.zip, handouts.zip, index.md")
    return 0


def cmd_validate_course(args):
    ok, rows = validate_course(args.course, seeds=args.seeds, jobs=args.jobs, quick=args.quick)
    seconds = sum(row[2] for row in rows)
    print(f"validate-course: {'PASSED' if ok else 'FAILED'} — {sum(r[1] for r in rows)}/{len(rows)} homework sets "
          f"in {seconds:.0f} s")
    return 0 if ok else 1


def add_commands(sub):
    """Register ``build-course`` and ``validate-course`` on the CLI's subparsers."""
    s = sub.add_parser("build-course", help="every homework of a course folder: Gradescope zips, handouts, index")
    s.add_argument("course", nargs="?", default=".", help="folder of homework folders (and course.toml)")
    s.add_argument("--out", default="course-build", help="output folder (default: course-build)")
    s.add_argument("--wheel", default=None, help="a prebuilt minidl wheel (default: build one from this checkout)")
    s.set_defaults(fn=cmd_build_course)
    s = sub.add_parser("validate-course", help="validate every homework of a course folder")
    s.add_argument("course", nargs="?", default=".")
    s.add_argument("--seeds", type=int, default=200)
    s.add_argument("--jobs", type=int, default=2)
    s.add_argument("--quick", action="store_true", help=f"statistical sweep over {QUICK_SEEDS} seeds (CI)")
    s.set_defaults(fn=cmd_validate_course)

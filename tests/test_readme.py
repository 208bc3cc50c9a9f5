"""The README's Python examples run as written (a README that lies is worse than none)."""
import os
import re

import minidl

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def python_blocks():
    with open(README, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_readme_training_step_trains_and_uses_the_scheduler():
    blocks = [b for b in python_blocks() if "optimizer.step()" in b]
    assert blocks, "README lost its training-step example"
    ns = {}
    exec(compile(blocks[0], "README.md", "exec"), ns)
    assert ns["loss"] < 0.5                          # it learned the digits
    assert ns["optimizer"].get_lr() == ns["scheduler"]() == 0.0   # cosine reached eta_min at T_max


def test_readme_backend_snippet_names_real_functions():
    block = next(b for b in python_blocks() if "minidl.backend" in b)
    for name in re.findall(r"minidl\.backend\.(\w+)\(", block):
        assert callable(getattr(minidl.backend, name))
    assert re.findall(r"minidl\.backend\.(\w+)\(", block), "the backend snippet lost its calls"


# -- the files, environment variables and headers the READMEs name exist ---------------------------
ROOT = os.path.dirname(README)
NATIVE = os.path.join(ROOT, "minidl", "_kernels", "native")
READMES = [README, os.path.join(NATIVE, "README.md")]
SOURCE_DIRS = ["minidl", "benchmarks", "tests", "tutorials", "tools", "docs", ".github", ".ci"]
NOT_SHIPPED = (".github/", ".ci/")     # tools/check_sdist.py: the sdist leaves them out
GENERATED = ("docs/_build/", "out/", "tutorials/out/")       # written by a run or a build


def backticked(path):
    with open(path, encoding="utf-8") as f:
        return set(re.findall(r"`([^`\s]+)`", f.read()))


def repository_files():
    found = set()
    for top in SOURCE_DIRS:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in ("_build", "__pycache__")]
            found.update(files)
    return found | set(os.listdir(ROOT))


def test_files_the_readmes_name_exist():
    files = repository_files()
    missing = []
    for readme in READMES:
        for token in backticked(readme):
            if "<" in token or "NN_" in token or token.startswith(("/", "-")) or token.startswith(GENERATED):
                continue                    # a pattern, an absolute system path, an option, an output
            if token.startswith(NOT_SHIPPED) and not os.path.isdir(os.path.join(ROOT, ".git")):
                continue                    # CI plumbing: in the repository, not in the sdist
            if "/" in token and re.fullmatch(r"[\w.\-/]+", token):
                if not os.path.exists(os.path.join(ROOT, token)):
                    missing.append(f"{os.path.relpath(readme, ROOT)}: {token}")
            elif re.fullmatch(r"[\w.\-]+\.(py|pyx|pxi|h|c|md|toml|sh|yml)", token) and token not in files:
                missing.append(f"{os.path.relpath(readme, ROOT)}: {token}")
    assert not missing, "the READMEs name files that do not exist: " + ", ".join(sorted(missing))


def test_environment_variables_the_readmes_name_are_read_by_the_code():
    code = []
    for top in ("minidl", "tutorials", "setup.py"):
        for folder, _dirs, files in os.walk(os.path.join(ROOT, top)) if top != "setup.py" else [(ROOT, [], [top])]:
            for name in files:
                if name.endswith((".py", ".pyx", ".pxi", ".h")):
                    with open(os.path.join(folder, name), encoding="utf-8") as f:
                        code.append(f.read())
    code = "\n".join(code)
    named = set()
    for readme in READMES:
        with open(readme, encoding="utf-8") as f:
            named |= set(re.findall(r"\bMINIDL_[A-Z_]+\b", f.read()))
    assert named, "the README lost its environment variables"
    assert sorted(v for v in named if f'"{v}"' not in code) == []


def test_native_readme_describes_every_header():
    with open(READMES[1], encoding="utf-8") as f:
        table = [line for line in f if line.startswith("|")]     # a row may describe a family of headers
    rows = {name for line in table for name in re.findall(r"`([\w.]+\.h)`", line)}
    headers = {name for name in os.listdir(NATIVE) if name.endswith(".h")}
    assert rows == headers, (f"minidl/_kernels/native/README.md: headers its table does not describe (its rule: a "
                             f"new header gets a row saying what it is for): {sorted(headers - rows)}; headers it "
                             f"names that do not exist: {sorted(rows - headers)}")

"""``minidl-grade init NAME``: a homework folder that validates out of the box.

    NAME/grading.toml           assignment settings
    NAME/solution/NAME.py       the instructor's solution (never shipped to students)
    NAME/handout/NAME.py        the stub students fill in
    NAME/tests/test_public.py   visible tests (shipped in the handout)
    NAME/tests_hidden/test_hidden.py
    NAME/mutants/no_square.py   a wrong solution and the points it must lose
"""
import os

FILES = {
    "grading.toml": '''[assignment]
name = "{name}"
submission = "{name}.py"       # the file students hand in
names = ["square"]             # functions it must define
mode = "defs"                  # run only imports, defs, classes and constants
worker = "test"                # a fresh process per test ("module": one per test file)
seed = 0
budget = 540                   # seconds; Gradescope's default limit is 600
''',
    "solution/{name}.py": '''import numpy as np


def square(x):
    """Element-wise square of x (same shape and dtype)."""
    return x * x
''',
    "handout/{name}.py": '''import numpy as np


def square(x):
    """Element-wise square of x (same shape and dtype)."""
    raise NotImplementedError
''',
    "tests/test_public.py": '''import numpy as np

from minidl.grading import G


@G.test(2, number="1", hint="x * x keeps the dtype")
def test_square_values(student, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    x0 = x.copy()
    out = student.square(x)
    G.require_shape(out, x0.shape)
    # required first: "x not modified" must not give points to a function that does nothing
    G.require_close(out, x0 * x0, name="values", weight=1)
    G.check_unchanged(x0, x, name="x not modified")
''',
    "tests_hidden/test_hidden.py": '''import numpy as np

from minidl.grading import G


@G.test(1, number="2", visibility="after_due_date", hint="negative and large inputs")
def test_square_edge_cases(student):
    x = np.array([-3.0, 0.0, 1e150])     # 1e300: tolerances must not overflow
    G.check_close(student.square(x), x * x)
''',
    "mutants/no_square.py": '''# mutant: returns x instead of x squared
# loses: 3
def square(x):
    return x.copy()
''',
}


def init(name, parent="."):
    if not name.isidentifier():
        raise ValueError(f"the homework name must be a Python identifier (it names the submission file), got {name!r}")
    root = os.path.join(parent, name)
    if os.path.exists(root):
        raise FileExistsError(f"{root} already exists")
    for rel, text in FILES.items():
        path = os.path.join(root, rel.format(name=name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.format(name=name) if rel == "grading.toml" else text)
    return root

"""Turn a student's submission into the source the worker executes.

A submission is a ``.py`` file (jupytext percent scripts are plain Python), an ``.ipynb``
notebook (code cells only; IPython magics and shell escapes are commented out) or a folder
holding one of them.

Modes:
* ``defs`` (default): keep imports, ``def``, ``class`` and top-level assignments of
  constants (literals and arithmetic on literals). A three-minute training cell does not run,
  and a function that leans on a notebook global fails loudly instead of passing by accident.
* ``full``: execute everything, as ``python submission.py`` would (minus ``__main__`` blocks).
"""
import ast
import json
import os

MODES = ("defs", "full")


class SubmissionError(Exception):
    """The submission could not be found or read (not a student exception)."""


def find_submission_file(path, preferred=None):
    """The file to load: ``path`` itself, or inside a folder ``preferred`` or the single
    ``.py``/``.ipynb`` there."""
    if os.path.isfile(path):
        return os.path.abspath(path)
    if not os.path.isdir(path):
        raise SubmissionError(f"submission {path!r} does not exist")
    if preferred:
        for cand in (preferred, os.path.splitext(preferred)[0] + ".ipynb", os.path.splitext(preferred)[0] + ".py"):
            full = os.path.join(path, cand)
            if os.path.isfile(full):
                return os.path.abspath(full)
    files = sorted(f for f in os.listdir(path)
                   if f.endswith((".py", ".ipynb")) and not f.startswith(("test_", "conftest", ".")))
    if len(files) == 1:
        return os.path.abspath(os.path.join(path, files[0]))
    raise SubmissionError(
        f"cannot tell which file in {path!r} is the submission (found {files or 'no .py/.ipynb'}); "
        f"expected {preferred or 'exactly one .py or .ipynb file'}"
    )


def notebook_to_source(text: str) -> str:
    """Code cells of an .ipynb joined into a script; magics (``%``, ``%%``, ``!``) commented out."""
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"the notebook is not valid JSON: {exc}") from exc
    chunks = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        lines = []
        for line in src.splitlines():
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")):
                lines.append("# (magic removed) " + line)
            else:
                lines.append(line)
        chunks.append(f"# In[{i}]\n" + "\n".join(lines))
    return "\n\n".join(chunks) + "\n"


def read_source(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if path.endswith(".ipynb"):
        return notebook_to_source(text)
    return text


_CONST_NODES = (ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp, ast.BinOp,
                ast.Load, ast.operator, ast.unaryop, ast.expr_context)


def _is_constant_expression(node) -> bool:
    return all(isinstance(n, _CONST_NODES) for n in ast.walk(node))


def _is_main_guard(node) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def select_source(source: str, mode: str, filename: str = "<submission>"):
    """``(code_object, kept_names)`` for ``mode``. Raises SyntaxError for invalid source."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    tree = ast.parse(source, filename=filename)
    body = []
    for node in tree.body:
        if _is_main_guard(node):
            continue
        if mode == "full":
            body.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None \
                and _is_constant_expression(node.value):
            body.append(node)
    tree.body = body
    kept = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept.append(node.name)
        elif isinstance(node, ast.Assign):
            kept += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            kept.append(node.target.id)
    return compile(tree, filename, "exec"), kept

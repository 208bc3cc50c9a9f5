"""Local Sphinx extension for minidl's documentation site.

* :func:`write_gallery_sources` turns ``tutorials/NN_*.py`` (jupytext "percent" files whose
  prose cells are Markdown) into sphinx-gallery sources whose prose is reST (pandoc converts
  it), with a note naming the section of the source documents the tutorial walks.
* :func:`write_api_pages` writes one reference page per public module (autodoc).
* :func:`write_homework_pages` includes every ``tutorials/homework/*/README.md``.
* A public docstring that is not valid reST (after napoleon), or whose indented formula
  would render as a block quote, is a build warning, so the warnings-as-errors build fails
  and names it with docutils' complaint; the page still shows it verbatim (when building
  without ``-W``), and the list is written to ``verbatim_docstrings.txt`` in the output folder.

Everything generated lands in git-ignored folders under ``docs/`` and is rewritten only when
its content changes (sphinx-gallery then re-runs only the tutorials that changed).
"""
import importlib
import inspect
import io
import os
import posixpath
import re
import shutil

from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")

# The public surface (SPEC.md): one API page each.
PUBLIC_MODULES = [
    "minidl", "minidl.nn", "minidl.nn.init", "minidl.nn.functional", "minidl.nn.utils",
    "minidl.optim", "minidl.optim.lr", "minidl.metrics", "minidl.data", "minidl.gradcheck",
    "minidl.train", "minidl.diagnostics", "minidl.lesson", "minidl.backend", "minidl.random",
    "minidl.io", "minidl.grading",
]


def _write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return True


# -- tutorials -> sphinx-gallery sources -------------------------------------------------------
_BREAK = "MINIDLCELLBREAK"


def markdown_to_rst(cells):
    """Convert a list of Markdown strings to reST with one pandoc call."""
    import pypandoc

    joined = "\n\n".join(f"{cell}\n\n{_BREAK}{i}" for i, cell in enumerate(cells))
    rst = pypandoc.convert_text(joined, "rst", format="gfm-gfm_auto_identifiers", extra_args=["--wrap=preserve"])
    parts = re.split(rf"^{_BREAK}\d+\s*$", rst, flags=re.M)
    assert len(parts) == len(cells) + 1, "pandoc lost a cell separator"
    return [p.strip("\n") for p in parts[:-1]]


def _commented(text):
    return "\n".join(("# " + line) if line else "#" for line in text.splitlines())


def gallery_source(path, quick=True):
    """The sphinx-gallery version of one tutorial file (returns the text)."""
    import jupytext

    with open(path, encoding="utf-8") as f:
        text = f.read()
    notebook = jupytext.reads(text, fmt="py:percent")
    cells = [c for c in notebook.cells if c.source.strip()]
    if not cells or cells[0].cell_type != "markdown":
        raise ValueError(f"{path}: the first cell must be Markdown with the tutorial's title")
    prose = markdown_to_rst([c.source for c in cells if c.cell_type == "markdown"])
    name = os.path.basename(path)
    source = re.search(r"\bsource\s*=\s*\"([^\"]+)\"", text)
    note = [
        ".. note::",
        "",
        f"   **Source section walked:** {source.group(1)}" if source else "   **Source:** see above",
        "",
        ("   This page ran the tutorial in quick mode (``--quick``). Run the full experiment with"
         if quick else "   This page ran the full experiment. Run it yourself with"),
        f"   ``python tutorials/{name}``, or open ``tutorials/{name}`` in Jupyter as a notebook.",
    ]
    first = prose[0].split("\n")
    if len(first) < 2 or not re.fullmatch(r"=+", first[1]):
        raise ValueError(f"{path}: the first cell must begin with a '# Title' heading")
    header = "\n".join(first[:2] + [""] + note + [""] + first[2:])
    if '"""' in header:
        raise ValueError(f'{path}: the first cell contains """')
    out = ['r"""', header.rstrip(), '"""', ""]
    texts = iter(prose[1:])
    for cell in cells[1:]:
        if cell.cell_type == "markdown":
            out += ["# %%", _commented(next(texts)), ""]
        else:
            # The blank line after the marker keeps a leading comment inside the code block.
            out += ["# %%", "", cell.source.rstrip(), ""]
    return "\n".join(out) + "\n"


GALLERY_HEADER = """\
Tutorials
=========

One tutorial per section of the source documents: each states the section's claim,
derives it, runs the experiment with minidl, prints the measured numbers, plots them and
*checks* the claim on the run. The files live in ``tutorials/`` as jupytext "percent"
scripts: run one with ``python tutorials/07_kaiming_relu.py`` (``--quick`` for a few
seconds), or open it in Jupyter as a notebook (``pip install -e ".[notebooks]"``; figures
appear inline, ``MINIDL_TUTORIAL_QUICK=1`` selects quick mode). Each page below was executed
while this site was built (in quick mode unless ``MINIDL_DOCS_FULL=1``), and offers the
tutorial's ``.py`` file and its notebook for download at the end.
"""


def write_gallery_sources(dst, quick=True):
    """Write ``dst/NN_*.py`` and ``dst/GALLERY_HEADER.rst``; remove stale files."""
    tutorials = sorted(p for p in os.listdir(os.path.join(ROOT, "tutorials"))
                       if re.fullmatch(r"\d\d_\w+\.py", p))
    _write_if_changed(os.path.join(dst, "GALLERY_HEADER.rst"), GALLERY_HEADER)
    for name in tutorials:
        _write_if_changed(os.path.join(dst, name), gallery_source(os.path.join(ROOT, "tutorials", name), quick))
    for stale in set(os.listdir(dst)) - set(tutorials) - {"GALLERY_HEADER.rst"}:
        os.remove(os.path.join(dst, stale))
    return tutorials


class TutorialArgv:
    """sphinx-gallery's ``reset_argv``: the command line each tutorial sees while the site
    builds (a class rather than a function so that Sphinx can pickle the configuration)."""

    def __init__(self, out_dir, quick=True):
        self.out_dir, self.quick = out_dir, quick

    def __call__(self, gallery_conf, script_vars):
        return (["--quick"] if self.quick else []) + ["--out", self.out_dir]

    def __repr__(self):
        return f"TutorialArgv({self.out_dir!r}, quick={self.quick})"


def _originals_as_downloads(app, exception):
    """The pages' "Download Python source code" and "Download Jupyter notebook" links give the
    tutorial as it is in ``tutorials/`` (Markdown prose, no outputs), not the reST version
    sphinx-gallery executed."""
    if exception is not None or app.builder.format != "html":
        return
    import zipfile

    import jupytext

    downloads = os.path.join(app.outdir, "_downloads")
    for folder, _dirs, files in os.walk(downloads):
        for name in files:
            stem, ext = os.path.splitext(name)
            original = os.path.join(ROOT, "tutorials", stem + ".py")
            if not re.fullmatch(r"\d\d_\w+", stem) or not os.path.isfile(original):
                continue
            path = os.path.join(folder, name)
            if ext == ".py":
                shutil.copyfile(original, path)
            elif ext == ".ipynb":
                jupytext.write(jupytext.read(original), path, fmt="ipynb")
            elif ext == ".zip":
                with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                    z.write(original, stem + ".py")
                    z.writestr(stem + ".ipynb", jupytext.writes(jupytext.read(original), fmt="ipynb"))


# -- API pages ---------------------------------------------------------------------------------
# The Sphinx settings of the API reference (docs/conf.py takes them from here, and so does
# check_api_docstrings). Docstrings come in Google style ("Args:", "Returns:",
# "Attributes:") or NumPy style, plus PyTorch's "Shape:" section; napoleon reads both.
API_SETTINGS = {
    "napoleon_google_docstring": True,
    "napoleon_numpy_docstring": True,
    "napoleon_custom_sections": [("Shape", "notes_style"), ("Math", "notes_style"), ("Derivation", "notes_style")],
    "napoleon_use_rtype": False,
    "napoleon_use_ivar": True,        # "Attributes:" as a field list: no second object description
    "autodoc_default_options": {"member-order": "bysource"},
    "autodoc_typehints": "description",
    "autodoc_inherit_docstrings": False,
    "autosummary_generate": False,
    "add_module_names": False,
    # Cross-references from docstring types ("Parameter", "ndarray") may name objects that
    # have several targets or none; they stay plain text instead of failing the build.
    "suppress_warnings": ["ref.python"],
}


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if not n.startswith("_")]


def _homes():
    """``{id(object): module}``: each public class and function is documented once, on the page of
    the most specific public module that exports it (``minidl.random.manual_seed``, not
    ``minidl.manual_seed``); other modules' pages link there."""
    homes = {}
    for modname in sorted(PUBLIC_MODULES, key=lambda m: m.count(".")):
        module = importlib.import_module(modname)
        for name in _public_names(module):
            obj = getattr(module, name)
            if inspect.isclass(obj) or (callable(obj) and not inspect.ismodule(obj)):
                homes[id(obj)] = modname
    return homes


def api_page(modname, homes):
    module = importlib.import_module(modname)
    classes, functions, submodules, elsewhere = [], [], [], []
    for name in _public_names(module):
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            submodules.append(name)
        elif inspect.isclass(obj) or callable(obj):
            if homes.get(id(obj), modname) != modname:
                role = "class" if inspect.isclass(obj) else "func"
                elsewhere.append(f":py:{role}:`{name} <{homes[id(obj)]}.{name}>`")
            else:
                (classes if inspect.isclass(obj) else functions).append(name)
    lines = [modname, "=" * len(modname), "", f".. automodule:: {modname}", "   :no-members:", ""]
    documented = [f"{modname}.{n}" for n in submodules if f"{modname}.{n}" in PUBLIC_MODULES]
    if documented:
        lines += ["Submodules: " + ", ".join(f":doc:`{m}`" for m in documented) + ".", ""]
    if elsewhere:
        lines += ["Also importable from here: " + ", ".join(elsewhere) + ".", ""]
    for title, names in (("Classes", classes), ("Functions", functions)):
        if names:
            lines += [title, "-" * len(title), "", ".. autosummary::", "   :nosignatures:", ""]
            lines += [f"   {n}" for n in names] + [""]
    if classes or functions:
        lines += ["Reference", "---------", ""]
    for name in classes:
        lines += [f".. autoclass:: {modname}.{name}", "   :members:", "   :show-inheritance:", ""]
    for name in functions:
        lines += [f".. autofunction:: {modname}.{name}", ""]
    return "\n".join(lines)


def write_api_pages(dst):
    homes = _homes()
    for modname in PUBLIC_MODULES:
        _write_if_changed(os.path.join(dst, modname + ".rst"), api_page(modname, homes))
    index = ["API reference", "=============", "",
             "One page per public module (the contract is ``SPEC.md``). The layers' derivations are in",
             "each class's docstring and in the source, linked from every entry as ``[source]``.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {m}" for m in PUBLIC_MODULES]
    _write_if_changed(os.path.join(dst, "index.rst"), "\n".join(index) + "\n")


# -- homework pages ----------------------------------------------------------------------------
def write_homework_pages(dst):
    """A page per homework set (``tutorials/homework/<set>/README.md``) and per guide written
    beside them (``tutorials/homework/*.md``, e.g. an instructor's guide)."""
    homework = os.path.join(ROOT, "tutorials", "homework")
    os.makedirs(dst, exist_ok=True)
    pages = {}
    for entry in sorted(os.listdir(homework)):
        if os.path.isfile(os.path.join(homework, entry, "README.md")):
            pages[entry] = os.path.join(homework, entry, "README.md")
        elif entry.endswith(".md") and entry.lower() != "readme.md":
            pages[os.path.splitext(entry)[0].lower()] = os.path.join(homework, entry)
    if os.path.isfile(os.path.join(homework, "README.md")):
        intro = f"```{{include}} {os.path.relpath(os.path.join(homework, 'README.md'), dst)}\n```\n"
    else:
        intro = ("# Homework\n\nAutograded homework sets built with `minidl.grading` (API: "
                 "{doc}`../api/minidl.grading`). Each guide walks an instructor through its tests, "
                 "mutants and the Gradescope build.\n")
    for name, path in pages.items():
        _write_if_changed(os.path.join(dst, name + ".md"), f"```{{include}} {os.path.relpath(path, dst)}\n```\n")
    for stale in set(os.listdir(dst)) - {n + ".md" for n in pages} - {"index.md"}:
        os.remove(os.path.join(dst, stale))
    index = [intro, "```{toctree}", ":maxdepth: 1", ""] + list(pages) + ["```", ""]
    _write_if_changed(os.path.join(dst, "index.md"), "\n".join(index))


# -- docstrings that do not render as written --------------------------------------------------
_verbatim = []


def _problems(app, text):
    """docutils warnings and errors (level >= 2) that ``text`` produces as reST, with Sphinx's
    roles and directives available; and every indented block that renders as a block quote
    (in a docstring that is a formula or code whose paragraph lacks its ``::``: proportional
    type, the columns lost)."""
    from docutils import nodes
    from docutils.core import publish_doctree

    stream = io.StringIO()
    tree = publish_doctree(text, settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": stream, "env": app.env,
        "file_insertion_enabled": False, "raw_enabled": False})
    problems = [line for line in stream.getvalue().splitlines() if re.search(r"\((WARNING|ERROR|SEVERE)/\d\)", line)]
    for quote in tree.findall(nodes.block_quote):
        if all(isinstance(child, nodes.doctest_block) for child in quote.children):
            continue                    # an indented >>> example still shows as code
        first = quote.astext().strip().splitlines()[0] if quote.astext().strip() else ""
        problems.append(f"indented block {first[:40]!r} renders as a block quote: end the line before it "
                        "with '::' to show it as written")
    return problems


def _original(app, what, name, obj, options, lines):
    app.env.temp_data.setdefault("minidl_original_doc", {})[name] = list(lines)


def _verbatim_if_broken(app, what, name, obj, options, lines):
    if not lines:
        return
    try:
        problems = _problems(app, "\n".join(lines))
    except Exception as exc:                      # a role that needs a full document, say
        problems = [f"{type(exc).__name__}: {exc}"]
    if not problems:
        return
    original = app.env.temp_data.get("minidl_original_doc", {}).get(name, list(lines))
    entry = f"{name}: {problems[0].splitlines()[0]}"
    if entry not in _verbatim:                    # autosummary and autodoc both process it
        _verbatim.append(entry)
        logger.warning("docstring of %s does not render as written (after napoleon), shown verbatim: %s",
                       name, "; ".join(p.splitlines()[0] for p in problems),
                       type="minidl", subtype="docstring")
    head = []
    if original and original[0].strip() and not _problems(app, original[0]):
        head, original = [original[0], ""], original[1:]      # the summary line stays text
    while original and not original[0].strip():
        original = original[1:]
    lines[:] = head + ["::", ""] + [("    " + line) if line.strip() else "" for line in original] + [""]


def _reset_verbatim_list(app):
    _verbatim.clear()           # a second build in the same process starts afresh


def _write_verbatim_list(app, exception):
    if exception is None and app.builder.format == "html":
        with open(os.path.join(app.outdir, "verbatim_docstrings.txt"), "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in sorted(set(_verbatim))))
        if _verbatim:
            print(f"minidl_docs: {len(set(_verbatim))} docstring(s) do not render as written (shown verbatim); "
                  f"see {os.path.join(app.outdir, 'verbatim_docstrings.txt')}")


def check_api_docstrings(workdir, modules=None):
    """Read the API pages of ``modules`` (default: every public module) with autodoc, napoleon
    and this extension, without executing the tutorials or writing HTML (Sphinx's "dummy"
    builder, a few seconds). Returns ``(broken, warnings)``: the docstrings that do not render
    as written, as ``verbatim_docstrings.txt`` would list them (empty when all render), and
    the text of every warning the build gave (what ``sphinx -W`` turns into errors)."""
    from sphinx.application import Sphinx

    src = os.path.join(workdir, "src")
    api = os.path.join(src, "api")
    os.makedirs(api, exist_ok=True)
    modules = list(modules or PUBLIC_MODULES)
    homes = _homes() if modules == PUBLIC_MODULES else {}
    for modname in modules:
        _write_if_changed(os.path.join(api, modname + ".rst"), api_page(modname, homes))
    toctree = "\n".join(f"   api/{m}" for m in modules)
    _write_if_changed(os.path.join(src, "index.rst"), f"API\n===\n\n.. toctree::\n\n{toctree}\n")
    _write_if_changed(os.path.join(src, "conf.py"), "")
    overrides = dict(API_SETTINGS, extensions=["sphinx.ext.autodoc", "sphinx.ext.autosummary",
                                               "sphinx.ext.napoleon", "minidl_docs"])
    warnings = io.StringIO()
    app = Sphinx(src, src, os.path.join(workdir, "out"), os.path.join(workdir, "doctrees"), "dummy",
                 confoverrides=overrides, status=None, warning=warnings, freshenv=True)
    app.build()
    return sorted(set(_verbatim)), warnings.getvalue()


# -- viewcode's "[docs]" links back from the source pages ------------------------------------
def _fix_viewcode_backlinks(app, pagename, templatename, context, doctree):
    """viewcode builds each back-link's anchor from the first public module that documented an
    object of that source file (``minidl.nn``), so a function of the same file documented in
    ``minidl.nn.functional`` gets ``#minidl.nn.relu``, an anchor that does not exist. Point each
    such link to the one object on its target page whose name ends the same way."""
    if not pagename.startswith("_modules/") or "body" not in context:
        return
    ids = {}
    for entry in app.env.get_domain("py").objects.values():
        ids.setdefault(entry.docname, set()).add(entry.node_id)

    def fix(match):
        href, anchor = match.group(1), match.group(2)
        docname = posixpath.normpath(posixpath.join(posixpath.dirname(pagename), href))[:-len(".html")]
        known = ids.get(docname, set())
        if anchor in known:
            return match.group(0)
        parts = anchor.split(".")
        for k in range(1, len(parts)):
            tail = "." + ".".join(parts[k:])
            found = [i for i in known if i.endswith(tail)]
            if len(found) == 1:
                return f'<a class="viewcode-back" href="{href}#{found[0]}"'
        return match.group(0)

    context["body"] = re.sub(r'<a class="viewcode-back" href="([^"#]+\.html)#([^"]+)"', fix, context["body"])


def _reread_api_pages(app, env, added, changed, removed):
    """Docstrings live in minidl/, which Sphinx does not watch: read the API pages every build
    (a second or two), so that they and verbatim_docstrings.txt are never stale."""
    return [doc for doc in env.found_docs if doc.startswith("api/")]


def setup(app):
    app.connect("env-get-outdated", _reread_api_pages)
    app.connect("html-page-context", _fix_viewcode_backlinks)
    # Before napoleon (priority 500) keep the original; after it, test the converted text.
    app.connect("autodoc-process-docstring", _original, priority=100)
    app.connect("autodoc-process-docstring", _verbatim_if_broken, priority=900)
    app.connect("builder-inited", _reset_verbatim_list)
    app.connect("build-finished", _write_verbatim_list)
    app.connect("build-finished", _originals_as_downloads)
    return {"parallel_read_safe": False, "parallel_write_safe": True}

"""Where minidl's teaching code runs, and a progress bar that suits the place.

Three places behave differently for plots and progress bars:

* ``"notebook"`` — a Jupyter kernel (JupyterLab, VS Code, ``nbclient``): figures are shown
  inline, bars are widgets (``tqdm.auto``) when ipywidgets is installed, else text bars that
  redraw at most once a second (never the "IProgress not found" warning).
* ``"gallery"`` — sphinx-gallery executing a tutorial while the documentation builds: figures
  stay open for its scraper, no bars (they would only go to the build log).
* ``"script"`` — ``python tutorials/07_kaiming_relu.py``: PNG files, text bars on stderr.

Used by :mod:`minidl.lesson` and :func:`minidl.train.fit`.
"""
import importlib.util
import sys

__all__ = ["environment", "progress_bar"]


def environment():
    """``"notebook"``, ``"gallery"`` or ``"script"`` (see the module docstring)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        return "notebook"
    if "sphinx_gallery.gen_rst" in sys.modules:
        return "gallery"
    return "script"


def _has_ipywidgets():
    return importlib.util.find_spec("ipywidgets") is not None


def progress_bar(total=None, desc=None, leave=False):
    """A tqdm bar for ``total`` steps, or ``None`` when tqdm is missing or in a gallery build.

    Update it with ``bar.update(1)``; ``bar.set_postfix(..., refresh=False)`` so that a
    postfix never forces a redraw of its own.
    """
    where = environment()
    if where == "gallery":
        return None
    try:
        import tqdm.std
    except ImportError:
        return None
    if where == "notebook" and _has_ipywidgets():
        from tqdm.auto import tqdm                      # the widget bar

        return tqdm(total=total, desc=desc, leave=leave)
    # A terminal redraws in place; a notebook without widgets or a log file keeps every
    # redraw, so those get one per second at most.
    interactive = where == "script" and sys.stderr.isatty()
    return tqdm.std.tqdm(total=total, desc=desc, leave=leave, file=sys.stderr,
                         mininterval=0.1 if interactive else 1.0)

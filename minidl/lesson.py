"""Support for the tutorial scripts in ``tutorials/``: the command line (``--quick``),
printed tables, optional matplotlib plots, progress for long steps, and the "check" cells
that prove a claim::

    from minidl.lesson import Lesson
    lesson = Lesson("07_kaiming_relu", source="000 §3.2.2 / 004")
    n_steps = lesson.pick(full=2000, quick=200)
    ...
    lesson.table(["init", "std at layer 100"], rows)
    with lesson.figure("activation_std.png") as plt:     # plt is None without matplotlib
        if plt: plt.plot(...)
    for width in lesson.progress([64, 128, 256], desc="widths"):   # for steps over ~5 s
        ...
    lesson.check(ratio < 2, "Kaiming keeps the std within 2x over 100 layers")
    lesson.done()          # exits 1 and lists the failed checks if any failed

The same file runs three ways, and these helpers adapt to each
(:func:`minidl._progress.environment`):

* as a script, ``python tutorials/07_kaiming_relu.py [--quick] [--out DIR]``: PNGs go to
  ``out/`` next to the script, progress bars are text on stderr;
* as a notebook (open the ``# %%`` file in Jupyter or VS Code, or ``jupytext --to notebook``):
  every figure is shown inline *and* written to ``out/`` in the current working directory
  (the notebook's folder); ``MINIDL_TUTORIAL_QUICK=1`` selects quick mode; progress bars
  are widgets when ipywidgets is installed;
* in the documentation build (sphinx-gallery): figures stay open for the gallery's scraper.

Plots are never written into the installed package.

A tutorial uses only minidl's public API; this module is part of it so that course
material written by instructors can use the same scaffolding.
"""
import argparse
import contextlib
import os
import sys
import sysconfig
import time

from minidl._progress import environment, progress_bar

__all__ = ["Lesson", "CheckFailed"]


class CheckFailed(AssertionError):
    """Raised by :meth:`Lesson.done` in a notebook when a claim did not hold on the run (a
    script exits with status 1 instead)."""


def _inside_installation(path):
    """True if ``path`` lies in site-packages or in the minidl package folder."""
    path = os.path.realpath(path)
    roots = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
             os.path.dirname(os.path.abspath(__file__))]
    return any(path == r or path.startswith(r + os.sep) for r in map(os.path.realpath, roots))


def _default_out_dir():
    """``out/`` next to the running script; in a notebook, under ``python -c`` or for a script
    inside the installation, ``out/`` in the current working directory."""
    if environment() == "script":
        script = getattr(sys.modules.get("__main__"), "__file__", None)
        if script:
            candidate = os.path.join(os.path.dirname(os.path.abspath(script)), "out")
            if not _inside_installation(candidate):
                return candidate
    return os.path.join(os.getcwd(), "out")


class _Printed(str):
    """A string that has been printed already: as a notebook cell's last expression it is not
    echoed a second time."""

    def _ipython_display_(self):
        pass


class Lesson:
    """Command line, output folder, tables, plots, progress and checks for one tutorial run.

    Args:
        name: the tutorial's name, e.g. ``"07_kaiming_relu"``.
        source: the section of the source documents it walks (printed in the header).
        argv: command-line arguments; default ``sys.argv[1:]`` in a script, none in a notebook.
        description: text for ``--help``.
        blas_threads: run NumPy's BLAS on this many threads until :meth:`done` (see
            :meth:`limit_blas_threads`). Default: None, NumPy's own setting.

    Attributes:
        quick (bool): ``--quick`` was given or ``MINIDL_TUTORIAL_QUICK=1``.
        out_dir (str): where :meth:`figure` writes PNG files.
        passed, failures (list of str): the claims checked so far.
    """

    def __init__(self, name, source=None, argv=None, description=None, blas_threads=None):
        parser = argparse.ArgumentParser(prog=name, description=description or name)
        parser.add_argument("--quick", action="store_true",
                            help="smaller data and fewer steps (a few seconds); still checks the claim")
        parser.add_argument("--no-plots", action="store_true", help="do not write PNG files")
        parser.add_argument("--out", default=None,
                            help="folder for plots (default: out/ next to the script, or in the working directory)")
        self.environment = environment()
        if argv is None:
            # A Jupyter kernel's own arguments (-f kernel.json) are not the tutorial's.
            argv = [] if self.environment == "notebook" else sys.argv[1:]
        args, _unknown = parser.parse_known_args(argv)
        self.name = name
        self.source = source
        self.quick = bool(args.quick) or os.environ.get("MINIDL_TUTORIAL_QUICK") == "1"
        self.plots = not args.no_plots
        self.out_dir = args.out or _default_out_dir()
        self.failures = []
        self.passed = []
        self._blas_limits = []
        mode = "quick" if self.quick else "full"
        print(f"# {name} ({mode} mode)" + (f" — source: {source}" if source else ""))
        if blas_threads is not None:
            self.limit_blas_threads(blas_threads)

    def pick(self, full, quick):
        """``quick`` in --quick mode, else ``full``."""
        return quick if self.quick else full

    # -- BLAS threads ---------------------------------------------------------------------
    def limit_blas_threads(self, n=1):
        """Run NumPy's BLAS (OpenBLAS, MKL, ...) on ``n`` threads until :meth:`done` restores
        the previous setting; returns the count now in force (None if no BLAS was found).

        Why a tutorial wants one thread: its matrices are small, so a second thread gains
        little, and after each product OpenBLAS's idle workers keep spinning, taking the core
        the program needs next: on a busy 2-core machine a run takes many times longer
        (tutorial 03 measures it on the run). threadpoolctl (a dependency of minidl) sets it.
        """
        from threadpoolctl import threadpool_limits

        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"Lesson.limit_blas_threads: expected a thread count >= 1 (an int), got {n!r}")
        self._blas_limits.append(threadpool_limits(limits=n, user_api="blas"))
        return self.blas_threads()

    @staticmethod
    def blas_threads():
        """The number of threads NumPy's BLAS uses now (None if no BLAS was found)."""
        from threadpoolctl import threadpool_info

        return max((lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"), default=None)

    def _restore_blas_threads(self):
        while self._blas_limits:
            self._blas_limits.pop().restore_original_limits()

    # -- output -------------------------------------------------------------------------
    @staticmethod
    def _fmt(v):
        if isinstance(v, float):
            if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
                return f"{v:.3e}"
            return f"{v:.4f}"
        return str(v)

    def table(self, header, rows, title=None):
        """Print a Markdown table (``rows``: sequences of values) and return it as a string."""
        cells = [[self._fmt(v) for v in row] for row in rows]
        widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
                  for i, h in enumerate(header)]
        lines = []
        if title:
            lines.append(f"\n{title}")
        lines.append("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in cells:
            lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |")
        text = _Printed("\n".join(lines))
        print(text)
        return text

    def _pyplot(self):
        """``matplotlib.pyplot``, or None (plots off, or matplotlib missing: said once)."""
        if not self.plots:
            return None
        try:
            import matplotlib
        except ImportError:
            if not getattr(self, "_warned_mpl", False):
                print("(matplotlib is not installed: skipping plots; pip install 'minidl[tutorials]')")
                self._warned_mpl = True
            return None
        # A script without a display draws off-screen. A notebook keeps its inline backend and
        # sphinx-gallery sets its own, so neither is touched.
        if self.environment == "script" and not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt

    @contextlib.contextmanager
    def figure(self, filename, **figure_kw):
        """Yield ``matplotlib.pyplot`` with a fresh current figure, or ``None`` if matplotlib is
        missing or plots are off. On exit the current figure is saved to ``out/<filename>``
        and then shown inline (notebook), left open for the gallery's scraper (docs build) or
        closed (script). A block may make its own figure (``plt.subplots``); the unused empty
        one is discarded."""
        plt = self._pyplot()
        if plt is None:
            yield None
            return
        before = set(plt.get_fignums())
        plt.figure(**figure_kw)
        try:
            yield plt
        except BaseException:
            for number in set(plt.get_fignums()) - before:
                plt.close(number)
            raise
        current = plt.gcf()
        new = [plt.figure(n) for n in sorted(set(plt.get_fignums()) - before)]
        for fig in new:
            if fig is not current and not fig.axes:
                plt.close(fig)
        new = [fig for fig in new if fig is current or fig.axes]
        plt.figure(current.number)
        os.makedirs(self.out_dir, exist_ok=True)
        path = os.path.join(self.out_dir, filename)
        current.tight_layout()
        current.savefig(path, dpi=100)
        if self.environment != "gallery":        # on a documentation page the figure is right there
            print(f"(plot written to {os.path.relpath(path)})")
        if self.environment == "notebook":
            from IPython.display import display

            for fig in new:
                display(fig)
        if self.environment != "gallery":
            for fig in new:
                plt.close(fig)

    # -- progress -----------------------------------------------------------------------
    def progress(self, iterable, desc=None, total=None):
        """Iterate over ``iterable`` showing progress: a tqdm bar (a widget in Jupyter), or —
        without tqdm — a line on stderr every 5 s and one at the end. Wrap any loop of a
        tutorial that runs longer than ~5 s, so that the reader never waits in silence::

            for lr in lesson.progress(learning_rates, desc="training one net per rate"):
                ...
        """
        if total is None:
            try:
                total = len(iterable)
            except TypeError:
                total = None
        bar = progress_bar(total, desc=desc, leave=True)
        if bar is not None:
            try:
                for item in iterable:
                    yield item
                    bar.update(1)
            finally:
                bar.close()
            return
        quiet = self.environment == "gallery"
        label = desc or self.name
        start = last = time.perf_counter()
        done = 0
        for item in iterable:
            yield item
            done += 1
            now = time.perf_counter()
            if not quiet and now - last >= 5.0:
                of = f"/{total}" if total is not None else ""
                print(f"{label}: {done}{of} ({now - start:.0f} s)", file=sys.stderr, flush=True)
                last = now
        if not quiet and last > start:          # only if the wait was long enough to report
            print(f"{label}: done, {done} in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    # -- checks -------------------------------------------------------------------------
    def check(self, condition, claim):
        """Record whether ``claim`` held on this run and print it."""
        ok = bool(condition)
        (self.passed if ok else self.failures).append(claim)
        print(f"[{'PASS' if ok else 'FAIL'}] {claim}")
        return ok

    def done(self):
        """Restore the BLAS threads (:meth:`limit_blas_threads`) and print the summary. If a
        check failed: exit with status 1 naming the failed checks (script), or raise
        :class:`CheckFailed` (notebook), so the failure shows where the reader is. While the
        documentation builds the summary is all: the page shows the failure,
        ``docs/build.sh`` lists it, and the test suite is what gates the checks (a timing
        claim that fails once on a busy machine should not also fail the site)."""
        self._restore_blas_threads()
        total = len(self.passed) + len(self.failures)
        if self.failures:
            print(f"\n{len(self.failures)} of {total} checks FAILED:")
            for claim in self.failures:
                print(f"  - {claim}")
            if self.environment == "script":
                raise SystemExit(1)
            if self.environment == "gallery":
                return
            raise CheckFailed(f"{self.name}: {len(self.failures)} of {total} checks failed: "
                              + "; ".join(self.failures))
        print(f"\nAll {total} checks passed.")

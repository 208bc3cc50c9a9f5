"""Support for the tutorial scripts in ``tutorials/``: the command line (``--quick``),
printed tables, optional matplotlib plots, and the "check" cells that prove a claim.

    from minidl.lesson import Lesson
    lesson = Lesson("07_kaiming_relu", source="000 §3.2.2 / 004")
    n_steps = lesson.pick(full=2000, quick=200)
    ...
    lesson.table(["init", "std at layer 100"], rows)
    with lesson.figure("activation_std.png") as plt:     # plt is None without matplotlib
        if plt: plt.plot(...)
    lesson.check(ratio < 2, "Kaiming keeps the std within 2x over 100 layers")
    lesson.done()          # exits 1 and lists the failed checks if any failed

A tutorial uses only minidl's public API; this module is part of it so that course
material written by instructors can use the same scaffolding.
"""
import argparse
import contextlib
import os
import sys


class Lesson:
    """Command line, output folder, tables, plots and checks for one tutorial run."""

    def __init__(self, name, source=None, argv=None, description=None):
        parser = argparse.ArgumentParser(prog=name, description=description or name)
        parser.add_argument("--quick", action="store_true",
                            help="smaller data and fewer steps (a few seconds); still checks the claim")
        parser.add_argument("--no-plots", action="store_true", help="do not write PNG files")
        parser.add_argument("--out", default=None, help="folder for plots (default: tutorials/out/)")
        args, _unknown = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
        self.name = name
        self.source = source
        self.quick = bool(args.quick) or os.environ.get("MINIDL_TUTORIAL_QUICK") == "1"
        self.plots = not args.no_plots
        here = os.path.dirname(os.path.abspath(sys.argv[0] or "."))
        self.out_dir = args.out or os.path.join(here, "out")
        self.failures = []
        self.passed = []
        mode = "quick" if self.quick else "full"
        print(f"# {name} ({mode} mode)" + (f" — source: {source}" if source else ""))

    def pick(self, full, quick):
        """``quick`` in --quick mode, else ``full``."""
        return quick if self.quick else full

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
        text = "\n".join(lines)
        print(text)
        return text

    @contextlib.contextmanager
    def figure(self, filename, **subplots_kw):
        """Yield ``matplotlib.pyplot`` (Agg backend) or ``None`` if matplotlib is missing or
        plots are off; the current figure is saved to ``out/<filename>`` on exit."""
        plt = None
        if self.plots:
            try:
                import matplotlib

                if not os.environ.get("DISPLAY"):
                    matplotlib.use("Agg")
                import matplotlib.pyplot as plt
            except ImportError:
                plt = None
                if not getattr(self, "_warned_mpl", False):
                    print("(matplotlib is not installed: skipping plots; pip install 'minidl[tutorials]')")
                    self._warned_mpl = True
        if plt is None:
            yield None
            return
        plt.figure(**subplots_kw)
        try:
            yield plt
            os.makedirs(self.out_dir, exist_ok=True)
            path = os.path.join(self.out_dir, filename)
            plt.tight_layout()
            plt.savefig(path, dpi=100)
            print(f"(plot written to {os.path.relpath(path)})")
        finally:
            plt.close("all")

    # -- checks -------------------------------------------------------------------------
    def check(self, condition, claim):
        """Record whether ``claim`` held on this run and print it."""
        ok = bool(condition)
        (self.passed if ok else self.failures).append(claim)
        print(f"[{'PASS' if ok else 'FAIL'}] {claim}")
        return ok

    def done(self):
        """Print the summary; exit with status 1 (naming the failed checks) if any failed."""
        total = len(self.passed) + len(self.failures)
        if self.failures:
            print(f"\n{len(self.failures)} of {total} checks FAILED:")
            for claim in self.failures:
                print(f"  - {claim}")
            raise SystemExit(1)
        print(f"\nAll {total} checks passed.")

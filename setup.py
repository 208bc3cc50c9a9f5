"""Build minidl's compiled kernels (minidl/_kernels/*.pyx).

* Cython 3 and NumPy's headers come from pyproject.toml's build requirements; the .pyx files
  are cythonized only when extensions are actually built (not for an sdist or metadata).
* Optional speed-up, never a requirement: when no extension can be compiled (no C compiler,
  ``CC=/bin/false``, a broken toolchain) the install still completes as pure Python, says so,
  and ``import minidl`` runs every kernel on its NumPy twin (with a one-time warning).
  A kernel that fails alone is skipped alone.
* ``MINIDL_REQUIRE_COMPILED=1`` turns a failed compile into a failed build (CI, cibuildwheel).
* ``MINIDL_NO_EXTENSIONS=1`` skips the compile step (a pure-Python install in seconds).
* Wheels carry no debug information (``-g0``, and ``-s`` where the linker is GNU ld) and
  no generated ``.c`` files (``exclude-package-data`` in pyproject.toml, MANIFEST.in).
* Developers can rebuild a subset while iterating (``python setup.py`` runs with the venv's
  own setuptools, which must be >= 77 for the licence metadata: ``pip install -U setuptools``):
      MINIDL_BUILD_ONLY=dropout,batchnorm python setup.py build_ext --inplace
"""
import glob
import os
import sys
import traceback

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}

# Raised by a missing or failing compiler/linker (distutils/setuptools' error classes are
# all subclasses of Exception; a missing executable is an OSError).
_BUILD_ERRORS = (Exception,)


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _banner(lines):
    bar = "=" * 78
    print("\n".join([bar] + [f"minidl: {line}" for line in lines] + [bar]), file=sys.stderr, flush=True)


class BuildExt(build_ext):
    """build_ext that cythonizes lazily, adds -O3 and strips debug info, compiles in parallel,
    and never fails the install: an extension that cannot be built is left out."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1
        self.failed = []

    def run(self):
        if not self.extensions:
            return
        try:
            import numpy
            from Cython.Build import cythonize

            for ext in self.extensions:
                if numpy.get_include() not in ext.include_dirs:
                    ext.include_dirs.append(numpy.get_include())
            # .pyx -> .c, keeping the Extension objects setuptools has already prepared.
            generated = {ext.name: ext for ext in cythonize(self.extensions, compiler_directives=COMPILER_DIRECTIVES,
                                                              quiet=True)}
            for ext in self.extensions:
                ext.sources = generated[ext.name].sources
            super().run()
        except _BUILD_ERRORS as exc:       # no compiler at all, Cython/NumPy missing, ...
            if _env_flag("MINIDL_REQUIRE_COMPILED"):
                raise
            self.failed = [ext.name for ext in self.extensions]
            self._report(exc)
            return
        if self.failed:
            self._report(None)
            if _env_flag("MINIDL_REQUIRE_COMPILED"):
                raise SystemExit("minidl: MINIDL_REQUIRE_COMPILED is set and kernels failed to compile")

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            compile_flags, link_flags = ["/O2"], []
        else:
            # -pthread: the convolution kernels' thread pool (minidl/_kernels/threadpool.h).
            # -g0 (after Python's own -g): no debug info in the wheel.
            compile_flags = ["-O3", "-fno-math-errno", "-pthread", "-g0"]
            link_flags = ["-pthread"]
            if sys.platform.startswith("linux"):
                link_flags.append("-s")      # strip the static symbol table (GNU ld)
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args or []) + compile_flags
            ext.extra_link_args = list(ext.extra_link_args or []) + link_flags
        super().build_extensions()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except _BUILD_ERRORS:
            self.failed.append(ext.name)
            traceback.print_exc()

    def get_outputs(self):
        # Extensions that failed to build are not part of the install.
        failed = {self.get_ext_fullpath(name) for name in getattr(self, "failed", [])}
        return [path for path in super().get_outputs() if path not in failed]

    def _report(self, exc):
        lines = [f"could not compile {len(self.failed)} of {len(self.extensions)} kernel extension(s): "
                 + ", ".join(name.rsplit(".", 1)[-1] for name in self.failed)]
        if exc is not None:
            lines.append(f"reason: {type(exc).__name__}: {exc}")
        lines += [
            "the install continues as pure Python: these kernels run on their NumPy twins",
            "(same results, slower; `import minidl` warns once, `python -m minidl` shows it).",
            "For the compiled kernels install a C compiler (gcc/clang, or MSVC Build Tools on",
            "Windows) and reinstall, or use a prebuilt wheel. MINIDL_NO_EXTENSIONS=1 skips this step.",
        ]
        _banner(lines)


def _extensions():
    if _env_flag("MINIDL_NO_EXTENSIONS"):
        _banner(["MINIDL_NO_EXTENSIONS is set: not compiling the kernels (pure-Python install)."])
        return []
    sources = sorted(glob.glob(os.path.join("minidl", "_kernels", "*.pyx")))
    only = os.environ.get("MINIDL_BUILD_ONLY")
    if only:
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        sources = [s for s in sources if os.path.splitext(os.path.basename(s))[0] in wanted]
    # A change to a shared .pxi or a native/ header recompiles the kernels (setuptools compares
    # `depends` with the built module; the .c would otherwise look up to date).
    shared = sorted(glob.glob(os.path.join("minidl", "_kernels", "*.pxi"))
                    + glob.glob(os.path.join("minidl", "_kernels", "native", "*.h")))
    return [
        Extension(
            "minidl._kernels." + os.path.splitext(os.path.basename(src))[0],
            [src],
            depends=shared,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for src in sources
    ]


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})

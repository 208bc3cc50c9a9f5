"""Build minidl's compiled kernels (minidl/_kernels/*.pyx).

* Cython 3 and NumPy headers come from pyproject.toml's build requirements.
* OpenMP is used only if a small test program compiles and links with -fopenmp;
  otherwise the kernels are built without it. The build never fails for lack of OpenMP.
  (The one multi-threaded kernel, the direct convolution, uses its own small pthread pool,
  minidl/_kernels/threadpool.h, and runs single-threaded where POSIX threads are missing.)
* Developers can rebuild a subset while iterating:
      MINIDL_BUILD_ONLY=dropout,batchnorm python setup.py build_ext --inplace
"""
import glob
import os
import shutil
import subprocess
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}

OPENMP_TEST = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def _compiler_accepts(compiler, flags, link_flags):
    """True if `compiler` compiles and links OPENMP_TEST with the given flags."""
    tmp = tempfile.mkdtemp(prefix="minidl-omp-")
    try:
        src = os.path.join(tmp, "omp_test.c")
        with open(src, "w") as f:
            f.write(OPENMP_TEST)
        devnull = open(os.devnull, "w")
        old_out, old_err = os.dup(1), os.dup(2)
        try:
            # The test compile is allowed to fail loudly; keep its noise out of the log.
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
            compiler.link_executable(objs, "omp_test", output_dir=tmp, extra_postargs=link_flags)
        finally:
            os.dup2(old_out, 1)
            os.dup2(old_err, 2)
            devnull.close()
        exe = os.path.join(tmp, "omp_test")
        return subprocess.call([exe]) == 0
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    """build_ext that adds -O3 and, when it works, OpenMP, and compiles in parallel."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            compile_flags, omp_compile, omp_link = ["/O2"], ["/openmp"], []
        else:
            # -pthread: the convolution kernels' thread pool (minidl/_kernels/threadpool.h).
            compile_flags = ["-O3", "-fno-math-errno", "-pthread"]
            omp_compile, omp_link = ["-fopenmp"], ["-fopenmp"]
        if os.environ.get("MINIDL_DISABLE_OPENMP"):
            use_omp = False
        else:
            use_omp = _compiler_accepts(self.compiler, omp_compile, omp_link)
        print(f"minidl: OpenMP {'enabled' if use_omp else 'not available; building without it'}")
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args or []) + compile_flags
            if ctype != "msvc":
                ext.extra_link_args = list(ext.extra_link_args or []) + ["-pthread"]
            if use_omp:
                ext.extra_compile_args += omp_compile
                ext.extra_link_args = list(ext.extra_link_args or []) + omp_link
        super().build_extensions()


def _extensions():
    sources = sorted(glob.glob(os.path.join("minidl", "_kernels", "*.pyx")))
    only = os.environ.get("MINIDL_BUILD_ONLY")
    if only:
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        sources = [s for s in sources if os.path.splitext(os.path.basename(s))[0] in wanted]
    exts = []
    for src in sources:
        name = "minidl._kernels." + os.path.splitext(os.path.basename(src))[0]
        exts.append(
            Extension(
                name,
                [src],
                include_dirs=[numpy.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return cythonize(exts, compiler_directives=COMPILER_DIRECTIVES, quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})

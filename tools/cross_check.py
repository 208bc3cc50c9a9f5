"""Compile-check the kernels for another architecture (default aarch64 Linux): Cython's C for
every minidl/_kernels/*.pyx, compiled (not linked) with a cross compiler, so x86 intrinsics
that escape their guards fail here rather than on a student's ARM laptop or on CI.

    python tools/cross_check.py                 # aarch64-linux-gnu-gcc, else clang --target
    python tools/cross_check.py --cc "clang --target=aarch64-linux-gnu"

Exit 0 with a printed reason ("skip: ...") when no cross compiler or no Cython is available
(`apt-get install gcc-aarch64-linux-gnu` provides one). Python's and NumPy's headers are the
host's: fine for a compile check between two LP64 platforms.
"""
import argparse
import ast
import glob
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "minidl", "_kernels")


def compiler_directives():
    """setup.py's COMPILER_DIRECTIVES, read without running setup.py."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "COMPILER_DIRECTIVES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("setup.py has no COMPILER_DIRECTIVES")


def find_compiler(target):
    gcc = f"{target}-gcc"
    if shutil.which(gcc):
        return [gcc]
    if shutil.which("clang") and os.path.isdir(f"/usr/{target}/include"):
        return ["clang", f"--target={target}", f"--sysroot=/usr/{target}"]
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="aarch64-linux-gnu")
    parser.add_argument("--cc", default=None, help="compiler command (default: <target>-gcc, else clang --target)")
    args = parser.parse_args(argv)
    cc = shlex.split(args.cc) if args.cc else find_compiler(args.target)
    if not cc:
        print(f"skip: no {args.target} cross compiler (apt-get install gcc-{args.target})")
        return 0
    try:
        import numpy
        from Cython.Build import cythonize
    except ImportError as exc:
        print(f"skip: {exc.name} is not installed (pip install Cython numpy)")
        return 0
    out = tempfile.mkdtemp(prefix="minidl-cross-")
    try:
        t0 = time.time()
        # A copy of the kernels folder (headers, .pxi and all), so no generated C lands in the tree.
        tree = os.path.join(out, "_kernels")
        shutil.copytree(KERNELS, tree, ignore=shutil.ignore_patterns("*.c", "*.so", "*.pyd", "__pycache__"))
        pyx = sorted(glob.glob(os.path.join(tree, "*.pyx")))
        cythonize(pyx, compiler_directives=compiler_directives(), quiet=True)
        flags = ["-c", "-O0", "-fPIC", "-pthread", "-Werror=implicit-function-declaration",
                 f"-I{sysconfig.get_paths()['include']}", f"-I{numpy.get_include()}", f"-I{tree}",
                 "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION"]

        def compile_one(c_file):
            proc = subprocess.run(cc + flags + [c_file, "-o", c_file[:-2] + ".o"], capture_output=True, text=True)
            return os.path.basename(c_file), proc.returncode, proc.stderr

        c_files = sorted(glob.glob(os.path.join(tree, "*.c")))
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            results = list(pool.map(compile_one, c_files))
        failed = [(name, err) for name, rc, err in results if rc != 0]
        for name, err in failed:
            print(f"FAIL {name} ({' '.join(cc)}):\n{err[-3000:]}")
        print(f"{args.target}: {len(c_files) - len(failed)}/{len(c_files)} kernel modules compile with "
              f"{' '.join(cc)} ({time.time() - t0:.0f} s)")
        return 1 if failed or not c_files else 0
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

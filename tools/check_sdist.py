"""Check that an sdist holds every file git tracks, except CI plumbing.

    python tools/check_sdist.py dist/minidl-*.tar.gz
"""
import subprocess
import sys
import tarfile

# Tracked but deliberately not shipped: CI and repository plumbing.
NOT_SHIPPED = (".github/", ".ci/", ".gitignore", ".gitattributes")


def missing(sdist, root="."):
    tracked = subprocess.run(["git", "-C", root, "ls-files"], check=True, capture_output=True, text=True).stdout.split()
    with tarfile.open(sdist) as tf:
        shipped = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    return sorted(f for f in tracked if not f.startswith(NOT_SHIPPED) and f not in shipped), shipped


def main(argv):
    if len(argv) != 1:
        print("usage: python tools/check_sdist.py SDIST", file=sys.stderr)
        return 2
    lost, shipped = missing(argv[0])
    generated = sorted(f for f in shipped if f.endswith((".so", ".pyd", ".pyc")) or
                       (f.startswith("minidl/_kernels/") and f.endswith(".c")))
    for f in lost:
        print(f"  FAIL not in the sdist: {f}")
    for f in generated:
        print(f"  FAIL build artefact in the sdist: {f}")
    print(f"{argv[0]}: {len(shipped)} files" + (", ok" if not (lost or generated) else ""))
    return 1 if (lost or generated) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

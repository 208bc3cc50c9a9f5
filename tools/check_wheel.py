"""Check built wheels: no generated C, no debug info, the licence and typing files, < 3 MB.

    python tools/check_wheel.py dist/minidl-*.whl
"""
import os
import sys
import zipfile

MAX_BYTES = 3 * 1024 * 1024
REQUIRED = ("minidl/py.typed", "minidl/__init__.pyi", "minidl/nn/__init__.pyi", "minidl/data/digits.npz",
            "minidl/data/DIGITS_NOTICE.md")


def problems(path):
    found = []
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        found.append(f"{size / 2**20:.2f} MB, over the 3 MB target")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        for name in names:
            if name.endswith((".c", ".cpp", ".html")):
                found.append(f"ships generated source {name}")
            if name.endswith(".so"):
                data = zf.read(name)
                # ELF section names live in .shstrtab: a stripped library has no .debug_* sections.
                if data[:4] == b"\x7fELF" and (b".debug_info" in data or b".debug_line" in data):
                    found.append(f"{name} carries debug info")
        for required in REQUIRED:
            if required not in names:
                found.append(f"missing {required}")
        if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
            found.append("missing dist-info/licenses/LICENSE")
    return found, size, len(names)


def main(paths):
    if not paths:
        print("usage: python tools/check_wheel.py WHEEL...", file=sys.stderr)
        return 2
    bad = 0
    for path in paths:
        found, size, count = problems(path)
        print(f"{os.path.basename(path)}: {size / 2**20:.2f} MB, {count} files" + ("" if found else ", ok"))
        for p in found:
            print(f"  FAIL {p}")
        bad += bool(found)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``python -m minidl``: what this installation runs on (``minidl.info()``) and how to start."""
import sys

# The README's Quickstart, verbatim (tests/test_packaging.py keeps the two in step).
QUICKSTART = (
    'pip install ".[tutorials]" && python tutorials/00_quickstart.py',
    'pip install -e ".[test,tutorials]" && python -m pytest -q',
)


def main() -> int:
    import minidl

    minidl.info()
    print("\nQuickstart, from a clone of the repository (https://github.com/minidl/minidl):")
    print("  train an MLP on the shipped digits:  " + QUICKSTART[0])
    print("  run the test suite:                  " + QUICKSTART[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())

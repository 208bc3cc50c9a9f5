"""``python -m minidl.grading`` = ``minidl-grade``."""
import sys

from minidl.grading.cli import main

sys.exit(main())

"""minidl.grading: homework autograding on minidl (walkthrough: tutorials/homework/dropout_init/README.md).

The trusted/untrusted split is the core: the grader process runs the tests, the reference
computations and every comparison; the submission runs only in a worker subprocess
(:mod:`minidl.grading.sandbox`) and only plain data crosses between them
(:mod:`minidl.grading.protocol`). Instructors write ordinary pytest files with
``from minidl.grading import G`` (:mod:`minidl.grading.api`); the plugin
(:mod:`minidl.grading.plugin`) grades them; ``minidl-grade`` (:mod:`minidl.grading.cli`)
runs everything.
"""
from minidl.grading.api import G  # noqa: F401

__all__ = ["G"]

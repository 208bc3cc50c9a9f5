"""minidl.grading: homework autograding on minidl (design: GRADING.md; issue 7).

The trusted/untrusted split is the core: the grader process runs the tests, the reference
computations and every comparison; the submission runs only in a worker subprocess
(:mod:`minidl.grading.sandbox`) and only plain data crosses between them
(:mod:`minidl.grading.protocol`).
"""

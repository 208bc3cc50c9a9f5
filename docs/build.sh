#!/usr/bin/env bash
# Build the documentation site offline and check it:
#   1. sphinx, warnings are errors (the tutorials run in quick mode through sphinx-gallery;
#      a public docstring that is not valid reST is one: docs/_ext/minidl_docs.py),
#   2. every internal link and #anchor of the built HTML resolves (external links are not
#      followed: there is no network),
#   3. a tutorial page opened in headless Chromium displays its figures (skipped, with the
#      reason, when no Chromium is installed).
# Usage: bash docs/build.sh [--clean]      (needs: pip install -e ".[docs]")
# Output: docs/_build/html (open docs/_build/html/index.html), screenshot docs/_build/screenshot.png
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--clean" ]]; then
  rm -rf docs/_build docs/tutorials docs/api docs/homework docs/_gallery_src docs/sg_execution_times.rst
fi
start=$(date +%s)
# One BLAS thread: the tutorials' timings and rounding match the test suite's.
OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} MPLBACKEND=Agg \
  python -m sphinx -W --keep-going -q -b html docs docs/_build/html
echo "== docs: HTML built in $(( $(date +%s) - start )) s (docs/_build/html)"
python docs/check_site.py links docs/_build/html
# A tutorial whose check fails still renders (the page shows the [FAIL]); the test suite
# (tests/tutorials) is what gates the checks. Say so loudly here.
if failed=$(grep -l "^ *\[FAIL\]" docs/tutorials/[0-9][0-9]_*.rst 2>/dev/null); then
  echo "== docs: NOTE: checks failed while building these pages (see their [FAIL] lines):"
  echo "$failed" | sed 's/^/     /'
fi
status=0
python docs/check_site.py browser docs/_build/html/tutorials/07_kaiming_relu.html \
  --screenshot docs/_build/screenshot.png || status=$?
if [[ $status -eq 77 ]]; then
  echo "== docs: browser check skipped (no Chromium)"
elif [[ $status -ne 0 ]]; then
  exit "$status"
fi
echo "== docs: built and checked in $(( $(date +%s) - start )) s"

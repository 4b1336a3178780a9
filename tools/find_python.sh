#!/usr/bin/env bash
# Print the path of a working Python >= 3.12 for the Makefile (make venv / demo / test).
#
# Order: $PYTHON when set (and then only it: a broken override is an error, not a fallback),
# then python3.13 and python3.12 on PATH that actually run (pyenv shims exist for versions
# that are not active and fail when run), then pyenv's installs
# ($PYENV_ROOT/versions/3.12*/bin/python3 newest first - the version the dependency set is
# verified on - then 3.13 and later), then python3.
# Exit 0 with the path on stdout; exit 2 with a one-line message on stderr when none works.
set -u

ok() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

where() {
  command -v "$1" 2>/dev/null || echo "$1"
}

if [ -n "${PYTHON:-}" ]; then
  if ok "$PYTHON"; then where "$PYTHON"; exit 0; fi
  echo "error: PYTHON=$PYTHON does not run or is older than 3.12; point PYTHON at a Python >= 3.12 or leave it unset to search" >&2
  exit 2
fi

for c in python3.13 python3.12; do
  if ok "$c"; then where "$c"; exit 0; fi
done

root="${PYENV_ROOT:-$HOME/.pyenv}"
for c in $(ls -d "$root"/versions/3.12*/bin/python3 2>/dev/null | sort -rV) \
         $(ls -d "$root"/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -rV); do
  if ok "$c"; then echo "$c"; exit 0; fi
done

if ok python3; then where python3; exit 0; fi

echo "error: no working Python >= 3.12 found (tried python3.13, python3.12, $root/versions/3.1x, python3). Install one (e.g. pyenv install 3.12) or run: make PYTHON=/path/to/python3.12 ..." >&2
exit 2

#!/usr/bin/env bash
# Install (the system tools the tests need, then the Python dependencies with the dev
# extras) and run the test suite. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/system-tools.sh
scripts/bootstrap.sh dev || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "!! pytest collected no tests: treating that as a failure" >&2
  exit 1
fi
exit "$rc"

#!/usr/bin/env bash
# The test command: set up what is missing, build everything (executables included, since the
# stage tests run them), and run every test once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The oracles' Python (and PySpark's spark-submit) come from the virtual environment setup made.
export PATH="${TALLY_VENV:-$PWD/.venv}/bin:$PATH"
swift build --build-tests
swift test --skip-build

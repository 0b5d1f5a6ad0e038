#!/usr/bin/env bash
# The main job, end to end on synthetic data. See README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
swift build -c release
bash pipelines/demo.sh .build/release out/demo

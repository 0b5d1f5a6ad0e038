#!/usr/bin/env bash
# usage: scripts/setup.sh [build|test]
# Installs what tally needs, only where it is missing: to build and run, the C libraries (libxml2,
# zlib, SQLite) with pkg-config; to test as well (the default), xmllint, the Python test oracles
# and PySpark. Safe to rerun.
set -euo pipefail
purpose=${1:-test}
apt_packages=(libxml2-dev zlib1g-dev libsqlite3-dev pkg-config libxml2-utils)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ "$purpose" = build ] && exit 0
if ! python3 -c 'import jsonschema, frictionless, yaml' 2>/dev/null; then
    echo "setup: installing Python's jsonschema, frictionless and PyYAML (test oracles)" >&2
    python3 -m pip install -q jsonschema frictionless pyyaml
fi
if ! python3 -c 'import pyspark' 2>/dev/null || ! command -v spark-submit >/dev/null; then
    echo "setup: installing PySpark (the scale-out test runs pipelines/spark/nightly.py in local mode; Java 17 must be installed)" >&2
    python3 -m pip install -q pyspark
fi

#!/usr/bin/env bash
# usage: scripts/setup.sh [build|test]
# Installs what tally needs, only where it is missing: to build and run, the C libraries (libxml2,
# zlib, ISA-L, SQLite) with pkg-config; to test as well (the default), xmllint, headless chromium with a
# CJK font and poppler-utils, and the Python test oracles and PySpark in a virtual environment.
# Safe to rerun.
set -euo pipefail
purpose=${1:-test}
apt_packages=(libxml2-dev zlib1g-dev libisal-dev libsqlite3-dev pkg-config libxml2-utils)
# apt_missing WHY PACKAGE...: installs those of the packages that are not installed.
apt_missing() {
    local why=$1 p missing=()
    shift
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]} ($why)" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
apt_missing "to build" "${apt_packages[@]}"
[ "$purpose" = build ] && exit 0
# The browser tests: Debian's chromium (headless), a CJK font for the Chinese pages, and pdfinfo.
apt_missing "the pages' browser tests" chromium fonts-wqy-zenhei poppler-utils
# The Python test oracles and PySpark go in a virtual environment (.venv, or TALLY_VENV), never
# into the system Python: Debian refuses that (PEP 668). scripts/test.sh puts its bin/ first on
# PATH, so the tests' `python3` and `spark-submit` are the environment's.
venv=${TALLY_VENV:-$PWD/.venv}
if [ ! -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        apt_missing "python3 -m venv failed" python3-venv
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
fi
if ! "$venv/bin/python3" -c 'import jsonschema, frictionless, yaml, html5lib, PIL' 2>/dev/null; then
    echo "setup: installing Python's jsonschema, frictionless, PyYAML, html5lib and Pillow (test oracles) into $venv" >&2
    "$venv/bin/python3" -m pip install -q jsonschema frictionless pyyaml html5lib pillow
fi
if ! "$venv/bin/python3" -c 'import pyspark' 2>/dev/null || [ ! -x "$venv/bin/spark-submit" ]; then
    echo "setup: installing PySpark into $venv (the scale-out test runs pipelines/spark/nightly.py in local mode; Java 17 must be installed)" >&2
    "$venv/bin/python3" -m pip install -q pyspark
fi

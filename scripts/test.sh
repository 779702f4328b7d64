#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a full test run: installs what is missing,
# builds, installs the npm clients the interop tests use, and runs every test with ctest.
# MERIDIAN_LONG_TESTS=1 runs the long forms of the fault and load suites.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
if [ -f tests/interop/node/package.json ]; then
  (cd tests/interop/node && npm ci --no-audit --no-fund --loglevel=error)
fi
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 600

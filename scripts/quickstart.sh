#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running Meridian: installs what is missing,
# builds, and starts `meridian serve` on the embedded default (data in ./data, HTTPS on 8443).
# Extra arguments go to `meridian serve` (for example --port 9443).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec ./build/src/server/meridian serve --data-dir ./data "$@"

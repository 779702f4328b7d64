#!/usr/bin/env bash
# Installs the Debian 12 packages Meridian needs to build, run and test, but only those missing.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libprotobuf-dev protobuf-compiler libssl-dev openssl
  libgrpc++-dev protobuf-compiler-grpc etcd-server libtoml11-dev rocksdb-tools
  libspdlog-dev libfmt-dev libcli11-dev libargon2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  bc curl jq wrk python3 python3-msal python3-jwt python3-requests
  libqrencode-dev
  chromium
)
# Node.js and npm (the npm interop clients) may come from elsewhere than Debian; take any.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

#!/usr/bin/env bash
# deps.sh — install the Debian packages encore needs that are missing, and nothing else.
# usage: scripts/deps.sh [build|test|demo|bench]   (bench also needs GNU time for peak RSS)
set -euo pipefail

need=(gcc make clang libclang-rt-14-dev pkg-config libsqlite3-dev sqlite3 zlib1g-dev time)
[ "${1:-build}" = bench ] && need+=(time)

missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing missing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2

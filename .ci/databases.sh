#!/usr/bin/env bash
# Installs what the SQL tests need on Debian: PostgreSQL and MariaDB, whose servers the test run
# starts itself (test/run.ts: private data folders and free ports, stopped at the end), and the
# compiler better-sqlite3 builds with (no prebuilt binaries can be downloaded here): run it before
# npm install. Starts nothing and prints nothing on stdout. Safe to run again: installs only what
# is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

say() { echo ".ci/databases.sh: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "must run as root (it installs packages)"
  exit 1
fi

need=()
for pkg in postgresql mariadb-server mariadb-client g++ make python3; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

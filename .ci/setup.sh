#!/usr/bin/env bash
# Machine prerequisites for the test suite: PostgreSQL binaries (the tests start their own private
# server on a temp socket dir) and Debian's Chromium (the dashboard test drives it headless).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

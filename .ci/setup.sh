#!/usr/bin/env bash
# Machine prerequisites for the test suite: PostgreSQL binaries (the server tests start their own private
# server in a temp folder, as the postgres user when run as root) and Debian's Chromium (the dashboard test
# drives it headless through Playwright's bundled driver; no browser is downloaded).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# RemoteAccessTests put serve and its clients in network namespaces of their own (ip netns, veth).
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# initdb refuses to run as root; the tests switch to this user (the postgresql package creates it).
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
# Conformance peers (Hugging Face tokenizers, @huggingface/jinja, transformers.js, real tokenizer packages):
# the tests run them with node. --ignore-scripts: transformers.js's install script only tries a download, its
# onnxruntime-node binaries ship inside the package.
command -v node >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq --no-install-recommends nodejs npm; }
if [ ! -d tests/peers/node_modules ] || [ tests/peers/package-lock.json -nt tests/peers/node_modules ]; then
  npm ci --ignore-scripts --no-audit --no-fund --prefix tests/peers >/dev/null
  touch tests/peers/node_modules
fi

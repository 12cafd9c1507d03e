#!/usr/bin/env bash
# Crash-safety long run (issue 6): N SIGKILLs (default 50) of a real ledger under concurrent
# appends; after each restart every acknowledged append, every chain and the log's consistency
# with every served checkpoint are checked. Prints "kill test: N kills survived, ...".
# Usage: scripts/kill-loop.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
PROVENANCE_KILLS="${1:-50}" cargo test -p provenance-e2e --release --locked --test kill -- --nocapture 2>&1 |
  grep -E '^kill test:|test result'

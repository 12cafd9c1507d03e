#!/usr/bin/env bash
# Load benchmark (BENCHMARKS.md): runs the load generator RUNS times (default 3) in the given
# mode and prints the median of each figure. Every run spawns its own server on a fresh
# temporary database and measures the machine's limits (raw verify_strict, raw SQLite
# durable commits) in the same run.
#
#   scripts/bench-load.sh [RUNS] [provenance-load options...]
#   scripts/bench-load.sh 3 --items 2000 --concurrency 64 --duration 10s
#   scripts/bench-load.sh 3 --items 2000 --concurrency 64 --rate 5000 --duration 10s
set -euo pipefail
RUNS=${1:-3}
shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" \
  -p provenance-server --bin provenance -p provenance-e2e --bin provenance-load
LOAD="$ROOT/target/release/provenance-load"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
for i in $(seq "$RUNS"); do
  echo "--- run $i: provenance-load $*"
  "$LOAD" "$@" | tee "$OUT/run-$i.txt"
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "n/a"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { # $1: regex with one capture group, over every run's output
  for f in "$OUT"/run-*.txt; do sed -nE "s/$1/\1/p" "$f" | head -n 1; done | median
}
echo
echo "=== median of $RUNS runs: provenance-load $*"
echo "appends/s:                 $(field '^appends: .* = ([0-9.]+) appends\/s.*')"
echo "p50 ms:                    $(field '^latency .*p50 ([0-9.]+) ms.*')"
echo "p99 ms:                    $(field '^latency .*p99 ([0-9.]+) ms.*')"
echo "p999 ms:                   $(field '^latency .*p999 ([0-9.]+) ms.*')"
echo "server us/append (CPU):    $(field '^CPU during the load: server [0-9.]+ s \(([0-9.]+) us\/append.*')"
echo "generator us/append (CPU): $(field '.*generator [0-9.]+ s \(([0-9.]+) us\/append.*')"
echo "mean commit batch:         $(field '^server provenance_commit_batch_size: mean ([0-9.]+) .*')"
echo "verify_strict/s 1 thread:  $(field '^limit: raw ed25519 verify_strict ([0-9.]+)\/s on 1 thread.*')"
echo "verify_strict/s all cores: $(field '^limit: raw ed25519 .*, ([0-9.]+)\/s on [0-9]+ threads')"
echo "SQLite commits/s (1 row):  $(field '^limit: raw SQLite .*: ([0-9.]+) commits\/s one row.*')"
echo "SQLite rows/s (batch 256): $(field '^limit: raw SQLite .*; ([0-9.]+) rows\/s in batches.*')"
echo "ratio to verify (all):     $(field '^ratio: appends\/s \/ raw verify_strict\/s \(all cores\) = ([0-9.]+);.*')"
echo "ratio to SQLite batched:   $(field '^ratio: .*SQLite batched rows\/s = ([0-9.]+)$')"

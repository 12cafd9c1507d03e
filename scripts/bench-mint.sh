#!/usr/bin/env bash
# Minting benchmark (BENCHMARKS.md): `provenance mint --count 1000 --labels DIR` against a local
# server on a temporary database, repeated RUNS times (default 5); prints each time and the
# median. Goal (DESIGN §7): under 10 s for 1,000 pieces with labels.
#
#   scripts/bench-mint.sh [RUNS] [COUNT]
set -euo pipefail
RUNS=${1:-5}
COUNT=${2:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --release -p provenance-server --bin provenance --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/provenance"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
RUST_LOG=warn "$BIN" serve --db ledger.db --ledger-key ledger.pem --listen 127.0.0.1:0 > serve.out 2>/dev/null &
SERVER_PID=$!
for _ in $(seq 200); do grep -q '^listening on ' serve.out 2>/dev/null && break; sleep 0.05; done
URL=$(sed -n 's/^listening on //p' serve.out | head -n 1)
[ -n "$URL" ] || { echo "server did not start" >&2; exit 1; }
export PROVENANCE_SERVER=$URL
"$BIN" keygen --out maker.pem > /dev/null
"$BIN" trust add --operator-key ledger.pem --public maker.pem --role maker --name Bench > /dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
TIMES=()
for i in $(seq "$RUNS"); do
  RUN=$("$BIN" run create --key maker.pem --title "Bench $i" --microfactory Bench --size "$COUNT" 2> /dev/null)
  START=$(date +%s.%N)
  "$BIN" mint --key maker.pem --run "$RUN" --count "$COUNT" --labels "labels-$i" > "items-$i.txt" 2> "mint-$i.log"
  END=$(date +%s.%N)
  T=$(echo "$END - $START" | bc -l)
  N=$(wc -l < "items-$i.txt")
  FILES=$(ls "labels-$i" | wc -l)
  printf 'run %d: %d pieces, %d label files, %.2f s\n' "$i" "$N" "$FILES" "$T"
  [ "$N" -eq "$COUNT" ] || { echo "expected $COUNT items" >&2; exit 1; }
  TIMES+=("$T")
done
MEDIAN=$(printf '%s\n' "${TIMES[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
printf 'median of %d runs: %.2f s for %d pieces with labels (goal < 10 s); load after: %s\n' \
  "$RUNS" "$MEDIAN" "$COUNT" "$(cut -d' ' -f1-3 /proc/loadavg)"

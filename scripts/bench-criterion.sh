#!/usr/bin/env bash
# Criterion benches (BENCHMARKS.md), each run RUNS times (default 3); prints every
# benchmark's point estimate per run and the median across runs, plus the verifier bench's
# own same-run ratio lines.
#
#   scripts/bench-criterion.sh [RUNS]
set -euo pipefail
RUNS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
  for spec in "provenance-core core" "provenance-server qr" "provenance-verify verify"; do
    set -- $spec
    cargo bench --quiet -p "$1" --bench "$2" -- --warm-up-time 1 --measurement-time 3 2>/dev/null \
      | tee -a "$OUT/raw-$i.txt" > /dev/null
  done
done
# "name\n   time: [lo mid hi]" or "name   time: [lo mid hi]" -> "name mid unit"
for f in "$OUT"/raw-*.txt; do
  awk '
    /time:/ {
      line = $0; sub(/^ +/, "", line)
      if (line ~ /^time:/) { name = prev } else { name = line; sub(/ +time:.*/, "", name) }
      match($0, /\[[^]]*\]/); split(substr($0, RSTART + 1, RLENGTH - 2), v, " ")
      ns = v[3]; u = v[4]
      if (u == "ps") ns = ns / 1000; else if (u == "µs" || u == "us") ns = ns * 1000; else if (u == "ms") ns = ns * 1000000; else if (u == "s") ns = ns * 1000000000
      printf "%s\t%.1f\n", name, ns
      next
    }
    { if ($0 !~ /^ *(change|Performance|No change|Change within|Found|Benchmarking|[0-9]+ \()/ && $0 !~ /^ *$/) prev = $0; sub(/^ +/, "", prev) }
  ' "$f" > "$f.tsv"
done
echo
echo "median of $RUNS runs (criterion point estimates, microseconds):"
cut -f1 "$OUT"/raw-1.txt.tsv | while IFS= read -r name; do
  vals=$(for f in "$OUT"/raw-*.txt.tsv; do awk -F'\t' -v n="$name" '$1 == n {print $2}' "$f"; done)
  med=$(echo "$vals" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
  all=$(echo "$vals" | awk '{printf "%.2f ", $1 / 1000}')
  printf '  %-45s %12.2f us  (runs, us: %s)\n' "$name" "$(echo "$med / 1000" | bc -l)" "$all"
done
echo
echo "verifier bench, same-run ratios:"
grep -h '^RATIO' "$OUT"/raw-*.txt | sed 's/^/  /'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Short smoke run of every fuzz target (FUZZ_SECONDS each, default 20) from the committed
# seeds, when `cargo +nightly fuzz` is available; otherwise says so and exits 0.
# A crash fails the script (libFuzzer exits non-zero and leaves the input in artifacts/).
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-20}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke: skipped (needs the nightly toolchain and cargo-fuzz: cargo install cargo-fuzz --locked)"
    exit 0
fi
targets=(payload record trust_list head checkpoint recovery_codes http_append)
# One build for every target (the server feature is only used by http_append).
cargo +nightly fuzz build -a --features server
log="$(mktemp)"
# http_append keeps its SQLite store under $TMPDIR/provenance-fuzz-<pid>/: a private TMPDIR.
scratch="$(mktemp -d)"
trap 'rm -rf "$log" "$scratch"' EXIT
export TMPDIR="$scratch"
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== fuzz smoke: $t (${secs}s)"
    if ! cargo +nightly fuzz run -a --features server "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz smoke: $t FAILED (the input is in fuzz/artifacts/$t/)"
        exit 1
    fi
    grep -E '^(Done|stat::number_of_executed_units)' "$log" || true
done
echo "fuzz smoke: ${#targets[@]} targets ran ${secs}s each without a crash"

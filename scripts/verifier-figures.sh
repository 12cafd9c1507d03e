#!/usr/bin/env bash
# Measures the offline verifier's three figures (issue 4): stripped release size, process
# start to verdict for a label payload, and that its dependency tree has no network code.
# Usage: scripts/verifier-figures.sh   (needs hyperfine and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p provenance-verify --locked
bin=target/release/provenance-verify
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A genuine label vector and its trust list from the spec vectors.
python3 - "$work" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
vectors = json.load(open("spec/vectors/payloads.json"))["vectors"]
v = next(v for v in vectors if v["expect"] == "genuine" and v["warnings"] == ["payload.label_only"])
(out / "trust.cbor").write_bytes(bytes.fromhex(v["trust_list_hex"]))
(out / "payload.txt").write_text(v["payload"])
(out / "now.txt").write_text(v["now"])
print("vector:", v["name"])
PY
payload=$(cat "$work/payload.txt")
now=$(cat "$work/now.txt")
echo "size: $(stat -c %s "$bin") bytes ($(numfmt --to=iec-i --suffix=B "$(stat -c %s "$bin")"))"
"$bin" --trust "$work/trust.cbor" --now "$now" "$payload" || test $? -eq 1
hyperfine --warmup 20 --runs 300 -N --ignore-failure \
  "$bin --trust $work/trust.cbor --now $now $payload"
echo "network/database crates in the tree (expect none):"
cargo tree -p provenance-verify -e normal --prefix none --offline |
  grep -E '^(actix|hyper|reqwest|ureq|tokio|rustls|native-tls|openssl|rusqlite|libsqlite3|h2|mio)[ -]' || echo "  none"

#!/usr/bin/env bash
# Builds the web verifier's WebAssembly bundle into provenance-verify/web/pkg/ (committed, so
# `cargo build` and the README's commands need none of this). Needs:
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version <the wasm-bindgen version in Cargo.lock>
#   npm ci            (binaryen's wasm-opt, pinned in package-lock.json)
# The build is reproducible: CI rebuilds it and fails if it differs from the committed bundle.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "error: wasm-bindgen-cli $want is needed (Cargo.lock), found '${have:-none}':" >&2
  echo "  cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi
WASM_OPT="$ROOT/node_modules/.bin/wasm-opt"
if [ ! -x "$WASM_OPT" ]; then
  echo "error: wasm-opt not found: run npm ci (binaryen is pinned in package-lock.json)" >&2
  exit 1
fi
# Paths inside the binary must not depend on where the checkout lives.
export RUSTFLAGS="--remap-path-prefix=$ROOT=/provenance --remap-path-prefix=$HOME/.cargo=/cargo"
cargo rustc --quiet --locked --profile wasm-release --target wasm32-unknown-unknown \
  -p provenance-verify --lib --crate-type cdylib --no-default-features --features wasm
OUT=provenance-verify/web/pkg
rm -rf "$OUT" && mkdir -p "$OUT"
wasm-bindgen --target web --no-typescript --out-dir "$OUT" \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/provenance_verify.wasm"
"$WASM_OPT" -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  "$OUT/provenance_verify_bg.wasm" -o "$OUT/provenance_verify_bg.wasm"
ls -l "$OUT"
echo "gzipped wasm: $(gzip -9 -c "$OUT/provenance_verify_bg.wasm" | wc -c) bytes"

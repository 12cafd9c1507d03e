#!/usr/bin/env bash
# Builds the web verifier's WebAssembly modules into provenance-verify/web/pkg/ (committed, so
# `cargo build` and the README's commands need none of this) and stamps the page's version
# into its service worker and bundle manifest (provenance-verify/web/tools/stamp.mjs):
#   pkg/provenance_verify*  the verifier (feature `wasm`): verify_json, the owner challenge,
#                           the nonce's QR code
#   pkg/provenance_scan*    the QR reader for camera frames and photos (feature `wasm-scan`),
#                           loaded only when the page scans
# Needs:
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version <the wasm-bindgen version in Cargo.lock> --locked
#   npm ci            (binaryen's wasm-opt, pinned in package-lock.json)
# The build is reproducible: CI rebuilds it and fails if it differs from the committed bundle.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ -z "$want" ] || [ "$have" != "$want" ]; then
  echo "error: wasm-bindgen-cli ${want:-?} is needed (the wasm-bindgen version in Cargo.lock), found '${have:-none}':" >&2
  echo "  cargo install wasm-bindgen-cli --version $want --locked" >&2
  exit 1
fi
WASM_OPT="$ROOT/node_modules/.bin/wasm-opt"
if [ ! -x "$WASM_OPT" ]; then
  echo "error: wasm-opt not found: run npm ci (binaryen is pinned in package-lock.json)" >&2
  exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "error: the wasm32-unknown-unknown target is missing: rustup target add wasm32-unknown-unknown" >&2
  exit 1
fi
# Paths inside the binary must not depend on where the checkout or the cargo home lives.
export RUSTFLAGS="--remap-path-prefix=$ROOT=/provenance --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
OUT=provenance-verify/web/pkg
# The bytes depend on the compiler: say so plainly when it is not the one the committed bundle
# was built with (pkg/TOOLCHAIN), rather than leave a bare difference to explain.
toolchain="$(rustc --version)
wasm-bindgen $have
$("$WASM_OPT" --version)"
if [ -f "$OUT/TOOLCHAIN" ] && [ "$(cat "$OUT/TOOLCHAIN")" != "$toolchain" ]; then
  echo "warning: the committed bundle was built with" >&2
  sed 's/^/    /' "$OUT/TOOLCHAIN" >&2
  echo "  and this build uses" >&2
  echo "$toolchain" | sed 's/^/    /' >&2
  echo "  so its bytes will differ; use that toolchain (rustup toolchain install <version>) to compare" >&2
fi
rm -rf "$OUT" && mkdir -p "$OUT"
echo "$toolchain" >"$OUT/TOOLCHAIN"
build() { # feature, output name
  cargo rustc --quiet --locked --profile wasm-release --target wasm32-unknown-unknown \
    -p provenance-verify --lib --crate-type cdylib --no-default-features --features "$1"
  wasm-bindgen --target web --no-typescript --out-dir "$OUT" --out-name "$2" \
    "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/provenance_verify.wasm"
  "$WASM_OPT" -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    "$OUT/${2}_bg.wasm" -o "$OUT/${2}_bg.wasm"
  echo "$2: $(wc -c <"$OUT/${2}_bg.wasm") bytes, $(gzip -9 -c "$OUT/${2}_bg.wasm" | wc -c) gzipped"
}
build wasm provenance_verify
build wasm-scan provenance_scan
node provenance-verify/web/tools/stamp.mjs

//! Fuzz regressions in the normal suite: every input under `fuzz/regressions/<target>/` (each a
//! crash or invariant failure the fuzzer once found, see `fuzz/README.md`) and every committed
//! seed under `fuzz/seeds/<target>/` goes through the same decoders and invariants as the
//! cargo-fuzz target of that name, without the nightly toolchain: nothing panics, and whatever
//! is accepted re-encodes to exactly its bytes. The targets' bodies are defined once, in
//! `fuzz/src/targets.rs`, and compiled into this test from there.
//! (`http_append` drives provenance-server and is not replayed here.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::path::{Path, PathBuf};

/// The fuzz crate's library (its vector world, signer and target bodies), compiled in from
/// `fuzz/src/` so that the replay runs exactly the code the fuzzer runs.
#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code, missing_docs)]
mod provenance_fuzz;

use provenance_fuzz::targets::{checkpoint, head, payload, record, trust_list};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file of `fuzz/<dir>/<target>/`, with its path.
fn inputs(dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let path = root().join("fuzz").join(dir).join(target);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn replay(target: &str, check: fn(&[u8])) {
    let mut count = 0;
    for dir in ["regressions", "seeds"] {
        for (path, bytes) in inputs(dir, target) {
            let outcome = std::panic::catch_unwind(|| check(&bytes));
            assert!(outcome.is_ok(), "{} fails again", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no seeds for {target}: run fuzz/seeds.py");
}

#[test]
fn payload_inputs() {
    replay("payload", payload);
}

#[test]
fn record_inputs() {
    replay("record", record);
}

#[test]
fn trust_list_inputs() {
    replay("trust_list", trust_list);
}

#[test]
fn head_inputs() {
    replay("head", head);
}

#[test]
fn checkpoint_inputs() {
    replay("checkpoint", checkpoint);
}

//! Checkpoint notes and Merkle proofs. The first byte picks the mode:
//! - `0`: the rest as note text: [`Checkpoint::verify_own_origin`] and [`Checkpoint::verify`]
//!   with the ledger key. An accepted note re-encodes: its body is `Checkpoint::body()` and its
//!   ledger line is the one `Checkpoint::sign` writes.
//! - `1`: `origin 0x00 size(8) root(32) witness-line...`: signed here with the ledger key, which
//!   must verify to the same checkpoint, also with a fuzzer-chosen extra (witness) line.
//! - `2`: fuzzer-chosen indexes, sizes and hashes of any length for [`verify_inclusion`] and
//!   [`verify_consistency`] (must never panic), and real proofs from an in-memory tree, which
//!   must verify, and must fail once one bit is flipped.
//!
//! The body and its invariants: `provenance_fuzz::targets::checkpoint` (fuzz/src/targets.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provenance_fuzz::targets::checkpoint(data));

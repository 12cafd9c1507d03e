//! Payload decode and verify: the input as a `PV1:` string ([`Payload::decode`]) and as the raw
//! CBOR of a payload or history file ([`Payload::from_cbor`]); whatever decodes is verified
//! against the vector world's trust list. Accepted inputs must re-encode to the same bytes.
//!
//! The body and its invariants: `provenance_fuzz::targets::payload` (fuzz/src/targets.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provenance_fuzz::targets::payload(data));

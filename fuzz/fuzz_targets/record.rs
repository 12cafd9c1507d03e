//! Single record decode, and the chain rules behind the signature.
//!
//! Every input is used twice:
//! 1. as record bytes: [`DecodedRecord::decode`], then as the next record of each prefix of the
//!    vector chain ([`VerifiedChain::extend`]) and as a mint ([`VerifiedChain::start`]);
//! 2. `[selector, payload...]`: the payload is signed as a COSE_Sign1 by the vector key and at
//!    the chain position the selector picks, so that mutations of the payload reach every rule
//!    after the signature check.
//!
//! Round trip: an accepted record's envelope re-encodes (by an independent encoder) to exactly
//! its bytes, its payload re-encodes to exactly the payload, and re-signing the decoded record
//! gives the signed bytes.
//!
//! The body and its invariants: `provenance_fuzz::targets::record` (fuzz/src/targets.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provenance_fuzz::targets::record(data));

//! Trust list decode ([`TrustList::verify`]).
//!
//! Every input is used twice: as trust-list bytes (pinned to the vector operator, and as its
//! own anchor), and as a trust-list *payload* signed here by the vector operator, so that
//! mutations of the content reach every check after the signature. Round trip: an accepted
//! list re-signed by its operator gives exactly its bytes.
//!
//! The body and its invariants: `provenance_fuzz::targets::trust_list` (fuzz/src/targets.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provenance_fuzz::targets::trust_list(data));

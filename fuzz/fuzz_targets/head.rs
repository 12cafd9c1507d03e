//! Head statement decode ([`HeadStatement::verify`]) against the vector trust list, which names
//! the ledger key, and [`HeadStatement::check_against`] every prefix of the vector chain.
//!
//! Every input is used twice: as statement bytes, and as a statement *payload* signed here by
//! the ledger key. Round trip: an accepted statement re-signed by the ledger key gives exactly
//! its bytes.
//!
//! The body and its invariants: `provenance_fuzz::targets::head` (fuzz/src/targets.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provenance_fuzz::targets::head(data));

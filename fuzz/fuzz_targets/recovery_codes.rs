//! Receive codes and recovery-sheet codes (spec §7.6): never a panic, and an accepted code
//! re-encodes to its own text. The body: `provenance_fuzz::targets::recovery_codes`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| provenance_fuzz::targets::recovery_codes(data));

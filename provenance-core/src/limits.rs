//! Size and shape limits for every decoder of untrusted bytes (spec §8).
//! Each decoder checks its limit before any parsing work.

/// Largest single COSE_Sign1 record, in bytes.
pub const MAX_RECORD_BYTES: usize = 2048;
/// Largest text field (title, note, event, name) in a record, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 256;
/// Most replaced parts in one repair record.
pub const MAX_PARTS: usize = 16;
/// Largest QR payload string (the capacity of a version 40 QR code in alphanumeric mode).
pub const MAX_PAYLOAD_CHARS: usize = 4296;
/// Largest history container (file or HTTP body), in bytes.
pub const MAX_HISTORY_BYTES: usize = 1 << 20;
/// Most records in one item's history.
pub const MAX_HISTORY_RECORDS: usize = 4096;
/// Largest signed trust list, in bytes.
pub const MAX_TRUST_LIST_BYTES: usize = 256 * 1024;
/// Most entries in one trust list.
pub const MAX_TRUST_ENTRIES: usize = 1024;
/// Deepest CBOR nesting accepted anywhere (our structures need 4).
pub const MAX_CBOR_DEPTH: usize = 8;
/// Most bytes in an owner challenge nonce.
pub const MAX_CHALLENGE_BYTES: usize = 128;
/// How far in the future (seconds) a record's time may be relative to the verifier's clock.
pub const MAX_CLOCK_SKEW_SECS: u64 = 600;

//! Size and shape limits for every decoder of untrusted bytes (spec §9).
//! Each decoder checks its limit before any parsing work.

/// Largest single COSE_Sign1 record, in bytes.
pub const MAX_RECORD_BYTES: usize = 2048;
/// Largest text field (title, note, event, name) in a record, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 256;
/// Most replaced parts in one repair record.
pub const MAX_PARTS: usize = 16;
/// Largest QR payload string (the capacity of a version 40 QR code in alphanumeric mode).
pub const MAX_PAYLOAD_CHARS: usize = 4296;
/// Most records in one item's history.
pub const MAX_HISTORY_RECORDS: usize = 4096;
/// Largest history container (file or HTTP body), in bytes: 9 MiB, room for
/// [`MAX_HISTORY_RECORDS`] records of [`MAX_RECORD_BYTES`] each plus the head statement and
/// the log anchor, so every history the chain rules allow can be exported and verified.
pub const MAX_HISTORY_BYTES: usize = 9 << 20;
/// Most repair and badge records (the third-party kinds) one signer may put on one item.
pub const MAX_THIRD_PARTY_RECORDS_PER_SIGNER: usize = 64;
/// Most repair and badge records one item may hold in all, so that at least
/// `MAX_HISTORY_RECORDS - MAX_THIRD_PARTY_RECORDS_PER_ITEM - 1` positions stay for the
/// owner's and maker's own records whatever third parties do.
pub const MAX_THIRD_PARTY_RECORDS_PER_ITEM: usize = 1024;
/// Most stolen and recovered reports one item may hold: its owner's status toggles, bounded so
/// an owner cannot fill the history with them and freeze the piece (spec §6 R8).
pub const MAX_STATUS_REPORTS_PER_ITEM: usize = 64;
/// History positions kept at the end for the records that must stay possible (spec §6 R3):
/// the last for the maker's void, the one before it for a transfer. Every other record stops
/// [`HISTORY_RESERVE`] positions before [`MAX_HISTORY_RECORDS`].
pub const HISTORY_RESERVE: usize = 2;
/// Largest run (edition size N) a run manifest or mint may declare.
pub const MAX_RUN_SIZE: u64 = 1_000_000;
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

/// Bytes a history container spends per record beyond the record itself (a byte-string head).
const CONTAINER_BYTES_PER_RECORD: usize = 3;
/// Room kept for the container's framing, run manifest, head statement and log anchor.
const CONTAINER_OVERHEAD_BYTES: usize = 64 * 1024;

// Every history the chain rules allow fits the history limit (spec §9).
const _: () = assert!(
    MAX_HISTORY_RECORDS * (MAX_RECORD_BYTES + CONTAINER_BYTES_PER_RECORD)
        + CONTAINER_OVERHEAD_BYTES
        <= MAX_HISTORY_BYTES
);
const _: () = assert!(MAX_THIRD_PARTY_RECORDS_PER_ITEM < MAX_HISTORY_RECORDS / 2);

//! Stable error codes shared by the library, the verifier's JSON output and the server's
//! problem+json bodies. `spec/README.md` §10 documents each one; a test checks that it does.

/// An error that carries a stable, machine-readable code from the spec.
pub trait ErrorCode {
    /// The stable code, e.g. `record.signature_invalid`.
    fn code(&self) -> &'static str;
}

/// Declares every code once: a constant per code (e.g. [`DECODE_TOO_LARGE`] is
/// `"decode.too_large"`) and the table [`ALL_CODES`] of (code, meaning). The error enums'
/// `code()` arms, the ledger and the CLI name codes through these constants, so a code is
/// spelled in exactly one place and a typo is a compile error.
macro_rules! codes {
    ($($name:ident = $code:literal: $meaning:literal,)*) => {
        $(
            #[doc = concat!("`", $code, "`: ", $meaning, ".")]
            pub const $name: &str = $code;
        )*

        /// Every code the library can produce, with a one-line meaning (the spec's table).
        pub const ALL_CODES: &[(&str, &str)] = &[$(($name, $meaning),)*];
    };
}

codes! {
    DECODE_TOO_LARGE = "decode.too_large": "input exceeds the size limit for its kind",
    DECODE_MALFORMED = "decode.malformed": "input is not well-formed CBOR",
    DECODE_TOO_DEEP = "decode.too_deep": "CBOR nesting exceeds the depth limit",
    DECODE_TRAILING_BYTES = "decode.trailing_bytes": "bytes follow the single CBOR item",
    DECODE_NOT_COSE_SIGN1 = "decode.not_cose_sign1": "item is not a tagged COSE_Sign1 (tag 18, four fields)",
    DECODE_BAD_PROTECTED_HEADER = "decode.bad_protected_header": "protected header is not exactly {1: -19, 4: kid}",
    DECODE_UNPROTECTED_HEADER = "decode.unprotected_header": "unprotected header is not empty",
    DECODE_DETACHED_PAYLOAD = "decode.detached_payload": "COSE_Sign1 payload is nil",
    DECODE_DUPLICATE_KEY = "decode.duplicate_key": "a CBOR map has the same key twice",
    DECODE_NON_CANONICAL = "decode.non_canonical": "bytes are not the deterministic encoding (RFC 8949 §4.2.1)",
    DECODE_UNKNOWN_KIND = "decode.unknown_kind": "the kind field names no known structure",
    DECODE_INVALID_FIELD = "decode.invalid_field": "a field is missing, unknown, of the wrong type or out of range",
    DECODE_BAD_PUBLIC_KEY = "decode.bad_public_key": "a public key is not a valid, non-weak Ed25519 point",
    DECODE_BAD_TEXT = "decode.bad_text": "a text field holds a control or bidirectional-formatting character",
    RECORD_SIGNATURE_INVALID = "record.signature_invalid": "signature does not verify over the record bound to this item and previous record",
    CHAIN_EMPTY = "chain.empty": "no records were presented",
    CHAIN_FIRST_NOT_MINT = "chain.first_not_mint": "the first record of an item is not a mint",
    CHAIN_UNEXPECTED_KIND = "chain.unexpected_kind": "a record kind that cannot appear at this position",
    CHAIN_SEQ_MISMATCH = "chain.seq_mismatch": "the record's sequence number is not previous + 1",
    CHAIN_TIME_REGRESSED = "chain.time_regressed": "the record is dated before the previous record",
    CHAIN_TIME_IN_FUTURE = "chain.time_in_future": "the record is dated after now plus the allowed clock skew",
    CHAIN_UNKNOWN_SIGNER = "chain.unknown_signer": "the signer's key id is neither in the trust list nor the current owner",
    CHAIN_SIGNER_NOT_AUTHORIZED = "chain.signer_not_authorized": "the signer lacks the role this record kind needs",
    CHAIN_SIGNER_NOT_OWNER = "chain.signer_not_owner": "a transfer or stolen/recovered report not signed by the current owner (or its recovery key)",
    CHAIN_SIGNER_NOT_MAKER = "chain.signer_not_maker": "a void report not signed by the item's maker",
    CHAIN_KEY_NOT_YET_VALID = "chain.key_not_yet_valid": "the signer's trust entry starts after the record's time",
    CHAIN_KEY_EXPIRED = "chain.key_expired": "the signer's trust entry ended before the record's time",
    CHAIN_KEY_REVOKED = "chain.key_revoked": "the signer's key was revoked before the record's time",
    CHAIN_ITEM_VOID = "chain.item_void": "a record follows a void report",
    CHAIN_STATUS_UNCHANGED = "chain.status_unchanged": "stolen reported while already stolen, or recovered while not stolen",
    CHAIN_TRANSFER_TO_SELF = "chain.transfer_to_self": "a transfer names the current owner as the new owner",
    CHAIN_QUOTA_EXCEEDED = "chain.quota_exceeded": "a repair or badge over the per-signer or per-item quota for third-party records, or a stolen or recovered report over the status quota",
    CHAIN_HISTORY_FULL = "chain.history_full": "the history's last positions are kept: the one before last for a transfer, the last for the maker's void",
    CHAIN_SIGNER_NOT_RECOVERY_KEY = "chain.signer_not_recovery_key": "a recover or a recovery-signed report whose signer is not the recovery key it carries",
    CHAIN_RECOVERY_NOT_COMMITTED = "chain.recovery_not_committed": "a recovery key acts on an ownership that committed to no recovery key",
    CHAIN_RECOVERY_KEY_MISMATCH = "chain.recovery_key_mismatch": "the recovery key is not the one the current ownership committed to",
    CHAIN_RECOVERY_KEY_FORMER_OWNER = "chain.recovery_key_former_owner": "the recovery key is a former owner's: its ownership was transferred away",
    CHAIN_RECOVERY_KEY_SPENT = "chain.recovery_key_spent": "the recovery key was already used by a recover",
    CHAIN_RECOVER_WHILE_STOLEN = "chain.recover_while_stolen": "a recover while the item is reported stolen",
    CHAIN_OWNER_KEY_RECOVERED = "chain.owner_key_recovered": "an owner key whose ownership a recover moved to a new key signs a transfer or report",
    RUN_EDITION_ZERO = "run.edition_zero": "edition number n is 0",
    RUN_EDITION_OVER_CAP = "run.edition_over_cap": "edition number n is greater than the run size N",
    RUN_MISMATCH = "run.mismatch": "the mint does not match its run manifest (id, maker, size or title)",
    RUN_OUTSIDE_WINDOW = "run.outside_window": "the mint is dated outside the run's production window",
    RUN_INVALID_WINDOW = "run.invalid_window": "the run's production window ends before it starts, or its size is 0",
    RUN_SIZE_OVER_LIMIT = "run.size_over_limit": "the run size N is larger than the largest run the format allows",
    TRUST_SIGNATURE_INVALID = "trust.signature_invalid": "the trust list's signature does not verify",
    TRUST_OPERATOR_MISMATCH = "trust.operator_mismatch": "the trust list is not signed by the pinned operator key",
    TRUST_DUPLICATE_ENTRY = "trust.duplicate_entry": "two trust entries share a public key",
    PAYLOAD_TOO_LARGE = "payload.too_large": "payload string exceeds the size limit",
    PAYLOAD_BAD_PREFIX = "payload.bad_prefix": "payload does not start with the version prefix PV1:",
    PAYLOAD_BAD_BASE45 = "payload.bad_base45": "payload is not valid base45 (RFC 9285)",
    PAYLOAD_BAD_CONTAINER = "payload.bad_container": "payload CBOR is neither a label (COSE_Sign1) nor a container map",
    ITEM_STOLEN = "item.stolen": "finding: the current owner has reported the item stolen (a warning)",
    ITEM_NOT_TRANSFERABLE = "item.not_transferable": "finding: the history is full up to the positions kept for the maker's void: no transfer can be recorded any more (a warning)",
    ITEM_VOID = "item.void": "finding: the maker has voided the item (not genuine)",
    PAYLOAD_LABEL_ONLY = "payload.label_only": "finding: a label proves origin only, not current owner or history (a warning)",
    PAYLOAD_OWNER_UNCONFIRMED = "payload.owner_unconfirmed": "finding: a history without a ledger-signed head statement; its last owner is not confirmed as current (a warning)",
    LEDGER_BODY_TOO_LARGE = "ledger.body_too_large": "HTTP body over the endpoint's limit (413)",
    LEDGER_REQUEST_TIMEOUT = "ledger.request_timeout": "the request body did not arrive within the deadline (408)",
    LEDGER_TOO_MANY_CONNECTIONS = "ledger.too_many_connections": "this client address holds too many open connections (429)",
    LEDGER_OVERLOADED = "ledger.overloaded": "the ledger cannot take the request now (at its connection limit, or shutting down); retry later (503)",
    LEDGER_TOO_MANY_STREAMS = "ledger.too_many_streams": "this client address holds as many open dashboard event streams as it may; close one or retry after Retry-After (429)",
    LEDGER_STREAMS_FULL = "ledger.streams_full": "the ledger holds as many open dashboard event streams as it may; retry after Retry-After (503)",
    LEDGER_PAGES_BUSY = "ledger.pages_busy": "the ledger is rendering as many heavy pages (run sheets, label QR codes) as it may at once; retry after Retry-After (503)",
    LEDGER_METHOD_NOT_ALLOWED = "ledger.method_not_allowed": "the endpoint does not take this HTTP method (405)",
    LEDGER_UNSUPPORTED_MEDIA_TYPE = "ledger.unsupported_media_type": "HTTP body of the wrong Content-Type (415)",
    LEDGER_BAD_REQUEST = "ledger.bad_request": "malformed path or query parameter (400)",
    LEDGER_NOT_FOUND = "ledger.not_found": "no such item or run (404)",
    LEDGER_UNKNOWN_MAKER = "ledger.unknown_maker": "no run on this ledger is by this maker key (404)",
    LEDGER_UNAUTHORIZED = "ledger.unauthorized": "the drop figures and dashboards of this ledger need the operator's stats token (401)",
    LEDGER_UNKNOWN_ENDPOINT = "ledger.unknown_endpoint": "no endpoint at this path (404)",
    LEDGER_RUN_NOT_REGISTERED = "ledger.run_not_registered": "a mint names a run this ledger has not registered for its maker (422)",
    LEDGER_EDITION_TAKEN = "ledger.edition_taken": "this edition number of the run is already minted (422)",
    LEDGER_TRUST_VERSION_STALE = "ledger.trust_version_stale": "a trust list whose version is not above the current one (409)",
    LEDGER_INTERNAL = "ledger.internal": "the ledger failed internally; nothing was stored (500)",
    HEAD_NO_LEDGER_KEY = "head.no_ledger_key": "the trust list names no ledger key to check a head statement or checkpoint with",
    HEAD_SIGNER_NOT_LEDGER = "head.signer_not_ledger": "the head statement is not signed by the trust list's ledger key",
    HEAD_SIGNATURE_INVALID = "head.signature_invalid": "the head statement's signature does not verify",
    HEAD_ITEM_MISMATCH = "head.item_mismatch": "the head statement is about another item than the records",
    HEAD_STALE = "head.stale": "the head statement is older than the records presented with it",
    HEAD_MISMATCH = "head.mismatch": "the head statement names the same position as the records but another head, owner, flags or counts",
    HEAD_TIME_IN_FUTURE = "head.time_in_future": "the head statement is dated after now plus the allowed clock skew",
    HEAD_OLD = "head.old": "finding: the head statement is older than the verifier's maximum age (a warning)",
    LOG_BAD_HASH_LENGTH = "log.bad_hash_length": "a proof hash, leaf hash or root is not exactly 32 bytes",
    LOG_INDEX_OUT_OF_RANGE = "log.index_out_of_range": "the leaf index is not below the tree size",
    LOG_WRONG_PROOF_LENGTH = "log.wrong_proof_length": "the proof has too many or too few hashes for the sizes",
    LOG_ROOT_MISMATCH = "log.root_mismatch": "the root recomputed from the proof differs from the checkpoint's",
    LOG_EMPTY_FIRST_TREE = "log.empty_first_tree": "a consistency proof from the empty tree (refused by policy)",
    LOG_SIZE_ORDER = "log.size_order": "the first tree size of a consistency proof exceeds the second",
    LOG_ENTRIES_INCOMPLETE = "log.entries_incomplete": "an audit got log entries out of order, fewer than the checkpoint's size, or more",
    CHECKPOINT_TOO_LARGE = "checkpoint.too_large": "the checkpoint note exceeds 4096 bytes",
    CHECKPOINT_MALFORMED = "checkpoint.malformed": "the checkpoint note or its body is not well formed",
    CHECKPOINT_UNKNOWN_KEY = "checkpoint.unknown_key": "no signature line by the ledger key (name and key id)",
    CHECKPOINT_SIGNATURE_INVALID = "checkpoint.signature_invalid": "the ledger key's checkpoint signature does not verify",
    CHECKPOINT_ORIGIN_MISMATCH = "checkpoint.origin_mismatch": "the checkpoint is for another log origin",
    CODE_MALFORMED = "code.malformed": "a receive or recovery-sheet code is too long, lacks its prefix, or is not base45 with its check",
    CODE_BAD_CHECK = "code.bad_check": "a receive or recovery-sheet code's check does not match: a character was misread or mistyped",
    PROOF_INVALID = "proof.invalid": "the owner's answer does not verify for this item, challenge and owner key",
    PROOF_MALFORMED = "proof.malformed": "the owner's answer is not 86 characters of base64url",
}

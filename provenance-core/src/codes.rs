//! Stable error codes shared by the library, the verifier's JSON output and the server's
//! problem+json bodies. `spec/README.md` §10 documents each one; a test checks that it does.

/// An error that carries a stable, machine-readable code from the spec.
pub trait ErrorCode {
    /// The stable code, e.g. `record.signature_invalid`.
    fn code(&self) -> &'static str;
}

/// Every code the library can produce, with a one-line meaning (the spec's table).
pub const ALL_CODES: &[(&str, &str)] = &[
    (
        "decode.too_large",
        "input exceeds the size limit for its kind",
    ),
    ("decode.malformed", "input is not well-formed CBOR"),
    ("decode.too_deep", "CBOR nesting exceeds the depth limit"),
    ("decode.trailing_bytes", "bytes follow the single CBOR item"),
    (
        "decode.not_cose_sign1",
        "item is not a tagged COSE_Sign1 (tag 18, four fields)",
    ),
    (
        "decode.bad_protected_header",
        "protected header is not exactly {1: -19, 4: kid}",
    ),
    (
        "decode.unprotected_header",
        "unprotected header is not empty",
    ),
    ("decode.detached_payload", "COSE_Sign1 payload is nil"),
    ("decode.duplicate_key", "a CBOR map has the same key twice"),
    (
        "decode.non_canonical",
        "bytes are not the deterministic encoding (RFC 8949 §4.2.1)",
    ),
    (
        "decode.unknown_kind",
        "the kind field names no known structure",
    ),
    (
        "decode.invalid_field",
        "a field is missing, unknown, of the wrong type or out of range",
    ),
    (
        "decode.bad_public_key",
        "a public key is not a valid, non-weak Ed25519 point",
    ),
    (
        "decode.bad_text",
        "a text field holds a control or bidirectional-formatting character",
    ),
    (
        "record.signature_invalid",
        "signature does not verify over the record bound to this item and previous record",
    ),
    ("chain.empty", "no records were presented"),
    (
        "chain.first_not_mint",
        "the first record of an item is not a mint",
    ),
    (
        "chain.unexpected_kind",
        "a record kind that cannot appear at this position",
    ),
    (
        "chain.seq_mismatch",
        "the record's sequence number is not previous + 1",
    ),
    (
        "chain.time_regressed",
        "the record is dated before the previous record",
    ),
    (
        "chain.time_in_future",
        "the record is dated after now plus the allowed clock skew",
    ),
    (
        "chain.unknown_signer",
        "the signer's key id is neither in the trust list nor the current owner",
    ),
    (
        "chain.signer_not_authorized",
        "the signer lacks the role this record kind needs",
    ),
    (
        "chain.signer_not_owner",
        "a transfer or stolen/recovered report not signed by the current owner",
    ),
    (
        "chain.signer_not_maker",
        "a void report not signed by the item's maker",
    ),
    (
        "chain.key_not_yet_valid",
        "the signer's trust entry starts after the record's time",
    ),
    (
        "chain.key_expired",
        "the signer's trust entry ended before the record's time",
    ),
    (
        "chain.key_revoked",
        "the signer's key was revoked before the record's time",
    ),
    ("chain.item_void", "a record follows a void report"),
    (
        "chain.status_unchanged",
        "stolen reported while already stolen, or recovered while not stolen",
    ),
    (
        "chain.transfer_to_self",
        "a transfer names the current owner as the new owner",
    ),
    (
        "chain.quota_exceeded",
        "a repair or badge over the per-signer or per-item quota for third-party records",
    ),
    ("run.edition_zero", "edition number n is 0"),
    (
        "run.edition_over_cap",
        "edition number n is greater than the run size N",
    ),
    (
        "run.mismatch",
        "the mint does not match its run manifest (id, maker, size or title)",
    ),
    (
        "run.outside_window",
        "the mint is dated outside the run's production window",
    ),
    (
        "run.invalid_window",
        "the run's production window ends before it starts, or its size is 0",
    ),
    (
        "run.size_over_limit",
        "the run size N is larger than the largest run the format allows",
    ),
    (
        "trust.signature_invalid",
        "the trust list's signature does not verify",
    ),
    (
        "trust.operator_mismatch",
        "the trust list is not signed by the pinned operator key",
    ),
    (
        "trust.duplicate_entry",
        "two trust entries share a public key",
    ),
    ("payload.too_large", "payload string exceeds the size limit"),
    (
        "payload.bad_prefix",
        "payload does not start with the version prefix PV1:",
    ),
    (
        "payload.bad_base45",
        "payload is not valid base45 (RFC 9285)",
    ),
    (
        "payload.bad_container",
        "payload CBOR is neither a label (COSE_Sign1) nor a container map",
    ),
    (
        "item.stolen",
        "finding: the current owner has reported the item stolen (a warning)",
    ),
    (
        "item.void",
        "finding: the maker has voided the item (not genuine)",
    ),
    (
        "payload.label_only",
        "finding: a label proves origin only, not current owner or history (a warning)",
    ),
    (
        "payload.owner_unconfirmed",
        "finding: a history without a ledger-signed head statement; its last owner is not confirmed as current (a warning)",
    ),
    (
        "ledger.body_too_large",
        "HTTP body over the endpoint's limit (413)",
    ),
    (
        "ledger.request_timeout",
        "the request body did not arrive within the deadline (408)",
    ),
    (
        "ledger.too_many_connections",
        "this client address holds too many open connections (429)",
    ),
    (
        "ledger.overloaded",
        "the ledger cannot take the request now (at its connection limit, or shutting down); retry later (503)",
    ),
    (
        "ledger.method_not_allowed",
        "the endpoint does not take this HTTP method (405)",
    ),
    (
        "ledger.unsupported_media_type",
        "HTTP body of the wrong Content-Type (415)",
    ),
    (
        "ledger.bad_request",
        "malformed path or query parameter (400)",
    ),
    ("ledger.not_found", "no such item or run (404)"),
    ("ledger.unknown_endpoint", "no endpoint at this path (404)"),
    (
        "ledger.run_not_registered",
        "a mint names a run this ledger has not registered for its maker (422)",
    ),
    (
        "ledger.edition_taken",
        "this edition number of the run is already minted (422)",
    ),
    (
        "ledger.trust_version_stale",
        "a trust list whose version is not above the current one (409)",
    ),
    (
        "ledger.internal",
        "the ledger failed internally; nothing was stored (500)",
    ),
    ("head.no_ledger_key", "the trust list names no ledger key to check a head statement or checkpoint with"),
    ("head.signer_not_ledger", "the head statement is not signed by the trust list's ledger key"),
    ("head.signature_invalid", "the head statement's signature does not verify"),
    ("head.item_mismatch", "the head statement is about another item than the records"),
    ("head.stale", "the head statement is older than the records presented with it"),
    ("head.mismatch", "the head statement names the same position as the records but another head, owner, flags or counts"),
    ("head.time_in_future", "the head statement is dated after now plus the allowed clock skew"),
    ("head.old", "finding: the head statement is older than the verifier's maximum age (a warning)"),
    ("log.bad_hash_length", "a proof hash, leaf hash or root is not exactly 32 bytes"),
    ("log.index_out_of_range", "the leaf index is not below the tree size"),
    ("log.wrong_proof_length", "the proof has too many or too few hashes for the sizes"),
    ("log.root_mismatch", "the root recomputed from the proof differs from the checkpoint's"),
    ("log.empty_first_tree", "a consistency proof from the empty tree (refused by policy)"),
    ("log.size_order", "the first tree size of a consistency proof exceeds the second"),
    ("log.entries_incomplete", "an audit got log entries out of order, fewer than the checkpoint's size, or more"),
    ("checkpoint.too_large", "the checkpoint note exceeds 4096 bytes"),
    ("checkpoint.malformed", "the checkpoint note or its body is not well formed"),
    ("checkpoint.unknown_key", "no signature line by the ledger key (name and key id)"),
    ("checkpoint.signature_invalid", "the ledger key's checkpoint signature does not verify"),
    ("checkpoint.origin_mismatch", "the checkpoint is for another log origin"),
    (
        "proof.invalid",
        "the owner's answer does not verify for this item, challenge and owner key",
    ),
    (
        "proof.malformed",
        "the owner's answer is not 86 characters of base64url",
    ),
];

//! The ledger's HTTP status for each stable code: the HTTP column of spec §10, as code.
//! A test reads the spec's table and fails when the two disagree.

use provenance_core::codes;
/// The HTTP status the ledger answers `code` with, or `None` for codes the ledger never
/// answers with (verifier findings, head statements, checkpoints, payload strings, owner
/// challenges: those are checked offline).
///
/// The classes: 400 the bytes or the request are malformed; 401 the request lacks the
/// operator's token (`serve --stats token`); 403 the signer may not do this;
/// 404 nothing there; 409 the state moved (stale head, stale trust list); 413 too large;
/// 422 well-formed but against a rule; 5xx the ledger cannot take it now.
pub fn for_code(code: &str) -> Option<u16> {
    let status = match code {
        codes::DECODE_TOO_LARGE => 413,
        codes::DECODE_MALFORMED
        | codes::DECODE_TOO_DEEP
        | codes::DECODE_TRAILING_BYTES
        | codes::DECODE_NOT_COSE_SIGN1
        | codes::DECODE_BAD_PROTECTED_HEADER
        | codes::DECODE_UNPROTECTED_HEADER
        | codes::DECODE_DETACHED_PAYLOAD
        | codes::DECODE_DUPLICATE_KEY
        | codes::DECODE_NON_CANONICAL
        | codes::DECODE_UNKNOWN_KIND
        | codes::DECODE_INVALID_FIELD
        | codes::DECODE_BAD_PUBLIC_KEY
        | codes::DECODE_BAD_TEXT => 400,
        codes::RECORD_SIGNATURE_INVALID
        | codes::CHAIN_UNKNOWN_SIGNER
        | codes::CHAIN_SIGNER_NOT_AUTHORIZED
        | codes::CHAIN_SIGNER_NOT_OWNER
        | codes::CHAIN_SIGNER_NOT_MAKER
        | codes::CHAIN_KEY_NOT_YET_VALID
        | codes::CHAIN_KEY_EXPIRED
        | codes::CHAIN_KEY_REVOKED
        | codes::CHAIN_SIGNER_NOT_RECOVERY_KEY
        | codes::CHAIN_RECOVERY_NOT_COMMITTED
        | codes::CHAIN_RECOVERY_KEY_MISMATCH
        | codes::CHAIN_RECOVERY_KEY_FORMER_OWNER
        | codes::CHAIN_RECOVERY_KEY_SPENT
        | codes::CHAIN_OWNER_KEY_RECOVERED => 403,
        codes::CHAIN_SEQ_MISMATCH => 409,
        codes::CHAIN_EMPTY
        | codes::CHAIN_FIRST_NOT_MINT
        | codes::CHAIN_UNEXPECTED_KIND
        | codes::CHAIN_TIME_REGRESSED
        | codes::CHAIN_TIME_IN_FUTURE
        | codes::CHAIN_ITEM_VOID
        | codes::CHAIN_STATUS_UNCHANGED
        | codes::CHAIN_TRANSFER_TO_SELF
        | codes::CHAIN_QUOTA_EXCEEDED
        | codes::CHAIN_HISTORY_FULL
        | codes::CHAIN_RECOVER_WHILE_STOLEN
        | codes::RUN_EDITION_ZERO
        | codes::RUN_EDITION_OVER_CAP
        | codes::RUN_MISMATCH
        | codes::RUN_OUTSIDE_WINDOW
        | codes::RUN_INVALID_WINDOW
        | codes::RUN_SIZE_OVER_LIMIT => 422,
        codes::TRUST_SIGNATURE_INVALID | codes::TRUST_OPERATOR_MISMATCH => 403,
        codes::TRUST_DUPLICATE_ENTRY => 422,
        codes::LEDGER_BAD_REQUEST => 400,
        codes::LEDGER_NOT_FOUND | codes::LEDGER_UNKNOWN_ENDPOINT | codes::LEDGER_UNKNOWN_MAKER => {
            404
        }
        codes::LEDGER_UNAUTHORIZED => 401,
        codes::LEDGER_METHOD_NOT_ALLOWED => 405,
        codes::LEDGER_REQUEST_TIMEOUT => 408,
        codes::LEDGER_TRUST_VERSION_STALE => 409,
        codes::LEDGER_BODY_TOO_LARGE => 413,
        codes::LEDGER_UNSUPPORTED_MEDIA_TYPE => 415,
        codes::LEDGER_RUN_NOT_REGISTERED | codes::LEDGER_EDITION_TAKEN => 422,
        codes::LOG_INDEX_OUT_OF_RANGE | codes::LOG_SIZE_ORDER | codes::LOG_EMPTY_FIRST_TREE => 422,
        codes::LEDGER_TOO_MANY_CONNECTIONS | codes::LEDGER_TOO_MANY_STREAMS => 429,
        codes::LEDGER_INTERNAL => 500,
        codes::LEDGER_OVERLOADED | codes::LEDGER_STREAMS_FULL | codes::LEDGER_PAGES_BUSY => 503,
        _ => return None,
    };
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::for_code;
    use provenance_core::codes::ALL_CODES;

    /// The spec §10 table as (code, HTTP column) pairs.
    fn spec_table() -> Vec<(String, String)> {
        let spec = include_str!("../../spec/README.md");
        let start = spec.find("## 10. Error codes").expect("spec has §10");
        let end = spec[start..]
            .find("\n## 11.")
            .map_or(spec.len(), |e| start + e);
        spec[start..end]
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_string(), cells[3].to_string())
            })
            .collect()
    }

    #[test]
    fn the_spec_table_and_the_ledger_agree_on_every_status() {
        let table = spec_table();
        assert_eq!(table.len(), ALL_CODES.len(), "one spec row per code");
        for (code, column) in &table {
            let spec_status = column.parse::<u16>().ok();
            assert!(
                spec_status.is_some() || column == "—",
                "{code}: HTTP column {column:?} is neither a status nor —"
            );
            assert_eq!(for_code(code), spec_status, "{code}: spec says {column}");
        }
    }
}

//! The ledger's HTTP status for each stable code: the HTTP column of spec §10, as code.
//! A test reads the spec's table and fails when the two disagree.

/// The HTTP status the ledger answers `code` with, or `None` for codes the ledger never
/// answers with (verifier findings, head statements, checkpoints, payload strings, owner
/// challenges: those are checked offline).
///
/// The classes: 400 the bytes or the request are malformed; 403 the signer may not do this;
/// 404 nothing there; 409 the state moved (stale head, stale trust list); 413 too large;
/// 422 well-formed but against a rule; 5xx the ledger cannot take it now.
pub fn for_code(code: &str) -> Option<u16> {
    let status = match code {
        "decode.too_large" => 413,
        "decode.malformed"
        | "decode.too_deep"
        | "decode.trailing_bytes"
        | "decode.not_cose_sign1"
        | "decode.bad_protected_header"
        | "decode.unprotected_header"
        | "decode.detached_payload"
        | "decode.duplicate_key"
        | "decode.non_canonical"
        | "decode.unknown_kind"
        | "decode.invalid_field"
        | "decode.bad_public_key"
        | "decode.bad_text" => 400,
        "record.signature_invalid"
        | "chain.unknown_signer"
        | "chain.signer_not_authorized"
        | "chain.signer_not_owner"
        | "chain.signer_not_maker"
        | "chain.key_not_yet_valid"
        | "chain.key_expired"
        | "chain.key_revoked" => 403,
        "chain.seq_mismatch" => 409,
        "chain.empty"
        | "chain.first_not_mint"
        | "chain.unexpected_kind"
        | "chain.time_regressed"
        | "chain.time_in_future"
        | "chain.item_void"
        | "chain.status_unchanged"
        | "chain.transfer_to_self"
        | "chain.quota_exceeded"
        | "run.edition_zero"
        | "run.edition_over_cap"
        | "run.mismatch"
        | "run.outside_window"
        | "run.invalid_window"
        | "run.size_over_limit" => 422,
        "trust.signature_invalid" | "trust.operator_mismatch" => 403,
        "trust.duplicate_entry" => 422,
        "ledger.bad_request" => 400,
        "ledger.not_found" | "ledger.unknown_endpoint" => 404,
        "ledger.method_not_allowed" => 405,
        "ledger.request_timeout" => 408,
        "ledger.trust_version_stale" => 409,
        "ledger.body_too_large" => 413,
        "ledger.unsupported_media_type" => 415,
        "ledger.run_not_registered" | "ledger.edition_taken" => 422,
        "log.index_out_of_range" | "log.size_order" | "log.empty_first_tree" => 422,
        "ledger.too_many_connections" => 429,
        "ledger.internal" => 500,
        "ledger.overloaded" => 503,
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

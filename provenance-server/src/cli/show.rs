//! `show`: a piece's story, told by the collector's verifier. The ledger serves facts (the
//! full-history file: every record, the run manifest, a head statement and the log anchor);
//! `provenance-verify` verifies them here against the ledger's trust list and tells the story,
//! so the maker at the terminal reads exactly the report a collector's verifier prints.

use provenance_core::codes;
use provenance_verify::{verify_with, Input, Options, Verdict};

use super::trust::load_trust;
use super::Ctx;
use crate::client::CliError;
use crate::ledger::now;
use crate::parse::parse_item;

/// Prints the verifier's report of the piece's full history; fails (after printing it) when the
/// history does not verify.
pub(super) fn show(ctx: &Ctx, item: &str) -> Result<(), CliError> {
    let item = parse_item(item)?;
    let (bytes, _) = ctx
        .client
        .get_bytes(&format!("/v1/items/{item}/export"), "application/cbor")?;
    let trust = load_trust(ctx, None)?;
    // The list is the ledger's own, fetched just now: no trust-anchor note (that is for a
    // collector's copy of a list, which `provenance-verify --operator` pins).
    let report = verify_with(Input::Bytes(&bytes), &trust, now(), Options::default());
    ctx.print(|| report.to_text(), &report);
    match report.verdict {
        Verdict::Genuine | Verdict::GenuineWithWarnings => Ok(()),
        Verdict::NotGenuine | Verdict::Unreadable => {
            let code = report
                .codes()
                .first()
                .copied()
                .unwrap_or(codes::DECODE_MALFORMED);
            Err(CliError::coded(
                format!("the ledger's history of {item} does not verify"),
                code,
            ))
        }
    }
}

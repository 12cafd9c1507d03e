//! `export`: the piece's full history to a file, verified before it is written.

use std::path::Path;

use provenance_core::codes;
use provenance_core::{ErrorCode, History, Payload};

use super::output::ExportOutput;
use super::trust::load_trust;
use super::Ctx;
use crate::client::CliError;
use crate::ledger::now;
use crate::parse::parse_item;

pub(super) fn export(
    ctx: &Ctx,
    item: &str,
    out: &Path,
    trust: Option<&Path>,
) -> Result<(), CliError> {
    let item = parse_item(item)?;
    let (bytes, _) = ctx
        .client
        .get_bytes(&format!("/v1/items/{item}/export"), "application/cbor")?;
    let history = History::from_cbor(&bytes, provenance_core::limits::MAX_HISTORY_BYTES)
        .map_err(|e| CliError::coded(format!("the ledger's history: {e}"), ErrorCode::code(&e)))?;
    if history.anchor.is_none() || history.head.is_none() {
        return Err(CliError::msg(
            "the ledger's history has no head statement or log anchor",
        ));
    }
    let trust = load_trust(ctx, trust)?;
    let verified = Payload::History(history.clone())
        .verify(&trust, now())
        .map_err(|e| {
            CliError::coded(
                format!("the ledger's history of {item} does not verify, not written: {e}"),
                ErrorCode::code(&e),
            )
        })?;
    if verified.chain.item() != item {
        return Err(CliError::coded(
            "the ledger answered with another item's history",
            codes::HEAD_ITEM_MISMATCH,
        ));
    }
    std::fs::write(out, &bytes)
        .map_err(|e| CliError::io(format!("cannot write {}: {e}", out.display())))?;
    let size = verified.checkpoint.as_ref().map_or(0, |c| c.size);
    let index = history.anchor.as_ref().map_or(0, |a| a.index);
    ctx.print(
        || {
            format!(
                "wrote {}: {} record(s){}, head statement, log anchor (leaf {index} of {size}) ({} bytes, verified)\n",
                out.display(),
                history.records.len(),
                if history.run.is_some() { " and the run manifest" } else { "" },
                bytes.len()
            )
        },
        &ExportOutput {
            file: out.display().to_string(),
            records: history.records.len(),
            run: history.run.is_some(),
            bytes: bytes.len(),
            log_index: index,
            checkpoint_size: size,
        },
    );
    Ok(())
}

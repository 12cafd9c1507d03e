//! `payload` and `qr`: the piece's payload string, and its QR code as SVG, PNG or terminal
//! blocks.

use provenance_core::{History, Payload};

use super::args::{PayloadArgs, QrArgs};
use super::output::PayloadOutput;
use super::Ctx;
use crate::client::CliError;
use crate::parse::parse_item;
use crate::qr;

pub(super) fn payload_command(ctx: &Ctx, a: &PayloadArgs) -> Result<(), CliError> {
    let item = parse_item(&a.item)?;
    let (text, form) = if a.label {
        let (bytes, _) = ctx
            .client
            .get_bytes(&format!("/v1/items/{item}"), "application/cbor")?;
        let history = History::from_cbor(&bytes, provenance_core::limits::MAX_HISTORY_BYTES)
            .map_err(|e| {
                CliError::coded(
                    format!("the ledger's history of {item}: {e}"),
                    provenance_core::ErrorCode::code(&e),
                )
            })?;
        let mint = history.records.into_iter().next().unwrap_or_default();
        (Payload::Label(mint).encode(), "label".to_string())
    } else {
        let (bytes, form) = ctx
            .client
            .get_bytes(&format!("/v1/items/{item}/payload"), "text/plain")?;
        let text =
            String::from_utf8(bytes).map_err(|_| CliError::msg("the payload is not text"))?;
        (
            text.trim().to_string(),
            form.unwrap_or_else(|| "living".into()),
        )
    };
    ctx.print(
        || format!("{text}\n"),
        &PayloadOutput {
            item: Some(item.to_base32()),
            file: None,
            form: form.to_string(),
            payload: text.to_string(),
        },
    );
    Ok(())
}

pub(super) fn qr_command(ctx: &Ctx, a: QrArgs) -> Result<(), CliError> {
    let item = parse_item(&a.item)?;
    let (bytes, form) = ctx
        .client
        .get_bytes(&format!("/v1/items/{item}/payload"), "text/plain")?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::msg("the payload is not text"))?;
    let form = form.unwrap_or_else(|| "history".into());
    // With the ledger's public URL the code is a link a camera app opens (spec §7.5).
    let public_url = ctx.public_url()?;
    let code = qr::encode_payload(public_url.as_deref(), text.trim())
        .map_err(|e| CliError::msg(e.to_string()))?;
    if !ctx.json {
        match form.as_str() {
            "living-mint" => eprintln!("note: the history is too long for one QR code; this code carries the mint and the ledger's head statement (owner, counts, flags)"),
            "label" => eprintln!("note: the stored history no longer verifies under the ledger's trust list; this code carries the label (mint) only"),
            _ => {}
        }
    }
    if let Some(out) = a.out {
        let ext = out
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let data = match ext.as_str() {
            "svg" => qr::svg(&code).into_bytes(),
            "png" => qr::png(&code, 8).map_err(|e| CliError::msg(e.to_string()))?,
            _ => {
                return Err(CliError::msg(format!(
                    "{}: the file name must end in .svg or .png",
                    out.display()
                )))
            }
        };
        std::fs::write(&out, data)
            .map_err(|e| CliError::io(format!("cannot write {}: {e}", out.display())))?;
        ctx.print(
            || {
                format!(
                    "wrote {} ({} payload, {} characters)\n",
                    out.display(),
                    form,
                    text.trim().len()
                )
            },
            &PayloadOutput {
                item: None,
                file: Some(out.display().to_string()),
                form: form.to_string(),
                payload: text.trim().to_string(),
            },
        );
    } else {
        ctx.print(
            || qr::terminal(&code),
            &PayloadOutput {
                item: None,
                file: None,
                form: form.to_string(),
                payload: text.trim().to_string(),
            },
        );
    }
    Ok(())
}

//! Owner-key recovery by pre-rotation (spec §3.1): `keygen --recovery` (the owner key, its
//! recovery key, the printable recovery sheet and the receive code), `receive-code`, and
//! `recover` (the recovery key moves the piece to a new owner key).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use provenance_core::recovery::{ReceiveCode, RecoverySheetCode, RECEIVE_CODE_PREFIX};
use provenance_core::{
    ErrorCode, NewOwner, PublicKey, RecordBody, Recover, RecoveryDigest, SigningKey,
};

use super::args::{ReceiveCodeArgs, RecoverArgs};
use super::output::{KeyOutput, ReceiveCodeOutput, RecoveryKeyOutput};
use super::{Ctx, Outcome};
use crate::client::CliError;
use crate::keyfile::{generate_key, read_key, write_key};
use crate::parse::parse_public;
use crate::qr;

/// `FILE.pem` → `FILE.recovery.<ext>`.
fn beside(out: &Path, ext: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "key".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.recovery.{ext}"))
}

/// `keygen --recovery`: the owner key, its recovery key, the recovery sheet, the receive code.
pub(super) fn keygen_with_recovery(ctx: &Ctx, out: &Path) -> Result<(), CliError> {
    let (recovery_file, sheet_file) = (beside(out, "pem"), beside(out, "png"));
    for path in [out, &recovery_file, &sheet_file] {
        if path.exists() {
            return Err(CliError::io(format!(
                "{} exists: keygen never overwrites a key or a recovery sheet",
                path.display()
            )));
        }
    }
    let owner = generate_key()?;
    let recovery = generate_key()?;
    let sheet = recovery_sheet_png(&RecoverySheetCode(SigningKey::from_seed(
        recovery.to_seed(),
    )))?;
    write_key(out, &owner)?;
    write_key(&recovery_file, &recovery)?;
    write_private(&sheet_file, &sheet)?;
    let public = owner.public_key();
    let code = ReceiveCode(NewOwner {
        key: public,
        recovery: Some(RecoveryDigest::of(&recovery.public_key())),
    })
    .encode();
    let recovery_id = recovery.public_key().key_id().to_string();
    ctx.print(
        || {
            format!(
                "public key: {public}\nkey id: {}\nwrote {} (mode 0600)\n\
                 recovery key id: {recovery_id}\nwrote {} and its recovery sheet {} (mode 0600): \
                 print the sheet, keep it offline and apart from this device, then delete both \
                 files here\nreceive code (give it to a seller for `transfer --to`):\n{code}\n",
                public.key_id(),
                out.display(),
                recovery_file.display(),
                sheet_file.display(),
            )
        },
        &KeyOutput {
            public_key: public.to_base64url(),
            key_id: public.key_id().to_string(),
            file: out.display().to_string(),
            recovery: Some(RecoveryKeyOutput {
                recovery_key_id: recovery_id.clone(),
                recovery_file: recovery_file.display().to_string(),
                recovery_sheet: sheet_file.display().to_string(),
                receive_code: code.clone(),
            }),
        },
    );
    Ok(())
}

/// The recovery sheet: a QR code of the recovery-sheet code (the recovery key itself) and what
/// it is, as a printable PNG.
fn recovery_sheet_png(sheet: &RecoverySheetCode) -> Result<Vec<u8>, CliError> {
    let text = sheet.encode();
    let code = qr::encode(&text).map_err(|e| CliError::msg(format!("recovery sheet: {e}")))?;
    let id = format!("key id {}", sheet.short_code());
    qr::captioned_png(
        &code,
        &[
            ("RECOVERY KEY", 8.0),
            ("keep offline; moves your pieces once", 6.5),
            (&id, 6.5),
        ],
    )
    .map_err(|e| CliError::msg(format!("recovery sheet: {e}")))
}

/// Writes a new file only its owner may read (the recovery sheet holds a private key).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::io(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::io(format!("cannot write {}: {e}", path.display())))
}

/// A new owner named by a receive code, or by a key (public key, or key file) with, optionally,
/// its recovery key (public key or key file) to commit to.
pub(super) fn parse_new_owner(text: &str, recovery: Option<&str>) -> Result<NewOwner, CliError> {
    let is_code = text
        .trim()
        .get(..RECEIVE_CODE_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(RECEIVE_CODE_PREFIX));
    if is_code {
        if recovery.is_some() {
            return Err(CliError::msg(
                "a receive code carries its recovery commitment: give no recovery key with it",
            ));
        }
        return ReceiveCode::parse(text)
            .map(|c| c.0)
            .map_err(|e| CliError::coded(format!("receive code: {e}"), e.code()));
    }
    Ok(NewOwner {
        key: parse_public(text)?,
        recovery: recovery
            .map(parse_public)
            .transpose()?
            .map(|r: PublicKey| RecoveryDigest::of(&r)),
    })
}

/// `receive-code`: prints the code for an owner key and, optionally, its recovery key.
pub(super) fn receive_code(ctx: &Ctx, a: &ReceiveCodeArgs) -> Result<(), CliError> {
    let owner = parse_new_owner(&a.key, a.recovery.as_deref())?;
    let code = ReceiveCode(owner).encode();
    ctx.print(
        || {
            let warning = if owner.recovery.is_none() {
                "(no recovery key: a lost owner key could never be recovered; \
                 make one with `provenance keygen --recovery`)\n"
            } else {
                ""
            };
            format!("{code}\n{warning}")
        },
        &ReceiveCodeOutput {
            receive_code: code.clone(),
            key_id: owner.key.key_id().to_string(),
            recovery: owner.recovery.is_some(),
        },
    );
    Ok(())
}

/// `recover`: the recovery key moves the piece to the new owner key.
pub(super) fn recover(ctx: &Ctx, a: RecoverArgs) -> Result<Outcome, CliError> {
    let recovery_key = read_key(&a.recovery_key)?.public_key();
    let new_owner = parse_new_owner(&a.new_key, a.new_recovery.as_deref())?;
    let body = RecordBody::Recover(Recover {
        recovery_key,
        new_owner,
    });
    super::records::append(ctx, &a.item, &a.recovery_key, a.offline, body)
}

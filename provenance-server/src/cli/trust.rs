//! Keys and the trust list: `keygen`, `trust add`, `trust export`, and loading the list and
//! the ledger key for the commands that check signatures.

use std::path::Path;

use provenance_core::codes;
use provenance_core::{
    ErrorCode, PublicKey, Role, Roles, Timestamp, TrustEntry, TrustList, TrustListContent,
};

use super::args::{LedgerKeyArgs, TrustAddArgs};
use super::output::{KeyOutput, TrustAddOutput, TrustExportOutput};
use super::Ctx;
use crate::api::TrustAck;
use crate::api::TrustView;
use crate::client::CliError;
use crate::keyfile::{generate_key, read_key, write_key};
use crate::ledger::now;
use crate::parse::{parse_public, parse_time};

pub(super) fn keygen(ctx: &Ctx, out: &Path) -> Result<(), CliError> {
    let key = generate_key()?;
    write_key(out, &key)?;
    let public = key.public_key();
    ctx.print(
        || {
            format!(
                "public key: {}\nkey id: {}\nwrote {} (mode 0600)\n",
                public,
                public.key_id(),
                out.display()
            )
        },
        &KeyOutput {
            public_key: public.to_base64url(),
            key_id: public.key_id().to_string(),
            file: out.display().to_string(),
            recovery: None,
        },
    );
    Ok(())
}

pub(super) fn trust_add(ctx: &Ctx, a: TrustAddArgs) -> Result<(), CliError> {
    let TrustAddArgs {
        operator_key,
        public,
        role,
        name,
        valid_from,
        valid_until,
        revoke_at,
    } = a;
    let operator_key = operator_key.as_path();
    let operator = read_key(operator_key)?;
    let key = parse_public(&public)?;
    let role = Role::parse(&role).ok_or_else(|| CliError::msg(format!("unknown role {role:?}")))?;
    if let Some(c) = provenance_core::text::first_forbidden(&name) {
        return Err(CliError::coded(
            format!(
                "--name holds the control or bidirectional character U+{:04X} (spec §3)",
                u32::from(c)
            ),
            codes::DECODE_BAD_TEXT,
        ));
    }
    let mut content = current_list(ctx, &operator.public_key(), operator_key)?;
    let existing = content.entries.iter().find(|e| e.key == key).cloned();
    let now = now();
    let entry = TrustEntry {
        key,
        roles: existing
            .as_ref()
            .map_or(Roles::of(role), |e| e.roles.with(role)),
        name: name.clone(),
        valid_from: match valid_from {
            Some(t) => parse_time(&t)?,
            None => existing.as_ref().map_or(now, |e| e.valid_from),
        },
        valid_until: match valid_until {
            Some(t) => Some(parse_time(&t)?),
            None => existing.as_ref().and_then(|e| e.valid_until),
        },
        revoked_at: match revoke_at {
            Some(t) => Some(parse_time(&t)?),
            None => existing.as_ref().and_then(|e| e.revoked_at),
        },
    };
    let standing = standing(&entry, now);
    let roles: Vec<&str> = entry.roles.iter().map(Role::name).collect();
    content.upsert(entry);
    content.version += 1;
    content.issued_at = now;
    let signed = content.sign(&operator);
    let (_, answer): (_, TrustAck) = ctx.client.post("/v1/trust", "application/cose", &signed)?;
    ctx.print(
        || {
            format!(
                "trust list version {}: {name} ({}) {standing} as {}\n",
                content.version,
                key.key_id(),
                roles.join(", ")
            )
        },
        &TrustAddOutput {
            version: content.version,
            key: key.to_base64url(),
            key_id: key.key_id().to_string(),
            name: name.to_string(),
            roles: roles.iter().map(ToString::to_string).collect(),
            standing: standing.to_string(),
            ledger: answer,
        },
    );
    Ok(())
}

/// The ledger's current trust list content (an empty version 0 when it has none), after
/// checking that `operator` is the key the ledger expects (`operator_file` names it in errors).
fn current_list(
    ctx: &Ctx,
    operator: &PublicKey,
    operator_file: &Path,
) -> Result<TrustListContent, CliError> {
    let info: TrustView = ctx.client.get("/v1/trust")?;
    let server_operator = PublicKey::from_base64url(&info.operator).map_err(|e| {
        CliError::msg(format!(
            "the ledger's operator key {:?}: {e}",
            info.operator
        ))
    })?;
    if server_operator != *operator {
        return Err(CliError::coded(
            format!(
                "{} is not the operator key of this ledger (it expects {server_operator})",
                operator_file.display()
            ),
            codes::TRUST_OPERATOR_MISMATCH,
        ));
    }
    let ledger = PublicKey::from_base64url(&info.ledger).ok();
    if info.version == 0 {
        return Ok(TrustListContent {
            version: 0,
            issued_at: Timestamp(0),
            ledger,
            entries: Vec::new(),
        });
    }
    let (bytes, _) = ctx.client.get_bytes("/v1/trust", "application/cose")?;
    let mut content = TrustList::verify(&bytes, Some(&server_operator))
        .map_err(|e| CliError::coded(format!("the ledger's trust list: {e}"), e.code()))?
        .content()
        .clone();
    content.ledger = ledger;
    Ok(content)
}

/// How an entry stands at `now`, in the words the confirmation uses.
fn standing(entry: &TrustEntry, now: Timestamp) -> &'static str {
    if entry.revoked_at.is_some_and(|t| t <= now) {
        "is revoked (records it signed before the revocation stay valid)"
    } else if entry.valid_until.is_some_and(|t| t <= now) {
        "has expired"
    } else if entry.valid_from > now {
        "will be trusted"
    } else if entry.revoked_at.is_some() {
        "is trusted until its revocation"
    } else {
        "is trusted"
    }
}

pub(super) fn trust_export(ctx: &Ctx, out: &Path) -> Result<(), CliError> {
    let (bytes, _) = ctx.client.get_bytes("/v1/trust", "application/cose")?;
    let list = TrustList::verify(&bytes, None).map_err(|e| {
        CliError::coded(
            format!("the ledger's trust list: {e}"),
            provenance_core::ErrorCode::code(&e),
        )
    })?;
    std::fs::write(out, &bytes)
        .map_err(|e| CliError::io(format!("cannot write {}: {e}", out.display())))?;
    let c = list.content();
    ctx.print(
        || {
            format!(
                "wrote {}: trust list version {} with {} entries, signed by operator {}\n",
                out.display(),
                c.version,
                c.entries.len(),
                list.operator().key_id()
            )
        },
        &TrustExportOutput {
            file: out.display().to_string(),
            version: c.version,
            entries: c.entries.len(),
            operator: list.operator().to_base64url(),
        },
    );
    Ok(())
}

/// The trust list to verify with: a file, or the ledger's current one.
pub(super) fn load_trust(ctx: &Ctx, file: Option<&Path>) -> Result<TrustList, CliError> {
    let (bytes, what) = match file {
        Some(path) => (
            std::fs::read(path)
                .map_err(|e| CliError::io(format!("cannot read {}: {e}", path.display())))?,
            path.display().to_string(),
        ),
        None => (
            ctx.client.get_bytes("/v1/trust", "application/cose")?.0,
            "the ledger's trust list".to_string(),
        ),
    };
    TrustList::verify(&bytes, None)
        .map_err(|e| CliError::coded(format!("{what}: {e}"), ErrorCode::code(&e)))
}

/// The ledger key that signs checkpoints: pinned, or the trust list's.
pub(super) fn ledger_key(ctx: &Ctx, args: &LedgerKeyArgs) -> Result<PublicKey, CliError> {
    if let Some(key) = &args.ledger_key {
        return parse_public(key);
    }
    load_trust(ctx, args.trust.as_deref())?
        .content()
        .ledger
        .ok_or_else(|| {
            CliError::coded(
                "the trust list names no ledger key; pass --ledger-key",
                codes::HEAD_NO_LEDGER_KEY,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_says_how_the_entry_stands_now() {
        let now = Timestamp(1_000_000);
        let entry = |from: u64, until: Option<u64>, revoked: Option<u64>| TrustEntry {
            key: provenance_core::SigningKey::from_seed([7; 32]).public_key(),
            roles: Roles::of(Role::Maker),
            name: "M".into(),
            valid_from: Timestamp(from),
            valid_until: until.map(Timestamp),
            revoked_at: revoked.map(Timestamp),
        };
        assert_eq!(standing(&entry(0, None, None), now), "is trusted");
        assert!(standing(&entry(0, None, Some(10)), now).starts_with("is revoked"));
        assert_eq!(standing(&entry(0, Some(10), None), now), "has expired");
        assert_eq!(
            standing(&entry(2_000_000, None, None), now),
            "will be trusted"
        );
        assert_eq!(
            standing(&entry(0, None, Some(2_000_000)), now),
            "is trusted until its revocation"
        );
    }
}

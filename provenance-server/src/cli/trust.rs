//! Keys and the trust list: `keygen`, `trust add`, `trust export`, and loading the list and
//! the ledger key for the commands that check signatures.

use std::path::Path;

use provenance_core::{
    ErrorCode, PublicKey, Role, Roles, Timestamp, TrustEntry, TrustList, TrustListContent,
};
use serde_json::json;

use super::args::LedgerKeyArgs;
use super::Ctx;
use crate::client::{generate_key, parse_public, parse_time, read_key, write_key, CliError};
use crate::ledger::now;

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
        json!({"public_key": public.to_base64url(), "key_id": public.key_id().to_string(), "file": out.display().to_string()}),
    );
    Ok(())
}

pub(super) fn trust_add(
    ctx: &Ctx,
    operator_key: &Path,
    public: &str,
    role: &str,
    name: String,
    [valid_from, valid_until, revoke_at]: [Option<String>; 3],
) -> Result<(), CliError> {
    let operator = read_key(operator_key)?;
    let key = parse_public(public)?;
    let role = Role::parse(role).ok_or_else(|| CliError::msg(format!("unknown role {role:?}")))?;
    if let Some(c) = provenance_core::text::first_forbidden(&name) {
        return Err(CliError::coded(
            format!(
                "--name holds the control or bidirectional character U+{:04X} (spec §3)",
                u32::from(c)
            ),
            "decode.bad_text",
        ));
    }
    let info = ctx.client.get_json("/v1/trust")?;
    let server_operator = info["operator"]
        .as_str()
        .and_then(|k| PublicKey::from_base64url(k).ok())
        .ok_or_else(|| CliError::msg("the ledger did not say which operator key it trusts"))?;
    if server_operator != operator.public_key() {
        return Err(CliError::coded(
            format!(
                "{} is not the operator key of this ledger (it expects {server_operator})",
                operator_key.display()
            ),
            "trust.operator_mismatch",
        ));
    }
    let ledger = info["ledger"]
        .as_str()
        .and_then(|k| PublicKey::from_base64url(k).ok());
    let mut content = if info["version"].as_u64().unwrap_or(0) == 0 {
        TrustListContent {
            version: 0,
            issued_at: Timestamp(0),
            ledger,
            entries: Vec::new(),
        }
    } else {
        let (bytes, _) = ctx.client.get_bytes("/v1/trust", "application/cose")?;
        TrustList::verify(&bytes, Some(&server_operator))
            .map_err(|e| {
                CliError::coded(
                    format!("the ledger's trust list: {e}"),
                    provenance_core::ErrorCode::code(&e),
                )
            })?
            .content()
            .clone()
    };
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
    let roles: Vec<&str> = entry.roles.iter().map(Role::name).collect();
    content.upsert(entry);
    content.version += 1;
    content.issued_at = now;
    content.ledger = ledger;
    let signed = content.sign(&operator);
    let (_, answer) = ctx.client.post("/v1/trust", "application/cose", &signed)?;
    ctx.print(
        || {
            format!(
                "trust list version {}: {name} ({}) is trusted as {}\n",
                content.version,
                key.key_id(),
                roles.join(", ")
            )
        },
        json!({"version": content.version, "key": key.to_base64url(), "key_id": key.key_id().to_string(), "name": name, "roles": roles, "ledger": answer}),
    );
    Ok(())
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
        json!({"file": out.display().to_string(), "version": c.version, "entries": c.entries.len(), "operator": list.operator().to_base64url()}),
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
                "head.no_ledger_key",
            )
        })
}

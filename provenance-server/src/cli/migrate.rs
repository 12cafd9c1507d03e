//! `provenance migrate --from provenance.db --to postgres://...`: copies a SQLite ledger (runs,
//! items, records, trust lists, the Merkle log's leaves and nodes, the signed checkpoint) into
//! an empty PostgreSQL ledger in one transaction, then, still inside it, recomputes the log
//! from the target: every leaf from the copied record bytes, and the root at the stored
//! checkpoint both from those leaves and from the copied interior nodes. The transaction
//! commits only if every root is the checkpoint's; otherwise nothing is written.

use std::path::Path;

use super::output::MigrateOutput;
use ::postgres::types::ToSql;
use ::postgres::{NoTls, Transaction};
use provenance_core::codes;
use provenance_core::log::audit::{Audit, AuditError, Leaf, TreeHead};
use provenance_core::log::TreeHash;
use provenance_core::{ErrorCode, ItemId, RunId};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::Ctx;
use crate::client::CliError;
use crate::postgres::{is_postgres_url, migrate_schema, parse_url, redacted, stored_root};
use crate::sqlite::{SqliteNodes, SCHEMA_VERSION};
use crate::store::StoreError;

/// The CLI's own code for a migration target that already holds a ledger.
pub const CODE_TARGET_NOT_EMPTY: &str = "cli.target_not_empty";

/// A column's PostgreSQL type, for converting SQLite's dynamically typed values.
#[derive(Clone, Copy)]
enum Col {
    Bytes,
    Big,
    Small,
    Int,
    Text,
}

/// One table to copy: its columns (the same names in both schemas) and their types.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Col)],
}

/// Every table of the ledger, in an order the foreign keys accept.
const TABLES: &[Table] = &[
    Table {
        name: "runs",
        columns: &[
            ("id", Col::Bytes),
            ("maker", Col::Bytes),
            ("size", Col::Big),
            ("hash", Col::Bytes),
            ("time", Col::Big),
            ("bytes", Col::Bytes),
            ("received_at", Col::Big),
            ("log_index", Col::Big),
        ],
    },
    Table {
        name: "items",
        columns: &[
            ("id", Col::Bytes),
            ("run", Col::Bytes),
            ("edition", Col::Big),
            ("maker", Col::Bytes),
            ("head_seq", Col::Big),
            ("head_hash", Col::Bytes),
            ("created_at", Col::Big),
        ],
    },
    Table {
        name: "records",
        columns: &[
            ("item", Col::Bytes),
            ("seq", Col::Big),
            ("hash", Col::Bytes),
            ("kind", Col::Small),
            ("time", Col::Big),
            ("signer", Col::Bytes),
            ("bytes", Col::Bytes),
            ("received_at", Col::Big),
            ("log_index", Col::Big),
        ],
    },
    Table {
        name: "trust_lists",
        columns: &[
            ("version", Col::Text),
            ("issued_at", Col::Text),
            ("bytes", Col::Bytes),
            ("received_at", Col::Big),
        ],
    },
    Table {
        name: "log_leaves",
        columns: &[
            ("idx", Col::Big),
            ("kind", Col::Small),
            ("id", Col::Bytes),
            ("seq", Col::Big),
            ("hash", Col::Bytes),
        ],
    },
    Table {
        name: "log_nodes",
        columns: &[("level", Col::Int), ("idx", Col::Big), ("hash", Col::Bytes)],
    },
];

/// The checkpoint stored in the source.
struct Stored {
    size: u64,
    root: TreeHash,
    note: String,
    signed_at: i64,
}

/// What a migration copied.
struct Copied {
    rows: Vec<(&'static str, u64)>,
    leaves: u64,
    checkpoint: Option<Stored>,
}

fn source_error(from: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::io(format!("cannot read the ledger {}: {e}", from.display()))
}

fn target_error(to: &str, e: impl std::fmt::Display) -> CliError {
    CliError::io(format!("PostgreSQL {}: {e}", redacted(to)))
}

/// `provenance migrate`.
pub(super) fn migrate(ctx: &Ctx, from: &Path, to: &str) -> Result<(), CliError> {
    if !is_postgres_url(to) {
        return Err(CliError::io(format!(
            "--to must be a postgres:// URL, not {to:?}"
        )));
    }
    let source = open_source(from)?;
    let config = parse_url(to).map_err(|e| target_error(to, e))?;
    let mut client = config.connect(NoTls).map_err(|e| target_error(to, e))?;
    migrate_schema(&mut client).map_err(|e| target_error(to, e))?;
    let mut tx = client.transaction().map_err(|e| target_error(to, e))?;
    ensure_empty(&mut tx, to)?;
    let copied = copy_all(&source, &mut tx, from, to)?;
    check_roots(&source, &mut tx, &copied, from, to)?;
    tx.commit().map_err(|e| target_error(to, e))?;
    let size = copied.checkpoint.as_ref().map(|c| c.size);
    ctx.print(
        || {
            let mut out = String::new();
            for (table, n) in &copied.rows {
                out.push_str(&format!("copied {n} {table}\n"));
            }
            match size {
                Some(size) => out.push_str(&format!(
                    "log: {} leaves; the root at the checkpoint of {size} leaves is unchanged\n",
                    copied.leaves
                )),
                None => out.push_str("log: no checkpoint stored\n"),
            }
            out.push_str(&format!("migrated to {}\n", redacted(to)));
            out
        },
        &MigrateOutput {
            rows: copied
                .rows
                .iter()
                .map(|(table, n)| ((*table).to_string(), *n))
                .collect(),
            leaves: copied.leaves,
            checkpoint_size: size,
            to: redacted(to),
        },
    );
    Ok(())
}

/// Opens the SQLite ledger read-only; it must have this version's schema (a ledger written by
/// an older version is upgraded by opening it once with `provenance serve`).
fn open_source(from: &Path) -> Result<Connection, CliError> {
    if !from.is_file() {
        return Err(source_error(from, "no such file"));
    }
    let conn = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| source_error(from, e))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| source_error(from, e))?;
    if usize::try_from(version).ok() != Some(SCHEMA_VERSION) {
        return Err(source_error(
            from,
            format!(
                "its schema is version {version}, not {SCHEMA_VERSION}: start `provenance serve \
                 --db {}` once with this version to upgrade it",
                from.display()
            ),
        ));
    }
    Ok(conn)
}

/// Locks the target's log and refuses a target that holds anything but an empty log.
fn ensure_empty(tx: &mut Transaction<'_>, to: &str) -> Result<(), CliError> {
    let row = tx
        .query_one(
            "SELECT (SELECT size FROM log_state WHERE id = 1 FOR UPDATE),
                    (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM items)
                    + (SELECT COUNT(*) FROM records) + (SELECT COUNT(*) FROM trust_lists)
                    + (SELECT COUNT(*) FROM log_leaves) + (SELECT COUNT(*) FROM log_nodes)",
            &[],
        )
        .map_err(|e| target_error(to, e))?;
    let size: i64 = row.try_get(0).map_err(|e| target_error(to, e))?;
    let rows: i64 = row.try_get(1).map_err(|e| target_error(to, e))?;
    if size != 0 || rows != 0 {
        return Err(CliError::coded(
            format!(
                "the target database {} already holds a ledger ({size} log leaves, {rows} rows): \
                 migrate only into an empty database",
                redacted(to)
            ),
            CODE_TARGET_NOT_EMPTY,
        ));
    }
    Ok(())
}

/// Copies every table, the log size and the checkpoint.
fn copy_all(
    source: &Connection,
    tx: &mut Transaction<'_>,
    from: &Path,
    to: &str,
) -> Result<Copied, CliError> {
    let mut rows = Vec::new();
    for table in TABLES {
        let n = copy_table(source, tx, table, from, to)?;
        rows.push((table.name, n));
    }
    let leaves = rows
        .iter()
        .find(|(t, _)| *t == "log_leaves")
        .map_or(0, |(_, n)| *n);
    let size = i64::try_from(leaves).map_err(|e| source_error(from, e))?;
    tx.execute("UPDATE log_state SET size = $1 WHERE id = 1", &[&size])
        .map_err(|e| target_error(to, e))?;
    let checkpoint = read_stored(source).map_err(|e| source_error(from, e))?;
    tx.execute("DELETE FROM log_checkpoint", &[])
        .map_err(|e| target_error(to, e))?;
    if let Some(cp) = &checkpoint {
        let size = i64::try_from(cp.size).map_err(|e| source_error(from, e))?;
        tx.execute(
            "INSERT INTO log_checkpoint (id, size, root, note, signed_at) VALUES (1, $1, $2, $3, $4)",
            &[&size, &&cp.root.0[..], &cp.note, &cp.signed_at],
        )
        .map_err(|e| target_error(to, e))?;
    }
    Ok(Copied {
        rows,
        leaves,
        checkpoint,
    })
}

/// Copies one table row by row; returns the number of rows.
fn copy_table(
    source: &Connection,
    tx: &mut Transaction<'_>,
    table: &Table,
    from: &Path,
    to: &str,
) -> Result<u64, CliError> {
    let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let insert = tx
        .prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            names.join(", "),
            marks.join(", ")
        ))
        .map_err(|e| target_error(to, e))?;
    let mut select = source
        .prepare(&format!(
            "SELECT {} FROM {} ORDER BY rowid",
            names.join(", "),
            table.name
        ))
        .or_else(|_| {
            // WITHOUT ROWID tables (log_nodes) have no rowid; their key orders them.
            source.prepare(&format!("SELECT {} FROM {}", names.join(", "), table.name))
        })
        .map_err(|e| source_error(from, e))?;
    let mut rows = select.query([]).map_err(|e| source_error(from, e))?;
    let mut count = 0u64;
    while let Some(row) = rows.next().map_err(|e| source_error(from, e))? {
        let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(names.len());
        for (i, (name, col)) in table.columns.iter().enumerate() {
            let value: Value = row.get(i).map_err(|e| source_error(from, e))?;
            params.push(convert(value, *col).ok_or_else(|| {
                source_error(
                    from,
                    format!("{}.{name} holds a value of the wrong type", table.name),
                )
            })?);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        tx.execute(&insert, &refs)
            .map_err(|e| target_error(to, e))?;
        count += 1;
    }
    Ok(count)
}

/// A SQLite value as the parameter of a PostgreSQL column (`None`: wrong type or NULL, which
/// no column of the ledger holds).
fn convert(value: Value, col: Col) -> Option<Box<dyn ToSql + Sync>> {
    Some(match (col, value) {
        (Col::Bytes, Value::Blob(b)) => Box::new(b),
        (Col::Text, Value::Text(t)) => Box::new(t),
        (Col::Big, Value::Integer(n)) => Box::new(n),
        (Col::Int, Value::Integer(n)) => Box::new(i32::try_from(n).ok()?),
        (Col::Small, Value::Integer(n)) => Box::new(i16::try_from(n).ok()?),
        _ => return None,
    })
}

/// The source's latest signed checkpoint.
fn read_stored(source: &Connection) -> Result<Option<Stored>, StoreError> {
    use rusqlite::OptionalExtension;
    let row: Option<(i64, Vec<u8>, String, i64)> = source
        .query_row(
            "SELECT size, root, note, signed_at FROM log_checkpoint WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((size, root, note, signed_at)) = row else {
        return Ok(None);
    };
    Ok(Some(Stored {
        size: u64::try_from(size).map_err(|_| StoreError::Corrupt("checkpoint size"))?,
        root: TreeHash::from_slice(&root).map_err(|_| StoreError::Corrupt("checkpoint root"))?,
        note,
        signed_at,
    }))
}

/// The root at the stored checkpoint, recomputed three ways, must be the checkpoint's: from
/// the source's nodes, from the target's nodes, and from every leaf recomputed from the
/// target's record bytes (which also checks each stored leaf hash).
fn check_roots(
    source: &Connection,
    tx: &mut Transaction<'_>,
    copied: &Copied,
    from: &Path,
    to: &str,
) -> Result<(), CliError> {
    let Some(cp) = &copied.checkpoint else {
        return Ok(());
    };
    let mismatch = |what: &str| {
        CliError::coded(
            format!(
                "the log root at the checkpoint of {} leaves {what}: nothing was migrated",
                cp.size
            ),
            codes::LOG_ROOT_MISMATCH,
        )
    };
    let in_source = provenance_core::log::root(&SqliteNodes(source), cp.size)
        .map_err(|e| source_error(from, e))?;
    if in_source != cp.root {
        return Err(mismatch("differs from the source's own tree"));
    }
    let in_target = stored_root(tx, cp.size).map_err(|e| target_error(to, e))?;
    if in_target != cp.root {
        return Err(mismatch("differs in the target's copied tree"));
    }
    audit_target(tx, cp, to).map_err(|e| match e {
        Audited::Root => mismatch("differs when recomputed from the target's records"),
        Audited::Other(e) => e,
    })
}

/// Why [`audit_target`] failed.
enum Audited {
    /// The recomputed leaves do not have the checkpoint's root.
    Root,
    /// Anything else.
    Other(CliError),
}

/// Every leaf up to the checkpoint recomputed from the target's record bytes (and equal to
/// the copied leaf hash), and their root checked against the checkpoint's.
fn audit_target(tx: &mut Transaction<'_>, cp: &Stored, to: &str) -> Result<(), Audited> {
    let fail = |e: &dyn std::fmt::Display| Audited::Other(target_error(to, e));
    let mut audit = Audit::new(
        None,
        TreeHead {
            size: cp.size,
            root: cp.root,
        },
    )
    .map_err(|e| Audited::Other(CliError::coded(e.to_string(), e.code())))?;
    let size = i64::try_from(cp.size).map_err(|e| fail(&e))?;
    let rows = tx
        .query(
            "SELECT l.idx, l.kind, l.id, l.seq, l.hash,
                    CASE l.kind WHEN 1 THEN r.bytes ELSE n.bytes END
             FROM log_leaves l
             LEFT JOIN records r ON l.kind = 1 AND r.item = l.id AND r.seq = l.seq
             LEFT JOIN runs n ON l.kind = 2 AND n.id = l.id
             WHERE l.idx < $1 ORDER BY l.idx",
            &[&size],
        )
        .map_err(|e| fail(&e))?;
    for row in rows {
        let entry = Entry::from_row(&row).map_err(|e| fail(&e))?;
        let bytes = entry.bytes.as_deref().ok_or(Audited::Root)?;
        let leaf = match entry.kind {
            1 => Leaf::Record {
                item: ItemId(entry.id),
                seq: entry.seq,
                bytes,
            },
            2 => Leaf::Run {
                run: RunId(entry.id),
                bytes,
            },
            _ => return Err(fail(&"a leaf of unknown kind")),
        };
        if leaf.hash().0[..] != entry.hash[..] {
            return Err(Audited::Root);
        }
        let idx = entry.idx;
        audit.push(idx, leaf).map_err(audit_error)?;
    }
    audit.finish().map(|_| ()).map_err(audit_error)
}

/// One row of the target's log with the record bytes its leaf commits to.
struct Entry {
    idx: u64,
    kind: i16,
    id: [u8; 16],
    seq: u64,
    hash: Vec<u8>,
    bytes: Option<Vec<u8>>,
}

impl Entry {
    fn from_row(row: &::postgres::Row) -> Result<Entry, String> {
        let text = |e: &dyn std::fmt::Display| e.to_string();
        let id: Vec<u8> = row.try_get(2).map_err(|e| text(&e))?;
        Ok(Entry {
            idx: u64::try_from(row.try_get::<_, i64>(0).map_err(|e| text(&e))?)
                .map_err(|e| text(&e))?,
            kind: row.try_get(1).map_err(|e| text(&e))?,
            id: id
                .try_into()
                .map_err(|_| "a leaf id is not 16 bytes".to_string())?,
            seq: u64::try_from(row.try_get::<_, i64>(3).map_err(|e| text(&e))?)
                .map_err(|e| text(&e))?,
            hash: row.try_get(4).map_err(|e| text(&e))?,
            bytes: row.try_get(5).map_err(|e| text(&e))?,
        })
    }
}

/// An audit failure: a root mismatch, or entries missing or out of order (with its code).
fn audit_error(e: AuditError) -> Audited {
    match e {
        AuditError::RootMismatch { .. } | AuditError::SavedRootMismatch { .. } => Audited::Root,
        other => Audited::Other(CliError::coded(
            format!("the target's log: {other}"),
            other.code(),
        )),
    }
}

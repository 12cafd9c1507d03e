//! The schema: versioned migrations, each in one transaction, under an advisory lock so that
//! two servers starting together do not both migrate.

use postgres::error::SqlState;
use postgres::Client;

use super::conn::PgError;
use crate::store::StoreError;

/// The advisory lock that serializes schema migrations between servers starting together.
const MIGRATION_LOCK: i64 = 0x7072_6f76_656e_0015;

/// Schema migrations, applied in order, each in one transaction; `provenance_schema.version`
/// records how many ran. The tables mirror the SQLite backend's final schema.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, items, records, trust lists and the Merkle log. Trust-list versions and issue
    // times span all of u64: 20-digit zero-padded decimal text in the C collation sorts as the
    // numbers it spells. `log_state` holds the tree size; its row lock serializes appends.
    r#"CREATE TABLE runs (
        id          bytea PRIMARY KEY,
        maker       bytea NOT NULL,
        size        bigint NOT NULL,
        hash        bytea NOT NULL UNIQUE,
        time        bigint NOT NULL,
        bytes       bytea NOT NULL,
        received_at bigint NOT NULL,
        log_index   bigint NOT NULL UNIQUE
    );
    CREATE TABLE items (
        id         bytea PRIMARY KEY,
        run        bytea NOT NULL REFERENCES runs(id),
        edition    bigint NOT NULL,
        maker      bytea NOT NULL,
        head_seq   bigint NOT NULL,
        head_hash  bytea NOT NULL,
        created_at bigint NOT NULL,
        UNIQUE (run, edition)
    );
    CREATE TABLE records (
        item        bytea NOT NULL REFERENCES items(id),
        seq         bigint NOT NULL,
        hash        bytea NOT NULL UNIQUE,
        kind        smallint NOT NULL,
        time        bigint NOT NULL,
        signer      bytea NOT NULL,
        bytes       bytea NOT NULL,
        received_at bigint NOT NULL,
        log_index   bigint NOT NULL UNIQUE,
        PRIMARY KEY (item, seq)
    );
    CREATE TABLE trust_lists (
        version     text COLLATE "C" PRIMARY KEY CHECK (version ~ '^[0-9]{20}$'),
        issued_at   text COLLATE "C" NOT NULL CHECK (issued_at ~ '^[0-9]{20}$'),
        bytes       bytea NOT NULL,
        received_at bigint NOT NULL
    );
    CREATE TABLE log_leaves (
        idx  bigint PRIMARY KEY,
        kind smallint NOT NULL,
        id   bytea NOT NULL,
        seq  bigint NOT NULL,
        hash bytea NOT NULL
    );
    CREATE TABLE log_nodes (
        level integer NOT NULL,
        idx   bigint NOT NULL,
        hash  bytea NOT NULL,
        PRIMARY KEY (level, idx)
    );
    CREATE TABLE log_checkpoint (
        id        integer PRIMARY KEY CHECK (id = 1),
        size      bigint NOT NULL,
        root      bytea NOT NULL,
        note      text NOT NULL,
        signed_at bigint NOT NULL
    );
    CREATE TABLE log_state (
        id   integer PRIMARY KEY CHECK (id = 1),
        size bigint NOT NULL
    );
    INSERT INTO log_state (id, size) VALUES (1, 0);"#,
];

/// Runs the pending schema migrations, each in one transaction, under an advisory lock.
pub fn migrate_schema(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS provenance_schema (
             id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)",
        )
        .or_else(|e| {
            // Two servers creating the table at once: one loses with a unique violation on the
            // catalog; the table then exists.
            if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.execute(
            "INSERT INTO provenance_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING",
            &[],
        )?;
        let version: i32 = tx
            .query_one("SELECT version FROM provenance_schema WHERE id = 1", &[])?
            .try_get(0)?;
        let applied =
            usize::try_from(version).map_err(|_| StoreError::Corrupt("negative schema version"))?;
        if applied > MIGRATIONS.len() {
            return Err(PgError::SchemaTooNew {
                found: i64::from(version),
                known: MIGRATIONS.len(),
            }
            .into());
        }
        let Some(sql) = MIGRATIONS.get(applied) else {
            tx.commit()?;
            return Ok(());
        };
        tx.batch_execute(sql)?;
        tx.execute(
            "UPDATE provenance_schema SET version = version + 1 WHERE id = 1",
            &[],
        )?;
        tx.commit()?;
    }
}

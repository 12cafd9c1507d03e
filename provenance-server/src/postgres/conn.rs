//! Connections: the URL, the session settings, error classification (lost connection and
//! contention answer 503, never 500), the per-connection statement cache, and the reader
//! threads that reconnect when their connection is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

use crate::store::StoreError;

/// Times a read is retried on a fresh connection after a lost connection or contention.
const READ_RETRIES: u32 = 5;
/// Session settings of every connection: durable commits, bounded waits (a server frozen inside
/// a transaction loses its session rather than blocking the others forever).
const SESSION: &str = "SET synchronous_commit = on; SET lock_timeout = '5s'; \
     SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s'";

/// A PostgreSQL failure, before it is mapped to a [`StoreError`].
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The `postgres://` URL does not parse.
    #[error("the PostgreSQL URL is not valid: {0}")]
    Url(#[source] postgres::Error),
    /// No connection could be made.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] postgres::Error),
    /// The connection broke (server restarted, network, administrator).
    #[error("the connection to PostgreSQL was lost: {0}")]
    Lost(#[source] postgres::Error),
    /// A lock or statement timeout, a serialization failure or too many connections: retry.
    #[error("PostgreSQL is busy ({code}): {source}")]
    Contention {
        /// The SQLSTATE.
        code: String,
        /// The error.
        #[source]
        source: postgres::Error,
    },
    /// Any other database error.
    #[error("PostgreSQL error: {0}")]
    Query(#[source] postgres::Error),
    /// The database was migrated by a newer program.
    #[error("the database schema is version {found}, newer than this program's {known}")]
    SchemaTooNew {
        /// The stored version.
        found: i64,
        /// The newest version this program knows.
        known: usize,
    },
}

impl PgError {
    /// Classifies a client error: lost connection, contention, or a plain query error.
    pub fn classify(e: postgres::Error) -> Self {
        if e.is_closed() {
            return PgError::Lost(e);
        }
        if let Some(code) = e.code() {
            let lost = [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::CONNECTION_FAILURE,
                SqlState::CONNECTION_EXCEPTION,
            ];
            let busy = [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::QUERY_CANCELED,
                SqlState::TOO_MANY_CONNECTIONS,
            ];
            if lost.contains(code) {
                return PgError::Lost(e);
            }
            if busy.contains(code) {
                return PgError::Contention {
                    code: code.code().to_string(),
                    source: e,
                };
            }
            return PgError::Query(e);
        }
        // No SQLSTATE: an I/O error on the socket is a lost connection.
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if io {
            PgError::Lost(e)
        } else {
            PgError::Query(e)
        }
    }

    /// Whether the request may simply be retried (lost connection or contention).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PgError::Connect(_) | PgError::Lost(_) | PgError::Contention { .. }
        )
    }
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        if e.is_transient() {
            // 503, retry: nothing was stored (or, for a lost COMMIT answer, the retry is an
            // idempotent re-post).
            tracing::warn!("{e}");
            return StoreError::Busy;
        }
        match e {
            PgError::SchemaTooNew { .. } => {
                StoreError::Corrupt("database schema is newer than this program")
            }
            other => StoreError::Io(std::io::Error::other(other)),
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        PgError::classify(e).into()
    }
}

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The URL without its password, for logs and messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Parses a `postgres://` URL (libpq's URL form; a socket directory as a percent-encoded host).
pub fn parse_url(url: &str) -> Result<Config, PgError> {
    let mut config: Config = url.parse().map_err(PgError::Url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("provenance");
    }
    Ok(config)
}

/// Prepared statements of one connection, by their SQL text.
pub(super) type Cache = HashMap<&'static str, Statement>;

/// A connection and its prepared statements.
pub struct Conn {
    pub(super) client: Client,
    pub(super) cache: Cache,
}

impl Conn {
    /// The statements of this connection outside a transaction.
    pub(super) fn db(&mut self) -> Db<'_, Client> {
        Db {
            c: &mut self.client,
            cache: &mut self.cache,
        }
    }
}

/// Opens a connection with the session settings (durable commits, bounded lock and statement
/// waits).
pub fn connect(config: &Config) -> Result<Conn, PgError> {
    let mut client = config.connect(NoTls).map_err(PgError::Connect)?;
    client.batch_execute(SESSION).map_err(PgError::classify)?;
    Ok(Conn {
        client,
        cache: HashMap::new(),
    })
}

/// Statements over a client or a transaction, prepared once per connection.
pub(super) struct Db<'a, C: GenericClient> {
    /// The client or transaction the statements run on.
    pub(super) c: &'a mut C,
    /// The connection's prepared statements.
    pub(super) cache: &'a mut Cache,
}

/// Statement parameters.
pub(super) type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Db<'_, C> {
    pub(super) fn stmt(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql)?;
        self.cache.insert(sql, s.clone());
        Ok(s)
    }

    pub(super) fn opt(
        &mut self,
        sql: &'static str,
        p: &Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let s = self.stmt(sql)?;
        Ok(self.c.query_opt(&s, p)?)
    }

    pub(super) fn one(&mut self, sql: &'static str, p: &Params<'_>) -> Result<Row, StoreError> {
        let s = self.stmt(sql)?;
        Ok(self.c.query_one(&s, p)?)
    }

    pub(super) fn all(
        &mut self,
        sql: &'static str,
        p: &Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let s = self.stmt(sql)?;
        Ok(self.c.query(&s, p)?)
    }

    pub(super) fn exec(&mut self, sql: &'static str, p: &Params<'_>) -> Result<u64, StoreError> {
        let s = self.stmt(sql)?;
        Ok(self.c.execute(&s, p)?)
    }
}

/// A read job, run on a reader thread.
pub(super) type Job = Box<dyn FnOnce(&mut Reader) + Send>;

/// Starts `threads` reader threads sharing one queue of jobs; each opens its connection on
/// first use. The threads end when the returned sender is dropped.
pub(super) fn spawn_readers(
    config: &Config,
    threads: usize,
) -> Result<std::sync::mpsc::Sender<Job>, StoreError> {
    let (jobs, queue) = std::sync::mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..threads {
        let mut reader = Reader {
            config: config.clone(),
            conn: None,
        };
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("ledger-reader-{n}"))
            .spawn(move || loop {
                let job = match queue.lock() {
                    Ok(q) => q.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(&mut reader),
                    Err(_) => return,
                }
            })?;
    }
    Ok(jobs)
}

/// A reader thread's connection, opened on first use and replaced when lost.
pub(super) struct Reader {
    config: Config,
    conn: Option<Conn>,
}

impl Reader {
    /// Runs a read; a lost connection is dropped and the read retried on a fresh one (reads are
    /// idempotent), as is contention.
    pub(super) fn run<T>(
        &mut self,
        f: &dyn Fn(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        loop {
            if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
                self.conn = None;
                match connect(&self.config) {
                    Ok(c) => self.conn = Some(c),
                    Err(e) if attempt < READ_RETRIES => {
                        attempt += 1;
                        tracing::debug!("read retried ({attempt}): {e}");
                        std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            let result = f(conn);
            if conn.client.is_closed() {
                self.conn = None;
            }
            match result {
                Err(StoreError::Busy) if attempt < READ_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
                }
                other => return other,
            }
        }
    }
}

//! The `provenance` command line: every command of DESIGN.md §6 and the offline ones of issue
//! 14, one module per family of commands. This module parses, builds the context every command
//! shares (`Ctx`: the ledger client, JSON or sentences, the outbox's home) and dispatches.
//!
//! | module | commands |
//! | --- | --- |
//! | [`args`] | clap's types for all of them |
//! | `trust` | `keygen`, `trust add`, `trust export` |
//! | `mint` | `run create`, `mint` (labels, offline mints) |
//! | `records` | `repair`, `transfer`, `badge`, `report`, `prove` |
//! | `recovery` | `keygen --recovery`, `receive-code`, `recover` (owner-key recovery) |
//! | `show` | `show` |
//! | `payload` | `payload`, `qr` |
//! | `export` | `export` |
//! | `audit` | `log checkpoint`, `log verify` |
//! | `stats` | `stats` (drop KPIs) |
//! | `migrate` | `migrate` (SQLite to PostgreSQL) |
//!
//! `serve` is [`crate::server`]; `pull`, `sync` and `outbox` are [`crate::offline`].

use std::path::PathBuf;

use clap::Parser;
use provenance_core::codes;
use provenance_core::Record;

use crate::client::{CliError, Client};
use crate::drops::access::{StatsAccess, StatsToken};
use crate::parse::parse_public;
use crate::server::{serve, ServeOptions};

pub mod args;
mod audit;
mod export;
mod migrate;
mod mint;
pub mod output;
mod payload;
mod records;
mod recovery;
mod show;
mod stats;
mod trust;

pub use args::*;
pub use mint::edition_ranges;

use audit::{log_checkpoint, log_verify};
use export::export;
use migrate::migrate;
use mint::{mint, run_create};
use payload::{payload_command, qr_command};
use records::{badge_many, prove, pull, repair, report, transfer};
use show::show;
use stats::stats;
use trust::{keygen, trust_add, trust_export};

/// What every command shares: the ledger client, the output mode, the outbox's home.
pub(super) struct Ctx {
    client: Client,
    json: bool,
    /// `$PROVENANCE_HOME`: the offline outbox and cached heads.
    home: PathBuf,
}

impl Ctx {
    /// The ledger's public URL (`serve --public-url`), as its trust view names it: labels and
    /// QR codes then hold label URLs `<public url>/v#PV1:…` (spec §7.5); `None` if it has none.
    fn public_url(&self) -> Result<Option<String>, CliError> {
        Ok(self
            .client
            .get::<crate::api::TrustView>("/v1/trust")?
            .public_url)
    }

    /// Prints the sentences, or with `--json` the answer as one line of JSON.
    fn print<T: serde::Serialize>(&self, human: impl FnOnce() -> String, machine: &T) {
        crate::offline::print(self.json, human, machine);
    }
}

/// How a command that succeeded ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done: a write is on the ledger (or was queued on purpose with `--offline`).
    Done,
    /// The ledger could not be reached and a write was only queued in the outbox
    /// (exit status [`EXIT_QUEUED`]).
    Queued,
}

impl Outcome {
    /// Both outcomes together: queued if either is.
    pub fn and(self, other: Outcome) -> Outcome {
        if self == Outcome::Queued || other == Outcome::Queued {
            Outcome::Queued
        } else {
            Outcome::Done
        }
    }
}

/// Exit status of a sync that left conflicts or quarantined records in the outbox.
pub const EXIT_CONFLICT: i32 = 3;
/// Exit status of `mint`, `repair`, `transfer`, `badge` or `report` without `--offline` when
/// the ledger was unreachable and the record was only queued in the outbox.
pub const EXIT_QUEUED: i32 = 4;

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(Outcome::Done) => 0,
        Ok(Outcome::Queued) => EXIT_QUEUED,
        Err(e) => {
            if json {
                let output = output::ErrorOutput {
                    error: &e.message,
                    code: e.code,
                    status: e.status,
                };
                println!("{}", serde_json::to_string(&output).unwrap_or_default());
            }
            // Messages may quote a ledger's words: escaped again here, whatever built them.
            eprintln!("error: {}", crate::client::from_ledger(&e.to_string()));
            if e.code == Some(crate::offline::CODE_CONFLICT)
                || e.code == Some(crate::offline::CODE_QUARANTINED)
            {
                EXIT_CONFLICT
            } else {
                1
            }
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    let ctx = Ctx {
        client: Client::new(&cli.server_url()),
        json: cli.json,
        home: crate::outbox::Outbox::default_home(),
    };
    let done = match cli.command {
        Command::Serve(a) => serve(ServeOptions {
            db: a.db,
            listen: a.listen,
            ledger_key: a.ledger_key,
            operator: a.operator.as_deref().map(parse_public).transpose()?,
            workers: a.workers,
            origin: a.origin,
            public_url: a.public_url,
            limits: crate::admission::Limits {
                per_peer: a.max_connections_per_peer.max(1),
                total: a.max_connections.max(1),
                head_timeout: std::time::Duration::from_secs(a.head_timeout.max(1)),
                body_timeout: std::time::Duration::from_secs(a.body_timeout.max(1)),
                streams: crate::drops::budget::StreamLimits {
                    per_peer: a.max_streams_per_peer,
                    total: a.max_streams,
                    lifetime: a.stream_lifetime,
                },
                heavy_renders: a.max_heavy_renders,
            },
            wal: a.wal_limit,
            stats: stats_access(&a.stats, a.stats_token_file.as_deref())?,
        }),
        Command::Keygen {
            out,
            recovery: false,
        } => keygen(&ctx, &out),
        Command::Keygen {
            out,
            recovery: true,
        } => recovery::keygen_with_recovery(&ctx, &out),
        Command::ReceiveCode(a) => recovery::receive_code(&ctx, &a),
        Command::Recover(a) => return recovery::recover(&ctx, a),
        Command::Trust(TrustCommand::Add(a)) => trust_add(&ctx, a),
        Command::Trust(TrustCommand::Export { out }) => trust_export(&ctx, &out),
        Command::Run(RunCommand::Create(a)) => run_create(&ctx, a),
        Command::Mint(a) => return mint(&ctx, a),
        Command::Repair(a) => return repair(&ctx, a),
        Command::Transfer(a) => return transfer(&ctx, a),
        Command::Badge(a) => return badge_many(&ctx, a),
        Command::Report(a) => return report(&ctx, a),
        Command::Pull { items, run } => pull(&ctx, &items, run.as_deref()),
        Command::Sync { key } => crate::offline::sync(&ctx.client, &ctx.home, ctx.json, &key),
        Command::Outbox { action: None } => crate::offline::list(&ctx.client, &ctx.home, ctx.json),
        Command::Outbox {
            action: Some(OutboxCommand::Retry { id, all }),
        } => crate::offline::retry(&ctx.home, ctx.json, id.filter(|_| !all)),
        Command::Outbox {
            action: Some(OutboxCommand::Drop { id, yes }),
        } => crate::offline::drop_entry(&ctx.home, ctx.json, id, yes),
        Command::Show { item } => show(&ctx, &item),
        Command::Qr(a) => qr_command(&ctx, a),
        Command::Payload(a) => payload_command(&ctx, &a),
        Command::Prove(a) => prove(&ctx, a),
        Command::Export { item, out, trust } => export(&ctx, &item, &out, trust.as_deref()),
        Command::Log(LogCommand::Checkpoint { save, key }) => log_checkpoint(&ctx, save, &key),
        Command::Log(LogCommand::Verify { since, save, key }) => {
            log_verify(&ctx, &since, save, &key)
        }
        Command::Stats(a) => stats(&ctx, &a),
        Command::Migrate { from, to } => migrate(&ctx, &from, &to),
    };
    done.map(|()| Outcome::Done)
}

/// Refuses, before signing, text no verifier would accept (spec §3).
pub(super) fn refuse_bad_text(record: &Record) -> Result<(), CliError> {
    record.check_text().map_err(|e| {
        CliError::coded(
            format!("{e}: signed text may not hold control or bidirectional characters (spec §3)"),
            codes::DECODE_BAD_TEXT,
        )
    })
}

/// `serve --stats` and `--stats-token-file` as the ledger's [`StatsAccess`]: a token file
/// without `--stats token`, or `--stats token` without a file, is a mistake said at start.
fn stats_access(mode: &str, token_file: Option<&std::path::Path>) -> Result<StatsAccess, CliError> {
    match (mode == "token", token_file) {
        (false, None) => Ok(StatsAccess::Public),
        (false, Some(_)) => Err(CliError::msg(
            "--stats-token-file is given but --stats is public: add --stats token to keep the \
             drop figures for the token's holders",
        )),
        (true, None) => Err(CliError::msg(
            "--stats token needs --stats-token-file FILE (its first line is the token)",
        )),
        (true, Some(path)) => {
            let token = StatsToken::from_file(path).map_err(|e| CliError::io(e.to_string()))?;
            warn_if_others_read(path);
            Ok(StatsAccess::Token(token))
        }
    }
}

/// Warns (on stderr, without the token) when others than the file's owner may read it.
fn warn_if_others_read(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: the stats token file {} may be read by others than its owner \
                 (chmod 600 it)",
                path.display()
            );
        }
    }
}

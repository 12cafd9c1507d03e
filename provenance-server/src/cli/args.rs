//! The command line's shape: clap's types for every command and option, with the examples
//! each `--help` shows.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::sqlite::WalLimits;

/// Provenance for limited-edition pieces: run the ledger, mint pieces with QR labels, record
/// repairs, transfers, badges and reports, and prove ownership.
#[derive(Debug, Parser)]
#[command(name = "provenance", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The ledger to talk to [env: PROVENANCE_SERVER] [default: http://127.0.0.1:8750].
    // Read from the environment by `Cli::server_url`, not by clap: clap lists an argument
    // taken from the environment in every usage line as if it were required.
    #[arg(short, long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Print machine-readable JSON instead of sentences.
    #[arg(long, global = true)]
    pub json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The ledger a command talks to when neither `--server` nor `PROVENANCE_SERVER` says.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8750";

impl Cli {
    /// The ledger's URL: `--server`, else `PROVENANCE_SERVER`, else [`DEFAULT_SERVER`].
    pub fn server_url(&self) -> String {
        self.server
            .clone()
            .or_else(|| std::env::var("PROVENANCE_SERVER").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_string())
    }
}

const AFTER_HELP: &str = "A maker's first steps:
  provenance keygen --out maker.pem
  provenance run create --key maker.pem --title \"Eclipse Pin\" --microfactory \"Atelier Nord\" --size 3
  provenance mint --key maker.pem --run RUN --count 3 --labels labels/
The ledger operator must first add the maker's key: provenance trust add --help";

/// Examples shown under each subcommand's `--help`.
mod examples {
    pub const SERVE: &str = "Examples:
  provenance serve                  a ledger on 127.0.0.1:8750 with provenance.db and ledger.pem
  provenance serve --listen 0.0.0.0:8750 --origin ledger.example/log --db /var/lib/provenance/ledger.db
  provenance serve --stats token --stats-token-file stats-token     drop figures for the operator only";
    pub const KEYGEN: &str = "Examples:
  provenance keygen -o maker.pem    prints the public key to give the ledger operator
  provenance keygen --recovery -o bob.pem     a collector's key, its recovery key and sheet, and the receive code";
    pub const RECEIVE_CODE: &str = "Examples:
  provenance receive-code -k bob.pem -r bob.recovery.pem    the text (and QR) a seller's transfer names";
    pub const RECOVER: &str = "Examples:
  provenance keygen --recovery -o bob2.pem
  provenance recover $ITEM --recovery-key bob.recovery.pem --new-key bob2.pem --new-recovery bob2.recovery.pem";
    pub const TRUST_ADD: &str = "Examples:
  provenance trust add --public maker.pem --role maker --name \"Karim Studio\"
  provenance trust add --operator-key operator.pem --public desk.pem --role repairer --name \"Fix-It Desk\"
  provenance trust add --public maker.pem --role maker --name \"Karim Studio\" --revoke-at 2026-12-01";
    pub const RUN_CREATE: &str = "Examples:
  RUN=$(provenance run create -k maker.pem --title \"Eclipse Pin\" --microfactory Northside --place Leeds --size 30)";
    pub const MINT: &str = "Examples:
  provenance mint -k maker.pem --run $RUN -n 3 --labels labels > items.txt
  provenance mint -k maker.pem --run $RUN --owner alice.pem     the first owner is Alice, not the maker";
    pub const REPAIR: &str = "Examples:
  provenance repair $ITEM -k desk.pem --note \"replaced the clasp\" --part clasp";
    pub const TRANSFER: &str = "Examples:
  provenance transfer $ITEM -k alice.pem --to bob.pem          or --to with Bob's base64url public key
  provenance transfer $ITEM -k alice.pem --to PVK1:...         Bob's receive code (his key and recovery commitment)";
    pub const BADGE: &str = "Examples:
  provenance badge $ITEM -k host.pem --event \"Leeds Makers Fair 2026\" --place Leeds
  provenance badge --offline -k host.pem --event \"Night Market\" --from door.txt     one piece per line
  provenance badge --offline -k host.pem --event \"Night Market\" --image a.jpg --image b.jpg";
    pub const REPORT: &str = "Examples:
  provenance report $ITEM -k bob.pem --stolen
  provenance report $ITEM -k bob.pem --recovered
  provenance report $ITEM -k maker.pem --void                 the maker withdraws a misprint
  provenance report $ITEM -k bob.recovery.pem --by-recovery-key --stolen    the phone with bob.pem was taken";
    pub const PULL: &str = "Examples:
  provenance pull --run $RUN          before a market: every piece of the run, for offline badges
  provenance pull $ITEM1 $ITEM2";
    pub const SYNC: &str = "Examples:
  provenance sync                     when the network is back; exit 3 if records stay in conflict
                                      or quarantined, 1 if some stay queued to retry later
  provenance sync -k host.pem         re-sign moved badges with this key";
    pub const OUTBOX: &str = "Examples:
  provenance outbox                   every entry: id, state, item, kind, seq, reason [code]
  provenance outbox retry 7           queue entry 7 again after fixing what it conflicted with
  provenance outbox retry --all       every conflict again, and transient waits reset
  provenance outbox drop 7            remove entry 7 for good (asks first; --yes to skip)";
    pub const SHOW: &str = "Examples:
  provenance show $ITEM
  provenance show $ITEM --json";
    pub const QR: &str = "Examples:
  provenance qr $ITEM -o item.png          the living QR: the mint and the ledger's head statement
  provenance qr $ITEM --terminal";
    pub const PROVE: &str = "Examples:
  provenance prove $ITEM -k bob.pem --challenge market-nonce-7      works offline; prints the answer";
    pub const EXPORT: &str = "Examples:
  provenance export $ITEM -o history.cbor && provenance-verify --trust trust.cbor --file history.cbor";
    pub const LOG_CHECKPOINT: &str = "Examples:
  provenance log checkpoint --save checkpoint.txt";
    pub const LOG_VERIFY: &str = "Examples:
  provenance log verify --since checkpoint.txt --save checkpoint.txt";
    pub const MIGRATE: &str = "Examples:
  provenance migrate --from provenance.db --to postgres://ledger@db.internal:5432/provenance
  provenance serve --db postgres://ledger@db.internal:5432/provenance --ledger-key ledger.pem --origin ledger.example";
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ledger service (creates the database and the ledger key on first start).
    #[command(after_help = examples::SERVE)]
    Serve(ServeArgs),
    /// Make a new Ed25519 key pair; writes the private key (PKCS#8 PEM, mode 0600) and prints the public key and key id.
    #[command(after_help = examples::KEYGEN)]
    Keygen {
        /// Where to write the private key (must not exist).
        #[arg(short, long, value_name = "FILE.pem")]
        out: PathBuf,
        /// Also make the owner key's recovery key (FILE.recovery.pem) and its printable
        /// recovery sheet (FILE.recovery.png), and print the receive code (spec §3.1).
        #[arg(long)]
        recovery: bool,
    },
    /// Print the receive code a seller's `transfer --to` takes: an owner key and the
    /// commitment to its recovery key.
    #[command(after_help = examples::RECEIVE_CODE)]
    ReceiveCode(ReceiveCodeArgs),
    /// Move a piece whose owner key was lost to a new key, signed by the recovery key the
    /// ownership committed to (spec §3.1).
    #[command(after_help = examples::RECOVER)]
    Recover(RecoverArgs),
    /// Manage the operator-signed trust list (who may mint, repair and badge).
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Production runs.
    #[command(subcommand)]
    Run(RunCommand),
    /// Mint pieces of a run (the next free edition numbers) and write their QR labels.
    #[command(after_help = examples::MINT)]
    Mint(MintArgs),
    /// Record a repair (signed by a trusted repair desk).
    #[command(after_help = examples::REPAIR)]
    Repair(RepairArgs),
    /// Hand the piece to a new owner (signed by the current owner).
    #[command(after_help = examples::TRANSFER)]
    Transfer(TransferArgs),
    /// Record an attendance badge (signed by a trusted event host).
    #[command(after_help = examples::BADGE)]
    Badge(BadgeArgs),
    /// Report the piece stolen or recovered (owner), or void it (maker).
    #[command(after_help = examples::REPORT)]
    Report(ReportArgs),
    /// Tell a piece's story in plain words.
    #[command(after_help = examples::SHOW)]
    Show {
        /// The item id.
        item: String,
    },
    /// Render the piece's current QR payload.
    #[command(after_help = examples::QR)]
    Qr(QrArgs),
    /// Print the piece's payload string (`PV1:...`), to paste into `provenance-verify` or a chat.
    #[command(after_help = "Examples:
  provenance payload ITEM                 the living payload: mint + the ledger's head statement
  provenance payload ITEM --label         the printed label's payload (the mint alone)
  provenance-verify --trust trust.cbor \"$(provenance payload ITEM)\"")]
    Payload(PayloadArgs),
    /// Cache items' heads (and a run) for offline work at an event: `pull ITEM...`, `pull --run RUN`.
    #[command(after_help = examples::PULL)]
    Pull {
        /// Items to cache.
        items: Vec<String>,
        /// Cache this run (for offline mints) and every item minted in it.
        #[arg(long)]
        run: Option<String>,
    },
    /// Send the outbox to the ledger, in order; safe to run any time, twice, or after a crash.
    #[command(after_help = examples::SYNC)]
    Sync {
        /// Keys to re-sign queued repairs and badges with when the item moved on (default: the
        /// key file each record was signed with). Repeat for several.
        #[arg(short, long, value_name = "FILE.pem")]
        key: Vec<PathBuf>,
    },
    /// List the records waiting in the outbox, in conflict or quarantined, with their reasons; `retry` or `drop` them.
    #[command(after_help = examples::OUTBOX)]
    Outbox {
        /// What to do with the outbox (default: list it).
        #[command(subcommand)]
        action: Option<OutboxCommand>,
    },
    /// Answer a buyer's challenge as the current owner (works offline).
    #[command(after_help = examples::PROVE)]
    Prove(ProveArgs),
    /// Write the piece's full history (every record, the run manifest, a head statement and the log anchor) to a file for offline verification; it is verified before it is written.
    #[command(after_help = examples::EXPORT)]
    Export {
        /// The item id.
        item: String,
        /// Where to write the history file (CBOR).
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
        /// Verify against this trust list file instead of the ledger's current one.
        #[arg(long, value_name = "FILE")]
        trust: Option<PathBuf>,
    },
    /// Audit the ledger's Merkle log: fetch and verify checkpoints, prove the log was only appended to.
    #[command(subcommand)]
    Log(LogCommand),
    /// Drop KPIs of a run or a maker (sold, stock, sell-through, repairs, badges, repeat collectors).
    Stats(StatsArgs),
    /// Copy a SQLite ledger into an empty PostgreSQL database (stop the server first), then check that the log root at the stored checkpoint is unchanged; nothing is written unless it is.
    #[command(after_help = examples::MIGRATE)]
    Migrate {
        /// The SQLite ledger to copy (opened read-only).
        #[arg(long, value_name = "FILE", default_value = "provenance.db")]
        from: PathBuf,
        /// The empty PostgreSQL database: postgres://USER@HOST:PORT/DB.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `outbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Queue a conflicted entry again (or every one with --all), due at once; a quarantined entry only if it now verifies.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Retry {
        /// The entry's id, as `provenance outbox` lists it.
        id: Option<i64>,
        /// Every conflicted, quarantined or waiting entry.
        #[arg(long)]
        all: bool,
    },
    /// Remove an entry for good, never sent (asks for confirmation on a terminal).
    Drop {
        /// The entry's id, as `provenance outbox` lists it.
        id: i64,
        /// Do not ask: drop it.
        #[arg(long)]
        yes: bool,
    },
}

/// `log` subcommands.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Fetch the ledger's latest signed checkpoint and verify its signature with the ledger key.
    #[command(after_help = examples::LOG_CHECKPOINT)]
    Checkpoint {
        /// Save the verified checkpoint note here (for a later `log verify --since`).
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        /// Where the ledger key comes from.
        #[command(flatten)]
        key: LedgerKeyArgs,
    },
    /// Prove that the current log extends a checkpoint saved earlier (consistency proof) and
    /// audit every leaf: recompute its hash from the record bytes and the tree's roots.
    #[command(after_help = examples::LOG_VERIFY)]
    Verify {
        /// A checkpoint note saved earlier with `log checkpoint --save`.
        #[arg(long, value_name = "SAVED_CHECKPOINT")]
        since: PathBuf,
        /// Save the current checkpoint here once everything verified.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        /// Where the ledger key comes from.
        #[command(flatten)]
        key: LedgerKeyArgs,
    },
}

/// Where the ledger key that signs checkpoints comes from.
#[derive(Debug, Args)]
pub struct LedgerKeyArgs {
    /// Pin the ledger's public key (base64url or key file) instead of reading it from a trust list.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub ledger_key: Option<String>,
    /// Read the ledger key from this trust list file (default: the ledger's own trust list).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
}

/// `serve` options.
#[derive(Debug, Args)]
#[allow(rustdoc::bare_urls)] // the field docs are also the --help text, where links stay plain
pub struct ServeArgs {
    /// The SQLite database (created with its schema on first start), or a PostgreSQL database
    /// as postgres://USER@HOST:PORT/DB that several servers may share (docs/DEPLOY.md).
    #[arg(long, default_value = "provenance.db")]
    pub db: PathBuf,
    /// Address and port to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8750")]
    pub listen: String,
    /// The ledger's private key (PKCS#8 PEM; created with mode 0600 if missing).
    #[arg(long, default_value = "ledger.pem")]
    pub ledger_key: PathBuf,
    /// The trust-list operator's public key (default: the ledger key's public key).
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub operator: Option<String>,
    /// HTTP worker threads (default: one per CPU core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// The log's name on the first line of every signed checkpoint, also the signature's key
    /// name (default: the address actually listened on, e.g. 127.0.0.1:8750).
    #[arg(long)]
    pub origin: Option<String>,
    /// Where collectors reach this ledger, e.g. https://ledger.example: printed labels then
    /// hold https://ledger.example/v#PV1:..., which a phone camera opens in the web verifier.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Open connections one client address may hold; more get 429 and are closed.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_connections_per_peer: usize,
    /// Open connections in all; more get 503 (except /healthz) and are closed.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds for a request's headers to arrive.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub head_timeout: u64,
    /// Seconds for a request's body to arrive; slower gets 408 and is closed.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub body_timeout: u64,
    /// Open dashboard event streams one client address may hold (IPv6: per /64); more get 429
    /// ledger.too_many_streams. Streams do not count against --max-connections-per-peer.
    /// Behind a reverse proxy every client is the proxy's address (docs/DEPLOY.md).
    #[arg(long, value_name = "N", default_value = "16")]
    pub max_streams_per_peer: crate::drops::budget::StreamsPerPeer,
    /// Open dashboard event streams in all; more get 503 ledger.streams_full.
    #[arg(long, value_name = "N", default_value = "1024")]
    pub max_streams: crate::drops::budget::StreamsTotal,
    /// Seconds one dashboard event stream lasts; then it ends with a retry hint and the
    /// browser reconnects.
    #[arg(long, value_name = "SECS", default_value = "300")]
    pub stream_lifetime: crate::drops::budget::StreamLifetime,
    /// Uncached heavy page renders (run sheets, label QR codes) at once, each off the HTTP
    /// workers; more get 503 ledger.pages_busy with Retry-After.
    #[arg(long, value_name = "N", default_value = "2")]
    pub max_heavy_renders: crate::drops::budget::HeavyRenders,
    /// SQLite: the WAL file's size bound in MiB, at least 16 (checkpoints restart the WAL from
    /// a quarter of it; appends wait for a restart at half).
    #[arg(long = "wal-limit-mib", value_name = "MIB", default_value = "64", value_parser = parse_wal_limit)]
    pub wal_limit: WalLimits,
    /// Who may read the drop figures (stats JSON/CSV, dashboards, run-sheet figures): public,
    /// or token (only requests with the token of --stats-token-file). The log, items, exports
    /// and /v stay public either way (spec §15).
    #[arg(long, value_name = "WHO", value_parser = ["public", "token"], default_value = "public")]
    pub stats: String,
    /// With --stats token: the file whose first line is the token (16 to 512 visible ASCII
    /// characters, e.g. head -c 32 /dev/urandom | base64 > stats-token).
    #[arg(long, value_name = "FILE")]
    pub stats_token_file: Option<PathBuf>,
}

/// `--wal-limit-mib`: a whole number of MiB, at least 16.
fn parse_wal_limit(text: &str) -> Result<WalLimits, String> {
    let mib: u64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of MiB"))?;
    WalLimits::with_max_mib(mib).ok_or_else(|| {
        format!(
            "{mib} MiB is below the smallest WAL bound, {} MiB",
            crate::sqlite::MIN_WAL_MAX_BYTES >> 20
        )
    })
}

/// `trust` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Add (or update) a trusted key: fetches the current list, adds the entry, signs the next version with the operator key and posts it.
    #[command(after_help = examples::TRUST_ADD)]
    Add(TrustAddArgs),
    /// Write the current signed trust list to a file for offline verifiers.
    Export {
        /// Where to write it.
        #[arg(short, long, value_name = "FILE", default_value = "trust.cbor")]
        out: PathBuf,
    },
}

/// `run` subcommands.
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Register a production run (signed by a trusted maker); prints the run id.
    #[command(after_help = examples::RUN_CREATE)]
    Create(RunCreateArgs),
}

/// `trust add`.
#[derive(Debug, Args)]
pub struct TrustAddArgs {
    /// The operator's private key (on a one-person ledger, the ledger's own key).
    #[arg(long, value_name = "FILE.pem", default_value = "ledger.pem")]
    pub operator_key: PathBuf,
    /// The key to trust: base64url public key, or a key file.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub public: String,
    /// What it may sign: maker (runs, mints, void), repairer (repairs) or host (badges).
    #[arg(long, value_parser = ["maker", "repairer", "host"])]
    pub role: String,
    /// Display name shown to collectors, e.g. "Karim Studio".
    #[arg(long)]
    pub name: String,
    /// Records dated before this are refused (default: now, or the existing entry's).
    #[arg(long, value_name = "TIME")]
    pub valid_from: Option<String>,
    /// Records dated at or after this are refused (planned end).
    #[arg(long, value_name = "TIME")]
    pub valid_until: Option<String>,
    /// Revoke the key: records dated at or after this are refused.
    #[arg(long, value_name = "TIME")]
    pub revoke_at: Option<String>,
}

/// `run create`.
#[derive(Debug, Args)]
pub struct RunCreateArgs {
    /// The maker's private key.
    #[arg(short, long, value_name = "FILE.pem")]
    pub key: PathBuf,
    /// The run's title, printed on every label.
    #[arg(long)]
    pub title: String,
    /// The microfactory's name.
    #[arg(long)]
    pub microfactory: String,
    /// Edition size N.
    #[arg(long)]
    pub size: u64,
    /// Where the microfactory is.
    #[arg(long, default_value = "")]
    pub place: String,
    /// Length of the production window in days, starting now.
    #[arg(long, default_value_t = 365)]
    pub window_days: u64,
}

/// `mint` options.
#[derive(Debug, Args)]
pub struct MintArgs {
    /// The maker's private key.
    #[arg(short, long, value_name = "FILE.pem")]
    pub key: PathBuf,
    /// The run id.
    #[arg(long)]
    pub run: String,
    /// How many pieces to mint (at least 1).
    #[arg(short = 'n', long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// First owner's public key or key file (default: the maker).
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub owner: Option<String>,
    /// Write labels here: N-SHORTID.svg and .png per piece, plus A4 sheets.
    #[arg(long, value_name = "DIR")]
    pub labels: Option<PathBuf>,
    /// Sign against the last head `provenance pull` cached and queue it in the outbox,
    /// without contacting the ledger (also done automatically when it is unreachable).
    #[arg(long)]
    pub offline: bool,
}

/// `repair` options.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The item id.
    pub item: String,
    /// The repair desk's private key.
    #[arg(short, long, value_name = "FILE.pem")]
    pub key: PathBuf,
    /// What was done.
    #[arg(long)]
    pub note: String,
    /// A part replaced (repeat for several).
    #[arg(long = "part", value_name = "TEXT")]
    pub parts: Vec<String>,
    /// Sign against the last head `provenance pull` cached and queue it in the outbox,
    /// without contacting the ledger (also done automatically when it is unreachable).
    #[arg(long)]
    pub offline: bool,
}

/// `transfer` options.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The item id.
    pub item: String,
    /// The current owner's private key.
    #[arg(short, long, value_name = "FILE.pem")]
    pub key: PathBuf,
    /// The new owner: a receive code (`PVK1:...`, key and recovery commitment), a public key,
    /// or a key file.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub to: String,
    /// Sign against the last head `provenance pull` cached and queue it in the outbox,
    /// without contacting the ledger (also done automatically when it is unreachable).
    #[arg(long)]
    pub offline: bool,
}

/// `receive-code` options.
#[derive(Debug, Args)]
pub struct ReceiveCodeArgs {
    /// The owner key (private key file, or its public key).
    #[arg(short, long, value_name = "FILE.pem")]
    pub key: String,
    /// Its recovery key (private key file, or its public key); without it the code commits to
    /// none and a lost owner key cannot be recovered.
    #[arg(short, long, value_name = "FILE.recovery.pem")]
    pub recovery: Option<String>,
}

/// `recover` options.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The item id.
    pub item: String,
    /// The recovery key the current ownership committed to (FILE.recovery.pem).
    #[arg(long, value_name = "FILE.recovery.pem")]
    pub recovery_key: PathBuf,
    /// The new owner key (private key file, its public key, or a receive code).
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub new_key: String,
    /// The new owner key's own recovery key (or its public key), committed to by the recover.
    #[arg(long, value_name = "FILE.recovery.pem")]
    pub new_recovery: Option<String>,
    /// Sign against the last head `provenance pull` cached and queue it in the outbox,
    /// without contacting the ledger (also done automatically when it is unreachable).
    #[arg(long)]
    pub offline: bool,
}

/// `badge` options.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("pieces").required(true).multiple(true).args(["items", "from", "image"])))]
pub struct BadgeArgs {
    /// The pieces: item ids, label payloads (`PV1:...`) or label URLs (`https://.../v#PV1:...`).
    pub items: Vec<String>,
    /// Read pieces from this file, one per line (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Photos of labels (PNG or JPEG), one piece each.
    #[arg(long, value_name = "FILE")]
    pub image: Vec<PathBuf>,
    /// The event host's private key.
    #[arg(short, long, value_name = "FILE.pem")]
    pub key: PathBuf,
    /// The event's name.
    #[arg(long)]
    pub event: String,
    /// Where it took place.
    #[arg(long)]
    pub place: Option<String>,
    /// Sign against the last head `provenance pull` cached and queue it in the outbox,
    /// without contacting the ledger (also done automatically when it is unreachable).
    #[arg(long)]
    pub offline: bool,
}

/// `report` options.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("status").required(true).args(["stolen", "recovered", "void"])))]
pub struct ReportArgs {
    /// The item id.
    pub item: String,
    /// The owner's key (stolen, recovered) or the maker's key (void).
    #[arg(short, long, value_name = "FILE.pem")]
    pub key: PathBuf,
    /// The piece was stolen.
    #[arg(long)]
    pub stolen: bool,
    /// The piece is back with its owner.
    #[arg(long)]
    pub recovered: bool,
    /// The maker declares the piece void (misprint, destroyed).
    #[arg(long)]
    pub void: bool,
    /// `--key` is the owner's recovery key, not the owner key: report stolen or recovered
    /// when the owner key is lost or in a thief's hands (spec §3.1).
    #[arg(long, conflicts_with = "void")]
    pub by_recovery_key: bool,
    /// Sign against the last head `provenance pull` cached and queue it in the outbox,
    /// without contacting the ledger (also done automatically when it is unreachable).
    #[arg(long)]
    pub offline: bool,
}

/// `qr` options.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["out", "terminal"])))]
pub struct QrArgs {
    /// The item id.
    pub item: String,
    /// Write to FILE.svg or FILE.png.
    #[arg(short, long, value_name = "FILE.svg|FILE.png")]
    pub out: Option<PathBuf>,
    /// Draw it in the terminal.
    #[arg(long)]
    pub terminal: bool,
}

/// `payload` options.
#[derive(Debug, Args)]
pub struct PayloadArgs {
    /// The item id.
    pub item: String,
    /// The printed label's payload (the mint alone) instead of the living payload.
    #[arg(long)]
    pub label: bool,
}

/// `prove` options.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The item id.
    pub item: String,
    /// The current owner's private key.
    #[arg(short, long, value_name = "FILE.pem")]
    pub key: PathBuf,
    /// The buyer's challenge (1 to 128 bytes of text).
    #[arg(long, value_name = "NONCE", allow_hyphen_values = true)]
    pub challenge: String,
}

/// Arguments of `provenance stats`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("of").required(true).args(["run", "maker"]))]
#[command(after_help = "Examples:
  provenance stats --run RUN               one drop: sold, stock, sell-through, repairs, badges
  provenance stats --maker maker.pem       a maker across runs: repeat collectors, runs over time
  provenance --json stats --run RUN        the ledger's JSON (definitions: spec/kpis.md)
  provenance stats --run RUN --token-file stats-token      a ledger whose figures are private")]
pub struct StatsArgs {
    /// The run id.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// The maker: a public key (base64url) or a key file.
    #[arg(long, value_name = "KEY")]
    pub maker: Option<String>,
    /// The ledger's stats token, for a ledger run with serve --stats token: the file whose
    /// first line it is [env: PROVENANCE_STATS_TOKEN holds the token itself].
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

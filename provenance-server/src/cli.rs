//! The `provenance` command line: clap definitions and every command of DESIGN.md §6,
//! including the log audit (`log checkpoint`, `log verify`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::{ArgGroup, Args, Parser, Subcommand};
use provenance_core::checkpoint::Checkpoint;
use provenance_core::log as tlog;
use provenance_core::{
    challenge, Badge, ChainLink, ErrorCode, History, ItemId, Mint, Payload, PublicKey, Record,
    RecordBody, Repair, ReportStatus, Role, Roles, RunId, RunManifest, SigningKey, Timestamp,
    TrustEntry, TrustList, TrustListContent,
};
use serde_json::{json, Value};

use crate::client::{
    generate_key, parse_item, parse_public, parse_time, read_key, write_key, CliError, Client,
};
use crate::ledger::now;
use crate::qr::{self, LabelText};
use crate::server::{serve, ServeOptions};

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
  provenance serve --listen 0.0.0.0:8750 --origin ledger.example/log --db /var/lib/provenance/ledger.db";
    pub const KEYGEN: &str = "Examples:
  provenance keygen -o maker.pem    prints the public key to give the ledger operator";
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
  provenance transfer $ITEM -k alice.pem --to bob.pem          or --to with Bob's base64url public key";
    pub const BADGE: &str = "Examples:
  provenance badge $ITEM -k host.pem --event \"Leeds Makers Fair 2026\" --place Leeds
  provenance badge --offline -k host.pem --event \"Night Market\" --from door.txt     one piece per line
  provenance badge --offline -k host.pem --event \"Night Market\" --image a.jpg --image b.jpg";
    pub const REPORT: &str = "Examples:
  provenance report $ITEM -k bob.pem --stolen
  provenance report $ITEM -k bob.pem --recovered
  provenance report $ITEM -k maker.pem --void                 the maker withdraws a misprint";
    pub const PULL: &str = "Examples:
  provenance pull --run $RUN          before a market: every piece of the run, for offline badges
  provenance pull $ITEM1 $ITEM2";
    pub const SYNC: &str = "Examples:
  provenance sync                     when the network is back; exit 3 if records stay in conflict
  provenance sync -k host.pem         re-sign moved badges with this key";
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
    },
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
    /// List the records waiting in the outbox and those in conflict, with their reasons.
    Outbox,
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
    /// The SQLite database (created with its schema on first start).
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
}

/// `trust` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Add (or update) a trusted key: fetches the current list, adds the entry, signs the next version with the operator key and posts it.
    #[command(after_help = examples::TRUST_ADD)]
    Add {
        /// The operator's private key (on a one-person ledger, the ledger's own key).
        #[arg(long, value_name = "FILE.pem", default_value = "ledger.pem")]
        operator_key: PathBuf,
        /// The key to trust: base64url public key, or a key file.
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        public: String,
        /// What it may sign: maker (runs, mints, void), repairer (repairs) or host (badges).
        #[arg(long, value_parser = ["maker", "repairer", "host"])]
        role: String,
        /// Display name shown to collectors, e.g. "Karim Studio".
        #[arg(long)]
        name: String,
        /// Records dated before this are refused (default: now, or the existing entry's).
        #[arg(long, value_name = "TIME")]
        valid_from: Option<String>,
        /// Records dated at or after this are refused (planned end).
        #[arg(long, value_name = "TIME")]
        valid_until: Option<String>,
        /// Revoke the key: records dated at or after this are refused.
        #[arg(long, value_name = "TIME")]
        revoke_at: Option<String>,
    },
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
    Create {
        /// The maker's private key.
        #[arg(short, long, value_name = "FILE.pem")]
        key: PathBuf,
        /// The run's title, printed on every label.
        #[arg(long)]
        title: String,
        /// The microfactory's name.
        #[arg(long)]
        microfactory: String,
        /// Edition size N.
        #[arg(long)]
        size: u64,
        /// Where the microfactory is.
        #[arg(long, default_value = "")]
        place: String,
        /// Length of the production window in days, starting now.
        #[arg(long, default_value_t = 365)]
        window_days: u64,
    },
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
    /// The new owner's public key (or key file).
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub to: String,
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

struct Ctx {
    client: Client,
    json: bool,
    /// `$PROVENANCE_HOME`: the offline outbox and cached heads.
    home: PathBuf,
}

impl Ctx {
    fn print(&self, human: impl FnOnce() -> String, machine: Value) {
        let mut out = std::io::stdout().lock();
        let _ = if self.json {
            writeln!(out, "{machine}")
        } else {
            write!(out, "{}", human())
        };
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            if json {
                let v = json!({"error": e.message, "code": e.code, "status": e.status});
                println!("{v}");
            }
            eprintln!("error: {e}");
            if e.code.as_deref() == Some(crate::offline::CODE_CONFLICT) {
                3
            } else {
                1
            }
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Ctx {
        client: Client::new(&cli.server_url()),
        json: cli.json,
        home: crate::outbox::Outbox::default_home(),
    };
    match cli.command {
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
            },
        }),
        Command::Keygen { out } => keygen(&ctx, &out),
        Command::Trust(TrustCommand::Add {
            operator_key,
            public,
            role,
            name,
            valid_from,
            valid_until,
            revoke_at,
        }) => trust_add(
            &ctx,
            &operator_key,
            &public,
            &role,
            name,
            [valid_from, valid_until, revoke_at],
        ),
        Command::Trust(TrustCommand::Export { out }) => trust_export(&ctx, &out),
        Command::Run(RunCommand::Create {
            key,
            title,
            microfactory,
            size,
            place,
            window_days,
        }) => run_create(&ctx, &key, title, microfactory, size, place, window_days),
        Command::Mint(a) => mint(&ctx, a),
        Command::Repair(a) => {
            let body = RecordBody::Repair(Repair {
                note: a.note,
                parts: a.parts,
            });
            append(&ctx, &a.item, &a.key, a.offline, body)
        }
        Command::Transfer(a) => {
            let to = parse_public(&a.to)?;
            append(&ctx, &a.item, &a.key, a.offline, RecordBody::Transfer(to))
        }
        Command::Badge(a) => badge_many(&ctx, a),
        Command::Report(a) => {
            let status = if a.stolen {
                ReportStatus::Stolen
            } else if a.recovered {
                ReportStatus::Recovered
            } else {
                ReportStatus::Void
            };
            append(&ctx, &a.item, &a.key, a.offline, RecordBody::Report(status))
        }
        Command::Pull { items, run } => {
            let items = items
                .iter()
                .map(|i| parse_item(i))
                .collect::<Result<Vec<_>, _>>()?;
            let run = run
                .as_deref()
                .map(|r| {
                    RunId::from_base32(r.trim()).ok_or_else(|| {
                        CliError::coded(format!("{r:?} is not a run id"), "ledger.bad_request")
                    })
                })
                .transpose()?;
            crate::offline::pull(&ctx.client, &ctx.home, ctx.json, &items, run)
        }
        Command::Sync { key } => crate::offline::sync(&ctx.client, &ctx.home, ctx.json, &key),
        Command::Outbox => crate::offline::list(&ctx.client, &ctx.home, ctx.json),
        Command::Show { item } => show(&ctx, &item),
        Command::Qr(a) => qr_command(&ctx, a),
        Command::Payload(a) => payload_command(&ctx, &a),
        Command::Prove(a) => prove(&ctx, a),
        Command::Export { item, out, trust } => export(&ctx, &item, &out, trust.as_deref()),
        Command::Log(LogCommand::Checkpoint { save, key }) => log_checkpoint(&ctx, save, &key),
        Command::Log(LogCommand::Verify { since, save, key }) => {
            log_verify(&ctx, &since, save, &key)
        }
    }
}

/// Refuses, before signing, text no verifier would accept (spec §3).
fn refuse_bad_text(record: &Record) -> Result<(), CliError> {
    record.check_text().map_err(|e| {
        CliError::coded(
            format!("{e}: signed text may not hold control or bidirectional characters (spec §3)"),
            "decode.bad_text",
        )
    })
}

fn keygen(ctx: &Ctx, out: &Path) -> Result<(), CliError> {
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

fn trust_add(
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

fn trust_export(ctx: &Ctx, out: &Path) -> Result<(), CliError> {
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

fn run_create(
    ctx: &Ctx,
    key: &Path,
    title: String,
    microfactory: String,
    size: u64,
    place: String,
    window_days: u64,
) -> Result<(), CliError> {
    let maker = read_key(key)?;
    let now = now();
    let record = Record {
        time: now,
        seq: 0,
        body: RecordBody::RunManifest(RunManifest {
            title: title.clone(),
            microfactory,
            place,
            size,
            window_start: now,
            window_end: Timestamp(now.0.saturating_add(window_days.saturating_mul(86_400))),
        }),
    };
    refuse_bad_text(&record)?;
    let bytes = record.sign(&maker, None);
    let (_, answer) = ctx.client.post("/v1/runs", "application/cose", &bytes)?;
    let run = answer["run"].as_str().unwrap_or_default().to_string();
    if !ctx.json {
        eprintln!("registered run \"{title}\" of {size} pieces");
    }
    ctx.print(|| format!("{run}\n"), answer);
    Ok(())
}

struct Minted {
    number: u64,
    item: ItemId,
    files: Vec<PathBuf>,
    label: Option<(qrcode::QrCode, LabelText)>,
}

fn mint(ctx: &Ctx, a: MintArgs) -> Result<(), CliError> {
    let maker = read_key(&a.key)?;
    let run_id = RunId::from_base32(a.run.trim()).ok_or_else(|| {
        CliError::coded(format!("{:?} is not a run id", a.run), "ledger.bad_request")
    })?;
    let owner = a.owner.as_deref().map(parse_public).transpose()?;
    let run = match (
        a.offline,
        ctx.client.get_json(&format!("/v1/runs/{run_id}")),
    ) {
        (true, _) => return mint_offline(ctx, &a, &maker, &run_id, owner, "--offline"),
        (false, Err(e)) if crate::offline::unreachable(&e) => {
            return mint_offline(
                ctx,
                &a,
                &maker,
                &run_id,
                owner,
                "the ledger was unreachable",
            )
        }
        (false, result) => result?,
    };
    let size = run["size"].as_u64().unwrap_or(0);
    let title = run["title"].as_str().unwrap_or_default().to_string();
    let microfactory = run["microfactory"].as_str().unwrap_or_default().to_string();
    let taken: std::collections::HashSet<u64> = run["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["number"].as_u64()).collect())
        .unwrap_or_default();
    let free: Vec<u64> = (1..=size)
        .filter(|n| !taken.contains(n))
        .take(a.count as usize)
        .collect();
    if (free.len() as u64) < a.count {
        return Err(CliError::coded(
            format!(
                "run {run_id} has {} free edition numbers of {size}, cannot mint {}",
                size.saturating_sub(taken.len() as u64),
                a.count
            ),
            "run.edition_over_cap",
        ));
    }
    if let Some(dir) = &a.labels {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::io(format!("cannot create {}: {e}", dir.display())))?;
    }
    // With a public URL the labels open the ledger's web verifier (spec §7.5).
    let public_url = match &a.labels {
        Some(_) => ctx.client.get_json("/v1/trust")?["public_url"]
            .as_str()
            .map(str::to_string),
        None => None,
    };
    let time = now();
    let mints: Vec<(u64, Vec<u8>)> = free
        .iter()
        .map(|&number| {
            let record = Record {
                time,
                seq: 0,
                body: RecordBody::Mint(Mint {
                    run: run_id,
                    number,
                    size,
                    title: title.clone(),
                    microfactory: microfactory.clone(),
                    owner,
                }),
            };
            (number, record.sign(&maker, None))
        })
        .collect();
    // indicatif draws on stderr: show the bar whenever stderr is a terminal, also when stdout
    // is redirected (`mint ... > items.txt`).
    let bar = if std::io::stderr().is_terminal() && !ctx.json {
        let bar = indicatif::ProgressBar::new(mints.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} minted {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<Minted, (u64, CliError)>>> = Mutex::new(Vec::new());
    let labels = a.labels.clone();
    std::thread::scope(|scope| {
        for _ in 0..4.min(mints.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((number, bytes)) = mints.get(i) else {
                    break;
                };
                let result = mint_one(
                    ctx,
                    *number,
                    bytes,
                    &title,
                    size,
                    labels.as_deref(),
                    public_url.as_deref(),
                )
                .map_err(|e| (*number, e));
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                if let Ok(mut r) = results.lock() {
                    r.push(result);
                }
            });
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|r| match r {
        Ok(m) => m.number,
        Err((n, _)) => *n,
    });
    let mut minted = Vec::new();
    let mut first_error = None;
    for r in results {
        match r {
            Ok(m) => minted.push(m),
            Err((n, e)) => {
                eprintln!("error: edition {n}: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    let mut sheets = Vec::new();
    if let Some(dir) = &a.labels {
        let with_labels: Vec<(qrcode::QrCode, LabelText)> =
            minted.iter_mut().filter_map(|m| m.label.take()).collect();
        let per_page = qr::SHEET_GRID.0 * qr::SHEET_GRID.1;
        for page in with_labels.chunks(per_page) {
            let (first, last) = (page[0].1.number, page[page.len() - 1].1.number);
            let path = dir.join(format!("sheet-{}-{first}-{last}.svg", run_id.short()));
            std::fs::write(&path, qr::sheet_svg(page))
                .map_err(|e| CliError::io(format!("cannot write {}: {e}", path.display())))?;
            sheets.push(path);
        }
    }
    let machine = json!({
        "run": run_id.to_base32(),
        "items": minted.iter().map(|m| json!({
            "number": m.number, "size": size, "item": m.item.to_base32(), "short": m.item.short(),
            "labels": m.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "sheets": sheets.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
    });
    ctx.print(
        || minted.iter().map(|m| format!("{}\n", m.item)).collect(),
        machine,
    );
    if !ctx.json && !minted.is_empty() {
        let numbers: Vec<u64> = minted.iter().map(|m| m.number).collect();
        eprintln!(
            "minted {} of \"{title}\" (edition{} {} of {size})",
            minted.len(),
            if numbers.len() == 1 { "" } else { "s" },
            edition_ranges(&numbers)
        );
        if let Some(dir) = &a.labels {
            eprintln!(
                "labels and {} A4 sheet(s) in {}",
                sheets.len(),
                dir.display()
            );
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Edition numbers as ranges: `1-3, 5, 7-1000` (the numbers must be sorted).
pub fn edition_ranges(numbers: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(&start) = numbers.get(i) {
        let mut end = start;
        while numbers.get(i + 1) == Some(&(end + 1)) {
            end += 1;
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

fn mint_one(
    ctx: &Ctx,
    number: u64,
    bytes: &[u8],
    title: &str,
    size: u64,
    labels: Option<&Path>,
    public_url: Option<&str>,
) -> Result<Minted, CliError> {
    ctx.client.post("/v1/items", "application/cose", bytes)?;
    label_files(number, bytes, title, size, labels, public_url)
}

/// Writes a minted piece's label files (SVG and PNG) when a labels directory is given; with
/// the ledger's public URL the code holds the label URL (spec §7.5), else the bare payload.
fn label_files(
    number: u64,
    bytes: &[u8],
    title: &str,
    size: u64,
    labels: Option<&Path>,
    public_url: Option<&str>,
) -> Result<Minted, CliError> {
    let item = ItemId::derive(bytes);
    let mut files = Vec::new();
    let mut label = None;
    if let Some(dir) = labels {
        let payload = Payload::Label(bytes.to_vec()).encode();
        let code = match public_url {
            Some(url) => qr::encode_url(&qr::label_url(url, &payload)),
            None => qr::encode(&payload),
        }
        .map_err(|e| CliError::msg(e.to_string()))?;
        let text = LabelText {
            number,
            size,
            title: title.to_string(),
            short_id: item.short(),
        };
        let stem = dir.join(format!("{number}-{}", item.short()));
        let svg = stem.with_extension("svg");
        let png = stem.with_extension("png");
        let write = |path: &Path, data: &[u8]| {
            std::fs::write(path, data)
                .map_err(|e| CliError::io(format!("cannot write {}: {e}", path.display())))
        };
        write(&svg, qr::label_svg(&code, &text).as_bytes())?;
        write(
            &png,
            &qr::label_png(&code, &text).map_err(|e| CliError::msg(e.to_string()))?,
        )?;
        files = vec![svg, png];
        label = Some((code, text));
    }
    Ok(Minted {
        number,
        item,
        files,
        label,
    })
}

/// Mints from the outbox's cached run and queues the mints (labels are written at once: they
/// need no ledger).
fn mint_offline(
    ctx: &Ctx,
    a: &MintArgs,
    maker: &SigningKey,
    run: &RunId,
    owner: Option<PublicKey>,
    reason: &str,
) -> Result<(), CliError> {
    let (cached, minted) =
        crate::offline::queue_mints(&ctx.home, run, a.count, owner, &a.key, maker, reason)?;
    if let Some(dir) = &a.labels {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::io(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut items = Vec::new();
    for (number, _, bytes) in &minted {
        items.push(label_files(
            *number,
            bytes,
            &cached.title,
            cached.size,
            a.labels.as_deref(),
            None,
        )?);
    }
    let numbers: Vec<u64> = items.iter().map(|m| m.number).collect();
    ctx.print(
        || items.iter().map(|m| format!("{}\n", m.item)).collect(),
        json!({"run": run.to_base32(), "queued": true, "reason": reason,
               "items": items.iter().map(|m| json!({"number": m.number, "item": m.item.to_base32()})).collect::<Vec<_>>()}),
    );
    if !ctx.json {
        eprintln!(
            "queued {} mint(s) of \"{}\" (editions {} of {}) ({reason}); `provenance sync` sends them",
            items.len(),
            cached.title,
            edition_ranges(&numbers),
            cached.size
        );
    }
    Ok(())
}

/// Signs and posts the next record of an item; on a stale head (409) refetches and retries once.
/// With `--offline`, or when the ledger cannot be reached, signs against the outbox's head and
/// queues the record for `provenance sync` instead.
fn append(
    ctx: &Ctx,
    item: &str,
    key: &Path,
    offline: bool,
    body: RecordBody,
) -> Result<(), CliError> {
    let item = parse_item(item)?;
    let signer = read_key(key)?;
    append_item(ctx, &item, key, &signer, offline, body)
}

fn append_item(
    ctx: &Ctx,
    item: &ItemId,
    key: &Path,
    signer: &SigningKey,
    offline: bool,
    body: RecordBody,
) -> Result<(), CliError> {
    let item = *item;
    let queue = |reason: &str, body: RecordBody| {
        crate::offline::queue_append(&ctx.home, ctx.json, &item, key, signer, body, reason)
    };
    if offline {
        return queue("--offline", body);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (seq, prev, last_time) = match ctx.client.head(&item) {
            Ok(head) => head,
            Err(e) if crate::offline::unreachable(&e) => {
                return queue("the ledger was unreachable", body)
            }
            Err(e) => return Err(e),
        };
        let record = Record {
            time: Timestamp(now().0.max(last_time.0)),
            seq: seq + 1,
            body: body.clone(),
        };
        refuse_bad_text(&record)?;
        let bytes = record.sign(signer, Some(&ChainLink { item, prev }));
        match ctx.client.post(
            &format!("/v1/items/{item}/records"),
            "application/cose",
            &bytes,
        ) {
            Ok((status, answer)) => {
                let kind = record.body.kind();
                let shown_seq = answer["seq"].as_u64().unwrap_or(record.seq);
                ctx.print(
                    || {
                        let again = if status == 200 {
                            " (already recorded)"
                        } else {
                            ""
                        };
                        format!(
                            "{kind} recorded on {} as record #{}{again}\n",
                            item.short(),
                            shown_seq
                        )
                    },
                    answer,
                );
                return Ok(());
            }
            Err(e) if e.status == Some(409) && attempt == 1 => continue,
            Err(e) if crate::offline::unreachable(&e) => {
                // The head was just read: keep it, so the queued record extends it.
                let outbox = crate::offline::open(&ctx.home)?;
                outbox
                    .save_head(
                        &item,
                        crate::outbox::CachedHead {
                            seq,
                            hash: prev,
                            time: last_time,
                        },
                    )
                    .map_err(|e| CliError::coded(e.to_string(), e.code()))?;
                return queue("the ledger was unreachable", body);
            }
            Err(e) => return Err(e),
        }
    }
}

/// `provenance badge`: one badge on each piece given (ids, label payloads or URLs, a file of
/// them, label photos), online or queued offline.
fn badge_many(ctx: &Ctx, a: BadgeArgs) -> Result<(), CliError> {
    let signer = read_key(&a.key)?;
    let mut texts = a.items.clone();
    if let Some(path) = &a.from {
        let content = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| CliError::io(format!("cannot read stdin: {e}")))?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| CliError::io(format!("cannot read {}: {e}", path.display())))?
        };
        texts.extend(
            content
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    for path in &a.image {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::io(format!("cannot read {}: {e}", path.display())))?;
        let text = provenance_verify::payload_from_image(&bytes)
            .map_err(|e| CliError::coded(format!("{}: {e}", path.display()), e.code()))?;
        texts.push(text);
    }
    let items = texts
        .iter()
        .map(|t| item_from_text(t))
        .collect::<Result<Vec<_>, _>>()?;
    let body = RecordBody::Badge(Badge {
        event: a.event,
        place: a.place,
    });
    for item in &items {
        append_item(ctx, item, &a.key, &signer, a.offline, body.clone())?;
    }
    Ok(())
}

/// A piece named by its item id, its label payload (`PV1:...`) or its label URL
/// (`https://host/v#PV1:...`, percent-encoded; spec §7.5).
fn item_from_text(text: &str) -> Result<ItemId, CliError> {
    let payload = provenance_verify::payload_from_text(text);
    if !payload.starts_with("PV1:") {
        return parse_item(text);
    }
    let decoded = Payload::decode(&payload)
        .map_err(|e| CliError::coded(format!("{text:?} is not a label payload: {e}"), e.code()))?;
    let mint = decoded
        .records()
        .first()
        .map(|m| m.to_vec())
        .unwrap_or_default();
    Ok(ItemId::derive(&mint))
}

/// An owner as the verifier names one: "the maker", or "key id <16 hex>".
fn describe_owner(key: &str, maker: &str, names: &[(String, String)]) -> String {
    if key == maker {
        return "the maker".to_string();
    }
    let id = PublicKey::from_base64url(key)
        .map(|k| format!("key id {}", k.key_id()))
        .unwrap_or_else(|_| key.to_string());
    match names.iter().find(|(k, _)| k == key) {
        Some((_, n)) => format!("{n} ({id})"),
        None => id,
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn date(v: &Value) -> String {
    v.as_str()
        .map(|s| s.get(..10).unwrap_or(s).to_string())
        .unwrap_or_default()
}

/// `v` with every string made inert for a terminal (control and bidirectional-formatting
/// characters escaped, spec §3): the story prints data from signed records, which the decoder
/// already refuses such text in; this is the second fence. The JSON output stays exact.
pub fn inert(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            Value::String(provenance_core::text::escape_for_terminal(s).into_owned())
        }
        Value::Array(items) => Value::Array(items.iter().map(inert).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), inert(v))).collect())
        }
        other => other.clone(),
    }
}

/// The plain-words story of an item's JSON history.
pub fn story(v: &Value) -> String {
    let mut s = String::new();
    let item = v["item"].as_str().unwrap_or_default();
    if v["verified"] != Value::Bool(true) {
        s.push_str(&format!(
            "Item {item}: its history does NOT verify under the ledger's current trust list: {} [{}]\n",
            v["problem"]["detail"].as_str().unwrap_or_default(),
            v["problem"]["code"].as_str().unwrap_or_default()
        ));
    } else {
        let maker_key = v["maker"]["key"].as_str().unwrap_or_default();
        s.push_str(&format!(
            "{}, edition {} of {}\n",
            v["title"].as_str().unwrap_or_default(),
            v["edition"]["number"],
            v["edition"]["size"]
        ));
        let place = v["place"].as_str().filter(|p| !p.is_empty());
        s.push_str(&format!(
            "Made by {} at {}{}, minted {}.\n",
            v["maker"]["name"].as_str().unwrap_or("an unnamed maker"),
            v["microfactory"].as_str().unwrap_or_default(),
            place.map(|p| format!(" ({p})")).unwrap_or_default(),
            date(&v["minted_at"])
        ));
        s.push_str(&format!(
            "Item {item}, run {}.\n",
            v["run"].as_str().unwrap_or_default()
        ));
        let owner = v["owner"].as_str().unwrap_or_default();
        let count = v["owner_count"].as_u64().unwrap_or(1);
        s.push_str(&format!(
            "Owned by {}, its {} owner.\n",
            describe_owner(owner, maker_key, &[]),
            ordinal(count)
        ));
        let list = |key: &str| v[key].as_array().cloned().unwrap_or_default();
        let repairs = list("repairs");
        if repairs.is_empty() {
            s.push_str("Never repaired.\n");
        } else {
            s.push_str(&format!("Repaired {} time(s):\n", repairs.len()));
            for r in repairs {
                let parts: Vec<&str> = r["parts"]
                    .as_array()
                    .map(|p| p.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                s.push_str(&format!(
                    "  {}  {} by {}{}\n",
                    date(&r["time"]),
                    r["note"].as_str().unwrap_or_default(),
                    r["desk"].as_str().unwrap_or_default(),
                    if parts.is_empty() {
                        String::new()
                    } else {
                        format!(" (parts replaced: {})", parts.join(", "))
                    }
                ));
            }
        }
        let transfers = list("transfers");
        if transfers.is_empty() {
            s.push_str("Never changed hands.\n");
        } else {
            s.push_str(&format!("Changed hands {} time(s):\n", transfers.len()));
            for t in transfers {
                s.push_str(&format!(
                    "  {}  from {} to {}\n",
                    date(&t["time"]),
                    describe_owner(t["from"].as_str().unwrap_or_default(), maker_key, &[]),
                    describe_owner(t["to"].as_str().unwrap_or_default(), maker_key, &[])
                ));
            }
        }
        let badges = list("badges");
        if !badges.is_empty() {
            s.push_str(&format!("Badges ({}):\n", badges.len()));
            for b in badges {
                s.push_str(&format!(
                    "  {}  {}{}, hosted by {}\n",
                    date(&b["time"]),
                    b["event"].as_str().unwrap_or_default(),
                    b["place"]
                        .as_str()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default(),
                    b["host"].as_str().unwrap_or_default()
                ));
            }
        }
        let reports = list("reports");
        if !reports.is_empty() {
            s.push_str("Reports:\n");
        }
        for r in reports {
            s.push_str(&format!(
                "  {}  reported {}\n",
                date(&r["time"]),
                r["status"].as_str().unwrap_or_default()
            ));
        }
        if v["void"] == Value::Bool(true) {
            s.push_str("VOID: the maker has declared this piece void.\n");
        } else if v["stolen"] == Value::Bool(true) {
            s.push_str("STOLEN: the owner has reported this piece stolen.\n");
        } else {
            s.push_str("Not reported stolen.\n");
        }
    }
    let records = v["records"].as_array().map_or(0, Vec::len);
    s.push_str(&format!(
        "History: {records} record(s), head #{} {}.\n",
        v["head"]["seq"],
        v["head"]["hash"].as_str().unwrap_or_default()
    ));
    s
}

fn show(ctx: &Ctx, item: &str) -> Result<(), CliError> {
    let item = parse_item(item)?;
    let v = ctx.client.get_json(&format!("/v1/items/{item}"))?;
    ctx.print(|| story(&inert(&v)), v.clone());
    Ok(())
}

fn payload_command(ctx: &Ctx, a: &PayloadArgs) -> Result<(), CliError> {
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
        json!({"item": item.to_base32(), "form": form, "payload": text}),
    );
    Ok(())
}

fn qr_command(ctx: &Ctx, a: QrArgs) -> Result<(), CliError> {
    let item = parse_item(&a.item)?;
    let (bytes, form) = ctx
        .client
        .get_bytes(&format!("/v1/items/{item}/payload"), "text/plain")?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::msg("the payload is not text"))?;
    let form = form.unwrap_or_else(|| "history".into());
    let code = qr::encode(text.trim()).map_err(|e| CliError::msg(e.to_string()))?;
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
            json!({"file": out.display().to_string(), "form": form, "payload": text.trim()}),
        );
    } else {
        ctx.print(
            || qr::terminal(&code),
            json!({"form": form, "payload": text.trim()}),
        );
    }
    Ok(())
}

fn prove(ctx: &Ctx, a: ProveArgs) -> Result<(), CliError> {
    let item = parse_item(&a.item)?;
    let key = read_key(&a.key)?;
    let answer = challenge::prove(&key, &item, a.challenge.as_bytes())
        .map_err(|e| CliError::coded(e.to_string(), provenance_core::ErrorCode::code(&e)))?;
    ctx.print(
        || format!("{answer}\n"),
        json!({"item": item.to_base32(), "challenge": a.challenge, "answer": answer, "owner": key.public_key().to_base64url()}),
    );
    Ok(())
}

/// The trust list to verify with: a file, or the ledger's current one.
fn load_trust(ctx: &Ctx, file: Option<&Path>) -> Result<TrustList, CliError> {
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
fn ledger_key(ctx: &Ctx, args: &LedgerKeyArgs) -> Result<PublicKey, CliError> {
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

fn export(ctx: &Ctx, item: &str, out: &Path, trust: Option<&Path>) -> Result<(), CliError> {
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
            "head.item_mismatch",
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
        json!({"file": out.display().to_string(), "records": history.records.len(), "run": history.run.is_some(), "bytes": bytes.len(), "log_index": index, "checkpoint_size": size}),
    );
    Ok(())
}

/// Fetches the ledger's checkpoint and verifies it with `key` under its own origin.
fn fetch_checkpoint(ctx: &Ctx, key: &PublicKey) -> Result<(String, Checkpoint), CliError> {
    let (bytes, _) = ctx.client.get_bytes("/v1/log/checkpoint", "text/plain")?;
    let note = String::from_utf8(bytes).map_err(|_| {
        CliError::coded(
            "the ledger's checkpoint is not UTF-8 text",
            "checkpoint.malformed",
        )
    })?;
    let cp = Checkpoint::verify_own_origin(&note, key).map_err(|e| {
        CliError::coded(
            format!("the ledger's current checkpoint: {e}"),
            ErrorCode::code(&e),
        )
    })?;
    Ok((note, cp))
}

fn save_note(path: &Path, note: &str) -> Result<(), CliError> {
    std::fs::write(path, note)
        .map_err(|e| CliError::io(format!("cannot write {}: {e}", path.display())))
}

fn checkpoint_json(cp: &Checkpoint) -> Value {
    use base64::Engine;
    json!({"origin": cp.origin, "size": cp.size, "root": base64::engine::general_purpose::STANDARD.encode(cp.root.0)})
}

fn log_checkpoint(ctx: &Ctx, save: Option<PathBuf>, key: &LedgerKeyArgs) -> Result<(), CliError> {
    use base64::Engine;
    let key = ledger_key(ctx, key)?;
    let (note, cp) = fetch_checkpoint(ctx, &key)?;
    if let Some(path) = &save {
        save_note(path, &note)?;
    }
    let mut machine = checkpoint_json(&cp);
    if let Some(map) = machine.as_object_mut() {
        map.insert("note".into(), Value::String(note.clone()));
        map.insert("ledger_key".into(), Value::String(key.to_base64url()));
    }
    ctx.print(
        || {
            let mut s = format!(
                "checkpoint of {}: {} leaves, root {}\nsigned by ledger key {} (verified)\n",
                cp.origin,
                cp.size,
                base64::engine::general_purpose::STANDARD.encode(cp.root.0),
                key.key_id()
            );
            if let Some(p) = &save {
                s.push_str(&format!("saved to {}\n", p.display()));
            }
            s
        },
        machine,
    );
    Ok(())
}

fn hex_hashes(v: &Value, field: &str) -> Result<Vec<Vec<u8>>, CliError> {
    v[field]
        .as_array()
        .ok_or_else(|| CliError::msg(format!("the ledger's answer has no {field}")))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|h| hex::decode(h).ok())
                .ok_or_else(|| CliError::coded("a proof hash is not hex", "log.bad_hash_length"))
        })
        .collect()
}

fn log_error(context: &str, e: tlog::LogError) -> CliError {
    CliError::coded(format!("{context}: {e}"), ErrorCode::code(&e))
}

fn log_verify(
    ctx: &Ctx,
    since: &Path,
    save: Option<PathBuf>,
    key: &LedgerKeyArgs,
) -> Result<(), CliError> {
    let key = ledger_key(ctx, key)?;
    let saved_bytes = std::fs::read(since)
        .map_err(|e| CliError::io(format!("cannot read {}: {e}", since.display())))?;
    let saved_note = String::from_utf8(saved_bytes).map_err(|_| {
        CliError::coded(
            format!(
                "{} is not a checkpoint note: it holds binary data (a checkpoint is the text \
                 `provenance log checkpoint --save FILE` writes)",
                since.display()
            ),
            "checkpoint.malformed",
        )
    })?;
    let saved = Checkpoint::verify_own_origin(&saved_note, &key).map_err(|e| {
        CliError::coded(
            format!("the saved checkpoint {}: {e}", since.display()),
            ErrorCode::code(&e),
        )
    })?;
    let (note, current) = fetch_checkpoint(ctx, &key)?;

    // 1. Consistency: the current tree extends the saved one.
    if saved.size > current.size {
        return Err(CliError::coded(
            format!(
                "the log shrank: the saved checkpoint has {} leaves, the current one {}",
                saved.size, current.size
            ),
            "log.size_order",
        ));
    }
    if saved.size > 0 {
        let proof = if saved.size == current.size {
            Vec::new()
        } else {
            let v = ctx.client.get_json(&format!(
                "/v1/log/consistency?first={}&second={}",
                saved.size, current.size
            ))?;
            hex_hashes(&v, "proof")?
        };
        let proof: Vec<&[u8]> = proof.iter().map(Vec::as_slice).collect();
        tlog::verify_consistency(
            saved.size,
            current.size,
            &saved.root.0,
            &current.root.0,
            &proof,
        )
        .map_err(|e| {
            log_error(
                &format!(
                    "the log was rewritten: the current checkpoint ({} leaves) is not an extension of the saved one ({} leaves)",
                    current.size, saved.size
                ),
                e,
            )
        })?;
    }

    // 2. Audit: recompute every leaf from the record bytes, and both roots from the leaves.
    let mut tree = tlog::MemoryTree::new();
    let mut start = 0u64;
    while start < current.size {
        let v = ctx.client.get_json(&format!(
            "/v1/log/entries?start={start}&end={}",
            current.size
        ))?;
        let entries = v["entries"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            return Err(CliError::msg(format!(
                "the ledger served no log entries from {start}"
            )));
        }
        for e in entries {
            let index = tree.size();
            let leaf = audit_leaf(&e, index)?;
            tree.push(leaf);
            if tree.size() == saved.size && !saved_root_matches(&tree, &saved) {
                return Err(CliError::coded(
                    format!(
                        "the log was rewritten: the first {} leaves, recomputed from the stored records, do not have the saved checkpoint's root",
                        saved.size
                    ),
                    "log.root_mismatch",
                ));
            }
            if tree.size() == current.size {
                break;
            }
        }
        start = tree.size();
    }
    let root = tlog::root(&tree, current.size).map_err(|e| match e {})?;
    if root != current.root {
        return Err(CliError::coded(
            format!(
                "the stored records do not hash to the current checkpoint's root ({} leaves): a record was changed",
                current.size
            ),
            "log.root_mismatch",
        ));
    }
    if let Some(path) = &save {
        save_note(path, &note)?;
    }
    ctx.print(
        || {
            format!(
                "log consistent: {} -> {} leaves ({} -> {}); every leaf recomputed from its record and the root matches\n",
                saved.size, current.size, saved.origin, current.origin
            )
        },
        json!({"consistent": true, "since": checkpoint_json(&saved), "current": checkpoint_json(&current), "audited": current.size}),
    );
    Ok(())
}

fn saved_root_matches(tree: &tlog::MemoryTree, saved: &Checkpoint) -> bool {
    matches!(tlog::root(tree, saved.size), Ok(r) if r == saved.root)
}

/// Recomputes one leaf hash from an entry's kind, id, seq and record bytes, and checks that
/// it is the leaf the ledger says it stored.
fn audit_leaf(e: &Value, expected_index: u64) -> Result<tlog::TreeHash, CliError> {
    use base64::Engine;
    let bad = |what: &str| {
        CliError::coded(
            format!("log entry {expected_index}: {what}"),
            "log.root_mismatch",
        )
    };
    if e["index"].as_u64() != Some(expected_index) {
        return Err(bad("out of order"));
    }
    let id = e["id"]
        .as_str()
        .and_then(ItemId::from_base32)
        .ok_or_else(|| bad("no id"))?;
    let seq = e["seq"].as_u64().ok_or_else(|| bad("no seq"))?;
    let bytes = e["bytes"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| bad("the ledger has no record for this leaf"))?;
    let data = match e["kind"].as_str() {
        Some("record") => tlog::item_leaf(&id, seq, &bytes),
        Some("run") => tlog::run_leaf(&RunId(id.0), &bytes),
        _ => return Err(bad("unknown kind")),
    };
    let leaf = tlog::leaf_hash(&data);
    let stored = e["leaf_hash"].as_str().and_then(|h| hex::decode(h).ok());
    if stored.as_deref() != Some(&leaf.0[..]) {
        return Err(bad(&format!(
            "the stored record ({} {id} #{seq}) does not hash to the stored leaf: the record was changed",
            e["kind"].as_str().unwrap_or_default()
        )));
    }
    Ok(leaf)
}

#[cfg(test)]
mod tests {
    use super::edition_ranges;

    #[test]
    fn the_story_never_prints_control_characters() {
        let hostile = "fixed\u{1b}[2J\r\nOwned by you\u{202e}";
        let v = serde_json::json!({
            "item": "x", "verified": true, "title": hostile, "edition": {"number": 1, "size": 2},
            "maker": {"name": hostile, "key": "k"}, "microfactory": hostile, "owner": "k",
            "repairs": [{"time": "2026-01-01", "note": hostile, "desk": hostile, "parts": [hostile]}],
            "badges": [{"time": "2026-01-01", "event": hostile, "host": hostile}],
        });
        let text = super::story(&super::inert(&v));
        for c in ['\u{1b}', '\r', '\u{202e}'] {
            assert!(!text.contains(c), "{c:?} in {text}");
        }
        assert!(text.contains("fixed\\u{001b}[2J"), "{text}");
        assert_eq!(
            text.lines().filter(|l| l.starts_with("Owned by")).count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn pieces_are_named_by_id_payload_or_label_url() {
        use provenance_core::{Mint, Payload, Record, RecordBody, RunId, SigningKey, Timestamp};
        let mint = Record {
            time: Timestamp(1),
            seq: 0,
            body: RecordBody::Mint(Mint {
                run: RunId([1; 16]),
                number: 1,
                size: 1,
                title: "T".into(),
                microfactory: "M".into(),
                owner: None,
            }),
        }
        .sign(&SigningKey::from_seed([2; 32]), None);
        let item = provenance_core::ItemId::derive(&mint);
        let payload = Payload::Label(mint).encode();
        let url = format!(
            "https://ledger.example/v#{}",
            payload.replace('%', "%25").replace(' ', "%20")
        );
        for text in [item.to_base32(), payload.clone(), url] {
            assert_eq!(super::item_from_text(&text).unwrap(), item, "{text}");
        }
        assert!(super::item_from_text("PV1:not base45!").is_err());
    }

    #[test]
    fn edition_numbers_are_summarised_as_ranges() {
        assert_eq!(edition_ranges(&[]), "");
        assert_eq!(edition_ranges(&[7]), "7");
        assert_eq!(edition_ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
        let thousand: Vec<u64> = (1..=1000).collect();
        assert_eq!(edition_ranges(&thousand), "1-1000");
    }
}

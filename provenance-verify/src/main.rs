//! `provenance-verify`: checks a provenance QR payload, label photo or history file offline.
#![forbid(unsafe_code)]

use std::io::Read;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{ArgGroup, Parser};
use provenance_core::limits::{MAX_HISTORY_BYTES, MAX_TRUST_LIST_BYTES};
use provenance_core::{PublicKey, Timestamp};
use provenance_verify::image_input::MAX_IMAGE_FILE_BYTES;
use provenance_verify::{
    exit, load_trust, payload_from_image, verify_with, Options, Report, CODE_INPUT_UNREADABLE,
};

const AFTER_HELP: &str = "\
INPUT (exactly one):
  PAYLOAD            the QR text, quoted: 'PV1:...'
  -                  read a payload string or a history file from stdin
  --image FILE       a PNG or JPEG photo or scan of the QR label
  --file HISTORY     a full history file (from `provenance export`) or a payload in a file

EXIT CODES:
  0  genuine
  1  genuine with warnings (reported stolen; label only: proves origin, not current owner;
     the ledger's head statement is older than --max-age)
  2  not genuine (tampered, untrusted maker, signer not authorized, broken chain,
     edition over cap, key revoked, voided by the maker, ...)
  3  unreadable input (no QR in the image, not a payload, unusable trust list) or usage error
  4  owner challenge failed: the piece verified, but the seller did not prove ownership
     (also when the input cannot show today's owner: a label, or a history without the
     ledger's head statement; no answer passes then)

Every failure carries a stable code (e.g. record.signature_invalid); --json prints them.
No network access is ever made.";

/// Verify a provenance piece offline: genuine maker, edition, history, owner, stolen flag.
#[derive(Debug, Parser)]
#[command(
    name = "provenance-verify",
    version,
    about,
    after_help = AFTER_HELP,
    group(ArgGroup::new("input").required(true).args(["payload", "image", "file"]))
)]
struct Cli {
    /// The signed trust list exported by the ledger (`provenance trust export`).
    #[arg(long, value_name = "FILE")]
    trust: PathBuf,
    /// Pin the ledger operator's public key (base64url, or 64 hex characters): the trust
    /// list must be signed by it.
    #[arg(long, value_name = "KEY", value_parser = parse_key, allow_hyphen_values = true)]
    operator: Option<PublicKey>,
    /// The payload string from the QR code ('PV1:...', quoted), or `-` for stdin.
    #[arg(value_name = "PAYLOAD")]
    payload: Option<String>,
    /// A PNG or JPEG photo of the QR label.
    #[arg(long, value_name = "FILE")]
    image: Option<PathBuf>,
    /// A full history file (raw CBOR container from `provenance export`).
    #[arg(long, value_name = "HISTORY")]
    file: Option<PathBuf>,
    /// Print the report as JSON (verdict, story, findings with their codes).
    #[arg(long)]
    json: bool,
    /// Verify as of this time (2026-06-01, 2026-06-01T12:00:00Z or Unix seconds); default: now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<Timestamp>,
    /// Warn (head.old) when the ledger's head statement is older than this: `30d` (days, the
    /// default), `36h` (hours) or a plain number of days.
    #[arg(long, value_name = "AGE", default_value = "30d", value_parser = parse_max_age)]
    max_age: u64,
    /// The nonce you gave the seller for `provenance prove ITEM --challenge NONCE`.
    #[arg(
        long,
        value_name = "NONCE",
        requires = "response",
        allow_hyphen_values = true
    )]
    challenge: Option<String>,
    /// The seller's answer to the challenge: checked against the current owner key.
    #[arg(
        long,
        value_name = "ANSWER",
        requires = "challenge",
        allow_hyphen_values = true
    )]
    response: Option<String>,
}

fn parse_key(text: &str) -> Result<PublicKey, String> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut bytes = [0u8; 32];
        for (i, slot) in bytes.iter_mut().enumerate() {
            *slot = text
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("bad hex")?;
        }
        return PublicKey::from_bytes(&bytes).map_err(|e| e.to_string());
    }
    PublicKey::from_base64url(text).map_err(|e| e.to_string())
}

/// `30d`, `36h` or `30` (days) to seconds.
fn parse_max_age(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.strip_suffix('h') {
        Some(hours) => (hours, 3_600),
        None => (text.strip_suffix('d').unwrap_or(text), 86_400),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| "expected a duration such as 30d, 36h or 30 (days)".to_string())
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).ok_or_else(|| {
        "expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or seconds since the epoch".to_string()
    })
}

/// Reads at most `limit` bytes (one more to detect larger input).
fn read_limited(reader: impl Read, limit: usize) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() > limit {
        return Err(format!("larger than the {limit}-byte limit"));
    }
    Ok(bytes)
}

fn read_file(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    read_limited(file, limit).map_err(|e| format!("{}: {e}", path.display()))
}

fn unreadable(what: &str, why: String) -> Report {
    Report::unreadable(
        CODE_INPUT_UNREADABLE,
        "unreadable input",
        format!("{what}: {why}"),
    )
}

fn run(cli: &Cli) -> Report {
    let now = cli.now.unwrap_or_else(|| {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
    });
    let options = Options {
        max_age_secs: cli.max_age,
    };
    let trust_bytes = match read_file(&cli.trust, MAX_TRUST_LIST_BYTES) {
        Ok(bytes) => bytes,
        Err(why) => return unreadable("cannot read the trust list", why),
    };
    let trust = match load_trust(&trust_bytes, cli.operator.as_ref()) {
        Ok(trust) => trust,
        Err(report) => return *report,
    };
    let mut report = if let Some(path) = &cli.image {
        let bytes = match read_file(path, MAX_IMAGE_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(why) => return unreadable("cannot read the image", why),
        };
        match payload_from_image(&bytes) {
            Ok(payload) => verify_with(payload.as_str(), &trust, now, options),
            Err(error) => Report::unreadable(error.code(), "unreadable QR", error.to_string()),
        }
    } else if let Some(path) = &cli.file {
        match read_file(path, MAX_HISTORY_BYTES) {
            Ok(bytes) => verify_with(&bytes, &trust, now, options),
            Err(why) => return unreadable("cannot read the history file", why),
        }
    } else {
        match cli.payload.as_deref() {
            Some("-") => match read_limited(std::io::stdin().lock(), MAX_HISTORY_BYTES) {
                Ok(bytes) => verify_with(&bytes, &trust, now, options),
                Err(why) => return unreadable("cannot read stdin", why),
            },
            Some(text) => verify_with(
                provenance_verify::payload_from_text(text).as_str(),
                &trust,
                now,
                options,
            ),
            // clap's input group makes one of the three required.
            None => return unreadable("no input", "give PAYLOAD, -, --image or --file".into()),
        }
    };
    if let (Some(nonce), Some(answer)) = (&cli.challenge, &cli.response) {
        report.check_owner(nonce.as_bytes(), answer);
    }
    report.note_trust_anchor(&trust, cli.operator.is_some());
    report
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return exit_code(if error.use_stderr() {
                exit::UNREADABLE
            } else {
                0 // --help, --version
            });
        }
    };
    let report = run(&cli);
    let text = if cli.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("cannot serialise the report: {error}");
                return exit_code(exit::UNREADABLE);
            }
        }
    } else {
        report.to_text()
    };
    // A reader that closed the pipe early (`provenance-verify ... | head -1`) has what it
    // wanted: the exit code is still the verdict's, never a panic (issue 21.7).
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    exit_code(report.exit_code())
}

/// The process exit code for one of [`exit`]'s codes (all of which fit a byte).
fn exit_code(code: i32) -> ExitCode {
    u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from)
}

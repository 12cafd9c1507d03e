//! # provenance-verify
//!
//! The offline verifier a collector runs before buying a piece second-hand (DESIGN §5, §6).
//! It takes a QR payload string (`PV1:` + base45), a full-history file or a photo of a label,
//! checks everything against the operator-signed trust list with `provenance-core`, and
//! returns a [`Report`]: a [`Verdict`], the piece's [`Story`] and every [`Finding`] with its
//! stable spec code.
//!
//! No network, no database, no clock: the caller passes `now`.
//!
//! ```
//! # use provenance_core::{Timestamp, TrustList, SigningKey};
//! let trust = TrustList::empty(SigningKey::from_seed([1; 32]).public_key());
//! let report = provenance_verify::verify("not a payload", &trust, Timestamp(0));
//! assert_eq!(report.verdict, provenance_verify::Verdict::Unreadable);
//! assert_eq!(report.code, Some("payload.bad_prefix"));
//! ```
#![forbid(unsafe_code)]

use std::fmt::Write as _;

use provenance_core::error::{ChainError, VerifyError};
use provenance_core::head::HeadStatement;
use provenance_core::limits::MAX_HISTORY_BYTES;
use provenance_core::record::ReportStatus;
use provenance_core::{
    challenge, ErrorCode, ItemId, Payload, PayloadError, PayloadVerifyError, PublicKey, Role,
    Timestamp, TrustError, TrustList, VerifiedChain, VerifiedPayload, PAYLOAD_PREFIX,
};
use serde::Serialize;

#[cfg(feature = "image")]
pub mod image_input;
#[cfg(feature = "wasm-scan")]
pub mod scan;
pub mod text_input;
#[cfg(feature = "wasm")]
pub mod wasm;

#[cfg(feature = "image")]
pub use image_input::{payload_from_image, ImageInputError};
pub use text_input::payload_from_text;

/// Code for input that could not be read at all (a file or image that cannot be opened or
/// decoded). Not in `provenance_core::codes::ALL_CODES`: it is the verifier's own.
pub const CODE_INPUT_UNREADABLE: &str = "input.unreadable";
/// Code for an image in which no QR code could be found or decoded. The verifier's own.
pub const CODE_INPUT_NO_QR: &str = "input.no_qr";

/// Codes of findings that are warnings on a genuine piece (spec §6, "Findings").
pub const CODE_STOLEN: &str = "item.stolen";
/// The maker voided the piece: not genuine.
pub const CODE_VOID: &str = "item.void";
/// A label proves origin only.
pub const CODE_LABEL_ONLY: &str = "payload.label_only";
/// The ledger's head statement is older than the maximum age.
pub const CODE_HEAD_OLD: &str = "head.old";
/// A history without a ledger-signed head statement: its last owner is not confirmed.
pub const CODE_OWNER_UNCONFIRMED: &str = "payload.owner_unconfirmed";

/// Default maximum age of a head statement before it is flagged `head.old` (spec §14.3).
pub const DEFAULT_MAX_AGE_SECS: u64 = 30 * DAY_SECS;
const DAY_SECS: u64 = 86_400;

/// Verification settings beyond the trust list and the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// A head statement older than this (seconds) is a `head.old` warning.
    pub max_age_secs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_age_secs: DEFAULT_MAX_AGE_SECS,
        }
    }
}

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every record verifies, no warning.
    Genuine,
    /// Every record verifies, but something needs the buyer's attention (stolen, label only).
    GenuineWithWarnings,
    /// A record, the chain or the run breaks a rule, or the maker voided the piece.
    NotGenuine,
    /// The input could not be read: no QR in the image, not a payload, unusable trust list.
    Unreadable,
}

impl Verdict {
    /// The headline shown to people.
    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Genuine => "GENUINE",
            Verdict::GenuineWithWarnings => "GENUINE WITH WARNINGS",
            Verdict::NotGenuine => "NOT GENUINE",
            Verdict::Unreadable => "UNREADABLE",
        }
    }

    /// The process exit code for this verdict (see [`Report::exit_code`]).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Genuine => exit::GENUINE,
            Verdict::GenuineWithWarnings => exit::WARNINGS,
            Verdict::NotGenuine => exit::NOT_GENUINE,
            Verdict::Unreadable => exit::UNREADABLE,
        }
    }
}

/// The binary's exit codes.
pub mod exit {
    /// Genuine, no warning.
    pub const GENUINE: i32 = 0;
    /// Genuine with warnings (stolen, label only).
    pub const WARNINGS: i32 = 1;
    /// Not genuine (including voided by the maker).
    pub const NOT_GENUINE: i32 = 2;
    /// Unreadable input, unusable trust list, or a usage error.
    pub const UNREADABLE: i32 = 3;
    /// The piece verified, but the owner challenge failed: the seller did not prove ownership.
    pub const CHALLENGE_FAILED: i32 = 4;
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The piece may be genuine, but the buyer must know this.
    Warning,
    /// The piece is not genuine, or the input could not be read.
    Error,
}

/// One thing the verifier found, with its stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code from the spec (e.g. `record.signature_invalid`), or the verifier's own
    /// [`CODE_INPUT_UNREADABLE`] / [`CODE_INPUT_NO_QR`].
    pub code: &'static str,
    /// Warning or error.
    pub severity: Severity,
    /// The cause in a few words: "tampered", "untrusted maker", "broken chain", ...
    pub cause: &'static str,
    /// A sentence a collector understands.
    pub message: String,
    /// Position of the offending record in the chain (0 = the mint), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<usize>,
}

/// A trusted party or a key, as shown in the story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Party {
    /// Display name from the trust list (empty for owners, who are not listed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Public key, unpadded base64url.
    pub key: String,
    /// Key id: first 8 bytes of SHA-256 of the key, hex.
    pub key_id: String,
}

impl Party {
    fn of(name: &str, key: &PublicKey) -> Self {
        Party {
            name: name.to_string(),
            key: key.to_base64url(),
            key_id: key.key_id().to_string(),
        }
    }
}

/// Edition n of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Edition {
    /// n (1..=N).
    pub number: u64,
    /// N, the run size.
    pub size: u64,
}

/// A repair in the story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairEntry {
    /// When (RFC 3339).
    pub time: String,
    /// The repair desk.
    pub desk: Party,
    /// What was done.
    pub note: String,
    /// Parts replaced.
    pub parts: Vec<String>,
}

/// A badge in the story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadgeEntry {
    /// When (RFC 3339).
    pub time: String,
    /// The event host.
    pub host: Party,
    /// Event name.
    pub event: String,
    /// Event place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

/// A stolen / recovered / void report in the story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportEntry {
    /// When (RFC 3339).
    pub time: String,
    /// `stolen`, `recovered` or `void`.
    pub status: &'static str,
}

/// What the information is based on, and as of when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freshness {
    /// `label` (the mint alone, as printed), `last_record` (a history, as of its last
    /// record) or `head_statement` (the ledger's signed word on the current state).
    pub basis: &'static str,
    /// The date the information is known to be current at (RFC 3339).
    pub as_of: String,
    /// In words.
    pub note: String,
    /// Whole days between `as_of` and the verification time.
    pub age_days: u64,
    /// The log size the ledger's statement or checkpoint vouches for, when one was carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_size: Option<u64>,
    /// Whether the last record was proved included in a ledger-signed checkpoint.
    pub in_log: bool,
}

/// The piece's story, from records that all verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Story {
    /// Item id, 26-character base32.
    pub item: String,
    /// What the piece is (the run title).
    pub title: String,
    /// The maker, named by the trust list.
    pub maker: Party,
    /// The microfactory named in the mint.
    pub microfactory: String,
    /// The run id, base32.
    pub run: String,
    /// Edition n/N.
    pub edition: Edition,
    /// When it was minted (RFC 3339).
    pub minted_at: String,
    /// Repairs carried in the payload, oldest first.
    pub repairs: Vec<RepairEntry>,
    /// Number of repairs: the ledger's count when a head statement is newer than the records.
    pub repair_count: u64,
    /// Badges carried in the payload, oldest first.
    pub badges: Vec<BadgeEntry>,
    /// Number of badges: the ledger's count when a head statement is newer than the records.
    pub badge_count: u64,
    /// Stolen / recovered / void reports, oldest first.
    pub reports: Vec<ReportEntry>,
    /// Number of owners so far (the first owner plus one per transfer).
    pub owner_count: u64,
    /// The current owner's key (for a label: the owner at minting).
    pub current_owner: Party,
    /// Whether the owner reported it stolen (and not recovered).
    pub stolen: bool,
    /// Whether the maker voided it.
    pub void: bool,
    /// Number of records in the item's chain (mint included), per the ledger's statement when
    /// one is newer than the records carried.
    pub records: u64,
    /// Number of records carried and verified one by one.
    pub records_verified: u64,
    /// SHA-256 of the head record, hex.
    pub head: String,
    /// How fresh this is.
    pub freshness: Freshness,
}

/// The outcome of an owner challenge (`--challenge NONCE --response ANSWER`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChallengeOutcome {
    /// Whether the answer was made with the current owner's key for this item and nonce.
    pub passed: bool,
    /// `proof.invalid` or `proof.malformed` when it failed and could be checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// In words.
    pub message: String,
}

/// The verifier's answer: verdict, story and findings. Serialises to the `--json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The overall outcome.
    pub verdict: Verdict,
    /// The code of the failure (first error finding) for `not_genuine` and `unreadable`;
    /// `null` for genuine pieces (their warnings are in `findings`).
    pub code: Option<&'static str>,
    /// One line in plain language.
    pub summary: String,
    /// The story, when every record verified.
    pub story: Option<Story>,
    /// Every finding, the most important first (a stolen report always comes first).
    pub findings: Vec<Finding>,
    /// The owner challenge, when one was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_challenge: Option<ChallengeOutcome>,
    /// The process exit code the binary uses for this report.
    pub exit_code: i32,
    /// The trust list the verdict rests on, when the caller recorded it
    /// ([`Report::note_trust_anchor`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_anchor: Option<TrustAnchor>,
    #[serde(skip)]
    owner: Option<OwnerContext>,
}

/// The trust list a verdict rests on, and whether its operator was pinned by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustAnchor {
    /// The operator's key id (who signed the trust list).
    pub operator_key_id: String,
    /// Whether the caller pinned that operator (`--operator`). When not, the trust list file
    /// itself is the anchor: anyone can sign a list naming themselves as operator.
    pub pinned: bool,
    /// The trust list's version.
    pub version: u64,
    /// When the operator issued it (RFC 3339).
    pub issued_at: String,
}

/// What an owner challenge is checked against (kept typed, not serialised).
#[derive(Debug, Clone)]
struct OwnerContext {
    key: PublicKey,
    item: ItemId,
    basis: OwnerBasis,
}

/// Where the owner an owner challenge is checked against comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnerBasis {
    /// A label: the owner at minting.
    Label,
    /// A history without a head statement: the last owner in the file, which a cut history
    /// can make an earlier owner.
    LastInFile,
    /// The ledger's signed head statement (or records it confirms).
    Ledger,
}

/// Input to [`verify`]: a payload string, or bytes (a history file, a raw label, or a
/// payload string read from a file or stdin).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A `PV1:` payload string.
    Text(&'a str),
    /// Bytes: a full-history container (raw CBOR), a raw COSE_Sign1 mint, or payload text.
    Bytes(&'a [u8]),
}

impl<'a> From<&'a str> for Input<'a> {
    fn from(text: &'a str) -> Self {
        Input::Text(text)
    }
}

impl<'a> From<&'a String> for Input<'a> {
    fn from(text: &'a String) -> Self {
        Input::Text(text)
    }
}

impl<'a> From<&'a [u8]> for Input<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Input::Bytes(bytes)
    }
}

impl<'a> From<&'a Vec<u8>> for Input<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        Input::Bytes(bytes)
    }
}

/// Decodes the input into a payload without verifying anything.
pub fn decode_input(input: Input<'_>) -> Result<Payload, PayloadError> {
    match input {
        Input::Text(text) => Payload::decode(text),
        Input::Bytes(bytes) => {
            // CBOR starts with a COSE_Sign1 tag (0xd2) or a map head (0xa0..=0xbf); anything
            // else that is text is read as a payload string (so "hello" gets bad_prefix).
            let cbor_head = matches!(bytes.first(), Some(0xd2 | 0xa0..=0xbf));
            match std::str::from_utf8(bytes) {
                Ok(text) if !cbor_head => Payload::decode(text),
                _ if bytes.trim_ascii().starts_with(PAYLOAD_PREFIX.as_bytes()) => {
                    Err(PayloadError::BadBase45)
                }
                _ => Payload::from_cbor(bytes, MAX_HISTORY_BYTES),
            }
        }
    }
}

/// Verifies a payload string or history bytes against a verified trust list at time `now`,
/// with the default [`Options`]. Never panics on any input.
pub fn verify<'a>(input: impl Into<Input<'a>>, trust: &TrustList, now: Timestamp) -> Report {
    verify_with(input, trust, now, Options::default())
}

/// [`verify`] with explicit [`Options`].
pub fn verify_with<'a>(
    input: impl Into<Input<'a>>,
    trust: &TrustList,
    now: Timestamp,
    options: Options,
) -> Report {
    match decode_input(input.into()) {
        Ok(payload) => verify_payload(&payload, trust, now, options),
        Err(error) => {
            Report::unreadable(error.code(), payload_cause(&error), payload_message(&error))
        }
    }
}

/// Verifies an already decoded payload.
pub fn verify_payload(
    payload: &Payload,
    trust: &TrustList,
    now: Timestamp,
    options: Options,
) -> Report {
    let label_only = matches!(payload, Payload::Label(_));
    match payload.verify(trust, now) {
        Ok(verified) => Report::from_verified(&verified, label_only, now, options),
        Err(PayloadVerifyError::Chain(error)) => Report::not_genuine(&error),
        Err(error) => Report::ledger_proof_refused(&error),
    }
}

/// The state the report shows: from the records, or from a head statement newer than them.
struct Current<'a> {
    chain: &'a VerifiedChain,
    head: Option<&'a HeadStatement>,
}

impl Current<'_> {
    /// The head statement, when it is ahead of the records carried.
    fn ahead(&self) -> Option<&HeadStatement> {
        self.head.filter(|h| h.seq > self.chain.seq())
    }
    fn owner(&self) -> &PublicKey {
        self.ahead().map_or(self.chain.owner(), |h| &h.owner)
    }
    fn stolen(&self) -> bool {
        self.ahead().map_or(self.chain.is_stolen(), |h| h.stolen)
    }
    fn void(&self) -> bool {
        self.ahead().map_or(self.chain.is_void(), |h| h.void)
    }
}

/// Everything the web verifier does in one call (and what its wasm export returns as JSON):
/// the trust list bytes verified (the operator pinned when `operator` is given, base64url),
/// `payload` read as a `PV1:` string or a label URL ([`payload_from_text`]), verified at
/// `now` (Unix seconds) with the default [`Options`], the owner `challenge` (nonce, answer)
/// checked when given, and the trust anchor noted. Never panics.
pub fn verify_text(
    payload: &str,
    trust: &[u8],
    operator: Option<&str>,
    now: u64,
    challenge: Option<(&str, &str)>,
) -> Report {
    let pinned = match operator.map(PublicKey::from_base64url).transpose() {
        Ok(key) => key,
        Err(e) => {
            return Report::unreadable(
                CODE_INPUT_UNREADABLE,
                "bad operator key",
                format!("the pinned operator key is not usable: {e}"),
            )
        }
    };
    let trust = match load_trust(trust, pinned.as_ref()) {
        Ok(trust) => trust,
        Err(report) => return *report,
    };
    let text = payload_from_text(payload);
    let mut report = verify_with(text.as_str(), &trust, Timestamp(now), Options::default());
    if let Some((nonce, answer)) = challenge {
        report.check_owner(nonce.as_bytes(), answer);
    }
    report.note_trust_anchor(&trust, pinned.is_some());
    report
}

/// Verifies a signed trust list file, optionally pinning the operator key. On failure, returns
/// the [`Report`] to show (verdict `unreadable`, with the `trust.*` or `decode.*` code).
pub fn load_trust(bytes: &[u8], operator: Option<&PublicKey>) -> Result<TrustList, Box<Report>> {
    TrustList::verify(bytes, operator).map_err(|error| {
        let cause = match error {
            TrustError::SignatureInvalid => "tampered trust list",
            TrustError::OperatorMismatch => "trust list from another operator",
            TrustError::DuplicateEntry => "invalid trust list",
            _ => "unreadable trust list",
        };
        Box::new(Report::unreadable(
            error.code(),
            cause,
            format!("the trust list cannot be used ({error}); nothing was verified"),
        ))
    })
}

impl Report {
    /// A report for input that could not be read (verdict `unreadable`).
    pub fn unreadable(code: &'static str, cause: &'static str, message: String) -> Self {
        let finding = Finding {
            code,
            severity: Severity::Error,
            cause,
            message,
            record: None,
        };
        Self::finish(Verdict::Unreadable, None, vec![finding], None)
    }

    fn not_genuine(error: &ChainError) -> Self {
        let (cause, explanation) = chain_cause(&error.error);
        let what = if error.index == 0 {
            "the mint (record 0)".to_string()
        } else {
            format!("record {}", error.index)
        };
        let finding = Finding {
            code: error.code(),
            severity: Severity::Error,
            cause,
            message: format!("{explanation}. {what}: {}", error.error),
            record: Some(error.index),
        };
        let mut report = Self::finish(Verdict::NotGenuine, None, vec![finding], None);
        report.summary = format!(
            "{}: {cause}: {what}: {} [{}]",
            Verdict::NotGenuine.headline(),
            error.error,
            error.code()
        );
        report
    }

    fn ledger_proof_refused(error: &PayloadVerifyError) -> Self {
        let (cause, explanation) = match error {
            PayloadVerifyError::Head(_) => (
                "bad ledger statement",
                "the ledger's head statement stapled to the records is forged, for another \
                 item, older than the records, or contradicts them",
            ),
            _ => (
                "not in the ledger's log",
                "the log checkpoint or inclusion proof does not prove the last record into the \
                 ledger's signed log: the history was altered or not logged",
            ),
        };
        let finding = Finding {
            code: error.code(),
            severity: Severity::Error,
            cause,
            message: format!("{explanation}: {error}"),
            record: None,
        };
        let mut report = Self::finish(Verdict::NotGenuine, None, vec![finding], None);
        report.summary = format!(
            "{}: {cause}: {error} [{}]",
            Verdict::NotGenuine.headline(),
            error.code()
        );
        report
    }

    fn from_verified(
        verified: &VerifiedPayload,
        label_only: bool,
        now: Timestamp,
        options: Options,
    ) -> Self {
        let chain = &verified.chain;
        let current = Current {
            chain,
            head: verified.head.as_ref(),
        };
        let story = story(&current, verified, label_only, now);
        let mut findings = Vec::new();
        if current.stolen() {
            let when = if current.ahead().is_some() {
                " (per the ledger's head statement)".to_string()
            } else {
                last_report(chain, ReportStatus::Stolen).unwrap_or_default()
            };
            findings.push(Finding {
                code: CODE_STOLEN,
                severity: Severity::Warning,
                cause: "reported stolen",
                message: format!(
                    "REPORTED STOLEN by its owner{when}. The piece is genuine, but do not buy it \
                     from anyone who cannot prove they are the current owner; contact the ledger \
                     operator."
                ),
                record: None,
            });
        }
        if current.void() {
            let when = if current.ahead().is_some() {
                " (per the ledger's head statement)".to_string()
            } else {
                last_report(chain, ReportStatus::Void).unwrap_or_default()
            };
            findings.push(Finding {
                code: CODE_VOID,
                severity: Severity::Error,
                cause: "voided by the maker",
                message: format!(
                    "the maker {} voided this piece{when} (a misprint, a destroyed or withdrawn \
                     piece): it no longer counts as genuine edition {}/{}",
                    chain.maker().name,
                    chain.mint().number,
                    chain.mint().size
                ),
                record: usize::try_from(story.records.saturating_sub(1)).ok(),
            });
        }
        if let Some(head) = &verified.head {
            let age = now.0.saturating_sub(head.time.0);
            if age > options.max_age_secs {
                findings.push(Finding {
                    code: CODE_HEAD_OLD,
                    severity: Severity::Warning,
                    cause: "old ownership information",
                    message: format!(
                        "the ledger confirmed the owner {} days ago ({}), more than the {}-day \
                         maximum: the piece may have changed hands since. Ask the seller for a \
                         fresh QR from `provenance qr`.",
                        age / DAY_SECS,
                        head.time.to_date(),
                        options.max_age_secs / DAY_SECS
                    ),
                    record: None,
                });
            }
        }
        let basis = if label_only {
            OwnerBasis::Label
        } else if verified.head.is_none() {
            OwnerBasis::LastInFile
        } else {
            OwnerBasis::Ledger
        };
        if basis == OwnerBasis::LastInFile {
            findings.push(Finding {
                code: CODE_OWNER_UNCONFIRMED,
                severity: Severity::Warning,
                cause: "owner not confirmed",
                message: "this history carries no head statement signed by the ledger, so \
                          nothing shows it is complete: a history cut before a later transfer \
                          looks exactly like this. The owner shown is the last one in the file, \
                          not confirmed as the current owner. Ask the seller for the living QR \
                          from `provenance qr` or a fresh `provenance export`."
                    .to_string(),
                record: None,
            });
        }
        if label_only {
            findings.push(Finding {
                code: CODE_LABEL_ONLY,
                severity: Severity::Warning,
                cause: "label only",
                message: "this is the printed label: it proves who made the piece (origin), not \
                          who owns it now nor what happened to it since (repairs, transfers, \
                          stolen reports). Ask the seller for the living QR from `provenance qr` \
                          or a full history from `provenance export`, and an owner challenge."
                    .to_string(),
                record: None,
            });
        }
        let verdict = if current.void() {
            Verdict::NotGenuine
        } else if findings.is_empty() {
            Verdict::Genuine
        } else {
            Verdict::GenuineWithWarnings
        };
        let owner = OwnerContext {
            key: *current.owner(),
            item: chain.item(),
            basis,
        };
        Self::finish(verdict, Some(story), findings, Some(owner))
    }

    fn finish(
        verdict: Verdict,
        story: Option<Story>,
        findings: Vec<Finding>,
        owner: Option<OwnerContext>,
    ) -> Self {
        let code = findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .map(|f| f.code);
        let mut report = Report {
            verdict,
            code,
            summary: String::new(),
            story,
            findings,
            owner_challenge: None,
            exit_code: verdict.exit_code(),
            trust_anchor: None,
            owner,
        };
        report.summary = report.make_summary();
        report
    }

    fn make_summary(&self) -> String {
        let mut line = format!("{}: ", self.verdict.headline());
        match (&self.story, self.verdict) {
            (Some(story), Verdict::NotGenuine) => {
                // Voided: the records verify, but the maker withdrew the piece.
                let _ = write!(
                    line,
                    "{}/{} of '{}' was VOIDED by its maker {}.",
                    story.edition.number,
                    story.edition.size,
                    inert(&story.title),
                    inert(&story.maker.name)
                );
            }
            (Some(story), _) => {
                if story.stolen {
                    line.push_str("REPORTED STOLEN. ");
                }
                let _ = write!(
                    line,
                    "{}/{} of '{}', made by {} at {} on {}.",
                    story.edition.number,
                    story.edition.size,
                    inert(&story.title),
                    inert(&story.maker.name),
                    inert(&story.microfactory),
                    date(&story.minted_at)
                );
                if story.freshness.basis == "label" {
                    line.push_str(" Label only: proves origin, not current owner or history.");
                } else {
                    match story.repair_count {
                        0 => line.push_str(" Never repaired."),
                        1 => line.push_str(" Repaired once."),
                        2 => line.push_str(" Repaired twice."),
                        n => {
                            let _ = write!(line, " Repaired {n} times.");
                        }
                    }
                    let owners = story.owner_count;
                    let plural = if owners == 1 { "" } else { "s" };
                    let owner = &story.current_owner.key_id;
                    if story.freshness.basis == "last_record" {
                        let _ = write!(
                            line,
                            " {owners} owner{plural}. Last owner in this file: key {owner}, \
                             not confirmed by the ledger."
                        );
                    } else {
                        let _ = write!(line, " {owners} owner{plural}. Current owner key {owner}.");
                    }
                }
            }
            (None, _) => {
                if let Some(f) = self.findings.first() {
                    let _ = write!(line, "{} — {} [{}]", f.cause, f.message, f.code);
                }
            }
        }
        line
    }

    /// Checks an owner's answer (from `provenance prove ITEM --challenge NONCE`) against the
    /// verified current owner key and item. The result is stored in
    /// [`Report::owner_challenge`] and changes [`Report::exit_code`] to
    /// [`exit::CHALLENGE_FAILED`] when a verified piece's challenge fails.
    pub fn check_owner(&mut self, nonce: &[u8], answer: &str) -> &ChallengeOutcome {
        let outcome = match &self.owner {
            None => ChallengeOutcome {
                passed: false,
                code: None,
                message: "not checked: the piece did not verify, so there is no owner key to \
                          check the answer against"
                    .to_string(),
            },
            Some(owner) => match challenge::check(answer, &owner.key, &owner.item, nonce) {
                Ok(()) if owner.basis == OwnerBasis::Label => ChallengeOutcome {
                    passed: true,
                    code: None,
                    message: format!(
                        "PASSED: the seller holds the key of the owner at minting ({}); a label \
                         cannot show whether the piece changed hands since",
                        owner.key.key_id()
                    ),
                },
                Ok(()) if owner.basis == OwnerBasis::LastInFile => ChallengeOutcome {
                    passed: true,
                    code: None,
                    message: format!(
                        "PASSED, BUT NOT CONFIRMED: the seller holds the key of the last owner in \
                         this history ({}); without the ledger's head statement the history may \
                         be cut before a later transfer, so this does not show the seller is the \
                         current owner",
                        owner.key.key_id()
                    ),
                },
                Ok(()) => ChallengeOutcome {
                    passed: true,
                    code: None,
                    message: format!(
                        "PASSED: the seller holds the current owner's key ({})",
                        owner.key.key_id()
                    ),
                },
                Err(error) => ChallengeOutcome {
                    passed: false,
                    code: Some(error.code()),
                    message: format!(
                        "FAILED: the seller did not prove ownership: {error}. The piece may be \
                         genuine, but this seller has not shown they own it"
                    ),
                },
            },
        };
        if !outcome.passed && self.owner.is_some() {
            self.exit_code = exit::CHALLENGE_FAILED;
        }
        self.owner_challenge.insert(outcome)
    }

    /// Records which trust list the verdict rests on and whether its operator was pinned; the
    /// text output then warns when it was not.
    pub fn note_trust_anchor(&mut self, trust: &TrustList, pinned: bool) {
        let content = trust.content();
        self.trust_anchor = Some(TrustAnchor {
            operator_key_id: trust.operator().key_id().to_string(),
            pinned,
            version: content.version,
            issued_at: content.issued_at.to_rfc3339(),
        });
    }

    /// The process exit code: 0 genuine, 1 genuine with warnings, 2 not genuine,
    /// 3 unreadable, 4 owner challenge failed on a piece that verified.
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// The codes of every finding, in order (handy for tests and scripts).
    pub fn codes(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.code).collect()
    }

    /// The plain-language, one-screen text the binary prints.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.story.as_ref().is_some_and(|s| s.stolen) {
            out.push_str("!!! WARNING: THIS PIECE IS REPORTED STOLEN !!!\n");
        }
        let _ = writeln!(out, "{}", inert(&self.summary));
        if let Some(story) = &self.story {
            out.push('\n');
            let _ = writeln!(out, "  Item        {}", story.item);
            let _ = writeln!(
                out,
                "  Piece       '{}', edition {}/{}",
                inert(&story.title),
                story.edition.number,
                story.edition.size
            );
            let _ = writeln!(
                out,
                "  Maker       {} (key id {})",
                inert(&story.maker.name),
                story.maker.key_id
            );
            let _ = writeln!(out, "  Made at     {}", inert(&story.microfactory));
            let _ = writeln!(out, "  Run         {}", story.run);
            let _ = writeln!(out, "  Minted      {}", story.minted_at);
            for r in &story.repairs {
                let parts = if r.parts.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (parts: {})",
                        r.parts
                            .iter()
                            .map(|p| inert(p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let _ = writeln!(
                    out,
                    "  Repair      {} at {}: {}{parts}",
                    date(&r.time),
                    inert(&r.desk.name),
                    inert(&r.note)
                );
            }
            if story.repair_count > story.repairs.len() as u64 {
                let _ = writeln!(
                    out,
                    "  Repairs     {} in all, per the ledger (ask for `provenance export` to see each)",
                    story.repair_count
                );
            }
            for b in &story.badges {
                let place = b
                    .place
                    .as_deref()
                    .map(|p| format!(", {}", inert(p)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  Badge       {} {}{place} (host {})",
                    date(&b.time),
                    inert(&b.event),
                    inert(&b.host.name)
                );
            }
            if story.badge_count > story.badges.len() as u64 {
                let _ = writeln!(
                    out,
                    "  Badges      {} in all, per the ledger",
                    story.badge_count
                );
            }
            for r in &story.reports {
                let _ = writeln!(out, "  Report      {} {}", date(&r.time), r.status);
            }
            let owner_word = if story.freshness.basis == "label" {
                "Owner at minting"
            } else {
                "Owner"
            };
            let _ = writeln!(
                out,
                "  Owners      {} so far; {owner_word}: key id {} ({})",
                story.owner_count, story.current_owner.key_id, story.current_owner.key
            );
            let _ = writeln!(out, "  Freshness   {}", story.freshness.note);
        }
        if !self.findings.is_empty() {
            out.push('\n');
            for f in &self.findings {
                let tag = match f.severity {
                    Severity::Warning => "WARNING",
                    Severity::Error => "PROBLEM",
                };
                let _ = writeln!(
                    out,
                    "  {tag} [{}] {}: {}",
                    f.code,
                    f.cause,
                    inert(&f.message)
                );
            }
        }
        if let Some(c) = &self.owner_challenge {
            let code = c.code.map(|c| format!(" [{c}]")).unwrap_or_default();
            let _ = writeln!(out, "\n  Owner challenge{code}: {}", c.message);
        }
        if let Some(anchor) = &self.trust_anchor {
            let _ = write!(
                out,
                "\n  Trust list  version {} of {}, operator key id {}",
                anchor.version,
                date(&anchor.issued_at),
                anchor.operator_key_id
            );
            if anchor.pinned {
                let _ = writeln!(out, " (pinned)");
            } else {
                let _ = writeln!(
                    out,
                    "\n              NOT PINNED: this file is its own trust anchor, and anyone can \
                     sign a trust list.\n              Pass --operator KEY (from the ledger \
                     operator's published key) to pin it."
                );
            }
        }
        out
    }
}

/// Text from signed records made inert for a terminal (control and bidirectional-formatting
/// characters escaped). Decoding already refuses them (spec §3); this is the second fence, and
/// the JSON output keeps the exact text.
fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    provenance_core::text::escape_for_terminal(text)
}

/// The date part of an RFC 3339 time.
fn date(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

fn last_report(chain: &VerifiedChain, status: ReportStatus) -> Option<String> {
    chain
        .reports()
        .iter()
        .rev()
        .find(|r| r.status == status)
        .map(|r| format!(" on {}", r.time.to_date()))
}

/// "today", "1 day ago", "12 days ago".
fn days_ago(days: u64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        n => format!("{n} days ago"),
    }
}

fn freshness(
    current: &Current<'_>,
    verified: &VerifiedPayload,
    label_only: bool,
    now: Timestamp,
) -> Freshness {
    let chain = current.chain;
    let in_log = verified.checkpoint.is_some();
    let logged = match &verified.checkpoint {
        Some(c) => format!(
            "; the last record is in the ledger's signed log of {} entries",
            c.size
        ),
        None => String::new(),
    };
    let (basis, as_of, note, log_size) = if let Some(head) = current.head {
        let days = now.0.saturating_sub(head.time.0) / DAY_SECS;
        (
            "head_statement",
            head.time,
            format!(
                "owner confirmed by the ledger as of {}, {}{logged}",
                head.time.to_date(),
                days_ago(days)
            ),
            Some(
                verified
                    .checkpoint
                    .as_ref()
                    .map_or(head.log_size, |c| c.size),
            ),
        )
    } else if label_only {
        (
            "label",
            chain.minted_at(),
            format!(
                "as of minting on {}: a label carries no later history",
                chain.minted_at().to_date()
            ),
            None,
        )
    } else {
        (
            "last_record",
            chain.last_time(),
            format!(
                "as of the last record's date, {} ({} records); NOT CONFIRMED: no \
                 ledger-signed head statement, so later records may exist{logged}",
                chain.last_time().to_date(),
                chain.seq() + 1
            ),
            verified.checkpoint.as_ref().map(|c| c.size),
        )
    };
    Freshness {
        basis,
        as_of: as_of.to_rfc3339(),
        note,
        age_days: now.0.saturating_sub(as_of.0) / DAY_SECS,
        log_size,
        in_log,
    }
}

fn story(
    current: &Current<'_>,
    verified: &VerifiedPayload,
    label_only: bool,
    now: Timestamp,
) -> Story {
    let chain = current.chain;
    let mint = chain.mint();
    let freshness = freshness(current, verified, label_only, now);
    let ahead = current.ahead();
    Story {
        item: chain.item().to_base32(),
        title: mint.title.clone(),
        maker: Party::of(&chain.maker().name, &chain.maker().key),
        microfactory: mint.microfactory.clone(),
        run: mint.run.to_base32(),
        edition: Edition {
            number: mint.number,
            size: mint.size,
        },
        minted_at: chain.minted_at().to_rfc3339(),
        repairs: chain
            .repairs()
            .iter()
            .map(|r| RepairEntry {
                time: r.time.to_rfc3339(),
                desk: Party::of(&r.desk.name, &r.desk.key),
                note: r.note.clone(),
                parts: r.parts.clone(),
            })
            .collect(),
        badges: chain
            .badges()
            .iter()
            .map(|b| BadgeEntry {
                time: b.time.to_rfc3339(),
                host: Party::of(&b.host.name, &b.host.key),
                event: b.event.clone(),
                place: b.place.clone(),
            })
            .collect(),
        reports: chain
            .reports()
            .iter()
            .map(|r| ReportEntry {
                time: r.time.to_rfc3339(),
                status: r.status.name(),
            })
            .collect(),
        repair_count: ahead.map_or(chain.repairs().len() as u64, |h| h.repairs),
        badge_count: ahead.map_or(chain.badges().len() as u64, |h| h.badges),
        owner_count: ahead.map_or(chain.owner_count() as u64, |h| h.transfers + 1),
        current_owner: Party::of("", current.owner()),
        stolen: current.stolen(),
        void: current.void(),
        records: ahead.map_or(chain.seq(), |h| h.seq) + 1,
        records_verified: chain.seq() + 1,
        head: ahead.map_or(chain.head(), |h| h.head).to_hex(),
        freshness,
    }
}

fn payload_cause(error: &PayloadError) -> &'static str {
    match error {
        PayloadError::TooLarge(_) => "payload too large",
        PayloadError::BadPrefix => "not a provenance payload",
        PayloadError::BadBase45 => "damaged payload",
        PayloadError::BadContainer(_) => "not a provenance payload",
        _ => "damaged payload",
    }
}

fn payload_message(error: &PayloadError) -> String {
    match error {
        PayloadError::BadPrefix => {
            "the input is not a provenance payload (it must start with PV1:) nor a history file"
                .to_string()
        }
        other => format!("the payload could not be read: {other}"),
    }
}

/// The cause in words and a short explanation for a chain error.
fn chain_cause(error: &VerifyError) -> (&'static str, &'static str) {
    match error {
        VerifyError::Decode(_) => (
            "tampered or damaged",
            "a record is malformed or was altered after signing",
        ),
        VerifyError::SignatureInvalid => (
            "tampered",
            "a signature does not verify: the record was altered, or moved from another item \
             or position",
        ),
        VerifyError::UnknownSigner(_) => (
            "untrusted signer",
            "signed by a key that is not on the trust list (an untrusted maker, desk or host)",
        ),
        VerifyError::SignerNotAuthorized(Role::Maker) => (
            "signer not authorized",
            "signed by a trusted key that is not a trusted maker",
        ),
        VerifyError::SignerNotAuthorized(_) => (
            "signer not authorized",
            "signed by a trusted key without the role this record needs",
        ),
        VerifyError::SignerNotOwner => (
            "signer not authorized",
            "a transfer or stolen/recovered report not signed by the owner at that time",
        ),
        VerifyError::SignerNotMaker => (
            "signer not authorized",
            "a void report not signed by the piece's maker",
        ),
        VerifyError::KeyRevoked => (
            "key revoked",
            "signed with a key the operator revoked before the record's date",
        ),
        VerifyError::KeyExpired | VerifyError::KeyNotYetValid => (
            "key outside its validity",
            "signed with a key that was not valid at the record's date",
        ),
        VerifyError::EditionOverCap { .. } => (
            "edition over cap",
            "the edition number is larger than the run size",
        ),
        VerifyError::EditionZero => ("invalid edition", "the edition number is 0"),
        VerifyError::RunMismatch(_) | VerifyError::OutsideWindow | VerifyError::InvalidWindow => (
            "run mismatch",
            "the mint does not agree with its production run",
        ),
        VerifyError::TimeInFuture => (
            "dated in the future",
            "a record is dated after now (check --now and the clock)",
        ),
        VerifyError::ItemVoid => ("broken chain", "a record follows the maker's void report"),
        _ => (
            "broken chain",
            "the records do not form one valid chain (order, sequence, dates or kinds)",
        ),
    }
}

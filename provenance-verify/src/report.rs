//! The report: the verdict, the story and the findings a verification produces, as the
//! binary's `--json` and the web verifier show them.

use provenance_core::PublicKey;
use serde::Serialize;

use crate::assess::OwnerContext;

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
    /// [`CODE_INPUT_UNREADABLE`](crate::CODE_INPUT_UNREADABLE) / [`CODE_INPUT_NO_QR`](crate::CODE_INPUT_NO_QR).
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
    pub(crate) fn of(name: &str, key: &PublicKey) -> Self {
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
    /// Whether the owner's recovery key signed it (spec §3.1), not the owner key or the maker.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub by_recovery_key: bool,
}

/// The owner's recovery key moved the piece to a new owner key (spec §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryEntry {
    /// When (RFC 3339).
    pub time: String,
    /// The owner key it replaced.
    pub from: Party,
    /// The new owner key.
    pub to: Party,
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
    /// Recoveries of the owner key, oldest first (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recoveries: Vec<RecoveryEntry>,
    /// Number of owner keys so far (the first owner plus one per transfer or recovery).
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

/// What an owner challenge showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeResult {
    /// The answer was made with the key of the owner the ledger confirms today.
    Passed,
    /// The answer was not made with that key (or could not be read).
    Failed,
    /// The input cannot tell who owns the piece today (a label, or a history without the
    /// ledger's head statement), so no answer is judged, whoever made it.
    NotJudged,
}

/// The outcome of an owner challenge (`--challenge NONCE --response ANSWER`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChallengeOutcome {
    /// What the challenge showed.
    pub result: ChallengeResult,
    /// Whether the answer was made with today's owner's key for this item and nonce: true only
    /// for [`ChallengeResult::Passed`].
    pub passed: bool,
    /// Why it failed (`proof.invalid`, `proof.malformed`), or why it was not judged
    /// (`payload.label_only`, `payload.owner_unconfirmed`).
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
    /// For a buyer, first and in plain words (no codes, key ids or commands): e.g. `GENUINE`,
    /// `REPORTED STOLEN on 2026-05-20: do not buy`, `NOT GENUINE: do not buy`.
    pub headline: String,
    /// For a buyer, what the headline means and what to do next, in plain words.
    pub advice: String,
    /// One line in plain language, with the first problem's code.
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
    pub(crate) owner: Option<OwnerContext>,
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

//! The HTTP API's contract types, shared by the server that writes them and the CLI that reads
//! them, so a renamed field is a compile error on both sides rather than a silent default.

use serde::{Deserialize, Serialize};

/// The RFC 9457 problem+json body of every error answer (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemBody {
    /// `urn:provenance:error:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// The code's one-line meaning (spec §10).
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// The spec's stable code.
    pub code: String,
    /// For a stale head (409): the item's current head, to sign against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadRef>,
}

/// An item's head as the API names it: its sequence number and record hash (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadRef {
    /// The head record's sequence number.
    pub seq: u64,
    /// The head record's hash, lowercase hex.
    pub hash: String,
}

/// The answer to a stored (201) or already stored (200) item record: `POST /v1/items` and
/// `POST /v1/items/{item}/records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAck {
    /// The item.
    pub item: String,
    /// The record's sequence number.
    pub seq: u64,
    /// The record's hash (hex): the item's head after it.
    pub head: String,
    /// The record's kind (`mint`, `repair`, ...).
    pub kind: String,
    /// Its leaf index in the Merkle log.
    pub log_index: Option<u64>,
    /// For a mint: its run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// The answer to `POST /v1/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAck {
    /// The run's id.
    pub run: String,
    /// Always 0: a run manifest is its own chain of one.
    pub seq: u64,
    /// The manifest's hash (hex).
    pub head: String,
    /// Always `run`.
    pub kind: String,
    /// Its leaf index in the Merkle log.
    pub log_index: Option<u64>,
}

/// The answer to `POST /v1/trust`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAck {
    /// The stored list's version.
    pub version: u64,
    /// How many keys it lists.
    pub entries: usize,
}

/// Any write's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ack {
    /// An item record.
    Record(RecordAck),
    /// A run manifest.
    Run(RunAck),
    /// A trust list.
    Trust(TrustAck),
}

/// A key and the name the trust list gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyRef {
    /// Unpadded base64url public key.
    pub key: String,
    /// Its key id (16 hex digits).
    pub key_id: String,
    /// Its name in the trust list (empty when it has none).
    pub name: String,
}

/// `GET /v1/runs/{run}`: the run manifest and the pieces minted so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    /// The run's id.
    pub run: String,
    /// Its title.
    pub title: String,
    /// Its microfactory.
    pub microfactory: String,
    /// Where it is made.
    pub place: String,
    /// The edition size N.
    pub size: u64,
    /// The production window's start (RFC 3339).
    pub window_start: String,
    /// The production window's end (RFC 3339).
    pub window_end: String,
    /// When the maker signed the manifest (RFC 3339).
    pub time: String,
    /// The maker.
    pub maker: PartyRef,
    /// The manifest's hash (hex).
    pub head: String,
    /// Pieces minted so far.
    pub minted: usize,
    /// Those pieces, by edition number.
    pub items: Vec<RunPiece>,
}

/// One minted piece of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPiece {
    /// Its edition number n of N.
    pub number: u64,
    /// Its item id.
    pub item: String,
    /// The short id printed on its label.
    pub short: String,
}

/// `GET /v1/trust` (JSON): the ledger's keys and the current trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustView {
    /// The ledger's public URL, when it has one (labels then open `<url>/v`).
    pub public_url: Option<String>,
    /// The current list's version (0: none posted yet).
    pub version: u64,
    /// When the operator issued it (RFC 3339).
    pub issued_at: String,
    /// The operator key the ledger accepts lists from.
    pub operator: String,
    /// The ledger's own key (head statements, checkpoints).
    pub ledger: String,
    /// The ledger key the list names, if it names one.
    pub listed_ledger: Option<String>,
    /// Every trusted key.
    pub entries: Vec<TrustEntryView>,
}

/// One entry of the trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustEntryView {
    /// Unpadded base64url public key.
    pub key: String,
    /// Its key id.
    pub key_id: String,
    /// Its display name.
    pub name: String,
    /// `maker`, `repairer`, `host`.
    pub roles: Vec<String>,
    /// Records dated before this are refused (RFC 3339).
    pub valid_from: String,
    /// Records dated at or after this are refused.
    pub valid_until: Option<String>,
    /// Revoked from this time on.
    pub revoked_at: Option<String>,
}

/// `GET /v1/log/inclusion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The leaf's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The leaf's hash (hex), when the ledger has it.
    pub leaf_hash: Option<String>,
    /// The RFC 9162 audit path, hex hashes.
    pub proof: Vec<String>,
}

/// `GET /v1/log/consistency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The earlier tree size.
    pub first: u64,
    /// The later tree size.
    pub second: u64,
    /// The RFC 9162 consistency proof, hex hashes.
    pub proof: Vec<String>,
}

/// `GET /v1/log/entries`: a page of leaves and the records they were computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntries {
    /// The first index served.
    pub start: u64,
    /// One past the last index served.
    pub end: u64,
    /// The latest checkpoint's size.
    pub size: u64,
    /// The leaves.
    pub entries: Vec<LogEntryView>,
}

/// One leaf of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntryView {
    /// Its index.
    pub index: u64,
    /// `record` or `run`.
    pub kind: String,
    /// The item (or run) id.
    pub id: String,
    /// The record's sequence number (0 for a run).
    pub seq: u64,
    /// The leaf hash (hex).
    pub leaf_hash: String,
    /// The record's bytes (standard base64), when stored.
    pub bytes: Option<String>,
}

/// `GET /v1/items/{item}/head` with `Accept: application/json`: the signed head statement and
/// what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadView {
    /// The item.
    pub item: String,
    /// The head's sequence number.
    pub seq: u64,
    /// The head record's hash (hex).
    pub head: String,
    /// The current owner's key.
    pub owner: String,
    /// Reported stolen.
    pub stolen: bool,
    /// Voided by the maker.
    pub void: bool,
    /// Repairs so far.
    pub repairs: u64,
    /// Transfers so far.
    pub transfers: u64,
    /// Badges so far.
    pub badges: u64,
    /// When the ledger signed it (RFC 3339).
    pub time: String,
    /// The log size it names.
    pub log_size: u64,
    /// The statement's COSE_Sign1 bytes, standard base64.
    pub cose: String,
}

/// The prefix of every problem's `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:provenance:error:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_without_head_omits_it_and_reads_back() {
        let body = ProblemBody {
            type_uri: format!("{PROBLEM_TYPE_PREFIX}ledger.not_found"),
            title: "nothing there".into(),
            status: 404,
            detail: "no item".into(),
            code: "ledger.not_found".into(),
            head: None,
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        assert!(text.starts_with("{\"type\":\"urn:provenance:error:ledger.not_found\""));
        assert!(!text.contains("head"));
        assert_eq!(serde_json::from_str::<ProblemBody>(&text).ok(), Some(body));
    }
}

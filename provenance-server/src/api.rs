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

//! The CLI's side: a small blocking HTTP client for the ledger API, and the error type every
//! command reports as one line `error: <message> [code]`. Key files are [`crate::keyfile`],
//! typed input [`crate::parse`].

use std::fmt;
use std::io::Read;
use std::time::Duration;

use provenance_core::codes;
use provenance_core::{ItemId, RecordHash, Timestamp};

use crate::api::{HeadRef, ItemView, ProblemBody};

/// Text that came from the ledger, made safe to print: control, bidirectional-formatting and
/// separator characters written as `\u{XXXX}` (as the verifier shows signed text), so that a
/// hostile ledger, or anyone on a plain-http path, cannot clear or rewrite the terminal.
pub fn from_ledger(text: &str) -> String {
    provenance_core::text::escape_for_terminal(text).into_owned()
}

/// The CLI's own code for a local I/O failure: a file that cannot be read or written, an
/// address that cannot be resolved or bound. Not a spec code: nothing was sent to a ledger.
pub const CODE_IO: &str = "cli.io";
/// The CLI's own code for a key file that is not a usable private key.
pub const CODE_KEY_FILE: &str = "cli.key_file";
/// The CLI's own code for a ledger that cannot be reached.
pub const CODE_UNREACHABLE: &str = "cli.unreachable";

/// A command failure: a message, and the spec code when the ledger or core gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// What went wrong.
    pub message: String,
    /// The spec's error code (or the CLI's own `cli.*`/`outbox.*` code), if any: always one
    /// of the known constants, never free text.
    pub code: Option<&'static str>,
    /// The HTTP status, if the ledger answered.
    pub status: Option<u16>,
    /// For 409: the item's current head.
    pub head: Option<HeadRef>,
}

impl CliError {
    /// An error without a code.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: None,
            status: None,
            head: None,
        }
    }

    /// A local I/O failure (a file, a directory, an address): code [`CODE_IO`].
    pub fn io(message: impl Into<String>) -> Self {
        Self::coded(message, CODE_IO)
    }

    /// An error with a spec code.
    pub fn coded(message: impl Into<String>, code: &'static str) -> Self {
        CliError {
            code: Some(code),
            ..Self::msg(message)
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

/// Largest response body the client reads: a history container at its limit, plus framing.
const MAX_RESPONSE_BYTES: u64 = provenance_core::limits::MAX_HISTORY_BYTES as u64 + (64 << 10);

/// A blocking client for one ledger.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

fn read_limited(resp: ureq::Response) -> Result<Vec<u8>, CliError> {
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut body)
        .map_err(|e| CliError::msg(format!("could not read the ledger's answer: {e}")))?;
    Ok(body)
}

impl Client {
    /// A client for the ledger at `base` (e.g. `http://127.0.0.1:8750`).
    pub fn new(base: &str) -> Self {
        Client {
            base: base.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(10))
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn fail(&self, e: ureq::Error) -> CliError {
        match e {
            ureq::Error::Status(status, resp) => {
                let body = read_limited(resp).unwrap_or_default();
                match serde_json::from_slice::<ProblemBody>(&body) {
                    Ok(p) => match known_code(&p.code) {
                        Some(code) => CliError {
                            message: from_ledger(&p.detail),
                            code: Some(code),
                            status: Some(status),
                            head: p.head,
                        },
                        // A code this CLI does not know (a newer ledger): kept in the text.
                        None => CliError {
                            status: Some(status),
                            head: p.head,
                            ..CliError::msg(format!(
                                "{} [{}]",
                                from_ledger(&p.detail),
                                from_ledger(&p.code)
                            ))
                        },
                    },
                    _ => CliError {
                        status: Some(status),
                        ..CliError::msg(format!("the ledger answered HTTP {status}"))
                    },
                }
            }
            ureq::Error::Transport(t) => CliError::coded(
                format!(
                    "cannot reach the ledger at {}: {}. Is it running? Start one with \
                         `provenance serve`, or point at yours with --server URL or \
                         PROVENANCE_SERVER=URL",
                    self.base,
                    from_ledger(&t.to_string())
                ),
                CODE_UNREACHABLE,
            ),
        }
    }

    /// GET a JSON document as one of the API's types ([`crate::api`]); an answer of another
    /// shape is an error that names the field, never a silent default.
    pub fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.get_with_token(path, None)
    }

    /// [`Client::get`], sending `token` as `Authorization: Bearer` when given (the drop
    /// figures of a ledger run with `serve --stats token`).
    pub fn get_with_token<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<T, CliError> {
        let mut request = self
            .agent
            .get(&self.url(path))
            .set("Accept", "application/json");
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let resp = request.call().map_err(|e| self.fail(e))?;
        serde_json::from_slice(&read_limited(resp)?).map_err(|e| {
            CliError::msg(format!(
                "the ledger's answer to {path} is not what this CLI reads: {}",
                from_ledger(&e.to_string())
            ))
        })
    }

    /// GET raw bytes with an Accept header; also returns the `Provenance-Payload` header.
    pub fn get_bytes(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<(Vec<u8>, Option<String>), CliError> {
        let resp = self
            .agent
            .get(&self.url(path))
            .set("Accept", accept)
            .call()
            .map_err(|e| self.fail(e))?;
        let form = resp.header("Provenance-Payload").map(str::to_string);
        Ok((read_limited(resp)?, form))
    }

    /// POST bytes with a Content-Type; returns the status and JSON answer.
    pub fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        media: &str,
        body: &[u8],
    ) -> Result<(u16, T), CliError> {
        let resp = self
            .agent
            .post(&self.url(path))
            .set("Content-Type", media)
            .send_bytes(body)
            .map_err(|e| self.fail(e))?;
        let status = resp.status();
        let value = serde_json::from_slice(&read_limited(resp)?).map_err(|e| {
            CliError::msg(format!(
                "the ledger's answer to {path} is not what this CLI reads: {}",
                from_ledger(&e.to_string())
            ))
        })?;
        Ok((status, value))
    }

    /// The item's current head (seq, hash, time of the last record).
    pub fn head(&self, item: &ItemId) -> Result<(u64, RecordHash, Timestamp), CliError> {
        let view: ItemView = self.get(&format!("/v1/items/{item}"))?;
        view.head
            .as_ref()
            .and_then(|h| {
                Some((
                    h.seq,
                    RecordHash::from_hex(&h.hash)?,
                    Timestamp::parse(&h.time)?,
                ))
            })
            .ok_or_else(|| CliError::msg("the ledger's item answer has no usable head"))
    }
}

/// The spec's code spelled `text`, as its constant; `None` for a code this CLI does not know.
pub fn known_code(text: &str) -> Option<&'static str> {
    codes::ALL_CODES
        .iter()
        .map(|(code, _)| *code)
        .find(|code| *code == text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_ledger_code_is_read_as_its_constant_and_an_unknown_one_is_not_kept() {
        for (code, _) in codes::ALL_CODES {
            assert_eq!(known_code(code), Some(*code));
        }
        assert_eq!(
            known_code(&String::from("chain.seq_mismatch")),
            Some(codes::CHAIN_SEQ_MISMATCH)
        );
        assert_eq!(known_code("chain.seq_mismatch "), None);
        assert_eq!(known_code("future.code"), None);
    }
}

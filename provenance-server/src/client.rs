//! The CLI's side: a small blocking HTTP client for the ledger API, key files, and the error
//! type every command reports as one line `error: <message> [code]`.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use provenance_core::codes;
use provenance_core::{ItemId, PublicKey, RecordHash, SigningKey, Timestamp};

use crate::api::{HeadRef, ItemView, ProblemBody};

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
                            message: p.detail,
                            code: Some(code),
                            status: Some(status),
                            head: p.head,
                        },
                        // A code this CLI does not know (a newer ledger): kept in the text.
                        None => CliError {
                            status: Some(status),
                            head: p.head,
                            ..CliError::msg(format!("{} [{}]", p.detail, p.code))
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
                    "cannot reach the ledger at {}: {t}. Is it running? Start one with \
                         `provenance serve`, or point at yours with --server URL or \
                         PROVENANCE_SERVER=URL",
                    self.base
                ),
                CODE_UNREACHABLE,
            ),
        }
    }

    /// GET a JSON document as one of the API's types ([`crate::api`]); an answer of another
    /// shape is an error that names the field, never a silent default.
    pub fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let resp = self
            .agent
            .get(&self.url(path))
            .set("Accept", "application/json")
            .call()
            .map_err(|e| self.fail(e))?;
        serde_json::from_slice(&read_limited(resp)?).map_err(|e| {
            CliError::msg(format!(
                "the ledger's answer to {path} is not what this CLI reads: {e}"
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
                "the ledger's answer to {path} is not what this CLI reads: {e}"
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

/// Reads a PKCS#8 PEM private key file.
pub fn read_key(path: &Path) -> Result<SigningKey, CliError> {
    if let Some(mode) = loose_mode(path) {
        eprintln!(
            "warning: key file {} has mode {mode:04o}: others can read it; `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    read_key_bytes(path)
}

/// Reads the ledger's own key for `serve`: like [`read_key`], but a key file that group or
/// others may read is refused (as ssh refuses such keys), since it signs every checkpoint and
/// head statement.
pub fn read_ledger_key(path: &Path) -> Result<SigningKey, CliError> {
    if let Some(mode) = loose_mode(path) {
        return Err(CliError::coded(
            format!(
                "the ledger key {} has mode {mode:04o}: group or others can read it. Refusing \
                 to serve with it; fix with `chmod 600 {}`",
                path.display(),
                path.display()
            ),
            CODE_KEY_FILE,
        ));
    }
    read_key_bytes(path)
}

/// The permission bits of `path` when group or others have any access to it.
fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Largest key file read (a PEM Ed25519 key is about 120 bytes).
const MAX_KEY_FILE_BYTES: u64 = 16 << 10;

fn read_key_bytes(path: &Path) -> Result<SigningKey, CliError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE_BYTES).read_to_end(&mut bytes))
        .map_err(|e| CliError::io(format!("cannot read key file {}: {e}", path.display())))?;
    let not_a_key = |why: &str| {
        CliError::coded(
            format!(
                "{} is not a private key file: {why}. A key file is PKCS#8 PEM, starting \
                 -----BEGIN PRIVATE KEY----- (make one with `provenance keygen -o FILE.pem`)",
                path.display()
            ),
            CODE_KEY_FILE,
        )
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(not_a_key(
            "it holds binary data (a CBOR trust list or history?)",
        ));
    };
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(CliError::coded(
            format!(
                "{} is an encrypted (password-protected) PKCS#8 key, which provenance cannot \
                 use; decrypt it with `openssl pkey -in {} -out plain.pem` and keep the result \
                 mode 0600",
                path.display(),
                path.display()
            ),
            CODE_KEY_FILE,
        ));
    }
    if !text.contains("-----BEGIN PRIVATE KEY-----") {
        return Err(not_a_key("no -----BEGIN PRIVATE KEY----- block"));
    }
    SigningKey::from_pkcs8_pem(text).map_err(|_| not_a_key("the PEM is not an Ed25519 key"))
}

/// Writes a new key file with mode 0600; refuses to overwrite.
pub fn write_key(path: &Path, key: &SigningKey) -> Result<(), CliError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::io(format!("cannot create key file {}: {e}", path.display())))?;
    let pem = key
        .to_pkcs8_pem()
        .map_err(|e| CliError::coded(format!("{}: {e}", path.display()), CODE_KEY_FILE))?;
    file.write_all(pem.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| CliError::io(format!("cannot write key file {}: {e}", path.display())))
}

/// A fresh key from the operating system's random source.
pub fn generate_key() -> Result<SigningKey, CliError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| CliError::msg(format!("no randomness available: {e}")))?;
    Ok(SigningKey::from_seed(seed))
}

/// Parses a public key given as unpadded base64url, or as a file holding one (or a PEM
/// private key, whose public half is used).
pub fn parse_public(text: &str) -> Result<PublicKey, CliError> {
    if let Ok(key) = PublicKey::from_base64url(text) {
        return Ok(key);
    }
    let path = Path::new(text);
    if path.is_file() {
        let content = std::fs::read_to_string(path)
            .map_err(|e| CliError::io(format!("cannot read {}: {e}", path.display())))?;
        if content.contains("PRIVATE KEY") {
            return Ok(read_key(path)?.public_key());
        }
        return PublicKey::from_base64url(content.trim()).map_err(|e| {
            CliError::coded(
                format!("{}: {e}", path.display()),
                codes::DECODE_BAD_PUBLIC_KEY,
            )
        });
    }
    Err(CliError::coded(
        format!("{text:?} is neither a public key (43 characters of base64url) nor a key file"),
        codes::DECODE_BAD_PUBLIC_KEY,
    ))
}

/// Parses an item id (26 characters of base32).
pub fn parse_item(text: &str) -> Result<ItemId, CliError> {
    let trimmed = text.trim();
    ItemId::from_base32(trimmed).ok_or_else(|| {
        let base32 = |c: char| c.is_ascii_alphabetic() || ('2'..='7').contains(&c);
        let why = if trimmed.len() == 26 && trimmed.chars().all(base32) {
            "its last character sets padding bits no item id has (every id has one spelling)"
        } else {
            "an item id is 26 characters of base32 (a-z, 2-7)"
        };
        CliError::coded(
            format!("{text:?} is not an item id: {why}"),
            codes::LEDGER_BAD_REQUEST,
        )
    })
}

/// Parses a time: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or seconds since the epoch.
pub fn parse_time(text: &str) -> Result<Timestamp, CliError> {
    Timestamp::parse(text).ok_or_else(|| {
        CliError::msg(format!(
            "{text:?} is not a time (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds)"
        ))
    })
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

    #[test]
    fn key_files_are_pkcs8_v1_and_round_trip() {
        let key = SigningKey::from_seed([4; 32]);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"));
        assert_eq!(
            SigningKey::from_pkcs8_pem(&pem).unwrap().public_key(),
            key.public_key()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_key(&path, &key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_key(&path, &key).is_err(), "never overwrites");
        assert_eq!(read_key(&path).unwrap().public_key(), key.public_key());
        assert_eq!(
            parse_public(path.to_str().unwrap()).unwrap(),
            key.public_key()
        );
        assert_eq!(
            parse_public(&key.public_key().to_base64url()).unwrap(),
            key.public_key()
        );
        assert_eq!(
            parse_public("nope").unwrap_err().code,
            Some(codes::DECODE_BAD_PUBLIC_KEY)
        );
    }
}

//! The CLI's side: a small blocking HTTP client for the ledger API, key files, and the error
//! type every command reports as one line `error: <message> [code]`.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use provenance_core::{ItemId, PublicKey, RecordHash, SigningKey, Timestamp};
use serde_json::Value;

/// A command failure: a message, and the spec code when the ledger or core gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// What went wrong.
    pub message: String,
    /// The spec's error code, if any.
    pub code: Option<String>,
    /// The HTTP status, if the ledger answered.
    pub status: Option<u16>,
    /// For 409: the item's current head.
    pub head: Option<Value>,
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

    /// An error with a spec code.
    pub fn coded(message: impl Into<String>, code: &str) -> Self {
        CliError {
            code: Some(code.to_string()),
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

/// Largest response body the client reads (a history container is at most 1 MiB).
const MAX_RESPONSE_BYTES: u64 = 4 << 20;

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
                match serde_json::from_slice::<Value>(&body) {
                    Ok(p) if p.get("code").is_some() => CliError {
                        message: p["detail"]
                            .as_str()
                            .unwrap_or("the ledger refused the request")
                            .to_string(),
                        code: p["code"].as_str().map(str::to_string),
                        status: Some(status),
                        head: p.get("head").cloned(),
                    },
                    _ => CliError {
                        status: Some(status),
                        ..CliError::msg(format!("the ledger answered HTTP {status}"))
                    },
                }
            }
            ureq::Error::Transport(t) => {
                CliError::msg(format!("cannot reach the ledger at {}: {t}", self.base))
            }
        }
    }

    /// GET a JSON document.
    pub fn get_json(&self, path: &str) -> Result<Value, CliError> {
        let resp = self
            .agent
            .get(&self.url(path))
            .set("Accept", "application/json")
            .call()
            .map_err(|e| self.fail(e))?;
        serde_json::from_slice(&read_limited(resp)?)
            .map_err(|e| CliError::msg(format!("the ledger's answer is not JSON: {e}")))
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
    pub fn post(&self, path: &str, media: &str, body: &[u8]) -> Result<(u16, Value), CliError> {
        let resp = self
            .agent
            .post(&self.url(path))
            .set("Content-Type", media)
            .send_bytes(body)
            .map_err(|e| self.fail(e))?;
        let status = resp.status();
        let value = serde_json::from_slice(&read_limited(resp)?)
            .map_err(|e| CliError::msg(format!("the ledger's answer is not JSON: {e}")))?;
        Ok((status, value))
    }

    /// The item's current head (seq, hash, time of the last record).
    pub fn head(&self, item: &ItemId) -> Result<(u64, RecordHash, Timestamp), CliError> {
        let v = self.get_json(&format!("/v1/items/{item}"))?;
        let head = &v["head"];
        let seq = head["seq"].as_u64();
        let hash = head["hash"].as_str().and_then(RecordHash::from_hex);
        let time = head["time"].as_str().and_then(Timestamp::parse);
        match (seq, hash, time) {
            (Some(s), Some(h), Some(t)) => Ok((s, h, t)),
            _ => Err(CliError::msg("the ledger's item answer has no usable head")),
        }
    }
}

/// Reads a PKCS#8 PEM private key file.
pub fn read_key(path: &Path) -> Result<SigningKey, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::msg(format!("cannot read key file {}: {e}", path.display())))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| CliError::msg(format!("{}: {e}", path.display())))
}

/// Writes a new key file with mode 0600; refuses to overwrite.
pub fn write_key(path: &Path, key: &SigningKey) -> Result<(), CliError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::msg(format!("cannot create key file {}: {e}", path.display())))?;
    file.write_all(pkcs8_v1_pem(key)?.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| CliError::msg(format!("cannot write key file {}: {e}", path.display())))
}

/// The DER prefix of a PKCS#8 v1 (RFC 8410 §7) Ed25519 private key; the 32-byte seed follows.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The key as PKCS#8 **v1** PEM (RFC 8410 §7), the form `openssl genpkey -algorithm ed25519`
/// writes. `SigningKey::to_pkcs8_pem` writes v2 (with the public key attached), which
/// OpenSSL 3.0 refuses to read, so the seed is lifted out of that encoding and re-wrapped.
pub fn pkcs8_v1_pem(key: &SigningKey) -> Result<String, CliError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let v2 = key.to_pkcs8_pem();
    let body: String = v2.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD
        .decode(body.trim())
        .map_err(|_| CliError::msg("internal: cannot re-encode the key"))?;
    // OneAsymmetricKey: ... privateKey OCTET STRING { CurvePrivateKey OCTET STRING (32) } ...
    let at = der
        .windows(4)
        .position(|w| w == [0x04, 0x22, 0x04, 0x20])
        .filter(|&i| der.len() >= i + 36)
        .ok_or_else(|| CliError::msg("internal: unexpected PKCS#8 layout"))?;
    let mut v1 = PKCS8_V1_PREFIX.to_vec();
    v1.extend_from_slice(&der[at + 4..at + 36]);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(&v1)
    );
    match SigningKey::from_pkcs8_pem(&pem) {
        Ok(back) if back.public_key() == key.public_key() => Ok(pem),
        _ => Err(CliError::msg(
            "internal: the re-encoded key does not round-trip",
        )),
    }
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
            .map_err(|e| CliError::msg(format!("cannot read {}: {e}", path.display())))?;
        if content.contains("PRIVATE KEY") {
            return Ok(read_key(path)?.public_key());
        }
        return PublicKey::from_base64url(content.trim()).map_err(|e| {
            CliError::coded(format!("{}: {e}", path.display()), "decode.bad_public_key")
        });
    }
    Err(CliError::coded(
        format!("{text:?} is neither a public key (43 characters of base64url) nor a key file"),
        "decode.bad_public_key",
    ))
}

/// Parses an item id (26 characters of base32).
pub fn parse_item(text: &str) -> Result<ItemId, CliError> {
    ItemId::from_base32(text.trim()).ok_or_else(|| {
        CliError::coded(
            format!("{text:?} is not an item id (26 characters of base32)"),
            "ledger.bad_request",
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_files_are_pkcs8_v1_and_round_trip() {
        let key = SigningKey::from_seed([4; 32]);
        let pem = pkcs8_v1_pem(&key).unwrap();
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
            parse_public("nope").unwrap_err().code.as_deref(),
            Some("decode.bad_public_key")
        );
    }
}

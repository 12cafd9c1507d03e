//! Who may read the drop figures (`serve --stats public|token`, spec §15): the stats JSON and
//! CSV, the dashboards and their event streams, and the figures on a run sheet. The log,
//! checkpoints, proofs, items, head statements, exports, the trust list and the web verifier
//! are always public; this only decides whether the ledger serves *ready-made* sales figures
//! to everyone (anyone who reads the whole log can still compute them, spec §15).
//!
//! With a token, a request must carry `Authorization: Bearer TOKEN`, or `Authorization:
//! Basic` with the token as the password (any user name), which is what a browser sends after
//! its login prompt, to the page and to the page's `EventSource`. The ledger keeps only the
//! token's SHA-256 digest and compares digests in constant time; the token is never logged.

use std::fmt;
use std::path::Path;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use base64::Engine as _;
use provenance_core::codes;
use sha2::{Digest, Sha256};

use crate::http::problem_response;
use crate::ledger::LedgerError;

/// Shortest stats token `serve` accepts, in characters.
pub const MIN_TOKEN_CHARS: usize = 16;
/// Longest stats token `serve` accepts, in characters.
pub const MAX_TOKEN_CHARS: usize = 512;
/// The realm of the `WWW-Authenticate` challenges.
pub const REALM: &str = "provenance drop figures";

/// Who may read the drop figures and dashboards.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum StatsAccess {
    /// Everyone (the default; the figures are computable from the public log anyway).
    #[default]
    Public,
    /// Only requests carrying the operator's token.
    Token(StatsToken),
}

/// The operator's stats token, held as its SHA-256 digest only.
#[derive(Clone, PartialEq, Eq)]
pub struct StatsToken {
    digest: [u8; 32],
}

/// Never shows the token or its digest.
impl fmt::Debug for StatsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatsToken(..)")
    }
}

impl fmt::Debug for StatsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsAccess::Public => f.write_str("StatsAccess::Public"),
            StatsAccess::Token(_) => f.write_str("StatsAccess::Token(..)"),
        }
    }
}

/// Why a stats token cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read.
    #[error("cannot read the stats token file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The token is shorter than [`MIN_TOKEN_CHARS`] or longer than [`MAX_TOKEN_CHARS`].
    #[error(
        "the stats token has {chars} characters; give {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} \
         (e.g. head -c 32 /dev/urandom | base64 > stats-token)"
    )]
    Length {
        /// Its length.
        chars: usize,
    },
    /// The token holds a character other than visible ASCII (no spaces, no controls).
    #[error("the stats token must be visible ASCII characters only (no spaces or controls)")]
    Characters,
}

impl StatsToken {
    /// A token from its text: visible ASCII, [`MIN_TOKEN_CHARS`] to [`MAX_TOKEN_CHARS`].
    pub fn new(text: &str) -> Result<Self, TokenError> {
        let chars = text.chars().count();
        if !(MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&chars) {
            return Err(TokenError::Length { chars });
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Characters);
        }
        Ok(StatsToken {
            digest: Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// The token in `path`: its first line, without the line end.
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let text = read_token_file(path)?;
        Self::new(&text)
    }

    /// Whether `presented` is the token: compares the digests in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// The first line of a token file, without its line end (at most 4 KiB are read).
pub fn read_token_file(path: &Path) -> Result<String, TokenError> {
    use std::io::Read as _;
    let unreadable = |e: std::io::Error| TokenError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_string())
}

/// A request refused for want of the stats token: 401 `ledger.unauthorized` with the
/// `WWW-Authenticate` challenges (Basic first, so a browser shows its login prompt).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsRefusal {
    /// No `Authorization` header (or one of another scheme).
    #[error("the drop figures of this ledger are private: send the operator's stats token")]
    NoToken,
    /// A token that is not the operator's.
    #[error("the stats token sent is not this ledger's")]
    WrongToken,
}

impl StatsRefusal {
    /// The problem+json refusal.
    fn problem(&self) -> LedgerError {
        let detail = match self {
            StatsRefusal::NoToken => {
                "the drop figures and dashboards of this ledger are private: send the operator's \
                 stats token (Authorization: Bearer TOKEN; provenance stats --token-file FILE or \
                 PROVENANCE_STATS_TOKEN; a browser asks for it as the password)"
            }
            StatsRefusal::WrongToken => {
                "the stats token sent is not this ledger's (Authorization: Bearer TOKEN)"
            }
        };
        LedgerError::coded(codes::LEDGER_UNAUTHORIZED, detail)
    }
}

impl ResponseError for StatsRefusal {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = problem_response(&self.problem());
        for scheme in ["Basic", "Bearer"] {
            if let Ok(value) =
                HeaderValue::from_str(&format!("{scheme} realm=\"{REALM}\", charset=\"UTF-8\""))
            {
                response
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

impl StatsAccess {
    /// Whether the request may read the figures; `Err` says why not.
    pub fn check(&self, req: &HttpRequest) -> Result<(), StatsRefusal> {
        let StatsAccess::Token(token) = self else {
            return Ok(());
        };
        let mut presented = req
            .headers()
            .get_all(header::AUTHORIZATION)
            .filter_map(|value| presented_token(value.as_bytes()))
            .peekable();
        if presented.peek().is_none() {
            return Err(StatsRefusal::NoToken);
        }
        if presented.any(|p| token.matches(&p)) {
            Ok(())
        } else {
            Err(StatsRefusal::WrongToken)
        }
    }

    /// Whether the request may read the figures.
    pub fn allows(&self, req: &HttpRequest) -> bool {
        self.check(req).is_ok()
    }

    /// Whether figures are served to everyone.
    pub fn is_public(&self) -> bool {
        matches!(self, StatsAccess::Public)
    }
}

/// The token in an `Authorization` value: `Bearer TOKEN`, or `Basic base64(user:TOKEN)`.
/// Anything else (another scheme, bad base64, no colon) presents no token. Values over 2 KiB
/// are not read.
fn presented_token(value: &[u8]) -> Option<Vec<u8>> {
    if value.len() > 2048 {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.as_bytes().to_vec())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        decoded.get(colon + 1..).map(<[u8]>::to_vec)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::test::TestRequest;

    const TOKEN: &str = "s3cret-token-0123456789";

    fn token_access() -> StatsAccess {
        StatsAccess::Token(StatsToken::new(TOKEN).unwrap())
    }

    fn with_auth(value: &[u8]) -> HttpRequest {
        TestRequest::default()
            .insert_header((
                header::AUTHORIZATION,
                HeaderValue::from_bytes(value).unwrap(),
            ))
            .to_http_request()
    }

    #[test]
    fn public_lets_everyone_in() {
        assert!(StatsAccess::Public.allows(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn the_token_is_needed_and_enough() {
        let access = token_access();
        let none = TestRequest::default().to_http_request();
        assert_eq!(access.check(&none), Err(StatsRefusal::NoToken));
        assert!(access.allows(&with_auth(format!("Bearer {TOKEN}").as_bytes())));
        assert!(access.allows(&with_auth(format!("bearer  {TOKEN} ").as_bytes())));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("op:{TOKEN}"));
        assert!(access.allows(&with_auth(format!("Basic {basic}").as_bytes())));
        let no_user = base64::engine::general_purpose::STANDARD.encode(format!(":{TOKEN}"));
        assert!(access.allows(&with_auth(format!("Basic {no_user}").as_bytes())));
        for wrong in [
            format!("Bearer {TOKEN}x"),
            format!("Bearer {}", &TOKEN[1..]),
            "Bearer ".to_string(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(TOKEN)
            ),
            "Basic !!!".to_string(),
            format!("Token {TOKEN}"),
        ] {
            assert!(!access.allows(&with_auth(wrong.as_bytes())), "{wrong}");
        }
        assert_eq!(
            access.check(&with_auth(b"Bearer nope")),
            Err(StatsRefusal::WrongToken)
        );
        assert!(!access.allows(&with_auth(&[b'B'; 4096])));
        assert!(!access.allows(&with_auth(b"Bearer \xff\xfe")));
    }

    #[test]
    fn tokens_are_checked_and_never_shown() {
        assert_eq!(
            StatsToken::new("short"),
            Err(TokenError::Length { chars: 5 })
        );
        assert_eq!(
            StatsToken::new("with a space in the token"),
            Err(TokenError::Characters)
        );
        assert!(StatsToken::new(&"x".repeat(MAX_TOKEN_CHARS + 1)).is_err());
        let shown = format!("{:?}", token_access());
        assert!(
            !shown.contains(TOKEN) && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn a_token_file_is_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, format!("{TOKEN}\r\n")).unwrap();
        let token = StatsToken::from_file(&path).unwrap();
        assert!(token.matches(TOKEN.as_bytes()));
        assert!(StatsToken::from_file(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn a_refusal_is_401_problem_json_with_challenges() {
        let response = StatsRefusal::NoToken.error_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenges: Vec<_> = response
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(challenges.len(), 2, "{challenges:?}");
        assert!(challenges[0].starts_with("Basic realm="));
    }
}

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

use provenance_core::codes;
use provenance_core::limits::MAX_HISTORY_BYTES;
use provenance_core::{
    ErrorCode, Payload, PayloadError, PayloadVerifyError, PublicKey, Timestamp, TrustError,
    TrustList, PAYLOAD_PREFIX,
};

mod assess;
#[cfg(feature = "image")]
pub mod image_input;
mod render;
mod report;
#[cfg(feature = "wasm-scan")]
pub mod scan;
mod story;
pub mod text_input;
mod words;

pub use report::*;

use assess::{payload_cause, payload_message};
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
/// Code for a ledger whose answer to a label scan is not that piece's history (another item,
/// another mint, or no history at all): not genuine. The verifier's own.
pub const CODE_ONLINE_MISMATCH: &str = "online.mismatch";

/// Codes of findings that are warnings on a genuine piece (spec §6, "Findings").
pub const CODE_STOLEN: &str = codes::ITEM_STOLEN;
/// The history is full: no transfer can be recorded any more (a warning).
pub const CODE_NOT_TRANSFERABLE: &str = codes::ITEM_NOT_TRANSFERABLE;
/// The maker voided the piece: not genuine.
pub const CODE_VOID: &str = codes::ITEM_VOID;
/// A label proves origin only.
pub const CODE_LABEL_ONLY: &str = codes::PAYLOAD_LABEL_ONLY;
/// The ledger's head statement is older than the maximum age.
pub const CODE_HEAD_OLD: &str = codes::HEAD_OLD;
/// A history without a ledger-signed head statement: its last owner is not confirmed.
pub const CODE_OWNER_UNCONFIRMED: &str = codes::PAYLOAD_OWNER_UNCONFIRMED;

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
    with_trust(trust, operator, challenge, |trust| {
        let text = payload_from_text(payload);
        verify_with(text.as_str(), trust, Timestamp(now), Options::default())
    })
}

/// A label scanned online (issue 20.3): `label` (a label URL or `PV1:` string holding the mint
/// alone) and `history`, the full-history file the label's ledger answered for its item
/// (`GET /v1/items/{item}/export`), verified together as [`verify_text`] does one payload. The
/// report is the history's: today's owner, repairs, badges and reports, as of the ledger's head
/// statement. The history must begin with the label's very mint; a history that does not, or
/// that fails to decode or verify, is **not genuine** (a ledger answering a forged history is
/// caught, never skipped over), with [`CODE_ONLINE_MISMATCH`] or the history's own code.
pub fn verify_label_online(
    label: &str,
    history: &[u8],
    trust: &[u8],
    operator: Option<&str>,
    now: u64,
    challenge: Option<(&str, &str)>,
) -> Report {
    with_trust(trust, operator, challenge, |trust| {
        let text = payload_from_text(label);
        let mint = match Payload::decode(&text) {
            Ok(Payload::Label(mint)) => mint,
            // Not a label: nothing to fetch for; verified as it is.
            _ => return verify_with(text.as_str(), trust, Timestamp(now), Options::default()),
        };
        let fetched = match Payload::from_cbor(history, MAX_HISTORY_BYTES) {
            Ok(Payload::History(h)) => h,
            Ok(Payload::Label(_)) | Err(_) => {
                return Report::online_mismatch("the ledger's answer is not a history file")
            }
        };
        if fetched.records.first() != Some(&mint) {
            return Report::online_mismatch(
                "the ledger answered the history of another piece than this label's",
            );
        }
        let report = verify_payload(
            &Payload::History(fetched),
            trust,
            Timestamp(now),
            Options::default(),
        );
        match report.verdict {
            Verdict::Unreadable => Report::online_mismatch(&report.summary),
            _ => report,
        }
    })
}

/// Verifies the trust list (pinning `operator`), runs `verify` with it, checks the owner
/// `challenge` and notes the trust anchor: what every web entry point shares.
fn with_trust(
    trust: &[u8],
    operator: Option<&str>,
    challenge: Option<(&str, &str)>,
    verify: impl FnOnce(&TrustList) -> Report,
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
    let mut report = verify(&trust);
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

//! Why the ledger refuses: [`LedgerError`] (a spec code, its HTTP status, a detail and for
//! a stale head the current head), and why it cannot open ([`LedgerOpenError`]).

use provenance_core::codes;
use provenance_core::{ErrorCode, KeyId, TrustError, VerifyError};

use crate::store::{Head, StoreError};

/// Why the ledger refuses a request: the spec's code, the HTTP status spec §10 gives it (or
/// the one the ledger chose, e.g. 422 for stored history that no longer verifies), a detail for
/// people, and for a stale head the item's current head. The HTTP layer renders it as RFC 9457
/// problem+json ([`crate::http`] implements actix's `ResponseError` for it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail} [{code}]")]
pub struct LedgerError {
    /// HTTP status code.
    pub status: u16,
    /// The spec's stable error code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub detail: String,
    /// For a stale head: the item's current head.
    pub head: Option<Head>,
}

impl LedgerError {
    /// A problem with no head.
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Self {
        LedgerError {
            status,
            code,
            detail: detail.into(),
            head: None,
        }
    }

    /// A problem whose status is the spec's for `code` ([`crate::status::for_code`]; 500 for a
    /// code the ledger never answers with).
    pub fn coded(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(crate::status::for_code(code).unwrap_or(500), code, detail)
    }

    /// 404 `ledger.not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::coded(codes::LEDGER_NOT_FOUND, detail)
    }

    /// 400 `ledger.bad_request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::coded(codes::LEDGER_BAD_REQUEST, detail)
    }

    /// 500 `ledger.internal`; the cause is logged, not shown.
    pub fn internal(error: &StoreError) -> Self {
        tracing::error!("internal error: {error}");
        match error {
            StoreError::WriterGone => Self::coded(
                codes::LEDGER_OVERLOADED,
                "the ledger is shutting down; nothing was stored",
            ),
            e if e.is_contention() => Self::coded(
                codes::LEDGER_OVERLOADED,
                "the ledger's database is busy; nothing was stored, retry",
            ),
            _ => Self::new(
                500,
                codes::LEDGER_INTERNAL,
                "the ledger failed internally; nothing was stored",
            ),
        }
    }

    /// 409 stale head with the current head.
    pub fn stale(head: Head, detail: impl Into<String>) -> Self {
        LedgerError {
            status: 409,
            code: codes::CHAIN_SEQ_MISMATCH,
            detail: detail.into(),
            head: Some(head),
        }
    }

    /// The one-line meaning of the code, from the spec's table.
    pub fn title(&self) -> &'static str {
        provenance_core::codes::ALL_CODES
            .iter()
            .find(|(c, _)| *c == self.code)
            .map_or("error", |(_, t)| t)
    }
}

impl ErrorCode for LedgerError {
    fn code(&self) -> &'static str {
        self.code
    }
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::internal(&e)
    }
}

/// The HTTP status for a verification failure (spec §10's HTTP column).
pub fn verify_status(e: &VerifyError) -> u16 {
    crate::status::for_code(e.code()).unwrap_or(422)
}

impl From<VerifyError> for LedgerError {
    fn from(e: VerifyError) -> Self {
        LedgerError::new(verify_status(&e), e.code(), e.to_string())
    }
}

impl From<TrustError> for LedgerError {
    fn from(e: TrustError) -> Self {
        LedgerError::coded(e.code(), e.to_string())
    }
}

/// Why [`super::Ledger::new`] cannot open the ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerOpenError {
    /// The store could not be read.
    #[error("cannot read the store: {0}")]
    Store(#[from] StoreError),
    /// The newest stored trust list does not verify for the pinned operator key.
    #[error(
        "the stored trust list does not verify for the operator key with id {operator}: {error}"
    )]
    TrustList {
        /// The id of the operator key the ledger was started with.
        operator: KeyId,
        /// Why the list does not verify.
        error: Box<TrustError>,
    },
}

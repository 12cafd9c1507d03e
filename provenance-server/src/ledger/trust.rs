//! The trust list: `GET /v1/trust` (raw and JSON) and `POST /v1/trust`.

use std::sync::Arc;

use crate::api::{Ack, TrustAck, TrustEntryView, TrustView};
use provenance_core::codes;
use provenance_core::TrustList;

use crate::store::{VerifiedTrust, WriteOp, WriteOutcome};

use super::{unexpected, Accepted, Ledger, LedgerError, TrustState};

impl Ledger {
    /// With several servers on one database, another server may have stored a newer trust
    /// list: reload it (and drop what was verified under the old one) before it is used. A
    /// store with one writer answers `None` and this costs nothing.
    pub(super) fn refresh_trust(&self) {
        let stored = match self.store.shared_trust_version() {
            Ok(Some(v)) => v,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("cannot check the stored trust list's version: {e}");
                return;
            }
        };
        let current = match self.trust.read() {
            Ok(t) => t.list.content().version,
            Err(p) => p.into_inner().list.content().version,
        };
        if stored <= current {
            return;
        }
        let bytes = match self.store.latest_trust() {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("cannot reload the stored trust list: {e}");
                return;
            }
        };
        let list = match TrustList::verify(&bytes, Some(&self.operator)) {
            Ok(list) => list,
            Err(e) => {
                tracing::error!("the stored trust list does not verify for the operator: {e}");
                return;
            }
        };
        {
            let mut state = match self.trust.write() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            if state.list.content().version >= list.content().version {
                return;
            }
            *state = TrustState {
                list: Arc::new(list),
                bytes: Some(Arc::new(bytes)),
            };
        }
        self.forget_verified();
    }

    /// Drops every run, head and story verified under an older trust list.
    fn forget_verified(&self) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.clear();
        }
        if let Ok(mut heads) = self.chain_heads.lock() {
            heads.clear();
        }
        if let Ok(mut stories) = self.stories.lock() {
            stories.clear();
        }
    }

    /// The raw signed trust list, if one was posted.
    pub fn trust_bytes(&self) -> Option<Arc<Vec<u8>>> {
        self.refresh_trust();
        match self.trust.read() {
            Ok(t) => t.bytes.clone(),
            Err(p) => p.into_inner().bytes.clone(),
        }
    }

    /// `GET /v1/trust` as JSON: the ledger and operator keys and the current list.
    pub fn trust_view(&self) -> TrustView {
        let list = self.trust_list();
        let content = list.content();
        let entries = content
            .entries
            .iter()
            .map(|e| TrustEntryView {
                key: e.key.to_base64url(),
                key_id: e.key.key_id().to_string(),
                name: e.name.clone(),
                roles: e.roles.iter().map(|r| r.name().to_string()).collect(),
                valid_from: e.valid_from.to_rfc3339(),
                valid_until: e.valid_until.map(|t| t.to_rfc3339()),
                revoked_at: e.revoked_at.map(|t| t.to_rfc3339()),
            })
            .collect();
        TrustView {
            public_url: self.public_url.clone(),
            version: content.version,
            issued_at: content.issued_at.to_rfc3339(),
            operator: self.operator.to_base64url(),
            ledger: self.ledger_key.to_base64url(),
            listed_ledger: content.ledger.map(|k| k.to_base64url()),
            entries,
        }
    }

    /// `POST /v1/trust`: stores a new operator-signed trust list with a higher version.
    pub async fn put_trust(&self, bytes: &[u8]) -> Result<Accepted, LedgerError> {
        let (verified, list) = VerifiedTrust::verify(bytes, &self.operator)?;
        if list.content().ledger.is_some_and(|k| k != self.ledger_key) {
            return Err(LedgerError::bad_request(format!(
                "the trust list names ledger key {}, but this ledger's key is {}",
                list.content()
                    .ledger
                    .map(|k| k.to_base64url())
                    .unwrap_or_default(),
                self.ledger_key
            )));
        }
        let _guard = self.trust_update.lock().await;
        let version = list.content().version;
        let current = self.trust_list().content().version;
        if version <= current {
            return Err(stale_trust(version, current));
        }
        let op = WriteOp::Trust(Box::new(verified));
        match self.write(op).await? {
            WriteOutcome::Stored { .. } => {
                let entries = list.content().entries.len();
                {
                    let mut state = match self.trust.write() {
                        Ok(s) => s,
                        Err(p) => p.into_inner(),
                    };
                    *state = TrustState {
                        list: Arc::new(list),
                        bytes: Some(Arc::new(bytes.to_vec())),
                    };
                }
                self.forget_verified();
                Ok(Accepted {
                    created: true,
                    body: Ack::Trust(TrustAck { version, entries }),
                })
            }
            WriteOutcome::TrustStale { current } => Err(stale_trust(version, current)),
            other => Err(unexpected(other)),
        }
    }
}

fn stale_trust(version: u64, current: u64) -> LedgerError {
    LedgerError::coded(
        codes::LEDGER_TRUST_VERSION_STALE,
        format!("trust list version {version} is not above the current version {current}"),
    )
}

//! The JSON views of an item (`GET /v1/items/{item}`) and of a run (`GET /v1/runs/{run}`).

use std::sync::Arc;

use crate::api::{
    BadgeInfo, CodeDetail, EditionRef, ItemFacts, ItemHead, ItemView, PartyRef, RecordInfo,
    RepairInfo, ReportInfo, RunPiece, RunView, TransferInfo,
};
use provenance_core::{verify_chain, ErrorCode, History, ItemId, PublicKey, RunId, VerifiedChain};

use crate::store::{RecordRow, StoreError};

use super::{now, Ledger, LedgerError, MAX_CACHED_CHAINS};

impl Ledger {
    /// The stored records of an item, its run manifest and (if it verifies) its chain.
    pub fn item_state(&self, item: &ItemId) -> Result<ItemState, LedgerError> {
        let row = self
            .store
            .item(item)?
            .ok_or_else(|| LedgerError::not_found(format!("no item {item} on this ledger")))?;
        let records = self.store.records(item)?;
        let run = self.store.run(&row.run)?;
        let chain = self.story(item, &records);
        Ok(ItemState {
            item: *item,
            run_id: row.run,
            run_bytes: run.map(|r| r.bytes),
            records,
            chain,
        })
    }

    /// The verified story of `records` (an item's stored records, mint first): the cached one
    /// when it is at their head; else the cached one extended by the records stored since
    /// (one signature each); else all of them verified again (then cached).
    fn story(
        &self,
        item: &ItemId,
        records: &[RecordRow],
    ) -> Result<Arc<VerifiedChain>, LedgerError> {
        let trust = self.trust_list();
        let last = records.last().map(|r| (r.seq, r.hash));
        let cached = self.stories.lock().ok().and_then(|s| s.get(item).cloned());
        if let Some(story) = &cached {
            if last == Some((story.seq(), story.head())) {
                return Ok(story.clone());
            }
        }
        let newer = |story: &VerifiedChain| {
            let next = usize::try_from(story.seq()).ok()?.checked_add(1)?;
            let mut story = story.clone();
            for row in records.get(next..)? {
                story.extend(&row.bytes, &trust, now()).ok()?;
            }
            Some(story)
        };
        let story = match cached.as_deref().and_then(newer) {
            Some(story) if last == Some((story.seq(), story.head())) => story,
            _ => verify_chain(records.iter().map(|r| r.bytes.as_slice()), &trust, now())
                .map_err(|e| LedgerError::new(422, e.code(), e.to_string()))?,
        };
        let story = Arc::new(story);
        if let Ok(mut stories) = self.stories.lock() {
            if stories.len() >= MAX_CACHED_CHAINS {
                stories.clear();
            }
            stories.insert(*item, story.clone());
        }
        Ok(story)
    }

    /// `GET /v1/runs/{run}`: the run and its minted items.
    pub fn run_view(&self, id: &RunId) -> Result<RunView, LedgerError> {
        let row = self
            .store
            .run(id)?
            .ok_or_else(|| LedgerError::not_found(format!("no run {id} on this ledger")))?;
        let decoded = provenance_core::DecodedRecord::decode(&row.bytes)
            .map_err(|_| LedgerError::internal(&StoreError::Corrupt("stored run manifest")))?;
        let provenance_core::RecordBody::RunManifest(m) = decoded.record.body else {
            return Err(LedgerError::internal(&StoreError::Corrupt(
                "stored run manifest kind",
            )));
        };
        let trust = self.trust_list();
        let maker_name = trust
            .entry(&row.maker.key_id())
            .map(|e| e.name.clone())
            .unwrap_or_default();
        let items: Vec<RunPiece> = self
            .store
            .run_items(id)?
            .into_iter()
            .map(|(number, item)| RunPiece {
                number,
                item: item.to_base32(),
                short: item.short(),
            })
            .collect();
        Ok(RunView {
            run: id.to_base32(),
            title: m.title,
            microfactory: m.microfactory,
            place: m.place,
            size: m.size,
            window_start: m.window_start.to_rfc3339(),
            window_end: m.window_end.to_rfc3339(),
            time: decoded.record.time.to_rfc3339(),
            maker: PartyRef {
                key: row.maker.to_base64url(),
                key_id: row.maker.key_id().to_string(),
                name: maker_name,
            },
            head: row.hash.to_hex(),
            minted: items.len(),
            items,
        })
    }
}

/// Everything known about one item: stored records, run manifest and verified chain.
pub struct ItemState {
    /// The item id.
    pub item: ItemId,
    /// The run id.
    pub run_id: RunId,
    /// The run manifest's bytes.
    pub run_bytes: Option<Vec<u8>>,
    /// The stored records, mint first.
    pub records: Vec<RecordRow>,
    /// The chain, or why it does not verify under the current trust list.
    pub chain: Result<Arc<VerifiedChain>, LedgerError>,
}

impl ItemState {
    /// The full-history container (records and run manifest).
    pub fn history(&self) -> History {
        History {
            records: self.records.iter().map(|r| r.bytes.clone()).collect(),
            run: self.run_bytes.clone(),
            head: None,
            anchor: None,
        }
    }

    /// The JSON history: every record, and what the verified records say (when they verify).
    pub fn to_view(&self) -> ItemView {
        let records = self
            .records
            .iter()
            .map(|r| RecordInfo {
                seq: r.seq,
                kind: r.kind.name().to_string(),
                hash: r.hash.to_hex(),
                time: r.time.to_rfc3339(),
                signer: r.signer.to_base64url(),
                received_at: r.received_at.to_rfc3339(),
                size: r.bytes.len(),
                log_index: r.log_index,
            })
            .collect();
        let head = self.records.last().map(|r| ItemHead {
            seq: r.seq,
            hash: r.hash.to_hex(),
            time: r.time.to_rfc3339(),
        });
        let (problem, facts) = match &self.chain {
            Err(p) => (
                Some(CodeDetail {
                    code: p.code.to_string(),
                    detail: p.detail.clone(),
                }),
                None,
            ),
            Ok(c) => (None, Some(self.facts(c))),
        };
        ItemView {
            item: self.item.to_base32(),
            short: self.item.short(),
            run: self.run_id.to_base32(),
            head,
            records,
            verified: facts.is_some(),
            problem,
            facts,
        }
    }

    fn facts(&self, c: &VerifiedChain) -> ItemFacts {
        let place = self
            .run_bytes
            .as_deref()
            .and_then(|b| provenance_core::DecodedRecord::decode(b).ok())
            .and_then(|d| match d.record.body {
                provenance_core::RecordBody::RunManifest(m) => Some(m.place),
                _ => None,
            });
        let m = c.mint();
        let key = |k: &PublicKey| k.to_base64url();
        ItemFacts {
            maker: PartyRef {
                key: key(&c.maker().key),
                key_id: c.maker().key.key_id().to_string(),
                name: c.maker().name.clone(),
            },
            title: m.title.clone(),
            microfactory: m.microfactory.clone(),
            place,
            edition: EditionRef {
                number: m.number,
                size: m.size,
            },
            minted_at: c.minted_at().to_rfc3339(),
            owner: key(c.owner()),
            owner_count: c.owner_count() as u64,
            stolen: c.is_stolen(),
            void: c.is_void(),
            repairs: c
                .repairs()
                .iter()
                .map(|r| RepairInfo {
                    time: r.time.to_rfc3339(),
                    desk: r.desk.name.clone(),
                    desk_key: key(&r.desk.key),
                    note: r.note.clone(),
                    parts: r.parts.clone(),
                })
                .collect(),
            transfers: c
                .transfers()
                .iter()
                .map(|t| TransferInfo {
                    time: t.time.to_rfc3339(),
                    from: key(&t.from),
                    to: key(&t.to),
                })
                .collect(),
            badges: c
                .badges()
                .iter()
                .map(|b| BadgeInfo {
                    time: b.time.to_rfc3339(),
                    host: b.host.name.clone(),
                    host_key: key(&b.host.key),
                    event: b.event.clone(),
                    place: b.place.clone(),
                })
                .collect(),
            reports: c
                .reports()
                .iter()
                .map(|r| ReportInfo {
                    time: r.time.to_rfc3339(),
                    status: r.status.name().to_string(),
                })
                .collect(),
            recoveries: c
                .recovers()
                .iter()
                .map(|r| TransferInfo {
                    time: r.time.to_rfc3339(),
                    from: key(&r.from),
                    to: key(&r.to),
                })
                .collect(),
            owner_recovery: c.chain_head().owner_recovery().map(|d| d.to_string()),
        }
    }
}

//! Who holds what: every item's current owner key and that ownership's recovery commitment
//! (spec §3.1), indexed both ways, kept by the fold on every mint, transfer and recover. It
//! answers `GET /v1/owners/{key}/items` and `GET /v1/recoveries/{digest}/items`
//! ([`Stats::owned_by`], [`Stats::committed_to`]) a bounded page at a time.
//!
//! Memory: per item, the commitment (33 bytes) next to the owner the fold already kept, and
//! one entry in each index (an item without commitment is in the owner index only); a key or
//! commitment that holds nothing any more is dropped from its index.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::ops::Bound;

use provenance_core::{ItemId, NewOwner, PublicKey, RecoveryDigest};

use super::Stats;
use crate::api::{CommittedItems, EditionRef, HeldItem, OwnedItems};

/// Items in one answer, at most (and without `limit`).
pub const MAX_HELD_PAGE: usize = 1000;

/// How many items one answer may hold: 1 to [`MAX_HELD_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(usize);

impl PageLimit {
    /// The largest page, and the default.
    pub const MAX: PageLimit = PageLimit(MAX_HELD_PAGE);

    /// A limit of `n` items, or `None` outside 1 to [`MAX_HELD_PAGE`].
    pub fn new(n: u64) -> Option<Self> {
        usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_HELD_PAGE).contains(n))
            .map(PageLimit)
    }

    /// The number of items.
    pub fn get(self) -> usize {
        self.0
    }
}

/// Which page of an index entry: the items after `after` (in item-id order), at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Start after this item id (the previous page's `next`); `None` for the first page.
    pub after: Option<ItemId>,
    /// Items at most.
    pub limit: PageLimit,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            after: None,
            limit: PageLimit::MAX,
        }
    }
}

/// The reverse indexes: owner key → items, recovery commitment → items.
#[derive(Debug, Default)]
pub(super) struct Holdings {
    by_owner: HashMap<PublicKey, BTreeSet<ItemId>>,
    by_recovery: HashMap<RecoveryDigest, BTreeSet<ItemId>>,
}

/// Takes `item` out of `key`'s set, and the set out of the map once empty.
fn take_out<K: Hash + Eq>(map: &mut HashMap<K, BTreeSet<ItemId>>, key: &K, item: &ItemId) {
    if let Some(set) = map.get_mut(key) {
        set.remove(item);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

impl Holdings {
    /// `item` is now held as `owner` says.
    pub(super) fn insert(&mut self, item: ItemId, owner: &NewOwner) {
        self.by_owner.entry(owner.key).or_default().insert(item);
        if let Some(digest) = owner.recovery {
            self.by_recovery.entry(digest).or_default().insert(item);
        }
    }

    /// `item` was held by `before` (owner key, commitment) and is now held as `now` says.
    pub(super) fn moved(
        &mut self,
        item: ItemId,
        before: (PublicKey, Option<RecoveryDigest>),
        now: NewOwner,
    ) {
        take_out(&mut self.by_owner, &before.0, &item);
        if let Some(digest) = before.1 {
            take_out(&mut self.by_recovery, &digest, &item);
        }
        self.insert(item, &now);
    }
}

/// The page of `set` that `page` asks for, and the `next` cursor when more items follow.
fn page_of(set: Option<&BTreeSet<ItemId>>, page: Page) -> (Vec<ItemId>, Option<ItemId>) {
    let Some(set) = set else {
        return (Vec::new(), None);
    };
    let start = page.after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut rest = set.range((start, Bound::Unbounded));
    let items: Vec<ItemId> = rest.by_ref().take(page.limit.get()).copied().collect();
    let next = match (rest.next(), items.last()) {
        (Some(_), Some(last)) => Some(*last),
        _ => None,
    };
    (items, next)
}

impl Stats {
    /// The items `key` owns now, a page at a time, in item-id order (empty for a key that
    /// owns nothing).
    pub fn owned_by(&self, key: &PublicKey, page: Page) -> OwnedItems {
        let (items, next) = page_of(self.holdings.by_owner.get(key), page);
        OwnedItems {
            key: key.to_base64url(),
            items: self.held(&items),
            next: next.map(|i| i.to_base32()),
            log_size: self.size,
        }
    }

    /// The items whose current ownership committed to `digest`, a page at a time, in item-id
    /// order (empty for a commitment no ownership made, or one whose items were all recovered
    /// or sold on since).
    pub fn committed_to(&self, digest: &RecoveryDigest, page: Page) -> CommittedItems {
        let (items, next) = page_of(self.holdings.by_recovery.get(digest), page);
        CommittedItems {
            recovery: digest.to_string(),
            items: self.held(&items),
            next: next.map(|i| i.to_base32()),
            log_size: self.size,
        }
    }

    fn held(&self, items: &[ItemId]) -> Vec<HeldItem> {
        items
            .iter()
            .filter_map(|item| {
                let acc = self.items.get(item)?;
                let run = self.runs.get(&acc.run)?;
                Some(HeldItem {
                    item: item.to_base32(),
                    short: item.short(),
                    run: acc.run.to_base32(),
                    title: run.manifest.title.clone(),
                    edition: EditionRef {
                        number: acc.edition,
                        size: run.manifest.size,
                    },
                    owner: acc.owner.to_base64url(),
                    owner_recovery: acc.recovery.map(|d| d.to_string()),
                    stolen: acc.stolen,
                    void: acc.void,
                    seq: acc.seq,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Fact;
    use super::*;
    use provenance_core::{
        Mint, RecordBody, Recover, ReportStatus, RunId, RunManifest, SigningKey, Timestamp,
    };

    fn key(seed: u8) -> PublicKey {
        SigningKey::from_seed([seed; 32]).public_key()
    }

    fn digest(seed: u8) -> RecoveryDigest {
        RecoveryDigest::of(&key(seed))
    }

    const RUN: RunId = RunId([9; 16]);
    const MAKER: u8 = 1;

    /// A fold with one run of `n` by the maker, minted, nothing sold.
    fn minted(n: u8) -> Stats {
        let mut s = Stats::new();
        s.apply(Fact::Run {
            run: RUN,
            maker: key(MAKER),
            time: Timestamp(1_700_000_000),
            manifest: RunManifest {
                title: "Pin".into(),
                microfactory: "M".into(),
                place: "Leeds".into(),
                size: 10,
                window_start: Timestamp(1_700_000_000),
                window_end: Timestamp(1_800_000_000),
            },
        });
        for i in 1..=n {
            mint(&mut s, i, None);
        }
        s
    }

    fn mint(s: &mut Stats, i: u8, owner: Option<NewOwner>) {
        s.apply(Fact::Record {
            item: ItemId([i; 16]),
            seq: 0,
            time: Timestamp(1_700_000_100),
            body: RecordBody::Mint(Mint {
                run: RUN,
                number: u64::from(i),
                size: 10,
                title: "Pin".into(),
                microfactory: "M".into(),
                owner,
            }),
        });
    }

    fn record(s: &mut Stats, i: u8, seq: u64, body: RecordBody) {
        s.apply(Fact::Record {
            item: ItemId([i; 16]),
            seq,
            time: Timestamp(1_700_000_200 + seq),
            body,
        });
    }

    fn to(key_seed: u8, recovery: Option<u8>) -> NewOwner {
        NewOwner {
            key: key(key_seed),
            recovery: recovery.map(digest),
        }
    }

    fn owned(s: &Stats, seed: u8) -> Vec<ItemId> {
        ids(&s.owned_by(&key(seed), Page::default()).items)
    }

    fn committed(s: &Stats, seed: u8) -> Vec<ItemId> {
        ids(&s.committed_to(&digest(seed), Page::default()).items)
    }

    fn ids(items: &[HeldItem]) -> Vec<ItemId> {
        items
            .iter()
            .filter_map(|i| ItemId::from_base32(&i.item))
            .collect()
    }

    #[test]
    fn the_index_follows_mints_transfers_and_recoveries() {
        const ALICE: u8 = 2;
        const ALICE_SHEET: u8 = 3;
        const BOB: u8 = 4;
        const CAROL: u8 = 5;
        let mut s = minted(3);
        let [one, two, three] = [1, 2, 3].map(|i| ItemId([i; 16]));
        assert_eq!(owned(&s, MAKER), vec![one, two, three]);
        record(
            &mut s,
            1,
            1,
            RecordBody::Transfer(to(ALICE, Some(ALICE_SHEET))),
        );
        record(&mut s, 2, 1, RecordBody::Transfer(to(ALICE, None)));
        record(&mut s, 2, 2, RecordBody::Transfer(to(BOB, None)));
        assert_eq!(owned(&s, MAKER), vec![three]);
        assert_eq!(owned(&s, ALICE), vec![one]);
        assert_eq!(owned(&s, BOB), vec![two]);
        assert_eq!(committed(&s, ALICE_SHEET), vec![one]);
        let page = s.owned_by(&key(ALICE), Page::default());
        let held = &page.items[0];
        assert_eq!(held.owner, key(ALICE).to_base64url());
        assert_eq!(held.owner_recovery, Some(digest(ALICE_SHEET).to_string()));
        assert_eq!(
            (held.seq, held.edition.number, held.edition.size),
            (1, 1, 10)
        );
        assert_eq!(s.owned_by(&key(BOB), Page::default()).items[0].seq, 2);

        // Alice's phone is lost: the sheet moves the piece to carol's key, without commitment.
        record(
            &mut s,
            1,
            2,
            RecordBody::Recover(Recover {
                recovery_key: key(ALICE_SHEET),
                new_owner: to(CAROL, None),
            }),
        );
        assert!(committed(&s, ALICE_SHEET).is_empty());
        assert!(owned(&s, ALICE).is_empty());
        assert_eq!(owned(&s, CAROL), vec![one]);
        // Emptied entries are dropped, not kept as empty sets.
        assert!(!s.holdings.by_owner.contains_key(&key(ALICE)));
        assert!(s.holdings.by_recovery.is_empty());
        assert_eq!(s.holdings.by_owner.len(), 3);

        // A stolen report and a void keep the holder, and say so.
        record(&mut s, 3, 1, RecordBody::Report(ReportStatus::Void));
        record(&mut s, 2, 3, RecordBody::Report(ReportStatus::Stolen));
        let maker = s.owned_by(&key(MAKER), Page::default());
        assert!(maker.items[0].void && !maker.items[0].stolen);
        let bob = s.owned_by(&key(BOB), Page::default());
        assert!(bob.items[0].stolen && !bob.items[0].void);
        assert_eq!(bob.items[0].seq, 3);
    }

    #[test]
    fn a_mint_to_a_buyer_indexes_the_buyer_and_the_commitment() {
        let mut s = minted(0);
        mint(&mut s, 7, Some(to(6, Some(8))));
        assert!(owned(&s, MAKER).is_empty());
        assert_eq!(owned(&s, 6), vec![ItemId([7; 16])]);
        assert_eq!(committed(&s, 8), vec![ItemId([7; 16])]);
        // A transfer on drops the first owner's commitment.
        record(&mut s, 7, 1, RecordBody::Transfer(to(2, None)));
        assert!(committed(&s, 8).is_empty());
        assert!(owned(&s, 6).is_empty());
    }

    #[test]
    fn pages_are_bounded_and_the_cursor_walks_them_all() {
        let s = minted(5);
        let limit = PageLimit::new(2).unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let page = s.owned_by(&key(MAKER), Page { after, limit });
            assert!(page.items.len() <= 2);
            seen.extend(ids(&page.items));
            pages += 1;
            match page.next {
                Some(next) => after = ItemId::from_base32(&next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, (1..=5).map(|i| ItemId([i; 16])).collect::<Vec<_>>());
        // A page that ends exactly at the last item says no more follow.
        let exact = s.owned_by(
            &key(MAKER),
            Page {
                after: None,
                limit: PageLimit::new(5).unwrap(),
            },
        );
        assert_eq!((exact.items.len(), exact.next), (5, None));
        // A cursor past everything, and a key that owns nothing: empty, no next.
        let past = s.owned_by(
            &key(MAKER),
            Page {
                after: Some(ItemId([0xff; 16])),
                limit,
            },
        );
        assert!(past.items.is_empty() && past.next.is_none());
        assert!(owned(&s, 42).is_empty());
    }

    #[test]
    fn a_limit_is_one_to_a_thousand() {
        assert_eq!(PageLimit::new(0), None);
        assert_eq!(PageLimit::new(1).map(PageLimit::get), Some(1));
        assert_eq!(PageLimit::new(1000), Some(PageLimit::MAX));
        assert_eq!(PageLimit::new(1001), None);
        assert_eq!(PageLimit::new(u64::MAX), None);
    }
}

//! The HTTP API's contract types, shared by the server that writes them and the CLI that reads
//! them, so a renamed field is a compile error on both sides rather than a silent default.

use std::collections::BTreeMap;

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

/// The answer to a stored (201) or already stored (200) item record: `POST /v1/items` and
/// `POST /v1/items/{item}/records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAck {
    /// The item.
    pub item: String,
    /// The record's sequence number.
    pub seq: u64,
    /// The record's hash (hex): the item's head after it.
    pub head: String,
    /// The record's kind (`mint`, `repair`, ...).
    pub kind: String,
    /// Its leaf index in the Merkle log.
    pub log_index: Option<u64>,
    /// For a mint: its run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// The answer to `POST /v1/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAck {
    /// The run's id.
    pub run: String,
    /// Always 0: a run manifest is its own chain of one.
    pub seq: u64,
    /// The manifest's hash (hex).
    pub head: String,
    /// Always `run`.
    pub kind: String,
    /// Its leaf index in the Merkle log.
    pub log_index: Option<u64>,
}

/// The answer to `POST /v1/trust`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAck {
    /// The stored list's version.
    pub version: u64,
    /// How many keys it lists.
    pub entries: usize,
}

/// Any write's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ack {
    /// An item record.
    Record(RecordAck),
    /// A run manifest.
    Run(RunAck),
    /// A trust list.
    Trust(TrustAck),
}

/// A key and the name the trust list gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyRef {
    /// Unpadded base64url public key.
    pub key: String,
    /// Its key id (16 hex digits).
    pub key_id: String,
    /// Its name in the trust list (empty when it has none).
    pub name: String,
}

/// `GET /v1/runs/{run}`: the run manifest and the pieces minted so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    /// The run's id.
    pub run: String,
    /// Its title.
    pub title: String,
    /// Its microfactory.
    pub microfactory: String,
    /// Where it is made.
    pub place: String,
    /// The edition size N.
    pub size: u64,
    /// The production window's start (RFC 3339).
    pub window_start: String,
    /// The production window's end (RFC 3339).
    pub window_end: String,
    /// When the maker signed the manifest (RFC 3339).
    pub time: String,
    /// The maker.
    pub maker: PartyRef,
    /// The manifest's hash (hex).
    pub head: String,
    /// Pieces minted so far.
    pub minted: usize,
    /// Those pieces, by edition number.
    pub items: Vec<RunPiece>,
}

/// One minted piece of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPiece {
    /// Its edition number n of N.
    pub number: u64,
    /// Its item id.
    pub item: String,
    /// The short id printed on its label.
    pub short: String,
}

/// `GET /v1/trust` (JSON): the ledger's keys and the current trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustView {
    /// The ledger's public URL, when it has one (labels then open `<url>/v`).
    pub public_url: Option<String>,
    /// The current list's version (0: none posted yet).
    pub version: u64,
    /// When the operator issued it (RFC 3339).
    pub issued_at: String,
    /// The operator key the ledger accepts lists from.
    pub operator: String,
    /// The ledger's own key (head statements, checkpoints).
    pub ledger: String,
    /// The ledger key the list names, if it names one.
    pub listed_ledger: Option<String>,
    /// Every trusted key.
    pub entries: Vec<TrustEntryView>,
}

/// One entry of the trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustEntryView {
    /// Unpadded base64url public key.
    pub key: String,
    /// Its key id.
    pub key_id: String,
    /// Its display name.
    pub name: String,
    /// `maker`, `repairer`, `host`.
    pub roles: Vec<String>,
    /// Records dated before this are refused (RFC 3339).
    pub valid_from: String,
    /// Records dated at or after this are refused.
    pub valid_until: Option<String>,
    /// Revoked from this time on.
    pub revoked_at: Option<String>,
}

/// `GET /v1/log/inclusion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The leaf's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The leaf's hash (hex), when the ledger has it.
    pub leaf_hash: Option<String>,
    /// The RFC 9162 audit path, hex hashes.
    pub proof: Vec<String>,
}

/// `GET /v1/log/consistency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The earlier tree size.
    pub first: u64,
    /// The later tree size.
    pub second: u64,
    /// The RFC 9162 consistency proof, hex hashes.
    pub proof: Vec<String>,
}

/// `GET /v1/log/entries`: a page of leaves and the records they were computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntries {
    /// The first index served.
    pub start: u64,
    /// One past the last index served.
    pub end: u64,
    /// The latest checkpoint's size.
    pub size: u64,
    /// The leaves.
    pub entries: Vec<LogEntryView>,
}

/// One leaf of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntryView {
    /// Its index.
    pub index: u64,
    /// `record` or `run`.
    pub kind: String,
    /// The item (or run) id.
    pub id: String,
    /// The record's sequence number (0 for a run).
    pub seq: u64,
    /// The leaf hash (hex).
    pub leaf_hash: String,
    /// The record's bytes (standard base64), when stored.
    pub bytes: Option<String>,
}

/// `GET /v1/items/{item}/head` with `Accept: application/json`: the signed head statement and
/// what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadView {
    /// The item.
    pub item: String,
    /// The head's sequence number.
    pub seq: u64,
    /// The head record's hash (hex).
    pub head: String,
    /// The current owner's key.
    pub owner: String,
    /// Reported stolen.
    pub stolen: bool,
    /// Voided by the maker.
    pub void: bool,
    /// Repairs so far.
    pub repairs: u64,
    /// Transfers so far.
    pub transfers: u64,
    /// Badges so far.
    pub badges: u64,
    /// When the ledger signed it (RFC 3339).
    pub time: String,
    /// The log size it names.
    pub log_size: u64,
    /// The statement's COSE_Sign1 bytes, standard base64.
    pub cose: String,
}

/// `GET /v1/items/{item}` (JSON): the stored records, the head, and (when the stored history
/// verifies under the current trust list) what the verified records say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemView {
    /// The item.
    pub item: String,
    /// The short id printed on its label.
    pub short: String,
    /// Its run.
    pub run: String,
    /// The last record: the item's head.
    pub head: Option<ItemHead>,
    /// Every stored record, in order.
    pub records: Vec<RecordInfo>,
    /// Whether the stored history verifies under the current trust list.
    pub verified: bool,
    /// Why it does not, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<CodeDetail>,
    /// What the verified records say (absent when they do not verify).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<ItemFacts>,
}

/// An item's head record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemHead {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash (hex).
    pub hash: String,
    /// Its signed time (RFC 3339).
    pub time: String,
}

/// One stored record, as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordInfo {
    /// Its sequence number.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// Its hash (hex).
    pub hash: String,
    /// Its signed time.
    pub time: String,
    /// Its signer's key.
    pub signer: String,
    /// When the ledger stored it.
    pub received_at: String,
    /// Its size in bytes.
    pub size: usize,
    /// Its leaf index in the Merkle log.
    pub log_index: Option<u64>,
}

/// A code and a detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeDetail {
    /// The spec's code.
    pub code: String,
    /// What went wrong.
    pub detail: String,
}

/// What an item's verified records say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFacts {
    /// The maker.
    pub maker: PartyRef,
    /// The run's title.
    pub title: String,
    /// The microfactory.
    pub microfactory: String,
    /// The run's place, when the run manifest is stored.
    pub place: Option<String>,
    /// Edition n of N.
    pub edition: EditionRef,
    /// When it was minted.
    pub minted_at: String,
    /// The current owner's key.
    pub owner: String,
    /// Owners so far, the first included.
    pub owner_count: u64,
    /// Reported stolen.
    pub stolen: bool,
    /// Voided by the maker.
    pub void: bool,
    /// Repairs.
    pub repairs: Vec<RepairInfo>,
    /// Transfers.
    pub transfers: Vec<TransferInfo>,
    /// Badges.
    pub badges: Vec<BadgeInfo>,
    /// Stolen, recovered and void reports.
    pub reports: Vec<ReportInfo>,
    /// Owner keys replaced by their recovery key (spec §3.1), oldest first.
    #[serde(default)]
    pub recoveries: Vec<TransferInfo>,
    /// The current ownership's recovery commitment (hex), absent when it committed to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_recovery: Option<String>,
}

/// Edition n of N.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditionRef {
    /// n.
    pub number: u64,
    /// N.
    pub size: u64,
}

/// A repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairInfo {
    /// When.
    pub time: String,
    /// The desk's trust-list name.
    pub desk: String,
    /// The desk's key.
    pub desk_key: String,
    /// What was done.
    pub note: String,
    /// Parts replaced.
    pub parts: Vec<String>,
}

/// A change of owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferInfo {
    /// When.
    pub time: String,
    /// The previous owner's key.
    pub from: String,
    /// The new owner's key.
    pub to: String,
}

/// An attendance badge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadgeInfo {
    /// When.
    pub time: String,
    /// The host's trust-list name.
    pub host: String,
    /// The host's key.
    pub host_key: String,
    /// The event.
    pub event: String,
    /// Where, if said.
    pub place: Option<String>,
}

/// A stolen, recovered or void report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportInfo {
    /// When.
    pub time: String,
    /// `stolen`, `recovered` or `void`.
    pub status: String,
}

/// The prefix of every problem's `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:provenance:error:";

// Drop KPIs (`GET /v1/runs/{run}/stats`, `GET /v1/makers/{key}/stats`); definitions in
// spec/kpis.md, computed by `crate::drops::stats`.

/// Mean and median of a set of durations, in days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Days {
    /// How many items the figure covers.
    pub items: u64,
    /// Mean in days (`None` when no item).
    pub mean: Option<f64>,
    /// Median in days (`None` when no item).
    pub median: Option<f64>,
}

/// Distinct items badged at one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCount {
    /// The event name (untrusted text).
    pub event: String,
    /// Distinct items of the run badged there.
    pub items: u64,
}

/// The maker, as the stats name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MakerRef {
    /// Public key, base64url.
    pub key: String,
    /// Key id.
    pub key_id: String,
}

/// One run's KPIs (spec/kpis.md). Fractions are between 0 and 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    /// The run id.
    pub run: String,
    /// Title (untrusted text).
    pub title: String,
    /// Microfactory name (untrusted text).
    pub microfactory: String,
    /// Microfactory place (untrusted text).
    pub place: String,
    /// The maker.
    pub maker: MakerRef,
    /// Window start, RFC 3339.
    pub window_start: String,
    /// Window end, RFC 3339.
    pub window_end: String,
    /// Edition size N.
    pub size: u64,
    /// Items minted.
    pub minted: u64,
    /// Items that left the maker (first transfer away from the maker, or minted to a buyer).
    pub sold: u64,
    /// Items the maker owns now and has not voided.
    pub in_stock: u64,
    /// Items first sold within 7 days of the window start, ÷ size.
    pub sell_through_7d: f64,
    /// Items first sold within 30 days of the window start, ÷ size.
    pub sell_through_30d: f64,
    /// The same ÷ minted (`None` before the first mint).
    pub sell_through_7d_of_minted: Option<f64>,
    /// The same ÷ minted (`None` before the first mint).
    pub sell_through_30d_of_minted: Option<f64>,
    /// Repair records.
    pub repairs: u64,
    /// Repairs ÷ minted (0 before the first mint).
    pub repairs_per_item: f64,
    /// Parts replaced, by part name (untrusted text): how many times.
    pub repairs_by_part: BTreeMap<String, u64>,
    /// Days from an item's first sale to its first repair at or after it.
    pub days_sale_to_first_repair: Days,
    /// Stolen reports.
    pub stolen: u64,
    /// Recovered reports.
    pub recovered: u64,
    /// Voided items.
    pub void: u64,
    /// Badge records.
    pub badges: u64,
    /// Events (distinct event names) and distinct items badged at each.
    pub events: Vec<EventCount>,
    /// Items badged at more than one event.
    pub items_at_several_events: u64,
    /// Cumulative first sales by whole day since the window start: `[day, sold by then]` at
    /// each day with a sale.
    pub sales_by_day: Vec<[u64; 2]>,
    /// Log entries folded into these figures.
    pub log_size: u64,
}

/// One run's line in a maker's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLine {
    /// The run id.
    pub run: String,
    /// Title (untrusted text).
    pub title: String,
    /// Window start, RFC 3339.
    pub window_start: String,
    /// Edition size N.
    pub size: u64,
    /// Items minted.
    pub minted: u64,
    /// Items sold.
    pub sold: u64,
    /// ÷ size.
    pub sell_through_7d: f64,
    /// ÷ size.
    pub sell_through_30d: f64,
    /// Repairs ÷ minted.
    pub repairs_per_item: f64,
}

/// A maker's KPIs across runs (spec/kpis.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MakerStats {
    /// The maker.
    pub maker: MakerRef,
    /// Runs registered.
    pub runs: u64,
    /// Items minted in all runs.
    pub minted: u64,
    /// Items sold in all runs.
    pub sold: u64,
    /// Distinct keys that bought a piece first-hand.
    pub first_hand_buyers: u64,
    /// Of those, keys with first-hand purchases of two different runs at most 365 days apart.
    pub repeat_collectors: u64,
    /// repeat_collectors ÷ first_hand_buyers (`None` without buyers).
    pub repeat_collector_rate_12m: Option<f64>,
    /// Each run, by window start: sell-through and repairs per item.
    pub by_run: Vec<RunLine>,
    /// Log entries folded into these figures.
    pub log_size: u64,
}

/// One piece in an answer about who holds what (`GET /v1/owners/{key}/items`,
/// `GET /v1/recoveries/{digest}/items`): what the item's public history says about it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldItem {
    /// The item id (base32).
    pub item: String,
    /// The short id.
    pub short: String,
    /// The run id (base32).
    pub run: String,
    /// The run's title (untrusted text).
    pub title: String,
    /// Edition n of N.
    pub edition: EditionRef,
    /// The current owner's key, base64url.
    pub owner: String,
    /// The current ownership's recovery commitment (hex), `None` when it committed to none.
    pub owner_recovery: Option<String>,
    /// Reported stolen (and not recovered since).
    pub stolen: bool,
    /// Voided by the maker.
    pub void: bool,
    /// The sequence number of the item's latest record (the next record's is one more).
    pub seq: u64,
}

/// Every item whose current owner is one key (`GET /v1/owners/{key}/items`), a page at a
/// time, in item-id order (of the ids' 16 bytes, not of their base32 text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedItems {
    /// The owner key asked about, base64url.
    pub key: String,
    /// At most `limit` (at most 1,000) items, in item-id order.
    pub items: Vec<HeldItem>,
    /// When more items follow: the `after` of the next page (the last item id here).
    pub next: Option<String>,
    /// Log entries folded into this answer.
    pub log_size: u64,
}

/// Every item whose current ownership committed to one recovery key
/// (`GET /v1/recoveries/{digest}/items`), a page at a time, in item-id order (of the ids' 16
/// bytes, not of their base32 text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedItems {
    /// The recovery commitment asked about (SHA-256 of the recovery public key), hex.
    pub recovery: String,
    /// At most `limit` (at most 1,000) items, in item-id order.
    pub items: Vec<HeldItem>,
    /// When more items follow: the `after` of the next page (the last item id here).
    pub next: Option<String>,
    /// Log entries folded into this answer.
    pub log_size: u64,
}

/// The dashboard's `update` event (`GET /dashboard/events`, `/dashboard/{run}/events`): the
/// log size the figures cover and the re-rendered live part of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardUpdate {
    /// Log entries folded into the figures.
    pub size: u64,
    /// The live part of the dashboard, HTML (record text escaped).
    pub html: String,
}

/// The dashboard's `problem` event: the figures could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardProblem {
    /// The spec's code.
    pub code: String,
    /// What went wrong.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The OpenAPI document, checked against the types below.
    const OPENAPI: &str = include_str!("../openapi.json");

    fn schema(name: &str) -> Value {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap_or(Value::Null);
        doc["components"]["schemas"][name].clone()
    }

    /// Checks `value` against `schema` (the subset of JSON Schema the document uses: types,
    /// `required`, closed `properties`, `additionalProperties` maps, `items`, `$ref`, `oneOf`
    /// with null); the path names
    /// the first mismatch.
    fn check(value: &Value, schema: &Value, path: &str) -> Result<(), String> {
        if let Some(target) = schema["$ref"].as_str() {
            let name = target.rsplit('/').next().unwrap_or_default();
            return check(value, &self::schema(name), path);
        }
        if let Some(options) = schema["oneOf"].as_array() {
            return if options.iter().any(|o| check(value, o, path).is_ok()) {
                Ok(())
            } else {
                Err(format!("{path}: {value} matches no alternative"))
            };
        }
        let ty = schema["type"].as_str().unwrap_or_default();
        let fits = match ty {
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            _ => false,
        };
        if !fits {
            return Err(format!("{path}: {value} is not a {ty:?}"));
        }
        if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
            for (i, v) in values.iter().enumerate() {
                check(v, items, &format!("{path}[{i}]"))?;
            }
        }
        if let (Some(extra), Some(map)) = (schema.get("additionalProperties"), value.as_object()) {
            if extra.is_object() {
                for (key, v) in map {
                    check(v, extra, &format!("{path}.{key}"))?;
                }
            }
        }
        if let (Some(props), Some(map)) = (schema["properties"].as_object(), value.as_object()) {
            for (key, v) in map {
                let prop = props
                    .get(key)
                    .ok_or_else(|| format!("{path}.{key}: not in the schema"))?;
                check(v, prop, &format!("{path}.{key}"))?;
            }
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap_or_default();
                if !map.contains_key(key) {
                    return Err(format!("{path}.{key}: required but absent"));
                }
            }
        }
        Ok(())
    }

    fn conforms<T: Serialize>(name: &str, value: &T) {
        let json = serde_json::to_value(value).unwrap_or(Value::Null);
        let schema = schema(name);
        assert!(schema.is_object(), "openapi.json has no schema {name}");
        if let Err(e) = check(&json, &schema, name) {
            panic!("{e}");
        }
    }

    fn head() -> HeadRef {
        HeadRef {
            seq: 3,
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn every_answer_type_matches_its_openapi_schema() {
        let text = |s: &str| s.to_string();
        for head in [None, Some(head())] {
            conforms(
                "ProblemBody",
                &ProblemBody {
                    type_uri: format!("{PROBLEM_TYPE_PREFIX}chain.seq_mismatch"),
                    title: text("stale"),
                    status: 409,
                    detail: text("d"),
                    code: text("chain.seq_mismatch"),
                    head,
                },
            );
        }
        for (run, log_index) in [(None, None), (Some(text("r")), Some(4))] {
            let record = RecordAck {
                item: text("i"),
                seq: 1,
                head: text("h"),
                kind: text("repair"),
                log_index,
                run,
            };
            conforms("RecordAck", &record);
        }
        conforms(
            "RunAck",
            &RunAck {
                run: text("r"),
                seq: 0,
                head: text("h"),
                kind: text("run"),
                log_index: Some(0),
            },
        );
        conforms(
            "TrustAck",
            &TrustAck {
                version: 2,
                entries: 3,
            },
        );
        let party = PartyRef {
            key: text("k"),
            key_id: text("id"),
            name: text("n"),
        };
        conforms(
            "RunView",
            &RunView {
                run: text("r"),
                title: text("t"),
                microfactory: text("m"),
                place: text("p"),
                size: 3,
                window_start: text("2026-01-01T00:00:00Z"),
                window_end: text("2027-01-01T00:00:00Z"),
                time: text("2026-01-01T00:00:00Z"),
                maker: party,
                head: text("h"),
                minted: 1,
                items: vec![RunPiece {
                    number: 1,
                    item: text("i"),
                    short: text("s"),
                }],
            },
        );
        for optional in [None, Some(text("2027-01-01T00:00:00Z"))] {
            conforms(
                "TrustView",
                &TrustView {
                    public_url: optional.clone(),
                    version: 1,
                    issued_at: text("t"),
                    operator: text("o"),
                    ledger: text("l"),
                    listed_ledger: optional.clone(),
                    entries: vec![TrustEntryView {
                        key: text("k"),
                        key_id: text("id"),
                        name: text("n"),
                        roles: vec![text("maker")],
                        valid_from: text("t"),
                        valid_until: optional.clone(),
                        revoked_at: optional,
                    }],
                },
            );
        }
        conforms(
            "InclusionProof",
            &InclusionProof {
                index: 1,
                size: 2,
                leaf_hash: Some(text("h")),
                proof: vec![text("h")],
            },
        );
        conforms(
            "ConsistencyProof",
            &ConsistencyProof {
                first: 1,
                second: 2,
                proof: vec![text("h")],
            },
        );
        for bytes in [None, Some(text("AA=="))] {
            conforms(
                "LogEntries",
                &LogEntries {
                    start: 0,
                    end: 1,
                    size: 1,
                    entries: vec![LogEntryView {
                        index: 0,
                        kind: text("record"),
                        id: text("i"),
                        seq: 0,
                        leaf_hash: text("h"),
                        bytes,
                    }],
                },
            );
        }
        let facts = ItemFacts {
            maker: PartyRef {
                key: text("k"),
                key_id: text("id"),
                name: text("n"),
            },
            title: text("t"),
            microfactory: text("m"),
            place: Some(text("p")),
            edition: EditionRef { number: 1, size: 3 },
            minted_at: text("t"),
            owner: text("o"),
            owner_count: 2,
            stolen: true,
            void: false,
            repairs: vec![RepairInfo {
                time: text("t"),
                desk: text("d"),
                desk_key: text("k"),
                note: text("n"),
                parts: vec![text("clasp")],
            }],
            transfers: vec![TransferInfo {
                time: text("t"),
                from: text("a"),
                to: text("b"),
            }],
            badges: vec![BadgeInfo {
                time: text("t"),
                host: text("h"),
                host_key: text("k"),
                event: text("e"),
                place: None,
            }],
            reports: vec![ReportInfo {
                time: text("t"),
                status: text("stolen"),
            }],
            recoveries: vec![TransferInfo {
                time: text("t"),
                from: text("b"),
                to: text("c"),
            }],
            owner_recovery: Some("ab".repeat(32)),
        };
        for (problem, facts) in [
            (None, Some(facts)),
            (
                Some(CodeDetail {
                    code: text("chain.key_revoked"),
                    detail: text("d"),
                }),
                None,
            ),
        ] {
            let view = ItemView {
                item: text("i"),
                short: text("s"),
                run: text("r"),
                head: Some(ItemHead {
                    seq: 0,
                    hash: text("h"),
                    time: text("t"),
                }),
                records: vec![RecordInfo {
                    seq: 0,
                    kind: text("mint"),
                    hash: text("h"),
                    time: text("t"),
                    signer: text("k"),
                    received_at: text("t"),
                    size: 154,
                    log_index: Some(1),
                }],
                verified: facts.is_some(),
                problem,
                facts,
            };
            conforms("ItemView", &view);
            // The flattened facts read back.
            let text = serde_json::to_string(&view).unwrap_or_default();
            assert_eq!(serde_json::from_str::<ItemView>(&text).ok(), Some(view));
        }
        conforms(
            "HeadView",
            &HeadView {
                item: text("i"),
                seq: 1,
                head: text("h"),
                owner: text("o"),
                stolen: false,
                void: false,
                repairs: 0,
                transfers: 1,
                badges: 0,
                time: text("t"),
                log_size: 2,
                cose: text("c"),
            },
        );
    }

    #[test]
    fn the_drop_figures_match_their_schemas() {
        let text = |s: &str| s.to_string();
        let maker = MakerRef {
            key: text("k"),
            key_id: text("id"),
        };
        let run = RunStats {
            run: text("r"),
            title: text("t"),
            microfactory: text("m"),
            place: text("p"),
            maker: maker.clone(),
            window_start: text("2026-01-01T00:00:00Z"),
            window_end: text("2026-01-31T00:00:00Z"),
            size: 8,
            minted: 4,
            sold: 3,
            in_stock: 1,
            sell_through_7d: 0.25,
            sell_through_30d: 0.375,
            sell_through_7d_of_minted: Some(0.5),
            sell_through_30d_of_minted: None,
            repairs: 1,
            repairs_per_item: 0.25,
            repairs_by_part: [(text("clasp"), 1)].into_iter().collect(),
            days_sale_to_first_repair: Days {
                items: 1,
                mean: Some(3.5),
                median: Some(3.5),
            },
            stolen: 0,
            recovered: 0,
            void: 0,
            badges: 2,
            events: vec![EventCount {
                event: text("fair"),
                items: 2,
            }],
            items_at_several_events: 0,
            sales_by_day: vec![[0, 1], [6, 3]],
            log_size: 12,
        };
        conforms("RunStats", &run);
        let mut bad = serde_json::to_value(&run).unwrap_or(Value::Null);
        bad["repairs_by_part"]["clasp"] = Value::String(text("one"));
        assert!(check(&bad, &schema("RunStats"), "RunStats").is_err());
        for rate in [None, Some(0.25)] {
            conforms(
                "MakerStats",
                &MakerStats {
                    maker: maker.clone(),
                    runs: 1,
                    minted: 4,
                    sold: 3,
                    first_hand_buyers: 3,
                    repeat_collectors: 0,
                    repeat_collector_rate_12m: rate,
                    by_run: vec![RunLine {
                        run: text("r"),
                        title: text("t"),
                        window_start: text("2026-01-01T00:00:00Z"),
                        size: 8,
                        minted: 4,
                        sold: 3,
                        sell_through_7d: 0.25,
                        sell_through_30d: 0.375,
                        repairs_per_item: 0.25,
                    }],
                    log_size: 12,
                },
            );
        }
    }

    #[test]
    fn the_holdings_answers_match_their_schemas() {
        let held = |owner_recovery: Option<String>| HeldItem {
            item: "i".into(),
            short: "s".into(),
            run: "r".into(),
            title: "t".into(),
            edition: EditionRef { number: 2, size: 8 },
            owner: "k".into(),
            owner_recovery,
            stolen: false,
            void: true,
            seq: 3,
        };
        for next in [None, Some("n".to_string())] {
            let items = vec![held(None), held(Some("ab".repeat(32)))];
            conforms(
                "OwnedItems",
                &OwnedItems {
                    key: "k".into(),
                    items: items.clone(),
                    next: next.clone(),
                    log_size: 9,
                },
            );
            conforms(
                "CommittedItems",
                &CommittedItems {
                    recovery: "ab".repeat(32),
                    items,
                    next,
                    log_size: 9,
                },
            );
        }
        let mut renamed = serde_json::to_value(held(None)).unwrap_or(Value::Null);
        renamed["recovery"] = Value::Null;
        assert!(check(&renamed, &schema("HeldItem"), "HeldItem").is_err());
    }

    #[test]
    fn the_dashboard_events_match_their_schemas() {
        conforms(
            "DashboardUpdate",
            &DashboardUpdate {
                size: 3,
                html: "<p>x</p>".into(),
            },
        );
        conforms(
            "DashboardProblem",
            &DashboardProblem {
                code: "ledger.internal".into(),
                detail: "d".into(),
            },
        );
    }

    #[test]
    fn the_checker_bites() {
        let mut body = serde_json::to_value(RunAck {
            run: "r".into(),
            seq: 0,
            head: "h".into(),
            kind: "run".into(),
            log_index: None,
        })
        .unwrap_or(Value::Null);
        body["renamed"] = Value::Bool(true);
        assert!(check(&body, &schema("RunAck"), "RunAck").is_err());
        let missing = serde_json::json!({"version": 1});
        assert!(check(&missing, &schema("TrustAck"), "TrustAck").is_err());
        let wrong = serde_json::json!({"version": "1", "entries": 1});
        assert!(check(&wrong, &schema("TrustAck"), "TrustAck").is_err());
    }

    /// Every route `http::configure_with` registers is in the document, and every path there
    /// is a route.
    #[test]
    fn every_route_is_documented() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap_or(Value::Null);
        let documented: Vec<&str> = doc["paths"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        // The ledger's routes (`resource("/...")`), the drop pages' (`get("/...")`) and the
        // pages' assets.
        let sources = [
            include_str!("http/mod.rs"),
            include_str!("drops/mod.rs"),
            include_str!("assets/mod.rs"),
        ];
        let routes: Vec<&str> = sources
            .iter()
            .flat_map(|source| {
                let after = |marker| source.split(marker).skip(1);
                after("resource(\"").chain(after("get(\""))
            })
            .filter_map(|rest| rest.split('"').next())
            .filter(|path| path.starts_with('/'))
            .collect();
        assert!(routes.len() > 20, "{routes:?}");
        assert!(routes.contains(&"/dashboard/{run}/events"), "{routes:?}");
        for route in &routes {
            assert!(documented.contains(route), "{route} is not in openapi.json");
        }
        for path in documented {
            assert!(
                routes.contains(&path) || path == crate::web_verifier::PAGE,
                "openapi.json documents {path}, which the server does not route"
            );
        }
    }

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

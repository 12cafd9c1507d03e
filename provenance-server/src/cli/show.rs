//! `show`: a piece's story in plain words, from the ledger's JSON, with every signed text made
//! inert for the terminal.

use provenance_core::PublicKey;
use serde_json::Value;

use super::Ctx;
use crate::client::{parse_item, CliError};

/// An owner as the verifier names one: "the maker", or "key id <16 hex>".
fn describe_owner(key: &str, maker: &str, names: &[(String, String)]) -> String {
    if key == maker {
        return "the maker".to_string();
    }
    let id = PublicKey::from_base64url(key)
        .map(|k| format!("key id {}", k.key_id()))
        .unwrap_or_else(|_| key.to_string());
    match names.iter().find(|(k, _)| k == key) {
        Some((_, n)) => format!("{n} ({id})"),
        None => id,
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn date(v: &Value) -> String {
    v.as_str()
        .map(|s| s.get(..10).unwrap_or(s).to_string())
        .unwrap_or_default()
}

/// `v` with every string made inert for a terminal (control and bidirectional-formatting
/// characters escaped, spec §3): the story prints data from signed records, which the decoder
/// already refuses such text in; this is the second fence. The JSON output stays exact.
pub fn inert(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            Value::String(provenance_core::text::escape_for_terminal(s).into_owned())
        }
        Value::Array(items) => Value::Array(items.iter().map(inert).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), inert(v))).collect())
        }
        other => other.clone(),
    }
}

/// The plain-words story of an item's JSON history.
pub fn story(v: &Value) -> String {
    let mut s = String::new();
    let item = v["item"].as_str().unwrap_or_default();
    if v["verified"] != Value::Bool(true) {
        s.push_str(&format!(
            "Item {item}: its history does NOT verify under the ledger's current trust list: {} [{}]\n",
            v["problem"]["detail"].as_str().unwrap_or_default(),
            v["problem"]["code"].as_str().unwrap_or_default()
        ));
    } else {
        let maker_key = v["maker"]["key"].as_str().unwrap_or_default();
        s.push_str(&format!(
            "{}, edition {} of {}\n",
            v["title"].as_str().unwrap_or_default(),
            v["edition"]["number"],
            v["edition"]["size"]
        ));
        let place = v["place"].as_str().filter(|p| !p.is_empty());
        s.push_str(&format!(
            "Made by {} at {}{}, minted {}.\n",
            v["maker"]["name"].as_str().unwrap_or("an unnamed maker"),
            v["microfactory"].as_str().unwrap_or_default(),
            place.map(|p| format!(" ({p})")).unwrap_or_default(),
            date(&v["minted_at"])
        ));
        s.push_str(&format!(
            "Item {item}, run {}.\n",
            v["run"].as_str().unwrap_or_default()
        ));
        let owner = v["owner"].as_str().unwrap_or_default();
        let count = v["owner_count"].as_u64().unwrap_or(1);
        s.push_str(&format!(
            "Owned by {}, its {} owner.\n",
            describe_owner(owner, maker_key, &[]),
            ordinal(count)
        ));
        let list = |key: &str| v[key].as_array().cloned().unwrap_or_default();
        let repairs = list("repairs");
        if repairs.is_empty() {
            s.push_str("Never repaired.\n");
        } else {
            s.push_str(&format!("Repaired {} time(s):\n", repairs.len()));
            for r in repairs {
                let parts: Vec<&str> = r["parts"]
                    .as_array()
                    .map(|p| p.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                s.push_str(&format!(
                    "  {}  {} by {}{}\n",
                    date(&r["time"]),
                    r["note"].as_str().unwrap_or_default(),
                    r["desk"].as_str().unwrap_or_default(),
                    if parts.is_empty() {
                        String::new()
                    } else {
                        format!(" (parts replaced: {})", parts.join(", "))
                    }
                ));
            }
        }
        let transfers = list("transfers");
        if transfers.is_empty() {
            s.push_str("Never changed hands.\n");
        } else {
            s.push_str(&format!("Changed hands {} time(s):\n", transfers.len()));
            for t in transfers {
                s.push_str(&format!(
                    "  {}  from {} to {}\n",
                    date(&t["time"]),
                    describe_owner(t["from"].as_str().unwrap_or_default(), maker_key, &[]),
                    describe_owner(t["to"].as_str().unwrap_or_default(), maker_key, &[])
                ));
            }
        }
        let badges = list("badges");
        if !badges.is_empty() {
            s.push_str(&format!("Badges ({}):\n", badges.len()));
            for b in badges {
                s.push_str(&format!(
                    "  {}  {}{}, hosted by {}\n",
                    date(&b["time"]),
                    b["event"].as_str().unwrap_or_default(),
                    b["place"]
                        .as_str()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default(),
                    b["host"].as_str().unwrap_or_default()
                ));
            }
        }
        let reports = list("reports");
        if !reports.is_empty() {
            s.push_str("Reports:\n");
        }
        for r in reports {
            s.push_str(&format!(
                "  {}  reported {}\n",
                date(&r["time"]),
                r["status"].as_str().unwrap_or_default()
            ));
        }
        if v["void"] == Value::Bool(true) {
            s.push_str("VOID: the maker has declared this piece void.\n");
        } else if v["stolen"] == Value::Bool(true) {
            s.push_str("STOLEN: the owner has reported this piece stolen.\n");
        } else {
            s.push_str("Not reported stolen.\n");
        }
    }
    let records = v["records"].as_array().map_or(0, Vec::len);
    s.push_str(&format!(
        "History: {records} record(s), head #{} {}.\n",
        v["head"]["seq"],
        v["head"]["hash"].as_str().unwrap_or_default()
    ));
    s
}

pub(super) fn show(ctx: &Ctx, item: &str) -> Result<(), CliError> {
    let item = parse_item(item)?;
    let v = ctx.client.get_json(&format!("/v1/items/{item}"))?;
    ctx.print(|| story(&inert(&v)), v.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_story_never_prints_control_characters() {
        let hostile = "fixed\u{1b}[2J\r\nOwned by you\u{202e}";
        let v = serde_json::json!({
            "item": "x", "verified": true, "title": hostile, "edition": {"number": 1, "size": 2},
            "maker": {"name": hostile, "key": "k"}, "microfactory": hostile, "owner": "k",
            "repairs": [{"time": "2026-01-01", "note": hostile, "desk": hostile, "parts": [hostile]}],
            "badges": [{"time": "2026-01-01", "event": hostile, "host": hostile}],
        });
        let text = story(&inert(&v));
        for c in ['\u{1b}', '\r', '\u{202e}'] {
            assert!(!text.contains(c), "{c:?} in {text}");
        }
        assert!(text.contains("fixed\\u{001b}[2J"), "{text}");
        assert_eq!(
            text.lines().filter(|l| l.starts_with("Owned by")).count(),
            1,
            "{text}"
        );
    }
}

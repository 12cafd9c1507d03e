//! CSV bodies (RFC 4180) of the stats: a header line and data lines, CRLF-terminated.
//!
//! Every cell is made safe by its own content:
//! - record text ([`text`]) that a spreadsheet would read as a formula (starting with `=`,
//!   `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`;
//! - the repaired-parts cell ([`parts`]) lists `part=n` pairs joined by `;`: each part name is
//!   defused on its own, and `%`, `;`, `=` and `'` inside a name are percent-encoded, so a
//!   spreadsheet that splits the cell on `;` never meets a formula, and a program reading the
//!   cell can undo both (drop one leading `'`, then decode);
//! - a key ([`key`], unpadded base64url) is never altered (it must still match the trust
//!   list): it is always quoted. Its alphabet (`A–Z a–z 0–9 - _`) cannot spell a formula
//!   that calls anything, whatever its first character.
//!
//! A cell holding a comma, quote or line break is quoted, with its quotes doubled.

use std::fmt::Write as _;

use crate::api::{MakerStats, RunStats};

/// What makes a spreadsheet read a cell as a formula (OWASP's CSV-injection list).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` with a leading `'` if a spreadsheet would read it as a formula.
fn defused(text: &str) -> String {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// `cell` as RFC 4180 writes it: quoted when it holds a comma, quote or line break.
fn quoted_if_needed(cell: String) -> String {
    if cell.contains([',', '"', '\r', '\n']) {
        always_quoted(&cell)
    } else {
        cell
    }
}

fn always_quoted(cell: &str) -> String {
    format!("\"{}\"", cell.replace('"', "\"\""))
}

/// One cell of record text: defused, then quoted if needed.
pub fn text(text: &str) -> String {
    quoted_if_needed(defused(text))
}

/// One key cell: the key exactly, always quoted.
pub fn key(key: &str) -> String {
    always_quoted(key)
}

/// The repaired-parts cell: `part=n` pairs joined by `;`, each part name percent-encoded
/// (`%`, `;`, `=`, `'`) and defused on its own.
pub fn parts<'a>(counts: impl IntoIterator<Item = (&'a String, &'a u64)>) -> String {
    let pairs: Vec<String> = counts
        .into_iter()
        .map(|(part, n)| {
            let encoded = part
                .replace('%', "%25")
                .replace(';', "%3B")
                .replace('=', "%3D")
                .replace('\'', "%27");
            format!("{}={n}", defused(&encoded))
        })
        .collect();
    quoted_if_needed(pairs.join(";"))
}

fn number(n: Option<f64>) -> String {
    n.map(|v| v.to_string()).unwrap_or_default()
}

fn line(out: &mut String, cells: &[String]) {
    let _ = write!(out, "{}\r\n", cells.join(","));
}

/// A run's KPIs: one header line, one data line (`repairs_by_part` as `part=n;part=n`).
pub fn run(s: &RunStats) -> String {
    let mut out = String::new();
    line(
        &mut out,
        &[
            "run",
            "title",
            "maker",
            "window_start",
            "size",
            "minted",
            "sold",
            "in_stock",
            "sell_through_7d",
            "sell_through_30d",
            "sell_through_7d_of_minted",
            "sell_through_30d_of_minted",
            "repairs",
            "repairs_per_item",
            "repairs_by_part",
            "days_sale_to_first_repair_mean",
            "stolen",
            "recovered",
            "void",
            "badges",
            "events",
            "items_at_several_events",
        ]
        .map(str::to_string),
    );
    line(
        &mut out,
        &[
            text(&s.run),
            text(&s.title),
            key(&s.maker.key),
            text(&s.window_start),
            s.size.to_string(),
            s.minted.to_string(),
            s.sold.to_string(),
            s.in_stock.to_string(),
            s.sell_through_7d.to_string(),
            s.sell_through_30d.to_string(),
            number(s.sell_through_7d_of_minted),
            number(s.sell_through_30d_of_minted),
            s.repairs.to_string(),
            s.repairs_per_item.to_string(),
            parts(&s.repairs_by_part),
            number(s.days_sale_to_first_repair.mean),
            s.stolen.to_string(),
            s.recovered.to_string(),
            s.void.to_string(),
            s.badges.to_string(),
            s.events.len().to_string(),
            s.items_at_several_events.to_string(),
        ],
    );
    out
}

/// A maker's KPIs: one line per run (by window start), the maker's own figures repeated on
/// every line.
pub fn maker(s: &MakerStats) -> String {
    let mut out = String::new();
    line(
        &mut out,
        &[
            "maker",
            "run",
            "title",
            "window_start",
            "size",
            "minted",
            "sold",
            "sell_through_7d",
            "sell_through_30d",
            "repairs_per_item",
            "first_hand_buyers",
            "repeat_collectors",
            "repeat_collector_rate_12m",
        ]
        .map(str::to_string),
    );
    for r in &s.by_run {
        line(
            &mut out,
            &[
                key(&s.maker.key),
                text(&r.run),
                text(&r.title),
                text(&r.window_start),
                r.size.to_string(),
                r.minted.to_string(),
                r.sold.to_string(),
                r.sell_through_7d.to_string(),
                r.sell_through_30d.to_string(),
                r.repairs_per_item.to_string(),
                s.first_hand_buyers.to_string(),
                s.repeat_collectors.to_string(),
                number(s.repeat_collector_rate_12m),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::{key, parts, text, FORMULA_STARTS};

    /// The cells of one CSV line, read by an independent RFC 4180 parser.
    fn read(line: &str) -> Vec<String> {
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        record.iter().map(str::to_string).collect()
    }

    fn is_formula(cell: &str) -> bool {
        cell.starts_with(FORMULA_STARTS)
    }

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text("-1"), "'-1");
        assert_eq!(text("\tx"), "'\tx");
        assert_eq!(text("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn every_part_is_defused_on_its_own() {
        let counts: BTreeMap<String, u64> = [
            ("clasp".to_string(), 2),
            ("=HYPERLINK(\"http://x\")".to_string(), 1),
            ("@SUM(A1)".to_string(), 1),
            ("zip;=1+1".to_string(), 1),
            ("a=b%".to_string(), 1),
        ]
        .into_iter()
        .collect();
        let cell = parts(&counts);
        let [read_back] = read(&cell).try_into().unwrap();
        assert_eq!(
            read_back,
            "%3DHYPERLINK(\"http://x\")=1;'@SUM(A1)=1;a%3Db%25=1;clasp=2;zip%3B%3D1+1=1"
        );
        for piece in read_back.split(';') {
            assert!(!is_formula(piece), "{piece}");
        }
    }

    #[test]
    fn a_key_is_quoted_never_altered() {
        let k = "-Jx0_abcDEF";
        assert_eq!(key(k), "\"-Jx0_abcDEF\"");
        assert_eq!(read(&key(k)), [k]);
    }

    proptest! {
        /// Any text reads back as itself, or as itself behind one `'` when it would be a
        /// formula; never as a formula.
        #[test]
        fn text_reads_back_defused(t in "\\PC{0,24}|[=+@\t\r-][\\PC,;\"\n]{0,12}") {
            let [cell] = read(&format!("{},x", text(&t)))[..1].to_vec().try_into().unwrap();
            prop_assert!(!is_formula(&cell));
            let original = if is_formula(&t) { cell.strip_prefix('\'').unwrap() } else { &cell[..] };
            prop_assert_eq!(original, t.as_str());
        }

        /// Any key reads back exactly.
        #[test]
        fn keys_read_back_exactly(k in "[A-Za-z0-9_-]{1,43}") {
            prop_assert_eq!(read(&key(&k)), vec![k.clone()]);
        }

        /// Split on `;` like some spreadsheets do, no part of the parts cell is a formula, and
        /// each pair decodes to its part and count.
        #[test]
        fn parts_split_on_semicolons_hold_no_formula(
            counts in proptest::collection::btree_map("\\PC{1,10}", 1u64..9, 0..5)
        ) {
            let cell = parts(&counts);
            let read_back = read(&format!("{cell},x")).swap_remove(0);
            let mut decoded = BTreeMap::new();
            if !counts.is_empty() {
                for pair in read_back.split(';') {
                    prop_assert!(!is_formula(pair), "{pair}");
                    let (name, n) = pair.rsplit_once('=').unwrap();
                    let name = name.strip_prefix('\'').unwrap_or(name);
                    let name = name
                        .replace("%27", "'")
                        .replace("%3D", "=")
                        .replace("%3B", ";")
                        .replace("%25", "%");
                    decoded.insert(name, n.parse::<u64>().unwrap());
                }
            }
            prop_assert_eq!(decoded, counts);
        }
    }
}

//! CSV bodies (RFC 4180) of the stats: a header line and data lines, CRLF-terminated.
//! Record text is quoted when it holds a comma, quote or line break, and a cell that a
//! spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`) gets a leading `'`.

use std::fmt::Write as _;

use crate::api::{MakerStats, RunStats};

/// One CSV cell.
pub fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
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
    let parts: Vec<String> = s
        .repairs_by_part
        .iter()
        .map(|(p, n)| format!("{p}={n}"))
        .collect();
    line(
        &mut out,
        &[
            field(&s.run),
            field(&s.title),
            field(&s.maker.key),
            field(&s.window_start),
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
            field(&parts.join(";")),
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
                field(&s.maker.key),
                field(&r.run),
                field(&r.title),
                field(&r.window_start),
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
    use super::field;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
    }
}

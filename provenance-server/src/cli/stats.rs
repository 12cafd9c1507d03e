//! `provenance stats --run RUN | --maker KEY`: a run's or a maker's KPIs from the ledger
//! (`GET /v1/runs/{run}/stats`, `GET /v1/makers/{key}/stats`, read as the [`crate::api`]
//! types) as a readable table, or the ledger's JSON with `--json`. Definitions: spec/kpis.md.
//! A ledger run with `serve --stats token` needs its token: `--token-file FILE`, else
//! `PROVENANCE_STATS_TOKEN` (spec §15).

use std::fmt::Write as _;

use provenance_core::{codes, RunId};

use super::{Ctx, StatsArgs};
use crate::api::{MakerStats, RunStats};
use crate::client::CliError;
use crate::drops::access::read_token_file;
use crate::drops::html::percent;
use crate::parse::parse_public;

/// Runs `provenance stats`.
pub(super) fn stats(ctx: &Ctx, args: &StatsArgs) -> Result<(), CliError> {
    let token = token(args)?;
    let token = token.as_deref();
    match (&args.run, &args.maker) {
        (Some(run), _) => {
            let run = RunId::from_base32(run.trim()).ok_or_else(|| {
                CliError::coded(
                    format!("{run:?} is not a run id (26 characters of base32)"),
                    codes::LEDGER_BAD_REQUEST,
                )
            })?;
            let figures: RunStats = ctx
                .client
                .get_with_token(&format!("/v1/runs/{run}/stats"), token)?;
            ctx.print(|| run_table(&figures), &figures);
            Ok(())
        }
        (None, Some(maker)) => {
            let key = parse_public(maker)?;
            let figures: MakerStats = ctx
                .client
                .get_with_token(&format!("/v1/makers/{key}/stats"), token)?;
            ctx.print(|| maker_table(&figures), &figures);
            Ok(())
        }
        (None, None) => Err(CliError::msg("give --run RUN or --maker KEY")),
    }
}

/// The stats token to send: `--token-file`'s first line, else `PROVENANCE_STATS_TOKEN`, else
/// none. It is only ever sent as a header, never printed.
fn token(args: &StatsArgs) -> Result<Option<String>, CliError> {
    let token = match &args.token_file {
        Some(path) => Some(read_token_file(path).map_err(|e| CliError::io(e.to_string()))?),
        None => std::env::var("PROVENANCE_STATS_TOKEN").ok(),
    };
    let token = token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    match token {
        Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => Err(CliError::msg(
            "the stats token must be visible ASCII characters only (no spaces or controls)",
        )),
        t => Ok(t),
    }
}

/// Terminal-safe text: controls and bidirectional characters escaped.
fn safe(text: &str) -> String {
    provenance_core::text::escape_for_terminal(text).into_owned()
}

/// The date part of an RFC 3339 time.
fn day(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

/// A ratio with two decimals, or `–`.
fn two_decimals(value: Option<f64>) -> String {
    value.map_or("–".into(), |x| format!("{x:.2}"))
}

/// `n` and the noun in the right number: `1 event`, `0 events`, `2 events`.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Aligned `name  value` lines.
fn rows(out: &mut String, rows: &[(&str, String)]) {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<width$}  {v}");
    }
}

/// The table of a run's KPIs.
pub fn run_table(s: &RunStats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}, {}), run {}",
        safe(&s.title),
        safe(&s.microfactory),
        safe(&s.place),
        s.run
    );
    let through = |of_run: f64, of_minted: Option<f64>| {
        format!(
            "{} of the run, {} of minted",
            percent(Some(of_run)),
            percent(of_minted)
        )
    };
    let repair_days = &s.days_sale_to_first_repair;
    rows(
        &mut out,
        &[
            (
                "window",
                format!("{} – {}", day(&s.window_start), day(&s.window_end)),
            ),
            ("size", s.size.to_string()),
            ("minted", s.minted.to_string()),
            ("sold", s.sold.to_string()),
            ("in stock", s.in_stock.to_string()),
            (
                "sell-through 7 d",
                through(s.sell_through_7d, s.sell_through_7d_of_minted),
            ),
            (
                "sell-through 30 d",
                through(s.sell_through_30d, s.sell_through_30d_of_minted),
            ),
            (
                "repairs",
                format!(
                    "{} ({} per item)",
                    s.repairs,
                    two_decimals(Some(s.repairs_per_item))
                ),
            ),
            (
                "sale to 1st repair",
                format!(
                    "{} days (mean, {})",
                    repair_days.mean.map_or("–".into(), |d| format!("{d:.1}")),
                    counted(repair_days.items, "item", "items")
                ),
            ),
            (
                "stolen/recovered/void",
                format!("{} / {} / {}", s.stolen, s.recovered, s.void),
            ),
            (
                "badges",
                format!(
                    "{} at {}; {} at several",
                    counted(s.badges, "badge", "badges"),
                    counted(s.events.len() as u64, "event", "events"),
                    counted(s.items_at_several_events, "item", "items")
                ),
            ),
        ],
    );
    let parts = s
        .repairs_by_part
        .iter()
        .map(|(part, n)| (part.as_str(), *n));
    listing(&mut out, "parts replaced", parts);
    let events = s.events.iter().map(|e| (e.event.as_str(), e.items));
    listing(&mut out, "events (distinct items)", events);
    out
}

/// A titled list of `name  count` lines, or nothing when empty.
fn listing<'a>(out: &mut String, title: &str, lines: impl Iterator<Item = (&'a str, u64)>) {
    let mut lines = lines.peekable();
    if lines.peek().is_some() {
        let _ = writeln!(out, "  {title}:");
        for (name, n) in lines {
            let _ = writeln!(out, "    {:<20} {n}", safe(name));
        }
    }
}

/// The table of a maker's KPIs.
pub fn maker_table(s: &MakerStats) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "maker {} ({})", s.maker.key_id, s.maker.key);
    rows(
        &mut out,
        &[
            ("runs", s.runs.to_string()),
            ("minted", s.minted.to_string()),
            ("sold", s.sold.to_string()),
            ("first-hand buyers", s.first_hand_buyers.to_string()),
            ("repeat collectors", s.repeat_collectors.to_string()),
            ("repeat rate (12 m)", percent(s.repeat_collector_rate_12m)),
        ],
    );
    let _ = writeln!(
        out,
        "\n  {:<10}  {:<24}  {:>5}  {:>5}  {:>8}  {:>8}  {:>7}",
        "drop", "title", "size", "sold", "7 d", "30 d", "repairs"
    );
    for r in &s.by_run {
        let title: String = safe(&r.title).chars().take(24).collect();
        let _ = writeln!(
            out,
            "  {:<10}  {:<24}  {:>5}  {:>5}  {:>8}  {:>8}  {:>7}",
            day(&r.window_start),
            title,
            r.size,
            r.sold,
            percent(Some(r.sell_through_7d)),
            percent(Some(r.sell_through_30d)),
            two_decimals(Some(r.repairs_per_item)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_nouns() {
        let mut s: RunStats = serde_json::from_value(serde_json::json!({
            "run": "R", "title": "Pin", "microfactory": "M", "place": "P",
            "maker": {"key": "k", "key_id": "i"},
            "window_start": "2026-01-01T00:00:00Z", "window_end": "2027-01-01T00:00:00Z",
            "size": 3, "minted": 1, "sold": 1, "in_stock": 0,
            "sell_through_7d": 0.33, "sell_through_30d": 0.33,
            "sell_through_7d_of_minted": 1.0, "sell_through_30d_of_minted": 1.0,
            "repairs": 1, "repairs_per_item": 1.0, "repairs_by_part": {},
            "days_sale_to_first_repair": {"items": 1, "mean": 2.0, "median": 2.0},
            "stolen": 0, "recovered": 0, "void": 0, "badges": 1,
            "events": [{"event": "Fair", "items": 1}], "items_at_several_events": 0,
            "sales_by_day": [[0, 1]], "log_size": 4
        }))
        .unwrap();
        let table = run_table(&s);
        assert!(
            table.contains("1 badge at 1 event; 0 items at several"),
            "{table}"
        );
        assert!(table.contains("2.0 days (mean, 1 item)"), "{table}");
        s.badges = 2;
        s.events.push(s.events[0].clone());
        s.items_at_several_events = 1;
        s.days_sale_to_first_repair.items = 2;
        let table = run_table(&s);
        assert!(
            table.contains("2 badges at 2 events; 1 item at several"),
            "{table}"
        );
        assert!(table.contains("(mean, 2 items)"), "{table}");
    }
}

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
                    "{} days (mean, {} items)",
                    repair_days.mean.map_or("–".into(), |d| format!("{d:.1}")),
                    repair_days.items
                ),
            ),
            (
                "stolen/recovered/void",
                format!("{} / {} / {}", s.stolen, s.recovered, s.void),
            ),
            (
                "badges",
                format!(
                    "{} at {} events; {} items at several",
                    s.badges,
                    s.events.len(),
                    s.items_at_several_events
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

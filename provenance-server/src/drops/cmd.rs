//! `provenance stats --run RUN | --maker KEY [--json]`: a run's or a maker's KPIs from the
//! ledger (`GET /v1/runs/{run}/stats`, `GET /v1/makers/{key}/stats`) as a readable table, or
//! the ledger's JSON with `--json`.

use std::fmt::Write as _;
use std::io::Write as _;

use clap::Args;
use serde_json::Value;

use super::html::percent;
use crate::client::{parse_public, CliError, Client};

/// Arguments of `provenance stats`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("of").required(true).args(["run", "maker"]))]
#[command(after_help = "Examples:
  provenance stats --run RUN               one drop: sold, stock, sell-through, repairs, badges
  provenance stats --maker maker.pem       a maker across runs: repeat collectors, runs over time
  provenance --json stats --run RUN        the ledger's JSON (definitions: spec/kpis.md)")]
pub struct StatsArgs {
    /// The run id.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// The maker: a public key (base64url) or a key file.
    #[arg(long, value_name = "KEY")]
    pub maker: Option<String>,
}

fn num(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::Number(n)) => n.to_string(),
        _ => "–".to_string(),
    }
}

fn frac(v: &Value, key: &str) -> String {
    percent(v.get(key).and_then(Value::as_f64))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Terminal-safe text: controls and bidirectional characters escaped.
fn safe(text: &str) -> String {
    provenance_core::text::escape_for_terminal(text).into_owned()
}

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
pub fn run_table(s: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}, {}), run {}",
        safe(text(s, "title")),
        safe(text(s, "microfactory")),
        safe(text(s, "place")),
        text(s, "run")
    );
    let repair_days = s
        .get("days_sale_to_first_repair")
        .cloned()
        .unwrap_or(Value::Null);
    let mean = repair_days
        .get("mean")
        .and_then(Value::as_f64)
        .map_or("–".to_string(), |d| format!("{d:.1}"));
    rows(
        &mut out,
        &[
            (
                "window",
                format!(
                    "{} – {}",
                    text(s, "window_start").get(..10).unwrap_or(""),
                    text(s, "window_end").get(..10).unwrap_or("")
                ),
            ),
            ("size", num(s, "size")),
            ("minted", num(s, "minted")),
            ("sold", num(s, "sold")),
            ("in stock", num(s, "in_stock")),
            (
                "sell-through 7 d",
                format!(
                    "{} of the run, {} of minted",
                    frac(s, "sell_through_7d"),
                    frac(s, "sell_through_7d_of_minted")
                ),
            ),
            (
                "sell-through 30 d",
                format!(
                    "{} of the run, {} of minted",
                    frac(s, "sell_through_30d"),
                    frac(s, "sell_through_30d_of_minted")
                ),
            ),
            (
                "repairs",
                format!(
                    "{} ({} per item)",
                    num(s, "repairs"),
                    s.get("repairs_per_item")
                        .and_then(Value::as_f64)
                        .map_or("–".into(), |r| format!("{r:.2}"))
                ),
            ),
            (
                "sale to 1st repair",
                format!("{mean} days (mean, {} items)", num(&repair_days, "items")),
            ),
            (
                "stolen/recovered/void",
                format!(
                    "{} / {} / {}",
                    num(s, "stolen"),
                    num(s, "recovered"),
                    num(s, "void")
                ),
            ),
            (
                "badges",
                format!(
                    "{} at {} events; {} items at several",
                    num(s, "badges"),
                    s.get("events")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len),
                    num(s, "items_at_several_events")
                ),
            ),
        ],
    );
    if let Some(parts) = s.get("repairs_by_part").and_then(Value::as_object) {
        if !parts.is_empty() {
            let _ = writeln!(out, "  parts replaced:");
            for (part, n) in parts {
                let _ = writeln!(out, "    {:<20} {n}", safe(part));
            }
        }
    }
    if let Some(events) = s.get("events").and_then(Value::as_array) {
        if !events.is_empty() {
            let _ = writeln!(out, "  events (distinct items):");
            for e in events {
                let _ = writeln!(
                    out,
                    "    {:<20} {}",
                    safe(text(e, "event")),
                    num(e, "items")
                );
            }
        }
    }
    out
}

/// The table of a maker's KPIs.
pub fn maker_table(s: &Value) -> String {
    let mut out = String::new();
    let maker = s.get("maker").cloned().unwrap_or(Value::Null);
    let _ = writeln!(
        out,
        "maker {} ({})",
        text(&maker, "key_id"),
        text(&maker, "key")
    );
    rows(
        &mut out,
        &[
            ("runs", num(s, "runs")),
            ("minted", num(s, "minted")),
            ("sold", num(s, "sold")),
            ("first-hand buyers", num(s, "first_hand_buyers")),
            ("repeat collectors", num(s, "repeat_collectors")),
            ("repeat rate (12 m)", frac(s, "repeat_collector_rate_12m")),
        ],
    );
    let _ = writeln!(
        out,
        "\n  {:<10}  {:<24}  {:>5}  {:>5}  {:>8}  {:>8}  {:>7}",
        "drop", "title", "size", "sold", "7 d", "30 d", "repairs"
    );
    for r in s
        .get("by_run")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let title: String = safe(text(r, "title")).chars().take(24).collect();
        let _ = writeln!(
            out,
            "  {:<10}  {:<24}  {:>5}  {:>5}  {:>8}  {:>8}  {:>7}",
            text(r, "window_start").get(..10).unwrap_or(""),
            title,
            num(r, "size"),
            num(r, "sold"),
            frac(r, "sell_through_7d"),
            frac(r, "sell_through_30d"),
            r.get("repairs_per_item")
                .and_then(Value::as_f64)
                .map_or("–".into(), |x| format!("{x:.2}")),
        );
    }
    out
}

/// Runs `provenance stats`.
pub fn stats(client: &Client, json: bool, args: &StatsArgs) -> Result<(), CliError> {
    let (value, table) = match (&args.run, &args.maker) {
        (Some(run), _) => {
            let run = provenance_core::RunId::from_base32(run.trim()).ok_or_else(|| {
                CliError::coded(
                    format!("{run:?} is not a run id (26 characters of base32)"),
                    provenance_core::codes::LEDGER_BAD_REQUEST,
                )
            })?;
            let v = client.get_json(&format!("/v1/runs/{run}/stats"))?;
            let t = run_table(&v);
            (v, t)
        }
        (None, Some(maker)) => {
            let key = parse_public(maker)?;
            let v = client.get_json(&format!("/v1/makers/{key}/stats"))?;
            let t = maker_table(&v);
            (v, t)
        }
        (None, None) => return Err(CliError::msg("give --run RUN or --maker KEY")),
    };
    let mut out = std::io::stdout().lock();
    let _ = if json {
        writeln!(out, "{value}")
    } else {
        write!(out, "{table}")
    };
    Ok(())
}

//! The live drop dashboard: `GET /dashboard` (every run) and `GET /dashboard/{run}`, with
//! cumulative sales against days since the drop ([`super::chart`]), sell-through at 7 and
//! 30 days, stock left and recent events; `GET /dashboard/events` and
//! `GET /dashboard/{run}/events` stream the re-rendered figures as server-sent events whenever
//! the log grows.
//!
//! An event stream is a GET without a body, so the body deadline never applies; it holds its
//! connection's admission slot like any open connection (the per-address bound caps how many
//! dashboards one address keeps open). A comment line every [`KEEP_ALIVE`] finds closed
//! connections, and the stream ends on SIGTERM or SIGINT so a shutdown does not wait for open
//! dashboards.

use std::fmt::Write as _;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::{select, Either};
use provenance_core::RunId;

use super::chart::sales_chart;
use super::html::{escape, page, percent};
use super::stats::Event;
use super::{refreshed, run_figures, run_param, Engine, TEXT_HTML};
use crate::api::{DashboardProblem, DashboardUpdate, RunStats};
use crate::http::problem_response;
use crate::ledger::LedgerError;

/// Interval of the keep-alive comment on an event stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Runs shown on the all-runs dashboard (newest first).
pub const DASHBOARD_RUNS: usize = 50;

fn kpi(name: &str, value: &str, label: &str) -> String {
    format!("<div class=\"kpi\"><b data-kpi=\"{name}\">{value}</b><span>{label}</span></div>")
}

/// One run's card: KPIs and chart.
fn card(s: &RunStats, link: bool) -> String {
    let mut out = String::new();
    let title = escape(&s.title);
    let heading = if link {
        format!("<a href=\"/dashboard/{}\">{title}</a>", s.run)
    } else {
        title
    };
    let _ = write!(
        out,
        "<section class=\"card\" data-run=\"{run}\"><h2>{heading}</h2>\
<p class=\"muted\">{} · {} · drop {} · <a href=\"/runs/{run}\">provenance sheet</a></p><div class=\"kpis\">",
        escape(&s.microfactory),
        escape(&s.place),
        escape(s.window_start.get(..10).unwrap_or("")),
        run = s.run,
    );
    out.push_str(&kpi(
        "sold",
        &format!("{} / {}", s.sold, s.minted),
        "sold / minted",
    ));
    out.push_str(&kpi("in_stock", &s.in_stock.to_string(), "stock left"));
    out.push_str(&kpi(
        "sell_through_7d",
        &percent(Some(s.sell_through_7d)),
        "sell-through 7 d",
    ));
    out.push_str(&kpi(
        "sell_through_30d",
        &percent(Some(s.sell_through_30d)),
        "sell-through 30 d",
    ));
    out.push_str(&kpi(
        "repairs_per_item",
        &format!("{:.2}", s.repairs_per_item),
        "repairs per item",
    ));
    out.push_str("</div>");
    out.push_str(&sales_chart(
        &s.sales_by_day,
        s.size,
        days_since(&s.window_start),
        &format!("{}: cumulative sales by day since the drop", s.title),
    ));
    out.push_str("</section>");
    out
}

/// Whole days from `start` (RFC 3339) to now; 0 before it or if it does not parse.
fn days_since(start: &str) -> u64 {
    let start = provenance_core::Timestamp::parse(start).map_or(u64::MAX, |t| t.0);
    crate::ledger::now().0.saturating_sub(start) / 86_400
}

fn events(list: &[Event]) -> String {
    let mut out = String::from(
        "<h2>Recent events</h2><table class=\"events\"><thead><tr><th>time</th><th>what</th><th>run</th><th>piece</th><th>detail</th></tr></thead><tbody>",
    );
    for e in list.iter().rev() {
        let _ = write!(
            out,
            "<tr data-index=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.index,
            escape(e.time.get(..16).unwrap_or(&e.time)).replace('T', " "),
            e.what,
            escape(&e.title),
            escape(&e.item),
            escape(&e.detail)
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The live part of a dashboard (what the event stream re-sends): every run's card, or one.
pub fn fragment(engine: &Engine, run: Option<&RunId>) -> Result<String, LedgerError> {
    refreshed(engine)?;
    let mut out = String::new();
    match run {
        Some(id) => {
            let s = run_figures(engine, id)?;
            out.push_str(&card(&s, false));
            out.push_str(&events(&engine.read(|st| st.recent(Some(id)))));
        }
        None => {
            let (runs, recent, size) = engine.read(|st| {
                let mut ids: Vec<RunId> = st.runs().collect();
                ids.reverse();
                ids.truncate(DASHBOARD_RUNS);
                let runs: Vec<RunStats> = ids.iter().filter_map(|id| st.run(id)).collect();
                (runs, st.recent(None), st.size())
            });
            if runs.is_empty() {
                out.push_str("<p>No run registered yet.</p>");
            }
            for s in &runs {
                out.push_str(&card(s, true));
            }
            out.push_str(&events(&recent));
            let _ = write!(out, "<p class=\"muted\">{size} log entries.</p>");
        }
    }
    Ok(out)
}

fn dashboard_page(engine: &Engine, run: Option<&RunId>) -> HttpResponse {
    let result = (|| {
        let live = fragment(engine, run)?;
        let (title, stream) = match run {
            Some(id) => {
                let title = engine
                    .read(|s| s.run(id))
                    .map(|s| s.title)
                    .unwrap_or_default();
                (
                    format!("{title} — drop dashboard"),
                    format!("/dashboard/{id}/events"),
                )
            }
            None => (
                "Drop dashboard".to_string(),
                "/dashboard/events".to_string(),
            ),
        };
        let body = format!(
            "<h1>{}</h1><p class=\"muted\" id=\"state\" data-state=\"connecting\">live</p>\
<div id=\"live\" data-stream=\"{}\">{live}</div><script src=\"{}\"></script>",
            escape(&title),
            escape(&stream),
            crate::assets::DASHBOARD_JS.path(),
        );
        Ok::<_, LedgerError>(page(&title, &body))
    })();
    match result {
        Ok(body) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, TEXT_HTML))
            .body(body),
        Err(p) => problem_response(&p),
    }
}

/// `GET /dashboard`.
pub async fn all_runs(engine: web::Data<Engine>) -> HttpResponse {
    dashboard_page(&engine, None)
}

/// `GET /dashboard/{run}`.
pub async fn one_run(req: HttpRequest, engine: web::Data<Engine>) -> HttpResponse {
    match run_param(&req) {
        Ok(run) => dashboard_page(&engine, Some(&run)),
        Err(p) => problem_response(&p),
    }
}

/// One `update` event: the log size and the re-rendered live part, as one JSON line.
fn update(engine: &Engine, run: Option<&RunId>) -> Bytes {
    match fragment(engine, run) {
        Ok(html) => {
            let size = engine.read(super::stats::Stats::size);
            sse_event("update", &DashboardUpdate { size, html })
        }
        Err(p) => sse_event(
            "problem",
            &DashboardProblem {
                code: p.code.to_string(),
                detail: p.detail,
            },
        ),
    }
}

/// One server-sent event: its name and its JSON data on one line.
fn sse_event<T: serde::Serialize>(name: &str, data: &T) -> Bytes {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

async fn stopping() {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            let _ = select(Box::pin(term.recv()), Box::pin(int.recv())).await;
        }
        _ => std::future::pending::<()>().await,
    }
}

fn stream(engine: web::Data<Engine>, run: Option<RunId>) -> HttpResponse {
    if let Some(id) = &run {
        if let Err(p) = run_figures(&engine, id) {
            return problem_response(&p);
        }
    }
    let rx = engine.subscribe();
    let stop = Box::pin(stopping());
    let first = Bytes::from(format!(
        "retry: 2000\n\n{}",
        String::from_utf8_lossy(&update(&engine, run.as_ref()))
    ));
    let state = (engine, run, rx, stop, Some(first));
    let body =
        futures_util::stream::unfold(state, |(engine, run, mut rx, stop, first)| async move {
            if let Some(first) = first {
                return Some((
                    Ok::<_, actix_web::Error>(first),
                    (engine, run, rx, stop, None),
                ));
            }
            let (changed, stop) = {
                let wait = Box::pin(actix_web::rt::time::timeout(KEEP_ALIVE, rx.changed()));
                match select(wait, stop).await {
                    Either::Left((Ok(Ok(())), stop)) => (true, stop),
                    Either::Left((Err(_), stop)) => (false, stop),
                    Either::Left((Ok(Err(_)), _)) | Either::Right(_) => return None,
                }
            };
            let chunk = if changed {
                rx.borrow_and_update();
                update(&engine, run.as_ref())
            } else {
                Bytes::from_static(b": keep-alive\n\n")
            };
            Some((
                Ok::<_, actix_web::Error>(chunk),
                (engine, run, rx, stop, None),
            ))
        });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// `GET /dashboard/events`: updates of the all-runs dashboard.
pub async fn events_all(engine: web::Data<Engine>) -> HttpResponse {
    stream(engine, None)
}

/// `GET /dashboard/{run}/events`: updates of one run's dashboard.
pub async fn events_run(req: HttpRequest, engine: web::Data<Engine>) -> HttpResponse {
    match run_param(&req) {
        Ok(run) => stream(engine, Some(run)),
        Err(p) => problem_response(&p),
    }
}

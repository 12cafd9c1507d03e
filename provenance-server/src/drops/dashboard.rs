//! The live drop dashboard: `GET /dashboard` (every run) and `GET /dashboard/{run}`, with
//! cumulative sales against days since the drop ([`super::chart`]), sell-through at 7 and
//! 30 days, stock left and recent events; `GET /dashboard/events` and
//! `GET /dashboard/{run}/events` stream the re-rendered figures as server-sent events whenever
//! the log grows.
//!
//! An event stream is a GET without a body, so the body deadline never applies. It is admitted
//! to its own budget ([`super::budget`]: per address and in all, `429 ledger.too_many_streams`
//! / `503 ledger.streams_full` beyond) and then gives its connection's admission slot back, so
//! open dashboards never starve other clients of connections; its answer closes the
//! connection when it ends. Every update is rendered once per log change for all watchers of
//! a board ([`super::broadcast`]) and the same bytes are sent to each. A comment line every
//! [`KEEP_ALIVE`] finds closed connections; the stream ends at its maximum lifetime
//! (`serve --stream-lifetime`) with a `retry:` hint, so the browser reconnects (and is
//! re-admitted), and on SIGTERM or SIGINT so a shutdown does not wait for open dashboards.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::{select, Either};
use provenance_core::{codes, RunId};
use tokio::sync::watch;

use super::broadcast::Board;
use super::budget::{Budgets, StreamPermit};
use super::chart::sales_chart;
use super::html::{escape, page, percent};
use super::stats::Event;
use super::{refreshed, run_figures, run_param, Engine, TEXT_HTML};
use crate::admission::Slot;
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

/// One `update` event: the log size and the re-rendered live part, as one JSON line. Rendered
/// once per change for all watchers of a board ([`super::broadcast`]).
pub(crate) fn update(engine: &Engine, run: Option<&RunId>) -> Bytes {
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

/// The `retry:` hint (milliseconds) of a stream: sent first, and again when the stream's
/// lifetime ends, so the browser's EventSource reconnects after it.
pub const RETRY_MS: u64 = 2000;

/// Where a stream is.
enum Phase {
    /// The latest update, not yet sent.
    First(Bytes),
    /// Following the board.
    Live,
    /// Its lifetime is over and the goodbye was sent.
    Done,
}

/// What woke a live stream.
enum Woke {
    /// The board has a new update.
    Changed,
    /// Nothing for [`KEEP_ALIVE`].
    Quiet,
    /// The server is stopping, or the board is gone.
    Stop,
    /// The stream's lifetime is over.
    End,
}

/// An open stream: the board's updates, the signals that end it, and its budget permit
/// (released when the stream is dropped).
struct Open {
    rx: watch::Receiver<Bytes>,
    stop: Pin<Box<dyn Future<Output = ()>>>,
    end: Pin<Box<actix_web::rt::time::Sleep>>,
    phase: Phase,
    _permit: StreamPermit,
}

/// Admits a stream to the stream budget (`drops::budget`) and gives its connection's slot
/// back, so open dashboards never hold the connection slots other clients need.
fn admit(
    req: &HttpRequest,
    budgets: &Budgets,
    engine: &Engine,
) -> Result<StreamPermit, LedgerError> {
    let peer = req.peer_addr().map(|a| a.ip());
    let permit = budgets.streams.admit(peer).map_err(|refusal| {
        let p = refusal.problem();
        if let Some(ledger) = engine.ledger() {
            ledger.metrics().observe_rejection(p.code);
        }
        p
    })?;
    if let Some(slot) = req.conn_data::<Slot>() {
        slot.release();
    }
    Ok(permit)
}

async fn stream(
    req: HttpRequest,
    engine: web::Data<Engine>,
    budgets: web::Data<Budgets>,
    board: Board,
) -> Result<HttpResponse, LedgerError> {
    if let Some(id) = board.run() {
        run_figures(&engine, id)?;
    }
    let permit = admit(&req, &budgets, &engine)?;
    let lifetime = budgets.streams.limits().lifetime.get();
    let engine = engine.into_inner();
    let mut rx = web::block(move || engine.broadcast().subscribe(&engine, board))
        .await
        .map_err(|_| LedgerError::coded(codes::LEDGER_OVERLOADED, "the ledger is shutting down"))?;
    let first = rx.borrow_and_update().clone();
    let state = Open {
        rx,
        stop: Box::pin(stopping()),
        end: Box::pin(actix_web::rt::time::sleep(lifetime)),
        phase: Phase::First(first),
        _permit: permit,
    };
    let body = futures_util::stream::unfold(state, |mut open| async move {
        let chunk = match std::mem::replace(&mut open.phase, Phase::Live) {
            Phase::First(update) => {
                let mut chunk = format!("retry: {RETRY_MS}\n\n").into_bytes();
                chunk.extend_from_slice(&update);
                Bytes::from(chunk)
            }
            Phase::Done => return None,
            Phase::Live => {
                let wait = Box::pin(actix_web::rt::time::timeout(KEEP_ALIVE, open.rx.changed()));
                let woke = match select(wait, select(&mut open.stop, &mut open.end)).await {
                    Either::Left((Ok(Ok(())), _)) => Woke::Changed,
                    Either::Left((Err(_), _)) => Woke::Quiet,
                    Either::Left((Ok(Err(_)), _)) | Either::Right((Either::Left(_), _)) => {
                        Woke::Stop
                    }
                    Either::Right((Either::Right(_), _)) => Woke::End,
                };
                match woke {
                    Woke::Changed => open.rx.borrow_and_update().clone(),
                    Woke::Quiet => Bytes::from_static(b": keep-alive\n\n"),
                    Woke::Stop => return None,
                    Woke::End => {
                        open.phase = Phase::Done;
                        Bytes::from(format!(
                            ": this stream's lifetime is over; reconnect\nretry: {RETRY_MS}\n\n"
                        ))
                    }
                }
            }
        };
        Some((Ok::<_, actix_web::Error>(chunk), open))
    });
    let mut response = HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body);
    // The connection's slot was given back: no other request may run on it uncounted.
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    Ok(response)
}

/// `GET /dashboard/events`: updates of the all-runs dashboard.
pub async fn events_all(
    req: HttpRequest,
    engine: web::Data<Engine>,
    budgets: web::Data<Budgets>,
) -> Result<HttpResponse, LedgerError> {
    stream(req, engine, budgets, Board::All).await
}

/// `GET /dashboard/{run}/events`: updates of one run's dashboard.
pub async fn events_run(
    req: HttpRequest,
    engine: web::Data<Engine>,
    budgets: web::Data<Budgets>,
) -> Result<HttpResponse, LedgerError> {
    let run = run_param(&req)?;
    stream(req, engine, budgets, Board::Run(run)).await
}

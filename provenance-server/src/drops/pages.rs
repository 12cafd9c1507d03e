//! The provenance sheets: `GET /runs/{run}` (the run and its editions) and `GET /items/{item}`
//! (one piece and its story), server-rendered HTML that prints on A4. The item's story is the
//! collector's verifier's: the ledger's full-history file is verified by `provenance-verify`
//! and its [`Report`] is rendered, so the sheet says what a collector's verifier says. Every
//! record text goes through [`escape`].
//!
//! A run sheet is heavy (issue 21.5): it is rendered off the async workers (`web::block`), at
//! most `--max-heavy-renders` at once (beyond: `503 ledger.pages_busy` with `Retry-After`),
//! and kept per (run, log size, figures shown) in [`SheetCache`]; its label QR codes are not
//! inline but images of their own, `/runs/{run}/qr/{n}.svg` ([`label_qr`]), rendered once per
//! item and cacheable for a year, so the sheet stays small and a reload costs nothing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use provenance_core::{ItemId, Payload, RunId};
use provenance_verify::{verify_with, Input, Options, Report, Story};

use super::budget::{Budgets, RenderPermit, RenderRefusal, LABEL_RENDER_WAIT};
use super::engine::ReportKey;
use super::html::{escape, page, percent};
use super::stats::{EditionStatus, Stats};
use super::{refreshed, run_figures, run_param, Engine, TEXT_HTML};
use crate::ledger::{now, Ledger, LedgerError, HEAD_STATEMENT_REUSE_SECS};
use crate::qr;
use provenance_core::codes;

/// Editions on a run sheet that get their own label QR; a larger run lists the rest without.
pub const SHEET_QR_LIMIT: usize = 200;

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, TEXT_HTML))
        .body(body)
}

/// The QR (inline SVG) opening the web verifier on `payload`, if the ledger has a public URL.
fn verifier_qr(ledger: &Ledger, payload: &str) -> Option<String> {
    let url = qr::label_url(ledger.public_url()?, payload);
    let code = qr::encode_url(&url).ok()?;
    Some(qr::svg(&code))
}

fn gone(engine: &Engine) -> Result<std::sync::Arc<Ledger>, LedgerError> {
    engine
        .ledger()
        .ok_or_else(|| LedgerError::coded(codes::LEDGER_OVERLOADED, "the ledger is shutting down"))
}

/// A blocking render that could not run (the blocking pool is gone: shutting down).
fn not_run(_: actix_web::error::BlockingError) -> LedgerError {
    LedgerError::coded(codes::LEDGER_OVERLOADED, "the ledger is shutting down")
}

/// Rendered run sheets kept before the cache is cleared.
const MAX_CACHED_SHEETS: usize = 64;
/// Rendered label QR codes kept before the cache is cleared.
const MAX_CACHED_LABELS: usize = 4096;

/// Rendered run sheets by (run, figures shown) with the log size they were rendered at, and
/// rendered label QR codes by item (a mint never changes, nor does its label).
#[derive(Default)]
pub struct SheetCache {
    sheets: Mutex<HashMap<(RunId, bool), (u64, Bytes)>>,
    labels: Mutex<HashMap<ItemId, Bytes>>,
}

impl SheetCache {
    fn sheet(&self, run: &RunId, figures: bool, size: u64) -> Option<Bytes> {
        let sheets = self.sheets.lock().ok()?;
        sheets
            .get(&(*run, figures))
            .filter(|(at, _)| *at == size)
            .map(|(_, body)| body.clone())
    }

    fn keep_sheet(&self, run: RunId, figures: bool, size: u64, body: Bytes) {
        if let Ok(mut sheets) = self.sheets.lock() {
            if sheets.len() >= MAX_CACHED_SHEETS && !sheets.contains_key(&(run, figures)) {
                sheets.clear();
            }
            sheets.insert((run, figures), (size, body));
        }
    }

    fn label(&self, item: &ItemId) -> Option<Bytes> {
        self.labels.lock().ok()?.get(item).cloned()
    }

    fn keep_label(&self, item: ItemId, svg: Bytes) {
        if let Ok(mut labels) = self.labels.lock() {
            if labels.len() >= MAX_CACHED_LABELS {
                labels.clear();
            }
            labels.insert(item, svg);
        }
    }
}

/// A permit for one uncached heavy render, or 503 `ledger.pages_busy` (counted).
fn render_permit(budgets: &Budgets, ledger: &Ledger) -> Result<RenderPermit, LedgerError> {
    budgets
        .renders
        .try_acquire()
        .map_err(|refusal| busy(refusal, ledger))
}

/// The refusal of a render, counted.
fn busy(refusal: RenderRefusal, ledger: &Ledger) -> LedgerError {
    let p = refusal.problem();
    ledger.metrics().observe_rejection(p.code);
    p
}

/// `GET /runs/{run}`: rendered once per (run, log size, figures shown) off the async workers,
/// at most `--max-heavy-renders` at once; the label QR codes are separate, cacheable images
/// ([`label_qr`]).
pub async fn run_sheet(
    req: HttpRequest,
    engine: web::Data<Engine>,
    budgets: web::Data<Budgets>,
) -> Result<HttpResponse, LedgerError> {
    let run = run_param(&req)?;
    let ledger = gone(&engine)?;
    // The figures only for whom `serve --stats` lets read them (spec §15); the editions'
    // table is the items' public histories.
    let figures_shown = ledger.stats_access().allows(&req);
    refreshed(&engine)?;
    let size = engine.read(Stats::size);
    if let Some(body) = engine.sheets().sheet(&run, figures_shown, size) {
        return Ok(html_bytes(body));
    }
    let info = ledger.run_view(&run)?;
    let permit = render_permit(&budgets, &ledger)?;
    let engine = engine.into_inner();
    let rendering = engine.clone();
    let body = web::block(move || {
        let _permit = permit;
        ledger.metrics().observe_page_render();
        render_run_sheet(&rendering, &ledger, &run, &info, figures_shown)
    })
    .await
    .map_err(not_run)??;
    engine
        .sheets()
        .keep_sheet(run, figures_shown, size, body.clone());
    Ok(html_bytes(body))
}

fn html_bytes(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, TEXT_HTML))
        .body(body)
}

/// The run sheet's page.
fn render_run_sheet(
    engine: &Engine,
    ledger: &Ledger,
    run: &RunId,
    info: &crate::api::RunView,
    figures_shown: bool,
) -> Result<Bytes, LedgerError> {
    let figures = run_figures(engine, run)?;
    let editions = engine.read(|s| s.editions(run));
    let mut body = String::new();
    let _ = write!(
        body,
        "<article class=\"sheet\" data-run=\"{run}\"><h1>{}</h1>\
<p class=\"muted\">Provenance sheet of run <code>{run}</code></p>\
<dl class=\"facts\"><dt>Maker</dt><dd data-field=\"maker\">{} <code>{}</code></dd>\
<dt>Microfactory</dt><dd data-field=\"microfactory\">{}</dd>\
<dt>Place</dt><dd data-field=\"place\">{}</dd>\
<dt>Window</dt><dd data-field=\"window\">{} – {}</dd>\
<dt>Edition size</dt><dd data-field=\"size\">{}</dd></dl>",
        escape(&info.title),
        escape(&info.maker.name),
        escape(&info.maker.key_id),
        escape(&info.microfactory),
        escape(&info.place),
        escape(info.window_start.get(..10).unwrap_or("")),
        escape(info.window_end.get(..10).unwrap_or("")),
        figures.size,
    );
    if figures_shown {
        let _ = write!(
            body,
            "<div class=\"kpis\"><div class=\"kpi\"><b data-kpi=\"minted\">{}</b><span>minted</span></div>\
<div class=\"kpi\"><b data-kpi=\"sold\">{}</b><span>sold</span></div>\
<div class=\"kpi\"><b data-kpi=\"in_stock\">{}</b><span>in stock</span></div></div>",
            figures.minted, figures.sold, figures.in_stock
        );
    }
    editions_table(&mut body, ledger, run, &editions, figures.size);
    if figures_shown {
        let _ = write!(
            body,
            "<p class=\"muted noprint\"><a href=\"/dashboard/{run}\">Live dashboard</a> · \
<a href=\"/v1/runs/{run}/stats\">KPIs (JSON)</a> · sell-through 7 d {} · 30 d {}</p>",
            percent(Some(figures.sell_through_7d)),
            percent(Some(figures.sell_through_30d)),
        );
    }
    body.push_str("</article>");
    Ok(Bytes::from(page(
        &format!("{} — provenance sheet", info.title),
        &body,
    )))
}

/// The `?u=` tag of the label QR URLs: the first 8 hex digits of the public URL's SHA-256, so
/// a new `--public-url` gives new URLs and no browser keeps an immutable image of the old one.
fn label_tag(public_url: &str) -> String {
    use sha2::Digest as _;
    hex_prefix(&sha2::Sha256::digest(public_url.as_bytes()))
}

fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(4).fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The run sheet's table of editions: each piece's status, owners, repairs and badges, and
/// (for the first [`SHEET_QR_LIMIT`], when the ledger has a public URL) its label's QR, an
/// image at `/runs/{run}/qr/{n}.svg` ([`label_qr`]).
fn editions_table(
    body: &mut String,
    ledger: &Ledger,
    run: &RunId,
    editions: &[EditionStatus],
    size: u64,
) {
    body.push_str(
        "<h2>Editions</h2><table class=\"editions\"><thead><tr><th class=\"n\">n</th><th>piece</th>\
<th>status</th><th class=\"n\">owners</th><th class=\"n\">repairs</th><th class=\"n\">badges</th><th class=\"noprint\"></th></tr></thead><tbody>",
    );
    let tag = ledger.public_url().map(label_tag);
    for (i, e) in editions.iter().enumerate() {
        let qr_img = match &tag {
            Some(tag) if i < SHEET_QR_LIMIT => format!(
                "<span class=\"small-qr\"><img src=\"/runs/{run}/qr/{n}.svg?u={tag}\" \
alt=\"label QR of edition {n}\" width=\"140\" height=\"140\"></span>",
                n = e.number
            ),
            _ => String::new(),
        };
        let _ = write!(
            body,
            "<tr data-item=\"{item}\"><td class=\"n\">{n}/{size}</td><td><a href=\"/items/{item}\"><code>{short}</code></a> {qr_img}</td>\
<td class=\"status-{class}\" data-field=\"status\">{status}</td><td class=\"n\">{owners}</td><td class=\"n\">{repairs}</td><td class=\"n\">{badges}</td>\
<td class=\"noprint\"><a href=\"/items/{item}\">sheet</a></td></tr>",
            item = escape(&e.item),
            n = e.number,
            short = escape(&e.short),
            class = e.status.replace(' ', "-"),
            status = e.status,
            owners = e.owners,
            repairs = e.repairs,
            badges = e.badges,
        );
    }
    body.push_str("</tbody></table>");
    if editions.len() > SHEET_QR_LIMIT && tag.is_some() {
        let _ = write!(
            body,
            "<p class=\"muted\">QR codes on the first {SHEET_QR_LIMIT} editions; every piece's own sheet carries its QR.</p>"
        );
    }
}

/// The `{n}` of `/runs/{run}/qr/{n}.svg`: an edition number.
fn edition_param(req: &HttpRequest) -> Result<u64, LedgerError> {
    let text = req.match_info().get("n").unwrap_or("");
    crate::http::query_u64(Some(text), "edition")
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            LedgerError::bad_request(format!("{text:?} is not an edition number (1 or more)"))
        })
}

/// `GET /runs/{run}/qr/{n}.svg`: the label QR of edition `n` (its mint's payload behind the
/// web verifier's URL), as on the printed label. A mint never changes, so the image is cached
/// here and may be cached for a year by browsers (`immutable`; the run sheet's URLs carry a tag
/// of the public URL, `label_tag`). 404 without `--public-url` or for an edition not minted.
pub async fn label_qr(
    req: HttpRequest,
    engine: web::Data<Engine>,
    budgets: web::Data<Budgets>,
) -> Result<HttpResponse, LedgerError> {
    let run = run_param(&req)?;
    let n = edition_param(&req)?;
    let ledger = gone(&engine)?;
    if ledger.public_url().is_none() {
        return Err(LedgerError::not_found(
            "this ledger has no --public-url: its labels carry no verifier QR",
        ));
    }
    refreshed(&engine)?;
    let item = engine
        .read(|s| s.editions(&run))
        .into_iter()
        .find(|e| e.number == n)
        .and_then(|e| ItemId::from_base32(&e.item))
        .ok_or_else(|| LedgerError::not_found(format!("no edition {n} of run {run} is minted")))?;
    let svg = match engine.sheets().label(&item) {
        Some(svg) => svg,
        None => {
            // A sheet's images arrive together: each waits its turn rather than leave a hole.
            let permit = budgets
                .renders
                .acquire_within(LABEL_RENDER_WAIT)
                .await
                .map_err(|refusal| busy(refusal, &ledger))?;
            let svg = web::block(move || {
                let _permit = permit;
                ledger.metrics().observe_page_render();
                let mint = ledger
                    .store()
                    .records(&item)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| LedgerError::not_found(format!("no item {item}")))?;
                verifier_qr(&ledger, &Payload::Label(mint.bytes).encode())
                    .map(Bytes::from)
                    .ok_or_else(|| {
                        LedgerError::new(500, codes::LEDGER_INTERNAL, "cannot render the QR code")
                    })
            })
            .await
            .map_err(not_run)??;
            engine.sheets().keep_label(item, svg.clone());
            svg
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(svg))
}

/// The verifier's report on the ledger's full history of `item`, the same one a collector's
/// verifier gives for `/export`; made once per [`ReportKey`] and reused.
pub fn item_report(
    ledger: &Ledger,
    engine: &Engine,
    item: &ItemId,
) -> Result<Arc<Report>, LedgerError> {
    let row = ledger
        .store()
        .item(item)?
        .ok_or_else(|| LedgerError::not_found(format!("no item {item} on this ledger")))?;
    let trust = ledger.current_trust();
    let now = now();
    let key = ReportKey {
        head: row.head,
        trust_version: trust.content().version,
        period: now.0 / HEAD_STATEMENT_REUSE_SECS,
    };
    if let Some(report) = engine.cached_report(item, &key) {
        return Ok(report);
    }
    let history = ledger.export(item)?;
    let report = Arc::new(verify_with(
        Input::Bytes(&history.to_cbor()),
        &trust,
        now,
        Options::default(),
    ));
    engine.keep_report(*item, key, report.clone());
    Ok(report)
}

/// `GET /items/{item}`.
pub async fn item_sheet(
    req: HttpRequest,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, LedgerError> {
    let text_id = req.match_info().get("item").unwrap_or("");
    let item = ItemId::from_base32(text_id).ok_or_else(|| {
        LedgerError::bad_request(format!(
            "{text_id:?} is not an item id (26 characters of base32)"
        ))
    })?;
    let ledger = gone(&engine)?;
    refreshed(&engine)?;
    let report = item_report(&ledger, &engine, &item)?;
    let place = engine
        .read(|s| s.item_run(&item))
        .and_then(|run| ledger.run_view(&run).ok())
        .map(|v| v.place)
        .unwrap_or_default();
    let qr_svg = ledger
        .living_payload(&item)
        .ok()
        .and_then(|p| verifier_qr(&ledger, &p.text))
        .map(|svg| format!("<div class=\"qr\" data-field=\"qr\">{svg}<p class=\"muted\">Scan to verify</p></div>"))
        .unwrap_or_default();
    let title = report
        .story
        .as_ref()
        .map_or_else(|| format!("Item {item}"), |s| s.title.clone());
    let mut body = String::new();
    // Issue 20.5: a stolen (or voided, or forged) piece says so first, red, in a buyer's words.
    let stolen = report.story.as_ref().is_some_and(|s| s.stolen);
    let alarm = stolen || report.verdict == provenance_verify::Verdict::NotGenuine;
    let _ = write!(
        body,
        "<article class=\"sheet\" data-item=\"{item}\">{qr_svg}\
<p class=\"verdict{}\" data-field=\"verdict\" data-stolen=\"{stolen}\">{}</p>\
<p data-field=\"advice\">{}</p><h1>{}</h1><p class=\"muted\" data-field=\"summary\">{}</p>",
        if alarm { " alarm" } else { "" },
        escape(&report.headline),
        escape(&report.advice),
        escape(&title),
        escape(&report.summary),
    );
    if let Some(story) = &report.story {
        story_facts(&mut body, story, &place);
        story_events(&mut body, story);
    }
    findings(&mut body, &report);
    body.push_str("<p class=\"muted\">Told by provenance-verify from the ledger's full history.</p></article>");
    Ok(html(page(&format!("{title} — provenance sheet"), &body)))
}

/// The item sheet's facts: edition, maker, microfactory, place, run, owners, freshness.
fn story_facts(body: &mut String, s: &Story, place: &str) {
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>Edition</dt><dd data-field=\"edition\">{}/{}</dd>\
<dt>Maker</dt><dd data-field=\"maker\">{} <code>{}</code></dd>\
<dt>Microfactory</dt><dd data-field=\"microfactory\">{}</dd><dt>Place</dt><dd data-field=\"place\">{}</dd>\
<dt>Run</dt><dd><a href=\"/runs/{}\"><code>{}</code></a></dd><dt>Minted</dt><dd>{}</dd>\
<dt>Owners</dt><dd data-field=\"owners\">{}</dd><dt>Current owner</dt><dd><code>{}</code></dd>\
<dt>Freshness</dt><dd>{}</dd></dl>",
        s.edition.number,
        s.edition.size,
        escape(&s.maker.name),
        escape(&s.maker.key_id),
        escape(&s.microfactory),
        escape(place),
        escape(&s.run),
        escape(&s.run),
        escape(&s.minted_at),
        s.owner_count,
        escape(&s.current_owner.key_id),
        escape(&s.freshness.note),
    );
}

/// The item sheet's repairs, badges and reports.
fn story_events(body: &mut String, s: &Story) {
    let _ = write!(body, "<h2>Repairs ({})</h2>", s.repair_count);
    if !s.repairs.is_empty() {
        body.push_str("<table class=\"repairs\"><thead><tr><th>date</th><th>desk</th><th>note</th><th>parts</th></tr></thead><tbody>");
        for r in &s.repairs {
            let cells = [&r.time, &r.desk.name, &r.note, &r.parts.join(", ")];
            table_row(body, &cells);
        }
        body.push_str("</tbody></table>");
    }
    let _ = write!(body, "<h2>Badges ({})</h2>", s.badge_count);
    if !s.badges.is_empty() {
        body.push_str("<table class=\"badges\"><thead><tr><th>date</th><th>event</th><th>place</th><th>host</th></tr></thead><tbody>");
        for b in &s.badges {
            let place = b.place.clone().unwrap_or_default();
            table_row(body, &[&b.time, &b.event, &place, &b.host.name]);
        }
        body.push_str("</tbody></table>");
    }
    if !s.reports.is_empty() {
        body.push_str("<h2>Reports</h2><ul>");
        for r in &s.reports {
            let _ = write!(body, "<li>{} {}</li>", escape(&r.time), r.status);
        }
        body.push_str("</ul>");
    }
}

/// One table row of escaped cells.
fn table_row(body: &mut String, cells: &[&String]) {
    body.push_str("<tr>");
    for cell in cells {
        let _ = write!(body, "<td>{}</td>", escape(cell));
    }
    body.push_str("</tr>");
}

/// The verifier's findings, each with its code.
fn findings(body: &mut String, report: &Report) {
    if report.findings.is_empty() {
        return;
    }
    body.push_str("<h2>Findings</h2><ul class=\"findings\">");
    for f in &report.findings {
        let _ = write!(
            body,
            "<li><code>{}</code> {}</li>",
            f.code,
            escape(&f.message)
        );
    }
    body.push_str("</ul>");
}

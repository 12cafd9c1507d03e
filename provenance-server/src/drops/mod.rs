//! Drop operations (issue 13): the KPIs makers run their drops on, as JSON and CSV
//! (`GET /v1/runs/{run}/stats`, `GET /v1/makers/{key}/stats`), the printable provenance
//! sheets (`GET /runs/{run}`, `GET /items/{item}`) and the live dashboard (`GET /dashboard`,
//! `GET /dashboard/{run}`, server-sent events). Definitions: `spec/kpis.md`. The same fold
//! answers who holds what (issue 22): `GET /v1/owners/{key}/items` and
//! `GET /v1/recoveries/{digest}/items` ([`owners`]; public, spec §15).
//!
//! Who may read them: [`access`] (`serve --stats public|token`, spec §15; the covered routes
//! are wrapped by [`gate`]).
//!
//! Rooms: [`stats`] (the fold and the KPIs), [`engine`] (keeps the fold current with the log),
//! [`html`] (escaping, page shell), [`chart`] (the SVG chart), [`pages`] (sheets and their
//! label QR images), [`dashboard`] (dashboard and its event stream), [`broadcast`] (one render
//! per log change for every dashboard watcher), [`budget`] (the event streams' own budget and
//! the bound on heavy renders), [`csv`] (CSV bodies), [`owners`] (the holdings queries). The
//! answers' JSON types are in [`crate::api`]; `provenance stats` is `crate::cli`'s.

pub mod access;
pub mod broadcast;
pub mod budget;
pub mod chart;
pub mod csv;
pub mod dashboard;
pub mod engine;
pub mod html;
pub mod owners;
pub mod pages;
pub mod stats;

use std::sync::Arc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::{ready, LocalBoxFuture};
use provenance_core::{PublicKey, RunId};
use serde::Serialize;

use crate::http::{accepts, method_not_allowed};
use crate::ledger::{Ledger, LedgerError};
pub use engine::Engine;
use provenance_core::codes;

/// Media type of the CSV answers.
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";
/// Media type of the pages.
pub const TEXT_HTML: &str = "text/html; charset=utf-8";

/// Registers the drop routes (stats, sheets, dashboard) for `ledger`; the streams and heavy
/// renders get the budgets of `limits` (one set per server, shared by its workers).
pub fn configure(
    ledger: &Arc<Ledger>,
    limits: &crate::admission::Limits,
) -> impl FnOnce(&mut web::ServiceConfig) {
    let engine = Engine::for_ledger(ledger);
    let budgets = engine.budgets(|| budget::Budgets::new(limits.streams, limits.heavy_renders));
    let access = Arc::new(ledger.stats_access().clone());
    move |cfg: &mut web::ServiceConfig| {
        let get = |path: &str| {
            web::resource(path).default_service(web::to(method_not_allowed("GET, HEAD")))
        };
        // The figures (`serve --stats token`): refused without the operator's token.
        let a = &access;
        cfg.app_data(web::Data::from(engine))
            .app_data(web::Data::from(budgets))
            .service(
                get("/v1/runs/{run}/stats")
                    .route(web::get().to(run_stats))
                    .wrap_fn(gate(a)),
            )
            .service(
                get("/v1/makers/{key}/stats")
                    .route(web::get().to(maker_stats))
                    .wrap_fn(gate(a)),
            )
            // Who holds what: public (spec §15), the items' histories say as much.
            .service(get("/v1/owners/{key}/items").route(web::get().to(owners::owned_items)))
            .service(
                get("/v1/recoveries/{digest}/items").route(web::get().to(owners::committed_items)),
            )
            .service(get("/runs/{run}").route(web::get().to(pages::run_sheet)))
            .service(get("/runs/{run}/qr/{n}.svg").route(web::get().to(pages::label_qr)))
            .service(get("/items/{item}").route(web::get().to(pages::item_sheet)))
            .service(
                get("/dashboard")
                    .route(web::get().to(dashboard::all_runs))
                    .wrap_fn(gate(a)),
            )
            .service(
                get("/dashboard/events")
                    .route(web::get().to(dashboard::events_all))
                    .wrap_fn(gate(a)),
            )
            .service(
                get("/dashboard/{run}")
                    .route(web::get().to(dashboard::one_run))
                    .wrap_fn(gate(a)),
            )
            .service(
                get("/dashboard/{run}/events")
                    .route(web::get().to(dashboard::events_run))
                    .wrap_fn(gate(a)),
            );
    }
}

/// The middleware of a route that serves figures: a request [`access::StatsAccess::check`]
/// refuses gets 401 `ledger.unauthorized` ([`access::StatsRefusal`]) before any handler runs.
pub fn gate<S>(
    access: &Arc<access::StatsAccess>,
) -> impl Fn(ServiceRequest, &S) -> LocalBoxFuture<'static, Result<ServiceResponse, actix_web::Error>>
       + Clone
       + 'static
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
    S::Future: 'static,
{
    let access = access.clone();
    move |req: ServiceRequest, srv: &S| match access.check(req.request()) {
        Ok(()) => Box::pin(srv.call(req)),
        Err(refusal) => Box::pin(ready(Ok(req.into_response(refusal.error_response())))),
    }
}

/// The `{run}` path parameter.
pub(crate) fn run_param(req: &HttpRequest) -> Result<RunId, LedgerError> {
    let text = req.match_info().get("run").unwrap_or("");
    RunId::from_base32(text).ok_or_else(|| {
        LedgerError::bad_request(format!(
            "{text:?} is not a run id (26 characters of base32)"
        ))
    })
}

/// Folds what the log holds now; a store failure is a 500 (or 503 when busy).
pub(crate) fn refreshed(engine: &Engine) -> Result<(), LedgerError> {
    engine
        .refresh()
        .map(|_| ())
        .map_err(|e| LedgerError::internal(&e))
}

/// The KPIs of a run, or 404 `ledger.not_found`.
pub(crate) fn run_figures(
    engine: &Engine,
    run: &RunId,
) -> Result<crate::api::RunStats, LedgerError> {
    refreshed(engine)?;
    engine
        .read(|s| s.run(run))
        .ok_or_else(|| LedgerError::not_found(format!("no run {run} on this ledger")))
}

fn json_or_csv<T: Serialize>(
    req: &HttpRequest,
    value: &T,
    csv: impl FnOnce() -> String,
) -> HttpResponse {
    if accepts(req, "text/csv") {
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, TEXT_CSV))
            .body(csv())
    } else {
        HttpResponse::Ok().json(value)
    }
}

async fn run_stats(
    req: HttpRequest,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, LedgerError> {
    let figures = run_figures(&engine, &run_param(&req)?)?;
    Ok(json_or_csv(&req, &figures, || csv::run(&figures)))
}

async fn maker_stats(
    req: HttpRequest,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, LedgerError> {
    let text = req.match_info().get("key").unwrap_or("");
    let key = PublicKey::from_base64url(text).map_err(|_| {
        LedgerError::bad_request(format!(
            "{text:?} is not a public key (43 characters of base64url)"
        ))
    })?;
    refreshed(&engine)?;
    let figures = engine.read(|s| s.maker(&key)).ok_or_else(|| {
        LedgerError::coded(
            codes::LEDGER_UNKNOWN_MAKER,
            format!("no run on this ledger is by the maker key {key}"),
        )
    })?;
    Ok(json_or_csv(&req, &figures, || csv::maker(&figures)))
}

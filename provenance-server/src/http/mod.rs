//! The HTTP layer (actix-web): media types, body limits, RFC 9457 problem+json, routes.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use provenance_core::codes;
use provenance_core::limits::{MAX_RECORD_BYTES, MAX_TRUST_LIST_BYTES};
use provenance_core::{ItemId, RunId};

use crate::admission::Limits;

mod body;

use crate::api::{HeadRef, ProblemBody, PROBLEM_TYPE_PREFIX};
use crate::ledger::{Accepted, Ledger, LedgerError};
use crate::qr;
use body::read_body;
pub use body::{admission_refusal, hold_payload, HeldPayload, HoldingBody};

/// Media type of records and trust lists.
pub const COSE: &str = "application/cose";
/// Media type of raw history containers.
pub const CBOR: &str = "application/cbor";
/// Media type of errors.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Renders a refusal as RFC 9457 problem+json ([`ProblemBody`]). A client refused for its
/// pace or its number of connections (408, 429, 503) loses the connection too.
pub fn problem_response(p: &LedgerError) -> HttpResponse {
    let body = ProblemBody {
        type_uri: format!("{PROBLEM_TYPE_PREFIX}{}", p.code),
        title: p.title().to_string(),
        status: p.status,
        detail: p.detail.clone(),
        code: p.code.to_string(),
        head: p.head.map(|head| HeadRef {
            seq: head.seq,
            hash: head.hash.to_hex(),
        }),
    };
    let mut response = HttpResponse::build(p.status_code())
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .body(serde_json::to_string(&body).unwrap_or_default());
    if matches!(p.status, 408 | 429 | 503) {
        response
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    if let Some(secs) = retry_after(p.code) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The `Retry-After` (seconds) of a refusal that says when to come back: the budgets of the
/// dashboards' event streams and of heavy pages, and the connection bounds.
pub fn retry_after(code: &str) -> Option<u32> {
    match code {
        codes::LEDGER_TOO_MANY_STREAMS | codes::LEDGER_STREAMS_FULL => Some(30),
        codes::LEDGER_PAGES_BUSY => Some(2),
        codes::LEDGER_TOO_MANY_CONNECTIONS | codes::LEDGER_OVERLOADED => Some(1),
        _ => None,
    }
}

/// Handlers return `Result<_, LedgerError>`; actix renders the error with [`problem_response`].
impl ResponseError for LedgerError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        problem_response(self)
    }
}

/// Counts a refused write (`provenance_rejections_total{code}`) and passes the refusal on.
fn rejected(ledger: &Ledger, p: LedgerError) -> LedgerError {
    ledger.metrics().observe_rejection(p.code);
    p
}

fn accepted(a: Accepted) -> HttpResponse {
    let status = if a.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    HttpResponse::build(status).json(a.body)
}

fn item_param(req: &HttpRequest) -> Result<ItemId, LedgerError> {
    let text = req.match_info().get("item").unwrap_or("");
    ItemId::from_base32(text).ok_or_else(|| {
        LedgerError::bad_request(format!(
            "{text:?} is not an item id (26 characters of base32)"
        ))
    })
}

fn run_param(req: &HttpRequest) -> Result<RunId, LedgerError> {
    let text = req.match_info().get("run").unwrap_or("");
    RunId::from_base32(text).ok_or_else(|| {
        LedgerError::bad_request(format!(
            "{text:?} is not a run id (26 characters of base32)"
        ))
    })
}

/// Whether the request's Accept header names `media` (essence, case-insensitive).
pub(crate) fn accepts(req: &HttpRequest, media: &str) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            part.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(media)
        })
}

async fn post_run(
    req: HttpRequest,
    payload: web::Payload,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let result = async {
        let body = read_body(&req, payload, MAX_RECORD_BYTES, COSE).await?;
        ledger.register_run(&body).await
    }
    .await;
    result.map(accepted).map_err(|p| rejected(&ledger, p))
}

async fn post_item(
    req: HttpRequest,
    payload: web::Payload,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let result = async {
        let body = read_body(&req, payload, MAX_RECORD_BYTES, COSE).await?;
        ledger.mint(&body).await
    }
    .await;
    result.map(accepted).map_err(|p| rejected(&ledger, p))
}

async fn post_record(
    req: HttpRequest,
    payload: web::Payload,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let result = async {
        let item = item_param(&req)?;
        let body = read_body(&req, payload, MAX_RECORD_BYTES, COSE).await?;
        ledger.append(&item, &body).await
    }
    .await;
    result.map(accepted).map_err(|p| rejected(&ledger, p))
}

async fn get_item(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let result = (|| {
        let item = item_param(&req)?;
        if wants_a_page(&req) {
            return Ok(see_sheet(&format!("../../items/{item}")));
        }
        let state = ledger.item_state(&item)?;
        if accepts(&req, CBOR) {
            Ok(HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, CBOR))
                .body(state.history().to_cbor()))
        } else {
            Ok(HttpResponse::Ok().json(state.to_view()))
        }
    })();
    result
}

async fn get_payload(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let result = (|| {
        let item = item_param(&req)?;
        let payload = ledger.living_payload(&item)?;
        Ok::<_, LedgerError>(
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                .insert_header(("Provenance-Payload", payload.form))
                .body(payload.text),
        )
    })();
    result
}

async fn get_qr(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
    png: bool,
) -> Result<HttpResponse, LedgerError> {
    let result = (|| {
        let item = item_param(&req)?;
        let payload = ledger.living_payload(&item)?;
        let code = qr::encode_payload(ledger.public_url(), &payload.text).map_err(|e| {
            LedgerError::new(
                500,
                codes::LEDGER_INTERNAL,
                format!("cannot render the QR code: {e}"),
            )
        })?;
        let (media, body) = if png {
            let bytes = qr::png(&code, 8).map_err(|e| {
                LedgerError::new(
                    500,
                    codes::LEDGER_INTERNAL,
                    format!("cannot render the PNG: {e}"),
                )
            })?;
            ("image/png", bytes)
        } else {
            ("image/svg+xml", qr::svg(&code).into_bytes())
        };
        Ok::<_, LedgerError>(
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, media))
                .insert_header(("Provenance-Payload", payload.form))
                .body(body),
        )
    })();
    result
}

async fn get_head(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let result = item_param(&req).and_then(|item| ledger.head(&item));
    let head = result?;
    Ok(if accepts(&req, "application/json") {
        HttpResponse::Ok().json(head.to_view())
    } else {
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, COSE))
            .body(head.bytes)
    })
}

async fn get_export(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let result = item_param(&req).and_then(|item| ledger.export(&item));
    let history = result?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CBOR))
        .body(history.to_cbor()))
}

/// The value of a query parameter (the first occurrence; no percent-decoding: every
/// parameter of this API is a decimal number).
fn query<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.query_string()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn get_checkpoint(ledger: web::Data<Ledger>) -> Result<HttpResponse, LedgerError> {
    let cp = ledger.checkpoint()?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body(cp.note.clone()))
}

async fn get_inclusion(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let [index, size] = query_numbers(&req, ["index", "size"])?;
    Ok(HttpResponse::Ok().json(ledger.inclusion(index, size)?))
}

async fn get_consistency(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let [first, second] = query_numbers(&req, ["first", "second"])?;
    Ok(HttpResponse::Ok().json(ledger.consistency(first, second)?))
}

async fn get_entries(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let [start, end] = query_numbers(&req, ["start", "end"])?;
    Ok(HttpResponse::Ok().json(ledger.entries(start, end)?))
}

async fn get_qr_svg(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    get_qr(req, ledger, false).await
}

async fn get_qr_png(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    get_qr(req, ledger, true).await
}

async fn get_run(req: HttpRequest, ledger: web::Data<Ledger>) -> Result<HttpResponse, LedgerError> {
    let run = run_param(&req)?;
    if wants_a_page(&req) {
        return Ok(see_sheet(&format!("../../runs/{run}")));
    }
    Ok(HttpResponse::Ok().json(ledger.run_view(&run)?))
}

/// A browser (Accept names `text/html` and not JSON) asking for an item or a run: it gets the
/// provenance sheet, not the JSON.
fn wants_a_page(req: &HttpRequest) -> bool {
    accepts(req, "text/html") && !accepts(req, "application/json") && !accepts(req, CBOR)
}

/// `303 See Other` to a provenance sheet; the location is relative so it also works behind a
/// proxy's path prefix.
fn see_sheet(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

async fn get_trust(
    req: HttpRequest,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    if !accepts(&req, COSE) {
        return Ok(HttpResponse::Ok().json(ledger.trust_view()));
    }
    let bytes = ledger.trust_bytes().ok_or_else(|| {
        LedgerError::not_found("no trust list has been posted to this ledger yet")
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, COSE))
        .body(bytes.as_ref().clone()))
}

async fn post_trust(
    req: HttpRequest,
    payload: web::Payload,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, LedgerError> {
    let result = async {
        let body = read_body(&req, payload, MAX_TRUST_LIST_BYTES, COSE).await?;
        ledger.put_trust(&body).await
    }
    .await;
    result.map(accepted).map_err(|p| rejected(&ledger, p))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn metrics(ledger: web::Data<Ledger>) -> HttpResponse {
    let stats = ledger.store().stats().ok();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(ledger.metrics().render(stats))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, LedgerError> {
    Err(LedgerError::coded(
        codes::LEDGER_UNKNOWN_ENDPOINT,
        format!("no endpoint {} {}", req.method(), req.path()),
    ))
}

/// 405 with the `Allow` header RFC 9110 §15.5.6 requires.
pub(crate) fn method_not_allowed(
    allow: &'static str,
) -> impl Fn(HttpRequest) -> std::future::Ready<HttpResponse> + Clone {
    move |req: HttpRequest| {
        let p = LedgerError::coded(
            codes::LEDGER_METHOD_NOT_ALLOWED,
            format!(
                "{} is not allowed on {}; allowed: {allow}",
                req.method(),
                req.path()
            ),
        );
        let mut response = problem_response(&p);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        std::future::ready(response)
    }
}

/// Registers every route on an actix app, with the default [`Limits`].
pub fn configure(ledger: Arc<Ledger>) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_with(ledger, Limits::default())
}

/// Registers every route on an actix app; request bodies get `limits.body_timeout`.
pub fn configure_with(ledger: Arc<Ledger>, limits: Limits) -> impl FnOnce(&mut web::ServiceConfig) {
    // Drop operations (issue 13): stats, provenance sheets, dashboard.
    let drops = crate::drops::configure(&ledger, &limits);
    move |cfg: &mut web::ServiceConfig| {
        let get = |path: &str| {
            web::resource(path).default_service(web::to(method_not_allowed("GET, HEAD")))
        };
        let post =
            |path: &str| web::resource(path).default_service(web::to(method_not_allowed("POST")));
        let resource = |path: &str| match path {
            "/v1/runs" | "/v1/items" | "/v1/items/{item}/records" => post(path),
            "/v1/trust" => {
                web::resource(path).default_service(web::to(method_not_allowed("GET, HEAD, POST")))
            }
            _ => get(path),
        };
        cfg.app_data(web::Data::new(limits))
            .app_data(web::Data::from(ledger))
            .service(resource("/v1/runs").route(web::post().to(post_run)))
            .service(resource("/v1/runs/{run}").route(web::get().to(get_run)))
            .service(resource("/v1/items").route(web::post().to(post_item)))
            .service(resource("/v1/items/{item}").route(web::get().to(get_item)))
            .service(resource("/v1/items/{item}/records").route(web::post().to(post_record)))
            .service(resource("/v1/items/{item}/payload").route(web::get().to(get_payload)))
            .service(resource("/v1/items/{item}/head").route(web::get().to(get_head)))
            .service(resource("/v1/items/{item}/export").route(web::get().to(get_export)))
            .service(resource("/v1/log/checkpoint").route(web::get().to(get_checkpoint)))
            .service(resource("/v1/log/inclusion").route(web::get().to(get_inclusion)))
            .service(resource("/v1/log/consistency").route(web::get().to(get_consistency)))
            .service(resource("/v1/log/entries").route(web::get().to(get_entries)))
            .service(resource("/v1/items/{item}/qr.svg").route(web::get().to(get_qr_svg)))
            .service(resource("/v1/items/{item}/qr.png").route(web::get().to(get_qr_png)))
            .service(
                resource("/v1/trust")
                    .route(web::get().to(get_trust))
                    .route(web::post().to(post_trust)),
            )
            .service(resource("/").route(web::get().to(crate::home::home)))
            .service(resource("/healthz").route(web::get().to(healthz)))
            .service(resource("/metrics").route(web::get().to(metrics)))
            .configure(crate::web_verifier::configure)
            .configure(crate::assets::configure)
            // Drop operations (issue 13): one block, see `crate::drops`.
            .configure(drops)
            .default_service(web::to(not_found));
    }
}
/// The decimal query parameters `names`, in that order.
fn query_numbers<const N: usize>(
    req: &HttpRequest,
    names: [&str; N],
) -> Result<[u64; N], LedgerError> {
    let mut numbers = [0; N];
    for (number, name) in numbers.iter_mut().zip(names) {
        *number = query_u64(query(req, name), name)?;
    }
    Ok(numbers)
}

/// Parses a decimal query parameter.
pub fn query_u64(value: Option<&str>, name: &str) -> Result<u64, LedgerError> {
    let text =
        value.ok_or_else(|| LedgerError::bad_request(format!("missing query parameter {name}")))?;
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LedgerError::bad_request(format!(
            "query parameter {name} must be a decimal number, not {text:?}"
        )));
    }
    text.parse()
        .map_err(|_| LedgerError::bad_request(format!("query parameter {name} is out of range")))
}

//! The headers every answer of `provenance serve` carries, set in one place (the outermost
//! middleware) so no route can forget them (spec §14):
//!
//! - one strict `Content-Security-Policy` ([`POLICY`]): scripts, styles, images and
//!   connections from the ledger's own origin only, WebAssembly allowed (the web verifier),
//!   nothing inline, no plugin, and no framing (`frame-ancestors 'none'`);
//! - `X-Content-Type-Options: nosniff`, so a browser never reads an answer as another type;
//! - `X-Frame-Options: DENY` for browsers older than `frame-ancestors`;
//! - `Referrer-Policy: no-referrer`, so a page's address (an item or run id) does not leak to
//!   a link it opens.

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt as _;

/// The one policy of every answer: the server's HTML pages, the web verifier at `/v`, and
/// anything a browser might render (an SVG QR opened on its own).
pub const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Sets the headers on `response`, replacing any a route set.
pub fn stamp<B>(response: &mut ServiceResponse<B>) {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(HeaderName::clone(&name), HeaderValue::from_static(value));
    }
}

/// The middleware (for `App::wrap_fn`): calls the route, then [`stamp`]s its answer.
pub fn middleware<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> LocalBoxFuture<'static, Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: 'static,
{
    srv.call(req)
        .map(|answer| {
            answer.map(|mut response| {
                stamp(&mut response);
                response
            })
        })
        .boxed_local()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, web, App, HttpResponse};

    #[actix_web::test]
    async fn every_answer_gets_the_one_policy_replacing_a_routes_own() {
        let app = test::init_service(
            App::new()
                .wrap_fn(middleware)
                .route(
                    "/page",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .insert_header((
                                header::CONTENT_SECURITY_POLICY,
                                "script-src 'unsafe-inline'",
                            ))
                            .content_type("text/html")
                            .body("<p>hi</p>")
                    }),
                )
                .route(
                    "/json",
                    web::get().to(|| async { HttpResponse::NotFound().json(1) }),
                ),
        )
        .await;
        for path in ["/page", "/json"] {
            let res =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            let all: Vec<_> = res
                .headers()
                .get_all(header::CONTENT_SECURITY_POLICY)
                .collect();
            assert_eq!(all, [POLICY], "{path}: exactly one policy, the strict one");
            assert_eq!(
                res.headers().get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
                "nosniff"
            );
            assert_eq!(res.headers().get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        }
        assert!(!POLICY.contains("unsafe-inline"));
        assert!(POLICY.contains("frame-ancestors 'none'"));
    }
}

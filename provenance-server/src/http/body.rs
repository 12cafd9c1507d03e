//! Request bodies and admission: the refusal of connections over the admission bounds, the
//! Content-Type check and the bounded, deadline-bound body read, and the body stream held until
//! the answer is written (so a refused client cannot keep its connection by trickling).

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{self, ServiceRequest};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use provenance_core::codes;

use super::problem_response;
use crate::admission::Limits;
use crate::ledger::{Ledger, LedgerError};

/// The answer to a request on a connection the admission bounds refuse, if any
/// ([`crate::admission`]): 429 over the per-address bound, 503 over the overall bound.
/// `GET /healthz` is never refused: a probe that shares its address with a flood (a NAT, a
/// proxy, the same host) must still see the ledger alive; it costs no I/O.
pub fn admission_refusal(req: &HttpRequest) -> Option<HttpResponse> {
    use crate::admission::{Slot, Verdict};
    let slot = req.conn_data::<Slot>()?;
    if req.path() == "/healthz" {
        return None;
    }
    let p = match slot.verdict {
        Verdict::Admitted => return None,
        Verdict::PeerFull => LedgerError::coded(
            codes::LEDGER_TOO_MANY_CONNECTIONS,
            "this address holds too many open connections to the ledger; close some and retry",
        ),
        Verdict::Overloaded => LedgerError::coded(
            codes::LEDGER_OVERLOADED,
            "the ledger is at its connection limit; retry later",
        ),
    };
    if let Some(ledger) = req.app_data::<web::Data<Ledger>>() {
        ledger.metrics().observe_rejection(p.code);
    }
    Some(problem_response(&p))
}

/// A request body's stream, held outside the handler until the answer is sent.
///
/// actix-web drains a chunked body that its handler dropped unread (to keep the connection
/// alive), with no deadline: a client trickling a chunked body after its 408 (or its 429)
/// would hold the connection for ever. While the body stream is alive, actix-web instead
/// closes the connection after the answer (after at most its 1 s disconnect linger), as it
/// already does for an unread `Content-Length` body. So [`hold_payload`] hands the handler a
/// proxy and keeps the real stream here, and [`HoldingBody`] keeps this alive until the last
/// byte of the answer is written. A body read to its end changes nothing: keep-alive stays.
pub struct HeldPayload {
    _stream: Rc<RefCell<dev::Payload>>,
}

/// Puts a proxy in place of the request's body stream and returns the real one (`None` for a
/// request without a body). See [`HeldPayload`].
pub fn hold_payload(req: &mut ServiceRequest) -> Option<HeldPayload> {
    let payload = actix_web::HttpMessage::take_payload(req);
    if matches!(payload, dev::Payload::None) {
        return None;
    }
    let shared = Rc::new(RefCell::new(payload));
    let proxy = shared.clone();
    let stream = futures_util::stream::poll_fn(move |cx| proxy.borrow_mut().poll_next_unpin(cx));
    req.set_payload(dev::Payload::Stream {
        payload: Box::pin(stream),
    });
    Some(HeldPayload { _stream: shared })
}

/// An answer's body that keeps the request's body stream alive until it is written
/// ([`HeldPayload`]).
pub struct HoldingBody {
    body: BoxBody,
    _held: Option<HeldPayload>,
}

impl HoldingBody {
    /// `body`, holding `held` until its end.
    pub fn new(body: impl MessageBody + 'static, held: Option<HeldPayload>) -> Self {
        HoldingBody {
            body: body.boxed(),
            _held: held,
        }
    }
}

impl MessageBody for HoldingBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// The media type essence (lower case, without parameters) of a header value.
fn essence(value: Option<&HeaderValue>) -> Option<String> {
    let text = value?.to_str().ok()?;
    Some(
        text.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Checks the Content-Type, then reads the body up to `limit` bytes.
pub(super) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    media: &str,
) -> Result<Vec<u8>, LedgerError> {
    match essence(req.headers().get(header::CONTENT_TYPE)) {
        Some(m) if m == media => {}
        other => {
            return Err(LedgerError::new(
                415,
                codes::LEDGER_UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "this endpoint takes Content-Type: {media}, not {}",
                    other.unwrap_or_else(|| "(none)".into())
                ),
            ))
        }
    }
    let too_large = |n: String| {
        LedgerError::new(
            413,
            codes::LEDGER_BODY_TOO_LARGE,
            format!("the body is {n} bytes, over this endpoint's {limit}-byte limit"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large(len.to_string()));
        }
    }
    let deadline = req
        .app_data::<web::Data<Limits>>()
        .map_or(Limits::default().body_timeout, |l| l.body_timeout);
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|e| LedgerError::bad_request(format!("could not read the body: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large(format!("more than {limit}")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = actix_web::rt::time::timeout(deadline, read)
        .await
        .map_err(|_| {
            LedgerError::coded(
                codes::LEDGER_REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s; the connection is closed",
                    deadline.as_secs()
                ),
            )
        })??;
    if body.is_empty() {
        return Err(LedgerError::new(
            400,
            codes::DECODE_MALFORMED,
            "the body is empty",
        ));
    }
    Ok(body)
}

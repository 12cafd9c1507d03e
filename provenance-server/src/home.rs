//! The ledger's home page, `GET /`: what a person opening the ledger in a browser can do here
//! (verify a piece at `/v`, the drop dashboard, the printable provenance sheets), in the drop
//! pages' shell ([`crate::drops::html::page`]: escaped text, print CSS, no script, no CDN).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::drops::html::{escape, page};
use crate::drops::TEXT_HTML;
use crate::ledger::Ledger;

/// The home page's HTML for a ledger published at `public_url` (if known).
pub fn home_html(public_url: Option<&str>) -> String {
    let published = match public_url {
        Some(url) => format!(
            "<p class=\"muted\">Published at <code>{}</code>: label QR codes open \
<code>{}/v#PV1:…</code>.</p>",
            escape(url),
            escape(url)
        ),
        None => {
            "<p class=\"muted\">This ledger has no public URL (<code>serve --public-url</code>), \
so label QR codes hold bare <code>PV1:…</code> payloads.</p>"
                .to_string()
        }
    };
    let body = format!(
        "<h1>Provenance ledger</h1>\
<p>This ledger keeps the signed history of numbered pieces: who made each one, who owns it, \
its repairs, badges and reports, in a public append-only log.</p>{published}\
<div class=\"card\"><h2><a href=\"/v\">Verify a piece</a></h2>\
<p>The web verifier: scan a label's QR code with the phone's camera, or paste a \
<code>PV1:</code> payload, and read whether the piece is genuine and who owns it today. \
It checks the signatures on the phone.</p></div>\
<div class=\"card\"><h2><a href=\"/dashboard\">Dashboard</a></h2>\
<p>The makers' drops: pieces sold, stock left, sell-through, repairs, live.</p></div>\
<div class=\"card\"><h2>Provenance sheets</h2>\
<p>Printable A4 pages, linked from the dashboard:</p><ul>\
<li><code>/runs/{{run}}</code>: a run (a numbered edition) and every piece minted in it, \
with each piece's status, owners, repairs and badges, and its label's QR code.</li>\
<li><code>/items/{{item}}</code>: one piece's story, as a collector's verifier tells it, \
with the QR code of its living payload.</li></ul>\
<p class=\"muted\"><code>{{run}}</code> and <code>{{item}}</code> are the 26-character ids \
<code>provenance run create</code> and <code>provenance mint</code> print.</p></div>\
<div class=\"card\"><h2>For programs</h2><p>The JSON API is under <code>/v1/</code> \
(the trust list at <a href=\"/v1/trust\"><code>/v1/trust</code></a>, the log's \
checkpoint at <a href=\"/v1/log/checkpoint\"><code>/v1/log/checkpoint</code></a>); \
health at <code>/healthz</code>, metrics at <code>/metrics</code>.</p></div>"
    );
    page("Provenance ledger", &body)
}

/// `GET /`: the home page.
pub async fn home(ledger: web::Data<Ledger>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, TEXT_HTML))
        .body(home_html(ledger.public_url()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_page_links_the_verifier_and_the_dashboard_without_script() {
        let html = home_html(Some("https://ledger.example/<x>"));
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("href=\"/v\""));
        assert!(html.contains("href=\"/dashboard\""));
        assert!(html.contains("/runs/{run}") && html.contains("/items/{item}"));
        assert!(html.contains("https://ledger.example/&lt;x&gt;"), "escaped");
        assert!(!html.contains("<script") && !html.contains("http://cdn"));
        assert!(home_html(None).contains("bare <code>PV1:…</code>"));
    }
}

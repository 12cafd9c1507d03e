//! The server-rendered pages' static files: their stylesheet (`page.css`) and the dashboard's
//! script (`dashboard.js`), served at `/assets/<name>.<digest>.<ext>`. The digest is the
//! content's, so an answer is immutable (cached for a year) and a new build never meets an old
//! file in a cache. The pages' policy ([`crate::security_headers`]) allows no inline script or
//! style: these files are how the pages get theirs.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// One static file of the pages, named by its content's digest.
#[derive(Debug)]
pub struct Asset {
    file_name: String,
    media_type: &'static str,
    body: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, media_type: &'static str, body: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let short = hex::encode(&digest[..8]);
        Asset {
            file_name: format!("{stem}.{short}.{extension}"),
            media_type,
            body,
        }
    }

    /// The file's name under `/assets/`, e.g. `page.0123456789abcdef.css`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The path a page links: `/assets/` and the file's name.
    pub fn path(&self) -> String {
        format!("/assets/{}", self.file_name)
    }

    /// The file's content.
    pub fn body(&self) -> &'static str {
        self.body
    }
}

/// The pages' stylesheet: readable on a phone, A4 on paper.
pub static PAGE_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "page",
        "css",
        "text/css; charset=utf-8",
        include_str!("page.css"),
    )
});

/// The dashboard's live part: follows the page's event stream.
pub static DASHBOARD_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "dashboard",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard.js"),
    )
});

/// Every asset, for the route to look a name up in.
fn all() -> [&'static Asset; 2] {
    [&PAGE_CSS, &DASHBOARD_JS]
}

/// `GET /assets/{file}`: the asset of that name, immutable; any other name is the ledger's
/// 404 problem.
async fn serve_asset(req: HttpRequest) -> HttpResponse {
    let name = req.match_info().get("file").unwrap_or("");
    match all().into_iter().find(|a| a.file_name() == name) {
        Some(asset) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, asset.media_type))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(asset.body),
        None => crate::http::problem_response(&crate::ledger::LedgerError::coded(
            provenance_core::codes::LEDGER_UNKNOWN_ENDPOINT,
            format!("no asset {name}"),
        )),
    }
}

/// Registers `/assets/{file}` (GET and HEAD; other methods get 405).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/assets/{file}")
            .route(web::get().to(serve_asset))
            .default_service(web::to(crate::http::method_not_allowed("GET, HEAD"))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_carry_their_content_digest() {
        let css = &*PAGE_CSS;
        assert!(css.file_name().starts_with("page.") && css.file_name().ends_with(".css"));
        assert_eq!(css.file_name().len(), "page..css".len() + 16);
        assert_eq!(css.path(), format!("/assets/{}", css.file_name()));
        assert_ne!(
            Asset::new("page", "css", "text/css", "a{}").file_name(),
            Asset::new("page", "css", "text/css", "b{}").file_name(),
            "a changed file gets a new name"
        );
        assert!(DASHBOARD_JS.body().contains("EventSource"));
    }
}

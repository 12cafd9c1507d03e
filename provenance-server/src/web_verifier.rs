//! The phone web verifier, embedded: every file `provenance-verify/web/bundle.json` lists,
//! served at its address with its media type and headers (the page at `/v`, the rest under
//! `/v/`), `/v/` redirected to `/v`.
//!
//! The bundle is built by `scripts/build-wasm.sh` and committed, so `cargo build` needs no
//! wasm toolchain. Label URLs are `<public url>/v#PV1:...`: the payload stays in the
//! fragment, which browsers never send, so the server only ever serves the same static files.
//!
//! **Invariant:** what is served is byte for byte what `bundle.json` names (its SHA-256 is the
//! weak `ETag`; weak because the encoding on the wire varies); a test fails when the embedded files and the manifest disagree.

use provenance_core::codes;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::ledger::Ledger;

/// The manifest written by `provenance-verify/web/tools/stamp.mjs`.
const MANIFEST: &str = include_str!("../../provenance-verify/web/bundle.json");

/// Where the page lives; label URLs point here.
pub const PAGE: &str = "/v";

/// The embedded files, by their path in `provenance-verify/web/` (the manifest's `path`).
const EMBEDDED: &[(&str, &[u8])] = &[
    (
        "index.html",
        include_bytes!("../../provenance-verify/web/index.html"),
    ),
    (
        "app.js",
        include_bytes!("../../provenance-verify/web/app.js"),
    ),
    (
        "style.css",
        include_bytes!("../../provenance-verify/web/style.css"),
    ),
    (
        "icon.svg",
        include_bytes!("../../provenance-verify/web/icon.svg"),
    ),
    (
        "manifest.webmanifest",
        include_bytes!("../../provenance-verify/web/manifest.webmanifest"),
    ),
    (
        "pkg/provenance_verify.js",
        include_bytes!("../../provenance-verify/web/pkg/provenance_verify.js"),
    ),
    (
        "pkg/provenance_verify_bg.wasm",
        include_bytes!("../../provenance-verify/web/pkg/provenance_verify_bg.wasm"),
    ),
    (
        "pkg/provenance_scan.js",
        include_bytes!("../../provenance-verify/web/pkg/provenance_scan.js"),
    ),
    (
        "pkg/provenance_scan_bg.wasm",
        include_bytes!("../../provenance-verify/web/pkg/provenance_scan_bg.wasm"),
    ),
    ("sw.js", include_bytes!("../../provenance-verify/web/sw.js")),
];

#[derive(Debug, Deserialize)]
struct Manifest {
    version: String,
    files: Vec<ManifestEntry>,
}

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    url: String,
    path: String,
    #[serde(rename = "type")]
    media_type: String,
    sha256: String,
    headers: std::collections::BTreeMap<String, String>,
}

/// Why the embedded bundle cannot be served (a build defect, caught by this module's tests).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// `bundle.json` does not parse.
    #[error("bundle.json does not parse: {0}")]
    Manifest(String),
    /// The manifest names a file that is not embedded.
    #[error("bundle.json names {0}, which is not embedded")]
    NotEmbedded(String),
    /// A file is embedded but not in the manifest.
    #[error("{0} is embedded but not in bundle.json")]
    NotListed(String),
    /// A header name or value the manifest gives is not valid HTTP.
    #[error("bundle.json gives {file} an invalid header {name}")]
    BadHeader {
        /// The file's path.
        file: String,
        /// The header's name.
        name: String,
    },
}

/// One file ready to serve.
#[derive(Debug)]
pub struct WebFile {
    /// Its address on the ledger (`/v`, `/v/app.js`, ...).
    pub url: String,
    /// Its media type.
    pub media_type: String,
    /// Its entity tag: the manifest's SHA-256, weak because the bytes on the wire may be
    /// compressed (`Content-Encoding` negotiated per request).
    pub etag: String,
    /// The headers the manifest gives it (`Cache-Control`, `Service-Worker-Allowed`, ...).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Its bytes.
    pub body: &'static [u8],
}

/// The whole page: its version (a hash of every file) and its files.
#[derive(Debug)]
pub struct Bundle {
    /// `bundle.json`'s version, also stamped into the service worker.
    pub version: String,
    /// Every file, in the manifest's order.
    pub files: Vec<WebFile>,
}

impl Bundle {
    /// Pairs the manifest with the embedded bytes; every listed file must be embedded and
    /// every embedded file listed.
    pub fn load() -> Result<Bundle, BundleError> {
        let manifest: Manifest =
            serde_json::from_str(MANIFEST).map_err(|e| BundleError::Manifest(e.to_string()))?;
        if let Some((path, _)) = EMBEDDED
            .iter()
            .find(|(path, _)| !manifest.files.iter().any(|f| f.path == *path))
        {
            return Err(BundleError::NotListed((*path).to_string()));
        }
        let files = manifest
            .files
            .into_iter()
            .map(|entry| {
                let body = EMBEDDED
                    .iter()
                    .find(|(path, _)| *path == entry.path)
                    .map(|(_, bytes)| *bytes)
                    .ok_or_else(|| BundleError::NotEmbedded(entry.path.clone()))?;
                let headers = entry
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        let bad = || BundleError::BadHeader {
                            file: entry.path.clone(),
                            name: name.clone(),
                        };
                        Ok((
                            HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?,
                            HeaderValue::from_str(value).map_err(|_| bad())?,
                        ))
                    })
                    .collect::<Result<Vec<_>, BundleError>>()?;
                Ok(WebFile {
                    url: entry.url,
                    media_type: entry.media_type,
                    etag: format!("W/\"{}\"", entry.sha256),
                    headers,
                    body,
                })
            })
            .collect::<Result<Vec<_>, BundleError>>()?;
        Ok(Bundle {
            version: manifest.version,
            files,
        })
    }

    /// The embedded bundle, loaded once. `None` only if the build embedded an inconsistent
    /// bundle, which this module's tests rule out; the server then serves no page (and logs why)
    /// rather than a wrong one.
    pub fn embedded() -> Option<&'static Bundle> {
        static BUNDLE: OnceLock<Option<Bundle>> = OnceLock::new();
        BUNDLE
            .get_or_init(|| match Bundle::load() {
                Ok(bundle) => Some(bundle),
                Err(e) => {
                    tracing::error!("the web verifier is not served: {e}");
                    None
                }
            })
            .as_ref()
    }

    /// The file served at `url`, if any.
    pub fn file(&self, url: &str) -> Option<&WebFile> {
        self.files.iter().find(|f| f.url == url)
    }
}

/// The path under which a reverse proxy publishes the ledger: `/abc` for
/// `https://ledger.example/abc`, empty for `https://ledger.example` or no public URL.
pub fn public_path_prefix(public_url: Option<&str>) -> &str {
    public_url
        .and_then(|url| url.split_once("://"))
        .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
        .map_or("", |path| path.trim_end_matches('/'))
}

/// The answer to `GET`/`HEAD` of one file: 200 with its bytes, or 304 when the client's
/// `If-None-Match` already names its tag. `prefix` is [`public_path_prefix`]: the service
/// worker's allowed scope is the page's address as the browser sees it.
fn respond(req: &HttpRequest, file: &WebFile, prefix: &str) -> HttpResponse {
    let fresh = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || opaque(tag) == opaque(&file.etag)
        });
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CONTENT_TYPE, file.media_type.as_str()))
        .insert_header((header::ETAG, file.etag.as_str()));
    for (name, value) in &file.headers {
        let scoped = (name == SERVICE_WORKER_ALLOWED && !prefix.is_empty())
            .then(|| HeaderValue::from_str(&format!("{prefix}{}", value.to_str().unwrap_or(PAGE))))
            .and_then(Result::ok);
        response.insert_header((name.clone(), scoped.unwrap_or_else(|| value.clone())));
    }
    if fresh {
        response.finish()
    } else {
        response.body(file.body)
    }
}

const SERVICE_WORKER_ALLOWED: &str = "service-worker-allowed";

/// An entity tag without its weakness prefix (RFC 9110 §8.8.3.2's weak comparison).
fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

async fn serve_file(req: HttpRequest, ledger: web::Data<Ledger>) -> HttpResponse {
    match Bundle::embedded().and_then(|b| b.file(req.path())) {
        Some(file) => respond(&req, file, public_path_prefix(ledger.public_url())),
        None => crate::http::problem_response(&crate::ledger::LedgerError::coded(
            codes::LEDGER_UNKNOWN_ENDPOINT,
            format!("the web verifier is not part of this build: {}", req.path()),
        )),
    }
}

/// `/v/` → `/v`, as a relative reference so it also holds behind a proxy's path prefix.
async fn redirect_to_page() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "../v"))
        .finish()
}

/// Registers the page's routes: every file of the bundle (`GET`, `HEAD`; anything else is
/// 405 with `Allow`), and `/v/` → `/v` (308, relative).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let urls: Vec<&str> = Bundle::embedded()
        .map(|b| b.files.iter().map(|f| f.url.as_str()).collect())
        .unwrap_or_default();
    for url in urls {
        cfg.service(
            web::resource(url)
                .wrap(Compress::default())
                .route(web::get().to(serve_file))
                .route(web::head().to(serve_file))
                .default_service(web::to(crate::http::method_not_allowed("GET, HEAD"))),
        );
    }
    cfg.service(
        web::resource("/v/")
            .route(web::get().to(redirect_to_page))
            .route(web::head().to(redirect_to_page))
            .default_service(web::to(crate::http::method_not_allowed("GET, HEAD"))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_public_path_prefix_is_the_public_urls_path() {
        assert_eq!(public_path_prefix(None), "");
        assert_eq!(public_path_prefix(Some("https://ledger.example")), "");
        assert_eq!(public_path_prefix(Some("https://ledger.example/")), "");
        assert_eq!(public_path_prefix(Some("https://l.example/abc")), "/abc");
        assert_eq!(
            public_path_prefix(Some("http://l.example:8080/a/b/")),
            "/a/b"
        );
    }

    #[test]
    fn every_listed_file_is_embedded_with_the_listed_digest() {
        let bundle = Bundle::load().expect("the embedded bundle is consistent");
        assert_eq!(bundle.files.len(), EMBEDDED.len());
        for file in &bundle.files {
            let digest = hex::encode(Sha256::digest(file.body));
            assert_eq!(
                file.etag,
                format!("W/\"{digest}\""),
                "{}: bundle.json's sha256 is not the embedded file's (run scripts/build-wasm.sh)",
                file.url
            );
            assert!(
                file.url == PAGE || file.url.starts_with("/v/"),
                "{}",
                file.url
            );
        }
        let page = bundle.file(PAGE).expect("the page");
        assert_eq!(page.media_type, "text/html; charset=utf-8");
        let sw = bundle.file("/v/sw.js").expect("the service worker");
        assert!(sw
            .headers
            .iter()
            .any(|(n, v)| n == "service-worker-allowed" && v == "/v"));
        assert!(
            String::from_utf8_lossy(sw.body).contains(&bundle.version),
            "sw.js carries the bundle's version"
        );
    }
}

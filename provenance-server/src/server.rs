//! `provenance serve`: opens the store, loads or creates the ledger key, and runs actix-web
//! until SIGINT/SIGTERM; then in-flight requests finish, the writer drains, and it exits.

use std::io::{IsTerminal, Write};
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::{App, HttpServer};
use provenance_core::{PublicKey, SigningKey};

use crate::client::CliError;
use crate::drops::access::StatsAccess;
use crate::keyfile::{generate_key, read_ledger_key, write_key};
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::postgres::{is_postgres_url, redacted, PgStore};
use crate::sqlite::{LogSigner, SqliteStore, WalLimits};
use crate::store::{LedgerStore, StoreError};

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// SQLite database path, or a `postgres://USER@HOST:PORT/DB` URL (several servers may share
    /// one PostgreSQL database).
    pub db: PathBuf,
    /// Listen address (`host:port`; port 0 picks one).
    pub listen: String,
    /// Ledger key path (created if missing).
    pub ledger_key: PathBuf,
    /// Operator key pinned for trust lists (default: the ledger key's public key).
    pub operator: Option<PublicKey>,
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
    /// The log's origin line in checkpoints (default: the bound listen address).
    pub origin: Option<String>,
    /// Where collectors reach this ledger (`https://ledger.example`): labels then encode
    /// `<public url>/v#PV1:...`, which opens the web verifier.
    pub public_url: Option<String>,
    /// Connection and request-time bounds (issue 9.1).
    pub limits: crate::admission::Limits,
    /// SQLite: the WAL checkpointer's timer and the WAL's size bound (issue 26).
    pub wal: WalLimits,
    /// Who may read the drop figures and dashboards (`--stats`, spec §15).
    pub stats: StatsAccess,
}

/// Raises the soft open-files limit to the hard limit and fits the connection bounds to it
/// ([`crate::admission::fit_to_files`]): returns the limits to use and actix-web's per-worker
/// accept cap. Warns when the files do not hold the configured overall bound.
fn fit_connections(
    limits: crate::admission::Limits,
    workers: usize,
) -> (crate::admission::Limits, usize) {
    let files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("cannot raise the open-files limit: {e}");
            match rlimit::getrlimit(rlimit::Resource::NOFILE) {
                Ok((soft, _)) => soft,
                Err(_) => return (limits, 25_600),
            }
        }
    };
    let (fitted, per_worker) = crate::admission::fit_to_files(limits, files, workers);
    if fitted.total < limits.total {
        tracing::warn!(
            "open-files limit {files} holds {} connections at most: the overall bound is \
             lowered from {} to {} (raise it with ulimit -n)",
            per_worker.saturating_mul(workers),
            limits.total,
            fitted.total
        );
    }
    tracing::info!(
        "connection bounds: {} per client address, {} in all (503 beyond, /healthz excepted), \
         accepting pauses at {} (open-files limit {files}); dashboard streams: {} per client \
         address, {} in all, {} s each",
        fitted.per_peer,
        fitted.total,
        per_worker.saturating_mul(workers),
        fitted.streams.per_peer.0,
        fitted.streams.total.0,
        fitted.streams.lifetime.get().as_secs()
    );
    (fitted, per_worker)
}

/// The database for display: a path, or a `postgres://` URL without its password.
fn db_name(db: &Path) -> String {
    let text = db.to_string_lossy();
    if is_postgres_url(&text) {
        redacted(&text)
    } else {
        db.display().to_string()
    }
}

/// Opens the store `--db` names: a `postgres://` (or `postgresql://`) URL is a PostgreSQL
/// database that several servers may share ([`PgStore`]); anything else is a SQLite file.
fn open_store(
    db: &Path,
    metrics: Arc<Metrics>,
    signer: LogSigner,
    wal: WalLimits,
) -> Result<Arc<dyn LedgerStore>, CliError> {
    let cannot = |e: StoreError| CliError::io(format!("cannot open database {}: {e}", db_name(db)));
    match db.to_str() {
        Some(url) if is_postgres_url(url) => Ok(Arc::new(
            PgStore::open(url, metrics, signer).map_err(cannot)?,
        )),
        _ => Ok(Arc::new(
            SqliteStore::open_with(db, metrics, signer, wal).map_err(cannot)?,
        )),
    }
}

/// Runs the ledger until a shutdown signal.
pub fn serve(opts: ServeOptions) -> Result<(), CliError> {
    init_tracing();
    // Bind first: a port in use fails before anything is created on disk, and the default
    // origin is the address actually listened on.
    let (listener, bound) = bind(&opts.listen)?;
    let origin = check_origin(opts.origin.clone().unwrap_or_else(|| bound.to_string()))?;
    if let Some(url) = &opts.public_url {
        check_public_url(url)?;
        if !secure_context(url) {
            eprintln!("{}", insecure_warning(url));
        }
    }
    let key = Arc::new(load_or_create_key(&opts.ledger_key)?);
    let operator = opts.operator.unwrap_or(key.public_key());
    announce_keys(&key.public_key(), &operator);
    let metrics = Arc::new(Metrics::default());
    let signer = LogSigner {
        key: key.clone(),
        origin: origin.clone(),
    };
    let store = open_store(&opts.db, metrics.clone(), signer, opts.wal)?;
    let ledger = Arc::new(
        Ledger::new(store.clone(), key, operator, metrics)
            .map_err(|e| CliError::msg(e.to_string()))?
            .with_public_url(opts.public_url.clone())
            .with_stats_access(opts.stats.clone()),
    );
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "log origin: {origin}");
        let who = if opts.stats.is_public() {
            "public (anyone may read them; --stats token keeps them for the operator)"
        } else {
            "private (only with the stats token); the log, items and /v stay public"
        };
        let _ = writeln!(out, "drop figures and dashboards: {who}");
    }
    let result = actix_web::rt::System::new().block_on(run_http(ledger, listener, &opts));
    tracing::info!("HTTP stopped; draining the writer");
    store.shutdown();
    tracing::info!("ledger stopped");
    result
}

/// Logs to stderr at `RUST_LOG` (default `info`), in colour only on a terminal.
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
}

/// Binds `--listen`; returns the listener and the address actually bound.
fn bind(listen: &str) -> Result<(std::net::TcpListener, std::net::SocketAddr), CliError> {
    let cannot = |e: std::io::Error| CliError::io(format!("cannot listen on {listen}: {e}"));
    let addrs: Vec<_> = listen
        .to_socket_addrs()
        .map_err(|e| CliError::io(format!("cannot resolve --listen {listen}: {e}")))?
        .collect();
    let listener = std::net::TcpListener::bind(&addrs[..]).map_err(cannot)?;
    let bound = listener.local_addr().map_err(cannot)?;
    Ok((listener, bound))
}

/// A log origin: non-empty, without spaces or `+` (it is a signed note's key name).
fn check_origin(origin: String) -> Result<String, CliError> {
    if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(CliError::msg(format!(
            "--origin {origin:?}: a log origin must be non-empty, without spaces or '+'"
        )));
    }
    Ok(origin)
}

/// `--public-url`: an http(s) base URL without query or fragment.
fn check_public_url(url: &str) -> Result<(), CliError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(['#', '?', ' '])
        && url.len() <= 200;
    if ok {
        Ok(())
    } else {
        Err(CliError::msg(format!(
            "--public-url {url:?}: give the ledger's base URL, e.g. https://ledger.example \
             (http or https, no query or fragment)"
        )))
    }
}

/// What `serve` prints after `listening on`: where people find the pages, under `base` (the
/// public URL, else the address bound).
fn addresses(base: &str) -> String {
    format!(
        "home page: {base}/\n\
         web verifier: {base}/v\n\
         dashboard: {base}/dashboard\n\
         provenance sheets: {base}/runs/RUN and {base}/items/ITEM\n"
    )
}

/// Whether a browser treats pages from `url` as a secure context, where the web verifier may
/// use the camera and work offline: `https`, or `http` on a loopback host (`localhost`,
/// `127.0.0.0/8`, `[::1]`).
pub fn secure_context(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return true;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The warning `serve` prints for a `--public-url` that is not a secure context.
fn insecure_warning(url: &str) -> String {
    format!(
        "warning: --public-url {url} is plain http on a host other than localhost: phone browsers \
         let the web verifier (/v) use the camera and work offline only over https or on \
         localhost, so scanning a label there shows no camera. Put the ledger behind https \
         (docs/DEPLOY.md) and give its https URL."
    )
}

/// The ledger key at `path`, created (mode 0600, and said so) on first start.
fn load_or_create_key(path: &Path) -> Result<SigningKey, CliError> {
    if path.exists() {
        return read_ledger_key(path);
    }
    let key = generate_key()?;
    write_key(path, &key)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "created ledger key {} (mode 0600)", path.display());
    Ok(key)
}

/// Prints the ledger and operator keys; warns when they are the same key.
fn announce_keys(ledger_public: &PublicKey, operator: &PublicKey) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "ledger public key: {ledger_public} (key id {})",
        ledger_public.key_id()
    );
    let _ = writeln!(out, "trust-list operator key: {operator}");
    drop(out);
    if operator == ledger_public {
        tracing::warn!(
            "the trust-list operator key is the ledger key: whoever takes this server can also \
             rewrite who is trusted. Fine for a one-person ledger; otherwise keep an operator \
             key offline and start with --operator <its public key> (provenance-server/README.md)"
        );
    }
}

/// Runs actix-web on `listener` until a shutdown signal: admission first (connection slots,
/// held bodies), then the routes.
async fn run_http(
    ledger: Arc<Ledger>,
    listener: std::net::TcpListener,
    opts: &ServeOptions,
) -> Result<(), CliError> {
    // actix-web takes 1 to 512 workers; its default is the available parallelism.
    let workers = opts
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .clamp(1, 512);
    let (limits, per_worker) = fit_connections(opts.limits, workers);
    let admission = crate::admission::Admission::new(limits);
    let server = HttpServer::new(move || {
        App::new()
            // Outermost: refuse over-bound connections before any route runs, and hold every
            // request body until its answer is written (`http::HeldPayload`).
            .wrap_fn(|mut req, srv| {
                use actix_web::dev::Service as _;
                use futures_util::future::{ready, Either, FutureExt as _};
                let held = crate::http::hold_payload(&mut req);
                let answer = match crate::http::admission_refusal(req.request()) {
                    Some(refusal) => {
                        Either::Left(ready(Ok(req.into_response(refusal).map_into_boxed_body())))
                    }
                    None => Either::Right(
                        srv.call(req)
                            .map(|r| r.map(actix_web::dev::ServiceResponse::map_into_boxed_body)),
                    ),
                };
                answer.map(move |r| {
                    r.map(|res| res.map_body(|_, body| crate::http::HoldingBody::new(body, held)))
                })
            })
            .configure(crate::http::configure_with(ledger.clone(), limits))
            // Outermost of all: every answer, refusals included, gets the security headers.
            .wrap_fn(crate::security_headers::middleware)
    })
    .on_connect(move |conn, ext| {
        let peer = conn
            .downcast_ref::<actix_web::rt::net::TcpStream>()
            .and_then(|s| s.peer_addr().ok())
            .map(|a| a.ip());
        ext.insert(admission.admit(peer));
    })
    .client_request_timeout(limits.head_timeout)
    .workers(workers)
    .max_connections(per_worker)
    .shutdown_timeout(30)
    .listen(listener)
    .map_err(|e| CliError::io(format!("cannot listen on {}: {e}", opts.listen)))?;
    {
        let mut out = std::io::stdout().lock();
        let addrs = server.addrs();
        for addr in &addrs {
            let _ = writeln!(out, "listening on http://{addr}");
        }
        let base = match (&opts.public_url, addrs.first()) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(addr)) => format!("http://{addr}"),
            (None, None) => String::new(),
        };
        let _ = write!(out, "{}", addresses(&base));
        let _ = out.flush();
    }
    tracing::info!(db = %db_name(&opts.db), "ledger started");
    server
        .run()
        .await
        .map_err(|e| CliError::msg(format!("server error: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_a_secure_context() {
        for url in [
            "https://192.168.1.5:8750",
            "https://ledger.example/abc",
            "http://localhost:8750",
            "http://LOCALHOST",
            "http://app.localhost:8750/x",
            "http://127.0.0.1:8750",
            "http://127.1.2.3",
            "http://[::1]:8750/",
        ] {
            assert!(secure_context(url), "{url}");
        }
        for url in [
            "http://192.168.1.5:8750",
            "http://ledger.example",
            "http://[fe80::1]:8750",
            "http://localhost.evil.example",
            "http://127.0.0.1@192.168.1.5/",
        ] {
            assert!(!secure_context(url), "{url}");
        }
        assert!(insecure_warning("http://192.168.1.5:8750").contains("https"));
    }

    #[test]
    fn serve_names_the_pages() {
        let text = addresses("https://ledger.example");
        assert!(
            text.contains("web verifier: https://ledger.example/v\n"),
            "{text}"
        );
        assert!(
            text.contains("dashboard: https://ledger.example/dashboard\n"),
            "{text}"
        );
    }
}

//! # provenance-server
//!
//! The provenance ledger service (actix-web over an embedded SQLite store with one group-commit
//! writer) and the `provenance` command line used by makers, repair desks, event hosts, owners
//! and the ledger operator. See `README.md` in this crate for the HTTP and CLI references.
//!
//! Layers: [`http`] (media types, limits, problem+json) → [`ledger`] (decode → verify →
//! authorize → compare-and-swap, chain cache) → [`store::LedgerStore`] ([`sqlite`] backend;
//! [`postgres`] for several servers on one database).
#![forbid(unsafe_code)]

pub mod admission;
pub mod api;
pub mod assets;
pub mod cli;
pub mod client;
pub(crate) mod columns;
pub mod drops;
pub(crate) mod group_commit;
pub mod home;
pub mod http;
pub mod keyfile;
pub mod ledger;
pub mod metrics;
pub mod nfc;
pub mod offline;
pub mod outbox;
pub mod parse;
pub mod postgres;
pub mod qr;
pub mod security_headers;
pub mod server;
pub mod sqlite;
pub mod status;
pub mod store;
pub mod web_verifier;

//! Connection admission (issue 9.1): bounds on open connections per client address and
//! overall, so slow or idle clients cannot exhaust the server's file descriptors or memory.
//!
//! Every accepted connection takes a [`Slot`] (actix-web `on_connect`), released when the
//! connection closes. A request on a connection whose address already holds
//! [`Limits::per_peer`] others is answered `429 ledger.too_many_connections`; above
//! [`Limits::total`] connections in all, everything but `/healthz` is answered
//! `503 ledger.overloaded`. Both answers close the connection. Request heads time out after
//! [`Limits::head_timeout`] (actix-web's client request timeout) and bodies after
//! [`Limits::body_timeout`] (`408 ledger.request_timeout`, see `http::read_body`), so every
//! connection, admitted or not, is closed within a bounded time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections one client address may hold.
    pub per_peer: usize,
    /// Open connections in all before requests other than `/healthz` are refused.
    pub total: usize,
    /// Time for a request's headers to arrive.
    pub head_timeout: Duration,
    /// Time for a request's whole body to arrive (the largest body is 256 KiB).
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_peer: 64,
            total: 4096,
            head_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a connection's requests are refused, if they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within every bound.
    Admitted,
    /// Its address holds too many connections (429).
    PeerFull,
    /// The server holds too many connections (503, `/healthz` excepted).
    Overloaded,
}

#[derive(Debug, Default)]
struct Counts {
    by_peer: HashMap<IpAddr, usize>,
    total: usize,
}

/// The shared connection counts.
#[derive(Debug, Clone)]
pub struct Admission {
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

/// One open connection's place in the counts; released on drop (when the connection closes).
#[derive(Debug)]
pub struct Slot {
    counts: Arc<Mutex<Counts>>,
    peer: Option<IpAddr>,
    /// The verdict at the time the connection was accepted.
    pub verdict: Verdict,
}

impl Admission {
    /// Counts under `limits`.
    pub fn new(limits: Limits) -> Self {
        Admission {
            limits,
            counts: Arc::default(),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes a slot for a new connection from `peer`.
    pub fn admit(&self, peer: Option<IpAddr>) -> Slot {
        let verdict = match self.counts.lock() {
            Ok(mut c) => {
                c.total += 1;
                let total = c.total;
                let mine = match peer {
                    Some(ip) => {
                        let n = c.by_peer.entry(ip).or_insert(0);
                        *n += 1;
                        *n
                    }
                    None => 0,
                };
                if mine > self.limits.per_peer {
                    Verdict::PeerFull
                } else if total > self.limits.total {
                    Verdict::Overloaded
                } else {
                    Verdict::Admitted
                }
            }
            Err(_) => Verdict::Overloaded,
        };
        Slot {
            counts: self.counts.clone(),
            peer,
            verdict,
        }
    }

    /// Open connections now (for `/metrics`).
    pub fn open(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.total)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.counts.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(ip) = self.peer {
                if let Some(n) = c.by_peer.get_mut(&ip) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        c.by_peer.remove(&ip);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_peer_and_overall_and_released_on_drop() {
        let admission = Admission::new(Limits {
            per_peer: 2,
            total: 3,
            ..Limits::default()
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let a1 = admission.admit(Some(a));
        let a2 = admission.admit(Some(a));
        let a3 = admission.admit(Some(a));
        assert_eq!(
            [a1.verdict, a2.verdict, a3.verdict],
            [Verdict::Admitted, Verdict::Admitted, Verdict::PeerFull]
        );
        // Four open in all: another address is over the total.
        assert_eq!(admission.admit(Some(b)).verdict, Verdict::Overloaded);
        drop(a3);
        drop(a2);
        assert_eq!(admission.open(), 1);
        assert_eq!(admission.admit(Some(b)).verdict, Verdict::Admitted);
        assert_eq!(admission.admit(Some(a)).verdict, Verdict::Admitted);
    }
}

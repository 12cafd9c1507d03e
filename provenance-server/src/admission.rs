//! Connection admission (issue 9.1): bounds on open connections per client address and
//! overall, so slow or idle clients cannot exhaust the server's file descriptors or memory.
//!
//! Every accepted connection takes a [`Slot`] (actix-web `on_connect`), released when the
//! connection closes. A request on a connection whose address already holds
//! [`Limits::per_peer`] others is answered `429 ledger.too_many_connections`; above
//! [`Limits::total`] connections in all, everything but `/healthz` is answered
//! `503 ledger.overloaded`. Both answers close the connection. Request heads time out after
//! [`Limits::head_timeout`] (actix-web's client request timeout) and bodies after
//! [`Limits::body_timeout`] (`408 ledger.request_timeout`, see `http::body`), so every
//! connection, admitted or not, is closed within a bounded time.
//!
//! A body that was not read to its end is never drained: the connection is closed after the
//! answer (`http::hold_payload`), whatever its framing, so a chunked body trickled after a 408
//! or a refusal holds nothing either.
//!
//! Addresses are counted as the kernel reports them, except IPv6, which is counted per /64
//! ([`peer_key`]): one IPv6 host usually holds a whole /64, and counting each of its 2^64
//! addresses apart would make the per-address bound no bound at all.
//!
//! Below these soft bounds sits a hard one, derived from the open-files limit
//! ([`fit_to_files`]): actix-web stops accepting (connections wait in the kernel's backlog)
//! before the process runs out of file descriptors, so SQLite, the key file and the logs
//! always have theirs; and the overall soft bound is kept an eighth below the hard one, so a
//! `/healthz` probe can still be accepted while the soft bound is hit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::drops::budget::{HeavyRenders, StreamLimits};

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
    /// Dashboard event streams: their own budget, apart from these connection bounds
    /// (`crate::drops::budget`).
    pub streams: StreamLimits,
    /// Uncached heavy page renders at once (`crate::drops::budget`).
    pub heavy_renders: HeavyRenders,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_peer: 64,
            total: 4096,
            head_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            streams: StreamLimits::default(),
            heavy_renders: HeavyRenders::default(),
        }
    }
}

/// File descriptors kept free of connections: the database, its WAL and shared-memory files
/// for the writer and each reader, the ledger key, stdio, epoll and the listeners.
pub const RESERVED_FILES: u64 = 256;

/// Fits `limits` to an open-files limit of `files` with `workers` actix workers. Returns the
/// limits to use (the overall bound lowered if the files would not hold it with headroom) and
/// the per-worker accept cap (actix-web's `max_connections`, at least 1), so that
/// `workers * cap <= files - RESERVED_FILES` (unless that is below one per worker) and
/// `total <= 7/8 * workers * cap`. Open event streams give their connection slot back
/// ([`Slot::release`]) but still hold a file: the stream budget is lowered to half of what the
/// accept cap leaves above the connection bound, so streams alone never stop accepting.
pub fn fit_to_files(limits: Limits, files: u64, workers: usize) -> (Limits, usize) {
    let workers = workers.max(1);
    let usable = usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
    let per_worker = (usable / workers).max(1);
    let hard = per_worker.saturating_mul(workers);
    let headroom = (hard / 8).max(8);
    let total = limits.total.min(hard.saturating_sub(headroom)).max(1);
    let streams = limits.streams.capped(hard.saturating_sub(total) / 2);
    (
        Limits {
            total,
            streams,
            ..limits
        },
        per_worker,
    )
}

/// The key a peer address is counted under: IPv4 (and IPv4-mapped IPv6) as it is, other IPv6
/// addresses by their /64 prefix.
pub fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
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

/// Open things (connections here, dashboard streams in `crate::drops::budget`) counted per
/// client address (already keyed by [`peer_key`]) and in all.
#[derive(Debug, Default)]
pub(crate) struct PeerCounts {
    by_peer: HashMap<IpAddr, usize>,
    /// Open in all.
    pub(crate) total: usize,
}

impl PeerCounts {
    /// Open from `peer` now.
    pub(crate) fn of(&self, peer: Option<IpAddr>) -> usize {
        peer.and_then(|ip| self.by_peer.get(&ip).copied())
            .unwrap_or(0)
    }

    /// Counts one more from `peer`; returns how many `peer` holds now (0 without an address).
    pub(crate) fn add(&mut self, peer: Option<IpAddr>) -> usize {
        self.total += 1;
        match peer {
            Some(ip) => {
                let n = self.by_peer.entry(ip).or_insert(0);
                *n += 1;
                *n
            }
            None => 0,
        }
    }

    /// Counts one fewer from `peer`, forgetting an address that holds none.
    pub(crate) fn remove(&mut self, peer: Option<IpAddr>) {
        self.total = self.total.saturating_sub(1);
        if let Some(ip) = peer {
            if let Some(n) = self.by_peer.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.by_peer.remove(&ip);
                }
            }
        }
    }
}

/// The shared connection counts.
#[derive(Debug, Clone)]
pub struct Admission {
    limits: Limits,
    counts: Arc<Mutex<PeerCounts>>,
}

/// One open connection's place in the counts; released on drop (when the connection closes).
#[derive(Debug)]
pub struct Slot {
    counts: Arc<Mutex<PeerCounts>>,
    peer: Option<IpAddr>,
    released: AtomicBool,
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

    /// Takes a slot for a new connection from `peer` (counted under [`peer_key`]).
    pub fn admit(&self, peer: Option<IpAddr>) -> Slot {
        let peer = peer.map(peer_key);
        let verdict = match self.counts.lock() {
            Ok(mut c) => {
                let mine = c.add(peer);
                let total = c.total;
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
            released: AtomicBool::new(false),
            verdict,
        }
    }

    /// Open connections now (for `/metrics`).
    pub fn open(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.total)
    }
}

impl Slot {
    /// Gives this connection's place in the counts back before the connection closes: a
    /// dashboard event stream admitted to its own budget (`crate::drops::budget`) is counted
    /// there, not against the connections other clients are admitted under. Its answer closes
    /// the connection, so no later request runs uncounted on it. Idempotent.
    pub fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Ok(mut c) = self.counts.lock() {
            c.remove(self.peer);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
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

    #[test]
    fn a_released_slot_counts_no_more_and_is_released_once() {
        let admission = Admission::new(Limits {
            per_peer: 1,
            ..Limits::default()
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let stream = admission.admit(Some(a));
        stream.release();
        stream.release();
        assert_eq!(admission.open(), 0);
        let request = admission.admit(Some(a));
        assert_eq!(request.verdict, Verdict::Admitted);
        drop(stream);
        assert_eq!(
            admission.open(),
            1,
            "dropping a released slot releases nothing more"
        );
        drop(request);
        assert_eq!(admission.open(), 0);
    }

    #[test]
    fn ipv6_peers_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let admission = Admission::new(Limits {
            per_peer: 1,
            ..Limits::default()
        });
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let first = admission.admit(Some(one));
        assert_eq!(first.verdict, Verdict::Admitted);
        assert_eq!(admission.admit(Some(same_64)).verdict, Verdict::PeerFull);
        assert_eq!(admission.admit(Some(other_64)).verdict, Verdict::Admitted);
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let _v4 = admission.admit(Some(v4));
        assert_eq!(admission.admit(Some(mapped)).verdict, Verdict::PeerFull);
        assert_eq!(peer_key(same_64), peer_key(one));
    }

    #[test]
    fn the_hard_bound_stays_below_the_files_and_above_the_soft_one() {
        let limits = Limits::default();
        // Plenty of files: the configured bound stands; accepting stops before the files run out.
        let (fitted, per_worker) = fit_to_files(limits, 20_000, 2);
        assert_eq!(fitted, limits);
        assert_eq!(per_worker, (20_000 - RESERVED_FILES as usize) / 2);
        // 1024 files (a common default that could not be raised): 768 usable, 96 headroom.
        let (fitted, per_worker) = fit_to_files(limits, 1024, 2);
        assert_eq!((fitted.total, per_worker), (672, 384));
        assert_eq!(fitted.per_peer, limits.per_peer);
        assert!(2 * per_worker as u64 <= 1024 - RESERVED_FILES);
        // Absurdly few files: still one connection per worker, no panic.
        let (fitted, per_worker) = fit_to_files(limits, 10, 1);
        assert_eq!((fitted.total, per_worker), (1, 1));
        let (fitted, per_worker) = fit_to_files(limits, 10, 512);
        assert_eq!(per_worker, 1);
        assert!(fitted.total < 512);
        let (fitted, _) = fit_to_files(limits, u64::MAX, 1);
        assert_eq!(fitted, limits);
    }
}

//! The budgets of the drop pages (issue 21, items 4 and 5): dashboard event streams get their
//! own bound per client address and in all, apart from the connection slots of
//! [`crate::admission`], and a maximum lifetime; heavy page renders (run sheets, label QR
//! codes) get a bound on how many run at once.
//!
//! **Streams.** A stream admitted here gives its connection slot back
//! ([`crate::admission::Slot::release`]): open dashboards never count against the connection
//! bounds other clients are admitted under, only against this budget, which is checked first.
//! A stream over [`StreamLimits::per_peer`] for its address is refused with
//! `429 ledger.too_many_streams`, over [`StreamLimits::total`] with `503 ledger.streams_full`,
//! both with `Retry-After`. Addresses are counted as in [`crate::admission::peer_key`]: IPv4
//! as it is, IPv6 per /64. Behind a reverse proxy every client is the proxy's address
//! (docs/DEPLOY.md).
//!
//! **Heavy renders.** At most [`HeavyRenders`] uncached renders run at once, each off the async
//! workers (`web::block`). A run sheet over the bound is refused at once with `503
//! ledger.pages_busy` and `Retry-After`, so a burst of sheet requests never holds the workers
//! that answer appends and `/healthz`. A label QR image waits up to [`LABEL_RENDER_WAIT`] for
//! its turn instead (waiting costs a parked future, not a worker): a browser opening a run
//! sheet asks for all its images at once, and each is rendered once per edition and then
//! served from the cache, so refusing them would only leave holes in the sheet.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::str::FromStr;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use provenance_core::codes;

use crate::admission::{peer_key, PeerCounts};
use crate::ledger::LedgerError;

/// Why a budget flag's value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// Not a whole decimal number.
    NotANumber(String),
    /// Zero, where at least one is needed.
    Zero,
    /// Above the largest value the flag takes.
    TooLarge {
        /// The value given.
        value: u64,
        /// The largest value taken.
        max: u64,
    },
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::NotANumber(text) => write!(f, "{text:?} is not a whole number"),
            LimitError::Zero => f.write_str("it must be at least 1"),
            LimitError::TooLarge { value, max } => write!(f, "{value} is above the largest, {max}"),
        }
    }
}

impl std::error::Error for LimitError {}

/// A whole number from 1 to `max`.
fn bounded(text: &str, max: u64) -> Result<u64, LimitError> {
    let value: u64 = text
        .trim()
        .parse()
        .map_err(|_| LimitError::NotANumber(text.to_string()))?;
    if value == 0 {
        return Err(LimitError::Zero);
    }
    if value > max {
        return Err(LimitError::TooLarge { value, max });
    }
    Ok(value)
}

/// A count from 1 to `max`.
fn count(text: &str, max: u64) -> Result<NonZeroUsize, LimitError> {
    let value = bounded(text, max)?;
    usize::try_from(value)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or(LimitError::TooLarge { value, max })
}

/// The largest stream or render count the flags take.
const MAX_COUNT: u64 = 1 << 20;

/// Open dashboard event streams one client address may hold (`--max-streams-per-peer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamsPerPeer(pub NonZeroUsize);

/// Open dashboard event streams in all (`--max-streams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamsTotal(pub NonZeroUsize);

/// How long one event stream lasts before the server ends it with a `retry:` hint and the
/// browser reconnects (`--stream-lifetime`, seconds, 1 to a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLifetime(Duration);

/// Uncached heavy page renders running at once (`--max-heavy-renders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeavyRenders(pub NonZeroUsize);

impl StreamLifetime {
    /// The longest lifetime: a day.
    pub const MAX_SECS: u64 = 86_400;

    /// The lifetime.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for StreamsPerPeer {
    type Err = LimitError;
    fn from_str(text: &str) -> Result<Self, LimitError> {
        count(text, MAX_COUNT).map(StreamsPerPeer)
    }
}

impl FromStr for StreamsTotal {
    type Err = LimitError;
    fn from_str(text: &str) -> Result<Self, LimitError> {
        count(text, MAX_COUNT).map(StreamsTotal)
    }
}

impl FromStr for StreamLifetime {
    type Err = LimitError;
    fn from_str(text: &str) -> Result<Self, LimitError> {
        bounded(text, Self::MAX_SECS).map(|secs| StreamLifetime(Duration::from_secs(secs)))
    }
}

impl FromStr for HeavyRenders {
    type Err = LimitError;
    fn from_str(text: &str) -> Result<Self, LimitError> {
        count(text, MAX_COUNT).map(HeavyRenders)
    }
}

/// A non-zero constant (the defaults).
const fn nonzero(n: usize) -> NonZeroUsize {
    match NonZeroUsize::new(n) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    }
}

impl Default for HeavyRenders {
    /// Two: one per core of a small server; a sheet renders in milliseconds once its QR codes
    /// are separate images.
    fn default() -> Self {
        HeavyRenders(nonzero(2))
    }
}

/// The bounds of the dashboard event streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Streams per client address.
    pub per_peer: StreamsPerPeer,
    /// Streams in all.
    pub total: StreamsTotal,
    /// One stream's lifetime.
    pub lifetime: StreamLifetime,
}

impl Default for StreamLimits {
    /// 16 per address (a few browser tabs behind one NAT), 1,024 in all, 5 minutes each.
    fn default() -> Self {
        StreamLimits {
            per_peer: StreamsPerPeer(nonzero(16)),
            total: StreamsTotal(nonzero(1024)),
            lifetime: StreamLifetime(Duration::from_secs(300)),
        }
    }
}

impl StreamLimits {
    /// These limits with the overall bound lowered to `max` (at least 1), so streams fit the
    /// connections the process can accept ([`crate::admission::fit_to_files`]).
    #[must_use]
    pub fn capped(self, max: usize) -> StreamLimits {
        let total = self.total.0.get().min(max.max(1));
        StreamLimits {
            total: StreamsTotal(NonZeroUsize::new(total).unwrap_or(NonZeroUsize::MIN)),
            ..self
        }
    }
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamRefusal {
    /// Its address holds [`StreamLimits::per_peer`] streams (429 `ledger.too_many_streams`).
    PeerFull,
    /// The server holds [`StreamLimits::total`] streams (503 `ledger.streams_full`).
    Full,
}

impl StreamRefusal {
    /// The problem answered.
    pub fn problem(self) -> LedgerError {
        match self {
            StreamRefusal::PeerFull => LedgerError::coded(
                codes::LEDGER_TOO_MANY_STREAMS,
                "this address holds as many open dashboard streams as it may; close one and retry",
            ),
            StreamRefusal::Full => LedgerError::coded(
                codes::LEDGER_STREAMS_FULL,
                "the ledger holds as many open dashboard streams as it may; retry later",
            ),
        }
    }
}

/// The open dashboard event streams, counted per address and in all.
#[derive(Debug, Clone)]
pub struct StreamBudget {
    limits: StreamLimits,
    counts: Arc<Mutex<PeerCounts>>,
}

/// One open stream's place in the [`StreamBudget`]; released on drop (when the stream ends).
#[derive(Debug)]
pub struct StreamPermit {
    counts: Arc<Mutex<PeerCounts>>,
    peer: Option<IpAddr>,
}

impl StreamBudget {
    /// A budget under `limits`.
    pub fn new(limits: StreamLimits) -> Self {
        StreamBudget {
            limits,
            counts: Arc::default(),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> StreamLimits {
        self.limits
    }

    /// A permit for one more stream from `peer` (counted under [`peer_key`]), or why not.
    /// Nothing is counted for a refused stream.
    pub fn admit(&self, peer: Option<IpAddr>) -> Result<StreamPermit, StreamRefusal> {
        let peer = peer.map(peer_key);
        let mut c = self.counts.lock().map_err(|_| StreamRefusal::Full)?;
        if peer.is_some() && c.of(peer) >= self.limits.per_peer.0.get() {
            return Err(StreamRefusal::PeerFull);
        }
        if c.total >= self.limits.total.0.get() {
            return Err(StreamRefusal::Full);
        }
        c.add(peer);
        Ok(StreamPermit {
            counts: self.counts.clone(),
            peer,
        })
    }

    /// Open streams now (for `/metrics`).
    pub fn open(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.total)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Ok(mut c) = self.counts.lock() {
            c.remove(self.peer);
        }
    }
}

/// How long a label QR image waits for a render slot before `503 ledger.pages_busy`.
pub const LABEL_RENDER_WAIT: Duration = Duration::from_secs(5);

/// The heavy renders running now, under a bound.
#[derive(Debug, Clone)]
pub struct RenderBudget {
    max: HeavyRenders,
    slots: Arc<tokio::sync::Semaphore>,
}

/// One running heavy render's place in the [`RenderBudget`]; released on drop.
#[derive(Debug)]
pub struct RenderPermit {
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// Why a heavy render was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderRefusal {
    /// [`HeavyRenders`] renders are running (503 `ledger.pages_busy`).
    Busy,
}

impl RenderRefusal {
    /// The problem answered.
    pub fn problem(self) -> LedgerError {
        match self {
            RenderRefusal::Busy => LedgerError::coded(
                codes::LEDGER_PAGES_BUSY,
                "the ledger is rendering as many pages as it may at once; retry in a moment",
            ),
        }
    }
}

impl RenderBudget {
    /// A budget of `max` renders at once.
    pub fn new(max: HeavyRenders) -> Self {
        RenderBudget {
            max,
            slots: Arc::new(tokio::sync::Semaphore::new(max.0.get())),
        }
    }

    /// A permit for one render now, or [`RenderRefusal::Busy`]; never waits.
    pub fn try_acquire(&self) -> Result<RenderPermit, RenderRefusal> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map(|slot| RenderPermit { _slot: slot })
            .map_err(|_| RenderRefusal::Busy)
    }

    /// A permit for one render, waiting at most `wait` for a slot (in arrival order), else
    /// [`RenderRefusal::Busy`].
    pub async fn acquire_within(&self, wait: Duration) -> Result<RenderPermit, RenderRefusal> {
        match actix_web::rt::time::timeout(wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(RenderPermit { _slot: slot }),
            Ok(Err(_)) | Err(_) => Err(RenderRefusal::Busy),
        }
    }

    /// Renders running now.
    pub fn busy(&self) -> usize {
        self.max.0.get() - self.slots.available_permits()
    }
}

/// The drop pages' budgets of one server, shared by its workers.
#[derive(Debug)]
pub struct Budgets {
    /// The dashboard event streams.
    pub streams: StreamBudget,
    /// The heavy renders.
    pub renders: RenderBudget,
}

impl Budgets {
    /// Budgets under these bounds.
    pub fn new(streams: StreamLimits, renders: HeavyRenders) -> Self {
        Budgets {
            streams: StreamBudget::new(streams),
            renders: RenderBudget::new(renders),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(per_peer: usize, total: usize) -> StreamLimits {
        StreamLimits {
            per_peer: StreamsPerPeer(NonZeroUsize::new(per_peer).unwrap()),
            total: StreamsTotal(NonZeroUsize::new(total).unwrap()),
            ..StreamLimits::default()
        }
    }

    #[test]
    fn streams_are_bounded_per_address_and_in_all_and_released_on_drop() {
        let budget = StreamBudget::new(limits(2, 3));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = budget.admit(Some(a)).unwrap();
        let _a2 = budget.admit(Some(a)).unwrap();
        assert_eq!(budget.admit(Some(a)).unwrap_err(), StreamRefusal::PeerFull);
        let _b1 = budget.admit(Some(b)).unwrap();
        assert_eq!(budget.admit(Some(b)).unwrap_err(), StreamRefusal::Full);
        assert_eq!(budget.open(), 3, "refusals count nothing");
        drop(a1);
        assert!(budget.admit(Some(b)).is_ok());
    }

    #[test]
    fn ipv6_streams_are_counted_per_64() {
        let budget = StreamBudget::new(limits(1, 10));
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _p = budget.admit(Some(one)).unwrap();
        assert_eq!(
            budget.admit(Some(same)).unwrap_err(),
            StreamRefusal::PeerFull
        );
        assert!(budget.admit(Some(other)).is_ok());
    }

    #[test]
    fn renders_are_bounded_and_never_wait() {
        let budget = RenderBudget::new(HeavyRenders(NonZeroUsize::new(2).unwrap()));
        let one = budget.try_acquire().unwrap();
        let _two = budget.try_acquire().unwrap();
        assert_eq!(budget.try_acquire().unwrap_err(), RenderRefusal::Busy);
        drop(one);
        assert_eq!(budget.busy(), 1);
        assert!(budget.try_acquire().is_ok());
    }

    #[actix_web::test]
    async fn a_waiting_render_gets_the_next_free_slot_or_gives_up() {
        let budget = RenderBudget::new(HeavyRenders(NonZeroUsize::new(1).unwrap()));
        let held = budget.try_acquire().unwrap();
        let short = Duration::from_millis(20);
        assert_eq!(
            budget.acquire_within(short).await.unwrap_err(),
            RenderRefusal::Busy
        );
        let waiter = {
            let budget = budget.clone();
            actix_web::rt::spawn(async move { budget.acquire_within(LABEL_RENDER_WAIT).await })
        };
        actix_web::rt::time::sleep(short).await;
        drop(held);
        assert!(
            waiter.await.unwrap().is_ok(),
            "the freed slot went to the waiter"
        );
        assert_eq!(budget.busy(), 0);
    }

    #[test]
    fn flags_parse_into_bounded_values() {
        assert_eq!("4".parse::<StreamsPerPeer>().unwrap().0.get(), 4, "a count");
        assert_eq!("0".parse::<StreamsTotal>().unwrap_err(), LimitError::Zero);
        assert!(matches!(
            "x".parse::<HeavyRenders>().unwrap_err(),
            LimitError::NotANumber(_)
        ));
        assert_eq!(
            "1".parse::<StreamLifetime>().unwrap().get(),
            Duration::from_secs(1)
        );
        assert!(matches!(
            "86401".parse::<StreamLifetime>().unwrap_err(),
            LimitError::TooLarge { .. }
        ));
        assert!("99999999999999999999999".parse::<StreamsTotal>().is_err());
        assert_eq!(limits(4, 100).capped(10).total.0.get(), 10);
        assert_eq!(limits(4, 100).capped(0).total.0.get(), 1);
    }
}

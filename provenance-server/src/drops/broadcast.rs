//! One render per log change for every dashboard watcher (issue 21.4): each board (the
//! all-runs dashboard, or one run's) that has watchers holds its latest `update` event,
//! rendered once, in a [`watch`] channel; every open event stream of that board sends the same
//! bytes. A renderer thread, woken by the engine after each fold that grew the log, re-renders
//! the boards that have watchers (off the async workers) and forgets those that have none.
//! `provenance_dashboard_renders_total` in `/metrics` counts the renders.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use actix_web::web::Bytes;
use provenance_core::RunId;
use tokio::sync::watch;

use super::Engine;

/// What a dashboard shows: every run, or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Board {
    /// `GET /dashboard/events`.
    All,
    /// `GET /dashboard/{run}/events`.
    Run(RunId),
}

impl Board {
    /// The run, for a one-run board.
    pub fn run(&self) -> Option<&RunId> {
        match self {
            Board::All => None,
            Board::Run(run) => Some(run),
        }
    }
}

/// The boards with watchers, and the renderer's wake-up.
pub struct Broadcaster {
    boards: Mutex<HashMap<Board, watch::Sender<Bytes>>>,
    wake: SyncSender<()>,
}

/// The renderer's end of the wake-up, handed to [`run_renderer`].
pub struct Wakeups(Receiver<()>);

impl Broadcaster {
    /// A broadcaster, and the wake-ups its renderer thread waits on.
    pub fn new() -> (Broadcaster, Wakeups) {
        // One pending wake-up is enough: changes while the renderer works coalesce into it.
        let (wake, wakeups) = sync_channel(1);
        (
            Broadcaster {
                boards: Mutex::new(HashMap::new()),
                wake,
            },
            Wakeups(wakeups),
        )
    }

    /// Tells the renderer the log grew (never blocks).
    pub fn changed(&self) {
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }

    /// A receiver of `board`'s updates, holding the latest one; the first watcher of a board
    /// renders it (a blocking call: run it off the async workers).
    pub fn subscribe(&self, engine: &Engine, board: Board) -> watch::Receiver<Bytes> {
        if let Some(rx) = self.existing(board) {
            return rx;
        }
        let first = engine.render_update(board);
        let mut boards = match self.boards.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match boards.get(&board) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(first);
                boards.insert(board, tx);
                rx
            }
        }
    }

    fn existing(&self, board: Board) -> Option<watch::Receiver<Bytes>> {
        let boards = self.boards.lock().ok()?;
        boards.get(&board).map(watch::Sender::subscribe)
    }

    /// Re-renders every board that has watchers, once each, and forgets the others.
    fn render_all(&self, engine: &Engine) {
        let watched: Vec<Board> = match self.boards.lock() {
            Ok(mut boards) => {
                boards.retain(|_, tx| tx.receiver_count() > 0);
                boards.keys().copied().collect()
            }
            Err(_) => return,
        };
        for board in watched {
            let update = engine.render_update(board);
            if let Ok(boards) = self.boards.lock() {
                if let Some(tx) = boards.get(&board) {
                    tx.send_replace(update);
                }
            }
        }
    }

    /// Boards with watchers now.
    pub fn boards(&self) -> usize {
        self.boards.lock().map_or(0, |b| b.len())
    }
}

/// The renderer thread's loop: waits for a change, re-renders the watched boards; returns
/// when the engine is gone.
pub fn run_renderer(engine: &Weak<Engine>, wakeups: &Wakeups) {
    loop {
        match wakeups.0.recv_timeout(Duration::from_secs(1)) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => {
                if engine.strong_count() == 0 {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        engine.broadcast().render_all(&engine);
    }
}

//! Group commit, as both backends run it: one writer thread blocks for the first queued write,
//! takes every write already queued (up to [`MAX_BATCH`]), hands them to the backend's commit
//! (one transaction) and answers each with its own outcome; on shutdown it finishes the queue
//! and refuses later writes. While it commits, new writes queue up and form the next batch, so
//! the batch size follows the load without adding latency when the ledger is idle.

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{StoreError, WriteOp, WriteResult};

/// Most writes committed in one transaction.
pub const MAX_BATCH: usize = 256;

/// A message to a store's writer thread.
pub(crate) enum Msg {
    /// A write and where to send its outcome.
    Write(WriteOp, oneshot::Sender<WriteResult>),
    /// Finish the queued writes, then stop.
    Shutdown,
}

/// Queues `op` for the writer; the answer is `WriterGone` at once if the writer has stopped.
pub(crate) fn submit(
    writer: &mpsc::UnboundedSender<Msg>,
    op: WriteOp,
) -> oneshot::Receiver<WriteResult> {
    let (reply, answer) = oneshot::channel();
    if let Err(mpsc::error::SendError(Msg::Write(_, reply))) = writer.send(Msg::Write(op, reply)) {
        let _ = reply.send(Err(StoreError::WriterGone));
    }
    answer
}

/// The writer thread's loop. `commit` applies one batch in one transaction and returns one
/// outcome per write, in order (the backend decides what a failed batch answers).
pub(crate) fn run(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    metrics: &Metrics,
    mut commit: impl FnMut(Vec<WriteOp>) -> Vec<WriteResult>,
) {
    let mut stopping = false;
    while !stopping {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut batch = Vec::with_capacity(16);
        let mut push = |msg: Msg, batch: &mut Vec<_>| match msg {
            Msg::Write(op, reply) => batch.push((op, reply)),
            Msg::Shutdown => stopping = true,
        };
        push(first, &mut batch);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => push(msg, &mut batch),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        metrics.observe_batch(batch.len());
        let (ops, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        for (reply, outcome) in replies.into_iter().zip(commit(ops)) {
            let _ = reply.send(outcome);
        }
    }
    // Refuse whatever arrives after shutdown.
    rx.close();
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Write(_, reply) = msg {
            let _ = reply.send(Err(StoreError::WriterGone));
        }
    }
}

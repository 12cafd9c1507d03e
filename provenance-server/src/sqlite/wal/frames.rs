//! Counting the frames checkpoints copy, each frame once.
//!
//! `PRAGMA wal_checkpoint` answers the WAL's frame count and how many of them are in the
//! database file so far: totals for the WAL's current *generation*, which start again at 0
//! when the WAL restarts. Adding those totals at every checkpoint (as before issue 26) counts
//! the same frames again and again; the newly copied frames are the difference from the last
//! answer of the same generation, or the whole answer in a new one.
//!
//! A generation is told by the WAL header (SQLite file format §4.1): the checkpoint sequence
//! number and the salts change at every restart. The header is read before and after each
//! checkpoint; an answer whose generation changed while it ran is not attributed (the caller
//! asks again), so no frame is ever counted twice (one copied by such an answer may go
//! uncounted). A restart also shows as a frame count
//! lower than the last one (the header on disk changes only with the new generation's first
//! frame).

use std::io::Read as _;
use std::path::Path;

/// The WAL header's magic numbers (big- or little-endian checksums).
const WAL_MAGIC: [u32; 2] = [0x377f_0682, 0x377f_0683];

/// A WAL generation's identity: the header's checkpoint sequence number and salts (bytes
/// 12..24), or `None` when the file is missing, empty or not a WAL.
pub(super) type Generation = Option<[u8; 12]>;

/// Reads the generation of the WAL file at `wal`.
pub(super) fn generation(wal: &Path) -> Generation {
    let mut header = [0u8; 24];
    std::fs::File::open(wal)
        .and_then(|mut f| f.read_exact(&mut header))
        .ok()?;
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if !WAL_MAGIC.contains(&magic) {
        return None;
    }
    let mut id = [0u8; 12];
    id.copy_from_slice(&header[12..24]);
    Some(id)
}

/// One checkpoint's answer: frames in the WAL and frames in the database file so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Progress {
    /// Frames in the WAL (`log` column).
    pub log: u64,
    /// Frames of this WAL already copied into the database file (`checkpointed` column).
    pub copied: u64,
}

/// The last attributed answer, to tell newly copied frames from ones counted before.
#[derive(Debug, Default)]
pub(super) struct FrameTally {
    generation: Generation,
    last: Option<Progress>,
}

impl FrameTally {
    /// Attributes one checkpoint's `progress`, whose WAL header read `before` and `after` it:
    /// the frames newly copied, or `None` when the WAL restarted while it ran (not counted; the
    /// next answer starts from the new generation).
    pub(super) fn observe(
        &mut self,
        before: Generation,
        progress: Progress,
        after: Generation,
    ) -> Option<u64> {
        if before != after {
            return None;
        }
        let same_generation = match self.last {
            Some(last) => {
                after == self.generation
                    && progress.log >= last.log
                    && progress.copied >= last.copied
            }
            None => false,
        };
        let new = match (same_generation, self.last) {
            (true, Some(last)) => progress.copied - last.copied,
            _ => progress.copied,
        };
        self.generation = after;
        self.last = Some(progress);
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G1: Generation = Some([1; 12]);
    const G2: Generation = Some([2; 12]);

    fn p(log: u64, copied: u64) -> Progress {
        Progress { log, copied }
    }

    #[test]
    fn totals_of_one_generation_count_only_their_growth() {
        let mut t = FrameTally::default();
        assert_eq!(t.observe(G1, p(100, 80), G1), Some(80));
        assert_eq!(t.observe(G1, p(150, 150), G1), Some(70));
        // Nothing new: the bug added the total (150) again here.
        assert_eq!(t.observe(G1, p(150, 150), G1), Some(0));
    }

    #[test]
    fn a_new_generation_counts_from_zero() {
        let mut t = FrameTally::default();
        assert_eq!(t.observe(G1, p(100, 100), G1), Some(100));
        // Restarted and grew past the old totals: the header tells.
        assert_eq!(t.observe(G2, p(400, 300), G2), Some(300));
        // Restarted, no frame written yet: the header on disk is still the old one, the
        // frame count tells.
        assert_eq!(t.observe(G2, p(0, 0), G2), Some(0));
        assert_eq!(t.observe(G2, p(10, 10), G2), Some(10));
    }

    #[test]
    fn an_answer_across_a_restart_is_not_counted() {
        let mut t = FrameTally::default();
        assert_eq!(t.observe(G1, p(100, 100), G1), Some(100));
        assert_eq!(t.observe(G1, p(120, 120), G2), None);
        assert_eq!(t.observe(G2, p(130, 130), G2), Some(130));
        // A truncated WAL has no header: a generation of its own.
        assert_eq!(t.observe(None, p(0, 0), None), Some(0));
    }

    #[test]
    fn reads_the_header_of_a_real_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let wal = super::super::wal_path(&db);
        let first = generation(&wal);
        assert!(first.is_some());
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
            .unwrap();
        conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let second = generation(&wal);
        assert!(second.is_some());
        assert_ne!(first, second, "a restart changes the header");
        std::fs::write(dir.path().join("junk"), [0u8; 64]).unwrap();
        assert_eq!(generation(&dir.path().join("junk")), None);
        assert_eq!(generation(&dir.path().join("missing")), None);
    }
}

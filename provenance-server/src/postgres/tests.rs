//! Unit tests of the parts that need no database: the log's right edge, URLs, error classes.

use provenance_core::log::{self as tlog, NodeSource, TreeHash};

use super::conn::{is_postgres_url, parse_url, redacted, PgError};
use super::log::Frontier;
use crate::store::StoreError;

/// The right edge computes the same roots and closes the same interior nodes as the in-memory
/// tree, for every size up to 300, and only answers for its own nodes. (`MemoryTree` also lists
/// the leaf itself, level 0, which the store keeps in `log_leaves`, not among the nodes.)
#[test]
fn frontier_matches_the_memory_tree() {
    let mut tree = tlog::MemoryTree::new();
    let mut edge = Frontier::default();
    for i in 0..300u64 {
        let leaf = tlog::leaf_hash(&i.to_be_bytes());
        tree.push(leaf);
        let closed = edge.push(leaf).unwrap();
        let mut interior = tree.nodes_closed_by_last_leaf();
        assert_eq!(interior.first().map(|n| (n.0, n.1)), Some((0, i)));
        interior.retain(|(level, _, _)| *level > 0);
        assert_eq!(closed, interior, "size {}", i + 1);
        assert_eq!(edge.root().unwrap(), tlog::root(&tree, i + 1).unwrap());
        for (level, index) in Frontier::positions(edge.size) {
            assert_eq!(
                edge.perfect(level, index).unwrap(),
                tlog::NodeSource::perfect(&tree, level, index).unwrap()
            );
        }
    }
    assert!(edge.perfect(0, 0).is_err(), "not on the right edge");
    assert_eq!(Frontier::default().root().unwrap(), TreeHash::empty());
}

#[test]
fn urls_and_redaction() {
    assert!(is_postgres_url("postgres://u@h:5432/db"));
    assert!(is_postgres_url("postgresql://u@h/db"));
    assert!(!is_postgres_url("provenance.db"));
    assert!(!is_postgres_url("/var/lib/postgres://x"));
    assert_eq!(
        redacted("postgres://u:secret@h:5432/db"),
        "postgres://u:***@h:5432/db"
    );
    assert_eq!(redacted("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
    assert_eq!(redacted("postgres://h/db"), "postgres://h/db");
    assert!(parse_url("postgres://u@h:5432/db").is_ok());
    assert!(parse_url("postgres://u@h:notaport/db").is_err());
}

/// A schema written by a newer program is refused as corrupt data (500, never retried), and
/// the message says why.
#[test]
fn a_newer_schema_is_not_retried() {
    assert!(PgError::SchemaTooNew { found: 9, known: 1 }
        .to_string()
        .contains("newer"));
    let e = StoreError::from(PgError::SchemaTooNew { found: 9, known: 1 });
    assert!(matches!(e, StoreError::Corrupt(_)));
    assert!(!PgError::SchemaTooNew { found: 9, known: 1 }.is_transient());
}

//! All 196 RFC 9162 proof vectors from transparency-dev/merkle (spec/vectors/external/merkle)
//! give their expected result through the core verifier.
#![allow(
    clippy::unwrap_used,
    missing_docs,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use provenance_core::log::{verify_consistency, verify_inclusion};
use serde_json::Value;

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    match v.as_str() {
        None | Some("") => Vec::new(),
        Some(s) => STANDARD.decode(s).unwrap(),
    }
}

fn proof(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .map(|a| a.iter().map(bytes).collect())
        .unwrap_or_default()
}

#[test]
fn all_transparency_dev_vectors_give_their_expected_result() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/external/merkle");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    assert_eq!(paths.len(), 196);
    let (mut inclusion, mut consistency) = (0, 0);
    for path in paths {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let p = proof(&v["proof"]);
        let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
        let result = if path.to_string_lossy().contains("/inclusion/") {
            inclusion += 1;
            verify_inclusion(
                v["leafIdx"].as_u64().unwrap(),
                v["treeSize"].as_u64().unwrap(),
                &bytes(&v["leafHash"]),
                &refs,
                &bytes(&v["root"]),
            )
        } else {
            consistency += 1;
            verify_consistency(
                v["size1"].as_u64().unwrap(),
                v["size2"].as_u64().unwrap(),
                &bytes(&v["root1"]),
                &bytes(&v["root2"]),
                &refs,
            )
        };
        assert_eq!(
            result.is_err(),
            want_err,
            "{}: {:?} ({})",
            path.display(),
            result,
            v["desc"]
        );
    }
    assert_eq!((inclusion, consistency), (98, 98));
}

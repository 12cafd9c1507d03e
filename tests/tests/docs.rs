//! Docs that cannot drift (issue 11): every `spec §N` reference in the code names a section
//! the spec has, and every relative link in the Markdown files resolves to a file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Files under `dir` with one of `exts`, skipping build output and dependencies.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | "node_modules" | ".git" | "corpus" | "artifacts"
            ) {
                files(&path, exts, out);
            }
        } else if exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The section numbers spec/README.md has ("10", "14.3", ...).
fn spec_sections() -> Vec<String> {
    std::fs::read_to_string(root().join("spec/README.md"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("## ") || l.starts_with("### "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|n| n.trim_end_matches('.').to_string())
        .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect()
}

#[test]
fn every_spec_section_reference_in_the_code_exists() {
    let sections = spec_sections();
    assert!(sections.contains(&"14.3".to_string()), "{sections:?}");
    let mut sources = Vec::new();
    files(&root(), &[".rs"], &mut sources);
    let mut checked = 0;
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for marker in ["spec §", "spec/README.md §"] {
                for (at, _) in line.match_indices(marker) {
                    let rest = &line[at + marker.len()..];
                    let number: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.')
                        .collect();
                    let number = number.trim_end_matches('.');
                    if number.is_empty() {
                        continue; // "spec §N" in prose about references, not a reference
                    }
                    assert!(
                        sections.iter().any(|s| s == number),
                        "{}:{}: spec §{number} does not exist",
                        path.display(),
                        n + 1
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 30, "{checked} references");
}

#[test]
fn every_relative_markdown_link_resolves() {
    let mut docs = Vec::new();
    files(&root(), &[".md"], &mut docs);
    let mut checked = 0;
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        let dir = doc.parent().unwrap();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            rest = &rest[end..];
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap();
            if file.is_empty() || file.contains(' ') {
                continue;
            }
            assert!(
                dir.join(file).exists(),
                "{}: link to {target} does not resolve",
                doc.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "{checked} links");
}

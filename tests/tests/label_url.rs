//! Issue 10: a ledger started with `--public-url` prints labels whose QR holds
//! `<public url>/v#PV1:...` (spec §7.5), which a phone camera opens in the web verifier.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{decode_qr, Server};

#[test]
fn labels_of_a_public_ledger_open_its_web_verifier() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir, &["--public-url", "https://ledger.example.org/abc/"]);
    server.parties(&[("maker", "maker")]);
    assert_eq!(
        server.get_json("/v1/trust")["public_url"],
        "https://ledger.example.org/abc"
    );
    let run = server.run_of("maker", "T", 3);
    server.ok(&[
        "mint",
        "-k",
        "maker.pem",
        "--run",
        &run,
        "-n",
        "3",
        "--labels",
        "labels",
    ]);
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("labels")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "png") {
            let text = decode_qr(&path);
            let payload = text
                .strip_prefix("https://ledger.example.org/abc/v#")
                .unwrap_or_else(|| panic!("{text}"));
            assert!(
                payload.starts_with("PV1:") && !payload.contains(' '),
                "{text}"
            );
            let bare = payload.replace("%20", " ").replace("%25", "%");
            provenance_core::Payload::decode(&bare).unwrap();
            seen += 1;
        }
    }
    assert_eq!(seen, 3);

    // The offline verifier reads the label URL from the photo and from the text alike.
    server.ok(&["trust", "export", "-o", "trust.cbor"]);
    let png = std::fs::read_dir(dir.join("labels"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .unwrap();
    let url = decode_qr(&png);
    for args in [vec!["--image", png.to_str().unwrap()], vec![url.as_str()]] {
        let out = std::process::Command::new(common::verifier_bin())
            .current_dir(&dir)
            .args(["--trust", "trust.cbor", "--json"])
            .args(&args)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["verdict"], "genuine_with_warnings", "{report}");
        assert_eq!(report["findings"][0]["code"], "payload.label_only");
    }

    // Anything but a base URL is refused at start.
    let out = std::process::Command::new(common::bin())
        .current_dir(&dir)
        .args([
            "serve",
            "--db",
            "x.db",
            "--ledger-key",
            "x.pem",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--public-url", "ledger.example.org#frag"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-url"));
}

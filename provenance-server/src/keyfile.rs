//! Key files: PKCS#8 PEM private keys (v1, mode 0600, never overwritten), read with a clear
//! `[cli.key_file]` error for each mistake (binary data, encrypted, not Ed25519, readable by
//! others for the ledger key).

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use provenance_core::SigningKey;

use crate::client::{CliError, CODE_KEY_FILE};

/// Reads a PKCS#8 PEM private key file.
pub fn read_key(path: &Path) -> Result<SigningKey, CliError> {
    if let Some(mode) = loose_mode(path) {
        eprintln!(
            "warning: key file {} has mode {mode:04o}: others can read it; `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    read_key_bytes(path)
}

/// Reads the ledger's own key for `serve`: like [`read_key`], but a key file that group or
/// others may read is refused (as ssh refuses such keys), since it signs every checkpoint and
/// head statement.
pub fn read_ledger_key(path: &Path) -> Result<SigningKey, CliError> {
    if let Some(mode) = loose_mode(path) {
        return Err(CliError::coded(
            format!(
                "the ledger key {} has mode {mode:04o}: group or others can read it. Refusing \
                 to serve with it; fix with `chmod 600 {}`",
                path.display(),
                path.display()
            ),
            CODE_KEY_FILE,
        ));
    }
    read_key_bytes(path)
}

/// The permission bits of `path` when group or others have any access to it.
fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Largest key file read (a PEM Ed25519 key is about 120 bytes).
const MAX_KEY_FILE_BYTES: u64 = 16 << 10;

fn read_key_bytes(path: &Path) -> Result<SigningKey, CliError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE_BYTES).read_to_end(&mut bytes))
        .map_err(|e| CliError::io(format!("cannot read key file {}: {e}", path.display())))?;
    let not_a_key = |why: &str| {
        CliError::coded(
            format!(
                "{} is not a private key file: {why}. A key file is PKCS#8 PEM, starting \
                 -----BEGIN PRIVATE KEY----- (make one with `provenance keygen -o FILE.pem`), \
                 or a recovery-sheet code `PVR1:...` copied from its sheet",
                path.display()
            ),
            CODE_KEY_FILE,
        )
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(not_a_key(
            "it holds binary data (a CBOR trust list or history?)",
        ));
    };
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(CliError::coded(
            format!(
                "{} is an encrypted (password-protected) PKCS#8 key, which provenance cannot \
                 use; decrypt it with `openssl pkey -in {} -out plain.pem` and keep the result \
                 mode 0600",
                path.display(),
                path.display()
            ),
            CODE_KEY_FILE,
        ));
    }
    // A recovery key typed (or scanned) from its printed sheet (spec §3.1, §7.6).
    let sheet = provenance_core::recovery::RECOVERY_SHEET_PREFIX;
    if text
        .trim()
        .get(..sheet.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(sheet))
    {
        return provenance_core::recovery::RecoverySheetCode::parse(text.trim())
            .map(|code| code.0)
            .map_err(|e| {
                use provenance_core::ErrorCode as _;
                CliError::coded(
                    format!("{}: the recovery-sheet code: {e}", path.display()),
                    e.code(),
                )
            });
    }
    if !text.contains("-----BEGIN PRIVATE KEY-----") {
        return Err(not_a_key("no -----BEGIN PRIVATE KEY----- block"));
    }
    SigningKey::from_pkcs8_pem(text).map_err(|_| not_a_key("the PEM is not an Ed25519 key"))
}

/// Writes a new key file with mode 0600; refuses to overwrite.
pub fn write_key(path: &Path, key: &SigningKey) -> Result<(), CliError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::io(format!("cannot create key file {}: {e}", path.display())))?;
    let pem = key
        .to_pkcs8_pem()
        .map_err(|e| CliError::coded(format!("{}: {e}", path.display()), CODE_KEY_FILE))?;
    file.write_all(pem.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| CliError::io(format!("cannot write key file {}: {e}", path.display())))
}

/// A fresh key from the operating system's random source.
pub fn generate_key() -> Result<SigningKey, CliError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| CliError::msg(format!("no randomness available: {e}")))?;
    Ok(SigningKey::from_seed(seed))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::parse::parse_public;
    use provenance_core::codes;

    #[test]
    fn key_files_are_pkcs8_v1_and_round_trip() {
        let key = SigningKey::from_seed([4; 32]);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"));
        assert_eq!(
            SigningKey::from_pkcs8_pem(&pem).unwrap().public_key(),
            key.public_key()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_key(&path, &key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_key(&path, &key).is_err(), "never overwrites");
        assert_eq!(read_key(&path).unwrap().public_key(), key.public_key());
        assert_eq!(
            parse_public(path.to_str().unwrap()).unwrap(),
            key.public_key()
        );
        assert_eq!(
            parse_public(&key.public_key().to_base64url()).unwrap(),
            key.public_key()
        );
        assert_eq!(
            parse_public("nope").unwrap_err().code,
            Some(codes::DECODE_BAD_PUBLIC_KEY)
        );
    }

    #[test]
    fn a_recovery_sheet_code_in_a_file_is_its_key_and_a_misread_one_is_refused() {
        use provenance_core::recovery::RecoverySheetCode;
        let key = SigningKey::from_seed([6; 32]);
        let code = RecoverySheetCode(SigningKey::from_seed([6; 32])).encode();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sheet.txt");
        std::fs::write(&path, format!("{}\n", code.to_ascii_lowercase())).unwrap();
        assert_eq!(
            read_key_bytes(&path).unwrap().public_key(),
            key.public_key()
        );
        let last = code.chars().last().unwrap();
        let misread = format!(
            "{}{}",
            &code[..code.len() - 1],
            if last == '0' { '1' } else { '0' }
        );
        std::fs::write(&path, misread).unwrap();
        let err = read_key_bytes(&path).unwrap_err();
        assert!(
            matches!(
                err.code,
                Some(codes::CODE_BAD_CHECK | codes::CODE_MALFORMED)
            ),
            "{err:?}"
        );
    }
}

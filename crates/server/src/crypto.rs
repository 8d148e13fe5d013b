//! Keys and sealing. The master key lives outside the database (a 0600 file or an
//! environment variable); secrets stored in the database are sealed with XChaCha20-Poly1305
//! under it, with associated data naming the row and column so ciphertexts cannot be moved
//! between rows.
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::config::MasterKeySource;

const SEAL_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the master key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("cannot read or create the master key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("sealed data is corrupt or was sealed under another key")]
    Unseal,
}

/// The server's root secret. Never stored in the database, never logged.
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Loads the key, creating the key file (mode 0600) with a fresh random key when absent.
    pub fn load(source: &MasterKeySource) -> Result<Self, KeyError> {
        match source {
            MasterKeySource::Inline(b64) => Self::from_base64(b64),
            MasterKeySource::File(path) => Self::load_or_create_file(path),
        }
    }

    pub fn from_base64(b64: &str) -> Result<Self, KeyError> {
        let mut decoded = STANDARD.decode(b64.trim()).map_err(|_| KeyError::BadKey)?;
        let result = <[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| KeyError::BadKey);
        decoded.zeroize();
        Ok(Self { bytes: Zeroizing::new(result?) })
    }

    fn load_or_create_file(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                let key = Self { bytes: Zeroizing::new(random_array()) };
                let encoded = Zeroizing::new(STANDARD.encode(*key.bytes));
                write_private_file(path, encoded.as_bytes()).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A subkey for one purpose, so that the master key itself is used for nothing else.
    #[must_use]
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        hmac_sha256(&*self.bytes, purpose.as_bytes())
    }

    /// A short, non-secret fingerprint to tell which key sealed something.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 4] {
        let d = Sha256::digest(self.derive("steward.key-id.v1"));
        [d[0], d[1], d[2], d[3]]
    }
}

/// Creates `path` with mode 0600 from the start (never world-readable, even briefly).
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Seals and opens small secrets (TOTP secrets; later, per-account data keys).
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    key_id: [u8; 4],
}

impl Sealer {
    #[must_use]
    pub fn new(master: &MasterKey) -> Self {
        let key = Zeroizing::new(master.derive("steward.seal.v1"));
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        Self { cipher, key_id: master.fingerprint() }
    }

    /// `version || key_id || nonce || ciphertext`; `aad` binds it to where it is stored.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce: [u8; 24] = random_array();
        let ct = self
            .cipher
            .encrypt(&nonce.into(), Payload { msg: plaintext, aad: aad.as_bytes() })
            // Encryption only fails for inputs beyond 2^38 bytes; secrets are tiny.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + 4 + 24 + ct.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&self.key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if sealed.len() < 1 + 4 + 24 + 16 || sealed[0] != SEAL_VERSION || sealed[1..5] != self.key_id {
            return Err(KeyError::Unseal);
        }
        let nonce: [u8; 24] = sealed[5..29].try_into().map_err(|_| KeyError::Unseal)?;
        self.cipher
            .decrypt(&nonce.into(), Payload { msg: &sealed[29..], aad: aad.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Unseal)
    }
}

pub fn random_array<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source failing is unrecoverable: continuing would mint guessable secrets.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// A new opaque secret token: `prefix` + 256 random bits in URL-safe base64.
#[must_use]
pub fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_array::<32>()))
}

#[must_use]
pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

#[must_use]
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    #[allow(clippy::expect_used)]
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_base64(&STANDARD.encode([7u8; 32])).expect("key")
    }

    #[test]
    fn seal_round_trips_and_binds_to_its_place() {
        let s = Sealer::new(&key());
        let sealed = s.seal("users:u1:totp", b"JBSWY3DPEHPK3PXP");
        assert_eq!(s.open("users:u1:totp", &sealed).expect("open").as_slice(), b"JBSWY3DPEHPK3PXP");
        assert!(s.open("users:u2:totp", &sealed).is_err(), "another row's associated data must not open it");
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(s.open("users:u1:totp", &flipped).is_err());
        assert!(!sealed.windows(16).any(|w| w == b"JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn another_master_key_cannot_open() {
        let sealed = Sealer::new(&key()).seal("a", b"secret");
        let other = MasterKey::from_base64(&STANDARD.encode([8u8; 32])).expect("key");
        assert!(Sealer::new(&other).open("a", &sealed).is_err());
    }

    #[test]
    fn bad_master_keys_are_refused() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 16])).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("steward-key-test-{}-{}", std::process::id(), line!()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("master.key");
        let a = MasterKey::load(&MasterKeySource::File(path.clone())).expect("create");
        let b = MasterKey::load(&MasterKeySource::File(path.clone())).expect("reload");
        assert_eq!(a.fingerprint(), b.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = new_token("stp_");
        assert!(a.starts_with("stp_") && a.len() == 4 + 43);
        assert_ne!(a, new_token("stp_"));
    }
}

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
    #[error(
        "cannot read or create the master key file {path}: {source}; check that its directory exists and is writable by this user, or set STEWARD_MASTER_KEY_FILE"
    )]
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
    /// With a keyring file (during a rotation), the primary key.
    pub fn load(source: &MasterKeySource) -> Result<Self, KeyError> {
        Ok(Keyring::load(source)?.into_keys().swap_remove(0))
    }

    pub fn from_base64(b64: &str) -> Result<Self, KeyError> {
        let mut decoded = STANDARD.decode(b64.trim()).map_err(|_| KeyError::BadKey)?;
        let result = <[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| KeyError::BadKey);
        decoded.zeroize();
        Ok(Self { bytes: Zeroizing::new(result?) })
    }

    pub(crate) fn load_or_create_file(path: &Path) -> Result<Self, KeyError> {
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

    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        Self { bytes: Zeroizing::new(random_array()) }
    }

    /// Base64, as the key file and `STEWARD_MASTER_KEY` hold it.
    #[must_use]
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(*self.bytes))
    }
}

/// The master keys in use: the first (primary) seals and wraps everything new; the others, kept
/// only while a rotation is in progress, open what was sealed before it.
///
/// The key file holds one base64 key per line, primary first; blank lines and lines starting
/// with `#` are ignored, so a file with a single key (the format before rotation existed) is a
/// keyring of one.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    /// Loads the keyring, creating the key file (mode 0600) with a fresh random key when absent.
    pub fn load(source: &MasterKeySource) -> Result<Self, KeyError> {
        match source {
            MasterKeySource::Inline(b64) => Ok(Self { keys: vec![MasterKey::from_base64(b64)?] }),
            MasterKeySource::File(path) => match Self::read_file(path)? {
                Some(ring) => Ok(ring),
                None => Ok(Self { keys: vec![MasterKey::load_or_create_file(path)?] }),
            },
        }
    }

    /// The keyring in `path`, or `None` when there is no such file.
    pub fn read_file(path: &Path) -> Result<Option<Self>, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                Self::parse(&text).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Io { path: path.display().to_string(), source }),
        }
    }

    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(MasterKey::from_base64)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyError::BadKey);
        }
        Ok(Self { keys })
    }

    /// A keyring from keys, primary first (at least one).
    pub fn from_keys(keys: Vec<MasterKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::BadKey);
        }
        Ok(Self { keys })
    }

    #[must_use]
    pub fn primary(&self) -> &MasterKey {
        &self.keys[0]
    }

    /// Every key, primary first.
    #[must_use]
    pub fn keys(&self) -> &[MasterKey] {
        &self.keys
    }

    #[must_use]
    pub fn into_keys(self) -> Vec<MasterKey> {
        self.keys
    }

    /// The key file's text.
    #[must_use]
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::from(
            "# Steward master keys: base64, one per line. The first seals new data; any others only\n\
             # open data sealed before a rotation (`steward admin rotate-master-key --finish` drops them).\n",
        ));
        for k in &self.keys {
            text.push_str(&k.to_base64());
            text.push('\n');
        }
        text
    }

    /// Replaces the key file atomically: a new 0600 file beside it, synced, then renamed over it,
    /// so a reader sees the old keyring or the new one, never a mix.
    pub fn write_file(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io { path: path.display().to_string(), source };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "master.key".into());
        let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(random_array::<6>())));
        let text = self.to_file_text();
        if let Err(e) = write_private_file(&tmp, text.as_bytes()) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        if let Err(e) = std::fs::rename(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
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

/// Seals and opens small secrets (TOTP secrets) directly under master-derived keys: the primary
/// key seals, and every key of the keyring opens what names its key id.
pub struct Sealer {
    /// `(key id, cipher)`, primary first.
    ciphers: Vec<([u8; 4], XChaCha20Poly1305)>,
    version: u8,
}

impl Sealer {
    #[must_use]
    pub fn new(master: &MasterKey) -> Self {
        Self::for_purpose(std::slice::from_ref(master), "steward.seal.v1", SEAL_VERSION)
    }

    #[must_use]
    pub fn from_keyring(ring: &Keyring) -> Self {
        Self::for_purpose(ring.keys(), "steward.seal.v1", SEAL_VERSION)
    }

    /// Ciphers keyed by `purpose`-derived subkeys of `keys` (primary first), tagging output with
    /// `version`, so one layout serves several purposes without their keys ever meeting.
    pub(crate) fn for_purpose(keys: &[MasterKey], purpose: &str, version: u8) -> Self {
        let ciphers = keys
            .iter()
            .map(|k| {
                let key = Zeroizing::new(k.derive(purpose));
                (k.fingerprint(), XChaCha20Poly1305::new(&(*key).into()))
            })
            .collect();
        Self { ciphers, version }
    }

    /// The id of the key that seals.
    #[must_use]
    pub fn primary_key_id(&self) -> [u8; 4] {
        self.ciphers.first().map(|c| c.0).unwrap_or_default()
    }

    /// The key id a sealed value names (not secret), if it is shaped like one of ours.
    #[must_use]
    pub fn key_id_of(&self, sealed: &[u8]) -> Option<[u8; 4]> {
        (sealed.len() >= 1 + 4 + 24 + 16 && sealed[0] == self.version)
            .then(|| [sealed[1], sealed[2], sealed[3], sealed[4]])
    }

    /// Whether some key of this keyring can be tried on `sealed`.
    #[must_use]
    pub fn knows(&self, sealed: &[u8]) -> bool {
        self.key_id_of(sealed).is_some_and(|id| self.ciphers.iter().any(|c| c.0 == id))
    }

    /// `version || key_id || nonce || ciphertext`; `aad` binds it to where it is stored.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        let Some((key_id, cipher)) = self.ciphers.first() else { return Vec::new() };
        let nonce: [u8; 24] = random_array();
        let ct = cipher
            .encrypt(&nonce.into(), Payload { msg: plaintext, aad: aad.as_bytes() })
            // Encryption only fails for inputs beyond 2^38 bytes; secrets are tiny.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + 4 + 24 + ct.len());
        out.push(self.version);
        out.extend_from_slice(key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let key_id = self.key_id_of(sealed).ok_or(KeyError::Unseal)?;
        let (_, cipher) = self.ciphers.iter().find(|c| c.0 == key_id).ok_or(KeyError::Unseal)?;
        let nonce: [u8; 24] = sealed[5..29].try_into().map_err(|_| KeyError::Unseal)?;
        cipher
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

//! The credential vault (DESIGN.md invariant 2: the credential never leaves).
//!
//! Envelope encryption. Every social account has its own random 256-bit *data key*; the
//! platform credential is sealed under it with XChaCha20-Poly1305, the account id as associated
//! data (`accounts:{id}:credential`), so a ciphertext moved to another row does not open. The data
//! key is stored *wrapped* (sealed) under a subkey of the master key, also bound to the account
//! (`accounts:{id}:data-key`), and tagged with the master key's id, so that during a rotation the
//! old and the new master key can be told apart. Small secrets of our own (TOTP secrets) are
//! sealed directly under another master-derived subkey, tagged the same way.
//!
//! Layouts (all bytes, stored in `social_accounts.wrapped_data_key` / `credential_sealed`):
//! - wrapped data key: `0x02 || master key id (4) || nonce (24) || ciphertext (32 + 16)`
//! - credential: `0x10 || nonce (24) || ciphertext (len + 16)`
//! - TOTP secret: `0x01 || master key id (4) || nonce (24) || ciphertext`
//!
//! The master keys come from a keyring ([`Keyring`]): the primary one wraps and seals; the others
//! (kept only while a rotation is in progress) open what they sealed. When the keyring comes
//! from a key file, the vault notices when the file was replaced (`steward admin
//! rotate-master-key` writes it atomically) and reloads it — before wrapping anything new, and
//! when it meets a key id it does not know — so a server started before a rotation keeps working
//! through it and after it, without a restart.
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use steward_domain::ids::{AccountId, UserId};

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use zeroize::Zeroizing;

use crate::config::MasterKeySource;
use crate::crypto::{KeyError, Keyring, Sealer, random_array};

const WRAP_VERSION: u8 = 2;
const CREDENTIAL_VERSION: u8 = 0x10;
const WRAP_PURPOSE: &str = "steward.wrap.v1";
const SEAL_PURPOSE: &str = "steward.seal.v1";
const SEAL_VERSION: u8 = 1;

/// One account's data key. Wiped from memory when dropped; never printed.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// The credential as stored: the wrapped data key and the credential sealed under it.
pub struct SealedCredential {
    pub wrapped_data_key: Vec<u8>,
    pub credential: Vec<u8>,
}

/// The ciphers of one keyring.
struct Keys {
    /// Wraps data keys.
    wrapper: Sealer,
    /// Seals small secrets (TOTP), and opens credentials stored before data keys existed.
    sealer: Sealer,
}

impl Keys {
    fn new(ring: &Keyring) -> Self {
        Self {
            wrapper: Sealer::for_purpose(ring.keys(), WRAP_PURPOSE, WRAP_VERSION),
            sealer: Sealer::for_purpose(ring.keys(), SEAL_PURPOSE, SEAL_VERSION),
        }
    }
}

/// What identifies one version of the key file: a replacement (rename) changes it.
#[derive(Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(path: &std::path::Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self { len: meta.len(), modified: meta.modified().ok(), inode })
    }
}

pub struct Vault {
    /// The key file, when the keys come from one (then they are reloaded when it changes).
    file: Option<PathBuf>,
    keys: RwLock<Arc<Keys>>,
    stamp: Mutex<Option<FileStamp>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("file", &self.file).finish_non_exhaustive()
    }
}

impl Vault {
    /// Loads the keyring from `STEWARD_MASTER_KEY` or the key file (created 0600 when absent).
    pub fn load(source: &MasterKeySource) -> Result<Self, KeyError> {
        let file = match source {
            MasterKeySource::File(path) => Some(path.clone()),
            MasterKeySource::Inline(_) => None,
        };
        let stamp = file.as_deref().and_then(FileStamp::of);
        let ring = Keyring::load(source)?;
        let stamp = stamp.or_else(|| file.as_deref().and_then(FileStamp::of));
        Ok(Self { file, keys: RwLock::new(Arc::new(Keys::new(&ring))), stamp: Mutex::new(stamp) })
    }

    /// A vault over fixed keys (no file to follow).
    #[must_use]
    pub fn from_keyring(ring: &Keyring) -> Self {
        Self { file: None, keys: RwLock::new(Arc::new(Keys::new(ring))), stamp: Mutex::new(None) }
    }

    fn current(&self) -> Arc<Keys> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reloads the keyring if the key file was replaced since it was read. Cheap (one `stat`)
    /// when it was not. A file that cannot be read leaves the loaded keys in place.
    pub fn refresh(&self) {
        let Some(path) = self.file.as_deref() else { return };
        let mut stamp = self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
        let now = FileStamp::of(path);
        if now.is_none() || *stamp == now {
            return;
        }
        match Keyring::read_file(path) {
            Ok(Some(ring)) => {
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Keys::new(&ring));
                *stamp = now;
                tracing::info!(keys = ring.keys().len(), "master key file changed; keys reloaded");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "master key file changed but cannot be used; keeping the loaded keys"),
        }
    }

    /// The keys, reloaded first if `blob` names a key id they do not know.
    fn keys_for(&self, blob: &[u8], pick: impl Fn(&Keys) -> &Sealer) -> Arc<Keys> {
        let keys = self.current();
        if pick(&keys).knows(blob) {
            return keys;
        }
        self.refresh();
        self.current()
    }

    /// The id of the master key that wraps and seals now (not secret: a fingerprint).
    #[must_use]
    pub fn primary_key_id(&self) -> [u8; 4] {
        self.current().wrapper.primary_key_id()
    }

    #[must_use]
    pub fn new_data_key() -> DataKey {
        DataKey(Zeroizing::new(random_array()))
    }

    /// The data key sealed under the primary master key, bound to its account.
    #[must_use]
    pub fn wrap(&self, account_id: &AccountId, data_key: &DataKey) -> Vec<u8> {
        self.refresh();
        self.current().wrapper.seal(&data_key_aad(account_id), &*data_key.0)
    }

    /// The account's data key, from its wrapped form under whichever master key it names.
    pub fn unwrap(&self, account_id: &AccountId, wrapped: &[u8]) -> Result<DataKey, KeyError> {
        let keys = self.keys_for(wrapped, |k| &k.wrapper);
        let bytes = keys.wrapper.open(&data_key_aad(account_id), wrapped)?;
        let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::Unseal)?;
        Ok(DataKey(Zeroizing::new(key)))
    }

    /// The master key id a wrapped data key or sealed secret names, if it is one of ours.
    #[must_use]
    pub fn key_id_of(&self, blob: &[u8]) -> Option<[u8; 4]> {
        let keys = self.current();
        keys.wrapper.key_id_of(blob).or_else(|| keys.sealer.key_id_of(blob))
    }

    /// `plaintext` sealed under `data_key`, bound to the account.
    #[must_use]
    pub fn seal_credential(account_id: &AccountId, data_key: &DataKey, plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(&(*data_key.0).into());
        let nonce: [u8; 24] = random_array();
        let ct = cipher
            .encrypt(&nonce.into(), Payload { msg: plaintext, aad: credential_aad(account_id).as_bytes() })
            // Encryption only fails beyond 2^38 bytes; request bodies are limited to 1 MiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + 24 + ct.len());
        out.push(CREDENTIAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open_credential(
        account_id: &AccountId,
        data_key: &DataKey,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if sealed.len() < 1 + 24 + 16 || sealed[0] != CREDENTIAL_VERSION {
            return Err(KeyError::Unseal);
        }
        let cipher = XChaCha20Poly1305::new(&(*data_key.0).into());
        let nonce: [u8; 24] = sealed[1..25].try_into().map_err(|_| KeyError::Unseal)?;
        cipher
            .decrypt(&nonce.into(), Payload { msg: &sealed[25..], aad: credential_aad(account_id).as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Unseal)
    }

    /// A new account's credential: a fresh data key, wrapped, and the credential sealed under it.
    #[must_use]
    pub fn seal_new_credential(&self, account_id: &AccountId, plaintext: &[u8]) -> SealedCredential {
        let data_key = Self::new_data_key();
        SealedCredential {
            wrapped_data_key: self.wrap(account_id, &data_key),
            credential: Self::seal_credential(account_id, &data_key, plaintext),
        }
    }

    /// Opens a stored credential. Without a wrapped data key it is one stored before the vault
    /// existed, sealed directly under the master key (rotation upgrades those).
    pub fn open_stored_credential(
        &self,
        account_id: &AccountId,
        wrapped_data_key: Option<&[u8]>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match wrapped_data_key {
            Some(wrapped) => Self::open_credential(account_id, &self.unwrap(account_id, wrapped)?, sealed),
            None => self.open(&credential_aad(account_id), sealed),
        }
    }

    /// Seals a small secret of our own (a TOTP secret) under the primary master key.
    #[must_use]
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        self.refresh();
        self.current().sealer.seal(aad, plaintext)
    }

    /// Opens what [`Vault::seal`] sealed, under whichever master key it names.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        self.keys_for(sealed, |k| &k.sealer).sealer.open(aad, sealed)
    }

    /// Whether `blob` (a wrapped data key or a sealed secret) was made under another master key
    /// than the primary one.
    #[must_use]
    pub fn is_stale(&self, blob: &[u8]) -> bool {
        self.key_id_of(blob).is_none_or(|id| id != self.primary_key_id())
    }

    /// A wrapped data key re-wrapped under the primary master key (the credential is untouched).
    pub fn rewrap(&self, account_id: &AccountId, wrapped: &[u8]) -> Result<Vec<u8>, KeyError> {
        let data_key = self.unwrap(account_id, wrapped)?;
        Ok(self.current().wrapper.seal(&data_key_aad(account_id), &*data_key.0))
    }

    /// A sealed secret re-sealed under the primary master key.
    pub fn reseal(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        let plaintext = self.open(aad, sealed)?;
        Ok(self.current().sealer.seal(aad, &plaintext))
    }
}

#[must_use]
pub fn credential_aad(account_id: &AccountId) -> String {
    format!("accounts:{account_id}:credential")
}

/// Steward's OAuth client secret on a Mastodon instance, sealed directly under the master key.
#[must_use]
pub fn mastodon_app_secret_aad(instance: &str) -> String {
    format!("mastodon_apps:{instance}:client_secret")
}

#[must_use]
pub fn data_key_aad(account_id: &AccountId) -> String {
    format!("accounts:{account_id}:data-key")
}

/// A user's TOTP secret, sealed directly under the master key.
#[must_use]
pub fn totp_secret_aad(user_id: &UserId) -> String {
    format!("users:{user_id}:totp")
}

/// A user's alert webhook secret, sealed directly under the master key.
#[must_use]
pub fn webhook_secret_aad(user_id: &UserId) -> String {
    format!("users:{user_id}:webhook-secret")
}

pub mod rotation;

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::crypto::MasterKey;

    fn key(b: u8) -> MasterKey {
        MasterKey::from_base64(&STANDARD.encode([b; 32])).expect("key")
    }

    fn vault(keys: &[u8]) -> Vault {
        Vault::from_keyring(&Keyring::from_keys(keys.iter().map(|b| key(*b)).collect()).expect("ring"))
    }

    const TOKEN: &[u8] = br#"{"access_token":"MARKER-0123456789"}"#;

    #[test]
    fn a_credential_round_trips_through_its_data_key() {
        let v = vault(&[1]);
        let s = v.seal_new_credential(&AccountId::from("acc-1"), TOKEN);
        let opened = v
            .open_stored_credential(&AccountId::from("acc-1"), Some(&s.wrapped_data_key), &s.credential)
            .expect("open");
        assert_eq!(opened.as_slice(), TOKEN);
        assert!(!s.credential.windows(TOKEN.len()).any(|w| w == TOKEN));
        assert_eq!(s.wrapped_data_key.len(), 1 + 4 + 24 + 32 + 16);
        assert_eq!(s.credential.len(), 1 + 24 + TOKEN.len() + 16);
    }

    #[test]
    fn each_account_gets_its_own_data_key() {
        let v = vault(&[1]);
        let a = v.seal_new_credential(&AccountId::from("acc-1"), TOKEN);
        let b = v.seal_new_credential(&AccountId::from("acc-2"), TOKEN);
        assert_ne!(a.wrapped_data_key, b.wrapped_data_key);
        let ka = v.unwrap(&AccountId::from("acc-1"), &a.wrapped_data_key).expect("a");
        let kb = v.unwrap(&AccountId::from("acc-2"), &b.wrapped_data_key).expect("b");
        assert_ne!(*ka.0, *kb.0);
        // b's credential does not open with a's key even under b's associated data.
        assert!(Vault::open_credential(&AccountId::from("acc-2"), &ka, &b.credential).is_err());
    }

    #[test]
    fn a_moved_ciphertext_or_wrapped_key_does_not_open() {
        let v = vault(&[1]);
        let a = v.seal_new_credential(&AccountId::from("acc-1"), TOKEN);
        // The whole pair copied to another row: both are bound to acc-1.
        assert!(v.open_stored_credential(&AccountId::from("acc-2"), Some(&a.wrapped_data_key), &a.credential).is_err());
        assert!(v.unwrap(&AccountId::from("acc-2"), &a.wrapped_data_key).is_err());
        let ka = v.unwrap(&AccountId::from("acc-1"), &a.wrapped_data_key).expect("a");
        assert!(Vault::open_credential(&AccountId::from("acc-2"), &ka, &a.credential).is_err());
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let v = vault(&[1]);
        let a = v.seal_new_credential(&AccountId::from("acc-1"), TOKEN);
        for i in 0..a.wrapped_data_key.len() {
            let mut w = a.wrapped_data_key.clone();
            w[i] ^= 0x01;
            assert!(
                v.open_stored_credential(&AccountId::from("acc-1"), Some(&w), &a.credential).is_err(),
                "wrapped byte {i}"
            );
        }
        for i in 0..a.credential.len() {
            let mut c = a.credential.clone();
            c[i] ^= 0x80;
            assert!(
                v.open_stored_credential(&AccountId::from("acc-1"), Some(&a.wrapped_data_key), &c).is_err(),
                "credential byte {i}"
            );
        }
        assert!(
            v.open_stored_credential(&AccountId::from("acc-1"), Some(&a.wrapped_data_key), &a.credential[..20])
                .is_err()
        );
    }

    #[test]
    fn rotation_rewraps_under_the_new_key_and_the_old_one_alone_no_longer_opens() {
        let old = vault(&[1]);
        let a = old.seal_new_credential(&AccountId::from("acc-1"), TOKEN);
        let totp = old.seal("users:u1:totp", b"JBSWY3DPEHPK3PXP");
        // During the rotation: new primary, old kept.
        let both = vault(&[2, 1]);
        assert!(both.is_stale(&a.wrapped_data_key) && both.is_stale(&totp));
        assert_eq!(
            both.open_stored_credential(&AccountId::from("acc-1"), Some(&a.wrapped_data_key), &a.credential)
                .expect("old")
                .as_slice(),
            TOKEN
        );
        let rewrapped = both.rewrap(&AccountId::from("acc-1"), &a.wrapped_data_key).expect("rewrap");
        let resealed = both.reseal("users:u1:totp", &totp).expect("reseal");
        assert!(!both.is_stale(&rewrapped) && !both.is_stale(&resealed));
        assert_eq!(both.key_id_of(&rewrapped), Some(key(2).fingerprint()));
        // After --finish: only the new key.
        let new = vault(&[2]);
        assert_eq!(
            new.open_stored_credential(&AccountId::from("acc-1"), Some(&rewrapped), &a.credential)
                .expect("new")
                .as_slice(),
            TOKEN
        );
        assert_eq!(new.open("users:u1:totp", &resealed).expect("totp").as_slice(), b"JBSWY3DPEHPK3PXP");
        assert!(
            new.unwrap(&AccountId::from("acc-1"), &a.wrapped_data_key).is_err(),
            "the old wrapping needs the old key"
        );
        assert!(old.unwrap(&AccountId::from("acc-1"), &rewrapped).is_err(), "the old key cannot open the new wrapping");
        assert!(old.open("users:u1:totp", &resealed).is_err());
    }

    #[test]
    fn credentials_stored_before_the_vault_still_open() {
        let v = vault(&[1]);
        let legacy = Sealer::new(&key(1)).seal(&credential_aad(&AccountId::from("acc-1")), TOKEN);
        assert_eq!(
            v.open_stored_credential(&AccountId::from("acc-1"), None, &legacy).expect("legacy").as_slice(),
            TOKEN
        );
        assert!(v.open_stored_credential(&AccountId::from("acc-2"), None, &legacy).is_err());
    }

    #[test]
    fn a_vault_following_a_key_file_picks_up_a_rotation() {
        let dir = std::env::temp_dir().join(format!("steward-vault-test-{}-{}", std::process::id(), line!()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("master.key");
        let server = Vault::load(&MasterKeySource::File(path.clone())).expect("create");
        let before = server.seal_new_credential(&AccountId::from("acc-1"), TOKEN);
        let old = Keyring::read_file(&path).expect("read").expect("exists").into_keys();
        // What `rotate-master-key` does: a new primary, the old key kept, file replaced.
        let mut keys = vec![MasterKey::generate()];
        keys.extend(old);
        Keyring::from_keys(keys).expect("ring").write_file(&path).expect("write");
        let rotator = Vault::load(&MasterKeySource::File(path.clone())).expect("load");
        let rewrapped = rotator.rewrap(&AccountId::from("acc-1"), &before.wrapped_data_key).expect("rewrap");
        // The server never restarted, yet opens the new wrapping and wraps new keys under the new key.
        assert_eq!(
            server
                .open_stored_credential(&AccountId::from("acc-1"), Some(&rewrapped), &before.credential)
                .expect("open")
                .as_slice(),
            TOKEN
        );
        let after = server.seal_new_credential(&AccountId::from("acc-2"), TOKEN);
        assert!(!rotator.is_stale(&after.wrapped_data_key));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(Keyring::parse(&text).expect("parse").keys().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_output_shows_no_key() {
        let k = Vault::new_data_key();
        assert_eq!(format!("{k:?}"), "DataKey(..)");
        assert!(!format!("{:?}", vault(&[1])).contains("1, 1"));
    }
}

//! Password hashing with Argon2id, off the async runtime (a hash takes tens of milliseconds
//! and much memory by design).
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::config::PasswordHashCost;

#[derive(Clone)]
pub struct Passwords {
    cost: PasswordHashCost,
    /// A hash of a random password at the same cost, verified against when the email is
    /// unknown, so an unknown email takes as long to refuse as a wrong password.
    dummy_hash: String,
}

impl Passwords {
    pub fn new(cost: PasswordHashCost) -> anyhow::Result<Self> {
        let random = Zeroizing::new(crate::crypto::new_token(""));
        let dummy_hash = hash_with(cost, random.as_bytes())?;
        Ok(Self { cost, dummy_hash })
    }

    pub async fn hash(&self, password: Zeroizing<String>) -> anyhow::Result<String> {
        let cost = self.cost;
        tokio::task::spawn_blocking(move || hash_with(cost, password.as_bytes())).await?
    }

    /// Checks `password` against `stored` (or against the dummy hash when there is no user).
    /// Always false without a user.
    pub async fn verify(&self, password: Zeroizing<String>, stored: Option<String>) -> bool {
        let has_user = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let ok = tokio::task::spawn_blocking(move || {
            // The stored string carries its own parameters; verification uses those.
            Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok()
        })
        .await
        .unwrap_or(false);
        ok && has_user
    }
}

fn hash_with(cost: PasswordHashCost, password: &[u8]) -> anyhow::Result<String> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_their_parameters() {
        let p = Passwords::new(PasswordHashCost::TEST).expect("init");
        let h = p.hash(Zeroizing::new("correct horse battery".into())).await.expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert!(p.verify(Zeroizing::new("correct horse battery".into()), Some(h.clone())).await);
        assert!(!p.verify(Zeroizing::new("wrong horse battery".into()), Some(h)).await);
        assert!(!p.verify(Zeroizing::new("anything at all".into()), None).await);
    }

    #[test]
    fn production_cost_is_owasp() {
        let h = hash_with(PasswordHashCost::OWASP, b"some password").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }
}

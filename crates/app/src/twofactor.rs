//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, ±1 step of clock skew) and recovery codes.
//! A code is accepted once: the last used time step is stored and only later steps pass.
use steward_store::{Tx, UserRow};
use totp_rs::{Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::crypto::{random_array, sha256};
use crate::error::{AppError, AppResult};
use crate::services::Services;

pub const RECOVERY_CODE_COUNT: usize = 10;
const ISSUER: &str = "Steward";

pub use crate::vault::totp_secret_aad as secret_aad;

pub fn build_totp(secret: &[u8], email: &str) -> AppResult<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(email.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AppError::internal(anyhow::anyhow!("totp: {e}")))
}

/// A fresh 160-bit secret (RFC 4226's recommended size).
#[must_use]
pub fn new_secret() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(random_array::<20>().to_vec())
}

#[must_use]
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// Characters of a recovery code: 24 from an alphabet of 32 without look-alikes, 5 bits each,
/// so a code carries 120 bits (at least 112, as ASVS asks of a secret stored with a plain hash).
pub const RECOVERY_CODE_CHARS: usize = 24;
const _: () = assert!(RECOVERY_CODE_CHARS * 5 >= 112, "a recovery code carries at least 112 bits");

/// Ten single-use codes like `K7QX-2M9P-TD4W-8RZA-NC3H-YB6E`: 120 bits each, from an alphabet
/// without look-alike characters. Returned once; only their hashes are kept. Codes issued before
/// (12 characters, 60 bits) are hashed the same way and keep working until used or regenerated.
#[must_use]
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            // 256 is a multiple of 32: taking each byte modulo 32 is unbiased.
            let bytes = random_array::<RECOVERY_CODE_CHARS>();
            let chars: Vec<char> = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
            chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// Codes are compared without dashes, spaces or case, as people retype them.
#[must_use]
pub fn recovery_code_hash(code: &str) -> Vec<u8> {
    let normalized: String = code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
    sha256(normalized.as_bytes())
}

fn is_totp_code(code: &str) -> bool {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit())
}

/// The time step a code matches for `secret` at `now_secs`, if any.
pub fn matching_step(secret: &[u8], email: &str, code: &str, now_secs: u64) -> AppResult<Option<i64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let totp = build_totp(secret, email)?;
    Ok(totp.check(&code, now_secs).and_then(|step| i64::try_from(step).ok()))
}

/// Checks a second factor for a user with 2FA on: a TOTP code (consumed atomically in `tx`)
/// or an unused recovery code (marked used in `tx`). Returns which kind was accepted.
pub async fn verify_second_factor(
    state: &Services,
    tx: &mut Tx,
    user: &UserRow,
    code: &str,
) -> AppResult<Option<&'static str>> {
    if is_totp_code(code) {
        let Some(sealed) = user.totp_secret_sealed.as_deref() else { return Ok(None) };
        let secret = state.sealer.open(&secret_aad(&user.id), sealed).map_err(AppError::internal)?;
        let now_secs = u64::try_from(state.clock.now().as_second()).unwrap_or(0);
        let Some(step) = matching_step(&secret, &user.email, code, now_secs)? else { return Ok(None) };
        return Ok(tx.claim_totp_step(&user.id, step).await?.then_some("totp"));
    }
    let used = tx.use_recovery_code(&user.id, &recovery_code_hash(code), state.clock.now_us()).await?;
    Ok(used.then_some("recovery_code"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors_match_at_six_digits() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890"; 8-digit values truncated to 6.
        let seed = b"12345678901234567890";
        for (time, code) in
            [(59u64, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            let step = matching_step(seed, "a@b.co", code, time).expect("ok");
            assert_eq!(step, Some(i64::try_from(time / 30).expect("fits")), "t={time}");
        }
    }

    #[test]
    fn one_step_of_skew_is_allowed_and_no_more() {
        let seed = b"12345678901234567890";
        let at = 1_111_111_109u64;
        assert!(matching_step(seed, "a@b.co", "081804", at + 30).expect("ok").is_some());
        assert!(matching_step(seed, "a@b.co", "081804", at - 30).expect("ok").is_some());
        assert!(matching_step(seed, "a@b.co", "081804", at + 61).expect("ok").is_none());
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalized() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        for c in &codes {
            let chars: Vec<char> = c.chars().filter(|ch| *ch != '-').collect();
            assert_eq!(chars.len(), RECOVERY_CODE_CHARS, "{c}");
            assert!(chars.iter().all(|ch| "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(*ch)), "{c}");
            assert_eq!(c.split('-').count(), 6, "{c}");
        }
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        let c = &codes[0];
        assert_eq!(recovery_code_hash(c), recovery_code_hash(&c.to_lowercase().replace('-', " ")));
        assert!(!is_totp_code(c));
        assert!(is_totp_code("123 456"));
    }
}

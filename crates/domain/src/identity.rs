//! Rules for who may have a Steward login: email shape and password policy.

/// Why a new password is refused. The messages are shown to the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    #[error("must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
    #[error("is one of the most common passwords; choose something less guessable")]
    Common,
    #[error("must not be your email address")]
    SameAsEmail,
}

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Common passwords of 12 or more characters (shorter ones fail the length rule anyway),
/// taken from public breach-frequency lists. Compared case-insensitively.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789012345",
    "1234567890qwerty",
    "123123123123",
    "111111111111",
    "000000000000",
    "123456123456",
    "121212121212",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "password1234567",
    "qwertyuiop12",
    "qwertyuiop123",
    "qwerty123456",
    "qwertyqwerty",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "qazwsxedcrfv",
    "zaq12wsxcde3",
    "asdfghjkl123",
    "zxcvbnm12345",
    "iloveyou1234",
    "letmein12345",
    "welcome12345",
    "welcome123456",
    "administrator",
    "admin1234567",
    "changeme1234",
    "trustno11234",
    "sunshine1234",
    "football1234",
    "baseball1234",
    "superman1234",
    "princess1234",
    "dragon123456",
    "monkey123456",
    "abcdefghijkl",
    "abc123abc123",
    "abcd1234abcd",
    "aaaaaaaaaaaa",
    "qwertyuiopasdfgh",
    "correcthorsebatterystaple",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "mypassword123",
    "linkedin1234",
    "linkedin12345",
    "tiktok123456",
    "instagram123",
    "facebook1234",
    "steward12345",
    "socialmedia1",
    "socialmedia123",
    "marketing123",
    "company12345",
    "summer2024!!",
    "winter2024!!",
    "spring2025!!",
    "autumn2025!!",
    "summer2026!!",
    "january12345",
    "password2024",
    "password2025",
    "password2026",
    "welcome2026!",
];

/// Checks a password someone is choosing. `email` is the account's email address.
pub fn validate_new_password(password: &str, email: &str) -> Result<(), PasswordPolicyError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) || is_trivial_pattern(&lower) {
        return Err(PasswordPolicyError::Common);
    }
    if lower.trim() == email.trim().to_lowercase() {
        return Err(PasswordPolicyError::SameAsEmail);
    }
    Ok(())
}

/// One repeated character, or a run of consecutive digits/letters ("123456789012…", "abcdefgh…").
fn is_trivial_pattern(p: &str) -> bool {
    let bytes = p.as_bytes();
    let Some(first) = bytes.first() else { return true };
    if bytes.iter().all(|b| b == first) {
        return true;
    }
    let ascending = bytes.windows(2).all(|w| w[1] == w[0].wrapping_add(1) || (w[0] == b'9' && w[1] == b'0'));
    let descending = bytes.windows(2).all(|w| w[1].wrapping_add(1) == w[0] || (w[0] == b'0' && w[1] == b'9'));
    ascending || descending
}

/// Why an email address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("is not a valid email address")]
    Invalid,
    #[error("is too long (at most 254 characters)")]
    TooLong,
}

/// Trims and lower-cases an email address after checking its shape: one `@`, a non-empty
/// local part, a domain with a dot, no spaces or control characters. Deliverability is
/// proved by invitations and mail, not here.
pub fn normalize_email(raw: &str) -> Result<String, EmailError> {
    let email = raw.trim();
    if email.len() > 254 {
        return Err(EmailError::TooLong);
    }
    let (local, domain) = email.split_once('@').ok_or(EmailError::Invalid)?;
    let valid = !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && email.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if !valid {
        return Err(EmailError::Invalid);
    }
    Ok(email.to_lowercase())
}

/// Display names are shown to other people: 1–100 characters, no control characters.
pub fn validate_display_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.chars().count() > 100 {
        return Err("must be at most 100 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_are_12_to_1024_characters() {
        assert_eq!(validate_new_password("short-pass1", "a@b.co"), Err(PasswordPolicyError::TooShort));
        assert_eq!(validate_new_password("long-enough-1", "a@b.co"), Ok(()));
        // Characters, not bytes: 12 multi-byte characters pass.
        assert_eq!(validate_new_password("ééééééééééé1", "a@b.co"), Ok(()));
        assert_eq!(validate_new_password(&"x1".repeat(512), "a@b.co"), Ok(()));
        assert_eq!(validate_new_password(&"x1".repeat(513), "a@b.co"), Err(PasswordPolicyError::TooLong));
    }

    #[test]
    fn common_and_trivial_passwords_are_refused() {
        for p in
            ["Password1234", "QWERTYUIOP123", "123456789012", "aaaaaaaaaaaaaaa", "abcdefghijklmnop", "9876543210987"]
        {
            assert_eq!(validate_new_password(p, "a@b.co"), Err(PasswordPolicyError::Common), "{p}");
        }
    }

    #[test]
    fn the_email_is_not_a_password() {
        assert_eq!(
            validate_new_password("Olivia.Owner@example.com", "olivia.owner@example.com"),
            Err(PasswordPolicyError::SameAsEmail)
        );
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Olivia@Example.COM "), Ok("olivia@example.com".into()));
        for bad in [
            "",
            "no-at",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@@example.com",
            "a@.example.com",
            "a@example..com",
        ] {
            assert_eq!(normalize_email(bad), Err(EmailError::Invalid), "{bad}");
        }
        assert_eq!(normalize_email(&format!("{}@example.com", "a".repeat(250))), Err(EmailError::TooLong));
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(validate_display_name("  Eddie  "), Ok("Eddie".into()));
        assert!(validate_display_name(" ").is_err());
        assert!(validate_display_name(&"x".repeat(101)).is_err());
        assert!(validate_display_name("a\u{7}b").is_err());
    }
}

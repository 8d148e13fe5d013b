//! Device cookies (OWASP's defence against lockouts): a signed note that this client has
//! signed in to this person's account before. Set by every successful sign-in; a client
//! presenting a valid one for the account is counted on its own, not with unknown clients.
use crate::crypto::{constant_time_eq, hmac_sha256, random_array};
use crate::services::Services;
use steward_domain::ids::UserId;

/// A device cookie that checked out: whose it is and which device it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub user_id: String,
    pub device_id: String,
}

fn mac(s: &Services, user_id: &UserId, device_id: &str) -> String {
    // Domain-separated from the user-agent fingerprints keyed by the same subkey.
    hex::encode(hmac_sha256(&s.device_key, format!("device-cookie.v1\n{user_id}\n{device_id}").as_bytes()))
}

/// A new device id: 128 random bits.
#[must_use]
pub fn new_device_id() -> String {
    hex::encode(random_array::<16>())
}

/// The cookie value for `user_id` on `device_id`: `v1.<user>.<device>.<hmac>`.
#[must_use]
pub fn issue(s: &Services, user_id: &UserId, device_id: &str) -> String {
    format!("v1.{user_id}.{device_id}.{}", mac(s, user_id, device_id))
}

/// The device a cookie names, if it was issued by this server (under this master key).
#[must_use]
pub fn open(s: &Services, value: &str) -> Option<Device> {
    let mut parts = value.split('.');
    let (Some("v1"), Some(user_id), Some(device_id), Some(sent), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if user_id.is_empty() || device_id.len() != 32 {
        return None;
    }
    constant_time_eq(sent.as_bytes(), mac(s, &UserId::new(user_id.to_string()), device_id).as_bytes())
        .then(|| Device { user_id: user_id.to_string(), device_id: device_id.to_string() })
}

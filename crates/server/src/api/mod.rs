//! HTTP handlers, one module per area of API.md.
pub mod accounts;
pub mod activity;
pub mod alerts;
pub mod connect;
pub mod engagement;
pub mod identity;
pub mod lockdown;
pub mod me;
pub mod members;
pub mod ops;
pub mod pages;
pub mod posts;

use serde::Deserialize;

pub use steward_app::paging::Page;

/// Clamps `?limit=` to API.md's bounds, refusing nonsense instead of guessing.
pub fn page_limit(limit: Option<i64>) -> Result<i64, crate::error::ApiError> {
    Ok(steward_app::paging::page_limit(limit)?)
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`) in PATCH bodies.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::<T>::deserialize(deserializer)?))
}

/// Parses an RFC 3339 instant that must lie in the future.
pub fn future_instant(field: &str, raw: &str, now: jiff::Timestamp) -> Result<i64, crate::error::FieldError> {
    match raw.parse::<jiff::Timestamp>() {
        Ok(t) if t > now => Ok(t.as_microsecond()),
        Ok(_) => Err(crate::error::FieldError::new(field, "must be in the future")),
        Err(_) => Err(crate::error::FieldError::new(field, "must be an RFC 3339 time such as 2027-01-31T17:00:00Z")),
    }
}

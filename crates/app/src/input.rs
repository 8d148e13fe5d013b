//! Shapes request input shares across use cases: an absent field versus an explicit `null`
//! in a partial update, and instants that must lie in the future.
use serde::Deserialize;

use crate::error::FieldError;

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`) in PATCH bodies.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::<T>::deserialize(deserializer)?))
}

/// Parses an RFC 3339 instant that must lie in the future.
pub fn future_instant(field: &str, raw: &str, now: jiff::Timestamp) -> Result<i64, FieldError> {
    match raw.parse::<jiff::Timestamp>() {
        Ok(t) if t > now => Ok(t.as_microsecond()),
        Ok(_) => Err(FieldError::new(field, "must be in the future")),
        Err(_) => Err(FieldError::new(field, "must be an RFC 3339 time such as 2027-01-31T17:00:00Z")),
    }
}

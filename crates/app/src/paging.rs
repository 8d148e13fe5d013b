//! How long a page of a list may be: API.md's bounds for `limit`, refused rather than guessed.
use crate::error::{AppError, AppResult};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The page length asked for, within bounds (none asked: the default).
pub fn page_limit(limit: Option<i64>) -> AppResult<i64> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::validation("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    }
}

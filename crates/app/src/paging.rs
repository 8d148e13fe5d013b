//! Lists in pages: the page a list answers, and the bounds of how long a page may be.
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

/// A page of a list: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// Clamps `?limit=` to API.md's bounds, refusing nonsense instead of guessing.
pub fn page_limit(limit: Option<i64>) -> AppResult<i64> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::validation("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    }
}

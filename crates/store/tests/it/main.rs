//! The store's integration tests: one binary (each extra test binary links the store again).
//! Tests that need PostgreSQL create their own database on the server named by
//! `STEWARD_TEST_POSTGRES_URL`, and skip without it (fail under `STEWARD_REQUIRE_ALL=1`, as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod busy;
mod group_commit;
mod head_ahead;
mod lock_order;
mod schema_parity;
mod store_errors;

//! Helpers for tests that need a fresh, isolated PostgreSQL database.
use crate::{Result, StoreError};
use sqlx::{AssertSqlSafe, Connection};

/// The PostgreSQL server tests may create databases on (`STEWARD_TEST_POSTGRES_URL`), or None
/// when none is configured, after printing "skipped on PostgreSQL: …" (CI fails on that line).
/// Under `STEWARD_REQUIRE_ALL=1` a missing server fails the test instead of skipping it.
#[must_use]
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("STEWARD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("STEWARD_REQUIRE_ALL").as_deref() != Ok("1"),
                "STEWARD_REQUIRE_ALL=1 but STEWARD_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipped on PostgreSQL: STEWARD_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Creates a new, empty database next to the one `admin_url` names and returns its URL.
/// The name is random, so concurrent tests never share state.
pub async fn create_postgres_database(admin_url: &str, prefix: &str) -> Result<String> {
    let suffix: String = uuid_like();
    let name = format!("{prefix}_{suffix}");
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await?;
    conn.close().await?;
    replace_database_name(admin_url, &name)
}

/// Drops a database created by [`create_postgres_database`] (best effort).
pub async fn drop_postgres_database(admin_url: &str, url: &str) {
    let Some(name) = url.rsplit('/').next().map(|n| n.split('?').next().unwrap_or(n).to_string()) else { return };
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

/// Appends `events` to the chain in one transaction with multi-row inserts, without alert
/// detection: for benchmarks that need a million events in seconds. Returns the new head seq.
pub async fn append_audit_bulk(store: &crate::Store, events: &[crate::NewAuditEvent]) -> Result<i64> {
    let mut tx = store.begin().await?;
    let head = tx.lock_audit_head().await?;
    let (seq, _) = tx.insert_chained(head, events, 500).await?;
    tx.commit().await?;
    Ok(seq)
}

fn replace_database_name(url: &str, name: &str) -> Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").ok_or(StoreError::UnsupportedUrl)? + 3;
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}{:x}{:x}", nanos, std::process::id(), n)
}

/// Refreshes the query planner's statistics, as PostgreSQL's autovacuum does after a bulk load
/// (benchmarks that load a million rows and query them at once).
pub async fn analyze(store: &crate::Store) -> Result<()> {
    crate::on_pool!(store, |c| sqlx::query("ANALYZE").execute(c).await.map(|_| ()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::replace_database_name;

    #[test]
    fn swaps_the_database_name_and_keeps_the_query() {
        assert_eq!(
            replace_database_name("postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "x").ok(),
            Some("postgres://postgres@127.0.0.1:5432/x?sslmode=disable".to_string())
        );
        assert_eq!(replace_database_name("postgres://h", "x").ok(), Some("postgres://h/x".to_string()));
    }
}

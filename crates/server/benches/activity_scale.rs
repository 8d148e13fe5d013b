//! Activity and the audit chain at scale (issue #6), through the real server over HTTP:
//!
//! ```text
//! cargo bench -p steward-server --bench activity_scale            # SQLite, 1,000,000 events
//! STEWARD_BENCH_EVENTS=200000 STEWARD_BENCH_DATABASE_URL=postgres://… cargo bench …
//! ```
//!
//! 1. fills one account's activity with N chained events from 50 members over 30 days;
//! 2. p50/p95/max of `GET /accounts/{id}/activity?actor=…&since=…&until=…` (200 random queries);
//! 3. the whole log as CSV (streamed): time, bytes, and the process's resident memory before
//!    and at most during the export (sampled every 10 ms);
//! 4. `audit verify` over the whole chain: events/s.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::cast_precision_loss)]
use std::time::{Duration, Instant};

mod support;

use steward_app::audit_verify::verify_chain;
use steward_store::NewAuditEvent;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let n: usize = std::env::var("STEWARD_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let server = support::start(serde_json::json!({})).await;
    let (store, http, account) = (server.store.clone(), server.http.clone(), server.account.clone());
    let base = format!("{}/api/v1", server.origin);
    let token = server.login["token"].as_str().unwrap().to_string();

    // 1. Fill.
    let day = 86_400_000_000i64;
    let start_at = jiff::Timestamp::now().as_microsecond() - 30 * day;
    let span = 30 * day;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n {
        let actor = i % 50;
        batch.push(NewAuditEvent {
            id: format!("00000000-0000-7000-8000-{i:012}"),
            at: start_at + (span / n as i64) * i as i64,
            actor_id: Some(format!("user-{actor:02}").into()),
            actor_email: Some(format!("member{actor:02}@example.com")),
            session_id: Some(format!("session-{actor:02}").into()),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0 (bench)".into()),
            action: ["posts.create", "members.update", "accounts.check", "posts.schedule"][i % 4].into(),
            target: Some(format!("post:{i}")),
            account_id: Some(account.as_str().into()),
            outcome: if i % 17 == 0 { "denied" } else { "allowed" }.into(),
            detail: r#"{"reason":"bench","status":403}"#.into(),
        });
        if batch.len() == 10_000 {
            steward_store::testing::append_audit_bulk(&store, &batch).await.unwrap();
            batch.clear();
        }
    }
    steward_store::testing::append_audit_bulk(&store, &batch).await.unwrap();
    // On PostgreSQL a table that grew to this size has planner statistics (autovacuum
    // analyses it); without them PostgreSQL sorted the account's events for each export page.
    // Steward never analyses SQLite, so neither does the bench.
    if store.backend() == steward_store::Backend::Postgres {
        steward_store::testing::analyze(&store).await.unwrap();
    }
    println!("filled {n} events in {:.1} s", started.elapsed().as_secs_f64());

    // 2. Queries with actor + time filters.
    let mut times = Vec::new();
    for q in 0..200u64 {
        let actor = (q * 7) % 50;
        let from = start_at + ((q * 104_729) % 28) as i64 * day;
        let since = jiff::Timestamp::from_microsecond(from).unwrap();
        let until = jiff::Timestamp::from_microsecond(from + day).unwrap();
        let url =
            format!("{base}/accounts/{account}/activity?actor=user-{actor:02}&since={since}&until={until}&limit=50");
        let t = Instant::now();
        let r = http.get(url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        times.push(t.elapsed());
        assert!(!v["items"].as_array().unwrap().is_empty());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "activity actor+time query: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms (200 queries)",
        ms(times[99]),
        ms(times[189]),
        ms(times[199])
    );

    // 3. CSV export of everything, streamed; resident memory sampled meanwhile.
    let before = rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler_peak = peak.clone();
    let sampler = tokio::spawn(async move {
        loop {
            sampler_peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let t = Instant::now();
    let mut r =
        http.get(format!("{base}/accounts/{account}/activity?format=csv")).bearer_auth(&token).send().await.unwrap();
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = r.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let export = t.elapsed();
    sampler.abort();
    println!(
        "CSV export: {} rows, {:.1} MB in {:.1} s; RSS before {} MiB, peak during {} MiB",
        lines - 1,
        bytes as f64 / 1e6,
        export.as_secs_f64(),
        before / 1024,
        peak.load(std::sync::atomic::Ordering::Relaxed) / 1024
    );

    // 4. Verify.
    let t = Instant::now();
    let verdict = verify_chain(&store, |_, _| {}).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!("audit verify: {verdict:?} in {secs:.2} s = {:.0} events/s", n as f64 / secs);
}

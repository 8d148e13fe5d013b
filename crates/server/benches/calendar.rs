//! The account calendar with 1,000 posts (issue #7, target ≤ 20 ms), through the real server
//! over HTTP, signed in with a session cookie like a browser:
//!
//! ```text
//! cargo bench -p steward-server --bench calendar                      # SQLite
//! STEWARD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench cargo bench -p steward-server --bench calendar
//! ```
//!
//! One account with `STEWARD_BENCH_POSTS` (default 1,000) scheduled posts, all in one week (the
//! worst case for the week view, which reads every one of them and shows twenty a day), plus as
//! many again a year later (which the range query must skip). Measures that week, its month (six
//! a day shown, the rest linked) and one of its days (the first hundred of that day's posts):
//! p50, p95 and max of 200 requests each, one at a time, and the page's size.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::cast_precision_loss)]
use std::time::{Duration, Instant};
use steward_domain::ids::PostId;

mod support;

use steward_store::{NewPost, PostStateWrite, ScheduleWrite};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let n: i64 = std::env::var("STEWARD_BENCH_POSTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let server = support::start(serde_json::json!({"time_zone": "Europe/Paris"})).await;
    let (base, store, http, cookie, account) = (
        server.origin.clone(),
        server.store.clone(),
        server.http.clone(),
        server.cookie.clone(),
        server.account.clone(),
    );
    let owner_id = server.login["user"]["id"].as_str().unwrap().to_string();

    // Posts in the week of Monday 8 March 2027 (Paris), and as many again in 2028, which the
    // range query must skip.
    let week_start: jiff::Timestamp = "2027-03-08T00:00:00+01:00".parse().unwrap();
    let day_us = 86_400_000_000i64;
    let started = Instant::now();
    let mut tx = store.begin().await.unwrap();
    let now = jiff::Timestamp::now().as_microsecond();
    for i in 0..2 * n {
        let id = steward_domain::ids::PostId::new(format!("00000000-0000-7000-8000-{i:012}"));
        let at = if i < n {
            week_start.as_microsecond() + 7 * day_us / n * i
        } else {
            week_start.as_microsecond() + 365 * day_us + 300 * day_us / n * (i - n)
        };
        let text =
            format!("Post number {i}: spring collection, new colours, and a discount for our newsletter readers.");
        tx.insert_post(NewPost {
            id: &id,
            account_id: &steward_domain::ids::AccountId::new(account.clone()),
            author_id: &steward_domain::ids::UserId::new(owner_id.clone()),
            title: None,
            text: &text,
            media: "[]",
            idempotency: None,
            now,
        })
        .await
        .unwrap();
        let write = PostStateWrite {
            state: "scheduled",
            schedule: ScheduleWrite::Set { at, by: &owner_id.as_str().into() },
            hold_reason: None,
            clear_approvals: false,
        };
        assert!(tx.apply_post_transition(&PostId::new(id.to_string()), "draft", 1, &write, now).await.unwrap());
    }
    tx.commit().await.unwrap();
    println!("filled {} posts ({n} in the week shown) in {:.1} s", 2 * n, started.elapsed().as_secs_f64());

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    // The week and month views read all of them and show some of each day; the day view reads
    // and shows that day's.
    for (name, query) in
        [("week", "view=week&date=2027-03-10"), ("month", "date=2027-03-10"), ("day", "view=day&date=2027-03-10")]
    {
        let url = format!("{base}/accounts/{account}/calendar?{query}");
        let mut times = Vec::with_capacity(200);
        let mut size = 0;
        for _ in 0..200 {
            let t = Instant::now();
            let r = http.get(&url).header("cookie", &cookie).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let html = r.text().await.unwrap();
            times.push(t.elapsed());
            size = html.len();
            let counted =
                if name == "day" { " posts in this view".to_string() } else { format!("{n} posts in this view") };
            assert!(html.contains(&counted), "the posts are counted");
        }
        times.sort();
        println!(
            "calendar {name} view: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms (200 requests), {size} B of HTML",
            ms(times[99]),
            ms(times[189]),
            ms(times[199])
        );
    }
}

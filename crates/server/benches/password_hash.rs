//! Time for one Argon2id password hash at the production parameters (m=19456 KiB, t=2, p=1).
//!
//! Run with `cargo bench -p steward-server --bench password_hash` (a plain `harness = false`
//! benchmark: std::time::Instant only, no timing assertions). Set `STEWARD_BENCH_ITERATIONS`
//! to change the number of hashes (default 20).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use steward_app::config::PasswordHashCost;
use steward_app::passwords::Passwords;
use zeroize::Zeroizing;

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let iterations: usize =
        std::env::var("STEWARD_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(20);
    let cost = PasswordHashCost::OWASP;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // `Passwords::new` hashes a dummy password once: it doubles as the warm-up.
    let passwords = Passwords::new(cost)?;

    let mut samples: Vec<Duration> = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let password = Zeroizing::new(format!("bench-passphrase-2026-{i}"));
        let start = Instant::now();
        let hash = runtime.block_on(passwords.hash(password))?;
        samples.push(start.elapsed());
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "unexpected parameters: {hash}");
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = if iterations.is_multiple_of(2) {
        (ms(samples[iterations / 2 - 1]) + ms(samples[iterations / 2])) / 2.0
    } else {
        ms(samples[iterations / 2])
    };
    println!(
        "password_hash argon2id m={} KiB t={} p={}: {} hashes, min {:.1} ms, median {:.1} ms, max {:.1} ms",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        iterations,
        ms(samples[0]),
        median,
        ms(samples[iterations - 1]),
    );
    Ok(())
}

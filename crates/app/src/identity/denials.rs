//! Requests refused for an unknown or expired credential: counted per address block and
//! minute instead of one audit event each (a scanner must not be able to flood the log),
//! recorded as one `auth.denied_burst` event per address and minute with its count, and
//! answered 429 once an address passes its limit for the minute.
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::throttle::address_block;
use steward_store::NewAuditEvent;

use crate::actor::Ctx;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::services::Services;

const MINUTE_US: i64 = 60 * 1_000_000;

/// What a request presenting an unknown, expired or revoked credential is answered: 401, or
/// 429 with `Retry-After` once its address has been refused too often this minute. The refusal
/// is counted in the address's burst (the slot says so, and the edge records no event of its
/// own); if it cannot be counted, the edge records it on its own as before.
pub async fn refused_credential(s: &Services, ctx: &Ctx) -> AppError {
    let refused = AppError::Unauthenticated { presented: true };
    let now = s.clock.now_us();
    if let Err(e) = flush_denied_bursts(s).await {
        tracing::warn!(error = %e, "could not record the closed minutes of refused credentials");
    }
    let minute = now.div_euclid(MINUTE_US);
    match s.store.count_denied_credential(&address_block(&ctx.meta.ip), minute).await {
        Ok(count) => {
            ctx.slot.set_counted_in_burst();
            if count > s.settings.refused_credentials_per_minute {
                let left_us = (minute + 1) * MINUTE_US - now;
                let retry_after_secs = u64::try_from(left_us.max(1_000_000)).unwrap_or(1_000_000).div_ceil(1_000_000);
                AppError::RateLimited { retry_after_secs }
            } else {
                refused
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not count a refused credential");
            refused
        }
    }
}

/// Records every closed minute of refused credentials as one `auth.denied_burst` event (with
/// the address block, the minute and the count) and forgets its counter, in one transaction.
/// Answers how many events it wrote.
pub async fn flush_denied_bursts(s: &Services) -> AppResult<usize> {
    let now = s.clock.now_us();
    let minute = now.div_euclid(MINUTE_US);
    if !s.store.has_closed_denied_bursts(minute).await? {
        return Ok(0);
    }
    let mut tx = s.store.begin().await?;
    let bursts = tx.take_closed_denied_bursts(minute).await?;
    for b in &bursts {
        let event = NewAuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at: now,
            ip: Some(b.ip.clone()),
            action: Action::DeniedBurst.as_str().into(),
            outcome: "denied".into(),
            detail: json!({
                "reason": "unknown, expired or revoked credential",
                "count": b.count,
                "minute": rfc3339(b.minute * MINUTE_US),
            })
            .to_string(),
            ..Default::default()
        };
        tx.append_audit(event).await?;
    }
    tx.commit().await?;
    Ok(bursts.len())
}

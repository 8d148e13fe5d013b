//! `steward admin audit verify`: walks the whole chain in pages, in constant memory.
use steward_domain::audit_chain::{ChainBreak, ChainVerifier};
use steward_store::Store;

const PAGE: i64 = 10_000;

#[derive(Debug)]
pub enum Verdict {
    Intact { events: u64 },
    Broken(ChainBreak),
}

/// Verifies every event and the recorded head; `progress` is called after each page with the
/// number of events checked so far and the total.
pub async fn verify_chain(store: &Store, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<Verdict> {
    let (head_seq, head_hash) = store.audit_head().await?;
    let total = u64::try_from(head_seq).unwrap_or(0);
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    loop {
        let page = store.audit_events_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for ev in &page {
            if let Err(b) = verifier.check(&ev.fields(), &ev.prev_hash, &ev.hash) {
                return Ok(Verdict::Broken(b));
            }
        }
        progress(verifier.checked(), total);
    }
    match verifier.finish(head_seq, &head_hash) {
        Ok(events) => Ok(Verdict::Intact { events }),
        Err(b) => Ok(Verdict::Broken(b)),
    }
}

//! The tamper-evident audit chain.
//!
//! Every audit event carries the hash of its predecessor and a hash over its own canonical
//! encoding, so editing, deleting, inserting or reordering any stored event breaks the chain
//! at that point. The encoding is length-prefixed (not JSON) so that it is unambiguous and
//! stable across serde versions and both databases.
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];
const DOMAIN_TAG: &[u8] = b"steward.audit.v1";

/// The fields an event's hash covers: everything a reader of the log relies on.
#[derive(Debug, Clone, Copy)]
pub struct EventFields<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub at_us: i64,
    pub actor_id: Option<&'a str>,
    pub actor_email: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: &'a str,
}

fn put_opt(h: &mut Sha256, value: Option<&str>) {
    match value {
        None => h.update([0u8]),
        Some(v) => {
            h.update([1u8]);
            h.update((v.len() as u64).to_be_bytes());
            h.update(v.as_bytes());
        }
    }
}

/// SHA-256 over the previous hash and the canonical encoding of `ev`.
#[must_use]
pub fn event_hash(prev_hash: &[u8], ev: &EventFields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN_TAG);
    h.update((prev_hash.len() as u64).to_be_bytes());
    h.update(prev_hash);
    h.update(ev.seq.to_be_bytes());
    put_opt(&mut h, Some(ev.id));
    h.update(ev.at_us.to_be_bytes());
    put_opt(&mut h, ev.actor_id);
    put_opt(&mut h, ev.actor_email);
    put_opt(&mut h, ev.session_id);
    put_opt(&mut h, ev.ip);
    put_opt(&mut h, ev.user_agent);
    put_opt(&mut h, Some(ev.action));
    put_opt(&mut h, ev.target);
    put_opt(&mut h, ev.account_id);
    put_opt(&mut h, Some(ev.outcome));
    put_opt(&mut h, Some(ev.detail));
    h.finalize().into()
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("event #{seq} was altered: its content no longer matches its hash")]
    Altered { seq: i64 },
    #[error("events #{from} to #{to} are missing (deleted)")]
    Missing { from: i64, to: i64 },
    #[error("event #{seq} is out of order or duplicated (expected #{expected})")]
    OutOfOrder { seq: i64, expected: i64 },
    #[error("event #{seq} does not link to the event before it (an event was removed, inserted or reordered)")]
    BrokenLink { seq: i64 },
    #[error("the chain ends at #{last} but the recorded head is #{head_seq}: events were cut off the end")]
    Truncated { last: i64, head_seq: i64 },
    #[error("the chain head does not match the last event #{seq}")]
    HeadMismatch { seq: i64 },
    #[error("the anchor file recorded event #{seq} with another hash: the log was rewritten from there")]
    AnchorMismatch { seq: i64 },
    #[error(
        "the anchor file recorded the chain up to #{anchored}, but it ends at #{last}: events were cut off the end"
    )]
    CutOffAfterAnchor { last: i64, anchored: i64 },
    #[error("the retention checkpoint at #{seq} is not signed by this server's key")]
    BadCheckpoint { seq: i64 },
    #[error("line {line} of the anchor file is not signed by this server's key: the anchor file was edited")]
    AnchorForged { line: usize },
    #[error("line {line} of the anchor file cannot be read: the anchor file was edited or damaged")]
    AnchorMalformed { line: usize },
    #[error(
        "the last line of the anchor file ({line}) carries no signature of this server's key: the anchor file was replaced"
    )]
    AnchorUnsigned { line: usize },
}

/// Walks a chain in `seq` order, one event at a time, in constant memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: [u8; 32],
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    #[must_use]
    pub fn new() -> Self {
        Self { expected_seq: 1, prev_hash: GENESIS_HASH, checked: 0 }
    }

    /// Starts after a retention checkpoint: the first stored event must be `seq + 1` and link to
    /// `hash` (the pruned event's hash, which the checkpoint's signature vouches for).
    #[must_use]
    pub fn resume(seq: i64, hash: [u8; 32]) -> Self {
        Self { expected_seq: seq + 1, prev_hash: hash, checked: 0 }
    }

    /// The sequence number and hash of the last event checked (the checkpoint or genesis if none).
    #[must_use]
    pub fn position(&self) -> (i64, [u8; 32]) {
        (self.expected_seq - 1, self.prev_hash)
    }

    /// Checks the next stored event: its position, its link to the previous one and its hash.
    pub fn check(&mut self, ev: &EventFields<'_>, stored_prev: &[u8], stored_hash: &[u8]) -> Result<(), ChainBreak> {
        if ev.seq > self.expected_seq {
            return Err(ChainBreak::Missing { from: self.expected_seq, to: ev.seq - 1 });
        }
        if ev.seq < self.expected_seq {
            return Err(ChainBreak::OutOfOrder { seq: ev.seq, expected: self.expected_seq });
        }
        if stored_prev != self.prev_hash {
            return Err(ChainBreak::BrokenLink { seq: ev.seq });
        }
        let computed = event_hash(&self.prev_hash, ev);
        if stored_hash != computed {
            return Err(ChainBreak::Altered { seq: ev.seq });
        }
        self.prev_hash = computed;
        self.expected_seq += 1;
        self.checked += 1;
        Ok(())
    }

    /// Compares the end of the walk with the recorded head (`seq`, `hash`) of the chain.
    pub fn finish(&self, head_seq: i64, head_hash: &[u8]) -> Result<u64, ChainBreak> {
        let last = self.expected_seq - 1;
        if head_seq > last {
            return Err(ChainBreak::Truncated { last, head_seq });
        }
        if head_seq < last || head_hash != self.prev_hash {
            return Err(ChainBreak::HeadMismatch { seq: last });
        }
        Ok(self.checked)
    }

    #[must_use]
    pub fn checked(&self) -> u64 {
        self.checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(seq: i64, action: &str) -> EventFields<'_> {
        EventFields {
            seq,
            id: "id",
            at_us: 1_700_000_000_000_000 + seq,
            actor_id: Some("u1"),
            actor_email: Some("a@example.com"),
            session_id: None,
            ip: Some("127.0.0.1"),
            user_agent: None,
            action,
            target: Some("user:u1"),
            account_id: None,
            outcome: "allowed",
            detail: "{}",
        }
    }

    fn chain(n: i64) -> Vec<(EventFields<'static>, [u8; 32], [u8; 32])> {
        let mut prev = GENESIS_HASH;
        (1..=n)
            .map(|seq| {
                let ev = fields(seq, "user.login");
                let hash = event_hash(&prev, &ev);
                let out = (ev, prev, hash);
                prev = hash;
                out
            })
            .collect()
    }

    fn verify(events: &[(EventFields<'_>, [u8; 32], [u8; 32])]) -> Result<(), ChainBreak> {
        let mut v = ChainVerifier::new();
        for (ev, prev, hash) in events {
            v.check(ev, prev, hash)?;
        }
        let (last, _, hash) = events.last().expect("non-empty");
        v.finish(last.seq, hash).map(|_| ())
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = fields(1, "a");
        let h = event_hash(&GENESIS_HASH, &base);
        let variants = [
            EventFields { id: "other", ..base },
            EventFields { at_us: 1, ..base },
            EventFields { actor_id: None, ..base },
            EventFields { actor_email: Some("b@example.com"), ..base },
            EventFields { session_id: Some("s"), ..base },
            EventFields { ip: None, ..base },
            EventFields { user_agent: Some("ua"), ..base },
            EventFields { action: "b", ..base },
            EventFields { target: None, ..base },
            EventFields { account_id: Some("acc"), ..base },
            EventFields { outcome: "denied", ..base },
            EventFields { detail: "{\"x\":1}", ..base },
            EventFields { seq: 2, ..base },
        ];
        for v in variants {
            assert_ne!(event_hash(&GENESIS_HASH, &v), h, "{v:?}");
        }
        assert_ne!(event_hash(&[1; 32], &base), h);
    }

    #[test]
    fn none_and_empty_string_hash_differently() {
        let a = EventFields { target: None, ..fields(1, "x") };
        let b = EventFields { target: Some(""), ..fields(1, "x") };
        assert_ne!(event_hash(&GENESIS_HASH, &a), event_hash(&GENESIS_HASH, &b));
    }

    #[test]
    fn an_altered_event_is_named() {
        let mut c = chain(5);
        c[2].0.action = "user.delete";
        assert_eq!(verify(&c), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn a_deleted_event_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(&c), Err(ChainBreak::Missing { from: 2, to: 2 }));
    }

    #[test]
    fn reordered_events_are_detected() {
        let mut c = chain(5);
        // Swap the content of #2 and #3 but keep the sequence numbers in place.
        let (a, b) = (c[1], c[2]);
        c[1] = (EventFields { seq: 2, ..b.0 }, b.1, b.2);
        c[2] = (EventFields { seq: 3, ..a.0 }, a.1, a.2);
        assert_eq!(verify(&c), Err(ChainBreak::BrokenLink { seq: 2 }));
    }

    #[test]
    fn an_inserted_event_is_detected() {
        let mut c = chain(3);
        let forged = fields(4, "forged");
        let forged_hash = event_hash(&c[2].2, &forged);
        c.push((forged, c[2].2, forged_hash));
        // Renumbering the real events after an insertion breaks their hashes.
        let mut v = ChainVerifier::new();
        v.check(&c[0].0, &c[0].1, &c[0].2).expect("first ok");
        let shifted = EventFields { seq: 2, ..c[3].0 };
        assert_eq!(v.check(&shifted, &c[3].1, &c[3].2), Err(ChainBreak::BrokenLink { seq: 2 }));
    }

    #[test]
    fn a_chain_resumes_after_a_checkpoint() {
        let c = chain(5);
        let mut v = ChainVerifier::resume(2, c[1].2);
        for (ev, prev, hash) in &c[2..] {
            v.check(ev, prev, hash).expect("suffix ok");
        }
        assert_eq!(v.finish(5, &c[4].2), Ok(3));
        assert_eq!(v.position(), (5, c[4].2));
        let mut wrong = ChainVerifier::resume(2, [9; 32]);
        assert_eq!(wrong.check(&c[2].0, &c[2].1, &c[2].2), Err(ChainBreak::BrokenLink { seq: 3 }));
    }

    #[test]
    fn a_cut_off_end_is_detected_against_the_head() {
        let c = chain(5);
        let mut v = ChainVerifier::new();
        for (ev, prev, hash) in &c[..3] {
            v.check(ev, prev, hash).expect("prefix ok");
        }
        assert_eq!(v.finish(5, &c[4].2), Err(ChainBreak::Truncated { last: 3, head_seq: 5 }));
    }
}

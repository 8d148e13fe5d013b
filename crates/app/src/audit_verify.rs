//! `steward admin audit verify`, retention and the anchor file.
//!
//! **Verify** walks the whole chain in batches, in constant memory: the store's reader
//! ([`Store::audit_chain_batches`]) reads the next batches on its own thread while the current
//! one is hashed, so the two cores work at once.
//! It starts at the newest retention checkpoint (whose HMAC signature it checks) or at the
//! genesis, checks every event's position, link and hash, then the recorded head, then every
//! line of the anchor file (the head as the server saw it, kept outside the database, so
//! cutting events off the end *and* rewinding the head is still caught): each line's signature,
//! and the event it names against the chain.
//!
//! **Retention** (`STEWARD_AUDIT_RETENTION_DAYS`): events older than the horizon are deleted
//! behind a checkpoint recording the last deleted event's seq and hash, signed with a
//! master-derived key, in one transaction.
//!
//! **Anchor**: the server appends `unix_seconds seq hex_hash key_id hex_hmac` to the anchor file
//! whenever the head moved, every minute. The HMAC is under a key derived from the master key
//! (`key_id` names which one, so lines survive a key rotation), so whoever can rewrite the
//! database and the file but not read the key cannot forge a consistent anchor. Lines of the
//! earlier, unsigned form (`unix_seconds seq hex_hash`) and lines signed by a key no longer in
//! the keyring are still compared with the chain; the last line must be signed by a known key.
use std::io::Write;
use std::path::Path;

use steward_domain::audit_chain::{ChainBreak, ChainVerifier};
use steward_store::{CheckpointRow, Store, StoreError};

use crate::crypto::{KeyError, MasterKey, constant_time_eq, hmac_sha256};
use crate::services::Services;

/// Why verifying, anchoring or pruning could not be done at all (a chain found broken is a
/// [`Verdict`], not an error). The CLI and the anchor worker are the edges that report it.
#[derive(Debug, thiserror::Error)]
pub enum AuditVerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read the anchor file {}: {source}", path.display())]
    ReadAnchor { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot append to the anchor file: {0}")]
    WriteAnchor(#[from] std::io::Error),
    #[error("cannot load the master key: {0}")]
    Key(#[from] KeyError),
    #[error("a verification task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Debug)]
pub enum Verdict {
    Intact { events: u64 },
    Broken(ChainBreak),
}

/// What verification checks besides the database itself.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    /// The master keys (the keyring) that may have signed retention checkpoints; empty: a
    /// checkpoint is trusted unchecked (verify run without access to the key).
    pub master_keys: &'a [MasterKey],
    /// The anchor file to compare the end of the chain with.
    pub anchor_file: Option<&'a Path>,
    /// Walk the chain in parts at once when it is longer than this (default
    /// [`SPLIT_ABOVE`]); tests set it low to exercise the joins.
    pub split_above: Option<i64>,
}

fn anchor_key(master: &MasterKey) -> [u8; 32] {
    master.derive("steward.audit-anchor.v1")
}

fn anchor_message(at: i64, seq: i64, hash: &[u8]) -> Vec<u8> {
    let mut m = b"steward.audit.anchor.v1".to_vec();
    m.extend_from_slice(&at.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

/// One line of the anchor file.
#[derive(Debug, Clone)]
pub struct AnchorLine {
    /// 1-based, as an editor shows it.
    pub line: usize,
    pub at: i64,
    pub seq: i64,
    pub hash: Vec<u8>,
    /// The signing key's id and the HMAC; `None` on lines written before anchors were signed.
    pub signature: Option<([u8; 4], Vec<u8>)>,
}

/// The anchor file's line for `(seq, hash)` at `at`, signed with `master`.
#[must_use]
pub fn anchor_line(master: &MasterKey, at: i64, seq: i64, hash: &[u8]) -> String {
    let mac = hmac_sha256(&anchor_key(master), &anchor_message(at, seq, hash));
    format!("{at} {seq} {} {} {}\n", hex::encode(hash), hex::encode(master.fingerprint()), hex::encode(mac))
}

/// Every line of the anchor file; `Ok(None)` when there is no file. A line that cannot be read
/// is a finding (the file was edited or damaged), not something to skip.
pub fn read_anchor(path: &Path) -> Result<Option<Result<Vec<AnchorLine>, ChainBreak>>, AuditVerifyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AuditVerifyError::ReadAnchor { path: path.to_path_buf(), source }),
    };
    let mut lines = Vec::new();
    for (i, text) in text.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let line = i + 1;
        let Some(parsed) = parse_anchor_line(line, text) else {
            return Ok(Some(Err(ChainBreak::AnchorMalformed { line })));
        };
        lines.push(parsed);
    }
    Ok(Some(Ok(lines)))
}

fn parse_anchor_line(line: usize, text: &str) -> Option<AnchorLine> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (at, seq, hash) =
        (fields.first()?.parse().ok()?, fields.get(1)?.parse().ok()?, hex::decode(fields.get(2)?).ok()?);
    let signature = match fields.len() {
        3 => None,
        5 => Some((<[u8; 4]>::try_from(hex::decode(fields[3]).ok()?).ok()?, hex::decode(fields[4]).ok()?)),
        _ => return None,
    };
    Some(AnchorLine { line, at, seq, hash, signature })
}

/// Checks the anchor lines' signatures against the keyring: a line signed by a key of the
/// keyring must carry its HMAC, and the last line must be signed by one (a file replaced by
/// unsigned lines is refused). Without keys (verify run where the key cannot be read) the
/// signatures are not checked; the lines are still compared with the chain.
fn check_anchor_signatures(lines: &[AnchorLine], keys: &[MasterKey]) -> Result<(), ChainBreak> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut last_signed_by_us = false;
    for l in lines {
        last_signed_by_us = false;
        let Some((key_id, mac)) = &l.signature else { continue };
        // A key rotated out of the keyring can no longer be checked; its lines still meet the chain.
        let Some(key) = keys.iter().find(|k| k.fingerprint() == *key_id) else { continue };
        if !constant_time_eq(&hmac_sha256(&anchor_key(key), &anchor_message(l.at, l.seq, &l.hash)), mac) {
            return Err(ChainBreak::AnchorForged { line: l.line });
        }
        last_signed_by_us = true;
    }
    match lines.last() {
        Some(l) if !last_signed_by_us => Err(ChainBreak::AnchorUnsigned { line: l.line }),
        _ => Ok(()),
    }
}

fn checkpoint_key(master: &MasterKey) -> [u8; 32] {
    master.derive("steward.audit-checkpoint.v1")
}

fn checkpoint_message(seq: i64, hash: &[u8], at: i64) -> Vec<u8> {
    let mut m = b"steward.audit.checkpoint.v1".to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&at.to_be_bytes());
    m
}

/// Verifies every event and the recorded head, with the database only.
pub async fn verify_chain(store: &Store, progress: impl FnMut(u64, u64)) -> Result<Verdict, AuditVerifyError> {
    verify_chain_with(store, &VerifyOptions::default(), progress).await
}

/// Verifies every event, the recorded head, the checkpoint and the anchor file; `progress` is
/// called every 100 ms with the events checked so far and the total expected.
pub async fn verify_chain_with(
    store: &Store,
    opts: &VerifyOptions<'_>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Verdict, AuditVerifyError> {
    let (head_seq, head_hash) = store.audit_head().await?;
    let mut verifier = match store.latest_audit_checkpoint().await? {
        None => ChainVerifier::new(),
        Some(cp) => {
            let message = checkpoint_message(cp.seq, &cp.hash, cp.at);
            let signed_by_us = opts
                .master_keys
                .iter()
                .any(|k| constant_time_eq(&hmac_sha256(&checkpoint_key(k), &message), &cp.signature));
            if !opts.master_keys.is_empty() && !signed_by_us {
                return Ok(Verdict::Broken(ChainBreak::BadCheckpoint { seq: cp.seq }));
            }
            let Ok(hash) = <[u8; 32]>::try_from(cp.hash.as_slice()) else {
                return Ok(Verdict::Broken(ChainBreak::BadCheckpoint { seq: cp.seq }));
            };
            ChainVerifier::resume(cp.seq, hash)
        }
    };
    let start = verifier.position().0;
    // Every anchor line past the checkpoint, by seq (a restart may anchor the same head twice).
    let mut anchors: std::collections::BTreeMap<i64, Vec<Vec<u8>>> = std::collections::BTreeMap::new();
    if let Some(path) = opts.anchor_file {
        match read_anchor(path)? {
            None => {}
            Some(Err(b)) => return Ok(Verdict::Broken(b)),
            Some(Ok(lines)) => {
                if let Err(b) = check_anchor_signatures(&lines, opts.master_keys) {
                    return Ok(Verdict::Broken(b));
                }
                for l in lines.into_iter().filter(|l| l.seq > start) {
                    anchors.entry(l.seq).or_default().push(l.hash);
                }
            }
        }
    }
    let anchored_up_to = anchors.keys().next_back().copied();
    let anchors = std::sync::Arc::new(anchors);
    let total = u64::try_from(head_seq - start).unwrap_or(0);

    // A long chain is walked in parts at once, one reader and one hasher each, so both cores
    // read and hash; the parts are joined below, where each must start where the one before
    // it ended. The last part has no upper bound: events past the recorded head are caught.
    let parts = if head_seq - start > opts.split_above.unwrap_or(SPLIT_ABOVE) { PARTS } else { 1 };
    let step = (head_seq - start) / parts;
    let checked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut walks = Vec::new();
    for k in 0..parts {
        let after = start + k * step;
        let through = (k + 1 < parts).then_some(after + step);
        let first_verifier = (k == 0).then(|| verifier.clone());
        walks.push(tokio::spawn(walk_part(
            store.clone(),
            after,
            through,
            first_verifier,
            anchors.clone(),
            checked.clone(),
        )));
    }
    let mut joined = futures_util::future::try_join_all(walks);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    let parts = loop {
        tokio::select! {
            done = &mut joined => break done?,
            _ = tick.tick() => progress(checked.load(std::sync::atomic::Ordering::Relaxed), total),
        }
    };
    progress(checked.load(std::sync::atomic::Ordering::Relaxed), total);

    let mut events = 0;
    // The walk's own snapshot of the head, not the one read before it began: a server that
    // appends meanwhile must not look like a rewound head.
    let (head_seq, head_hash) =
        parts.last().and_then(|p| p.as_ref().ok()).and_then(|p| p.head.clone()).unwrap_or((head_seq, head_hash));
    for part in parts {
        let part = part?;
        if let Some((first_seq, first_prev)) = &part.first
            && part.after > start
        {
            // This part must continue exactly where the one before it ended.
            // (Events missing at the start of this part are the part's own finding.)
            let (last, hash) = verifier.position();
            if last < part.after {
                return Ok(Verdict::Broken(ChainBreak::Missing { from: last + 1, to: first_seq - 1 }));
            }
            if *first_seq == part.after + 1 && hash.as_slice() != first_prev.as_slice() {
                return Ok(Verdict::Broken(ChainBreak::BrokenLink { seq: *first_seq }));
            }
        }
        if let Some(b) = part.broken {
            return Ok(Verdict::Broken(b));
        }
        events += part.verifier.as_ref().map_or(0, ChainVerifier::checked);
        if let Some(v) = part.verifier {
            verifier = v;
        }
    }
    let (last, _) = verifier.position();
    // Every line up to `last` met its event in the walk; one beyond it names events now gone.
    if let Some(seq) = anchored_up_to
        && seq > last
    {
        return Ok(Verdict::Broken(ChainBreak::CutOffAfterAnchor { last, anchored: seq }));
    }
    match verifier.finish(head_seq, &head_hash) {
        Ok(_) => Ok(Verdict::Intact { events }),
        Err(b) => Ok(Verdict::Broken(b)),
    }
}

/// Chains longer than this are verified in [`PARTS`] parts at once.
pub const SPLIT_ABOVE: i64 = 100_000;
const PARTS: i64 = 2;

/// What walking one part of the chain found.
struct Part {
    /// The part covers `seq > after`.
    after: i64,
    /// Its first event's seq and stored link (`None`: the part holds no event).
    first: Option<(i64, Vec<u8>)>,
    /// The verifier after its last event (`None`: the part holds no event).
    verifier: Option<ChainVerifier>,
    broken: Option<ChainBreak>,
    /// The head in the same snapshot as the events (the last part only).
    head: Option<(i64, Vec<u8>)>,
}

/// Walks `after < seq <= through`. The first part starts from `verifier` (genesis or the
/// checkpoint); a later part starts from its own first event's stored link, which the caller
/// then checks against the end of the part before.
async fn walk_part(
    store: Store,
    after: i64,
    through: Option<i64>,
    mut verifier: Option<ChainVerifier>,
    anchors: std::sync::Arc<std::collections::BTreeMap<i64, Vec<Vec<u8>>>>,
    checked: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<Part, AuditVerifyError> {
    let mut part = Part { after, first: None, verifier: None, broken: None, head: None };
    let mut batches = store.audit_chain_batches(after, through);
    'walk: while let Some(batch) = batches.recv().await {
        let mut batch = batch?;
        if let Some(head) = batch.head.take() {
            part.head = Some(head);
        }
        for ev in batch.iter() {
            if part.first.is_none() {
                part.first = Some((ev.fields.seq, ev.prev_hash.to_vec()));
            }
            let v = verifier.get_or_insert_with(|| {
                // A link of the wrong length cannot match the part before; the join says so.
                ChainVerifier::resume(after, <[u8; 32]>::try_from(ev.prev_hash).unwrap_or([0; 32]))
            });
            if let Err(b) = v.check(&ev.fields, ev.prev_hash, ev.hash) {
                part.broken = Some(b);
                break 'walk;
            }
            if let Some(hashes) = anchors.get(&ev.fields.seq)
                && hashes.iter().any(|h| h.as_slice() != ev.hash)
            {
                part.broken = Some(ChainBreak::AnchorMismatch { seq: ev.fields.seq });
                break 'walk;
            }
        }
        checked.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
    // The first part keeps its starting point even when it holds no event.
    part.verifier = verifier;
    Ok(part)
}

/// Appends the current head to the anchor file if it moved since `last`; returns the head.
pub async fn write_anchor(state: &Services, last: Option<i64>) -> Result<i64, AuditVerifyError> {
    let (seq, hash) = state.store.audit_head().await?;
    if Some(seq) == last || seq == 0 {
        return Ok(seq);
    }
    let path = state.settings.audit_anchor_file.clone();
    // The key as the key file holds it now (a rotation changes the primary key).
    let master = MasterKey::load(&state.settings.master_key)?;
    let line = anchor_line(&master, state.clock.now().as_second(), seq, &hash);
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        f.write_all(line.as_bytes())?;
        // The anchor is only worth something if it survives a crash.
        f.sync_data()
    })
    .await??;
    Ok(seq)
}

/// At start-up, before the server takes a request: the anchor and retention. Doing both here,
/// and not on a first tick racing the first requests, keeps the anchor file's lines predictable.
/// Returns the anchored head for the anchor worker.
pub async fn start_up(state: &Services) -> Option<i64> {
    let last = anchor_logged(state, None).await;
    if let Err(e) = prune(state).await {
        tracing::error!(error = %e, "audit retention failed");
    }
    last
}

/// Appends the chain head to the anchor file, logging a failure; the head anchored, if any.
pub async fn anchor_logged(state: &Services, last: Option<i64>) -> Option<i64> {
    match write_anchor(state, last).await {
        Ok(seq) => Some(seq),
        Err(e) => {
            tracing::error!(error = %e, "could not append the audit chain head to the anchor file");
            None
        }
    }
}

/// Events deleted per transaction when pruning. SQLite keeps a transaction's undo pages in
/// memory (`temp_store = memory`, for group commit's savepoints): about 1 KB per event deleted,
/// so the first prune of a long history must not delete it in one transaction.
pub const PRUNE_BATCH: i64 = 5_000;

/// Prunes events older than the retention horizon behind a signed checkpoint; returns how many.
pub async fn prune(state: &Services) -> Result<u64, AuditVerifyError> {
    prune_in_batches(state, PRUNE_BATCH).await
}

/// [`prune`], deleting at most `batch` events per transaction.
pub async fn prune_in_batches(state: &Services, batch: i64) -> Result<u64, AuditVerifyError> {
    if state.settings.audit_retention_days.is_none() {
        return Ok(0);
    }
    // A prune stopped between its checkpoint and its last batch left events behind the
    // checkpoint: they go first (the chain already verifies without them).
    let mut n = delete_behind_checkpoint(state, batch).await?;
    if record_retention_checkpoint(state).await?.is_some() {
        n += delete_behind_checkpoint(state, batch).await?;
    }
    if n > 0 {
        tracing::info!(pruned = n, "audit events past the retention horizon pruned behind a checkpoint");
    }
    Ok(n)
}

/// The first step of a prune: a signed checkpoint at the last event older than the retention
/// horizon, if there is one; its seq.
pub async fn record_retention_checkpoint(state: &Services) -> Result<Option<i64>, AuditVerifyError> {
    let Some(days) = state.settings.audit_retention_days else { return Ok(None) };
    let horizon = state.clock.now_us() - i64::from(days) * 86_400 * 1_000_000;
    let Some((seq, hash, at)) = state.store.last_audit_event_before(horizon).await? else { return Ok(None) };
    let master = MasterKey::load(&state.settings.master_key)?;
    let signature = hmac_sha256(&checkpoint_key(&master), &checkpoint_message(seq, &hash, at)).to_vec();
    let cp = CheckpointRow { seq, hash, at, signature, created_at: state.clock.now_us() };
    let mut tx = state.store.begin().await?;
    tx.insert_audit_checkpoint(&cp).await?;
    tx.commit().await?;
    Ok(Some(seq))
}

/// Deletes the events behind the newest checkpoint, `batch` per transaction.
async fn delete_behind_checkpoint(state: &Services, batch: i64) -> Result<u64, AuditVerifyError> {
    let Some(cp) = state.store.latest_audit_checkpoint().await? else { return Ok(0) };
    let batch = batch.max(1);
    let mut n = 0;
    loop {
        let mut tx = state.store.begin().await?;
        let deleted = tx.delete_audit_events_through(cp.seq, batch).await?;
        tx.commit().await?;
        n += deleted;
        if deleted < batch.unsigned_abs() {
            return Ok(n);
        }
    }
}

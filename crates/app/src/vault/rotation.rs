//! Master-key rotation: re-wraps every data key (and re-seals every TOTP secret) under the
//! vault's primary master key, in small batches, each in its own short transaction, while
//! servers keep serving. Each value is replaced only if it is still what was read, so a value a
//! server changed meanwhile is left alone and picked up by the next pass.
use steward_domain::ids::AccountId;
use steward_store::Store;

use crate::vault::{Vault, credential_aad, mastodon_app_secret_aad, totp_secret_aad as secret_aad, webhook_secret_aad};

/// What one [`rewrap_all`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Data keys now wrapped under the primary key that were not before.
    pub data_keys_rewrapped: u64,
    /// Credentials from before the vault moved to a data key of their own.
    pub legacy_credentials_upgraded: u64,
    /// Small secrets of our own re-sealed: TOTP secrets and alert webhook secrets.
    pub totp_secrets_resealed: u64,
    /// Steward's client secrets on Mastodon instances.
    pub app_secrets_resealed: u64,
    /// Values already under the primary key.
    pub already_current: u64,
    /// Values still under another key (changed concurrently, or unreadable) after the last pass.
    pub remaining: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Store(#[from] steward_store::StoreError),
    /// Names the row, never its contents.
    #[error(
        "{what} cannot be opened with any key of the keyring: was it sealed under a key that is not in the key file?"
    )]
    Unopenable { what: String },
}

/// Re-wraps everything not under the primary key, `batch` rows per transaction, repeating until a
/// pass finds nothing left (at most a few passes). `progress` gets the rows seen so far.
pub async fn rewrap_all(
    store: &Store,
    vault: &Vault,
    batch: i64,
    mut progress: impl FnMut(u64),
) -> Result<RewrapReport, RotateError> {
    let mut total = RewrapReport::default();
    let mut seen = 0u64;
    for pass in 0..3 {
        let r = one_pass(store, vault, batch.max(1), &mut |n| {
            seen += n;
            progress(seen);
        })
        .await?;
        total.data_keys_rewrapped += r.data_keys_rewrapped;
        total.legacy_credentials_upgraded += r.legacy_credentials_upgraded;
        total.totp_secrets_resealed += r.totp_secrets_resealed;
        total.app_secrets_resealed += r.app_secrets_resealed;
        if pass == 0 {
            total.already_current = r.already_current;
        }
        total.remaining = r.remaining;
        if r.remaining == 0 {
            break;
        }
    }
    Ok(total)
}

/// How many values are still under a key other than the primary one (a read-only scan).
pub async fn count_stale(store: &Store, vault: &Vault, batch: i64) -> Result<u64, RotateError> {
    let mut stale = 0;
    let mut after = String::new();
    loop {
        let page = store.sealed_credentials_page(&after, batch.max(1)).await?;
        let Some(last) = page.last() else { break };
        after = last.id.to_string();
        stale += page.iter().filter(|r| r.wrapped_data_key.as_deref().is_none_or(|w| vault.is_stale(w))).count() as u64;
    }
    after.clear();
    loop {
        let page = store.sealed_totp_page(&after, batch.max(1)).await?;
        let Some(last) = page.last() else { break };
        after = last.id.to_string();
        for r in &page {
            stale += [&r.totp_secret_sealed, &r.totp_pending_sealed]
                .into_iter()
                .flatten()
                .filter(|s| vault.is_stale(s))
                .count() as u64;
        }
    }
    stale += store.mastodon_apps().await?.iter().filter(|a| vault.is_stale(&a.client_secret_sealed)).count() as u64;
    after.clear();
    loop {
        let page = store.sealed_webhook_secrets_page(&after, batch.max(1)).await?;
        let Some(last) = page.last() else { break };
        after = last.0.to_string();
        stale += page.iter().filter(|(_, s)| vault.is_stale(s)).count() as u64;
    }
    Ok(stale)
}

async fn one_pass(
    store: &Store,
    vault: &Vault,
    batch: i64,
    progress: &mut impl FnMut(u64),
) -> Result<RewrapReport, RotateError> {
    let mut report = RewrapReport::default();
    let mut after = String::new();
    loop {
        let page = store.sealed_credentials_page(&after, batch).await?;
        let Some(last) = page.last() else { break };
        after = last.id.to_string();
        // Cryptography outside the transaction; the transaction only writes.
        let mut changes = Vec::new();
        for row in &page {
            let Some(sealed) = row.credential_sealed.as_deref() else { continue };
            match row.wrapped_data_key.as_deref() {
                Some(wrapped) if !vault.is_stale(wrapped) => report.already_current += 1,
                Some(wrapped) => {
                    let new = vault.rewrap(&row.id, wrapped).map_err(|_| unopenable("the data key", &row.id))?;
                    changes.push(Change::Rewrap { id: &row.id, old: wrapped, new });
                }
                None => {
                    let plaintext = vault
                        .open(&credential_aad(&row.id), sealed)
                        .map_err(|_| unopenable("the credential", &row.id))?;
                    let s = vault.seal_new_credential(&row.id, &plaintext);
                    changes.push(Change::Upgrade {
                        id: &row.id,
                        old: sealed,
                        wrapped: s.wrapped_data_key,
                        sealed: s.credential,
                    });
                }
            }
        }
        if !changes.is_empty() {
            let mut tx = store.begin().await?;
            for c in &changes {
                match c {
                    Change::Rewrap { id, old, new } => {
                        if tx.replace_wrapped_data_key(id, old, new).await? {
                            report.data_keys_rewrapped += 1;
                        } else {
                            report.remaining += 1;
                        }
                    }
                    Change::Upgrade { id, old, wrapped, sealed } => {
                        if tx.upgrade_legacy_credential(id, old, wrapped, sealed).await? {
                            report.legacy_credentials_upgraded += 1;
                        } else {
                            report.remaining += 1;
                        }
                    }
                }
            }
            tx.commit().await?;
        }
        progress(page.len() as u64);
    }

    after.clear();
    loop {
        let page = store.sealed_totp_page(&after, batch).await?;
        let Some(last) = page.last() else { break };
        after = last.id.to_string();
        let mut changes = Vec::new();
        for row in &page {
            for (pending, sealed) in [(false, &row.totp_secret_sealed), (true, &row.totp_pending_sealed)] {
                let Some(sealed) = sealed.as_deref() else { continue };
                if !vault.is_stale(sealed) {
                    report.already_current += 1;
                    continue;
                }
                let new = vault
                    .reseal(&secret_aad(&row.id), sealed)
                    .map_err(|_| unopenable("the two-factor secret of user", &row.id))?;
                changes.push((&row.id, pending, sealed, new));
            }
        }
        if !changes.is_empty() {
            let mut tx = store.begin().await?;
            for (id, pending, old, new) in &changes {
                if tx.replace_totp_sealed(id, *pending, old, new).await? {
                    report.totp_secrets_resealed += 1;
                } else {
                    report.remaining += 1;
                }
            }
            tx.commit().await?;
        }
        progress(page.len() as u64);
    }

    // One row per Mastodon instance Steward registered on: few, so one page.
    let apps = store.mastodon_apps().await?;
    let mut changes = Vec::new();
    for app in &apps {
        if !vault.is_stale(&app.client_secret_sealed) {
            report.already_current += 1;
            continue;
        }
        let new = vault
            .reseal(&mastodon_app_secret_aad(&app.instance), &app.client_secret_sealed)
            .map_err(|_| unopenable("the Mastodon app secret for", &app.instance))?;
        changes.push((app, new));
    }
    if !changes.is_empty() {
        let mut tx = store.begin().await?;
        for (app, new) in &changes {
            if tx.replace_mastodon_app_secret(&app.instance, &app.client_secret_sealed, new).await? {
                report.app_secrets_resealed += 1;
            } else {
                report.remaining += 1;
            }
        }
        tx.commit().await?;
    }
    progress(apps.len() as u64);
    // Alert webhook secrets, sealed like TOTP secrets under the master key.
    after.clear();
    loop {
        let page = store.sealed_webhook_secrets_page(&after, batch).await?;
        let Some(last) = page.last() else { break };
        after = last.0.to_string();
        let mut changes = Vec::new();
        for (user_id, sealed) in &page {
            if !vault.is_stale(sealed) {
                report.already_current += 1;
                continue;
            }
            let new = vault
                .reseal(&webhook_secret_aad(user_id), sealed)
                .map_err(|_| unopenable("the alert webhook secret of user", user_id))?;
            changes.push((user_id, sealed.as_slice(), new));
        }
        if !changes.is_empty() {
            let mut tx = store.begin().await?;
            for (id, old, new) in &changes {
                if tx.replace_webhook_secret_sealed(id, old, new).await? {
                    report.totp_secrets_resealed += 1;
                } else {
                    report.remaining += 1;
                }
            }
            tx.commit().await?;
        }
        progress(page.len() as u64);
    }
    Ok(report)
}

enum Change<'a> {
    Rewrap { id: &'a AccountId, old: &'a [u8], new: Vec<u8> },
    Upgrade { id: &'a AccountId, old: &'a [u8], wrapped: Vec<u8>, sealed: Vec<u8> },
}

fn unopenable(what: &str, id: &str) -> RotateError {
    RotateError::Unopenable { what: format!("{what} {id}") }
}

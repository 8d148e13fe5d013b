//! Alerts: detection over the audit events as they are appended, grouping, recipients, and
//! the durable delivery outbox.
//!
//! Detection runs with the event, in the same transaction (and so as the change it records):
//! on SQLite inside [`Tx::append_audit`], which chains the event and raises what was found;
//! on PostgreSQL the event waits in `audit_pending` with its findings, which the sealing round
//! that chains it raises in chain order (`audit_seal.rs`) before the use case returns. Either
//! way every code path that records an event — including ones written after this one — is
//! covered without calling anything else, an alert exists when the use case returns, and a
//! rolled-back change raises nothing. Raising runs under the chain's head, so grouping never
//! races; counts include the events still waiting to be sealed.
use serde_json::Value;
use steward_domain::alerts::{
    AlertKind, AlertThresholds, GROUPING_WINDOW_US, POST_CREATED_ACTIONS, Threshold, change_kind,
};
use steward_domain::audit::{Action, LockdownDetail};
use steward_domain::ids::{AccountId, AlertId, DeliveryId, UserId};
use steward_domain::windows::{is_within_windows, parse_time_zone, stored_windows};

use crate::{AuditEventRow, Micros, Result, Store, Tx, on_pool, on_tx};

/// Something worth telling the owner (account alerts) or a person (personal alerts).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    #[serde(with = "kind_name")]
    pub kind: AlertKind,
    /// Set for alerts about a social account: its owner and admins receive them.
    pub account_id: Option<AccountId>,
    /// Set (and `account_id` unset) for a person's own alerts, such as sign-ins.
    pub user_id: Option<UserId>,
    /// One line, in words.
    pub summary: String,
    /// What happened, in words: who, from where, how many.
    pub detail: String,
    pub at: Micros,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: AlertId,
    pub kind: String,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub account_id: Option<AccountId>,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub user_id: Option<UserId>,
    pub severity: String,
    pub summary: String,
    pub detail: String,
    pub count: i64,
    pub created_at: Micros,
    pub last_seen_at: Micros,
    pub acknowledged_at: Option<Micros>,
}

/// A finding's kind by its stored name (findings wait in `audit_pending` as JSON).
mod kind_name {
    use steward_domain::alerts::AlertKind;

    pub fn serialize<S: serde::Serializer>(k: &AlertKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.as_str())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<AlertKind, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(d)?;
        AlertKind::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown alert kind {name}")))
    }
}

const ALERT_COLUMNS: &str = "a.id, a.kind, a.account_id, a.user_id, a.severity, a.summary, a.detail, a.count, a.created_at, a.last_seen_at, a.acknowledged_at";
/// The same, with `acknowledged_at` as the reader's own (`$2`: their user id).
const MY_ALERT_COLUMNS: &str = "a.id, a.kind, a.account_id, a.user_id, a.severity, a.summary, a.detail, a.count, \
     a.created_at, a.last_seen_at, \
     (SELECT k.acknowledged_at FROM alert_acks k WHERE k.alert_id = a.id AND k.user_id = $2) AS acknowledged_at";

/// What raising a finding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raised {
    /// A new alert, queued for delivery to this many channels.
    New { alert_id: AlertId, deliveries: usize },
    /// An unacknowledged alert of the kind seen in the last 15 minutes was raised instead.
    Grouped { alert_id: AlertId, count: i64 },
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertPreferencesRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub email: bool,
    pub webhook_url: Option<String>,
    pub webhook_secret_sealed: Option<Vec<u8>>,
    pub kinds: Option<String>,
    pub updated_at: Micros,
}

/// One due delivery with what it needs: the alert, the recipient's address and preferences.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: DeliveryId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub alert_id: AlertId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub channel: String,
    pub attempts: i64,
    pub next_attempt_at: Micros,
    pub email: String,
    pub webhook_url: Option<String>,
    pub webhook_secret_sealed: Option<Vec<u8>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryStatusRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: DeliveryId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub alert_id: AlertId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub channel: String,
    pub attempts: i64,
    pub next_attempt_at: Micros,
    pub delivered_at: Option<Micros>,
    pub gave_up_at: Option<Micros>,
    pub last_error: Option<String>,
}

/// The account facts detection needs, read once per account event (by the statement that
/// writes or locks for the event where it can, one round trip fewer).
#[derive(sqlx::FromRow)]
pub(crate) struct AccountFacts {
    owner_id: String,
    handle: String,
    time_zone: String,
    alert_thresholds: String,
}

/// [`AccountFacts`] as columns that may be NULL: read beside another row (the chain's head, a
/// pending event), for an event that may have no account, or one that no longer exists.
#[derive(sqlx::FromRow, Default)]
pub(crate) struct MaybeAccountFacts {
    owner_id: Option<String>,
    handle: Option<String>,
    time_zone: Option<String>,
    alert_thresholds: Option<String>,
}

impl AccountFacts {
    pub(crate) fn thresholds(&self) -> AlertThresholds {
        AlertThresholds::from_stored(&self.alert_thresholds)
    }
}

impl MaybeAccountFacts {
    pub(crate) fn facts(self) -> Option<AccountFacts> {
        Some(AccountFacts {
            owner_id: self.owner_id?,
            handle: self.handle?,
            time_zone: self.time_zone?,
            alert_thresholds: self.alert_thresholds?,
        })
    }
}

fn who(ev: &AuditEventRow) -> String {
    match (&ev.actor_email, &ev.actor_id) {
        (Some(e), _) => e.clone(),
        (None, Some(id)) => format!("user {id}"),
        (None, None) => "the server".into(),
    }
}

fn from_where(ev: &AuditEventRow) -> String {
    format!(
        "from {} ({})",
        ev.ip.as_deref().unwrap_or("an unknown address"),
        ev.user_agent.as_deref().unwrap_or("unknown browser or app")
    )
}

impl Tx {
    /// Runs the alert rules on an event just appended in this transaction, and raises what
    /// they find.
    pub(crate) async fn detect_after(
        &mut self,
        ev: &AuditEventRow,
        facts: Option<AccountFacts>,
        burst_count: Option<i64>,
    ) -> Result<()> {
        for f in self.findings_after(ev, facts, burst_count).await? {
            self.raise_alert(f).await?;
        }
        Ok(())
    }

    /// What the alert rules find in an event just written in this transaction (its own row
    /// counts towards the thresholds, with every event committed before it, chained or pending).
    /// `facts`: the event's account as read in this transaction already (else read here);
    /// `burst_count`: the count [`burst_rule`] asked for, when it was read with the event's
    /// insert (else counted here).
    pub(crate) async fn findings_after(
        &mut self,
        ev: &AuditEventRow,
        facts: Option<AccountFacts>,
        burst_count: Option<i64>,
    ) -> Result<Vec<Finding>> {
        let now = ev.at;
        let detail: Value = serde_json::from_str(&ev.detail).unwrap_or(Value::Null);
        let denied = ev.outcome == "denied";
        let action = Action::parse(&ev.action);
        let mut findings = Vec::new();

        if action == Some(Action::Login)
            && let Some(user) = &ev.actor_id
        {
            if !denied && detail["new_device"] == true && detail["first_device"] != true {
                findings.push(Finding {
                    kind: AlertKind::NewDeviceSignIn,
                    account_id: None,
                    user_id: Some(UserId::from(user.as_str())),
                    summary: "Your Steward account was signed into from a new device".into(),
                    detail: format!(
                        "{} signed in {}. If this was not you, change your password and log out everywhere.",
                        who(ev),
                        from_where(ev)
                    ),
                    at: now,
                });
            }
            if denied {
                let t = AlertThresholds::default().failed_sign_ins;
                let n = self
                    .count_events_by_actor(user, None, Some(Action::Login), "denied", now - t.window_us(), t.count)
                    .await?;
                if n >= t.count {
                    findings.push(Finding {
                        kind: AlertKind::FailedSignIns,
                        account_id: None,
                        user_id: Some(UserId::from(user.as_str())),
                        summary: format!("{n} failed sign-ins to your Steward account in {} minutes", t.minutes),
                        detail: format!(
                            "The latest came {}: {}.",
                            from_where(ev),
                            detail["reason"].as_str().unwrap_or("refused")
                        ),
                        at: now,
                    });
                }
            }
        }

        if let Some(account_id) = &ev.account_id {
            let facts = match facts {
                Some(known) => Some(known),
                None => {
                    let q = "SELECT owner_id, handle, time_zone, alert_thresholds FROM social_accounts WHERE id = $1";
                    on_tx!(self, |c| sqlx::query_as::<_, AccountFacts>(q).bind(account_id).fetch_optional(c).await)?
                }
            };
            if let Some(facts) = facts {
                let account_id = AccountId::from(account_id.as_str());
                self.account_findings(ev, &detail, &account_id, &facts, burst_count, &mut findings).await?;
            }
        }

        Ok(findings)
    }

    async fn account_findings(
        &mut self,
        ev: &AuditEventRow,
        detail: &Value,
        account_id: &AccountId,
        facts: &AccountFacts,
        burst_count: Option<i64>,
        findings: &mut Vec<Finding>,
    ) -> Result<()> {
        let now = ev.at;
        let denied = ev.outcome == "denied";
        let action = Action::parse(&ev.action);
        let thresholds = facts.thresholds();
        let handle = &facts.handle;
        let account = |kind, summary: String, detail: String| Finding {
            kind,
            account_id: Some(AccountId::from(account_id.as_str())),
            user_id: None,
            summary,
            detail,
            at: now,
        };
        let by_other = ev.actor_id.as_deref().is_some_and(|a| a != facts.owner_id);

        // A refused attempt (a denial recorded under the action's name) is not the thing itself.
        match action {
            _ if denied => {}
            Some(Action::CredentialFailed) => findings.push(account(
                AlertKind::CredentialFailed,
                format!("The platform credential of {handle} stopped working"),
                format!(
                    "The platform refused it for good ({}); nothing will be published until the owner connects the account again.",
                    detail["reason"].as_str().unwrap_or("no reason given")
                ),
            )),
            Some(Action::Lockdown) => {
                let d: LockdownDetail = serde_json::from_value(detail.clone()).unwrap_or_default();
                findings.push(account(
                    AlertKind::Lockdown,
                    format!("{handle} was locked down by {}", who(ev)),
                    format!(
                        "{} member(s) suspended, {} access token(s) revoked, {} post(s) cancelled{}.",
                        d.suspended_members,
                        d.revoked_tokens,
                        d.cancelled_posts,
                        if d.credential_disconnected { ", platform credential disconnected" } else { "" }
                    ),
                ))
            }
            _ => {}
        }

        if let Some(actor) = &ev.actor_id {
            if denied {
                let t = thresholds.denied_actions;
                let n = self
                    .count_events_by_actor(actor, Some(account_id), None, "denied", now - t.window_us(), t.count)
                    .await?;
                if n >= t.count {
                    findings.push(account(
                        AlertKind::DeniedActions,
                        format!("{} was refused {n} times on {handle} in {} minutes", who(ev), t.minutes),
                        format!(
                            "The latest: {} ({}), {}.",
                            ev.action,
                            detail["reason"].as_str().unwrap_or("refused"),
                            from_where(ev)
                        ),
                    ));
                }
            }
            if !denied
                && by_other
                && let Some(kind) = action.and_then(change_kind)
            {
                findings.push(account(
                    kind,
                    format!("{} made a change on {handle}: {}", who(ev), ev.action),
                    format!("Target {}; details {}.", ev.target.as_deref().unwrap_or("-"), ev.detail),
                ));
            }
            if by_other
                && self.outside_windows(account_id, &UserId::from(actor.as_str()), &facts.time_zone, now).await?
            {
                findings.push(account(
                    AlertKind::OutsideWindow,
                    format!("{} acted on {handle} outside their posting windows", who(ev)),
                    format!("{} ({}), {}.", ev.action, ev.outcome, from_where(ev)),
                ));
            }
        }
        if let Some(rule) = burst_rule(&ev.action, &ev.outcome, &thresholds) {
            let n = match burst_count {
                Some(n) => n.min(rule.threshold.count),
                None => self.count_account_actions(account_id, &rule, now).await?,
            };
            let t = rule.threshold;
            if n >= t.count {
                findings.push(match rule.matches {
                    Prefix(_) => account(
                        AlertKind::MemberChangeBurst,
                        format!("{n} member changes on {handle} in {} minutes", t.minutes),
                        format!("The latest: {} by {}.", ev.action, who(ev)),
                    ),
                    Exact(_) => account(
                        AlertKind::PostBurst,
                        format!("{n} posts made on {handle} in {} minutes", t.minutes),
                        format!("The latest by {}.", who(ev)),
                    ),
                });
            }
        }
        Ok(())
    }

    /// Whether the member has posting windows and `at` lies outside them.
    async fn outside_windows(
        &mut self,
        account_id: &AccountId,
        user_id: &UserId,
        tz: &str,
        at: Micros,
    ) -> Result<bool> {
        let q = "SELECT windows FROM memberships WHERE account_id = $1 AND user_id = $2";
        let windows: Option<String> = on_tx!(self, |c| sqlx::query_scalar(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .fetch_optional(c)
            .await)?;
        let Some(windows) = windows else { return Ok(false) };
        // Unreadable windows allow nothing (fail closed): whatever the member did is outside.
        let Ok(windows) = stored_windows(&windows) else { return Ok(true) };
        if windows.is_empty() {
            return Ok(false);
        }
        let (Ok(tz), Ok(at)) = (parse_time_zone(tz), jiff::Timestamp::from_microsecond(at)) else {
            return Ok(false);
        };
        Ok(!is_within_windows(&windows, &tz, at))
    }

    /// How many of the actor's events with this outcome (on the account: of any action; elsewhere:
    /// of `action`) fell since `since`, counting at most
    /// `limit`: a detector needs to know whether its threshold is reached, never by how much, so
    /// each write reads a bounded number of rows however busy the window is.
    async fn count_events_by_actor(
        &mut self,
        actor: &str,
        account_id: Option<&AccountId>,
        action: Option<Action>,
        outcome: &str,
        since: Micros,
        limit: i64,
    ) -> Result<i64> {
        let n: i64 = match account_id {
            Some(account) => {
                let q = "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE account_id = $1 AND actor_id = $2 \
                         AND at >= $3 AND outcome = $4 LIMIT CAST($5 AS BIGINT)) AS hits) + (SELECT COUNT(*) FROM (SELECT 1 FROM \
                         audit_pending WHERE account_id = $1 AND actor_id = $2 AND at >= $3 AND outcome = $4 LIMIT CAST($5 AS BIGINT)) AS waiting)";
                on_tx!(self, |c| sqlx::query_scalar(q)
                    .bind(account.as_str())
                    .bind(actor)
                    .bind(since)
                    .bind(outcome)
                    .bind(limit)
                    .fetch_one(c)
                    .await)?
            }
            None => {
                let q = "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE actor_id = $1 AND at >= $2 \
                         AND action = $3 AND outcome = $4 LIMIT CAST($5 AS BIGINT)) AS hits) + (SELECT COUNT(*) FROM (SELECT 1 FROM \
                         audit_pending WHERE actor_id = $1 AND at >= $2 AND action = $3 AND outcome = $4 LIMIT CAST($5 AS BIGINT)) AS waiting)";
                on_tx!(self, |c| sqlx::query_scalar(q)
                    .bind(actor)
                    .bind(since)
                    .bind(action.map(Action::as_str))
                    .bind(outcome)
                    .bind(limit)
                    .fetch_one(c)
                    .await)?
            }
        };
        // Chained and pending events are counted apart, each up to the limit.
        Ok(n.min(limit))
    }

    /// How many allowed events of the account match `rule` in its threshold's window, counting
    /// at most the threshold (see [`Self::count_events_by_actor`]).
    async fn count_account_actions(
        &mut self,
        account_id: &AccountId,
        rule: &BurstRule<'_>,
        now: Micros,
    ) -> Result<i64> {
        let q = burst_count_sql(&rule.matches, 1);
        let n: i64 = on_tx!(self, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(q.clone()))
            .bind(account_id.as_str())
            .bind(now - rule.threshold.window_us())
            .bind(rule.matches.pattern())
            .bind(rule.threshold.count)
            .fetch_one(c)
            .await)?;
        Ok(n.min(rule.threshold.count))
    }

    /// Raises a finding: groups it into an unacknowledged alert of the same kind (and account or
    /// person) seen in the last 15 minutes, or creates an alert and queues its deliveries to
    /// each recipient's channels.
    pub async fn raise_alert(&mut self, f: Finding) -> Result<Raised> {
        let since = f.at - GROUPING_WINDOW_US;
        let kind = f.kind.as_str();
        // Grouping is one statement: the newest matching alert, if any, counted up and answered.
        let grouped: Option<(String, i64)> = match (&f.account_id, &f.user_id) {
            (Some(account), _) => {
                let q = "UPDATE alerts SET count = count + 1, last_seen_at = $4, detail = $5 WHERE id = \
                         (SELECT id FROM alerts WHERE account_id = $1 AND kind = $2 AND acknowledged_at IS NULL \
                         AND last_seen_at >= $3 ORDER BY last_seen_at DESC LIMIT 1) RETURNING id, count";
                on_tx!(self, |c| sqlx::query_as(q)
                    .bind(account.as_str())
                    .bind(kind)
                    .bind(since)
                    .bind(f.at)
                    .bind(&f.detail)
                    .fetch_optional(c)
                    .await)?
            }
            (None, Some(user)) => {
                let q = "UPDATE alerts SET count = count + 1, last_seen_at = $4, detail = $5 WHERE id = \
                         (SELECT id FROM alerts WHERE user_id = $1 AND account_id IS NULL AND kind = $2 \
                         AND acknowledged_at IS NULL AND last_seen_at >= $3 ORDER BY last_seen_at DESC LIMIT 1) \
                         RETURNING id, count";
                on_tx!(self, |c| sqlx::query_as(q)
                    .bind(user.as_str())
                    .bind(kind)
                    .bind(since)
                    .bind(f.at)
                    .bind(&f.detail)
                    .fetch_optional(c)
                    .await)?
            }
            // A bug in the caller, not a conflict the API should answer with 409.
            (None, None) => {
                return Err(crate::StoreError::Database(sqlx::Error::Encode(
                    "a finding names neither an account nor a person".into(),
                )));
            }
        };
        if let Some((alert_id, count)) = grouped {
            return Ok(Raised::Grouped { alert_id: AlertId::from(alert_id), count });
        }
        let id = AlertId::new(uuid::Uuid::now_v7().to_string());
        let q = "INSERT INTO alerts (id, kind, account_id, user_id, severity, summary, detail, count, created_at, \
                 last_seen_at, acknowledged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8, NULL)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(id.as_str())
            .bind(kind)
            .bind(f.account_id.as_deref())
            .bind(f.user_id.as_deref())
            .bind(f.kind.severity())
            .bind(&f.summary)
            .bind(&f.detail)
            .bind(f.at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;

        // Recipients: the person, or the account's owner and its active admins.
        let recipients: Vec<Recipient> = match (&f.account_id, &f.user_id) {
            (Some(account), _) => {
                let q = "SELECT m.user_id, p.email, p.webhook_url, p.kinds FROM memberships m \
                         LEFT JOIN alert_preferences p ON p.user_id = m.user_id \
                         WHERE m.account_id = $1 AND (m.role = 'owner' OR (m.role = 'admin' AND m.status = 'active' \
                         AND (m.expires_at IS NULL OR m.expires_at > $2))) ORDER BY m.user_id";
                on_tx!(self, |c| sqlx::query_as(q).bind(account.as_str()).bind(f.at).fetch_all(c).await)?
            }
            (None, Some(user)) => {
                let q = "SELECT u.id, p.email, p.webhook_url, p.kinds FROM users u \
                         LEFT JOIN alert_preferences p ON p.user_id = u.id WHERE u.id = $1";
                on_tx!(self, |c| sqlx::query_as(q).bind(user.as_str()).fetch_all(c).await)?
            }
            (None, None) => Vec::new(),
        };
        let mut deliveries = 0;
        for (user_id, email, webhook_url, kinds) in recipients {
            if let Some(kinds) = kinds {
                let wanted: Vec<String> = serde_json::from_str(&kinds).unwrap_or_default();
                if !wanted.iter().any(|k| k == kind) {
                    continue;
                }
            }
            // Without preferences, email is on: an owner who never opened the settings still hears.
            // A server without mail queues none: there is nothing to send them with.
            let mut channels = Vec::new();
            if email.unwrap_or(true) && self.email_deliveries {
                channels.push("email");
            }
            if webhook_url.is_some() {
                channels.push("webhook");
            }
            for channel in channels {
                let q = "INSERT INTO alert_deliveries (id, alert_id, user_id, channel, attempts, next_attempt_at, \
                         delivered_at, gave_up_at, last_error, created_at) VALUES ($1, $2, $3, $4, 0, $5, NULL, NULL, NULL, $5)";
                on_tx!(self, |c| sqlx::query(q)
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(id.as_str())
                    .bind(&user_id)
                    .bind(channel)
                    .bind(f.at)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
                deliveries += 1;
            }
        }
        Ok(Raised::New { alert_id: id, deliveries })
    }

    /// Raises findings in order (a sealing round's, in chain order), as one [`Self::raise_alert`]
    /// each would, but with one statement for each run of findings that group into the same
    /// alert: the first is raised, the rest count it up together, the last one's words kept.
    pub(crate) async fn raise_alerts_in_order(&mut self, findings: Vec<Finding>) -> Result<()> {
        let mut findings = findings.into_iter().peekable();
        while let Some(first) = findings.next() {
            let same =
                |f: &Finding| f.kind == first.kind && f.account_id == first.account_id && f.user_id == first.user_id;
            let mut more = 0i64;
            let mut last: Option<Finding> = None;
            while let Some(f) = findings.next_if(|f| same(f)) {
                more += 1;
                last = Some(f);
            }
            let alert_id = match self.raise_alert(first).await? {
                Raised::New { alert_id, .. } | Raised::Grouped { alert_id, .. } => alert_id,
            };
            if let Some(last) = last {
                let q = "UPDATE alerts SET count = count + $2, last_seen_at = $3, detail = $4 WHERE id = $1";
                on_tx!(self, |c| sqlx::query(q)
                    .bind(alert_id.as_str())
                    .bind(more)
                    .bind(last.at)
                    .bind(&last.detail)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
            }
        }
        Ok(())
    }

    pub async fn upsert_alert_preferences(&mut self, p: &AlertPreferencesRow) -> Result<()> {
        let q = "INSERT INTO alert_preferences (user_id, email, webhook_url, webhook_secret_sealed, kinds, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO UPDATE SET email = $2, webhook_url = $3, \
                 webhook_secret_sealed = $4, kinds = $5, updated_at = $6";
        on_tx!(self, |c| sqlx::query(q)
            .bind(p.user_id.as_str())
            .bind(p.email)
            .bind(&p.webhook_url)
            .bind(p.webhook_secret_sealed.as_deref())
            .bind(&p.kinds)
            .bind(p.updated_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Replaces a sealed webhook secret if it is still `old` (compare-and-set, for rotation).
    pub async fn replace_webhook_secret_sealed(&mut self, user_id: &UserId, old: &[u8], new: &[u8]) -> Result<bool> {
        let q =
            "UPDATE alert_preferences SET webhook_secret_sealed = $3 WHERE user_id = $1 AND webhook_secret_sealed = $2";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(old)
            .bind(new)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Acknowledges, for this user only, an alert the user may see; false if there is none
    /// such. When its primary recipient (the account's owner, or the person of a personal alert)
    /// acknowledges it, it also stops gathering new findings.
    pub async fn acknowledge_alert(&mut self, alert_id: &AlertId, user_id: &UserId, now: Micros) -> Result<bool> {
        let q = sqlx::AssertSqlSafe(format!("SELECT a.id FROM alerts a WHERE a.id = $1 AND ({VISIBLE})"));
        let visible: Option<String> = on_tx!(self, |c| sqlx::query_scalar(q)
            .bind(alert_id.as_str())
            .bind(user_id.as_str())
            .bind(now)
            .fetch_optional(c)
            .await)?;
        if visible.is_none() {
            return Ok(false);
        }
        // The person's own acknowledgement, and the alert's for everyone when it is theirs.
        let ack = "INSERT INTO alert_acks (alert_id, user_id, acknowledged_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (alert_id, user_id) DO NOTHING";
        let shared = "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, $3) WHERE id = $1 \
                      AND ((account_id IS NULL AND user_id = $2) \
                           OR account_id IN (SELECT id FROM social_accounts WHERE owner_id = $2))";
        for q in [ack, shared] {
            on_tx!(self, |c| sqlx::query(q)
                .bind(alert_id.as_str())
                .bind(user_id.as_str())
                .bind(now)
                .execute(c)
                .await
                .map(|_| ()))?;
        }
        Ok(true)
    }
}

/// One person's acknowledgement of an alert.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertAckRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub alert_id: AlertId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub email: String,
    pub acknowledged_at: Micros,
}

/// A recipient of an alert with their preferences: `(user_id, email?, webhook_url?, kinds?)`.
type Recipient = (String, Option<bool>, Option<String>, Option<String>);

pub(crate) enum ActionMatch<'a> {
    Exact(&'a str),
    Prefix(&'a str),
}
use ActionMatch::{Exact, Prefix};

impl ActionMatch<'_> {
    pub(crate) fn pattern(&self) -> &str {
        match self {
            Exact(a) | Prefix(a) => a,
        }
    }
}

/// The burst an event can complete: member changes, or posts made, on its account. At most
/// one applies to an event, so an append can read its count in the same round trip as its
/// insert (SQLite, `Tx::append_audit`).
pub(crate) struct BurstRule<'a> {
    pub matches: ActionMatch<'a>,
    pub threshold: Threshold,
}

/// Which burst an event of `action` with `outcome` on an account counts towards, under the
/// account's thresholds (a refused attempt is not the thing itself).
pub(crate) fn burst_rule<'a>(action: &'a str, outcome: &str, thresholds: &AlertThresholds) -> Option<BurstRule<'a>> {
    if outcome == "denied" {
        return None;
    }
    let parsed = Action::parse(action)?;
    if parsed.is_member_change() {
        Some(BurstRule { matches: Prefix("members."), threshold: thresholds.member_change_burst })
    } else if POST_CREATED_ACTIONS.contains(&parsed) {
        Some(BurstRule { matches: Exact(action), threshold: thresholds.post_burst })
    } else {
        None
    }
}

/// The query counting an account's allowed events that `matches` (chained, and pending on
/// PostgreSQL, each up to the limit), its parameters numbered from `first`: the account, the
/// window's start, the action or prefix, the limit.
pub(crate) fn burst_count_sql(matches: &ActionMatch<'_>, first: usize) -> String {
    let (account, since, action, limit) = (first, first + 1, first + 2, first + 3);
    let test = match matches {
        Exact(_) => format!("action = ${action}"),
        Prefix(_) => format!("substr(action, 1, length(${action})) = ${action}"),
    };
    let hits = |table: &str| {
        format!(
            "(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE account_id = ${account} AND {test} AND at >= ${since} \
             AND outcome = 'allowed' LIMIT CAST(${limit} AS BIGINT)) AS hits)"
        )
    };
    format!("SELECT {} + {}", hits("audit_events"), hits("audit_pending"))
}

/// The alerts `$2` (a user id) may see at `$3` (now): their own, and those of accounts they own
/// or administer (active, unexpired).
const VISIBLE: &str = "(a.user_id = $2 AND a.account_id IS NULL) OR a.account_id IN (SELECT m.account_id FROM memberships m \
     WHERE m.user_id = $2 AND (m.role = 'owner' OR (m.role = 'admin' AND m.status = 'active' \
     AND (m.expires_at IS NULL OR m.expires_at > $3))))";

impl Store {
    /// The alerts the user may see, newest first; `before` is the previous page's last
    /// `(created_at, id)`.
    pub async fn alerts_for_user(
        &self,
        user_id: &UserId,
        now: Micros,
        unacknowledged_only: bool,
        before: Option<(Micros, AlertId)>,
        limit: i64,
    ) -> Result<Vec<AlertRow>> {
        self.settle_audit().await;
        let (b_at, b_id) = before.map_or((None, None), |(a, i)| (Some(a), Some(i)));
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT {MY_ALERT_COLUMNS} FROM alerts a WHERE ({VISIBLE}) AND ($4 = FALSE OR NOT EXISTS \
             (SELECT 1 FROM alert_acks k WHERE k.alert_id = a.id AND k.user_id = $2)) \
             AND ($5 IS NULL OR a.created_at < $5 OR (a.created_at = $5 AND a.id < $6)) \
             ORDER BY a.created_at DESC, a.id DESC LIMIT CAST($1 AS BIGINT)"
        ));
        Ok(on_pool!(self, |c| sqlx::query_as::<_, AlertRow>(q)
            .bind(limit)
            .bind(user_id.as_str())
            .bind(now)
            .bind(unacknowledged_only)
            .bind(b_at)
            .bind(b_id.as_deref())
            .fetch_all(c)
            .await)?)
    }

    /// Who acknowledged which of these alerts, and when, as their owner sees it: only alerts of
    /// accounts `owner_id` owns, or their personal ones.
    pub async fn alert_acknowledgements(&self, owner_id: &UserId, alert_ids: &[AlertId]) -> Result<Vec<AlertAckRow>> {
        if alert_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = (0..alert_ids.len()).map(|i| format!("${}", i + 2)).collect();
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT k.alert_id, k.user_id, u.email, k.acknowledged_at FROM alert_acks k \
             JOIN alerts a ON a.id = k.alert_id JOIN users u ON u.id = k.user_id \
             WHERE k.alert_id IN ({}) AND ((a.account_id IS NULL AND a.user_id = $1) \
                  OR a.account_id IN (SELECT id FROM social_accounts WHERE owner_id = $1)) \
             ORDER BY k.acknowledged_at, k.user_id",
            ids.join(", ")
        ));
        Ok(on_pool!(self, |c| {
            let mut query = sqlx::query_as::<_, AlertAckRow>(q).bind(owner_id.as_str());
            for id in alert_ids {
                query = query.bind(id.as_str());
            }
            query.fetch_all(c).await
        })?)
    }

    pub async fn alert_by_id(&self, id: &AlertId) -> Result<Option<AlertRow>> {
        self.settle_audit().await;
        let q = sqlx::AssertSqlSafe(format!("SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = $1"));
        Ok(on_pool!(self, |c| sqlx::query_as::<_, AlertRow>(q).bind(id.as_str()).fetch_optional(c).await)?)
    }

    /// Whether `user_id` may see the alert at `now`, as the alert list decides ([`VISIBLE`]):
    /// a queued delivery to someone removed, suspended or expired since it was raised is not sent.
    pub async fn alert_visible_to(&self, id: &AlertId, user_id: &UserId, now: Micros) -> Result<bool> {
        let q = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM alerts a WHERE a.id = $1 AND ({VISIBLE})"));
        let n: i64 = on_pool!(self, |c| sqlx::query_scalar(q)
            .bind(id.as_str())
            .bind(user_id.as_str())
            .bind(now)
            .fetch_one(c)
            .await)?;
        Ok(n > 0)
    }

    pub async fn alert_preferences(&self, user_id: &UserId) -> Result<Option<AlertPreferencesRow>> {
        let q = "SELECT user_id, email, webhook_url, webhook_secret_sealed, kinds, updated_at FROM alert_preferences \
                 WHERE user_id = $1";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, AlertPreferencesRow>(q)
            .bind(user_id.as_str())
            .fetch_optional(c)
            .await)?)
    }

    /// Deliveries due at `now`, oldest first.
    pub async fn due_deliveries(&self, now: Micros, limit: i64) -> Result<Vec<DeliveryRow>> {
        let q = "SELECT d.id, d.alert_id, d.user_id, d.channel, d.attempts, d.next_attempt_at, u.email, p.webhook_url, \
                 p.webhook_secret_sealed FROM alert_deliveries d JOIN users u ON u.id = d.user_id \
                 LEFT JOIN alert_preferences p ON p.user_id = d.user_id \
                 WHERE d.delivered_at IS NULL AND d.gave_up_at IS NULL AND d.next_attempt_at <= $1 \
                 ORDER BY d.next_attempt_at LIMIT CAST($2 AS BIGINT)";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, DeliveryRow>(q).bind(now).bind(limit).fetch_all(c).await)?)
    }

    /// Takes a due delivery for one attempt (compare-and-set on its schedule, so two replicas
    /// never send the same attempt): pushes its next attempt to `lease_until` and counts the
    /// attempt. False if another worker took it first.
    pub async fn claim_delivery(&self, d: &DeliveryRow, lease_until: Micros) -> Result<bool> {
        let q = "UPDATE alert_deliveries SET next_attempt_at = $3, attempts = attempts + 1 \
                 WHERE id = $1 AND next_attempt_at = $2 AND delivered_at IS NULL AND gave_up_at IS NULL";
        let n = on_pool!(self, |c| sqlx::query(q)
            .bind(d.id.as_str())
            .bind(d.next_attempt_at)
            .bind(lease_until)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn delivery_succeeded(&self, id: &DeliveryId, now: Micros) -> Result<()> {
        let q = "UPDATE alert_deliveries SET delivered_at = $2, last_error = NULL WHERE id = $1";
        on_pool!(self, |c| sqlx::query(q).bind(id.as_str()).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, or given up when `None`.
    pub async fn delivery_failed(
        &self,
        id: &DeliveryId,
        error: &str,
        retry_at: Option<Micros>,
        now: Micros,
    ) -> Result<()> {
        let q = "UPDATE alert_deliveries SET last_error = $2, \
                 next_attempt_at = CASE WHEN $3 IS NULL THEN next_attempt_at ELSE $3 END, \
                 gave_up_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END WHERE id = $1";
        on_pool!(self, |c| sqlx::query(q)
            .bind(id.as_str())
            .bind(error)
            .bind(retry_at)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Sealed webhook secrets after user id `after`, for master-key rotation: `(user_id, sealed)`.
    pub async fn sealed_webhook_secrets_page(&self, after: &str, limit: i64) -> Result<Vec<(UserId, Vec<u8>)>> {
        let q = "SELECT user_id, webhook_secret_sealed FROM alert_preferences WHERE user_id > $1 \
                 AND webhook_secret_sealed IS NOT NULL ORDER BY user_id LIMIT CAST($2 AS BIGINT)";
        let rows: Vec<(String, Vec<u8>)> =
            on_pool!(self, |c| sqlx::query_as(q).bind(after).bind(limit).fetch_all(c).await)?;
        Ok(rows.into_iter().map(|(id, sealed)| (UserId::from(id), sealed)).collect())
    }

    /// Every delivery of an alert (for tests and operators).
    pub async fn deliveries_of_alert(&self, alert_id: &AlertId) -> Result<Vec<DeliveryStatusRow>> {
        let q = "SELECT id, alert_id, user_id, channel, attempts, next_attempt_at, delivered_at, gave_up_at, last_error \
                 FROM alert_deliveries WHERE alert_id = $1 ORDER BY channel, user_id";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, DeliveryStatusRow>(q).bind(alert_id.as_str()).fetch_all(c).await)?)
    }
}

//! Choosing LinkedIn Company Pages: connecting "a Company Page" signs in a member, so the
//! callback lists the pages that member administers (`organizationAcls`, role `ADMINISTRATOR`,
//! state `APPROVED`) and the owner picks one or several; each becomes its own account, posting
//! as the page (`urn:li:organization:…`). Between the callback and the choice the member's
//! credential waits sealed under the master key, bound to the session that connected, for 10
//! minutes; choosing takes it (once), and every chosen page gets its own sealed copy.
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_connectors::{ConnectorError, Identity, linkedin};
use steward_domain::audit::Action;
use steward_domain::ids::{AccountId, PageChoiceId};
use steward_domain::platform;
use steward_domain::windows::parse_time_zone;
use steward_store::{NewAccount, PageChoiceRow};
use utoipa::ToSchema;

use crate::accounts::view::{AccountView, fresh_view};
use crate::actor::{Ctx, Principal};
use crate::credentials::{self, OauthCredential};
use crate::crypto::new_token;
use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::usecase::{Audit, audited, record};

const CHOICE_TTL_US: i64 = 10 * 60 * 1_000_000;
/// The role a member must hold on a page for Steward to offer it: posting, answering comments
/// and reading share statistics all need it.
const ROLE: &str = "ADMINISTRATOR";

/// A page the member administers, as offered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PageOption {
    /// `urn:li:organization:{id}`.
    pub organization: String,
    pub name: String,
    /// The page's URL name (`linkedin.com/company/{vanity_name}`), when it has one.
    pub vanity_name: Option<String>,
}

/// The pages to choose from.
#[derive(Serialize, ToSchema)]
pub struct PageChoiceView {
    #[schema(value_type = String)]
    pub id: PageChoiceId,
    /// Who signed in to LinkedIn (the member whose page roles these are).
    pub member: String,
    pub pages: Vec<PageChoiceItem>,
    pub expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct PageChoiceItem {
    #[serde(flatten)]
    pub page: PageOption,
    /// The caller's account for this page, if it is connected already (it cannot be chosen).
    #[schema(value_type = Option<String>)]
    pub connected_account_id: Option<AccountId>,
}

#[derive(Deserialize, ToSchema)]
pub struct ChoosePagesRequest {
    /// The pages to connect (`urn:li:organization:…`), each from the list; at least one.
    pub organizations: Vec<String>,
    /// The accounts' time zone (IANA name); UTC when not given.
    pub time_zone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChosenPages {
    /// One new account per page chosen, in the order asked.
    pub items: Vec<AccountView>,
}

fn credential_aad(choice_id: &PageChoiceId) -> String {
    format!("linkedin_page_choices:{choice_id}:credential")
}

/// The pages the member of `cred` administers, with their names. A page whose name cannot be
/// read is offered under its URN.
async fn administered_pages(s: &Services, cred: &OauthCredential) -> Result<Vec<PageOption>, ConnectorError> {
    let app = s
        .settings
        .linkedin
        .as_ref()
        .ok_or_else(|| ConnectorError::Misconfigured("LinkedIn is not configured on this server".into()))?;
    let version = &s.settings.linkedin_version;
    let token = &cred.tokens.access_token;
    let roles = linkedin::organization_acls(&s.http, app, version, token, ROLE, "APPROVED").await?;
    let mut pages: Vec<PageOption> = Vec::new();
    for r in roles {
        if r.role != ROLE || r.state != "APPROVED" || pages.iter().any(|p| p.organization == r.organization) {
            continue;
        }
        let page = match linkedin::organization(&s.http, app, version, token, &r.organization).await {
            Ok(o) => PageOption { organization: o.urn, name: o.name, vanity_name: o.vanity_name },
            Err(ConnectorError::Rejected(_)) => {
                PageOption { organization: r.organization.clone(), name: r.organization, vanity_name: None }
            }
            Err(e) => return Err(e),
        };
        pages.push(page);
    }
    Ok(pages)
}

/// What the callback of a new Company Page connection decided.
pub(crate) enum Offer {
    /// The pages are waiting to be chosen under this id.
    Choose { choice_id: PageChoiceId, pages: usize },
    /// The member administers no page (or LinkedIn refused to list them): nothing kept.
    NoPages(String),
}

/// Keeps the member's credential for the choice and lists their pages (from the callback).
pub(crate) async fn offer(s: &Services, ctx: &Ctx, who: &Principal, cred: &OauthCredential) -> AppResult<Offer> {
    let session_id = who.session_id.clone().ok_or(AppError::Unauthenticated { presented: true })?;
    let pages = match administered_pages(s, cred).await {
        Ok(p) => p,
        Err(e @ (ConnectorError::Rejected(_) | ConnectorError::Unauthorized(_))) => {
            return Ok(Offer::NoPages(format!(
                "LinkedIn did not list the pages you administer ({e}). The app needs the Community Management \
                 API, and you an administrator role on the page."
            )));
        }
        Err(e) => {
            return Err(AppError::PlatformUnavailable(format!("LinkedIn could not be asked for your pages: {e}")));
        }
    };
    if pages.is_empty() {
        return Ok(Offer::NoPages(format!(
            "{} administers no LinkedIn Company Page (an ADMINISTRATOR role, approved, is needed to post and read \
             statistics as the page).",
            cred.identity.display_name
        )));
    }
    let id = PageChoiceId::new(new_token("lpc_"));
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(cred).map_err(|e| AppError::internal(anyhow::anyhow!("credential: {e}")))?,
    );
    let now = s.clock.now_us();
    let row = PageChoiceRow {
        id: id.clone(),
        user_id: who.user_id.clone(),
        session_id,
        credential_sealed: s.vault().seal(&credential_aad(&id), &plain),
        pages: serde_json::to_string(&pages).map_err(|e| AppError::internal(anyhow::anyhow!("pages: {e}")))?,
        created_at: now,
        expires_at: now + CHOICE_TTL_US,
    };
    let count = pages.len();
    audited(s, ctx, &who.actor(), async |tx| {
        tx.insert_page_choice(&row).await?;
        let names: Vec<&str> = pages.iter().map(|p| p.organization.as_str()).collect();
        let audit = Audit::personal(Action::AccountConnectPages)
            .detail(json!({ "platform": "linkedin", "organizations": names }));
        Ok(((), audit))
    })
    .await?;
    Ok(Offer::Choose { choice_id: id, pages: count })
}

/// The choice, if it is `who`'s own (same sign-in) and still open; otherwise not found.
async fn own_choice(s: &Services, who: &Principal, id: &PageChoiceId) -> AppResult<(PageChoiceRow, Vec<PageOption>)> {
    let row = s.store.page_choice(id).await?.ok_or(AppError::NotFound)?;
    let same_session = row.user_id == who.user_id && who.session_id.as_ref() == Some(&row.session_id);
    if !same_session || row.expires_at <= s.clock.now_us() {
        return Err(AppError::NotFound);
    }
    let pages: Vec<PageOption> =
        serde_json::from_str(&row.pages).map_err(|e| AppError::internal(anyhow::anyhow!("stored page choice: {e}")))?;
    Ok((row, pages))
}

/// `who`'s LinkedIn page accounts (owned), by page URN, as their handles and names tell.
async fn connected(s: &Services, who: &Principal, pages: &[PageOption]) -> AppResult<Vec<Option<AccountId>>> {
    let owned: Vec<_> = s
        .store
        .accounts_of_user(&who.user_id)
        .await?
        .into_iter()
        .map(|(a, _)| a)
        .filter(|a| a.platform.as_str() == "linkedin" && a.account_kind == "organization" && a.owner_id == who.user_id)
        .collect();
    Ok(pages
        .iter()
        .map(|p| {
            let handle = p.vanity_name.clone().unwrap_or_else(|| p.organization.clone());
            owned.iter().find(|a| a.handle == handle).map(|a| a.id.clone())
        })
        .collect())
}

/// The pages waiting to be chosen.
pub async fn page_choice(s: &Services, _ctx: &Ctx, who: &Principal, id: &PageChoiceId) -> AppResult<PageChoiceView> {
    let (row, pages) = own_choice(s, who, id).await?;
    let cred = open(s, &row)?;
    let accounts = connected(s, who, &pages).await?;
    Ok(PageChoiceView {
        id: row.id,
        member: cred.identity.display_name,
        pages: pages
            .into_iter()
            .zip(accounts)
            .map(|(page, connected_account_id)| PageChoiceItem { page, connected_account_id })
            .collect(),
        expires_at: crate::clock::rfc3339(row.expires_at),
    })
}

fn open(s: &Services, row: &PageChoiceRow) -> AppResult<OauthCredential> {
    let plain = s
        .vault()
        .open(&credential_aad(&row.id), &row.credential_sealed)
        .map_err(|e| AppError::internal(anyhow::anyhow!("page choice: {e}")))?;
    serde_json::from_slice(&plain).map_err(|e| AppError::internal(anyhow::anyhow!("page choice: {e}")))
}

/// Connects the chosen pages, each as its own account owned by `who`, with the member's
/// credential and the page as its identity. Refuses (changing nothing) a page not offered, a
/// page named twice, a page already connected, or an empty choice.
pub async fn choose_pages(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    id: &PageChoiceId,
    input: ChoosePagesRequest,
) -> AppResult<ChosenPages> {
    ctx.slot.set_action(Action::AccountCreate, None);
    let (_, pages) = own_choice(s, who, id).await?;
    if input.organizations.is_empty() {
        return Err(AppError::validation("organizations", "names no page: choose at least one"));
    }
    let raw_zone = input.time_zone.clone().unwrap_or_else(|| "UTC".into());
    let time_zone = match parse_time_zone(&raw_zone) {
        Ok(z) => z.iana_name().unwrap_or("UTC").to_string(),
        Err(e) => return Err(AppError::validation("time_zone", e.to_string())),
    };
    let accounts = connected(s, who, &pages).await?;
    let mut chosen: Vec<&PageOption> = Vec::new();
    for (i, urn) in input.organizations.iter().enumerate() {
        let field = format!("organizations[{i}]");
        let Some(at) = pages.iter().position(|p| p.organization == *urn) else {
            return Err(AppError::validation(&field, "is not one of the pages offered"));
        };
        if chosen.iter().any(|p| p.organization == *urn) {
            return Err(AppError::validation(&field, "is named twice"));
        }
        if let Some(account) = &accounts[at] {
            return Err(AppError::validation(&field, format!("is connected already, as account {account}")));
        }
        chosen.push(&pages[at]);
    }
    let kind = platform::kind_of("linkedin", "organization");
    let (max_members, owner_approval) =
        kind.map(|k| (k.default_max_members, k.owner_approval_required)).unwrap_or((5, false));
    let now = s.clock.now_us();
    let actor = who.actor();
    let ids = audited(s, ctx, &actor, async |tx| {
        // Taken inside the change: of two choices sent at once, one connects and the other
        // finds nothing.
        let row = tx.take_page_choice(id).await?.ok_or(AppError::NotFound)?;
        let member = open(s, &row)?;
        let mut ids = Vec::with_capacity(chosen.len());
        let mut last = None;
        for page in &chosen {
            let identity = Identity {
                id: page.organization.clone(),
                handle: page.vanity_name.clone().unwrap_or_else(|| page.organization.clone()),
                display_name: page.name.clone(),
            };
            let cred = OauthCredential { tokens: member.tokens.clone(), identity, instance: None };
            let account_id = AccountId::new(uuid::Uuid::now_v7().to_string());
            tx.insert_account(NewAccount {
                id: &account_id,
                platform: "linkedin",
                account_kind: "organization",
                handle: &cred.identity.handle,
                display_name: &cred.identity.display_name,
                owner_id: &who.user_id,
                time_zone: &time_zone,
                max_members,
                owner_approval_required: owner_approval,
                credential_sealed: None,
                now,
            })
            .await?;
            credentials::store_in(s, tx, &account_id, &cred).await?;
            let audit = Audit::on_account(&account_id, Action::AccountCreate)
                .target(format!("account:{account_id}"))
                .detail(json!({
                    "platform": "linkedin", "account_kind": "organization", "handle": cred.identity.handle,
                    "organization": page.organization, "via": "oauth",
                }));
            // Every page but the last is recorded here; the last is the change's own event.
            if let Some(previous) = last.replace(audit) {
                record(s, ctx, &actor, tx, previous).await?;
            }
            ids.push(account_id);
        }
        let audit = last.ok_or_else(|| AppError::internal(anyhow::anyhow!("no page chosen")))?;
        Ok((ids, audit))
    })
    .await?;
    let mut items = Vec::with_capacity(ids.len());
    for account_id in &ids {
        items.push(fresh_view(s, who, account_id).await?);
    }
    Ok(ChosenPages { items })
}

/// Whether the member of `cred` still administers `organization` (reconnecting a page: any of
/// its administrators may sign in, not only the one who first connected it).
pub(crate) async fn still_administers(s: &Services, cred: &OauthCredential, organization: &str) -> AppResult<bool> {
    match administered_pages(s, cred).await {
        Ok(pages) => Ok(pages.iter().any(|p| p.organization == organization)),
        Err(ConnectorError::Rejected(_) | ConnectorError::Unauthorized(_)) => Ok(false),
        Err(e) => Err(AppError::PlatformUnavailable(format!("LinkedIn could not be asked for your pages: {e}"))),
    }
}

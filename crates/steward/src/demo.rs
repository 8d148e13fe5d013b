//! The demo's sample world: its people sign in and act through Steward's own API, as they would
//! in a browser, so every change passes the same use cases, authorization and audit chain as a
//! real one (no row is written behind the app's back, and `steward admin audit verify` holds).
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Client, Method};
use serde_json::{Value, json};
use steward_doubles::linkedin::{LinkedInDouble, ShareCounts};

/// The demo's people: email, name, password, and their role on the owner's accounts.
pub const PEOPLE: [(&str, &str, &str, &str); 5] = [
    ("olivia@demo.steward.test", "Olivia Owner", "olivia-demo-passphrase", "owner"),
    ("eddie@demo.steward.test", "Eddie Editor", "eddie-demo-passphrase", "editor"),
    ("mona@demo.steward.test", "Mona Moderator", "mona-demo-passphrase", "moderator"),
    ("andy@demo.steward.test", "Andy Analyst", "andy-demo-passphrase", "analyst"),
    // A helper who scheduled a post and left before it was due: why one post is held.
    ("tess@demo.steward.test", "Tess Temp", "tess-demo-passphrase", "former admin"),
];

/// The Company Page the demo's LinkedIn member administers.
pub const DEMO_PAGE: &str = "urn:li:organization:2414183";

/// Gives the LinkedIn double a Company Page its member administers.
pub fn prepare_linkedin(linkedin: &LinkedInDouble) {
    linkedin.add_organization(DEMO_PAGE, "Olivia's Bakery", "olivias-bakery", 1250);
    // The member who consents on the double (its default).
    linkedin.set_organization_role("782bbtaQ", DEMO_PAGE, "ADMINISTRATOR");
}

struct Api {
    c: Client,
    base: String,
}

impl Api {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut r = self.c.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {text}");
        }
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) })
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let r = self
            .c
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        let body: Value = r.json().await?;
        body["token"].as_str().map(str::to_string).with_context(|| format!("signing in as {email}: {body}"))
    }

    /// Connects through the platform's sign-in page (a local double that consents at once);
    /// answers where the callback sent the browser next, if anywhere.
    async fn connect(&self, token: &str, request: Value) -> anyhow::Result<Option<String>> {
        let started = self.post("/api/v1/accounts/connect", token, request).await?;
        let url = started["authorize_url"].as_str().context("no authorize_url")?;
        let consent = self.c.get(url).send().await?;
        let back = consent.headers().get("location").context("the double did not send the browser back")?;
        let back = back.to_str()?.to_string();
        let done = self.c.get(&back).bearer_auth(token).send().await?;
        if done.status().is_redirection() {
            return Ok(done.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_string));
        }
        if !done.status().is_success() {
            bail!("the callback answered {}: {}", done.status(), done.text().await.unwrap_or_default());
        }
        Ok(None)
    }

    async fn post_in(&self, token: &str, account: &str, text: &str) -> anyhow::Result<String> {
        let p = self.post(&format!("/api/v1/accounts/{account}/posts"), token, json!({"text": text})).await?;
        p["id"].as_str().map(str::to_string).context("no post id")
    }

    async fn act(&self, token: &str, post: &str, what: &str, body: Value) -> anyhow::Result<Value> {
        self.post(&format!("/api/v1/posts/{post}/{what}"), token, body).await
    }

    async fn version(&self, token: &str, post: &str) -> anyhow::Result<i64> {
        let p = self.call(Method::GET, &format!("/api/v1/posts/{post}"), token, None).await?;
        p["version"].as_i64().context("no version")
    }

    /// Waits (briefly) until the post leaves `scheduled`/`publishing`.
    async fn settled(&self, token: &str, post: &str) -> anyhow::Result<Value> {
        for _ in 0..200 {
            let p = self.call(Method::GET, &format!("/api/v1/posts/{post}"), token, None).await?;
            if p["state"] != "scheduled" && p["state"] != "publishing" {
                return Ok(p);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("post {post} was not settled in time")
    }
}

async fn accept_rules(api: &Api, token: &str, account: &str) -> anyhow::Result<()> {
    let a = api.call(Method::GET, &format!("/api/v1/accounts/{account}"), token, None).await?;
    let version = a["rules"]["version"].as_i64().unwrap_or(0);
    if version > 0 {
        api.post(&format!("/api/v1/accounts/{account}/rules/accept"), token, json!({"version": version})).await?;
    }
    Ok(())
}

fn rfc3339_in(seconds: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let at = i64::try_from(now).unwrap_or(0) + seconds;
    // RFC 3339 in UTC without a date library: days since the epoch to a civil date.
    let (days, secs) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Seeds the demo's world on the running server at `base`: the owner's accounts on every
/// platform, three collaborators with windows and house rules, posts in every state, activity
/// and an alert.
pub async fn seed(
    base: &str,
    linkedin: Option<&LinkedInDouble>,
    mastodon: Option<&str>,
    bluesky: Option<(&str, &str, &str)>,
) -> anyhow::Result<()> {
    let api = Api { c: Client::builder().redirect(reqwest::redirect::Policy::none()).build()?, base: base.to_string() };
    let [owner, editor, moderator, analyst, temp] = PEOPLE;
    let olivia = api.sign_in(owner.0, owner.2).await?;

    // The owner connects an account on each platform.
    api.connect(&olivia, json!({"platform": "linkedin", "account_kind": "member"})).await?;
    if let Some(choice) = api.connect(&olivia, json!({"platform": "linkedin", "account_kind": "organization"})).await? {
        let choice = choice.rsplit('/').next().unwrap_or_default().to_string();
        api.post(
            &format!("/api/v1/accounts/connect/linkedin-pages/{choice}"),
            &olivia,
            json!({"organizations": [DEMO_PAGE]}),
        )
        .await?;
    }
    api.connect(&olivia, json!({"platform": "tiktok"})).await?;
    if let Some(instance) = mastodon {
        api.connect(&olivia, json!({"platform": "mastodon", "instance_url": instance})).await?;
    }
    if let Some((service, handle, app_password)) = bluesky {
        api.post(
            "/api/v1/accounts",
            &olivia,
            json!({"platform": "bluesky", "handle": handle, "credentials":
                {"identifier": handle, "app_password": app_password, "service": service}}),
        )
        .await?;
    }
    let accounts = api.call(Method::GET, "/api/v1/accounts", &olivia, None).await?;
    let find = |platform: &str, kind: &str| {
        accounts["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["platform"] == platform && (kind.is_empty() || a["account_kind"] == kind))
            .and_then(|a| a["id"].as_str())
            .map(str::to_string)
    };
    let member = find("linkedin", "member").context("the LinkedIn member account")?;
    let page = find("linkedin", "organization");

    // House rules, then the collaborators, each with weekday posting windows.
    let rules = "Be kind and accurate. No prices without checking with Olivia. Photos only of our own bakes.";
    let shared: Vec<String> = [Some(member.clone()), page.clone()].into_iter().flatten().collect();
    for account in &shared {
        api.call(
            Method::PATCH,
            &format!("/api/v1/accounts/{account}/settings"),
            &olivia,
            Some(json!({"rules_text": rules})),
        )
        .await?;
    }
    let windows: Vec<Value> =
        vec![json!({"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"})];
    let mut tokens = Vec::new();
    for (email, _, password, role) in [editor, moderator, analyst] {
        let session = api.sign_in(email, password).await?;
        for account in &shared {
            let inv = api
                .post(
                    &format!("/api/v1/accounts/{account}/invitations"),
                    &olivia,
                    json!({"email": email, "role": role, "windows": windows}),
                )
                .await?;
            let token = inv["token"].as_str().context("no invitation token")?;
            api.post(&format!("/api/v1/invitations/{token}/accept"), &session, json!({})).await?;
            accept_rules(&api, &session, account).await?;
        }
        tokens.push(session);
    }
    let (eddie, mona) = (&tokens[0], &tokens[1]);

    // Posts in every state, on the LinkedIn member account.
    api.post_in(eddie, &member, "Draft: our autumn menu, still missing the pumpkin loaf photo.").await?;

    let review = api.post_in(eddie, &member, "New: sourdough classes every Saturday morning. Who's in?").await?;
    api.act(eddie, &review, "submit", json!({})).await?;
    api.post(
        &format!("/api/v1/posts/{review}/comments"),
        &olivia,
        json!({"body": "Can we say how many places there are?"}),
    )
    .await?;
    api.post(&format!("/api/v1/posts/{review}/comments"), eddie, json!({"body": "Twelve per class, I'll add it."}))
        .await?;
    api.post(&format!("/api/v1/posts/{review}/comments"), mona, json!({"body": "And mention the gluten-free option?"}))
        .await?;

    let approved = api.post_in(eddie, &member, "Thank you to everyone who came to the open day!").await?;
    api.act(eddie, &approved, "submit", json!({})).await?;
    api.act(&olivia, &approved, "approve", json!({"version": api.version(&olivia, &approved).await?})).await?;

    let scheduled = api.post_in(&olivia, &member, "Next week: the bakery turns ten. Cake for everyone.").await?;
    api.act(&olivia, &scheduled, "submit", json!({})).await?;
    api.act(&olivia, &scheduled, "approve", json!({"version": api.version(&olivia, &scheduled).await?})).await?;
    api.act(&olivia, &scheduled, "schedule", json!({"at": rfc3339_in(7 * 86_400)})).await?;

    // Published on the Company Page, where readers comment and the platform counts.
    let page_account = page.clone().unwrap_or_else(|| member.clone());
    let published = api.post_in(&olivia, &page_account, "Fresh croissants from 7am, every day.").await?;
    api.act(&olivia, &published, "submit", json!({})).await?;
    api.act(&olivia, &published, "approve", json!({"version": api.version(&olivia, &published).await?})).await?;
    api.act(&olivia, &published, "publish-now", json!({})).await?;
    let done = api.settled(&olivia, &published).await?;
    if let (Some(linkedin), Some(urn)) = (linkedin, done["external_id"].as_str()) {
        let reader = "urn:li:person:demoReader";
        if let Some(first) = linkedin.comment_from(reader, urn, None, "Best croissants in town!") {
            linkedin.comment_from(reader, urn, Some(&first), "Are they vegan too?");
        }
        linkedin.comment_from("urn:li:person:demoNeighbour", urn, None, "See you tomorrow morning.");
        linkedin.set_share_statistics(
            urn,
            ShareCounts { impressions: 1840, unique_impressions: 1210, clicks: 96, likes: 74, shares: 9 },
        );
    }

    // Held: a post scheduled by a helper who then left before it was due; the scheduler keeps
    // it back and the owner gets an alert.
    let tess = api.sign_in(temp.0, temp.2).await?;
    let inv = api
        .post(&format!("/api/v1/accounts/{member}/invitations"), &olivia, json!({"email": temp.0, "role": "admin"}))
        .await?;
    let token = inv["token"].as_str().context("no invitation token")?;
    let joined = api.post(&format!("/api/v1/invitations/{token}/accept"), &tess, json!({})).await?;
    accept_rules(&api, &tess, &member).await?;
    let held = api.post_in(&tess, &member, "Closed on Monday for the staff outing.").await?;
    api.act(&tess, &held, "submit", json!({})).await?;
    api.act(&olivia, &held, "approve", json!({"version": api.version(&olivia, &held).await?})).await?;
    api.act(&tess, &held, "schedule", json!({"at": rfc3339_in(2)})).await?;
    let tess_id = joined["user_id"].as_str().context("no member id")?;
    api.call(Method::DELETE, &format!("/api/v1/accounts/{member}/members/{tess_id}"), &olivia, None).await?;
    let held_post = api.settled(&olivia, &held).await?;
    if held_post["hold_reason"].is_null() {
        bail!("the demo's held post was not held: {held_post}");
    }
    Ok(())
}

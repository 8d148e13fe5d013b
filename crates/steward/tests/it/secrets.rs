//! "Secrets stay in" (DESIGN.md invariant 2): the real `steward serve` at
//! `STEWARD_LOG=trace`, pointed at local doubles of every platform, goes through a full connect,
//! a forced refresh (the double's clock passes the token's expiry, so Steward meets a refused
//! token and refreshes once) and a check on each platform. Everything Steward hands out —
//! every response's status line, headers and body, the callback pages, `/metrics`, the log,
//! the audit trail, the database files — is then searched for every secret the doubles issued
//! (client secrets, access and refresh tokens, the app password) and the sandbox's credential.
use std::time::Duration;
use steward_domain::ids::PostId;

use serde_json::{Value, json};
use steward_doubles::{bluesky, linkedin, mastodon, tiktok};

use crate::helpers::PASSWORD;
use crate::helpers::binary::start;

/// A client that keeps a copy of every answer it got (status, headers and body).
struct Recorder {
    client: reqwest::Client,
    browser: reqwest::Client,
    base: String,
    seen: Vec<String>,
}

struct Signed {
    user_id: String,
    token: String,
    csrf: String,
    cookie: String,
}

impl Recorder {
    async fn keep(&mut self, r: reqwest::Response) -> (u16, String) {
        let status = r.status().as_u16();
        let mut copy = format!("{status}\n");
        for (k, v) in r.headers() {
            copy.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
        }
        let body = r.text().await.unwrap();
        copy.push_str(&body);
        self.seen.push(copy);
        (status, body)
    }

    async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        s: Option<&Signed>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(s) = s {
            req = req.bearer_auth(&s.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let (status, text) = self.keep(r).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn user(&mut self, email: &str) -> Signed {
        let (st, _) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({"email": email, "password": PASSWORD, "display_name": "Owner"})),
            )
            .await;
        assert_eq!(st, 201);
        let r = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let (st, text) = self.keep(r).await;
        assert_eq!(st, 200);
        let login: Value = serde_json::from_str(&text).unwrap();
        Signed {
            user_id: login["user"]["id"].as_str().unwrap().into(),
            token: login["token"].as_str().unwrap().into(),
            csrf: login["csrf_token"].as_str().unwrap().into(),
            cookie,
        }
    }

    /// The browser's way through an OAuth connect: start, the platform's consent, the callback page.
    async fn connect(&mut self, s: &Signed, body: Value) -> String {
        let r = self
            .client
            .post(format!("{}/api/v1/accounts/connect", self.base))
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (st, text) = self.keep(r).await;
        assert_eq!(st, 200, "{text}");
        let url = serde_json::from_str::<Value>(&text).unwrap()["authorize_url"].as_str().unwrap().to_string();
        let consent = self.browser.get(&url).send().await.unwrap();
        assert!(consent.status().is_redirection(), "{}", consent.status());
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        // The server listens on an ephemeral port, so its public URL says port 0: the browser
        // would come back to where the server really is.
        let back = back.replacen("http://127.0.0.1:0", &self.base, 1);
        let r = self.client.get(&back).header("cookie", &s.cookie).send().await.unwrap();
        let (st, page) = self.keep(r).await;
        assert_eq!(st, 200, "{page}");
        page
    }

    async fn account_id(&mut self, s: &Signed, platform: &str) -> String {
        let (_, list) = self.call(reqwest::Method::GET, "/api/v1/accounts", Some(s), None).await;
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["platform"] == platform)
            .and_then(|a| a["id"].as_str())
            .unwrap_or_else(|| panic!("no {platform} account in {list}"))
            .to_string()
    }

    async fn check(&mut self, s: &Signed, id: &str) -> String {
        let (st, body) = self.call(reqwest::Method::POST, &format!("/api/v1/accounts/{id}/check"), Some(s), None).await;
        assert_eq!(st, 200, "{body}");
        body["status"].as_str().unwrap().to_string()
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every place in `haystacks` where one of `secrets` (or, for a JWT, its signature) appears.
fn leaks<'a>(secrets: &[String], haystacks: &'a [(String, Vec<u8>)]) -> Vec<(String, &'a str)> {
    let mut found = Vec::new();
    for secret in secrets {
        let mut needles = vec![secret.clone()];
        if let Some(sig) = secret.rsplit('.').next().filter(|s| s.len() >= 20 && *s != secret) {
            needles.push(sig.to_string());
        }
        for needle in needles {
            for (name, hay) in haystacks {
                if contains(hay, &needle) {
                    found.push((format!("{}…", &needle[..needle.len().min(8)]), name.as_str()));
                }
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_platform_secret_leaves_the_server() {
    steward_connectors::http::install_crypto_provider();
    let li = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
    let tt = tiktok::TikTokDouble::start(tiktok::Config::default()).await.unwrap();
    let md = mastodon::MastodonDouble::start(mastodon::Config::default()).await.unwrap();
    let bs = bluesky::BlueskyDouble::start(bluesky::Config::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("STEWARD_SIGNUP", "open"),
        ("STEWARD_LOG", "trace"),
        ("STEWARD_ALLOW_PRIVATE_NETWORKS", "true"),
        // Posts are written straight into the database below: the scheduler looks every second.
        ("STEWARD_SCHEDULER_RECHECK_SECS", "1"),
        ("STEWARD_LINKEDIN_CLIENT_ID", li.config().client_id.as_str()),
        ("STEWARD_LINKEDIN_CLIENT_SECRET", li.config().client_secret.as_str()),
        ("STEWARD_LINKEDIN_AUTH_BASE", li.base.as_str()),
        ("STEWARD_LINKEDIN_API_BASE", li.base.as_str()),
        ("STEWARD_TIKTOK_CLIENT_ID", tt.config().client_key.as_str()),
        ("STEWARD_TIKTOK_CLIENT_SECRET", tt.config().client_secret.as_str()),
        ("STEWARD_TIKTOK_AUTH_BASE", tt.base.as_str()),
        ("STEWARD_TIKTOK_API_BASE", tt.base.as_str()),
    ];
    let server = start(&["serve"], dir.path(), &env).await;
    let mut rec = Recorder {
        client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
        browser: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        base: server.base.clone(),
        seen: Vec::new(),
    };
    let owner = rec.user("owner@example.com").await;

    // LinkedIn: connect, check, the access token expires on LinkedIn's side → refused → refreshed.
    let page = rec.connect(&owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
    assert!(page.contains("is connected"), "{page}");
    let linkedin_id = rec.account_id(&owner, "linkedin").await;
    assert_eq!(rec.check(&owner, &linkedin_id).await, "active");
    li.advance(Duration::from_secs(61 * 86_400));
    assert_eq!(rec.check(&owner, &linkedin_id).await, "active");

    // TikTok: the same, with a refresh token that rotates on every use.
    rec.connect(&owner, json!({"platform": "tiktok"})).await;
    let tiktok_id = rec.account_id(&owner, "tiktok").await;
    assert_eq!(rec.check(&owner, &tiktok_id).await, "active");
    for _ in 0..2 {
        tt.advance(Duration::from_secs(90_000));
        assert_eq!(rec.check(&owner, &tiktok_id).await, "active");
    }

    // Mastodon: an app registered on the instance (its client secret sealed), connect, check;
    // its tokens cannot be refreshed, so a revoked one means reconnecting, which is done too.
    rec.connect(&owner, json!({"platform": "mastodon", "instance_url": md.base})).await;
    let mastodon_id = rec.account_id(&owner, "mastodon").await;
    assert_eq!(rec.check(&owner, &mastodon_id).await, "active");
    md.revoke_all();
    assert_eq!(rec.check(&owner, &mastodon_id).await, "needs_reconnect");
    rec.connect(&owner, json!({"platform": "mastodon", "account_id": mastodon_id})).await;
    assert_eq!(rec.check(&owner, &mastodon_id).await, "active");

    // Bluesky: the app password, a session refreshed when the access token expires, and signed
    // in again with the app password when the refresh token has expired too.
    let (st, created) = rec
        .call(
            reqwest::Method::POST,
            "/api/v1/accounts",
            Some(&owner),
            Some(json!({"platform": "bluesky", "handle": "alice", "credentials": {
                "identifier": bs.config().handle, "app_password": bs.config().app_password, "service": bs.base}})),
        )
        .await;
    assert_eq!(st, 201, "{created}");
    let bluesky_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(rec.check(&owner, &bluesky_id).await, "active");
    for jump in [Duration::from_secs(7_300), Duration::from_secs(91 * 86_400)] {
        bs.advance(jump);
        assert_eq!(rec.check(&owner, &bluesky_id).await, "active");
    }

    // Sandbox: whatever credential the owner gives is kept sealed and never shown again.
    let sandbox_secret = "sandbox-credential-6f1d2c0e9a8b7f6e5d4c3b2a";
    let (st, created) = rec
        .call(
            reqwest::Method::POST,
            "/api/v1/accounts",
            Some(&owner),
            Some(json!({"platform": "sandbox", "handle": "@sandbox", "credentials": {"api_key": sandbox_secret}})),
        )
        .await;
    assert_eq!(st, 201, "{created}");
    let sandbox_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(rec.check(&owner, &sandbox_id).await, "active");

    // Publish once on every platform (the posts API is another module's: the posts are written
    // straight into the database, approved by the owner and due now).
    let db_url = format!("sqlite://{}/steward.db", dir.path().display());
    let store = steward_store::Store::connect(&db_url).await.unwrap();
    let now =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros()).unwrap();
    let video = r#"[{"url":"https://media.example.com/clip.mp4","kind":"video"}]"#;
    let mut posts = Vec::new();
    for (account, media) in
        [(&linkedin_id, "[]"), (&tiktok_id, video), (&mastodon_id, "[]"), (&bluesky_id, "[]"), (&sandbox_id, "[]")]
    {
        posts.push(
            crate::helpers::seed::insert_due_post(&store, account, &owner.user_id, "Hello from Steward", media, now)
                .await,
        );
    }
    for _ in 0..600 {
        let mut states = Vec::new();
        for id in &posts {
            states.push(store.post(&PostId::new(id.to_string())).await.unwrap().unwrap());
        }
        if states.iter().all(|p| matches!(p.state.as_str(), "published" | "failed")) {
            assert!(states.iter().all(|p| p.state.as_str() == "published"), "{states:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &posts {
        let (st, _) = rec.call(reqwest::Method::GET, &format!("/api/v1/posts/{id}"), Some(&owner), None).await;
        assert!(st == 200 || st == 404, "{st}");
    }
    assert_eq!(li.posts().len(), 1);
    assert_eq!(md.statuses().len(), 1);
    assert_eq!(bs.records().len(), 1);
    store.close().await;

    // A failing platform call (its error text goes to the client and the log).
    li.inject("/v2/userinfo", steward_doubles::Fault::ServerError);
    let (st, _) =
        rec.call(reqwest::Method::POST, &format!("/api/v1/accounts/{linkedin_id}/check"), Some(&owner), None).await;
    assert_eq!(st, 503);

    for id in [&linkedin_id, &tiktok_id, &mastodon_id, &bluesky_id, &sandbox_id] {
        let (st, _) = rec.call(reqwest::Method::GET, &format!("/api/v1/accounts/{id}"), Some(&owner), None).await;
        assert_eq!(st, 200);
    }
    let r = rec.client.get(format!("{}/metrics", rec.base)).send().await.unwrap();
    let (st, metrics) = rec.keep(r).await;
    assert_eq!(st, 200);
    assert!(metrics.contains("http_requests"), "{metrics}");

    let stdout = server.stdout_lines.join("\n");
    let log = server.terminate().await;
    // The scenario really did what the test says.
    assert!(log.contains("/oauth/{platform}/callback"), "the log captured the callbacks");
    let store = steward_store::Store::connect(&db_url).await.unwrap();
    let events = store.audit_events_after(0, 100_000).await.unwrap();
    let refresh_events: Vec<_> = events.iter().filter(|e| e.action == "accounts.credential.refresh").collect();
    assert!(refresh_events.len() >= 5, "linkedin 1, tiktok 2, bluesky 2: {}", refresh_events.len());
    assert!(events.iter().any(|e| e.action == "accounts.reconnect"));
    assert_eq!(events.iter().filter(|e| e.action == "posts.published").count(), 5, "published on every platform");
    let audit: String = events
        .iter()
        .map(|e| {
            format!("{:?} {} {:?} {} {:?} {:?}\n", e.actor_email, e.action, e.target, e.detail, e.ip, e.user_agent)
        })
        .collect();
    store.close().await;

    let mut secrets: Vec<String> = Vec::new();
    secrets.extend(li.issued_secrets());
    secrets.extend(tt.issued_secrets());
    secrets.extend(md.issued_secrets());
    secrets.extend(bs.issued_secrets());
    secrets.push(sandbox_secret.to_string());
    // Sanity: the doubles really issued what the scenario needs (LinkedIn 2 access + 2 refresh
    // + client secret; TikTok 3 + 3 + 1; Mastodon app secret + 2 tokens; Bluesky ≥ 3 pairs + password).
    assert!(secrets.len() >= 5 + 7 + 3 + 7, "{} secrets", secrets.len());

    let mut haystacks: Vec<(String, Vec<u8>)> =
        rec.seen.iter().enumerate().map(|(i, s)| (format!("response #{i}"), s.as_bytes().to_vec())).collect();
    haystacks.push(("log".into(), log.into_bytes()));
    haystacks.push(("stdout".into(), stdout.into_bytes()));
    haystacks.push(("audit".into(), audit.into_bytes()));
    for file in ["steward.db", "steward.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(file)) {
            haystacks.push((file.into(), bytes));
        }
    }
    // The search reads real content: trace-level lines, and the database's own pages.
    assert!(haystacks.iter().any(|(n, h)| n == "log" && contains(h, "TRACE")));
    assert!(haystacks.iter().any(|(n, h)| n.starts_with("steward.db") && contains(h, "@alice.bsky.test")));
    let found = leaks(&secrets, &haystacks);
    assert!(found.is_empty(), "platform secrets leaked: {found:?}");
}

#[test]
fn the_search_finds_a_secret_and_a_jwt_signature() {
    let secrets =
        vec!["act.0123456789abcdef".to_string(), "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJlLW9mLWEtand0LXRva2Vu".to_string()];
    let hay = vec![
        ("clean".to_string(), b"nothing here".to_vec()),
        ("body".to_string(), b"{\"token\":\"act.0123456789abcdef\"}".to_vec()),
        ("log".to_string(), b"sig=c2lnbmF0dXJlLW9mLWEtand0LXRva2Vu".to_vec()),
    ];
    let found = leaks(&secrets, &hay);
    assert_eq!(found.iter().map(|(_, n)| *n).collect::<Vec<_>>(), vec!["body", "log"]);
}

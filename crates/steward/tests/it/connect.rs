//! Connecting a LinkedIn account through OAuth, against the LinkedIn double.
use std::time::Duration;

use serde_json::json;
use steward_connectors::OauthApp;
use steward_doubles::linkedin::{Config, LinkedInDouble};

use crate::helpers::oauth::{callback, landing, start};
use crate::helpers::*;

async fn with_linkedin(backend: Backend, config: Config) -> Option<(TestApp, LinkedInDouble)> {
    let double = LinkedInDouble::start(config).await.unwrap();
    let (id, secret, base) =
        (double.config().client_id.clone(), double.config().client_secret.clone(), double.base.clone());
    let app = TestApp::spawn_with(backend, move |s| {
        s.linkedin = Some(OauthApp {
            client_id: id,
            client_secret: zeroize::Zeroizing::new(secret),
            auth_base: base.clone(),
            api_base: base,
        });
    })
    .await?;
    Some((app, double))
}

fn access_token_seen_by(double: &LinkedInDouble) -> Vec<String> {
    double
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).map(str::to_string))
        .collect()
}

both_backends! {
    async fn connect_callback_creates_the_account_once(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double)) = with_linkedin(backend, Config::default()).await else { return };
        let owner = app.user("owner@example.com").await;
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        assert!(back.starts_with(&format!("{}/oauth/linkedin/callback?code=", app.state.settings.public_url)), "{back}");
        let auth_request = double.requests().into_iter().find(|r| r.path == "/oauth/v2/authorization").unwrap();
        assert!(auth_request.query.contains("code_challenge_method=S256") && auth_request.query.contains("scope=openid+profile+w_member_social"), "{}", auth_request.query);
        // The browser is sent on to the new account's page, which says so in words.
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!(status, 303, "{to}");
        let (status, html) = landing(&app, &owner, &to).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("LinkedIn account Olivia Owner is connected"), "{html}");
        let accounts = app.get("/api/v1/accounts").auth(&owner).send().await;
        let items = accounts.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        let acc = &items[0];
        assert_eq!((acc["platform"].as_str(), acc["account_kind"].as_str(), acc["my_role"].as_str()), (Some("linkedin"), Some("member"), Some("owner")));
        assert_eq!(acc["handle"], "olivia@example.com");
        assert_eq!(acc["settings"]["owner_approval_required"], true, "member profiles always need the owner");
        assert_eq!(to, format!("/accounts/{}?notice=connected", acc["id"].as_str().unwrap()));
        // The same callback again: the state was used; back to the connect page, which says why.
        let (status, again) = callback(&app, &owner, &back).await;
        assert_eq!((status, again.as_str()), (303, "/connect?refused=unusable&platform=linkedin"));
        let (_, words) = landing(&app, &owner, &again).await;
        assert!(words.contains("Nothing was connected") && words.contains("was not valid or was already used"), "{words}");
        assert_eq!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().len(), 1);
        // Test connection asks LinkedIn who it is, with the stored token.
        let id = acc["id"].as_str().unwrap();
        let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
        assert_eq!((check.status, check.body["status"].as_str()), (200, Some("active")), "{}", check.text);
        assert_eq!(check.body["identity"]["handle"], "olivia@example.com");
        // No response ever carried a token.
        for token in access_token_seen_by(&double) {
            assert!(!accounts.text.contains(&token) && !check.text.contains(&token) && !html.contains(&token));
        }
    }

    async fn foreign_expired_and_cancelled_callbacks_change_nothing(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double)) = with_linkedin(backend, Config::default()).await else { return };
        let owner = app.user("owner@example.com").await;
        let other = app.user("other@example.com").await;
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        let r = app.client.get(&back).header("cookie", other.cookie()).send().await.unwrap();
        assert_eq!(r.status(), 403, "another person's session cannot finish my connection");
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!((status, to.as_str()), (303, "/connect?refused=unusable&platform=linkedin"), "and the state is spent");
        // Another of my own sessions cannot finish it either: the state is bound to one sign-in.
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        let second = app.login("owner@example.com").await;
        assert_eq!(app.client.get(&back).header("cookie", second.cookie()).send().await.unwrap().status(), 403);
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        app.clock.advance(Duration::from_secs(11 * 60));
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!((status, to.as_str()), (303, "/connect?refused=expired&platform=linkedin"));
        let owner = app.login("owner@example.com").await;
        let (_, html) = landing(&app, &owner, &to).await;
        assert!(html.contains("took more than 10 minutes"), "{html}");
        let owner = app.login("owner@example.com").await;
        double.cancel_next_authorization();
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "organization"})).await;
        assert!(back.contains("error=user_cancelled_authorize"));
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!((status, to.as_str()), (303, "/connect?refused=cancelled&platform=linkedin"));
        let (_, html) = landing(&app, &owner, &to).await;
        assert!(html.contains("You cancelled on LinkedIn&#39;s page") || html.contains("You cancelled on LinkedIn&#x27;s page") || html.contains("You cancelled on LinkedIn's page"), "{html}");
        let forged = format!("{}/oauth/linkedin/callback?code=x&state=forged", app.state.settings.public_url);
        assert_eq!(callback(&app, &owner, &forged).await, (303, "/connect?refused=unusable&platform=linkedin".to_string()));
        assert!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().is_empty());
    }

    async fn an_expiring_token_is_refreshed_and_a_revoked_one_asks_for_reconnect(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double)) = with_linkedin(backend, Config { access_ttl: 600, ..Config::default() }).await else { return };
        let owner = app.user("owner@example.com").await;
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        callback(&app, &owner, &back).await;
        let id = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"][0]["id"].as_str().unwrap().to_string();
        let before = access_token_seen_by(&double);
        // Nine minutes later the token has less than five minutes left: refreshed before use.
        app.clock.advance(Duration::from_secs(540));
        double.advance(Duration::from_secs(540));
        let owner = app.login("owner@example.com").await;
        let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
        assert_eq!(check.body["status"], "active", "{}", check.text);
        let after = access_token_seen_by(&double);
        assert_ne!(before.last(), after.last(), "a new access token was used");
        let events = app.state.store.audit_events_after(0, 1000).await.unwrap();
        assert!(events.iter().any(|e| e.action == "accounts.credential.refresh"));
        // The member revokes Steward in LinkedIn: the next check says reconnect.
        double.revoke_all();
        let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
        assert_eq!((check.status, check.body["status"].as_str()), (200, Some("needs_reconnect")), "{}", check.text);
        assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await.body["status"], "needs_reconnect");
        let events = app.state.store.audit_events_after(0, 1000).await.unwrap();
        assert!(events.iter().any(|e| e.action == "accounts.credential_failed" && e.account_id.as_deref() == Some(id.as_str())));
        // Reconnecting (owner only) brings it back.
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_id": id})).await;
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!((status, to), (303, format!("/accounts/{id}?notice=reconnected")));
        assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await.body["status"], "active");
        assert_eq!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().len(), 1, "reconnect adds no account");
    }

    async fn linkedin_outages_are_a_retryable_503_and_limits_a_429(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double)) = with_linkedin(backend, Config::default()).await else { return };
        let owner = app.user("owner@example.com").await;
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        callback(&app, &owner, &back).await;
        let id = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"][0]["id"].as_str().unwrap().to_string();
        double.inject("/v2/userinfo", steward_doubles::Fault::ServerError);
        app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await.assert_problem(503, "platform-unavailable");
        // A rate limit is not an outage: 429 with LinkedIn's documented reset (00:00 UTC) as Retry-After.
        double.inject("/v2/userinfo", steward_doubles::Fault::RateLimited);
        let r = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
        r.assert_problem(429, "rate-limited");
        let now = app.clock.now_us() / 1_000_000;
        let retry: i64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
        let until_midnight = (now / 86_400 + 1) * 86_400 - now;
        assert!((until_midnight - 2..=until_midnight).contains(&retry), "Retry-After {retry}: until the next 00:00 UTC ({until_midnight})");
        assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await.body["status"], "active", "an outage is not a broken credential");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_needs_a_configured_platform_a_session_and_the_owner() {
    let plain = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let s = plain.user("owner@example.com").await;
    let r = plain
        .post("/api/v1/accounts/connect")
        .auth(&s)
        .json(json!({"platform": "linkedin", "account_kind": "member"}))
        .send()
        .await;
    r.assert_problem(422, "validation");
    assert!(r.text.contains("STEWARD_LINKEDIN_CLIENT_ID"), "{}", r.text);
    plain
        .post("/api/v1/accounts/connect")
        .auth(&s)
        .json(json!({"platform": "sandbox"}))
        .send()
        .await
        .assert_problem(422, "validation");
    plain
        .post("/api/v1/accounts/connect")
        .auth(&s)
        .json(json!({"platform": "linkedin"}))
        .send()
        .await
        .assert_problem(422, "validation");

    let (app, _double) = with_linkedin(Backend::Sqlite, Config::default()).await.unwrap();
    let owner = app.user("owner@example.com").await;
    let token = app.post("/api/v1/me/tokens").auth(&owner).json(json!({"name": "t", "scopes": ["write"]})).send().await;
    let token = token.body["token"].as_str().unwrap().to_string();
    app.post("/api/v1/accounts/connect")
        .bearer(&token)
        .json(json!({"platform": "linkedin", "account_kind": "member"}))
        .send()
        .await
        .assert_problem(403, "forbidden");
    let acc = crate::helpers::accounts::sandbox_account(&app, &owner, "@s").await;
    let admin = crate::helpers::accounts::member(&app, &owner, &acc, "admin@example.com", "admin").await;
    app.post("/api/v1/accounts/connect")
        .auth(&admin)
        .json(json!({"platform": "linkedin", "account_id": acc}))
        .send()
        .await
        .assert_problem(403, "forbidden");
}

mod tiktok {
    use std::time::Duration;

    use serde_json::json;
    use steward_connectors::OauthApp;
    use steward_doubles::tiktok::{Config, TikTokDouble};

    use crate::helpers::oauth::{connected, start};
    use crate::helpers::*;

    async fn with_tiktok(backend: Backend) -> Option<(TestApp, TikTokDouble)> {
        with_tiktok_as(backend, Config::default()).await
    }

    async fn with_tiktok_as(backend: Backend, config: Config) -> Option<(TestApp, TikTokDouble)> {
        let double = TikTokDouble::start(config).await.unwrap();
        let (id, secret, base) =
            (double.config().client_key.clone(), double.config().client_secret.clone(), double.base.clone());
        let app = TestApp::spawn_with(backend, move |s| {
            s.tiktok = Some(OauthApp {
                client_id: id,
                client_secret: zeroize::Zeroizing::new(secret),
                auth_base: base.clone(),
                api_base: base,
            });
        })
        .await?;
        Some((app, double))
    }

    both_backends! {
        async fn a_creator_connects_tiktok_and_rotated_refresh_tokens_are_kept(app: TestApp) {
            let backend = app.backend;
            drop(app);
            let Some((app, double)) = with_tiktok(backend).await else { return };
            let owner = app.user("creator@example.com").await;
            let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
            let new_id = connected(&app, &owner, &back).await;
            let acc = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"][0].clone();
            assert_eq!(acc["id"].as_str(), Some(new_id.as_str()));
            assert_eq!((acc["platform"].as_str(), acc["settings"]["max_members"].as_i64()), (Some("tiktok"), Some(5)));
            let id = acc["id"].as_str().unwrap().to_string();
            let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
            assert_eq!(check.body["status"], "active", "{}", check.text);
            // Two refreshes in a row: each rotates the refresh token and kills the previous one,
            // so the second only works if the first one's new token was stored.
            for _ in 0..2 {
                app.clock.advance(Duration::from_secs(7_000));
                double.advance(Duration::from_secs(7_000));
                let owner = app.login("creator@example.com").await;
                let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
                assert_eq!(check.body["status"], "active", "{}", check.text);
            }
            let refreshes = app.state.store.audit_events_after(0, 1000).await.unwrap().into_iter().filter(|e| e.action == "accounts.credential.refresh").count();
            assert_eq!(refreshes, 2);
        }
    }

    both_backends! {
        async fn a_refresh_under_way_when_the_owner_reconnects_changes_nothing(app: TestApp) {
            // A slow platform: the owner reconnects while a refresh of the old grant is under way.
            let backend = app.backend;
            drop(app);
            let slow = Config { refresh_delay: Duration::from_millis(400), ..Config::default() };
            let Some((app, double)) = with_tiktok_as(backend, slow).await else { return };
            let owner = app.user("creator@example.com").await;
            let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
            let id = steward_domain::ids::AccountId::from(connected(&app, &owner, &back).await.as_str());
            let s = app.state.services();
            let generation = |app: &TestApp| {
                let id = id.clone();
                let store = app.state.store.clone();
                async move { store.account_by_id(&id).await.unwrap().unwrap() }
            };
            // Round 0: the refresh succeeds with the old grant after the reconnection was stored.
            // Round 1: the owner removed the app in TikTok first, so the old grant's refresh is
            // refused after the reconnection: that refusal is not the new connection's.
            for round in 0..2 {
                app.clock.advance(Duration::from_secs(7_000));
                double.advance(Duration::from_secs(7_000));
                let owner = app.login("creator@example.com").await;
                let before = generation(&app).await.credential_generation;
                let reconnect = async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if round == 1 {
                        double.revoke_all();
                    }
                    let back = start(&app, &owner, json!({"platform": "tiktok", "account_id": id})).await;
                    let (status, to) = crate::helpers::oauth::callback(&app, &owner, &back).await;
                    assert_eq!((status, to), (303, format!("/accounts/{id}?notice=reconnected")), "round {round}");
                    steward_app::credentials::load(s, &id).await.unwrap().tokens.access_token.clone()
                };
                let (refreshed, reconnected) =
                    tokio::join!(steward_app::credentials::fresh(s, &id, "tiktok", false), reconnect);
                let refreshed = refreshed.unwrap_or_else(|e| panic!("round {round}: {e}"));
                let stored = steward_app::credentials::load(s, &id).await.unwrap().tokens.access_token.clone();
                assert_eq!(stored, reconnected, "round {round}: the reconnection's credential stays stored");
                assert_eq!(refreshed.tokens.access_token, reconnected, "round {round}: and is the one used");
                let account = generation(&app).await;
                assert_eq!(account.status.as_str(), "active", "round {round}");
                assert_eq!(account.credential_generation, before + 1, "round {round}: a reconnection is a new generation");
            }
            let events = app.state.store.audit_events_after(0, 1000).await.unwrap();
            assert!(!events.iter().any(|e| e.action == "accounts.credential_failed"), "no alert about a grant no longer used");
            // The new connection works: a check asks TikTok with it.
            let owner = app.login("creator@example.com").await;
            let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
            assert_eq!(check.body["status"], "active", "{}", check.text);
        }

        async fn reconnecting_a_locked_down_account_does_not_lift_the_lockdown(app: TestApp) {
            let backend = app.backend;
            drop(app);
            let Some((app, _double)) = with_tiktok(backend).await else { return };
            let owner = app.user("creator@example.com").await;
            let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
            let id = connected(&app, &owner, &back).await;
            let r = app.post(&format!("/api/v1/accounts/{id}/lockdown")).auth(&owner).json(json!({})).send().await;
            assert_eq!(r.status, 200, "{}", r.text);
            let back = start(&app, &owner, json!({"platform": "tiktok", "account_id": id})).await;
            let (status, _) = crate::helpers::oauth::callback(&app, &owner, &back).await;
            assert_eq!(status, 303);
            let account = app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await;
            assert_eq!(account.body["status"], "locked_down", "lifting is the owner's separate step: {}", account.text);
            let events = app.state.store.audit_events_after(0, 1000).await.unwrap();
            assert!(events.iter().any(|e| e.action == "accounts.reconnect"), "the reconnection itself happened");
            assert!(!events.iter().any(|e| e.action == "accounts.lockdown.lift"));
        }
    }

    /// Two replicas on one PostgreSQL database whose calls find the token expiring at the same
    /// moment: TikTok rotates the refresh token on every use, so a second refresh with the old
    /// one is refused, and the account would be marked `needs_reconnect` (its posts held). One
    /// replica refreshes; the other waits for it and uses the stored result.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_replicas_refresh_a_rotating_token_once() {
        // A slow platform: the second replica's refresh starts before the first one's is stored.
        let slow = Config { refresh_delay: Duration::from_millis(300), ..Config::default() };
        let Some((app, double)) = with_tiktok_as(Backend::Postgres, slow).await else { return };
        let owner = app.user("creator@example.com").await;
        let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
        let id = steward_domain::ids::AccountId::from(connected(&app, &owner, &back).await.as_str());
        // A second replica: same settings (database, master key file), its own process state.
        let other = steward_server::App::build_with_clock(app.state.settings.clone(), app.clock.clone()).await.unwrap();
        app.clock.advance(Duration::from_secs(7_000));
        double.advance(Duration::from_secs(7_000));
        let (a, b) = (app.state.services(), other.state.services());
        for round in 0..3 {
            let (x, y) = tokio::join!(
                steward_app::credentials::fresh(a, &id, "tiktok", false),
                steward_app::credentials::fresh(b, &id, "tiktok", false)
            );
            let (x, y) = (
                x.unwrap_or_else(|e| panic!("round {round}: {e}")),
                y.unwrap_or_else(|e| panic!("round {round}: {e}")),
            );
            assert_eq!(x.tokens.access_token, y.tokens.access_token, "round {round}: both use the one refreshed token");
            app.clock.advance(Duration::from_secs(7_000));
            double.advance(Duration::from_secs(7_000));
        }
        let account = app.state.store.account_by_id(&id).await.unwrap().unwrap();
        assert_eq!(account.status.as_str(), "active");
        let refreshes = app
            .state
            .store
            .audit_events_after(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "accounts.credential.refresh")
            .count();
        assert_eq!(refreshes, 3, "one refresh per expiry, not one per replica");
    }
}

mod bluesky {
    use std::time::Duration;

    use serde_json::json;
    use steward_doubles::bluesky::{BlueskyDouble, Config};

    use crate::helpers::*;

    both_backends! {
        async fn an_owner_adds_bluesky_with_an_app_password(app: TestApp) {
            let backend = app.backend;
            drop(app);
            let double = BlueskyDouble::start(Config::default()).await.unwrap();
            let Some(app) = TestApp::spawn_with(backend, |s| s.allow_private_networks = true).await else { return };
            let owner = app.user("alice@example.com").await;
            let body = |password: &str| json!({"platform": "bluesky", "handle": "alice", "credentials": {
                "identifier": "alice.bsky.test", "app_password": password, "service": double.base.clone()}});
            let wrong = app.post("/api/v1/accounts").auth(&owner).json(body("zzzz-zzzz-zzzz-zzzz")).send().await;
            wrong.assert_problem(422, "validation");
            let main_password = app.post("/api/v1/accounts").auth(&owner).json(body("my main password")).send().await;
            main_password.assert_problem(422, "validation");
            assert!(main_password.text.contains("app password"), "{}", main_password.text);
            assert!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().is_empty());
            let r = app.post("/api/v1/accounts").auth(&owner).json(body(&double.config().app_password)).send().await;
            assert_eq!(r.status, 201, "{}", r.text);
            assert_eq!((r.body["handle"].as_str(), r.body["display_name"].as_str()), (Some("@alice.bsky.test"), Some("Alice")));
            assert!(!r.text.contains(&double.config().app_password));
            let id = r.body["id"].as_str().unwrap().to_string();
            let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
            assert_eq!(check.body["status"], "active", "{}", check.text);
            // The access token expires: refreshed; the refresh token expires too: signed in again.
            for jump in [Duration::from_secs(7_300), Duration::from_secs(91 * 86_400)] {
                double.advance(jump);
                let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
                assert_eq!(check.body["status"], "active", "{}", check.text);
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn private_pds_addresses_are_refused_by_default() {
        let double = BlueskyDouble::start(Config::default()).await.unwrap();
        let app = TestApp::spawn_with(Backend::Sqlite, |s| s.allow_private_networks = false).await.unwrap();
        let owner = app.user("alice@example.com").await;
        let r = crate::helpers::accounts::add_bluesky_account(&app, &owner, &double).await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "credentials.service", "{}", r.text);
        assert!(double.requests().is_empty(), "nothing was sent to the private address");
    }
}

mod mastodon {
    use serde_json::json;
    use steward_doubles::mastodon::{Config, MastodonDouble};

    use crate::helpers::oauth::{callback, landing, start};
    use crate::helpers::*;

    pub(crate) async fn with_mastodon(backend: Backend) -> Option<(TestApp, MastodonDouble)> {
        let double = MastodonDouble::start(Config::default()).await.unwrap();
        // The double listens on 127.0.0.1, which only passes with private networks allowed.
        let app = TestApp::spawn_with(backend, |s| s.allow_private_networks = true).await?;
        Some((app, double))
    }

    fn registrations(double: &MastodonDouble) -> usize {
        double.requests().iter().filter(|r| r.method == "POST" && r.path == "/api/v1/apps").count()
    }

    both_backends! {
        async fn a_mastodon_account_connects_on_its_instance_and_the_app_is_reused(app: TestApp) {
            let backend = app.backend;
            drop(app);
            let Some((app, double)) = with_mastodon(backend).await else { return };
            let owner = app.user("olivia@example.com").await;
            let back = start(&app, &owner, json!({"platform": "mastodon", "instance_url": format!("{}/", double.base)})).await;
            assert!(back.starts_with(&format!("{}/oauth/mastodon/callback?code=", app.state.settings.public_url)), "{back}");
            assert_eq!(registrations(&double), 1);
            let reg = double.requests().into_iter().find(|r| r.path == "/api/v1/apps").unwrap();
            assert!(reg.body.contains("/oauth/mastodon/callback") && reg.body.contains("write:statuses"), "{}", reg.body);
            let auth = double.requests().into_iter().find(|r| r.path == "/oauth/authorize").unwrap();
            assert!(auth.query.contains("code_challenge_method=S256") && auth.query.contains("state="), "{}", auth.query);
            let (status, to) = callback(&app, &owner, &back).await;
            assert_eq!(status, 303, "{to}");
            let (_, html) = landing(&app, &owner, &to).await;
            assert!(html.contains("Mastodon account Olivia Owner is connected"), "{html}");
            // The code was exchanged with the PKCE verifier and the registered app.
            let token_call = double.requests().into_iter().find(|r| r.path == "/oauth/token").unwrap();
            assert!(token_call.body.contains("code_verifier=") && token_call.body.contains("grant_type=authorization_code"));
            let accounts = app.get("/api/v1/accounts").auth(&owner).send().await;
            let items = accounts.body["items"].as_array().unwrap();
            assert_eq!(items.len(), 1);
            let acc = &items[0];
            assert_eq!((acc["platform"].as_str(), acc["account_kind"].as_str(), acc["my_role"].as_str()), (Some("mastodon"), Some("account"), Some("owner")));
            assert_eq!(acc["handle"], "@olivia@mastodon.example");
            let id = acc["id"].as_str().unwrap().to_string();
            assert_eq!(to, format!("/accounts/{}?notice=connected", acc["id"].as_str().unwrap()));
            // Replayed: the state was used.
            let (status, to) = callback(&app, &owner, &back).await;
            assert_eq!((status, to.as_str()), (303, "/connect?refused=unusable&platform=mastodon"));
            assert_eq!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().len(), 1);
            // Test connection: verify_credentials with the stored token.
            let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
            assert_eq!((check.status, check.body["status"].as_str()), (200, Some("active")), "{}", check.text);
            assert_eq!(check.body["identity"]["handle"], "@olivia@mastodon.example");
            // A second connect to the same instance (someone else) reuses Steward's registration.
            let other = app.user("oscar@example.com").await;
            start(&app, &other, json!({"platform": "mastodon", "instance_url": double.base})).await;
            assert_eq!(registrations(&double), 1, "one app per instance");
            // The stored registration keeps its client secret sealed.
            let row = app.state.store.mastodon_app(&double.base).await.unwrap().expect("stored app");
            for secret in double.issued_secrets() {
                assert!(!row.client_secret_sealed.windows(secret.len()).any(|w| w == secret.as_bytes()), "secret stored in the clear");
                assert!(!accounts.text.contains(&secret) && !check.text.contains(&secret) && !html.contains(&secret));
            }
            // The owner removes Steward on the instance: the next check asks for a reconnect
            // (Mastodon tokens cannot be refreshed).
            double.revoke_all();
            let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
            assert_eq!((check.status, check.body["status"].as_str()), (200, Some("needs_reconnect")), "{}", check.text);
            let events = app.state.store.audit_events_after(0, 1000).await.unwrap();
            assert!(events.iter().any(|e| e.action == "accounts.credential_failed" && e.account_id.as_deref() == Some(id.as_str())));
            // Reconnecting (owner only) goes back to the account's own instance.
            app.post("/api/v1/accounts/connect").auth(&owner)
                .json(json!({"platform": "mastodon", "account_id": id, "instance_url": "http://127.0.0.2:9"}))
                .send().await.assert_problem(422, "validation");
            let back = start(&app, &owner, json!({"platform": "mastodon", "account_id": id})).await;
            let (status, to) = callback(&app, &owner, &back).await;
            assert_eq!((status, to), (303, format!("/accounts/{id}?notice=reconnected")));
            assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await.body["status"], "active");
            assert_eq!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().len(), 1);
            let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
            assert_eq!(check.body["status"], "active", "{}", check.text);
            assert_eq!(registrations(&double), 1);
        }

        async fn forged_foreign_and_cancelled_mastodon_callbacks_change_nothing(app: TestApp) {
            let backend = app.backend;
            drop(app);
            let Some((app, double)) = with_mastodon(backend).await else { return };
            let owner = app.user("olivia@example.com").await;
            let other = app.user("mallory@example.com").await;
            let body = json!({"platform": "mastodon", "instance_url": double.base});
            let back = start(&app, &owner, body.clone()).await;
            let r = app.client.get(&back).header("cookie", other.cookie()).send().await.unwrap();
            assert_eq!(r.status(), 403, "another person's session cannot finish my connection");
            let unusable = (303, "/connect?refused=unusable&platform=mastodon".to_string());
            assert_eq!(callback(&app, &owner, &back).await, unusable, "and the state is spent");
            let forged = format!("{}/oauth/mastodon/callback?code=x&state=forged", app.state.settings.public_url);
            assert_eq!(callback(&app, &owner, &forged).await, unusable);
            // A state from a Mastodon attempt does not finish on another platform's callback.
            let back = start(&app, &owner, body.clone()).await;
            let crossed = back.replace("/oauth/mastodon/", "/oauth/linkedin/");
            assert_eq!(callback(&app, &owner, &crossed).await, (303, "/connect?refused=unusable&platform=linkedin".to_string()));
            double.cancel_next_authorization();
            let back = start(&app, &owner, body.clone()).await;
            assert!(back.contains("error=access_denied"), "{back}");
            let (status, to) = callback(&app, &owner, &back).await;
            assert_eq!((status, to.as_str()), (303, "/connect?refused=cancelled&platform=mastodon"));
            assert!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().is_empty());
            assert!(!double.requests().iter().any(|r| r.path == "/oauth/token"), "no code was ever exchanged");
            app.post("/api/v1/accounts/connect").auth(&owner).json(json!({"platform": "mastodon"}))
                .send().await.assert_problem(422, "validation");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn private_instances_are_refused_by_default() {
        let double = MastodonDouble::start(Config::default()).await.unwrap();
        let app = TestApp::spawn_with(Backend::Sqlite, |s| s.allow_private_networks = false).await.unwrap();
        let owner = app.user("olivia@example.com").await;
        for url in [
            double.base.as_str(),
            "https://localhost",
            "https://10.1.2.3",
            "https://[::1]:8443",
            "https://m.example/path",
        ] {
            let r = app
                .post("/api/v1/accounts/connect")
                .auth(&owner)
                .json(json!({"platform": "mastodon", "instance_url": url}))
                .send()
                .await;
            r.assert_problem(422, "validation");
            assert_eq!(r.body["errors"][0]["field"], "instance_url", "{url}: {}", r.text);
        }
        assert!(double.requests().is_empty(), "nothing was sent to the private address");
        assert!(app.state.store.mastodon_app(&double.base).await.unwrap().is_none());
    }
}

both_backends! {
    async fn the_connect_form_continues_to_the_platform_by_a_link(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double)) = with_linkedin(backend, Config::default()).await else { return };
        let owner = app.user("owner@example.com").await;
        let (status, html) = crate::helpers::html::page(&app, &owner, "/connect").await;
        assert_eq!(status, 200, "{html}");
        let token = crate::helpers::html::csrf_in(&html);
        let form = [("csrf_token", token.as_str()), ("platform", "linkedin"), ("account_kind", "member")];
        let r = crate::helpers::html::browser()
            .post(format!("{}/connect/oauth", app.base))
            .header("cookie", owner.cookie())
            .form(&form)
            .send()
            .await
            .unwrap();
        // Pages send forms only to Steward (`form-action 'self'`, which browsers also apply to
        // the redirects that answer a form): the way on to the platform is a link.
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("location").is_none());
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("form-action 'self'"), "{csp}");
        let html = r.text().await.unwrap();
        assert!(html.contains("data-follow"), "the page's script follows the link at once: {html}");
        let at = html.find("class=\"go\" href=\"").expect("the link to follow");
        let rest = &html[at + "class=\"go\" href=\"".len()..];
        let url = rest[..rest.find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&");
        assert!(url.starts_with(&format!("{}/oauth/v2/authorization?", double.base)), "{url}");
        let consent = crate::helpers::html::browser().get(&url).send().await.unwrap();
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!(status, 303, "{to}");
        let (status, html) = landing(&app, &owner, &to).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("LinkedIn account Olivia Owner is connected"), "{html}");
    }
}

both_backends! {
    async fn a_platform_name_that_resolves_to_loopback_is_never_called_unless_private_networks_are_allowed(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // The operator's LinkedIn API base names a host that resolves to 127.0.0.1 (as a
        // rebinding name would after the check); the test server does not allow private networks.
        let double = LinkedInDouble::start(Config::default()).await.unwrap();
        let port = double.base.rsplit(':').next().unwrap().trim_end_matches('/').to_string();
        let (id, secret) = (double.config().client_id.clone(), double.config().client_secret.clone());
        let Some(app) = TestApp::spawn_with(backend, move |s| {
            assert!(!s.allow_private_networks);
            s.linkedin = Some(OauthApp {
                client_id: id,
                client_secret: zeroize::Zeroizing::new(secret),
                auth_base: format!("http://localhost:{port}"),
                api_base: format!("http://localhost:{port}"),
            });
        })
        .await else { return };
        let owner = app.user("owner@example.com").await;
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        let (status, to) = callback(&app, &owner, &back).await;
        assert!(status != 303 || to.starts_with("/connect?refused="), "{status} {to}");
        assert!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().is_empty());
        let paths: Vec<String> = double.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(paths, vec!["/oauth/v2/authorization".to_string()], "only the browser reached the double; the server never connected");
    }
}

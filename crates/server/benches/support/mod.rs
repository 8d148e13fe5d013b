// Each bench uses a part of this: what it leaves unread is not dead code.
#![allow(dead_code)]
//! What the HTTP benches share: the real server on a fresh database (SQLite in a temporary
//! directory, or `STEWARD_BENCH_DATABASE_URL`), an owner signed in, and one sandbox account.
use steward_app::clock::Clock;
use steward_app::config::{MasterKeySource, PasswordHashCost, SignupMode};
use steward_server::{App, Settings};

pub struct BenchServer {
    /// Holds the data directory until the bench ends.
    pub _dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    pub store: steward_store::Store,
    pub http: reqwest::Client,
    /// The owner's sign-in answer: `token`, `user.id`, …
    pub login: serde_json::Value,
    /// The owner's session cookie (`steward_session=…`), for pages.
    pub cookie: String,
    /// The owner's sandbox account.
    pub account: String,
}

/// Starts the server, registers and signs in an owner, and adds a sandbox account with
/// `account` merged into its creation body (e.g. a time zone).
pub async fn start(account: serde_json::Value) -> BenchServer {
    let dir = tempfile::tempdir().unwrap();
    let database_url = std::env::var("STEWARD_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/steward.db", dir.path().display()));
    steward_connectors::http::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let env = [
        ("STEWARD_DATA_DIR".to_string(), dir.path().display().to_string()),
        ("STEWARD_DATABASE_URL".to_string(), database_url),
        ("STEWARD_LISTEN".to_string(), addr.to_string()),
    ]
    .into_iter()
    .collect();
    let mut settings = Settings::load(None, &env).unwrap();
    settings.password_hash_cost = PasswordHashCost::TEST;
    settings.master_key = MasterKeySource::File(dir.path().join("master.key"));
    settings.signup = SignupMode::Open;
    let app = App::build_with_clock(settings, Clock::default()).await.unwrap();
    let store = app.state.store.clone();
    tokio::spawn(app.serve(listener, std::future::pending()));
    let origin = format!("http://{addr}");
    let http = reqwest::Client::new();
    let body = serde_json::json!({"email": "owner@example.com", "password": "a-long-enough-passphrase", "display_name": "Owner"});
    http.post(format!("{origin}/api/v1/auth/register")).json(&body).send().await.unwrap();
    let login = http.post(format!("{origin}/api/v1/auth/login")).json(&body).send().await.unwrap();
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    let login: serde_json::Value = login.json().await.unwrap();
    let mut new_account = serde_json::json!({"platform": "sandbox", "handle": "@bench", "credentials": {}});
    if let (Some(base), Some(extra)) = (new_account.as_object_mut(), account.as_object()) {
        base.extend(extra.clone());
    }
    let created: serde_json::Value = http
        .post(format!("{origin}/api/v1/accounts"))
        .bearer_auth(login["token"].as_str().unwrap())
        .json(&new_account)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = created["id"].as_str().unwrap().to_string();
    BenchServer { _dir: dir, origin, store, http, login, cookie, account }
}

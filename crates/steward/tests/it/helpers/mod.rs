//! Spawns the real server and speaks HTTP to it; the submodules hold the fixtures several test
//! files share, so no test file imports from another.
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use steward_app::clock::Clock;
use steward_app::config::{MasterKeySource, PasswordHashCost, SignupMode};
use steward_server::state::AppState;
use steward_server::{App, Settings};
pub use steward_store::Backend;
use tokio::net::TcpListener;

pub mod accounts;
pub mod binary;
pub mod html;
pub mod mail;
pub mod media;
pub mod oauth;
pub mod replicas;
pub mod seed;

pub const PASSWORD: &str = "a-long-enough-passphrase";

/// Declares each test once per database: `name::sqlite` and `name::postgres`.
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await.expect("sqlite app")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await {
                    run(app).await;
                }
            }
        }
    )*};
}
pub(crate) use both_backends;

/// The PostgreSQL server for tests, or None (printing why) when there is none configured;
/// under `STEWARD_REQUIRE_ALL=1` a missing PostgreSQL fails the test instead of skipping it.
pub use steward_store::testing::postgres_admin_url;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Clock,
    pub backend: Backend,
    pub database_url: String,
    _dir: tempfile::TempDir,
    pg_admin: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server with test settings (open sign-up, cheap password hashing), adjusted by `tweak`.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, pg_admin) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/steward.db", dir.path().display()), None),
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let url = steward_store::testing::create_postgres_database(&admin, "steward_test")
                    .await
                    .expect("create test database");
                (url, Some(admin))
            }
        };
        steward_connectors::http::install_crypto_provider();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let env = [
            ("STEWARD_DATA_DIR".to_string(), dir.path().display().to_string()),
            ("STEWARD_DATABASE_URL".to_string(), database_url.clone()),
            ("STEWARD_LISTEN".to_string(), addr.to_string()),
            ("STEWARD_SIGNUP".to_string(), "open".to_string()),
        ]
        .into_iter()
        .collect();
        let mut settings = Settings::load(None, &env).expect("settings");
        settings.password_hash_cost = PasswordHashCost::TEST;
        settings.master_key = MasterKeySource::File(dir.path().join("master.key"));
        settings.signup = SignupMode::Open;
        tweak(&mut settings);
        let clock = Clock::default();
        let app = App::build_with_clock(settings, clock.clone()).await.expect("build app");
        let state = app.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        Some(Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
            state,
            clock,
            backend,
            database_url,
            _dir: dir,
            pg_admin,
            shutdown: Some(tx),
            served: Some(served),
        })
    }

    /// Stops the server (its workers too) and starts a new one on the same database, data
    /// directory and clock, as a restart of the process would; the address changes.
    pub async fn restart(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), served).await.expect("the server stopped");
        }
        let settings = self.state.settings.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = App::build_with_clock(settings, self.clock.clone()).await.expect("rebuild app");
        self.state = app.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.served = Some(tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        })));
        self.shutdown = Some(tx);
        self.base = format!("http://{addr}");
        self.client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    }

    pub fn req(&self, method: Method, path: &str) -> Req {
        Req { builder: self.client.request(method, format!("{}{}", self.base, path)) }
    }
    pub fn get(&self, path: &str) -> Req {
        self.req(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Req {
        self.req(Method::POST, path)
    }
    pub fn delete(&self, path: &str) -> Req {
        self.req(Method::DELETE, path)
    }

    pub async fn register(&self, email: &str) -> Value {
        let r = self
            .post("/api/v1/auth/register")
            .json(json!({ "email": email, "password": PASSWORD, "display_name": email.split('@').next().unwrap() }))
            .send()
            .await;
        assert_eq!(r.status, 201, "register {email}: {}", r.text);
        r.body
    }

    pub async fn login(&self, email: &str) -> Session {
        self.login_with_password(email, PASSWORD).await
    }

    pub async fn login_with_password(&self, email: &str, password: &str) -> Session {
        let r = self.post("/api/v1/auth/login").json(json!({ "email": email, "password": password })).send().await;
        assert_eq!(r.status, 200, "login {email}: {}", r.text);
        Session::from_login(&r)
    }

    /// Registers and signs in a new user.
    pub async fn user(&self, email: &str) -> Session {
        self.register(email).await;
        self.login(email).await
    }

    /// Runs SQL directly against the test database (to tamper with it, or to break it).
    pub async fn raw_sql(&self, sql: &str) {
        use sqlx::Connection;
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.database_url).await.expect("connect sqlite");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut c).await.expect(sql);
                // Another process: it waits as a Steward command that changed rights does, and
                // leaves the server's cache to notice by itself.
                tokio::time::sleep(steward_store::SQLITE_REVOCATION_WAIT).await;
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.database_url).await.expect("connect pg");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut c).await.expect(sql);
                // As an operator would after changing rights by hand: wait until the server's
                // read cache has let go of what the SQL replaced.
                self.state.store.announce_rights_change().await.expect("announce the change");
            }
        }
    }

    /// Makes every insert into the audit log fail, as a full disk or a broken table would.
    pub async fn break_audit_log(&self) {
        match self.backend {
            Backend::Sqlite => {
                self.raw_sql("CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END;")
                    .await
            }
            Backend::Postgres => {
                self.raw_sql(
                    "CREATE FUNCTION audit_broken() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql;
                     CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_broken();
                     CREATE TRIGGER audit_broken BEFORE INSERT ON audit_pending FOR EACH ROW EXECUTE FUNCTION audit_broken();",
                )
                .await
            }
        }
    }

    pub async fn repair_audit_log(&self) {
        match self.backend {
            Backend::Sqlite => self.raw_sql("DROP TRIGGER audit_broken;").await,
            Backend::Postgres => {
                self.raw_sql(
                    "DROP TRIGGER audit_broken ON audit_events; DROP TRIGGER audit_broken ON audit_pending; \
                     DROP FUNCTION audit_broken();",
                )
                .await
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(admin) = self.pg_admin.take() {
            let url = self.database_url.clone();
            // Drop runs inside the test's runtime; a plain thread with its own runtime avoids
            // blocking it.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    rt.block_on(steward_store::testing::drop_postgres_database(&admin, &url));
                }
            })
            .join();
        }
    }
}

/// A signed-in session as the login answer described it.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub csrf: String,
    pub session_id: String,
    pub user_id: String,
    pub set_cookie: String,
}

impl Session {
    pub fn from_login(r: &Resp) -> Self {
        Self {
            token: r.body["token"].as_str().expect("token").to_string(),
            csrf: r.body["csrf_token"].as_str().expect("csrf").to_string(),
            session_id: r.body["session_id"].as_str().expect("session_id").to_string(),
            user_id: r.body["user"]["id"].as_str().expect("user id").to_string(),
            set_cookie: r.headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
        }
    }

    /// A "session" that is only a bearer token (an access token), for helpers taking a Session.
    pub fn bearer_only(token: &str) -> Self {
        Self {
            token: token.to_string(),
            csrf: String::new(),
            session_id: String::new(),
            user_id: String::new(),
            set_cookie: String::new(),
        }
    }

    /// The `Cookie` header a browser would send.
    pub fn cookie(&self) -> String {
        self.set_cookie.split(';').next().unwrap_or_default().to_string()
    }
}

pub struct Req {
    builder: reqwest::RequestBuilder,
}

impl Req {
    pub fn bearer(self, token: &str) -> Self {
        Self { builder: self.builder.bearer_auth(token) }
    }
    pub fn auth(self, s: &Session) -> Self {
        self.bearer(&s.token)
    }
    pub fn header(self, name: &str, value: &str) -> Self {
        Self { builder: self.builder.header(name, value) }
    }
    pub fn json(self, v: Value) -> Self {
        Self { builder: self.builder.json(&v) }
    }
    pub fn body(self, content_type: &str, body: impl Into<reqwest::Body>) -> Self {
        Self { builder: self.builder.header("content-type", content_type).body(body) }
    }
    pub async fn send(self) -> Resp {
        let r = self.builder.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with the given status and `type` suffix.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, suffix: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text);
        assert_eq!(self.body["type"], format!("urn:steward:problem:{suffix}"), "{}", self.text);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string(), "{}", self.text);
    }
}

/// The TOTP code for a base32 secret at the app's current time, `steps` steps from now.
pub fn totp_code(secret_b32: &str, app: &TestApp, steps: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).expect("base32 secret");
    let totp = totp_rs::Builder::new().with_secret(secret).build().expect("totp");
    let t = app.clock.now().as_second() + steps * 30;
    totp.generate(u64::try_from(t).unwrap()).to_string()
}

/// The actions of the allowed audit events about `post_id`, in chain order.
pub async fn audit_actions(app: &TestApp, post_id: &str) -> Vec<String> {
    let target = format!("post:{post_id}");
    app.state
        .store
        .audit_events_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.target.as_deref() == Some(target.as_str()) && e.outcome == "allowed")
        .map(|e| e.action)
        .collect()
}

/// Awaits all futures concurrently (a tiny `join_all`, to avoid a dependency for tests).
pub(crate) async fn futures_join_all<F: std::future::Future<Output = T>, T>(futs: impl Iterator<Item = F>) -> Vec<T> {
    let handles: Vec<_> = futs.map(Box::pin).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<T>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    out.extend(results.into_iter().map(|r| r.expect("every future completed")));
    out
}

/// One number from the test database.
pub(crate) async fn count(app: &TestApp, sql: &str) -> i64 {
    use sqlx::Connection;
    match app.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&app.database_url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut c).await.unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut c).await.unwrap()
        }
    }
}

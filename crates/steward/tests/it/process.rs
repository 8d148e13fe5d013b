//! The real `steward` binary as an operator runs it: serve, demo, admin commands, graceful
//! shutdown, and logs that never contain a secret.
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::PASSWORD;
use crate::helpers::binary::{BIN, start};

fn http() -> reqwest::Client {
    steward_connectors::http::install_crypto_provider();
    reqwest::Client::new()
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn code_at(secret_b32: &str, offset_steps: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    totp.generate(u64::try_from(now + offset_steps * 30).unwrap()).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_no_secrets_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(&["serve"], dir.path(), &[("STEWARD_SIGNUP", "open"), ("STEWARD_LOG", "trace")]).await;
    let c = http();
    let u = |p: &str| format!("{}{}", app.base, p);
    let (st, _) = call(
        &c,
        reqwest::Method::POST,
        u("/api/v1/auth/register"),
        None,
        Some(json!({"email": "logs@example.com", "password": PASSWORD, "display_name": "Logs"})),
    )
    .await;
    assert_eq!(st, 201);
    let (st, login) = call(
        &c,
        reqwest::Method::POST,
        u("/api/v1/auth/login"),
        None,
        Some(json!({"email": "logs@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(st, 200);
    let session = login["token"].as_str().unwrap().to_string();
    let (_, enrol) = call(&c, reqwest::Method::POST, u("/api/v1/me/totp"), Some(&session), None).await;
    let secret = enrol["secret"].as_str().unwrap().to_string();
    let (st, confirmed) = call(
        &c,
        reqwest::Method::POST,
        u("/api/v1/me/totp/confirm"),
        Some(&session),
        Some(json!({"code": code_at(&secret, 0)})),
    )
    .await;
    assert_eq!(st, 200, "{confirmed}");
    let recovery: Vec<String> =
        confirmed["recovery_codes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    // Sign in with the next step's code (this step's was consumed by enrolment), then a recovery code.
    let (st, second) = call(
        &c,
        reqwest::Method::POST,
        u("/api/v1/auth/login"),
        None,
        Some(json!({"email": "logs@example.com", "password": PASSWORD, "totp": code_at(&secret, 1)})),
    )
    .await;
    assert_eq!(st, 200, "{second}");
    let (st, third) = call(
        &c,
        reqwest::Method::POST,
        u("/api/v1/auth/login"),
        None,
        Some(json!({"email": "logs@example.com", "password": PASSWORD, "totp": recovery[0]})),
    )
    .await;
    assert_eq!(st, 200, "{third}");
    let (st, wrong) = call(
        &c,
        reqwest::Method::POST,
        u("/api/v1/auth/login"),
        None,
        Some(json!({"email": "logs@example.com", "password": "the-wrong-passphrase", "totp": "123456"})),
    )
    .await;
    assert_eq!(st, 401, "{wrong}");
    let (st, tok) = call(
        &c,
        reqwest::Method::POST,
        u("/api/v1/me/tokens"),
        Some(&session),
        Some(json!({"name": "ci", "scopes": ["read"]})),
    )
    .await;
    assert_eq!(st, 201);
    let api_token = tok["token"].as_str().unwrap().to_string();
    assert_eq!(call(&c, reqwest::Method::GET, u("/api/v1/me"), Some(&api_token), None).await.0, 200);
    assert_eq!(call(&c, reqwest::Method::POST, u("/api/v1/auth/logout"), Some(&session), None).await.0, 204);
    assert_eq!(call(&c, reqwest::Method::GET, u("/api/v1/me"), Some(&session), None).await.0, 401);

    let log = app.terminate().await;
    assert!(log.contains("request") && log.contains("/api/v1/auth/login"), "the log captured the scenario");
    let master_key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    let mut secrets = vec![
        PASSWORD.to_string(),
        "the-wrong-passphrase".to_string(),
        secret.clone(),
        session.clone(),
        second["token"].as_str().unwrap().to_string(),
        third["token"].as_str().unwrap().to_string(),
        login["csrf_token"].as_str().unwrap().to_string(),
        api_token.clone(),
        master_key.trim().to_string(),
    ];
    secrets.extend(recovery);
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "a secret appeared in the log: {s}");
        // Also without the token prefix, in case something logs only the random part.
        if let Some(rest) = s.strip_prefix("sts_").or_else(|| s.strip_prefix("stp_")) {
            assert!(!log.contains(rest));
        }
    }
    // WAL mode on the embedded database.
    use sqlx::Connection;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}/steward.db", dir.path().display())).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal");
}

/// Log lines are written by a background thread; the last one before a graceful shutdown
/// still reaches the output, after every request's line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_line_before_a_graceful_shutdown_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(&["serve"], dir.path(), &[]).await;
    let c = http();
    for _ in 0..50 {
        assert_eq!(c.get(format!("{}/healthz", app.base)).send().await.unwrap().status(), 200);
    }
    let log = app.terminate().await;
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.iter().filter(|l| l.contains("/healthz")).count() >= 50, "every request logged: {log}");
    let last = lines.last().copied().unwrap_or_default();
    assert!(last.contains("steward stopped"), "the shutdown line is the last one: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_user_then_audit_verify_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(BIN)
            .args(args)
            .env("STEWARD_DATA_DIR", dir.path())
            .env_remove("STEWARD_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &["admin", "create-user", "--email", "ops@example.com", "--display-name", "Ops", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ops@example.com"));
    let weak = run(
        &["admin", "create-user", "--email", "weak@example.com", "--display-name", "Weak", "--password-stdin"],
        "short\n",
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));

    // The new user can sign in on a server over the same data directory.
    let server = start(&["serve"], dir.path(), &[]).await;
    let c = http();
    let (st, _) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/login", server.base),
        None,
        Some(json!({"email": "ops@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(st, 200);
    server.terminate().await;

    let ok = run(&["admin", "audit", "verify"], "");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("intact (2 events)"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    use sqlx::Connection;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}/steward.db", dir.path().display())).await.unwrap();
    sqlx::query("UPDATE audit_events SET actor_email = 'someone-else@example.com' WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let bad = run(&["admin", "audit", "verify"], "");
    assert_eq!(bad.status.code(), Some(2));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(text.contains("TAMPERED") && text.contains("#2"), "{text}");

    let backup = dir.path().join("backup.db");
    let b = run(&["admin", "backup", backup.to_str().unwrap()], "");
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert!(std::fs::metadata(&backup).unwrap().len() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reset_password_reads_the_new_password_from_stdin_and_ends_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let sink = steward_doubles::smtp::SmtpSink::start().await.unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(BIN)
            .args(args)
            .env("STEWARD_DATA_DIR", dir.path())
            .env("STEWARD_SMTP_URL", &sink.url)
            .env("STEWARD_MAIL_FROM", "Steward <steward@example.com>")
            .env_remove("STEWARD_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &["admin", "create-user", "--email", "lost@example.com", "--display-name", "Lost", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = start(&["serve"], dir.path(), &[]).await;
    let c = http();
    let login = |password: &str| json!({"email": "lost@example.com", "password": password});
    let (st, body) =
        call(&c, reqwest::Method::POST, format!("{}/api/v1/auth/login", server.base), None, Some(login(PASSWORD)))
            .await;
    assert_eq!(st, 200);
    let session = body["token"].as_str().unwrap().to_string();
    // Twice, so the server's read cache holds the session when the command ends it.
    for _ in 0..2 {
        let (st, _) = call(&c, reqwest::Method::GET, format!("{}/api/v1/me", server.base), Some(&session), None).await;
        assert_eq!(st, 200);
    }
    let new_password = "a-new-passphrase-from-the-operator";
    let weak = run(&["admin", "reset-password", "--email", "lost@example.com"], "short\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"), "{}", String::from_utf8_lossy(&weak.stderr));
    let unknown = run(&["admin", "reset-password", "--email", "nobody@example.com"], &format!("{new_password}\n"));
    assert!(!unknown.status.success());
    let ok = run(&["admin", "reset-password", "--email", "lost@example.com"], &format!("{new_password}\n"));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("lost@example.com"));
    assert!(!String::from_utf8_lossy(&ok.stdout).contains(new_password), "the password is never printed");
    let notices: Vec<_> = sink.messages().into_iter().filter(|m| m.to == ["lost@example.com"]).collect();
    assert_eq!(notices.len(), 1, "the person is told, once");
    assert!(notices[0].data.contains("Your password was changed") && !notices[0].data.contains(new_password));
    // The running server sees it once the command has returned: the old session and password
    // are refused (the command waits for the server's cache to look again).
    let (st, _) = call(&c, reqwest::Method::GET, format!("{}/api/v1/me", server.base), Some(&session), None).await;
    assert_eq!(st, 401);
    let (st, _) =
        call(&c, reqwest::Method::POST, format!("{}/api/v1/auth/login", server.base), None, Some(login(PASSWORD)))
            .await;
    assert_eq!(st, 401);
    let (st, _) =
        call(&c, reqwest::Method::POST, format!("{}/api/v1/auth/login", server.base), None, Some(login(new_password)))
            .await;
    assert_eq!(st, 200);
    server.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_with_sample_people_who_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let demo = start(&["demo", "--empty"], dir.path(), &[]).await;
    let banner = demo.stdout_lines.join("\n");
    assert!(banner.contains("Steward demo is running at http://127.0.0.1:"), "{banner}");
    let c = http();
    let ready = c.get(format!("{}/readyz", demo.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    // Read the rest of the banner from the log-free stdout: the people and passwords printed.
    let (st, body) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/login", demo.base),
        None,
        Some(json!({"email": "olivia@demo.steward.test", "password": "olivia-demo-passphrase"})),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, _) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/register", demo.base),
        None,
        Some(json!({"email": "visitor@example.com", "password": PASSWORD, "display_name": "Visitor"})),
    )
    .await;
    assert_eq!(st, 201, "sign-up is open in the demo");
    // The demo's LinkedIn is a local double: connecting works with no internet.
    let olivia = body["token"].as_str().unwrap().to_string();
    let (st, started) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/accounts/connect", demo.base),
        Some(&olivia),
        Some(json!({"platform": "linkedin", "account_kind": "member"})),
    )
    .await;
    assert_eq!(st, 200, "{started}");
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consent = browser.get(started["authorize_url"].as_str().unwrap()).send().await.unwrap();
    let back = consent.headers()["location"].to_str().unwrap().to_string();
    let done = c.get(&back).bearer_auth(&olivia).send().await.unwrap();
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap_or_default());
    let (_, accounts) =
        call(&c, reqwest::Method::GET, format!("{}/api/v1/accounts", demo.base), Some(&olivia), None).await;
    assert_eq!(accounts["items"][0]["platform"], "linkedin", "{accounts}");
    // And TikTok likewise.
    let (st, started) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/accounts/connect", demo.base),
        Some(&olivia),
        Some(json!({"platform": "tiktok"})),
    )
    .await;
    assert_eq!(st, 200, "{started}");
    let consent = browser.get(started["authorize_url"].as_str().unwrap()).send().await.unwrap();
    let back = consent.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(c.get(&back).bearer_auth(&olivia).send().await.unwrap().status(), 200);
    let (_, accounts) =
        call(&c, reqwest::Method::GET, format!("{}/api/v1/accounts", demo.base), Some(&olivia), None).await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 2, "{accounts}");
    demo.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_and_each_publish_job_logs_under_its_own_id() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(&["serve"], dir.path(), &[("STEWARD_SIGNUP", "open")]).await;
    let c = http();
    let u = |p: &str| format!("{}{}", app.base, p);
    let body = json!({"email": "spans@example.com", "password": PASSWORD, "display_name": "Spans"});
    assert_eq!(call(&c, reqwest::Method::POST, u("/api/v1/auth/register"), None, Some(body)).await.0, 201);
    let login = json!({"email": "spans@example.com", "password": PASSWORD});
    let (_, session) = call(&c, reqwest::Method::POST, u("/api/v1/auth/login"), None, Some(login)).await;
    let token = session["token"].as_str().unwrap().to_string();

    let r = c.get(u("/api/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let other = c.get(u("/api/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), request_id, "each request has its own id");

    // A post published by the scheduler: its platform call logs inside the job's span.
    let account = json!({"platform": "sandbox", "handle": "@spans", "credentials": {"k": "v"}});
    let (st, acc) = call(&c, reqwest::Method::POST, u("/api/v1/accounts"), Some(&token), Some(account)).await;
    assert_eq!(st, 201, "{acc}");
    let posts = u(&format!("/api/v1/accounts/{}/posts", acc["id"].as_str().unwrap()));
    let (st, post) = call(&c, reqwest::Method::POST, posts, Some(&token), Some(json!({"text": "Traced"}))).await;
    assert_eq!(st, 201, "{post}");
    let post_id = post["id"].as_str().unwrap().to_string();
    let act = |what: &str| u(&format!("/api/v1/posts/{post_id}/{what}"));
    assert_eq!(call(&c, reqwest::Method::POST, act("submit"), Some(&token), Some(json!({}))).await.0, 200);
    let approve = Some(json!({"version": 1}));
    assert_eq!(call(&c, reqwest::Method::POST, act("approve"), Some(&token), approve).await.0, 200);
    assert_eq!(call(&c, reqwest::Method::POST, act("publish-now"), Some(&token), Some(json!({}))).await.0, 202);
    let published = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (_, p) =
                call(&c, reqwest::Method::GET, u(&format!("/api/v1/posts/{post_id}")), Some(&token), None).await;
            if p["state"] == "published" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(published.is_ok(), "the scheduler published the post");

    let log = app.terminate().await;
    let me_line = log
        .lines()
        .find(|l| l.contains(&format!("id={request_id}")) && l.contains("request"))
        .unwrap_or_else(|| panic!("no log line carries the request id {request_id}:\n{log}"));
    assert!(me_line.contains("/api/v1/me") && me_line.contains("status=200"), "{me_line}");
    let job_line = log
        .lines()
        .find(|l| l.contains("sending the post to the platform"))
        .unwrap_or_else(|| panic!("the platform call was not logged:\n{log}"));
    assert!(
        job_line.contains("publish_round") && job_line.contains(&format!("post_id={post_id}")),
        "the call logs inside its round's and its job's spans: {job_line}"
    );
}

/// Runs `steward <args>` to its end with only `env` set: (exit code, stdout, stderr, how long).
fn run_to_end(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String, Duration) {
    let started = std::time::Instant::now();
    let out = std::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run steward");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.code(), text(&out.stdout), text(&out.stderr), started.elapsed())
}

/// The one error line, and that there is exactly one.
fn only_error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, not: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_errors_are_one_line_naming_what_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.display().to_string();

    // A port in use: refused before the database is touched (no data directory, no file).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err, _) = run_to_end(&["serve"], &[("STEWARD_LISTEN", &addr), ("STEWARD_DATA_DIR", &data_s)]);
    assert_ne!(code, Some(0));
    let line = only_error_line(&err);
    assert!(
        line.contains(&format!("cannot listen on {addr}: address already in use")) && line.contains("STEWARD_LISTEN"),
        "{line}"
    );
    assert!(!data.exists(), "the database was touched before the address was checked");

    // PostgreSQL refusing connections is named within 2 s, with its address.
    let (code, _, err, took) = run_to_end(
        &["serve"],
        &[
            ("STEWARD_LISTEN", "127.0.0.1:0"),
            ("STEWARD_DATA_DIR", &data_s),
            ("STEWARD_DATABASE_URL", "postgres://postgres@127.0.0.1:1/steward"),
        ],
    );
    assert_ne!(code, Some(0));
    let line = only_error_line(&err);
    assert!(line.contains("connection refused at 127.0.0.1:1") && line.contains("STEWARD_DATABASE_URL"), "{line}");
    assert!(!line.contains("pool timed out"), "{line}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // A data directory that cannot be created is named, with the setting to change.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("data").display().to_string();
    let (code, _, err, _) =
        run_to_end(&["serve"], &[("STEWARD_LISTEN", "127.0.0.1:0"), ("STEWARD_DATA_DIR", &under_file)]);
    assert_ne!(code, Some(0));
    let line = only_error_line(&err);
    assert!(line.contains(&under_file) && line.contains("STEWARD_DATA_DIR"), "{line}");

    // Settings not understood stop the server at once, naming the key and what it accepts.
    let toml = dir.path().join("steward.toml");
    std::fs::write(&toml, "listen = \"127.0.0.1:0\"\nallow_private_network = true\n").unwrap();
    let toml_s = toml.display().to_string();
    let (code, _, err, _) = run_to_end(&["--config", &toml_s, "serve"], &[("STEWARD_DATA_DIR", &data_s)]);
    assert_eq!(code, Some(2));
    let line = only_error_line(&err);
    assert!(
        line.contains("\"allow_private_network\"") && line.contains(&toml_s) && line.contains("allow_private_networks"),
        "{line}"
    );
    for (name, value, accepts) in [
        ("STEWARD_ALLOW_PRIVATE_NETWORKS", "yes", "true or false"),
        ("STEWARD_LOG", "steward=loud", "info"),
        ("STEWARD_LOG_FORMAT", "xml", "json"),
    ] {
        let (code, _, err, _) = run_to_end(&["serve"], &[(name, value), ("STEWARD_DATA_DIR", &data_s)]);
        assert_eq!(code, Some(2), "{name}={value}");
        let line = only_error_line(&err);
        assert!(line.contains(name) && line.contains(accepts), "{line}");
    }
    assert!(!data.exists(), "a refused start-up created nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_prints_settings_without_secrets_and_checks_what_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=";
    let mut base = vec![("STEWARD_DATA_DIR", data.as_str()), ("STEWARD_MASTER_KEY", key)];
    let (code, out, err, _) = run_to_end(&["admin", "migrate"], &base);
    assert_eq!(code, Some(0), "{err}");
    let (code, out2, err, _) = run_to_end(&["admin", "check-config"], &base);
    assert_eq!(code, Some(0), "{out} {out2} {err}");
    assert!(
        out2.contains("STEWARD_LISTEN = 127.0.0.1:8080") && out2.contains("STEWARD_MASTER_KEY = (set, hidden)"),
        "{out2}"
    );
    assert!(!out2.contains(key), "{out2}");
    assert!(
        out2.contains("ok   database") && out2.contains("ok   master key") && out2.contains("ok   mail: off"),
        "{out2}"
    );

    // On PostgreSQL too, with the password hidden.
    if let Some(admin) = steward_store::testing::postgres_admin_url() {
        let url = steward_store::testing::create_postgres_database(&admin, "checkcfg").await.unwrap();
        let with_password = url.replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
        let (code, out, err, _) = run_to_end(
            &["admin", "check-config"],
            &[base.clone(), vec![("STEWARD_DATABASE_URL", &with_password)]].concat(),
        );
        assert_eq!(code, Some(0), "{out} {err}");
        assert!(out.contains("ok   database") && !out.contains("hunter2"), "{out}");
        steward_store::testing::drop_postgres_database(&admin, &url).await;
    }

    // What cannot be reached fails the check and is named.
    base.extend([
        ("STEWARD_DATABASE_URL", "postgres://postgres@127.0.0.1:1/steward"),
        ("STEWARD_LINKEDIN_CLIENT_ID", "id"),
        ("STEWARD_LINKEDIN_CLIENT_SECRET", "linkedin-secret"),
        ("STEWARD_LINKEDIN_AUTH_BASE", "http://127.0.0.1:1"),
        ("STEWARD_SMTP_URL", "smtp://127.0.0.1:1"),
    ]);
    let (code, out, _, _) = run_to_end(&["admin", "check-config"], &base);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL database") && out.contains("connection refused at 127.0.0.1:1"), "{out}");
    assert!(out.contains("FAIL platform linkedin") && out.contains("FAIL mail"), "{out}");
    assert!(!out.contains("linkedin-secret"), "{out}");
}

//! Sign-in that holds: redirects stay on the site, TLS-only cookies and HSTS behind https,
//! private files, and the password hashing budget.
use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::helpers::html::{browser, csrf_in};
use crate::helpers::*;

/// `next` values and where a signed-in person is sent with them.
const NEXT_TABLE: &[(&str, &str)] = &[
    ("/accounts/1", "/accounts/1"),
    ("/security?notice=x", "/security?notice=x"),
    ("/", "/"),
    ("//evil.example/", "/"),
    ("///evil.example/", "/"),
    ("https://evil.example/", "/"),
    ("evil.example", "/"),
    ("/\\evil.example", "/"),
    ("/\t/evil.example/", "/"),
    ("/\n/evil.example/", "/"),
    ("/%09/evil.example/", "/"),
    ("/%2F/evil.example/", "/"),
    ("/%5Cevil.example", "/"),
    ("/%0d%0a/evil.example", "/"),
    ("/caf\u{e9}", "/"),
    ("", "/"),
];

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

both_backends! {
    async fn after_sign_in_only_a_path_on_this_site_is_followed(app: TestApp) {
        let s = app.user("next@example.test").await;
        for (next, expected) in NEXT_TABLE {
            let r = browser().get(format!("{}/signin", app.base)).query(&[("next", next)])
                .header("cookie", s.cookie()).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 303, "{next:?}");
            assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some(*expected), "{next:?}");
        }
        // The form's own sign-in, with the issue's `next=/%09/evil.example/` decoded into a tab.
        let r = browser().get(format!("{}/signin", app.base)).send().await.unwrap();
        let cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap().split(';').next().unwrap().to_string();
        let token = csrf_in(&r.text().await.unwrap());
        let r = browser().post(format!("{}/signin", app.base)).header("cookie", &cookie)
            .form(&[("csrf_token", token.as_str()), ("email", "next@example.test"), ("password", PASSWORD), ("next", "/\t/evil.example/")])
            .send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers().get("location").unwrap(), "/");
    }

    async fn plain_http_sends_no_hsts_and_keeps_the_plain_cookie_names(app: TestApp) {
        let r = app.get("/healthz").send().await;
        assert_eq!(r.header("strict-transport-security"), None);
        let s = app.user("plain@example.test").await;
        assert!(s.set_cookie.starts_with("steward_session=sts_"), "{}", s.set_cookie);
        assert!(!s.set_cookie.contains("Secure"), "{}", s.set_cookie);
    }
}

mod behind_tls {
    use super::*;

    async fn run(app: TestApp) {
        // Every response carries HSTS: success, problem, page, redirect, not found.
        let s = app.user("tls@example.test").await;
        let r = app.get("/healthz").send().await;
        assert_eq!(r.header("strict-transport-security"), Some("max-age=31536000"));
        let r = app.get("/api/v1/me").send().await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("strict-transport-security"), Some("max-age=31536000"));
        let r = app.get("/no/such/route").send().await;
        assert_eq!(r.status, 404);
        assert_eq!(r.header("strict-transport-security"), Some("max-age=31536000"));
        let r = browser().get(format!("{}/signin", app.base)).header("cookie", s.cookie()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers().get("strict-transport-security").unwrap(), "max-age=31536000");

        // The session cookie is `__Host-` prefixed: Secure, Path=/, no Domain.
        let c = &s.set_cookie;
        assert!(c.starts_with("__Host-steward_session=sts_"), "{c}");
        let attributes: Vec<&str> = c.split(';').map(str::trim).collect();
        assert!(
            attributes.contains(&"Secure") && attributes.contains(&"Path=/") && attributes.contains(&"HttpOnly"),
            "{c}"
        );
        assert!(!c.to_ascii_lowercase().contains("domain="), "{c}");
        let me = browser().get(format!("{}/api/v1/me", app.base)).header("cookie", s.cookie()).send().await.unwrap();
        assert_eq!(me.status().as_u16(), 200, "the prefixed cookie signs in");
        // An unprefixed cookie (which a sibling subdomain could have planted) is not read.
        let plain = format!("steward_session={}", s.token);
        let me = browser().get(format!("{}/api/v1/me", app.base)).header("cookie", plain).send().await.unwrap();
        assert_eq!(me.status().as_u16(), 401);

        // The pre-session cookie too, and the sign-in form works with it.
        let r = browser().get(format!("{}/signin", app.base)).send().await.unwrap();
        let set = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap().to_string();
        assert!(set.starts_with("__Host-steward_pre=") && set.contains("; Secure") && set.contains("Path=/"), "{set}");
        assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
        let cookie = set.split(';').next().unwrap().to_string();
        let token = csrf_in(&r.text().await.unwrap());
        let r = browser()
            .post(format!("{}/signin", app.base))
            .header("cookie", &cookie)
            .form(&[("csrf_token", token.as_str()), ("email", "tls@example.test"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let session = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.contains("steward_session"))
            .unwrap()
            .to_string();
        assert!(session.starts_with("__Host-steward_session=sts_") && session.contains("Secure"), "{session}");
        // Signing out clears the prefixed cookie.
        let r = app.post("/api/v1/auth/logout").auth(&s).send().await;
        assert_eq!(r.status, 204);
        assert!(r.header("set-cookie").unwrap().starts_with("__Host-steward_session=;"));
    }

    /// The device cookie is `__Host-` prefixed too, and only that name moves a client to its
    /// own count: an unprefixed one (which a sibling subdomain could plant) is not read.
    async fn device_cookie(app: TestApp) {
        app.register("device@example.test").await;
        let login = |cookie: Option<&str>, password: &str| {
            let r = app.post("/api/v1/auth/login").json(json!({"email": "device@example.test", "password": password}));
            match cookie {
                Some(c) => r.header("cookie", c),
                None => r,
            }
        };
        let first = login(None, PASSWORD).send().await;
        assert_eq!(first.status, 200, "{}", first.text);
        let set: Vec<&str> = first.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
        assert!(!set.iter().any(|c| c.starts_with("steward_device=")), "{set:?}");
        let device = set.iter().find(|c| c.starts_with("__Host-steward_device=v1.")).expect("a prefixed device cookie");
        let attributes: Vec<&str> = device.split(';').map(str::trim).collect();
        assert!(["Secure", "Path=/", "HttpOnly", "SameSite=Strict"].iter().all(|a| attributes.contains(a)), "{device}");
        assert!(!device.to_ascii_lowercase().contains("domain="), "{device}");
        let pair = attributes[0].to_string();
        let value = pair.trim_start_matches("__Host-steward_device=");

        // Strangers use up the account's limit for unknown clients.
        for _ in 0..5 {
            login(None, "not-the-passphrase").send().await.assert_problem(401, "invalid-credentials");
        }
        login(None, PASSWORD).send().await.assert_problem(429, "rate-limited");
        // The same value under the unprefixed name counts as no device at all.
        login(Some(&format!("steward_device={value}")), PASSWORD).send().await.assert_problem(429, "rate-limited");
        let back = login(Some(&pair), PASSWORD).send().await;
        assert_eq!(back.status, 200, "the prefixed device cookie keeps its owner in: {}", back.text);
    }

    fn tls(s: &mut steward_server::Settings) {
        s.public_url = "https://steward.example".into();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(TestApp::spawn_with(Backend::Sqlite, tls).await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn device_cookie_sqlite() {
        device_cookie(TestApp::spawn_with(Backend::Sqlite, tls).await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn device_cookie_postgres() {
        if let Some(app) = TestApp::spawn_with(Backend::Postgres, tls).await {
            device_cookie(app).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Backend::Postgres, tls).await {
            run(app).await;
        }
    }
}

/// The real binary: the data directory and every file in it are private after start, and a
/// master key file others can read stops the server with the command that fixes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_private_and_an_exposed_key_file_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An operator's directory made with a loose umask is tightened.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_s = data.display().to_string();
    let env = [("STEWARD_SIGNUP", "open")];
    let server = binary::start(&["serve"], &data, &env).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/api/v1/auth/register", server.base))
        .json(&json!({"email": "files@example.test", "password": PASSWORD, "display_name": "Files"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let log = server.terminate().await;
    assert!(!log.contains("ERROR"), "{log}");
    // A second start writes the anchor (the chain has events now).
    let server = binary::start(&["serve"], &data, &env).await;
    server.terminate().await;
    let backup = data.join("backup.db");
    let out = tokio::process::Command::new(binary::BIN)
        .args(["admin", "backup", &backup.display().to_string()])
        .env_clear()
        .env("STEWARD_DATA_DIR", &data_s)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    assert_eq!(mode(&data), 0o700, "the data directory");
    for name in ["steward.db", "steward.db-wal", "steward.db-shm", "master.key", "audit-anchor.log", "backup.db"] {
        let path = data.join(name);
        if name.ends_with("-wal") || name.ends_with("-shm") {
            // SQLite removes the WAL and SHM on a clean close; when present they are private.
            if !path.exists() {
                continue;
            }
        }
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    // Nothing in the directory is open to others.
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "serve.log" {
            continue; // the test's own capture of the server's stderr
        }
        assert_eq!(mode(&entry.path()) & 0o077, 0, "{}", entry.path().display());
    }

    // A key file others can read stops the server, naming the chmod to run.
    let key = data.join("master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = tokio::process::Command::new(binary::BIN)
        .arg("serve")
        .env_clear()
        .env("STEWARD_DATA_DIR", &data_s)
        .env("STEWARD_LISTEN", "127.0.0.1:0")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success(), "the server must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("chmod 600 {}", key.display())), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty(), "it never announced an address");
    assert_eq!(mode(&key), 0o644, "the server does not change the key file behind the operator's back");
}

/// `steward admin audit verify` checks every anchor line, and refuses to vouch for the log
/// without the anchor file unless told to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_checks_every_anchor_line_and_needs_the_anchor_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let admin = |args: &[&str]| {
        std::process::Command::new(binary::BIN)
            .args(args)
            .env_clear()
            .env("STEWARD_DATA_DIR", &data)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let create = |email: &str| {
        let mut child = std::process::Command::new(binary::BIN)
            .args(["admin", "create-user", "--email", email, "--display-name", "Ops", "--password-stdin"])
            .env_clear()
            .env("STEWARD_DATA_DIR", &data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    };
    // Two heads anchored by two starts of the server.
    create("one@example.test");
    binary::start(&["serve"], &data, &[]).await.terminate().await;
    create("two@example.test");
    binary::start(&["serve"], &data, &[]).await.terminate().await;
    let anchor = data.join("audit-anchor.log");
    let original = std::fs::read_to_string(&anchor).unwrap();
    assert_eq!(original.lines().count(), 2, "{original}");

    let ok = admin(&["admin", "audit", "verify"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));

    // An edit of the first line (the last one is intact) is found.
    let lines: Vec<&str> = original.lines().collect();
    let mut first: Vec<&str> = lines[0].split_whitespace().collect();
    let second: Vec<&str> = lines[1].split_whitespace().collect();
    first[2] = second[2];
    std::fs::write(&anchor, format!("{}\n{}\n", first.join(" "), lines[1])).unwrap();
    let bad = admin(&["admin", "audit", "verify"]);
    assert_eq!(bad.status.code(), Some(2));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(text.contains("TAMPERED") && text.contains("line 1 of the anchor file"), "{text}");

    // No anchor file: exit 2, unless the operator asks for the database alone.
    std::fs::remove_file(&anchor).unwrap();
    let missing = admin(&["admin", "audit", "verify"]);
    assert_eq!(missing.status.code(), Some(2));
    let text = String::from_utf8_lossy(&missing.stdout);
    assert!(text.contains("MISSING") && text.contains("--without-anchor"), "{text}");
    let alone = admin(&["admin", "audit", "verify", "--without-anchor"]);
    assert_eq!(alone.status.code(), Some(0), "{}", String::from_utf8_lossy(&alone.stdout));
    assert!(String::from_utf8_lossy(&alone.stdout).contains("intact"));
}

/// Password hashing has a budget: one hash at a time here, one waiting, the rest 503.
mod hashing_budget {
    use super::*;

    fn budget(concurrency: usize, queue: usize) -> impl FnOnce(&mut steward_server::Settings) {
        move |s| {
            // Slow enough that eight requests at once overlap.
            s.password_hash_cost =
                steward_app::config::PasswordHashCost { memory_kib: 1024, iterations: 400, parallelism: 1 };
            s.password_hash_concurrency = concurrency;
            s.password_hash_queue = queue;
        }
    }

    async fn burst(app: &TestApp, prefix: &str) -> Vec<Resp> {
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let req = app.post("/api/v1/auth/register").json(
                    json!({"email": format!("{prefix}{i}@example.test"), "password": PASSWORD, "display_name": "Burst"}),
                );
                tokio::spawn(req.send())
            })
            .collect();
        let mut answers = Vec::new();
        for c in calls {
            answers.push(c.await.unwrap());
        }
        answers
    }

    async fn run(backend: Backend) {
        let Some(app) = TestApp::spawn_with(backend, budget(1, 1)).await else { return };
        let answers = burst(&app, "full").await;
        let created = answers.iter().filter(|r| r.status == 201).count();
        let busy: Vec<&Resp> = answers.iter().filter(|r| r.status == 503).collect();
        assert_eq!(created + busy.len(), 8, "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
        assert!(created >= 2, "the running one and the waiting one finish ({created})");
        assert!(!busy.is_empty(), "the rest are refused");
        for r in &busy {
            r.assert_problem(503, "busy");
            assert_eq!(r.header("retry-after"), Some("1"));
        }
        assert_eq!(app.state.passwords.peak_in_flight(), 1, "never more than one hash at once");
        // A refused sign-up changed nothing: its address is still free.
        let refused_email = answers
            .iter()
            .enumerate()
            .find(|(_, r)| r.status == 503)
            .map(|(i, _)| format!("full{i}@example.test"))
            .unwrap();
        assert!(app.state.store.user_by_email(&refused_email).await.unwrap().is_none());
        drop(app);

        // With room in the queue every request waits its turn.
        let Some(app) = TestApp::spawn_with(backend, budget(1, 16)).await else { return };
        let answers = burst(&app, "queued").await;
        assert!(answers.iter().all(|r| r.status == 201), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
        assert_eq!(app.state.passwords.peak_in_flight(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}

/// The binary starts itself again with glibc's mmap threshold fixed, so each hash's 19 MiB goes
/// back to the operating system, and with one malloc arena per core; an operator's own
/// settings are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_with_a_fixed_malloc_mmap_threshold() {
    // glibc parses GLIBC_TUNABLES in place, ending each `name=value` with a NUL where its `:`
    // was: the pieces that follow the variable are its later tunables.
    let environ = |pid: u32| {
        let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let entries: Vec<String> = raw.split(|b| *b == 0).map(|v| String::from_utf8_lossy(v).into_owned()).collect();
        let at = entries.iter().position(|v| v.starts_with("GLIBC_TUNABLES="))?;
        let rest = entries[at + 1..].iter().take_while(|v| v.starts_with("glibc.")).cloned();
        Some(std::iter::once(entries[at].clone()).chain(rest).collect::<Vec<_>>().join(":"))
    };
    let dir = tempfile::tempdir().unwrap();
    let server = binary::start(&["serve"], dir.path(), &[]).await;
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        environ(server.pid()),
        Some(format!("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576:glibc.malloc.arena_max={cores}"))
    );
    assert_eq!(reqwest::get(format!("{}/readyz", server.base)).await.unwrap().status().as_u16(), 200);
    server.terminate().await;

    let dir = tempfile::tempdir().unwrap();
    let own = "glibc.malloc.mmap_threshold=4194304:glibc.malloc.arena_max=8";
    let server = binary::start(&["serve"], dir.path(), &[("GLIBC_TUNABLES", own)]).await;
    assert_eq!(environ(server.pid()), Some(format!("GLIBC_TUNABLES={own}")), "the operator's values are kept");
    server.terminate().await;

    let dir = tempfile::tempdir().unwrap();
    let own = "glibc.malloc.mmap_threshold=4194304";
    let server = binary::start(&["serve"], dir.path(), &[("GLIBC_TUNABLES", own)]).await;
    assert_eq!(
        environ(server.pid()),
        Some(format!("GLIBC_TUNABLES={own}:glibc.malloc.arena_max={cores}")),
        "the operator's threshold is kept, the arena limit added"
    );
    server.terminate().await;
}

//! Several `steward serve` processes on one PostgreSQL database (`helpers::replicas`): they
//! share people and sessions, survive one of them being killed, and a revocation on any one is
//! seen by all before it returns (docs/DESIGN.md invariant 8).
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::PASSWORD;
use crate::helpers::replicas::Replicas;

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_database_and_survive_a_kill() {
    let Some(mut r) = Replicas::start(3, &[("STEWARD_SIGNUP", "open")]).await else { return };
    assert_eq!(r.len(), 3);
    let bases = r.bases();
    assert_eq!(bases.iter().collect::<std::collections::HashSet<_>>().len(), 3, "one port each: {bases:?}");
    let c = r.client();
    let (st, _) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/register", r.base(0)),
        None,
        Some(json!({ "email": "ann@example.com", "password": PASSWORD, "display_name": "Ann" })),
    )
    .await;
    assert_eq!(st, 201);
    // Signed up on one replica, signed in on another, served by the third.
    let (st, login) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/login", r.base(1)),
        None,
        Some(json!({ "email": "ann@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!(st, 200);
    let token = login["token"].as_str().unwrap().to_string();
    let (st, me) = call(&c, reqwest::Method::GET, format!("{}/api/v1/me", r.base(2)), Some(&token), None).await;
    assert_eq!((st, me["email"].as_str()), (200, Some("ann@example.com")));

    let before = r.pid(2);
    r.kill(2).await;
    assert!(!r.is_running(2));
    assert!(c.get(format!("{}/healthz", r.base(2))).send().await.is_err(), "a killed replica answers nothing");
    // The others keep serving meanwhile.
    let (st, _) = call(&c, reqwest::Method::GET, format!("{}/api/v1/me", r.base(0)), Some(&token), None).await;
    assert_eq!(st, 200);
    // An operator's change straight to the database while replica 2 is down.
    r.sql("UPDATE users SET display_name = 'Ann B' WHERE email = 'ann@example.com'").await;
    r.restart(2).await;
    assert_ne!(r.pid(2), before);
    assert_eq!(r.base(2), bases[2], "a restarted replica keeps its address");
    let (st, me) = call(&c, reqwest::Method::GET, format!("{}/api/v1/me", r.base(2)), Some(&token), None).await;
    assert_eq!((st, me["display_name"].as_str()), (200, Some("Ann B")), "same database and key after the restart");
    assert!(r.log(2).contains("steward is listening"), "the log is kept across the restart: {}", r.log(2));
}

/// The kinds of revocation the load test issues, in turn.
#[derive(Clone, Copy, Debug)]
enum Kind {
    SignOut,
    LogOutEverywhere,
    PasswordChange,
    TokenRevoked,
    MemberRemoved,
    MemberSuspended,
    MemberDowngraded,
    MembershipExpired,
    Lockdown,
}
const KINDS: [Kind; 9] = [
    Kind::SignOut,
    Kind::LogOutEverywhere,
    Kind::PasswordChange,
    Kind::TokenRevoked,
    Kind::MemberRemoved,
    Kind::MemberSuspended,
    Kind::MemberDowngraded,
    Kind::MembershipExpired,
    Kind::Lockdown,
];

/// A credential and a request it may make until it is revoked.
struct Target {
    token: String,
    path: String,
    /// When the revocation returned (for an expiry: when the membership expired).
    revoked_at: Option<Instant>,
    /// Answers 200 per replica (the revoker waits until every replica has served it).
    served: [u32; 3],
}

#[derive(Default)]
struct Board {
    targets: Mutex<Vec<Target>>,
    stop: AtomicBool,
}

/// One request of the load: which target, on which replica, when it was sent, its status.
struct Probe {
    target: usize,
    replica: usize,
    sent: Instant,
    status: u16,
}

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Sends the target's request over and over on one replica, picking targets that are live or
/// were revoked less than a second ago (those are the ones that matter).
async fn load(board: Arc<Board>, c: reqwest::Client, base: String, replica: usize, mut seed: u64) -> Vec<Probe> {
    let mut probes = Vec::new();
    while !board.stop.load(Ordering::Relaxed) {
        let pick = {
            let targets = board.targets.lock().unwrap();
            let open: Vec<usize> = (0..targets.len())
                .filter(|&i| targets[i].revoked_at.is_none_or(|t| t.elapsed() < Duration::from_secs(1)))
                .collect();
            if open.is_empty() {
                None
            } else {
                let i = open[usize::try_from(rng(&mut seed)).unwrap() % open.len()];
                Some((i, targets[i].token.clone(), targets[i].path.clone()))
            }
        };
        let Some((target, token, path)) = pick else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let sent = Instant::now();
        let Ok(r) = c.get(format!("{base}{path}")).bearer_auth(&token).send().await else { continue };
        let status = r.status().as_u16();
        if status == 200 {
            board.targets.lock().unwrap()[target].served[replica] += 1;
        }
        probes.push(Probe { target, replica, sent, status });
    }
    probes
}

/// What a revoker works with: its replicas, its people, and the shared board.
struct Revoker {
    bases: Vec<String>,
    c: reqwest::Client,
    board: Arc<Board>,
    owner: String,
    member: (String, String),
    member_email: String,
    person_email: String,
    person_password: String,
    seed: u64,
}

impl Revoker {
    fn any(&mut self) -> String {
        self.bases[usize::try_from(rng(&mut self.seed)).unwrap() % self.bases.len()].clone()
    }

    async fn login(&mut self) -> String {
        let base = self.any();
        let (st, body) = call(
            &self.c,
            reqwest::Method::POST,
            format!("{base}/api/v1/auth/login"),
            None,
            Some(json!({ "email": self.person_email, "password": self.person_password })),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    async fn send(&mut self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let base = self.any();
        call(&self.c, method, format!("{base}{path}"), Some(token), body).await
    }

    /// A fresh account of the owner's, with the member in it as `role`; returns its id.
    async fn account_with_member(&mut self, role: &str, n: u64) -> String {
        let owner = self.owner.clone();
        let (st, acc) = self
            .send(
                reqwest::Method::POST,
                "/api/v1/accounts",
                &owner,
                Some(json!({"platform": "sandbox", "handle": format!("acc{n}"), "credentials": {"k": "v"}})),
            )
            .await;
        assert_eq!(st, 201, "{acc}");
        let id = acc["id"].as_str().unwrap().to_string();
        let email = self.member_email.clone();
        let (st, inv) = self
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/accounts/{id}/invitations"),
                &owner,
                Some(json!({"email": email, "role": role})),
            )
            .await;
        assert_eq!(st, 201, "{inv}");
        let member = self.member.0.clone();
        let (st, body) = self
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/invitations/{}/accept", inv["token"].as_str().unwrap()),
                &member,
                None,
            )
            .await;
        assert_eq!(st, 200, "{body}");
        id
    }

    fn add(&self, token: &str, path: &str) -> usize {
        let mut targets = self.board.targets.lock().unwrap();
        targets.push(Target { token: token.to_string(), path: path.to_string(), revoked_at: None, served: [0; 3] });
        targets.len() - 1
    }

    /// Waits until every replica has served the target (so each has it cached, if it caches).
    async fn warm(&self, target: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.board.targets.lock().unwrap()[target].served.iter().all(|&n| n >= 2) {
                return;
            }
            assert!(Instant::now() < deadline, "every replica serves a live credential");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sets up a credential of `kind`, lets the load use it on every replica, revokes it on a
    /// random replica and records when that returned; then checks every replica refuses it.
    async fn round(&mut self, kind: Kind, n: u64) {
        let member_id = self.member.1.clone();
        let owner = self.owner.clone();
        let (target, token, path) = match kind {
            Kind::SignOut | Kind::LogOutEverywhere | Kind::TokenRevoked | Kind::PasswordChange => {
                let session = self.login().await;
                let (token, token_id) = if matches!(kind, Kind::TokenRevoked) {
                    let (st, t) = self
                        .send(
                            reqwest::Method::POST,
                            "/api/v1/me/tokens",
                            &session,
                            Some(json!({"name": format!("t{n}"), "scopes": ["read"]})),
                        )
                        .await;
                    assert_eq!(st, 201, "{t}");
                    (t["token"].as_str().unwrap().to_string(), t["id"].as_str().unwrap().to_string())
                } else if matches!(kind, Kind::PasswordChange) {
                    (self.login().await, String::new())
                } else {
                    (session.clone(), String::new())
                };
                let target = self.add(&token, "/api/v1/me");
                self.warm(target).await;
                let (st, body) = match kind {
                    Kind::SignOut => self.send(reqwest::Method::POST, "/api/v1/auth/logout", &session, None).await,
                    Kind::LogOutEverywhere => {
                        self.send(
                            reqwest::Method::POST,
                            "/api/v1/me/sessions/revoke-all",
                            &session,
                            Some(json!({"keep_current": false})),
                        )
                        .await
                    }
                    Kind::TokenRevoked => {
                        self.send(reqwest::Method::DELETE, &format!("/api/v1/me/tokens/{token_id}"), &session, None)
                            .await
                    }
                    _ => {
                        let new_password = format!("{PASSWORD}-{n}");
                        let body = json!({"current_password": self.person_password, "new_password": new_password});
                        let answer =
                            self.send(reqwest::Method::POST, "/api/v1/me/password", &session, Some(body)).await;
                        self.person_password = new_password;
                        answer
                    }
                };
                assert_eq!(st, 204, "{kind:?}: {body}");
                (target, token, "/api/v1/me".to_string())
            }
            _ => {
                let role = if matches!(kind, Kind::MemberDowngraded) { "admin" } else { "editor" };
                let account = self.account_with_member(role, n).await;
                let path = if matches!(kind, Kind::MemberDowngraded) {
                    format!("/api/v1/accounts/{account}/activity")
                } else {
                    format!("/api/v1/accounts/{account}")
                };
                let token = self.member.0.clone();
                let target = self.add(&token, &path);
                self.warm(target).await;
                let member_path = format!("/api/v1/accounts/{account}/members/{member_id}");
                let (st, body) = match kind {
                    Kind::MemberRemoved => self.send(reqwest::Method::DELETE, &member_path, &owner, None).await,
                    Kind::MemberSuspended => {
                        self.send(reqwest::Method::PATCH, &member_path, &owner, Some(json!({"status": "suspended"})))
                            .await
                    }
                    Kind::MemberDowngraded => {
                        self.send(reqwest::Method::PATCH, &member_path, &owner, Some(json!({"role": "viewer"}))).await
                    }
                    Kind::MembershipExpired => {
                        let at = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500);
                        let answer = self
                            .send(
                                reqwest::Method::PATCH,
                                &member_path,
                                &owner,
                                Some(json!({"expires_at": at.to_string()})),
                            )
                            .await;
                        // The revocation is the instant of expiry: wait for it to pass.
                        let left = at.duration_since(jiff::Timestamp::now());
                        if left.is_positive() {
                            tokio::time::sleep(left.unsigned_abs() + Duration::from_millis(20)).await;
                        }
                        answer
                    }
                    _ => {
                        self.send(
                            reqwest::Method::POST,
                            &format!("/api/v1/accounts/{account}/lockdown"),
                            &owner,
                            Some(json!({"disconnect_credential": false})),
                        )
                        .await
                    }
                };
                assert!(st == 200 || st == 204, "{kind:?}: {st} {body}");
                (target, token, path)
            }
        };
        let returned = Instant::now();
        self.board.targets.lock().unwrap()[target].revoked_at = Some(returned);
        for base in self.bases.clone() {
            let (st, _) = call(&self.c, reqwest::Method::GET, format!("{base}{path}"), Some(&token), None).await;
            assert_ne!(st, 200, "{kind:?} returned, yet {base} still serves the credential");
        }
    }
}

async fn register(c: &reqwest::Client, base: &str, email: &str) -> (String, String) {
    let (st, body) = call(
        c,
        reqwest::Method::POST,
        format!("{base}/api/v1/auth/register"),
        None,
        Some(json!({ "email": email, "password": PASSWORD, "display_name": email })),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let (st, login) = call(
        c,
        reqwest::Method::POST,
        format!("{base}/api/v1/auth/login"),
        None,
        Some(json!({ "email": email, "password": PASSWORD })),
    )
    .await;
    assert_eq!(st, 200, "{login}");
    (login["token"].as_str().unwrap().to_string(), login["user"]["id"].as_str().unwrap().to_string())
}

/// Docs/DESIGN.md invariant 8 across replicas: three replicas under continuous authenticated
/// load (three clients each), 200 revocations of every kind issued on random replicas; after a
/// revocation returns, no replica serves the revoked credential or rights even once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_replica_serves_revoked_rights_after_the_revocation_returns() {
    let Some(r) = Replicas::start(3, &[("STEWARD_SIGNUP", "open")]).await else { return };
    let c = r.client();
    let bases = r.bases();
    let board = Arc::new(Board::default());
    let mut loads = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        for k in 0..3u64 {
            let seed = 0x9E37_79B9_7F4A_7C15 ^ (u64::try_from(i).unwrap() * 7 + k + 1);
            loads.push(tokio::spawn(load(board.clone(), c.clone(), base.clone(), i, seed)));
        }
    }
    const WORKERS: u64 = 4;
    const ROUNDS: u64 = 50;
    let mut revokers = Vec::new();
    for w in 0..WORKERS {
        let base = &bases[usize::try_from(w).unwrap() % bases.len()];
        let owner = register(&c, base, &format!("owner{w}@example.com")).await.0;
        let member = register(&c, base, &format!("member{w}@example.com")).await;
        register(&c, base, &format!("person{w}@example.com")).await;
        let mut revoker = Revoker {
            bases: bases.clone(),
            c: c.clone(),
            board: board.clone(),
            owner,
            member,
            member_email: format!("member{w}@example.com"),
            person_email: format!("person{w}@example.com"),
            person_password: PASSWORD.to_string(),
            seed: 0xD1B5_4A32_D192_ED03 ^ (w + 1),
        };
        revokers.push(tokio::spawn(async move {
            for k in 0..ROUNDS {
                let n = w * ROUNDS + k;
                revoker.round(KINDS[usize::try_from(n).unwrap() % KINDS.len()], n).await;
            }
        }));
    }
    for t in revokers {
        t.await.expect("a revoker finished");
    }
    board.stop.store(true, Ordering::Relaxed);
    let mut probes = Vec::new();
    for t in loads {
        probes.extend(t.await.expect("a load client finished"));
    }
    let targets = board.targets.lock().unwrap();
    assert_eq!(targets.len(), usize::try_from(WORKERS * ROUNDS).unwrap());
    let after: Vec<&Probe> =
        probes.iter().filter(|p| targets[p.target].revoked_at.is_some_and(|t| p.sent > t)).collect();
    let served_revoked: Vec<String> = after
        .iter()
        .filter(|p| p.status == 200)
        .map(|p| format!("{} on replica {}", targets[p.target].path, p.replica))
        .collect();
    let served = probes.iter().filter(|p| p.status == 200).count();
    eprintln!(
        "{} requests: {served} served, {} sent with revoked rights after the revocation returned, {} of those served",
        probes.len(),
        after.len(),
        served_revoked.len()
    );
    assert!(served > 1000 && !after.is_empty(), "the load ran on live and revoked credentials");
    assert!(
        after.iter().all(|p| matches!(p.status, 200 | 401 | 403 | 404 | 429)),
        "refusals are refusals, not errors: {:?}",
        after.iter().map(|p| p.status).collect::<std::collections::BTreeSet<_>>()
    );
    assert_eq!(served_revoked.len(), 0, "served with revoked rights: {served_revoked:?}");
}

/// Ends every replica's LISTEN connection (found by its application name, on this test's
/// database only: other tests run servers of their own); answers the backends ended, as
/// (process id, application name: one per replica).
async fn cut_listeners(c: &mut sqlx::PgConnection) -> Vec<(i32, String)> {
    sqlx::query_as(
        // Chosen first, ended after: a `pg_terminate_backend` in the same WHERE could be run
        // before the database's filter and end other databases' backends.
        "WITH ours AS MATERIALIZED (SELECT pid, application_name FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name LIKE 'steward-listener %') \
         SELECT pid, application_name FROM ours WHERE pg_terminate_backend(pid)",
    )
    .fetch_all(c)
    .await
    .expect("terminate the listeners")
}

/// How many replicas have a listener connected that was not cut. A cut backend can stay in
/// `pg_stat_activity` for a while after `pg_terminate_backend` (it is still exiting, the
/// longer the busier the machine), so counting rows alone would take it for a listener.
async fn listeners(c: &mut sqlx::PgConnection, cut: &HashSet<i32>) -> i64 {
    let cut: Vec<i32> = cut.iter().copied().collect();
    sqlx::query_scalar(
        "SELECT count(DISTINCT application_name) FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name LIKE 'steward-listener %' AND NOT (pid = ANY($1))",
    )
    .bind(&cut)
    .fetch_one(c)
    .await
    .expect("count the listeners")
}

/// One connection to the replicas' database, kept for the test's polling: a connection per
/// poll would compete for PostgreSQL's connection slots with every other test running.
async fn watcher(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.expect("connect to the replicas' database")
}

/// A replica whose notification connection is cut (`pg_terminate_backend`) misses what was
/// announced meanwhile; it must serve nothing cached from before until it has caught up, so a
/// sign-out on another replica is refused everywhere as soon as it returns — whether the
/// connection was cut once just before, or is cut again and again while it happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_listener_is_cut_serves_no_stale_rights() {
    let Some(r) = Replicas::start(3, &[("STEWARD_SIGNUP", "open")]).await else { return };
    let c = r.client();
    let bases = r.bases();
    register(&c, &bases[0], "cut@example.com").await;
    let mut cut_pids = HashSet::new();
    let mut db = watcher(&r.database_url).await;
    for round in 0..10usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        while listeners(&mut db, &cut_pids).await < 3 {
            assert!(Instant::now() < deadline, "round {round}: the listeners reconnect");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (st, login) = call(
            &c,
            reqwest::Method::POST,
            format!("{}/api/v1/auth/login", bases[round % 3]),
            None,
            Some(json!({ "email": "cut@example.com", "password": PASSWORD })),
        )
        .await;
        assert_eq!(st, 200);
        let token = login["token"].as_str().unwrap().to_string();
        for base in &bases {
            for _ in 0..3 {
                let (st, _) = call(&c, reqwest::Method::GET, format!("{base}/api/v1/me"), Some(&token), None).await;
                assert_eq!(st, 200);
            }
        }
        let keep_cutting = Arc::new(AtomicBool::new(round % 2 == 1));
        let (started, cutting) = tokio::sync::oneshot::channel();
        let cutter = if round % 2 == 0 {
            let cut = cut_listeners(&mut db).await;
            let replicas: HashSet<&String> = cut.iter().map(|(_, name)| name).collect();
            assert_eq!(replicas.len(), 3, "every replica's listener was cut: {cut:?}");
            cut_pids.extend(cut.iter().map(|(pid, _)| *pid));
            None
        } else {
            let (flag, url) = (keep_cutting.clone(), r.database_url.clone());
            Some(tokio::spawn(async move {
                let mut db = watcher(&url).await;
                let mut cut = HashSet::new();
                let mut started = Some(started);
                while flag.load(Ordering::Relaxed) {
                    cut.extend(cut_listeners(&mut db).await.into_iter().map(|(pid, _)| pid));
                    if !cut.is_empty()
                        && let Some(started) = started.take()
                    {
                        let _ = started.send(());
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                cut
            }))
        };
        if cutter.is_some() {
            // The sign-out goes out only once the cutting has begun (on a busy machine the
            // cutter's first round can come after a quick sign-out), and it goes on meanwhile.
            tokio::time::timeout(Duration::from_secs(60), cutting)
                .await
                .expect("the cutter cut the listeners before the sign-out")
                .expect("the cutter runs");
        }
        let (st, _) = call(
            &c,
            reqwest::Method::POST,
            format!("{}/api/v1/auth/logout", bases[(round + 1) % 3]),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(st, 204);
        for base in &bases {
            let (st, _) = call(&c, reqwest::Method::GET, format!("{base}/api/v1/me"), Some(&token), None).await;
            assert_eq!(st, 401, "round {round}: {base} serves a signed-out session");
        }
        keep_cutting.store(false, Ordering::Relaxed);
        if let Some(cutter) = cutter {
            let cut = cutter.await.unwrap();
            assert!(!cut.is_empty(), "the listeners were being cut when the sign-out was sent");
            cut_pids.extend(cut);
        }
    }
}

/// A client that gives up mid-request (a closed tab, its own timeout) cancels the request's work
/// at whatever it awaits, the round trip of a transaction's BEGIN included. sqlx 0.9.0 then
/// returned the connection to the pool inside that transaction (transact-rs/sqlx#4393): later
/// statements on it never committed and kept their locks, among them the replica's heartbeat,
/// on whose row its graceful stop then waited for ever. After a storm of abandoned drafts no
/// connection may be left in a transaction, the replica still writes, and SIGTERM stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_requests_leave_no_transaction_open_and_the_replica_stops_cleanly() {
    let Some(mut r) = Replicas::start(1, &[("STEWARD_SIGNUP", "open")]).await else { return };
    let c = r.client();
    let base = r.base(0).to_string();
    let (token, _) = register(&c, &base, "gone@example.com").await;
    let (st, account) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/api/v1/accounts"),
        Some(&token),
        Some(json!({"platform": "sandbox", "handle": "@gone", "credentials": {}})),
    )
    .await;
    assert_eq!(st, 201, "{account}");
    let url = format!("{base}/api/v1/accounts/{}/posts", account["id"].as_str().unwrap());

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let (mut abandoned, mut answered) = (0, 0);
    for _ in 0..40 {
        let mut sent = Vec::new();
        for _ in 0..32 {
            // Given up after 0 to 20 ms: before, during or after any of the draft's round trips, or not at all.
            let patience = Duration::from_micros(rng(&mut seed) % 20_000);
            let request = c.post(&url).bearer_auth(&token).json(&json!({"text": "abandoned"})).timeout(patience);
            sent.push(tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) }));
        }
        for request in sent {
            match request.await.unwrap() {
                Ok(status) => {
                    assert_eq!(status, 201);
                    answered += 1;
                }
                Err(_) => abandoned += 1,
            }
        }
    }
    assert!(
        abandoned >= 200,
        "the storm abandoned too few requests to test anything: {abandoned} ({answered} answered)"
    );

    // Steward holds no transaction open while it waits for nothing; one idle for seconds was
    // left behind.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let mut db = watcher(&r.database_url).await;
    let stuck: Vec<(String, String)> = sqlx::query_as(
        "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND state LIKE 'idle in transaction%' AND xact_start < now() - interval '2 seconds'",
    )
    .fetch_all(&mut db)
    .await
    .expect("read pg_stat_activity");
    assert!(stuck.is_empty(), "connections left inside a transaction after abandoned requests: {stuck:?}");

    let (st, _) = call(&c, reqwest::Method::POST, url, Some(&token), Some(json!({"text": "after the storm"}))).await;
    assert_eq!(st, 201);
    let took = r.stop(0).await;
    let log = r.log(0);
    assert!(!log.contains("already a transaction in progress"), "a pooled connection was inside a transaction: {log}");
    println!("{abandoned} of {} drafts abandoned; the replica stopped {took:?} after SIGTERM", abandoned + answered);
}

/// A graceful stop removes the replica's row, but an operator's open transaction may hold that
/// row: the stop gives up on it after a bound (revokers then wait only until its heartbeat is
/// stale) and exits, rather than waiting for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_does_not_wait_for_a_replica_row_someone_else_holds() {
    use sqlx::Connection;
    let Some(mut r) = Replicas::start(1, &[]).await else { return };
    let mut holder = sqlx::PgConnection::connect(&r.database_url).await.unwrap();
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas").fetch_one(&mut holder).await.unwrap();
        if n == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT id FROM replicas FOR UPDATE) AS held")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    assert_eq!(held, 1, "the replica's row is there to hold");
    // `stop` fails the test if the replica has not exited 20 s after SIGTERM.
    r.stop(0).await;
    let log = r.log(0);
    assert!(log.contains("removing this replica's row took over"), "{log}");
    // Its connections were still waiting on the row: closing them was given up too.
    assert!(log.contains("closing the database connections took over"), "{log}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
}

//! Several real `steward serve` processes on one fresh PostgreSQL database, as an operator runs
//! replicas behind a load balancer: same master key, one port each, one data directory each.
//!
//! ```ignore
//! let Some(mut r) = Replicas::start(3, &[("STEWARD_SIGNUP", "open")]).await else { return }; // no PostgreSQL: skipped
//! let c = r.client();                              // reqwest, TLS provider installed
//! let url = format!("{}/api/v1/me", r.base(1));   // each replica's `http://127.0.0.1:PORT`
//! r.kill(2).await;                                  // SIGKILL, as a crash: no graceful shutdown
//! r.stop(1).await;                                  // SIGTERM: a graceful stop, within 20 s
//! r.restart(2).await;                               // the same port, database and key again
//! let log = r.log(2);                               // its stderr so far, across restarts
//! r.sql("UPDATE …").await;                          // straight to the shared database
//! ```
//!
//! - [`Replicas::start`] creates a uniquely named database next to `STEWARD_TEST_POSTGRES_URL`
//!   and drops it when the value is dropped (the processes are killed first). Without
//!   PostgreSQL it prints why and answers `None`, unless `STEWARD_REQUIRE_ALL=1`, where it fails
//!   (`steward_store::testing::postgres_admin_url`, as every PostgreSQL test does).
//! - Replica 0 starts alone (it runs the migrations); the others then start together.
//! - `extra_env` is added to every replica's environment (and kept for restarts); each replica
//!   also gets `STEWARD_PUBLIC_URL` of its own address.
//! - Stderr (the log) of replica `i` goes to `<dir>/replica-i.log`, appended across restarts.
//! - One set of replicas runs at a time in the test binary: each replica's pool may open 16
//!   connections and a busy one does, so two sets at once (plus the other tests' servers) can
//!   pass PostgreSQL's default 100 connections and a replica is refused ("too many clients").
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::Engine;
use sha2::Digest;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::binary::BIN;

pub(crate) struct Replica {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`, kept across restarts.
    base: String,
    data_dir: PathBuf,
    log_path: PathBuf,
}

/// Held by the one running set of replicas (see the module's notes).
static ONE_SET_AT_A_TIME: LazyLock<Arc<tokio::sync::Semaphore>> =
    LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(1)));

pub(crate) struct Replicas {
    replicas: Vec<Replica>,
    /// The shared database's URL (for direct SQL, or a store of the test's own).
    pub(crate) database_url: String,
    admin_url: String,
    master_key: String,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    /// Released when the replicas are dropped (after their processes are killed).
    _turn: tokio::sync::OwnedSemaphorePermit,
}

impl Replicas {
    /// Starts `n` replicas on a fresh PostgreSQL database, or `None` when there is no
    /// PostgreSQL to test on (skipped with a printed reason; a failure under `STEWARD_REQUIRE_ALL=1`).
    pub(crate) async fn start(n: usize, extra_env: &[(&str, &str)]) -> Option<Self> {
        assert!(n >= 1, "at least one replica");
        steward_connectors::http::install_crypto_provider();
        let admin_url = steward_store::testing::postgres_admin_url()?;
        let turn = ONE_SET_AT_A_TIME.clone().acquire_owned().await.expect("the replicas' turn");
        let database_url = steward_store::testing::create_postgres_database(&admin_url, "steward_replicas")
            .await
            .expect("create the replicas' database");
        let dir = tempfile::tempdir().expect("tempdir");
        // One key for all replicas, as a deployment shares its key file.
        let key = sha2::Sha256::digest(format!("replicas {database_url} {:?}", std::time::SystemTime::now()));
        let master_key = base64::engine::general_purpose::STANDARD.encode(key);
        let env = extra_env.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
        let mut me = Self { replicas: Vec::new(), database_url, admin_url, master_key, env, dir, _turn: turn };
        for i in 0..n {
            let data_dir = me.dir.path().join(format!("replica-{i}"));
            std::fs::create_dir_all(&data_dir).expect("replica data dir");
            let log_path = me.dir.path().join(format!("replica-{i}.log"));
            me.replicas.push(Replica { child: None, base: String::new(), data_dir, log_path });
        }
        me.spawn(0, "127.0.0.1:0").await;
        let rest: Vec<_> = (1..n).collect();
        me.spawn_many(&rest).await;
        Some(me)
    }

    /// An HTTP client for the replicas (the build's TLS provider installed; 30 s timeout).
    pub(crate) fn client(&self) -> reqwest::Client {
        reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
    }

    /// The master key every replica shares (base64), for a test that seals credentials itself.
    pub(crate) fn master_key(&self) -> &str {
        &self.master_key
    }

    /// How many replicas there are (running or killed).
    pub(crate) fn len(&self) -> usize {
        self.replicas.len()
    }

    /// Replica `i`'s base URL, `http://127.0.0.1:PORT` (the same after a restart).
    pub(crate) fn base(&self, i: usize) -> &str {
        &self.replicas[i].base
    }

    /// Every replica's base URL, in order.
    pub(crate) fn bases(&self) -> Vec<String> {
        self.replicas.iter().map(|r| r.base.clone()).collect()
    }

    /// Replica `i`'s process id (panics if it is not running).
    pub(crate) fn pid(&self, i: usize) -> u32 {
        self.replicas[i].child.as_ref().and_then(Child::id).expect("replica running")
    }

    /// Whether replica `i` is running (not killed, and not exited on its own).
    pub(crate) fn is_running(&mut self, i: usize) -> bool {
        self.replicas[i].child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills replica `i` with SIGKILL (a crash: no shutdown, no flush) and waits until it is gone.
    pub(crate) async fn kill(&mut self, i: usize) {
        let Some(mut child) = self.replicas[i].child.take() else { return };
        child.start_kill().expect("SIGKILL the replica");
        tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("a killed replica goes away")
            .expect("wait for the replica");
    }

    /// Stops replica `i` as an operator or a rolling restart does (SIGTERM: finish requests,
    /// leave, close) and answers how long it took to exit; panics if it did not within 20 s.
    pub(crate) async fn stop(&mut self, i: usize) -> Duration {
        let Some(mut child) = self.replicas[i].child.take() else { return Duration::ZERO };
        let pid = child.id().expect("a running replica has a pid").to_string();
        let started = std::time::Instant::now();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
        let exited = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
        let _ = child.start_kill();
        let status = exited
            .unwrap_or_else(|_| panic!("replica {i} did not exit within 20 s of SIGTERM; log: {}", self.log(i)))
            .expect("wait for the replica");
        assert!(status.success(), "replica {i} exited with {status}; log: {}", self.log(i));
        started.elapsed()
    }

    /// Starts replica `i` again (killing it first if it still runs): same port, data directory,
    /// database and master key.
    pub(crate) async fn restart(&mut self, i: usize) {
        self.kill(i).await;
        let listen = self.replicas[i].base.trim_start_matches("http://").to_string();
        self.spawn(i, &listen).await;
    }

    /// Replica `i`'s log (its stderr) so far, across restarts.
    pub(crate) fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.replicas[i].log_path).unwrap_or_default()
    }

    /// Runs SQL straight against the shared database (as an operator's `psql` would).
    pub(crate) async fn sql(&self, sql: &str) {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&self.database_url).await.expect("connect to the replicas' database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut c).await.expect(sql);
        let _ = c.close().await;
    }

    async fn spawn_many(&mut self, which: &[usize]) {
        let starts: Vec<_> = which.iter().map(|&i| self.command(i, "127.0.0.1:0")).collect();
        let mut pending = Vec::new();
        for (cmd, &i) in starts.into_iter().zip(which) {
            let log_path = self.replicas[i].log_path.clone();
            pending.push(tokio::spawn(launch(cmd, log_path)));
        }
        for (task, &i) in pending.into_iter().zip(which) {
            let (child, base) = task.await.expect("replica start task");
            self.replicas[i].child = Some(child);
            self.replicas[i].base = base;
        }
    }

    async fn spawn(&mut self, i: usize, listen: &str) {
        let cmd = self.command(i, listen);
        let (child, base) = launch(cmd, self.replicas[i].log_path.clone()).await;
        self.replicas[i].child = Some(child);
        self.replicas[i].base = base;
    }

    fn command(&self, i: usize, listen: &str) -> Command {
        let r = &self.replicas[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&r.log_path).expect("replica log");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("STEWARD_LISTEN", listen)
            .env("STEWARD_DATA_DIR", &r.data_dir)
            .env("STEWARD_DATABASE_URL", &self.database_url)
            .env("STEWARD_MASTER_KEY", &self.master_key)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if listen != "127.0.0.1:0" && !self.env.iter().any(|(k, _)| k == "STEWARD_PUBLIC_URL") {
            cmd.env("STEWARD_PUBLIC_URL", format!("http://{listen}"));
        }
        cmd
    }
}

/// Spawns the prepared command and waits for the line announcing its URL.
async fn launch(mut cmd: Command, log_path: PathBuf) -> (Child, String) {
    let mut child = cmd.spawn().expect("spawn steward serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = tokio::time::timeout(Duration::from_secs(90), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(i) = line.find("http://") {
                return line[i..].split_whitespace().next().unwrap_or_default().trim_end_matches('/').to_string();
            }
        }
        panic!(
            "a replica exited before announcing its address; log: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    })
    .await
    .expect("the replica announced its address in time");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for r in &mut self.replicas {
            if let Some(mut c) = r.child.take() {
                let _ = c.start_kill();
            }
        }
        let (admin, url) = (self.admin_url.clone(), self.database_url.clone());
        // Drop runs inside the test's runtime; a plain thread with its own runtime avoids
        // blocking it. FORCE ends the killed replicas' lingering connections.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(steward_store::testing::drop_postgres_database(&admin, &url));
            }
        })
        .join();
    }
}

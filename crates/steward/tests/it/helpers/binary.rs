//! The real `steward` binary as a child process, as an operator runs it.
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The `steward` binary cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_steward");

pub(crate) struct Running {
    child: Child,
    pub(crate) base: String,
    log_path: std::path::PathBuf,
    pub(crate) stdout_lines: Vec<String>,
}

/// Starts `steward <args>` and waits for the line announcing its URL.
pub(crate) async fn start(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Running {
    let log_path = dir.join(format!("{}.log", args[0]));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STEWARD_LISTEN", "127.0.0.1:0")
        .env("STEWARD_DATA_DIR", dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn steward");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout_lines = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            stdout_lines.push(line.clone());
            if let Some(i) = line.find("http://") {
                return line[i..].split_whitespace().next().unwrap().to_string();
            }
        }
        panic!(
            "steward exited before announcing its address; log: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    })
    .await
    .expect("steward announced its address in time");
    // The demo's banner goes on after its address: the people, the platforms, how to stop.
    if args[0] == "demo" {
        while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await {
            let last = line.contains("Ctrl-C");
            stdout_lines.push(line);
            if last {
                break;
            }
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running { child, base, log_path, stdout_lines }
}

impl Running {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub(crate) async fn terminate(mut self) -> String {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .unwrap();
        assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
        std::fs::read_to_string(&self.log_path).unwrap()
    }
}

//! A local SMTP server that accepts every message and keeps it (RFC 5321, plain, no TLS, no
//! AUTH): what alert emails are tested against, over a real TCP connection.
//!
//! It speaks the minimal command set a client needs — `EHLO`/`HELO`, `MAIL FROM`, `RCPT TO`,
//! `DATA` (dot-terminated, with dot-stuffing undone), `RSET`, `NOOP`, `QUIT` — and answers
//! anything else `502`. It can be told to refuse the next messages with a transient `451`.
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message as received.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after `DATA` (headers and body, CRLF line ends, dot-stuffing undone).
    pub data: String,
}

#[derive(Default)]
struct Inner {
    messages: Vec<ReceivedMail>,
    refuse_next: usize,
}

/// A running SMTP sink.
#[derive(Clone)]
pub struct SmtpSink {
    /// `smtp://127.0.0.1:<port>` — for `STEWARD_SMTP_URL`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl SmtpSink {
    /// Binds 127.0.0.1 on an ephemeral port and accepts connections in the background.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner::default()));
        let shared = inner.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = session(stream, shared).await;
                });
            }
        });
        Ok(Self { url: format!("smtp://{addr}"), inner })
    }

    /// Every message received so far.
    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.inner.lock().map(|i| i.messages.clone()).unwrap_or_default()
    }

    /// Answers the next `n` messages' `DATA` end with `451` (try again later).
    pub fn refuse_next(&self, n: usize) {
        if let Ok(mut i) = self.inner.lock() {
            i.refuse_next = n;
        }
    }
}

fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

async fn session(stream: TcpStream, shared: Arc<Mutex<Inner>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 steward-doubles SMTP sink ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-steward-doubles\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 steward-doubles\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&cmd[10..]);
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&cmd[8..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            if to.is_empty() {
                b"503 RCPT first\r\n"
            } else {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-stuffing (RFC 5321 §4.5.2): a leading dot was doubled by the client.
                    data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                }
                let refused = match shared.lock() {
                    Ok(mut i) if i.refuse_next > 0 => {
                        i.refuse_next -= 1;
                        true
                    }
                    Ok(mut i) => {
                        i.messages.push(ReceivedMail { from: from.clone(), to: std::mem::take(&mut to), data });
                        false
                    }
                    Err(_) => true,
                };
                if refused { b"451 try again later\r\n" } else { b"250 OK: queued\r\n" }
            }
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            b"250 OK\r\n"
        } else if upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

//! A server that sends mail to a local SMTP sink, waiting for background work, and reading
//! what was mailed.
use std::time::Duration;

use steward_doubles::smtp::{ReceivedMail, SmtpSink};

use super::{Backend, TestApp};

/// A test server whose mail goes to `sink`.
pub async fn mailing_app(backend: Backend, sink: &SmtpSink) -> Option<TestApp> {
    let url = sink.url.clone();
    TestApp::spawn_with(backend, move |s| {
        s.smtp_url = Some(url);
        s.mail_from = Some("Steward <steward@example.com>".into());
        s.allow_private_networks = true;
    })
    .await
}

/// Declares each mail test once per database, with a fresh sink: `name::sqlite`, `name::postgres`.
macro_rules! with_mail {
    ($(async fn $name:ident($app:ident: TestApp, $sink:ident: SmtpSink) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp, $sink: steward_doubles::smtp::SmtpSink) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let sink = steward_doubles::smtp::SmtpSink::start().await.unwrap();
                let app = $crate::helpers::mail::mailing_app($crate::helpers::Backend::Sqlite, &sink).await.unwrap();
                run(app, sink).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let sink = steward_doubles::smtp::SmtpSink::start().await.unwrap();
                if let Some(app) = $crate::helpers::mail::mailing_app($crate::helpers::Backend::Postgres, &sink).await {
                    run(app, sink).await;
                }
            }
        }
    )*};
}
pub(crate) use with_mail;

/// Waits (bounded) until `check` holds: deliveries run in the background.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting for {what}");
}

/// A message's text as a person reads it: quoted-printable soft breaks, `=3D` and header
/// folding undone.
#[must_use]
pub fn readable(m: &ReceivedMail) -> String {
    m.data.replace("=\r\n", "").replace("=3D", "=").replace("\r\n ", " ")
}

/// The messages sent to `to` so far.
#[must_use]
pub fn mails_to(sink: &SmtpSink, to: &str) -> Vec<String> {
    sink.messages().iter().filter(|m| m.to.iter().any(|t| t == to)).map(readable).collect()
}

/// The first token after `marker` (e.g. `/reset/`) in a mail: URL-safe base64 and `_`.
#[must_use]
pub fn token_after(mail: &str, marker: &str) -> String {
    let at = mail.find(marker).unwrap_or_else(|| panic!("{marker} in {mail}"));
    mail[at + marker.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

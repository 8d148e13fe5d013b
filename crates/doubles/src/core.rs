//! What every platform double shares: its request record, queued failures, clock, issued secrets and JSON errors.
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::{Fault, RecordedRequest};

/// What a double tells the shared machinery about the platform it plays.
pub(crate) trait Platform: std::ops::Deref<Target = DoubleCore> + Clone + Send + Sync + 'static {
    /// The most of a request body the double reads.
    const BODY_LIMIT: usize;
    /// The HTML of the 500 an injected [`Fault::ServerError`] answers: what the platform's
    /// front end serves when the service behind it fails.
    const SERVER_ERROR_PAGE: &'static str;

    /// The platform's 429, as an injected [`Fault::RateLimited`] answers it.
    fn rate_limited(&self) -> Response;

    /// What answers once the platform did the work, after [`DoubleCore::lose_next_response`].
    fn lost_answer() -> Response {
        html(500, Self::SERVER_ERROR_PAGE)
    }

    /// How a request's body is kept in the record.
    fn recorded_body(_path: &str, bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

#[derive(Clone, Copy)]
enum Extra {
    /// Answered in place of the platform: a failure only this platform has.
    Instead(fn() -> Response),
    /// The platform does the work, then [`Platform::lost_answer`] answers: the real answer was
    /// lost on the way back.
    Lost,
}

#[derive(Default)]
struct Shared {
    requests: Vec<RecordedRequest>,
    /// (path prefix, matching requests to let through first, fault)
    faults: Vec<(String, usize, Fault)>,
    extras: Vec<(String, Extra)>,
    /// How far tests moved the clock, in milliseconds.
    clock_offset_ms: i64,
    /// Every token and secret handed out, in order.
    issued: Vec<String>,
}

/// The part of a double that does not depend on the platform. Each double dereferences to its
/// core, so a test reads `base` and calls these methods on the double itself.
#[derive(Clone)]
pub struct DoubleCore {
    /// The origin serving every path of the double (auth, API and uploads alike).
    pub base: String,
    shared: Arc<Mutex<Shared>>,
    /// Secrets the double holds from the start (the app's client secret, the account's app
    /// password).
    held: Arc<Vec<String>>,
}

impl DoubleCore {
    /// Binds the double's port; `held` are the secrets it holds from the start. The double
    /// then builds its routes and hands them to [`serve`] with the listener.
    pub(crate) async fn bind(held: Vec<String>) -> std::io::Result<(Self, TcpListener)> {
        let (listener, base) = crate::bind().await?;
        Ok((Self { base, shared: Arc::default(), held: Arc::new(held) }, listener))
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves `fault` once, on the next request whose path starts with `path_prefix`.
    pub fn inject(&self, path_prefix: &str, fault: Fault) {
        self.inject_after(path_prefix, 0, fault);
    }

    /// Like [`Self::inject`], after letting `skip` matching requests through (e.g. the second
    /// chunk of an upload).
    pub fn inject_after(&self, path_prefix: &str, skip: usize, fault: Fault) {
        self.lock().faults.push((path_prefix.to_string(), skip, fault));
    }

    /// The next matching request is performed, then answered with a 500 (committed but lost).
    pub fn lose_next_response(&self, path_prefix: &str) {
        self.lock().extras.push((path_prefix.to_string(), Extra::Lost));
    }

    /// The next matching request is answered with `answer` instead of reaching the platform.
    pub(crate) fn answer_next(&self, path_prefix: &str, answer: fn() -> Response) {
        self.lock().extras.push((path_prefix.to_string(), Extra::Instead(answer)));
    }

    /// Moves the double's clock forward: token, code and upload expiry, rate-limit windows.
    pub fn advance(&self, by: Duration) {
        self.lock().clock_offset_ms += by.as_millis() as i64;
    }

    /// The double's clock, in Unix seconds.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// The double's clock, in Unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        let real = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        real + self.lock().clock_offset_ms
    }

    /// Remembers a token or secret the double hands out, for [`Self::issued_secrets`].
    pub(crate) fn issue(&self, secret: &str) {
        self.lock().issued.push(secret.to_string());
    }

    /// Every secret this double has handed out or holds (client secrets, app passwords, access and
    /// refresh tokens), so a test can search Steward's outputs for them.
    #[must_use]
    pub fn issued_secrets(&self) -> Vec<String> {
        let mut all = self.lock().issued.clone();
        all.extend(self.held.iter().cloned());
        all
    }

    /// Every request the double received, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Records a request and takes what was queued for it: a fault, and unless that fault
    /// answers in the platform's place, an extra.
    fn arrive(&self, request: RecordedRequest) -> (Option<Fault>, Option<Extra>) {
        let mut shared = self.lock();
        let path = request.path.clone();
        shared.requests.push(request);
        let fault = take_fault(&mut shared.faults, &path);
        if matches!(fault, Some(Fault::ServerError | Fault::RateLimited)) {
            return (fault, None);
        }
        let extra =
            shared.extras.iter().position(|(p, _)| path.starts_with(p.as_str())).map(|i| shared.extras.remove(i).1);
        (fault, extra)
    }
}

fn take_fault(faults: &mut Vec<(String, usize, Fault)>, path: &str) -> Option<Fault> {
    let i = faults.iter().position(|(p, _, _)| path.starts_with(p.as_str()))?;
    if faults[i].1 > 0 {
        // Every pending fault on this path waits for one more request.
        for f in faults.iter_mut().filter(|(p, _, _)| path.starts_with(p.as_str())) {
            f.1 = f.1.saturating_sub(1);
        }
        return None;
    }
    Some(faults.remove(i).2)
}

/// Serves a double's routes in the background, behind the layer that records requests and
/// plays queued failures.
pub(crate) fn serve<P: Platform>(listener: TcpListener, routes: Router<P>, double: &P) {
    let router =
        routes.layer(axum::middleware::from_fn_with_state(double.clone(), record::<P>)).with_state(double.clone());
    crate::spawn(listener, router);
}

/// What every double has around its platform state: it dereferences to its `core`, locks its
/// `inner` state, and shows the `config` it was started with.
macro_rules! accessors {
    ($double:ty, $state:ty, $config:ty) => {
        impl std::ops::Deref for $double {
            type Target = $crate::DoubleCore;

            fn deref(&self) -> &$crate::DoubleCore {
                &self.core
            }
        }

        impl $double {
            fn lock(&self) -> std::sync::MutexGuard<'_, $state> {
                self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
            }

            /// The configuration the double was started with.
            #[must_use]
            pub fn config(&self) -> &$config {
                &self.config
            }
        }
    };
}
pub(crate) use accessors;

async fn record<P: Platform>(State(d): State<P>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, P::BODY_LIMIT).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    let (fault, extra) = d.arrive(RecordedRequest {
        method: parts.method.to_string(),
        body: P::recorded_body(&path, &bytes),
        path,
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect(),
    });
    match fault {
        Some(Fault::ServerError) => return html(500, P::SERVER_ERROR_PAGE),
        Some(Fault::RateLimited) => return d.rate_limited(),
        Some(Fault::Delay(by)) => tokio::time::sleep(by).await,
        None => {}
    }
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    match extra {
        Some(Extra::Instead(answer)) => answer(),
        Some(Extra::Lost) => {
            let _committed = next.run(req).await;
            P::lost_answer()
        }
        None => next.run(req).await,
    }
}

/// A JSON error answer.
pub(crate) fn json_error(status: u16, body: Value) -> Response {
    (status_code(status), axum::Json(body)).into_response()
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2).
pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_error(status, json!({"error": error, "error_description": description}))
}

/// An HTML page, as proxies and front ends answer.
pub(crate) fn html(status: u16, page: &'static str) -> Response {
    (status_code(status), [(header::CONTENT_TYPE, "text/html")], page).into_response()
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

//! The one place where errors become HTTP answers: RFC 9457 `application/problem+json` with a
//! stable `type` URI. Internal details (database errors, causes) are logged, never returned.
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

pub use steward_app::error::{AppError, FieldError};

/// One invalid field, as problem+json lists it (the documented shape of [`FieldError`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldErrorDoc {
    pub field: String,
    pub message: String,
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<FieldErrorDoc>)]
    pub errors: Vec<FieldError>,
}

/// An [`AppError`] on its way out as an HTTP answer.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<steward_store::StoreError> for ApiError {
    fn from(e: steward_store::StoreError) -> Self {
        ApiError(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(AppError::Internal(e))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError(AppError::validation(field, message))
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError(AppError::internal(e))
    }

    /// A sentence for people outside HTTP (the CLI): the problem's detail and every field error.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            ApiError(AppError::Validation(errors)) => {
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
            }
            other => other.parts().3,
        }
    }

    /// The HTTP status this error answers with (the web app uses it for its HTML pages too).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The audit marker for a refusal, so a page that shows the error in HTML is still recorded
    /// as a denial by the request middleware.
    #[must_use]
    pub fn denial(&self) -> Option<Denial> {
        self.0.denial_reason().map(|reason| Denial { reason })
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        use AppError as E;
        match &self.0 {
            E::Unauthenticated { .. } => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Not signed in",
                "Sign in, or send a valid session or access token.".into(),
            ),
            E::InvalidCredentials { detail } => {
                (StatusCode::UNAUTHORIZED, "invalid-credentials", "Invalid credentials", (*detail).into())
            }
            E::TotpRequired => (
                StatusCode::UNAUTHORIZED,
                "totp-required",
                "Two-factor code required",
                "This account has two-factor authentication on: send the current code from your authenticator app, or a recovery code, as `totp`.".into(),
            ),
            E::Forbidden(d) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden", d.clone()),
            E::NotFound | E::NotFoundDenied(_) => {
                (StatusCode::NOT_FOUND, "not-found", "Not found", "There is nothing here, or you may not see it.".into())
            }
            E::RulesNotAccepted => (
                StatusCode::FORBIDDEN,
                "rules-not-accepted",
                "House rules not accepted",
                "This account has house rules you have not accepted yet: read them (GET the account) and accept them, signed in, first.".into(),
            ),
            E::MemberLimit(d) => (StatusCode::CONFLICT, "member-limit", "Member limit reached", d.clone()),
            E::Conflict(d) => (StatusCode::CONFLICT, "conflict", "Conflict", d.clone()),
            E::ForbiddenAs { code, title, detail } => (StatusCode::FORBIDDEN, code, title, detail.clone()),
            E::ConflictAs { code, title, detail } => (StatusCode::CONFLICT, code, title, detail.clone()),
            E::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
                "The resource changed since you read it; reload it and try again.".into(),
            ),
            E::PreconditionRequired(d) => {
                (StatusCode::PRECONDITION_REQUIRED, "precondition-required", "Precondition required", d.clone())
            }
            E::OutsideWindow(d) => (StatusCode::FORBIDDEN, "outside-window", "Outside your posting windows", d.clone()),
            E::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
                match errors.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    _ => "Some fields are invalid; see `errors`.".into(),
                },
            ),
            E::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many attempts",
                format!("Too many attempts; try again in {retry_after_secs} seconds."),
            ),
            E::PlatformRateLimited { detail, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Platform rate limit", detail.clone())
            }
            E::PlatformUnavailable(d) => {
                (StatusCode::SERVICE_UNAVAILABLE, "platform-unavailable", "Platform unavailable", d.clone())
            }
            E::Busy { detail, retry_after_secs } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                format!("{detail}; try again in {retry_after_secs} second{}.", if *retry_after_secs == 1 { "" } else { "s" }),
            ),
            E::PayloadTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Request too large", "The request body is too large.".into())
            }
            E::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "Send the body as JSON with `Content-Type: application/json`.".into(),
            ),
            E::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "This path does not accept that method.".into(),
            ),
            E::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "Something went wrong on the server. Nothing was changed; try again later.".into(),
            ),
        }
    }
}

/// Marks a response as a denial, for the audit middleware.
#[derive(Debug, Clone)]
pub struct Denial {
    pub reason: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, suffix, title, detail) = self.parts();
        if let AppError::Internal(e) = &self.0 {
            tracing::error!(error = %format!("{e:#}"), "request failed");
        }
        let errors = match &self.0 {
            AppError::Validation(errors) => errors.clone(),
            _ => Vec::new(),
        };
        let body = Problem {
            type_uri: format!("urn:steward:problem:{suffix}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let AppError::RateLimited { retry_after_secs }
        | AppError::PlatformRateLimited { retry_after_secs, .. }
        | AppError::Busy { retry_after_secs, .. } = &self.0
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(reason) = self.0.denial_reason() {
            resp.extensions_mut().insert(Denial { reason });
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `axum::Json`, but every rejection is a problem+json naming what was wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError(AppError::UnsupportedMediaType));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(AppError::PayloadTooLarge)
            } else {
                ApiError::validation("body", "could not be read")
            }
        })?;
        steward_app::strict_json::from_slice(&bytes).map(Json).map_err(|e| ApiError(AppError::Validation(vec![e])))
    }
}

/// `application/json`, or any `application/*+json`, as axum's own `Json` accepts.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(pairs).map(Query).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            match message.strip_prefix("missing field ") {
                Some(rest) => ApiError::validation(rest.split('`').nth(1).unwrap_or("query"), "is required"),
                None => ApiError::validation(
                    if path == "." { "query" } else { &path },
                    format!("is not valid ({})", message.split(" at line ").next().unwrap_or(&message)),
                ),
            }
        })
    }
}

/// `axum::extract::Path` with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|_: PathRejection| ApiError(AppError::NotFound))
    }
}

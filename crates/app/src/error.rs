//! The application's typed errors: what a use case answers when it refuses or fails. The edges
//! map them once: the API to problem+json (`steward_server::error`), the web app to an error
//! page, the CLI to a sentence and an exit code.

/// One invalid field of a request.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid credential. `presented` tells whether one was sent and refused (audited).
    #[error("unauthenticated")]
    Unauthenticated { presented: bool },
    #[error("invalid credentials")]
    InvalidCredentials { detail: &'static str },
    #[error("a two-factor code is required")]
    TotpRequired,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// A "not found" that is also a denial (someone asked for something they may not even see).
    #[error("not found (denied: {0})")]
    NotFoundDenied(String),
    #[error("the account's house rules must be accepted first")]
    RulesNotAccepted,
    #[error("member limit reached")]
    MemberLimit(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A refusal with a problem type of its own (`own-membership`), so clients can tell it apart.
    #[error("forbidden ({code}): {detail}")]
    ForbiddenAs { code: &'static str, title: &'static str, detail: String },
    /// A conflict with a problem type of its own (`account-locked-down`).
    #[error("conflict ({code}): {detail}")]
    ConflictAs { code: &'static str, title: &'static str, detail: String },
    #[error("precondition failed")]
    PreconditionFailed,
    /// A conditional request was required (an edit without the version it was based on).
    #[error("precondition required: {0}")]
    PreconditionRequired(String),
    /// Scheduling or publishing outside the member's posting windows.
    #[error("outside posting windows: {0}")]
    OutsideWindow(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("payload too large")]
    PayloadTooLarge,
    /// The server is at its budget for costly work (password hashing) and its queue is full.
    #[error("busy: {detail}")]
    Busy { detail: &'static str, retry_after_secs: u64 },
    /// The platform could not be reached; retry later.
    #[error("platform unavailable: {0}")]
    PlatformUnavailable(String),
    /// The platform's rate limit for the account was reached; `retry_after_secs` is the
    /// platform's hint, or its documented reset.
    #[error("platform rate limited: {detail}")]
    PlatformRateLimited { detail: String, retry_after_secs: u64 },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// Why a refusal was a denial, for the audit log (`None`: not a denial, e.g. a conflict or
    /// a client mistake).
    #[must_use]
    pub fn denial_reason(&self) -> Option<String> {
        match self {
            AppError::Unauthenticated { presented: true } => Some("invalid, expired or revoked credential".into()),
            AppError::InvalidCredentials { detail } => Some((*detail).to_string()),
            AppError::Forbidden(d) | AppError::NotFoundDenied(d) => Some(d.clone()),
            // Both are attempts the owner's rules refused: the activity log shows them.
            AppError::ForbiddenAs { detail, .. } | AppError::ConflictAs { detail, .. } => Some(detail.clone()),
            AppError::RulesNotAccepted => Some("house rules not accepted".into()),
            AppError::OutsideWindow(d) => Some(format!("outside posting windows: {d}")),
            AppError::MemberLimit(d) => Some(d.clone()),
            AppError::RateLimited { .. } => Some("rate limited".into()),
            _ => None,
        }
    }
}

impl AppError {
    /// Changing one's own terms: nobody lifts their own restrictions.
    #[must_use]
    pub fn own_membership() -> Self {
        AppError::ForbiddenAs {
            code: "own-membership",
            title: "Your own membership",
            detail: "nobody changes their own role, capabilities, end date, windows, quota or status; ask the owner"
                .into(),
        }
    }

    /// A change a lockdown forbids until the owner lifts it.
    pub fn locked_down(detail: impl Into<String>) -> Self {
        AppError::ConflictAs { code: "account-locked-down", title: "Account locked down", detail: detail.into() }
    }
}

impl From<steward_store::StoreError> for AppError {
    fn from(e: steward_store::StoreError) -> Self {
        match e {
            steward_store::StoreError::NotFound => AppError::NotFound,
            // Many writers queueing for SQLite's one write lock is load, not a fault: the
            // request changed nothing and may be sent again.
            steward_store::StoreError::Busy(_) => {
                AppError::Busy { detail: "too many changes at once; nothing was changed", retry_after_secs: 1 }
            }
            other => AppError::Internal(other.into()),
        }
    }
}

//! The one error type of the service and its `Result` alias.
//!
//! Every failure a request can meet is one variant here; `http::respond` is the only
//! place that turns a variant into a status code and a body. Variants carry only text
//! that is safe to show a client, except `Internal`, whose detail goes to the log only.

/// Alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; the message names the field and what is wrong with it.
    #[error("{0}")]
    BadRequest(String),
    /// The `app_id` header (or the org/app path) names no app.
    #[error("unknown app: {0}")]
    UnknownApp(String),
    /// Unknown user, wrong password and locked account all end here, with one message,
    /// so a caller cannot tell which it was.
    #[error("invalid credentials")]
    BadCredentials,
    /// The right password while the account (or device) is locked: answered exactly as
    /// `BadCredentials`; only the metrics tell them apart.
    #[error("invalid credentials")]
    Locked,
    /// The password was right but the account is banned (deactivated).
    #[error("user is banned")]
    Banned,
    /// A token or credential is missing, malformed, expired or not ours.
    #[error("{0}")]
    Unauthorized(String),
    /// A used refresh token was presented again; its family has been revoked.
    #[error("refresh token already used; the session has been revoked")]
    RefreshReused,
    /// The caller is known but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// Easemob's `grant_type` is none of `password`, `inherit`, `client_credentials`.
    #[error("unsupported grant_type {0:?}: expected password, inherit or client_credentials")]
    UnsupportedGrantType(String),
    /// Something named does not exist (a route, a user); the message says what.
    #[error("{0}")]
    NotFound(String),
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    #[error("request body over {0} bytes")]
    PayloadTooLarge(usize),
    /// A uniqueness constraint (username, phone, email, id) is already taken.
    #[error("{0}")]
    Conflict(String),
    /// The store is throttled or unreachable after retries; the client may try again.
    #[error("service temporarily unavailable: {0}")]
    Unavailable(String),
    /// The process's configuration (environment, flags, key secrets) is refused: it
    /// fails the start, never a request. The detail is logged, never sent.
    #[error("configuration: {0}")]
    Config(String),
    /// A fault of ours. The detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn config(detail: impl std::fmt::Display) -> Self {
        Self::Config(detail.to_string())
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }
}

//! HTTP: parse, call one service function, answer. Handlers speak only HTTP; the rules
//! live in `service`.

pub mod caller;
pub mod cors;
pub mod easemob;
pub mod jwks;
pub mod login;
pub mod push;
pub mod request;
pub mod respond;
pub mod session;
pub mod users;

use std::time::Instant;

use lambda_http::{Body, Request, RequestExt as _, Response};

use crate::domain::PushKind;
use crate::error::Error;
use crate::metrics::{self, Outcome};
use login::NamedBy;

// `Services` is built in `service`; re-exported here, where handlers take it.
pub use crate::service::Services;

/// Every route this service answers. The `imauth serve` router, the Lambda functions,
/// `template.yaml`, `openapi.yaml` and `events/` are all checked against this table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    TokenId,
    TokenLogin,
    TokenUser,
    /// Easemob's `POST /{org_name}/{app_name}/token`.
    AppToken,
    TokenRefresh,
    TokenRevoke,
    /// Vendor push-token guide: ring (call) push tokens.
    PushRing,
    /// Vendor push-token guide: message push tokens.
    PushMessage,
    Jwks,
    /// Easemob's user registration (one or a batch), with the app token.
    Users,
    /// Easemob's get or delete one user.
    User,
    /// Easemob's password reset.
    UserPassword,
    /// Easemob's ban.
    UserDeactivate,
    /// Easemob's unban.
    UserActivate,
    /// Easemob's force logout.
    UserDisconnect,
}

impl Route {
    pub const ALL: &'static [Route] = &[
        Route::TokenId,
        Route::TokenLogin,
        Route::TokenUser,
        Route::AppToken,
        Route::TokenRefresh,
        Route::TokenRevoke,
        Route::PushRing,
        Route::PushMessage,
        Route::Jwks,
        Route::Users,
        Route::User,
        Route::UserPassword,
        Route::UserDeactivate,
        Route::UserActivate,
        Route::UserDisconnect,
    ];

    /// The path as API Gateway's route key writes it.
    pub fn path(self) -> &'static str {
        match self {
            Self::TokenId => "/token/id",
            Self::TokenLogin => "/token/login",
            Self::TokenUser => "/token/user",
            Self::AppToken => "/{org_name}/{app_name}/token",
            Self::TokenRefresh => "/token/refresh",
            Self::TokenRevoke => "/token/revoke",
            Self::PushRing => "/v1/api/user/token",
            Self::PushMessage => "/v1/api/user/message/token",
            Self::Jwks => "/.well-known/jwks.json",
            Self::Users => "/{org_name}/{app_name}/users",
            Self::User => "/{org_name}/{app_name}/users/{username}",
            Self::UserPassword => "/{org_name}/{app_name}/users/{username}/password",
            Self::UserDeactivate => "/{org_name}/{app_name}/users/{username}/deactivate",
            Self::UserActivate => "/{org_name}/{app_name}/users/{username}/activate",
            Self::UserDisconnect => "/{org_name}/{app_name}/users/{username}/disconnect",
        }
    }

    pub fn methods(self) -> &'static [http::Method] {
        match self {
            Self::TokenId
            | Self::TokenLogin
            | Self::TokenUser
            | Self::AppToken
            | Self::TokenRefresh
            | Self::TokenRevoke
            | Self::Users
            | Self::UserDeactivate
            | Self::UserActivate => &[http::Method::POST],
            Self::Jwks | Self::UserDisconnect => &[http::Method::GET],
            Self::User => &[http::Method::GET, http::Method::DELETE],
            Self::UserPassword => &[http::Method::PUT],
            Self::PushRing | Self::PushMessage => {
                &[http::Method::POST, http::Method::GET, http::Method::DELETE]
            }
        }
    }

    /// Whether answering may verify a password (and so needs argon2's work area).
    /// The name in logs and in the metrics' `Route` dimension.
    pub fn name(self) -> &'static str {
        match self {
            Self::TokenId => "TokenId",
            Self::TokenLogin => "TokenLogin",
            Self::TokenUser => "TokenUser",
            Self::AppToken => "AppToken",
            Self::TokenRefresh => "TokenRefresh",
            Self::TokenRevoke => "TokenRevoke",
            Self::PushRing => "PushRing",
            Self::PushMessage => "PushMessage",
            Self::Jwks => "Jwks",
            Self::Users => "Users",
            Self::User => "User",
            Self::UserPassword => "UserPassword",
            Self::UserDeactivate => "UserDeactivate",
            Self::UserActivate => "UserActivate",
            Self::UserDisconnect => "UserDisconnect",
        }
    }

    /// The outcomes a request of this route can end in, reported on every one of its
    /// log lines as 0 or 1 (so a quiet period graphs as zeros).
    pub fn outcomes(self) -> &'static [Outcome] {
        const LOGIN: &[Outcome] = &[
            Outcome::LoginSucceeded,
            Outcome::LoginFailed,
            Outcome::LoginLocked,
            Outcome::LoginBanned,
            Outcome::StoreUnavailable,
        ];
        match self {
            Self::TokenId | Self::TokenLogin | Self::TokenUser | Self::AppToken => LOGIN,
            Self::TokenRefresh => &[
                Outcome::TokenRefreshed,
                Outcome::RefreshReuseDetected,
                Outcome::StoreUnavailable,
            ],
            Self::PushRing | Self::PushMessage => {
                &[Outcome::PushRegistered, Outcome::StoreUnavailable]
            }
            Self::TokenRevoke
            | Self::Users
            | Self::User
            | Self::UserPassword
            | Self::UserDeactivate
            | Self::UserActivate
            | Self::UserDisconnect => &[Outcome::StoreUnavailable],
            Self::Jwks => &[],
        }
    }

    pub fn verifies_passwords(self) -> bool {
        matches!(
            self,
            Self::TokenId | Self::TokenLogin | Self::TokenUser | Self::AppToken
        )
    }

    /// Whether answering needs the store (JWKS needs only the public keys).
    pub fn needs_store(self) -> bool {
        self != Self::Jwks
    }

    /// Whether answering signs tokens or seals refresh tokens, so needs the private key
    /// set; the others only verify, with the public keys.
    pub fn needs_private_keys(self) -> bool {
        !matches!(self, Self::Jwks | Self::PushRing | Self::PushMessage) && !self.manages_users()
    }

    /// Whether this is one of Easemob's user-management routes (the user-admin function).
    pub fn manages_users(self) -> bool {
        matches!(
            self,
            Self::Users
                | Self::User
                | Self::UserPassword
                | Self::UserDeactivate
                | Self::UserActivate
                | Self::UserDisconnect
        )
    }

    /// The route serving `path`, if any (ignoring a trailing slash).
    pub fn for_path(path: &str) -> Option<Route> {
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        if let Some(exact) = Self::ALL.iter().copied().find(|r| r.path() == path) {
            return Some(exact);
        }
        easemob::org_and_app(path)
            .map(|_| Route::AppToken)
            .or_else(|| users::route_for(path))
    }

    /// The error answer in this route's own shape.
    pub fn error_response(self, error: Error) -> Response<Body> {
        match self {
            _ if self == Self::AppToken || self.manages_users() => {
                respond::easemob::<()>(Err(error))
            }
            _ => respond::envelope::<()>(Err(error)),
        }
    }
}

/// Answers one request for `route`: the single entry point of every Lambda function
/// and of `imauth serve`. Writes one JSON log line per request, without secrets, which
/// is also the request's CloudWatch EMF metrics document (`crate::metrics`).
pub async fn handle(services: &Services, route: Route, req: Request) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (request_id, trace_id) = req
        .lambda_context_ref()
        .map(|c| (c.request_id.clone(), c.xray_trace_id.clone()))
        .unwrap_or_default();
    let (mut response, recorded) = metrics::measure(answer(services, route, req)).await;
    if !request_id.is_empty()
        && let Ok(value) = http::HeaderValue::from_str(&request_id)
    {
        response.headers_mut().insert("x-request-id", value);
    }
    let line = metrics::RequestLine {
        service: &services.metrics_service,
        route: route.name(),
        login_route: route.verifies_passwords(),
        outcomes: route.outcomes(),
        method: method.as_str(),
        path: &path,
        status: response.status().as_u16(),
        duration: started.elapsed(),
        request_id: &request_id,
        trace_id: trace_id.as_deref(),
        recorded: &recorded,
    };
    metrics::write_line(&line.to_emf(services.login.crypto().clock.now_ms()));
    response
}

async fn answer(services: &Services, route: Route, req: Request) -> Response<Body> {
    let method = req.method();
    if !route.methods().contains(method) {
        let mut response = route.error_response(Error::MethodNotAllowed(method.to_string()));
        let allow = route
            .methods()
            .iter()
            .map(http::Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(allow) = http::HeaderValue::from_str(&allow) {
            response.headers_mut().insert(http::header::ALLOW, allow);
        }
        return response;
    }
    match route {
        Route::TokenId => login::handle(&services.login, NamedBy::UserId, &req).await,
        Route::TokenLogin => login::handle(&services.login, NamedBy::LoginName, &req).await,
        Route::TokenUser => login::handle(&services.login, NamedBy::Name, &req).await,
        Route::AppToken => easemob::handle(&services.login, &req).await,
        Route::TokenRefresh => session::refresh(&services.sessions, &req).await,
        Route::TokenRevoke => session::revoke(&services.sessions, &req).await,
        Route::PushRing => push::handle(services, PushKind::Ring, &req).await,
        Route::PushMessage => push::handle(services, PushKind::Message, &req).await,
        Route::Jwks => jwks::handle(&services.login.crypto().tokens),
        Route::Users
        | Route::User
        | Route::UserPassword
        | Route::UserDeactivate
        | Route::UserActivate
        | Route::UserDisconnect => users::handle(services, route, &req).await,
    }
}

/// The answer for a path no route serves.
pub fn not_found(path: &str) -> Response<Body> {
    respond::envelope::<()>(Err(Error::NotFound(format!("no route for {path}"))))
}

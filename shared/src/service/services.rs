//! The services a request may need, over one store, and the rules that span them.

use std::sync::Arc;

use crate::auth::tokens::Claims;
use crate::domain::{App, LoginKey};
use crate::error::{Error, Result};
use crate::metrics;
use crate::service::audit::{AuditLog, TracingAudit};
use crate::service::hashing::HashingPool;
use crate::service::push::PushService;
use crate::service::session::SessionService;
use crate::service::{Acting, Crypto, LoginService};
use crate::store::{ServiceStore, UserManagementStore};

/// The services a request may need, over one store.
pub struct Services {
    pub login: LoginService,
    pub sessions: SessionService,
    pub push: PushService,
    /// The store as the user-management routes use it (`service::users`).
    pub users: Arc<dyn UserManagementStore>,
    /// The metrics' `Service` dimension (`IMAUTH_SERVICE`, the stack name in AWS).
    pub metrics_service: String,
}

impl Services {
    pub fn over<S>(store: Arc<S>, crypto: Arc<Crypto>) -> Self
    where
        S: ServiceStore + 'static,
    {
        Self::with_audit(store, crypto, Arc::new(TracingAudit))
    }

    /// For a server taking many requests at once: argon2 on `threads` dedicated threads
    /// (see [`LoginService::with_hashing_pool`]).
    pub fn with_hashing_pool(mut self, threads: usize) -> Result<Self> {
        let pool = Arc::new(HashingPool::new(threads)?);
        self.login = self.login.with_hashing_pool(pool);
        Ok(self)
    }

    /// As [`Services::over`], with admin acts recorded to `audit`.
    pub fn with_audit<S>(store: Arc<S>, crypto: Arc<Crypto>, audit: Arc<dyn AuditLog>) -> Self
    where
        S: ServiceStore + 'static,
    {
        Self {
            users: store.clone(),
            login: LoginService::with_audit(store.clone(), crypto.clone(), audit),
            sessions: SessionService::new(store.clone(), crypto.clone()),
            push: PushService::new(store, crypto),
            metrics_service: metrics::service_name(),
        }
    }
}

/// Who a push-token request comes from, as the HTTP layer read it.
#[derive(Debug)]
pub enum PushCaller {
    /// A user's verified access token; `acting_headers`: whether `user_id` or `group_id`
    /// headers came with it.
    User {
        claims: Claims,
        acting_headers: bool,
    },
    /// An app's verified admin token, with the acting its headers ask for (checked
    /// against `app`), if any.
    Admin {
        app: Arc<App>,
        acting: Option<Acting>,
    },
}

impl Services {
    /// `(app_id, user_id)` a push-token request acts for: the user of a (non-revoked)
    /// access token, or the existing user an app's admin token names with the `user_id`
    /// header, which is audited.
    pub async fn push_owner(&self, caller: PushCaller) -> Result<(String, i64)> {
        match caller {
            PushCaller::User {
                claims,
                acting_headers,
            } => {
                if acting_headers {
                    return Err(Error::Forbidden(
                        "only an app's admin token may act through user_id or group_id headers"
                            .into(),
                    ));
                }
                let user = self.sessions.token_user(&claims).await?;
                Ok((user.app_id, user.user_id))
            }
            PushCaller::Admin { app, acting } => {
                let acting = acting.ok_or_else(|| {
                    Error::Forbidden(
                        "an admin token must name the user with a user_id header".into(),
                    )
                })?;
                let user_id = acting.user_id.ok_or_else(|| {
                    Error::bad_request("push registrations belong to a user: send a user_id header")
                })?;
                self.login
                    .store()
                    .find_user(&app.app_id, &LoginKey::UserId(user_id))
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no user {user_id} in this app")))?;
                self.login.record_act("admin_act_push", &app, &acting);
                Ok((app.app_id.clone(), user_id))
            }
        }
    }
}

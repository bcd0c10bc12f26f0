//! Easemob's `inherit` grant: an app server holding its app's admin token gets a user's
//! tokens by username, without the user's password, creating the user (without a
//! password) on first sight if asked to.

use std::sync::Arc;

use crate::auth::tokens::Claims;
use crate::domain::{App, LoginKey};
use crate::error::{Error, Result};
use crate::metrics::{self, Outcome};
use crate::service::users::find_or_create;
use crate::service::{Acting, Lifetime, LoginGrant, LoginService, Subject};

/// What an `inherit` request asks for; `admin` is a verified, unrevoked admin token of
/// `app` (see `http::caller::app_admin`).
#[derive(Debug)]
pub struct InheritRequest {
    pub app: Arc<App>,
    pub admin: Claims,
    pub username: LoginKey,
    pub auto_create: bool,
    pub lifetime: Lifetime,
    pub source_ip: Option<String>,
}

impl LoginService {
    /// The user's tokens, as the password grant would mint them (access token and a
    /// refresh token), minus the password check. An unknown user is `NotFound` unless
    /// `auto_create`; a banned user is `Banned`. One audit record, as for acting.
    pub async fn inherit(&self, request: InheritRequest) -> Result<LoginGrant> {
        let InheritRequest {
            app,
            admin,
            username,
            auto_create,
            lifetime,
            source_ip,
        } = request;
        if admin.app != app.app_id {
            return Err(Error::Unauthorized(
                "the app token belongs to another app".into(),
            ));
        }
        let store = self.store();
        let user = find_or_create(
            store,
            store,
            self.crypto(),
            &app.app_id,
            &username,
            auto_create,
        )
        .await?;
        if !user.activated {
            return Err(Error::Banned);
        }
        self.record_act(
            "admin_inherit",
            &app,
            &Acting {
                admin,
                user_id: Some(user.user_id),
                group_id: None,
                source_ip,
            },
        );
        let mut tokens = self.issue(&app, &Subject::User(user.clone()), None, lifetime, None)?;
        tokens.refresh = Some(self.crypto().open_refresh_family(&user, None)?);
        metrics::record(Outcome::LoginSucceeded);
        Ok(LoginGrant {
            app,
            subject: Subject::User(user),
            tokens,
        })
    }
}

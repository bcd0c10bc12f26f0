//! `POST /token/id`, `/token/login`, `/token/user` (seed 000).

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::request::{JsonFields, header};
use super::respond::envelope;
use crate::auth::password::Password;
use crate::domain::LoginKey;
use crate::error::{Error, Result};
use crate::service::{LoginGrant, LoginRequest, LoginService};

/// Seed 000's `data` object.
#[derive(Debug, Serialize)]
pub struct TokenData {
    pub access_key_secret: String,
    pub encrypt_type: i32,
    pub expire: i64,
    pub public_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_token: Option<String>,
    pub store_token: String,
    pub token: String,
    pub user_id: i64,
}

impl From<LoginGrant> for TokenData {
    fn from(grant: LoginGrant) -> Self {
        Self {
            access_key_secret: grant.tokens.access_key_secret,
            encrypt_type: grant.app.encrypt_type,
            expire: grant.tokens.expire,
            public_key: grant.app.public_key.clone(),
            push_token: grant.tokens.push_token,
            store_token: grant.tokens.store_token,
            token: grant.tokens.token,
            user_id: grant.user.user_id,
        }
    }
}

/// Which body field names the user: the one difference between the three routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedBy {
    /// `/token/id`: `user_id` (int64).
    UserId,
    /// `/token/login`: `login_name`, a phone, an email or a username.
    LoginName,
    /// `/token/user`: `name`, a username.
    Name,
}

pub async fn handle(service: &LoginService, named_by: NamedBy, req: &Request) -> Response<Body> {
    envelope(login(service, named_by, req).await.map(TokenData::from))
}

async fn login(service: &LoginService, named_by: NamedBy, req: &Request) -> Result<LoginGrant> {
    let app_id = header(req, "app_id")?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::bad_request("missing header app_id"))?
        .to_owned();
    refuse_acting_headers(req)?;
    let body = JsonFields::from_request(req)?;
    let key = match named_by {
        NamedBy::UserId => LoginKey::UserId(body.required_i64("user_id")?),
        NamedBy::LoginName => LoginKey::parse_login_name(body.required_str("login_name")?)
            .map_err(|e| Error::bad_request(format!("login_name: {e}")))?,
        NamedBy::Name => LoginKey::username(body.required_str("name")?)
            .map_err(|e| Error::bad_request(format!("name: {e}")))?,
    };
    let password = Password::new(body.required_str("password")?.to_owned())?;
    let device_guid = body.optional_str("device_guid")?.map(str::to_owned);
    service
        .login(LoginRequest {
            app_id,
            key,
            password,
            device_guid,
        })
        .await
}

/// Seed 000 lets an admin token act as a user (`user_id` header) or a group's admin
/// (`group_id`). Until admin tokens exist, these headers are refused rather than ignored,
/// so a client never believes it is acting when it is not.
fn refuse_acting_headers(req: &Request) -> Result<()> {
    for name in ["user_id", "group_id"] {
        if header(req, name)?.is_some() {
            return Err(Error::Forbidden(format!(
                "header {name} is only honoured with an admin access-token"
            )));
        }
    }
    Ok(())
}

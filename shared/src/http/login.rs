//! `POST /token/id`, `/token/login`, `/token/user` (the vendor login API, docs/api.md).

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::caller::acting;
use super::request::{JsonFields, header};
use super::respond::envelope;
use crate::auth::password::Password;
use crate::domain::{App, LoginKey};
use crate::error::{Error, Result};
use crate::service::{IssuedTokens, Lifetime, LoginGrant, LoginRequest, LoginService};

/// The vendor login API's `data` object.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Unix seconds at which `refresh_token` expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expire: Option<i64>,
    /// With `device_guid`: present it with the next login on this device to get past
    /// an account-wide lock that others caused (docs/security.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_proof: Option<String>,
}

impl TokenData {
    pub fn new(app: &App, user_id: i64, tokens: IssuedTokens) -> Self {
        let (refresh_token, refresh_expire) = tokens.refresh.unzip();
        Self {
            access_key_secret: tokens.access_key_secret,
            encrypt_type: app.encrypt_type,
            expire: tokens.expire,
            public_key: app.public_key.clone(),
            push_token: tokens.push_token,
            store_token: tokens.store_token,
            token: tokens.token,
            user_id,
            refresh_token,
            refresh_expire,
            device_proof: tokens.device_proof,
        }
    }
}

impl From<LoginGrant> for TokenData {
    fn from(grant: LoginGrant) -> Self {
        Self::new(&grant.app, grant.subject.user_id(), grant.tokens)
    }
}

/// Longest `device_proof` looked at; ours are about 400 characters.
const MAX_DEVICE_PROOF_LEN: usize = 2048;

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
        .ok_or_else(|| Error::bad_request("missing header app_id"))?;
    let app = service.app(app_id).await?;
    let acting = acting(service, req, &app).await?;
    let body = JsonFields::from_request(req)?;
    let device_guid = body.optional_str("device_guid")?.map(str::to_owned);
    // Checked for every request, an admin's acting one too (which uses neither): a
    // body that openapi.yaml calls malformed is a 400 whoever sends it.
    let password = body
        .optional_str("password")?
        .map(|p| Password::new(p.to_owned()))
        .transpose()?;
    let device_proof = body.optional_str("device_proof")?;
    if device_proof.is_some_and(|proof| proof.len() > MAX_DEVICE_PROOF_LEN) {
        return Err(Error::bad_request(format!(
            "device_proof must be at most {MAX_DEVICE_PROOF_LEN} characters"
        )));
    }
    if device_proof.is_some() && device_guid.is_none() {
        return Err(Error::bad_request(
            "device_proof needs the device_guid it was issued for",
        ));
    }
    if let Some(acting) = acting {
        // An admin acting for a user needs neither the user's password nor a user named
        // in the body; a user named there must be the acted-for user.
        let named = named_user(named_by, &body, false)?;
        return service
            .login_as(
                app,
                &acting,
                named.as_ref(),
                device_guid.as_deref(),
                Lifetime::AppDefault,
            )
            .await;
    }
    let key = named_user(named_by, &body, true)?
        .ok_or_else(|| Error::internal("required user field was not reported missing"))?;
    let password = password.ok_or_else(|| Error::bad_request("missing field password"))?;
    service
        .login(LoginRequest {
            app,
            key,
            password,
            device_guid,
            device_proof: device_proof.map(str::to_owned),
            lifetime: Lifetime::AppDefault,
        })
        .await
}

/// The user the body names, by the route's field; `required` makes absence a 400.
fn named_user(named_by: NamedBy, body: &JsonFields, required: bool) -> Result<Option<LoginKey>> {
    let field = match named_by {
        NamedBy::UserId => "user_id",
        NamedBy::LoginName => "login_name",
        NamedBy::Name => "name",
    };
    if named_by == NamedBy::UserId {
        let id = if required {
            Some(body.required_i64(field)?)
        } else {
            body.optional_i64(field)?
        };
        return Ok(id.map(LoginKey::UserId));
    }
    let text = if required {
        Some(body.required_str(field)?)
    } else {
        body.optional_str(field)?
    };
    text.map(|t| {
        let key = match named_by {
            NamedBy::LoginName => LoginKey::parse_login_name(t),
            _ => LoginKey::username(t),
        };
        key.map_err(|e| Error::bad_request(format!("{field}: {e}")))
    })
    .transpose()
}

//! `POST /{org_name}/{app_name}/token` (Easemob's user-token API, Easemob-compatible): a user token
//! (`grant_type: password`, or `inherit` with the app's admin token) or the app's admin
//! token (`grant_type: client_credentials`).

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;

use super::caller::{app_admin, source_ip};
use super::request::{JsonFields, whole_number};
use super::respond::easemob;
use crate::auth::password::Password;
use crate::domain::{LoginKey, User};
use crate::error::{Error, Result};
use crate::service::inherit::InheritRequest;
use crate::service::lifetime::MAX_TTL_SECS;
use crate::service::{Lifetime, LoginGrant, LoginRequest, LoginService, Subject};

/// `(org_name, app_name)` of a `/{org_name}/{app_name}/token` path.
pub fn org_and_app(path: &str) -> Option<(&str, &str)> {
    let mut parts = path.trim_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(org), Some(app), Some("token"), None) if !org.is_empty() && !app.is_empty() => {
            Some((org, app))
        }
        _ => None,
    }
}

#[derive(Debug, Serialize)]
pub struct EasemobUser {
    pub uuid: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created: i64,
    pub modified: i64,
    pub username: String,
    pub activated: bool,
}

#[derive(Debug, Serialize)]
pub struct UserTokenAnswer {
    pub access_token: String,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub user: EasemobUser,
}

#[derive(Debug, Serialize)]
pub struct AppTokenAnswer {
    pub access_token: String,
    pub expires_in: u64,
    pub application: String,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Answer {
    User(UserTokenAnswer),
    App(AppTokenAnswer),
}

pub async fn handle(service: &LoginService, req: &Request) -> Response<Body> {
    easemob(token(service, req).await)
}

/// Easemob's `ttl`: seconds, as a JSON number or a numeric string; absent → the app's
/// default; 0 → a token that never expires (if the app allows it). The app's own cap
/// (`max_token_ttl`) is checked by [`Lifetime::seconds_in`].
pub fn parse_ttl(value: Option<&Value>) -> Result<Lifetime> {
    let not_whole = || {
        Error::bad_request("ttl must be a whole number of seconds (a number or a numeric string)")
    };
    let whole = |text: &str| -> Result<u64> {
        if text.starts_with('-') {
            return Err(Error::bad_request("ttl must not be negative"));
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_whole());
        }
        text.parse::<u64>()
            .ok()
            .filter(|s| *s <= MAX_TTL_SECS)
            .ok_or_else(|| {
                Error::bad_request(format!("ttl must be at most {MAX_TTL_SECS} seconds"))
            })
    };
    let seconds = match value {
        None => return Ok(Lifetime::AppDefault),
        // A whole number also when written `60.0` (JSON Schema's `integer` admits it);
        // past int64 it is over the ten-year limit anyway.
        Some(Value::Number(n)) => match whole_number(n) {
            Some(seconds) => whole(&seconds.to_string())?,
            None if n.as_u64().is_some() => whole(&n.to_string())?,
            None => return Err(not_whole()),
        },
        Some(Value::String(s)) => whole(s)?,
        Some(_) => return Err(not_whole()),
    };
    Ok(if seconds == 0 {
        Lifetime::NonExpiring
    } else {
        Lifetime::Seconds(seconds)
    })
}

async fn token(service: &LoginService, req: &Request) -> Result<Answer> {
    let path = req.uri().path();
    let (org, app_name) =
        org_and_app(path).ok_or_else(|| Error::NotFound(format!("no route for {path}")))?;
    let app = service.app_by_name(org, app_name).await?;
    let body = JsonFields::from_request(req)?;
    let grant_type = body.required_str("grant_type")?;
    let lifetime = parse_ttl(body.raw("ttl"))?;
    // Over the app's cap (or a `ttl: 0` it does not allow): refused before any
    // credential is looked at.
    lifetime.seconds_in(&app)?;
    match grant_type {
        "password" => {
            let key = LoginKey::username(body.required_str("username")?)
                .map_err(|e| Error::bad_request(format!("username: {e}")))?;
            let password = Password::new(body.required_str("password")?.to_owned())?;
            let grant = service
                .login(LoginRequest {
                    app,
                    key,
                    password,
                    device_guid: None,
                    device_proof: None,
                    lifetime,
                })
                .await?;
            user_answer(grant)
        }
        "inherit" => {
            let admin = app_admin(service, req, &app).await?;
            let username = LoginKey::username(body.required_str("username")?)
                .map_err(|e| Error::bad_request(format!("username: {e}")))?;
            let grant = service
                .inherit(InheritRequest {
                    app,
                    admin,
                    username,
                    auto_create: body.optional_bool("autoCreateUser")?.unwrap_or(false),
                    lifetime,
                    source_ip: source_ip(req),
                })
                .await?;
            user_answer(grant)
        }
        "client_credentials" => {
            let client_id = body.required_str("client_id")?;
            let client_secret = body.required_str("client_secret")?;
            let grant = service
                .app_token(&app, client_id, client_secret, lifetime)
                .await?;
            Ok(Answer::App(AppTokenAnswer {
                access_token: grant.access_token,
                expires_in: grant.expires_in,
                application: grant.app.app_id.clone(),
            }))
        }
        other => Err(Error::UnsupportedGrantType(
            other.chars().take(64).collect(),
        )),
    }
}

/// The Easemob answer of a user grant (`password` or `inherit`).
fn user_answer(grant: LoginGrant) -> Result<Answer> {
    let Subject::User(user) = grant.subject else {
        return Err(Error::internal("a user grant without a user"));
    };
    Ok(Answer::User(UserTokenAnswer {
        access_token: grant.tokens.token,
        expires_in: grant.tokens.expires_in,
        refresh_token: grant.tokens.refresh.map(|(token, _)| token),
        user: EasemobUser::of(&user),
    }))
}

impl EasemobUser {
    /// Easemob's user entity.
    pub fn of(user: &User) -> Self {
        Self {
            uuid: user.uuid.clone(),
            kind: "user",
            created: user.created_ms,
            modified: user.modified_ms,
            username: user.username.clone(),
            activated: user.activated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ttl_accepts_numbers_and_numeric_strings_only() {
        assert_eq!(parse_ttl(None).unwrap(), Lifetime::AppDefault);
        assert_eq!(
            parse_ttl(Some(&json!(1024000))).unwrap(),
            Lifetime::Seconds(1_024_000)
        );
        assert_eq!(
            parse_ttl(Some(&json!("1024000"))).unwrap(),
            Lifetime::Seconds(1_024_000)
        );
        assert_eq!(parse_ttl(Some(&json!(0))).unwrap(), Lifetime::NonExpiring);
        assert_eq!(
            parse_ttl(Some(&json!(60.0))).unwrap(),
            Lifetime::Seconds(60)
        );
        assert_eq!(parse_ttl(Some(&json!("0"))).unwrap(), Lifetime::NonExpiring);
        for bad in [
            json!(-1),
            json!("-5"),
            json!(1.5),
            json!("1.5"),
            json!("abc"),
            json!(""),
            json!(true),
            json!([1]),
            json!(1e30),
            json!("99999999999999999999999"),
            // No surrounding spaces: openapi.yaml's pattern is digits only.
            json!(" 60"),
            json!("60 "),
            json!(MAX_TTL_SECS + 1),
        ] {
            let e = parse_ttl(Some(&bad)).unwrap_err();
            assert!(
                matches!(e, Error::BadRequest(ref m) if m.contains("ttl")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn only_three_segment_token_paths_are_easemob_paths() {
        assert_eq!(org_and_app("/acme/chat/token"), Some(("acme", "chat")));
        assert_eq!(org_and_app("/acme/chat/token/"), Some(("acme", "chat")));
        assert_eq!(org_and_app("/token/id"), None);
        assert_eq!(org_and_app("/v1/api/user/token"), None);
        assert_eq!(org_and_app("//chat/token"), None);
    }
}

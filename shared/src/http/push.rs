//! The vendor push-token guide's push-token routes: `POST` registers, `GET` lists the caller's
//! registrations, `DELETE` unregisters, on `/v1/api/user/token` (ring) and
//! `/v1/api/user/message/token` (message).

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::caller::{Principal, acting, principal};
use super::request::{JsonFields, header};
use super::respond::envelope;
use crate::domain::{PushKind, PushRegistration};
use crate::error::{Error, Result};
use crate::service::push::{RegistrationInput, canonical_channel, validate_push_token};
use crate::service::{PushCaller, Services};

/// A registration as answered: the vendor push-token guide's field names, plus what the server decided.
#[derive(Debug, Serialize)]
pub struct RegistrationData {
    pub push_token: String,
    pub language: String,
    pub id: i64,
    pub dev: u8,
    pub bundleid: String,
    pub os: Option<String>,
    pub os_token: Option<String>,
    pub push_platform: Option<String>,
    pub kind: PushKind,
    pub channel: String,
    pub created: i64,
    pub updated: i64,
}

impl From<PushRegistration> for RegistrationData {
    fn from(r: PushRegistration) -> Self {
        Self {
            push_token: r.push_token,
            language: r.language,
            id: r.user_id,
            dev: r.dev,
            bundleid: r.bundleid,
            os: r.os,
            os_token: r.os_token,
            push_platform: r.push_platform,
            kind: r.kind,
            channel: r.channel,
            created: r.created_ms,
            updated: r.updated_ms,
        }
    }
}

/// The caller as the HTTP request names it; the rules are [`Services::push_owner`]'s.
async fn caller(services: &Services, req: &Request) -> Result<(String, i64)> {
    let caller = match principal(services.login.crypto(), req).await? {
        None => {
            return Err(Error::Unauthorized(
                "missing access token: send Authorization: Bearer <token> or access-token".into(),
            ));
        }
        Some(Principal::User(claims)) => PushCaller::User {
            claims,
            acting_headers: header(req, "user_id")?.is_some() || header(req, "group_id")?.is_some(),
        },
        Some(Principal::Admin(claims)) => {
            let app = services.login.app(&claims.app).await?;
            let acting = acting(&services.login, req, &app).await?;
            PushCaller::Admin { app, acting }
        }
    };
    services.push_owner(caller).await
}

fn input(body: &JsonFields) -> Result<RegistrationInput> {
    Ok(RegistrationInput {
        push_token: body.optional_str("push_token")?.map(str::to_owned),
        language: body.optional_str("language")?.map(str::to_owned),
        id: body.optional_i64("id")?,
        dev: body.optional_i64("dev")?,
        bundleid: body.optional_str("bundleid")?.map(str::to_owned),
        os: body.optional_str("os")?.map(str::to_owned),
        os_token: body.optional_str("os_token")?.map(str::to_owned),
        push_platform: body.optional_str("push_platform")?.map(str::to_owned),
    })
}

pub async fn handle(services: &Services, kind: PushKind, req: &Request) -> Response<Body> {
    match *req.method() {
        http::Method::GET => envelope(list(services, kind, req).await),
        http::Method::DELETE => envelope(unregister(services, kind, req).await),
        _ => envelope(register(services, kind, req).await),
    }
}

async fn register(services: &Services, kind: PushKind, req: &Request) -> Result<RegistrationData> {
    let (app_id, user_id) = caller(services, req).await?;
    let valid = input(&JsonFields::from_request(req)?)?.validate(user_id)?;
    services
        .push
        .register(&app_id, user_id, kind, valid)
        .await
        .map(Into::into)
}

async fn list(services: &Services, kind: PushKind, req: &Request) -> Result<Vec<RegistrationData>> {
    let (app_id, user_id) = caller(services, req).await?;
    Ok(services
        .push
        .list(&app_id, user_id, kind)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

async fn unregister(
    services: &Services,
    kind: PushKind,
    req: &Request,
) -> Result<RegistrationData> {
    let (app_id, user_id) = caller(services, req).await?;
    let body = JsonFields::from_request(req)?;
    let token = validate_push_token(
        body.optional_str("push_token")?
            .ok_or_else(|| Error::bad_request("missing field push_token"))?,
    )?;
    let channel = match (
        body.optional_str("push_platform")?
            .filter(|c| !c.is_empty()),
        body.optional_str("os")?.filter(|c| !c.is_empty()),
    ) {
        (Some(platform), _) => Some(canonical_channel("push_platform", platform)?),
        (None, Some(os)) => Some(canonical_channel("os", os)?),
        (None, None) => None,
    };
    services
        .push
        .unregister(&app_id, user_id, kind, &token, channel)
        .await
        .map(Into::into)
}

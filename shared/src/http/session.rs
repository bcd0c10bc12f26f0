//! `POST /token/refresh` (rotate a refresh token; the vendor push-token guide calls it `reflash_key`) and
//! `POST /token/revoke` (log out one session, or everywhere).

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::caller::presented_token;
use super::login::TokenData;
use super::request::JsonFields;
use super::respond::envelope;
use crate::error::{Error, Result};
use crate::service::session::SessionService;

/// The vendor login API's token data, plus the vendor push-token guide's names for the same facts (`id`,
/// `reflash_key`, `time`) so clients written against either document work.
#[derive(Debug, Serialize)]
pub struct RefreshData {
    #[serde(flatten)]
    pub data: TokenData,
    pub id: i64,
    pub reflash_key: String,
    pub time: i64,
}

/// The refresh token of a body: `refresh_token`, or the vendor push-token guide's
/// `reflash_key`. Both are type-checked whenever sent, also where the other one or
/// `{"all": true}` decides, as openapi.yaml types them.
fn presented_refresh(body: &JsonFields) -> Result<Option<&str>> {
    let refresh_token = body.optional_str("refresh_token")?;
    let reflash_key = body.optional_str("reflash_key")?;
    Ok(refresh_token.or(reflash_key))
}

fn required_refresh(presented: Option<&str>) -> Result<&str> {
    presented.ok_or_else(|| Error::bad_request("missing field refresh_token"))
}

pub async fn refresh(sessions: &SessionService, req: &Request) -> Response<Body> {
    envelope(refresh_data(sessions, req).await)
}

async fn refresh_data(sessions: &SessionService, req: &Request) -> Result<RefreshData> {
    let body = JsonFields::from_request(req)?;
    let refreshed = sessions
        .refresh(required_refresh(presented_refresh(&body)?)?)
        .await?;
    let data = TokenData::new(&refreshed.app, refreshed.user.user_id, refreshed.tokens);
    Ok(RefreshData {
        id: data.user_id,
        reflash_key: data.refresh_token.clone().unwrap_or_default(),
        time: data.refresh_expire.unwrap_or_default(),
        data,
    })
}

pub async fn revoke(sessions: &SessionService, req: &Request) -> Response<Body> {
    envelope(revoke_data(sessions, req).await)
}

/// `{refresh_token}` revokes that session's family; `{"all": true}` with the user's
/// access token (Bearer or `access-token`) revokes every token of the user.
async fn revoke_data(sessions: &SessionService, req: &Request) -> Result<Value> {
    // Read first, so that a malformed `Authorization` is refused here too, as on every
    // route that takes one, and not ignored when the body names a refresh token.
    let presented = presented_token(req)?;
    let body = JsonFields::from_request(req)?;
    let refresh = presented_refresh(&body)?;
    let everywhere = match body.raw("all") {
        None => false,
        Some(Value::Bool(all)) => *all,
        Some(_) => return Err(Error::bad_request("field all must be a boolean")),
    };
    if everywhere {
        let token = presented.ok_or_else(|| {
            Error::Unauthorized("logout everywhere needs the user's access token".into())
        })?;
        let (_, user) = sessions.verify_access(token).await?;
        sessions.logout_everywhere(&user).await?;
        return Ok(json!({"revoked": "all"}));
    }
    sessions.revoke(required_refresh(refresh)?).await?;
    Ok(json!({"revoked": "session"}))
}

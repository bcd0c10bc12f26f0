//! "Who is calling": the one place that reads `access-token` / `Authorization: Bearer`
//! and the vendor login API's acting headers (`user_id`, `group_id`). No route parses them itself.

use std::net::IpAddr;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt as _};

use super::request::{header, header_i64};
use crate::auth::tokens::{Claims, TokenType};
use crate::domain::App;
use crate::error::{Error, Result};
use crate::service::{Acting, Crypto, LoginService};

/// The peer address `imauth serve` saw; Lambda requests carry theirs in the API Gateway
/// request context instead.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// The client's IP address, for audit records.
pub fn source_ip(req: &Request) -> Option<String> {
    if let Some(RequestContext::ApiGatewayV2(context)) = req.request_context_ref()
        && let Some(ip) = &context.http.source_ip
    {
        return Some(ip.clone());
    }
    req.extensions()
        .get::<ClientAddr>()
        .map(|addr| addr.0.to_string())
}

/// The presented token: the `access-token` header (the vendor login API, docs/api.md) or `Authorization: Bearer`
/// (the vendor push-token guide, Easemob). A malformed `Authorization` is refused (401) even
/// beside an `access-token`: openapi.yaml states its form, and a request the contract calls
/// malformed must not succeed because another header happened to carry a token.
pub fn presented_token(req: &Request) -> Result<Option<&str>> {
    let bearer = match header(req, "authorization")? {
        None => None,
        Some(value) => {
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(Error::Unauthorized(
                    "Authorization must be `Bearer <token>`".into(),
                ));
            }
            Some(token.trim())
        }
    };
    Ok(header(req, "access-token")?
        .filter(|t| !t.is_empty())
        .or(bearer))
}

/// A verified caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A user's access token.
    User(Claims),
    /// An app's admin token.
    Admin(Claims),
}

/// Verifies the presented token, if any, as a user access token or an app admin token.
/// A token that is present but invalid is an error (401), never ignored.
pub async fn principal(crypto: &Crypto, req: &Request) -> Result<Option<Principal>> {
    let Some(token) = presented_token(req)? else {
        return Ok(None);
    };
    let claims = crypto
        .verify_one_of(token, &[TokenType::Access, TokenType::App])
        .await?;
    Ok(Some(match claims.typ {
        TokenType::App => Principal::Admin(claims),
        _ => Principal::User(claims),
    }))
}

/// The verified, unrevoked admin token of `app` that the request presents (Easemob's
/// `Authorization: Bearer <app token>`). No token, a user's token, another app's token,
/// an invalid one or one revoked by a client secret rotation: all `Unauthorized`.
pub async fn app_admin(service: &LoginService, req: &Request, app: &App) -> Result<Claims> {
    let admin = match principal(service.crypto(), req).await? {
        Some(Principal::Admin(claims)) if claims.app == app.app_id => claims,
        Some(Principal::Admin(_)) => {
            return Err(Error::Unauthorized(
                "the app token belongs to another app".into(),
            ));
        }
        Some(Principal::User(_)) => {
            return Err(Error::Unauthorized(
                "an app token is required; a user token is not one".into(),
            ));
        }
        None => {
            return Err(Error::Unauthorized(
                "an app token is required: Authorization: Bearer <app token>".into(),
            ));
        }
    };
    service.admin_app(&admin).await?;
    Ok(admin)
}

/// The vendor login API's acting headers, checked: `None` when neither is present; otherwise they
/// are honoured only with a valid admin token of `app` (403 for any other token or
/// none, 401 for an invalid one or one revoked by a client secret rotation).
pub async fn acting(service: &LoginService, req: &Request, app: &App) -> Result<Option<Acting>> {
    let user_id = header_i64(req, "user_id")?;
    let group_id = header_i64(req, "group_id")?;
    if user_id.is_none() && group_id.is_none() {
        return Ok(None);
    }
    match principal(service.crypto(), req).await? {
        None => Err(Error::Forbidden(
            "user_id and group_id headers are only honoured with an admin access-token".into(),
        )),
        Some(Principal::User(_)) => Err(Error::Forbidden(
            "only an app's admin token may act through user_id or group_id headers".into(),
        )),
        Some(Principal::Admin(claims)) if claims.app != app.app_id => Err(Error::Forbidden(
            "the admin token belongs to another app".into(),
        )),
        Some(Principal::Admin(admin)) => {
            service.admin_app(&admin).await?;
            Ok(Some(Acting {
                admin,
                user_id,
                group_id,
                source_ip: source_ip(req),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        Request::from(builder.body(lambda_http::Body::Empty).unwrap())
    }

    #[test]
    fn access_token_wins_over_a_well_formed_bearer() {
        let req = request(&[("access-token", "a"), ("authorization", "Bearer b")]);
        assert_eq!(presented_token(&req).unwrap(), Some("a"));
        let req = request(&[("authorization", "bearer  b ")]);
        assert_eq!(presented_token(&req).unwrap(), Some("b"));
        assert_eq!(presented_token(&request(&[])).unwrap(), None);
    }

    #[test]
    fn a_malformed_authorization_is_refused_even_beside_an_access_token() {
        for bad in ["b", "Basic b", "Bearer", "Bearer   "] {
            for req in [
                request(&[("authorization", bad)]),
                request(&[("access-token", "a"), ("authorization", bad)]),
            ] {
                assert!(
                    matches!(presented_token(&req), Err(Error::Unauthorized(_))),
                    "{bad}"
                );
            }
        }
    }
}

//! `GET /.well-known/jwks.json`: the public half of every live signing key, so other IM
//! services verify our tokens without any shared secret.

use lambda_http::{Body, Response};
use serde_json::json;

use super::respond::json_response;
use crate::auth::tokens::TokenKeys;

/// Verifiers may cache the key set this long. Rotation adds the new key well before it
/// signs anything, so a cached copy is never missing a key in use for longer than this.
pub const CACHE_SECONDS: u32 = 300;

pub fn handle(tokens: &TokenKeys) -> Response<Body> {
    let mut response = json_response(200, &json!({ "keys": tokens.public_jwks() }));
    if let Ok(value) = http::HeaderValue::from_str(&format!("public, max-age={CACHE_SECONDS}")) {
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, value);
    }
    response
}
